/*
 * pipeline.c — a producer/consumer pipeline over several workers, driven from a host run loop.
 *
 *   main thread ──execute──▶ parser-0 / parser-1     stage 1: parse "name:quantity ..." into Items
 *        ▲                        │ future delivered to FLOE_WORKER_MAIN
 *        └── drain ◀── wake-up ◀──┘
 *   main thread ──execute──▶ transformer             stage 2: upper-case names, quantities x10, total
 *        ▲                        │ future delivered to FLOE_WORKER_MAIN
 *        └── drain ◀── wake-up ◀──┘
 *   main thread: every batch in one Report list ──floe_object_detach──▶ a plain C global `void *`
 *   reporter pthread (no floe worker): floe_graph_attach, print, release
 *
 * The main thread never blocks on a future: it sleeps on a condition variable that floe's wake-up
 * hook signals whenever work is queued for it, and drains the main queue when woken. Every graph
 * moves whole, SAFE mode: each stage owns its batch alone while it works on it.
 *
 * Build (from the crate root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I include c-examples/pipeline.c \
 *      target/debug/libfloe.a -lpthread -ldl -lm -o pipeline
 */

#define _GNU_SOURCE /* pthread_setname_np, clock_gettime */

#include "floe.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Exits when a call that should succeed does not. */
#define TRY(call) try_ok((call), #call, __LINE__)

static void try_ok(floe_status status, const char *call, int line)
{
    if (status != FLOE_OK) {
        fprintf(stderr, "pipeline.c:%d: %s failed with %s: %s\n", line, call, floe_status_name(status),
                floe_last_error_message());
        exit(1);
    }
}

/* Inside a job: on failure, remember the status and go to the job's cleanup. */
#define JOB_TRY(call)                                                                                                  \
    do {                                                                                                               \
        if ((status = (call)) != FLOE_OK)                                                                              \
            goto done;                                                                                                 \
    } while (0)

/* Batch {index: int, source: string, items: ref (a list of Items), total: int}; Item {name, quantity}. */
static floe_type batch_type, item_type;
static size_t batch_index, batch_source, batch_items, batch_total, item_name, item_quantity;

static const char *const SOURCES[] = {
    "apple:3 banana:5 cherry:7",
    "date:2 elderberry:11",
    "fig:4 grape:6 honeydew:1 kiwi:9",
    "lemon:8",
};
enum { BATCHES = sizeof SOURCES / sizeof SOURCES[0], PARSERS = 2, NAME = 32, SOURCE = 128 };

static void define_types(void)
{
    const floe_field_def batch_fields[] = {
        {"index", FLOE_KIND_INT}, {"source", FLOE_KIND_STRING}, {"items", FLOE_KIND_REF}, {"total", FLOE_KIND_INT}};
    const floe_field_def item_fields[] = {{"name", FLOE_KIND_STRING}, {"quantity", FLOE_KIND_INT}};
    TRY(floe_type_define("Batch", batch_fields, 4, &batch_type));
    TRY(floe_type_define("Item", item_fields, 2, &item_type));
    TRY(floe_type_field_index(batch_type, "index", &batch_index));
    TRY(floe_type_field_index(batch_type, "source", &batch_source));
    TRY(floe_type_field_index(batch_type, "items", &batch_items));
    TRY(floe_type_field_index(batch_type, "total", &batch_total));
    TRY(floe_type_field_index(item_type, "name", &item_name));
    TRY(floe_type_field_index(item_type, "quantity", &item_quantity));
}

static floe_status read_string(floe_ref object, size_t field, char *buf, size_t buf_len)
{
    size_t len = 0;
    return floe_object_get_string(object, field, buf, buf_len, &len);
}

/* ---- stage 1: parse, on a parser worker ---- */

/* The producer of a stage-1 job: Batch{index, source}, built on the main thread. */
static floe_status make_batch(void *producer_arg, floe_ref *out_root)
{
    const int index = *(const int *)producer_arg;
    floe_ref batch;
    floe_status status = floe_object_new(batch_type, &batch);
    if (status != FLOE_OK)
        return status;
    if ((status = floe_object_set_int(batch, batch_index, index)) != FLOE_OK ||
        (status = floe_object_set_string(batch, batch_source, SOURCES[index])) != FLOE_OK) {
        floe_ref_release(batch);
        return status;
    }
    *out_root = batch;
    return FLOE_OK;
}

/* Parses Batch.source into a list of Items, stored in Batch.items; returns the batch. */
static floe_status parse(floe_ref batch, floe_ref *out_result)
{
    floe_status status = FLOE_OK;
    floe_ref items = 0, item = 0;
    char source[SOURCE], name[NAME];
    int64_t index = 0;
    size_t count = 0;
    JOB_TRY(read_string(batch, batch_source, source, sizeof source));
    JOB_TRY(floe_object_get_int(batch, batch_index, &index));
    JOB_TRY(floe_list_new(&items));
    for (const char *p = source; *p != '\0';) {
        int quantity = 0, used = 0;
        if (sscanf(p, " %31[^: ]:%d%n", name, &quantity, &used) != 2) {
            status = FLOE_ERR_INVALID_ARGUMENT;
            goto done;
        }
        p += used;
        JOB_TRY(floe_object_new(item_type, &item));
        JOB_TRY(floe_object_set_string(item, item_name, name));
        JOB_TRY(floe_object_set_int(item, item_quantity, quantity));
        JOB_TRY(floe_list_push_ref(items, item));
        JOB_TRY(floe_ref_release(item)); /* the list holds it now */
        item = 0;
        count++;
        while (*p == ' ')
            p++;
    }
    JOB_TRY(floe_object_set_ref(batch, batch_items, items));
    uint32_t me = 0;
    JOB_TRY(floe_worker_current(&me));
    printf("  [worker %" PRIu32 "] stage 1: batch %" PRId64 " parsed into %zu item%s\n", me, index, count,
           count == 1 ? "" : "s");
done:
    if (item != 0)
        floe_ref_release(item);
    if (items != 0)
        floe_ref_release(items); /* the batch holds it; only the root's handle may leave */
    if (status != FLOE_OK) {
        floe_ref_release(batch);
        return status;
    }
    *out_result = batch; /* the job returns its input: it travels back whole */
    return FLOE_OK;
}

/* ---- stage 2: transform, on the transformer worker ---- */

/* The producer of a stage-2 job hands over a batch the main thread owns: floe takes the handle. */
static floe_status pass_batch(void *producer_arg, floe_ref *out_root)
{
    *out_root = *(const floe_ref *)producer_arg;
    return FLOE_OK;
}

/* Upper-cases every Item's name, multiplies its quantity by 10, and sets Batch.total. */
static floe_status transform(floe_ref batch, floe_ref *out_result)
{
    floe_status status = FLOE_OK;
    floe_ref items = 0, item = 0;
    size_t count = 0;
    int64_t index = 0, total = 0;
    JOB_TRY(floe_object_get_int(batch, batch_index, &index));
    JOB_TRY(floe_object_get_ref(batch, batch_items, &items));
    JOB_TRY(floe_object_len(items, &count));
    for (size_t i = 0; i < count; i++) {
        char name[NAME];
        int64_t quantity = 0;
        JOB_TRY(floe_object_get_ref(items, i, &item));
        JOB_TRY(read_string(item, item_name, name, sizeof name));
        for (char *c = name; *c != '\0'; c++)
            *c = (char)toupper((unsigned char)*c);
        JOB_TRY(floe_object_set_string(item, item_name, name));
        JOB_TRY(floe_object_get_int(item, item_quantity, &quantity));
        JOB_TRY(floe_object_set_int(item, item_quantity, quantity * 10));
        total += quantity * 10;
        JOB_TRY(floe_ref_release(item));
        item = 0;
    }
    JOB_TRY(floe_object_set_int(batch, batch_total, total));
    uint32_t me = 0;
    JOB_TRY(floe_worker_current(&me));
    printf("  [worker %" PRIu32 "] stage 2: batch %" PRId64 " transformed, total %" PRId64 "\n", me, index, total);
done:
    if (item != 0)
        floe_ref_release(item);
    if (items != 0)
        floe_ref_release(items);
    if (status != FLOE_OK) {
        floe_ref_release(batch);
        return status;
    }
    *out_result = batch;
    return FLOE_OK;
}

/* ---- the main thread's run loop ---- */

/* What the wake-up hook signals: set from any thread, waited for by the main loop. */
struct wakeup {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool pending;
    unsigned calls;
};

/* floe's wake-up hook: called from whichever thread queued work for the main thread. */
static void wake_main(void *user_data)
{
    struct wakeup *w = user_data;
    pthread_mutex_lock(&w->mutex);
    w->pending = true;
    w->calls++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

/* Waits until the hook fired (or `seconds` passed: false). */
static bool wait_for_wakeup(struct wakeup *w, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    bool woken = true;
    pthread_mutex_lock(&w->mutex);
    while (!w->pending && woken)
        woken = pthread_cond_timedwait(&w->cond, &w->mutex, &deadline) != ETIMEDOUT;
    woken = w->pending;
    w->pending = false;
    pthread_mutex_unlock(&w->mutex);
    return woken;
}

/* The pipeline's state, touched only on the main thread (the callbacks run there, from the drain). */
struct pipeline {
    uint32_t transformer;
    floe_ref report; /* a list with one slot per batch, owned by the main thread */
    int finished;
    int failed;
};

static void on_transformed(floe_status status, floe_ref batch, void *user_data);

/* Stage 1's outcome, delivered to the main queue: the batch now belongs to the main thread. */
static void on_parsed(floe_status status, floe_ref batch, void *user_data)
{
    struct pipeline *p = user_data;
    if (status != FLOE_OK) {
        printf("  [main] stage 1 failed: %s: %s\n", floe_status_name(status), floe_last_error_message());
        p->failed++;
        p->finished++;
        return;
    }
    int64_t index = 0;
    uint32_t me = 0;
    TRY(floe_object_get_int(batch, batch_index, &index));
    TRY(floe_worker_current(&me));
    printf("  [main, queue %" PRIu32 "] batch %" PRId64 " parsed; sending it to stage 2\n", me, index);
    /* Re-send: the producer hands floe the handle, and the whole graph moves to the transformer. */
    floe_future future;
    TRY(floe_worker_execute(p->transformer, FLOE_TRANSFER_MODE_SAFE, pass_batch, &batch, transform, &future));
    TRY(floe_future_deliver(future, FLOE_WORKER_MAIN, on_transformed, p));
    TRY(floe_future_release(future)); /* the delivery is arranged; the future id is no longer needed */
}

/* Stage 2's outcome, delivered to the main queue: the batch takes its slot in the report. */
static void on_transformed(floe_status status, floe_ref batch, void *user_data)
{
    struct pipeline *p = user_data;
    p->finished++;
    if (status != FLOE_OK) {
        printf("  [main] stage 2 failed: %s: %s\n", floe_status_name(status), floe_last_error_message());
        p->failed++;
        return;
    }
    int64_t index = 0;
    TRY(floe_object_get_int(batch, batch_index, &index));
    TRY(floe_object_set_ref(p->report, (size_t)index, batch));
    TRY(floe_ref_release(batch)); /* the report holds it */
    printf("  [main] batch %" PRId64 " done (%d of %d)\n", index, p->finished, BATCHES);
}

/* ---- the report: a detached graph in a plain C global ---- */

/* Detached by the main thread, attached by the reporter thread: floe's pointer, never dereferenced. */
static void *g_report;
static int64_t g_grand_total = -1;

static void *reporter(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "reporter"); /* before any floe call: floe names threads once */
    floe_ref report;
    TRY(floe_graph_attach(g_report, &report));
    g_report = NULL; /* attached once; the pointer is spent */
    uint32_t me = 1;
    TRY(floe_worker_current(&me));
    printf("  [reporter] attached the report (floe_worker_current = %" PRIu32 ": a plain pthread)\n", me);

    size_t batches = 0;
    int64_t grand_total = 0;
    TRY(floe_object_len(report, &batches));
    for (size_t b = 0; b < batches; b++) {
        floe_ref batch, items;
        size_t count = 0;
        int64_t total = 0;
        char source[SOURCE], line[512] = "";
        TRY(floe_object_get_ref(report, b, &batch));
        TRY(read_string(batch, batch_source, source, sizeof source));
        TRY(floe_object_get_int(batch, batch_total, &total));
        TRY(floe_object_get_ref(batch, batch_items, &items));
        TRY(floe_object_len(items, &count));
        for (size_t i = 0; i < count; i++) {
            floe_ref item;
            char name[NAME];
            int64_t quantity = 0;
            TRY(floe_object_get_ref(items, i, &item));
            TRY(read_string(item, item_name, name, sizeof name));
            TRY(floe_object_get_int(item, item_quantity, &quantity));
            TRY(floe_ref_release(item));
            size_t used = strlen(line);
            snprintf(line + used, sizeof line - used, "%s%s=%" PRId64, i == 0 ? "" : " ", name, quantity);
        }
        printf("  [reporter] batch %zu \"%s\" -> %s, total %" PRId64 "\n", b, source, line, total);
        grand_total += total;
        TRY(floe_ref_release(items));
        TRY(floe_ref_release(batch));
    }
    TRY(floe_ref_release(report)); /* the reporter owns the whole graph: releasing the root frees it */
    g_grand_total = grand_total;
    return NULL;
}

static void print_stats(const char *when, floe_stats *stats)
{
    TRY(floe_runtime_stats(stats));
    printf("%s: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64
           ", detached_graphs %" PRIu64 "\n",
           when, stats->live_objects, stats->frozen_objects, stats->live_handles, stats->detached_graphs);
}

int main(void)
{
    TRY(floe_runtime_init());
    define_types();

    uint32_t parsers[PARSERS];
    struct pipeline p = {0};
    for (int i = 0; i < PARSERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "parser-%d", i);
        TRY(floe_worker_start(name, &parsers[i]));
    }
    TRY(floe_worker_start("transformer", &p.transformer));
    printf("== workers: parser-0 = %" PRIu32 ", parser-1 = %" PRIu32 ", transformer = %" PRIu32 "\n", parsers[0],
           parsers[1], p.transformer);

    struct wakeup wakeup = {.pending = false, .calls = 0};
    pthread_mutex_init(&wakeup.mutex, NULL);
    pthread_cond_init(&wakeup.cond, NULL);
    TRY(floe_main_queue_set_wakeup(wake_main, &wakeup));

    TRY(floe_list_new(&p.report));
    for (int b = 0; b < BATCHES; b++)
        TRY(floe_list_push_ref(p.report, 0));

    printf("== stage 1: %d batches to the parsers\n", BATCHES);
    int indices[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        indices[b] = b;
        floe_future future;
        TRY(floe_worker_execute(parsers[b % PARSERS], FLOE_TRANSFER_MODE_SAFE, make_batch, &indices[b], parse,
                                &future));
        TRY(floe_future_deliver(future, FLOE_WORKER_MAIN, on_parsed, &p));
        TRY(floe_future_release(future));
    }

    printf("== main loop: sleep until woken, then drain the main queue\n");
    size_t drained = 0;
    while (p.finished < BATCHES) {
        if (!wait_for_wakeup(&wakeup, 10)) {
            printf("pipeline: no wake-up within 10 s (%d of %d batches finished)\n", p.finished, BATCHES);
            return 1;
        }
        size_t ran = 0;
        TRY(floe_main_queue_drain(SIZE_MAX, &ran));
        drained += ran;
    }
    TRY(floe_main_queue_set_wakeup(NULL, NULL));
    pthread_mutex_lock(&wakeup.mutex);
    unsigned calls = wakeup.calls;
    pthread_mutex_unlock(&wakeup.mutex);
    printf("main loop: drained %zu tasks from the main queue (%u wake-ups)\n", drained, calls);
    if (p.failed != 0) {
        printf("pipeline: %d batches failed\n", p.failed);
        return 1;
    }

    printf("== the report leaves the main thread as a plain void *\n");
    floe_stats stats;
    TRY(floe_object_detach(p.report, FLOE_TRANSFER_MODE_SAFE, &g_report));
    p.report = 0; /* consumed by the detach */
    print_stats("after floe_object_detach", &stats);
    pthread_t thread;
    if (pthread_create(&thread, NULL, reporter, NULL) != 0 || pthread_join(thread, NULL) != 0) {
        printf("pipeline: cannot run the reporter thread\n");
        return 1;
    }
    printf("grand total %" PRId64 "\n", g_grand_total);

    for (int i = 0; i < PARSERS + 1; i++) {
        uint32_t worker = i < PARSERS ? parsers[i] : p.transformer;
        floe_future done;
        floe_ref none;
        TRY(floe_worker_request_termination(worker, true, &done));
        TRY(floe_future_wait(done, -1, &none));
        TRY(floe_future_release(done));
    }
    printf("== workers terminated\n");
    pthread_cond_destroy(&wakeup.cond);
    pthread_mutex_destroy(&wakeup.mutex);

    print_stats("floe_runtime_stats", &stats);
    if (stats.live_objects != 0 || stats.frozen_objects != 0 || stats.live_handles != 0 ||
        stats.detached_graphs != 0) {
        printf("pipeline: LEAK: something is still live\n");
        return 1;
    }
    if (g_grand_total != 560) {
        printf("pipeline: grand total %" PRId64 ", expected 560\n", g_grand_total);
        return 1;
    }
    printf("pipeline: done, nothing leaked\n");
    return 0;
}
