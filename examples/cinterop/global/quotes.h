/* A C library that shares quotes through global.def's `sharedData`, from C threads of its own. */
#ifndef QUOTES_H
#define QUOTES_H

#include <floe.h>
#include <stdint.h>

/* The fields of the type `Quote`, which quotes_start defines. */
enum { QUOTE_SYMBOL = 0, QUOTE_CENTS = 1 };

/* Defines `Quote` and starts a C thread that publishes `rounds` frozen Quotes into sharedData, one
 * after the other: the one of version v is {"FLOE", v * 100}. */
floe_status quotes_start(int32_t rounds);

/* Waits for that thread; what its publishing gave (FLOE_OK when every publish did). */
floe_status quotes_join(void);

/* On a new C thread: reads sharedData, writes the published Quote's cents to `*out_cents` and its
 * version to `*out_version` (cents -1 when it is empty). */
floe_status quotes_read(int64_t *out_cents, int32_t *out_version);

/* On a new C thread: takes the list of ints put into sharedData and writes their sum to `*out_sum`. */
floe_status quotes_take_sum(int64_t *out_sum);

#endif
