/* The C side of the global example: C threads publishing into, reading from and taking from the
 * SharedData global that global.def declares. */
#include "quotes.h"

#include <pthread.h>
#include <stdio.h>

/* global.def's C code: the type (Kotlin/Native's layout, floe_shared_data's) and the global. */
typedef struct { int version; void* kotlinObject; } SharedData;
extern SharedData sharedData;

/* floe's functions take any struct of floe_shared_data's layout. */
static floe_shared_data *shared_data(void) { return (floe_shared_data *)&sharedData; }

#define CHECK(call)                                                                  \
    do {                                                                             \
        floe_status status_ = (call);                                                \
        if (status_ != FLOE_OK) {                                                    \
            fprintf(stderr, "quotes.c: %s: %s\n", #call, floe_last_error_message()); \
            return status_;                                                          \
        }                                                                            \
    } while (0)

static floe_type quote_type;
static int32_t rounds_to_publish;
static floe_status published;
static pthread_t publisher;

static floe_status publish_all(void) {
    for (int32_t version = 1; version <= rounds_to_publish; version++) {
        floe_ref quote;
        CHECK(floe_object_new(quote_type, &quote));
        CHECK(floe_object_set_string(quote, QUOTE_SYMBOL, "FLOE"));
        CHECK(floe_object_set_int(quote, QUOTE_CENTS, (int64_t)version * 100));
        CHECK(floe_object_freeze(quote, "quote"));
        CHECK(floe_shared_data_publish(shared_data(), quote)); /* bumps the version to `version` */
        CHECK(floe_ref_release(quote));
    }
    return FLOE_OK;
}

static void *publishing(void *unused) {
    (void)unused;
    published = publish_all();
    return NULL;
}

floe_status quotes_start(int32_t rounds) {
    floe_field_def fields[] = {{"symbol", FLOE_KIND_STRING}, {"cents", FLOE_KIND_INT}};
    CHECK(floe_type_define("Quote", fields, 2, &quote_type));
    rounds_to_publish = rounds;
    return pthread_create(&publisher, NULL, publishing, NULL) == 0 ? FLOE_OK : FLOE_ERR_SYSTEM;
}

floe_status quotes_join(void) {
    if (pthread_join(publisher, NULL) != 0) return FLOE_ERR_SYSTEM;
    return published;
}

/* Runs `body` on a new C thread and gives what it returned. */
static floe_status on_c_thread(void *(*body)(void *), void *arg) {
    pthread_t thread;
    floe_status *status;
    if (pthread_create(&thread, NULL, body, arg) != 0 || pthread_join(thread, (void **)&status) != 0)
        return FLOE_ERR_SYSTEM;
    return *status;
}

struct read_args { int64_t *cents; int32_t *version; floe_status status; };

static floe_status read_quote(struct read_args *args) {
    floe_ref quote;
    CHECK(floe_shared_data_read(shared_data(), args->version, &quote));
    *args->cents = -1;
    if (quote == 0) return FLOE_OK;
    CHECK(floe_object_get_int(quote, QUOTE_CENTS, args->cents));
    return floe_ref_release(quote);
}

static void *reading(void *arg) {
    struct read_args *args = arg;
    args->status = read_quote(args);
    return &args->status;
}

floe_status quotes_read(int64_t *out_cents, int32_t *out_version) {
    struct read_args args = {out_cents, out_version, FLOE_OK};
    return on_c_thread(reading, &args);
}

struct sum_args { int64_t *sum; floe_status status; };

static floe_status take_sum(struct sum_args *args) {
    floe_ref list;
    size_t len;
    CHECK(floe_shared_data_take(shared_data(), &list)); /* this thread owns the list now */
    CHECK(floe_object_len(list, &len));
    *args->sum = 0;
    for (size_t i = 0; i < len; i++) {
        int64_t value;
        CHECK(floe_object_get_int(list, i, &value));
        *args->sum += value;
    }
    CHECK(floe_list_push_int(list, *args->sum)); /* mutable: only its owner writes it */
    return floe_ref_release(list);
}

static void *summing(void *arg) {
    struct sum_args *args = arg;
    args->status = take_sum(args);
    return &args->status;
}

floe_status quotes_take_sum(int64_t *out_sum) {
    struct sum_args args = {out_sum, FLOE_OK};
    return on_c_thread(summing, &args);
}
