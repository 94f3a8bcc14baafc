/* Segment layouts for C: a struct whose fields are floe_shared_data describes a segment's slots,
 * one slot per field, in field order — the slots floe-cinterop's generated Rust gives by field.
 *
 *     typedef struct { floe_shared_data config; floe_shared_data prices; } AppShared;
 *     floe_segment_create("app", 1 << 20, FLOE_SLOTS(AppShared), 8, &segment);
 *     floe_segment_slot(segment, FLOE_SLOT(AppShared, prices), &prices);
 */
#ifndef FLOE_CINTEROP_H
#define FLOE_CINTEROP_H

#include <stddef.h>
#include <stdint.h>

#include "floe.h"

/* The slot index of `field` in the segment layout `layout`. */
#define FLOE_SLOT(layout, field) ((uint32_t)(offsetof(layout, field) / sizeof(floe_shared_data)))
/* The number of slots of the segment layout `layout`. */
#define FLOE_SLOTS(layout) ((uint32_t)(sizeof(layout) / sizeof(floe_shared_data)))

#endif
