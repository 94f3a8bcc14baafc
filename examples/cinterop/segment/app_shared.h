/* The slots of the segment that c_process.c and the Rust program share: one slot per field, in
 * field order (FLOE_SLOT(AppShared, prices) is 1), each named by its field. */
#ifndef APP_SHARED_H
#define APP_SHARED_H

#include <floe.h>

typedef struct {
    floe_shared_data config; /* a list: the currency, then the total of `prices` as Rust read it */
    floe_shared_data prices; /* a list of Price {sku, cents}, published by the C process */
} AppShared;

#endif
