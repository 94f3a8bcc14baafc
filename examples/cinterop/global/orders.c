/* The C side of orders.def: C threads that detach graphs into `void *` fields and attach them. */
#include "orders.h"

#include <pthread.h>
#include <stdio.h>

void *pendingOrder;
Order currentOrder;

#define CHECK(call)                                                                  \
    do {                                                                             \
        floe_status status_ = (call);                                                \
        if (status_ != FLOE_OK) {                                                    \
            fprintf(stderr, "orders.c: %s: %s\n", #call, floe_last_error_message()); \
            return status_;                                                          \
        }                                                                            \
    } while (0)

struct job {
    Order *order;
    int64_t value;
    size_t *len;
    floe_status (*body)(struct job *);
    floe_status status;
};

static void *run(void *arg) {
    struct job *job = arg;
    job->status = job->body(job);
    return NULL;
}

/* Runs the job on a new C thread, which ends before this returns. */
static floe_status on_c_thread(struct job *job) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, run, job) != 0 || pthread_join(thread, NULL) != 0) return FLOE_ERR_SYSTEM;
    return job->status;
}

static floe_status build(struct job *job) {
    floe_ref list;
    CHECK(floe_list_new(&list));
    for (int64_t i = 1; i <= job->value; i++) CHECK(floe_list_push_int(list, i));
    return floe_object_detach(list, FLOE_TRANSFER_MODE_SAFE, &job->order->lines); /* consumes `list` */
}

floe_status orders_build(Order *order, int32_t id, int32_t count) {
    order->id = id;
    struct job job = {.order = order, .value = count, .body = build};
    return on_c_thread(&job);
}

static floe_status count_lines(struct job *job) {
    floe_ref list;
    CHECK(floe_graph_attach(job->order->lines, &list)); /* this thread owns the list now */
    job->order->lines = NULL;
    CHECK(floe_object_len(list, job->len));
    return floe_ref_release(list);
}

floe_status orders_count_lines(Order *order, size_t *out_len) {
    struct job job = {.order = order, .len = out_len, .body = count_lines};
    return on_c_thread(&job);
}

static floe_status post(struct job *job) {
    floe_ref list;
    void *graph;
    CHECK(floe_list_new(&list));
    CHECK(floe_list_push_int(list, job->value));
    CHECK(floe_object_detach(list, FLOE_TRANSFER_MODE_SAFE, &graph));
    __atomic_store_n(&pendingOrder, graph, __ATOMIC_RELEASE);
    return FLOE_OK;
}

floe_status orders_post_pending(int64_t value) {
    struct job job = {.value = value, .body = post};
    return on_c_thread(&job);
}
