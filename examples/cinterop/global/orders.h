/* Orders built by C threads, whose lines travel between threads as detached graphs. */
#ifndef ORDERS_H
#define ORDERS_H

#include <floe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t id;
    void *lines; /* a detached graph (a list of ints), or NULL */
} Order;

/* A detached graph (a list of ints) posted by orders_post_pending, or NULL. Written with an
 * atomic store. */
extern void *pendingOrder;

/* The order being worked on. */
extern Order currentOrder;

/* On a new C thread: builds the list 1, 2, ..., `count` and detaches it into `order->lines`. */
floe_status orders_build(Order *order, int32_t id, int32_t count);

/* On a new C thread: attaches the graph in `order->lines` (then NULL) and writes its length to
 * `*out_len`. */
floe_status orders_count_lines(Order *order, size_t *out_len);

/* On a new C thread: detaches the list {value} into pendingOrder. */
floe_status orders_post_pending(int64_t value);

#endif
