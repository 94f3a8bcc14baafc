/*
 * execute_consume.c — Kotlin/Native's seed example ("Concurrency in Kotlin/Native"), line for line in C.
 *
 * The Kotlin original:
 *
 *   val COUNT = 20
 *   val workers = Array(COUNT, { _ -> Worker.start() })
 *   for (attempt in 1 .. 3) {
 *       val futures = Array(workers.size, { workerIndex -> workers[workerIndex].execute(TransferMode.SAFE, {
 *           WorkerArgument(workerIndex, "attempt $attempt") }) { input ->
 *           WorkerResult(input.intParam, input.stringParam + " result")
 *       }})
 *       val futureSet = futures.toSet()
 *       var consumed = 0
 *       while (consumed < futureSet.size) {
 *           val ready = futureSet.waitForMultipleFutures(10000)
 *           ready.forEach { it.consume { result ->
 *               if (result.stringResult != "attempt $attempt result") throw Error("Unexpected $result")
 *               consumed++ } }
 *       }
 *   }
 *   workers.forEach { it.requestTermination().result }
 *
 * In C: the producer lambda is a function with a `producer_arg` struct (it runs on the calling
 * thread); the job lambda captures nothing, so it is a plain C function; `consume { }` is
 * floe_future_consume with a callback. floe_future_wait_any reports a consumed future as finished
 * too (Kotlin's waitForMultipleFutures returns only computed ones), so a consumed future leaves
 * the set that is waited on.
 *
 * Build (from the crate root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I include c-examples/execute_consume.c \
 *      target/debug/libfloe.a -lpthread -ldl -lm -o execute_consume
 */

#include "floe.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COUNT = 20, ATTEMPTS = 3, TEXT = 64 };

/* Exits when a call that should succeed does not. */
#define TRY(call) try_ok((call), #call, __LINE__)

static void try_ok(floe_status status, const char *call, int line)
{
    if (status != FLOE_OK) {
        fprintf(stderr, "execute_consume.c:%d: %s failed with %s: %s\n", line, call, floe_status_name(status),
                floe_last_error_message());
        exit(1);
    }
}

/*
 * class WorkerArgument(val intParam: Int, val stringParam: String)
 * class WorkerResult(val intResult: Int, val stringResult: String)
 * Type ids and field indices are process-wide: set once on the main thread before any worker
 * starts, read by the jobs on the workers.
 */
static floe_type worker_argument, worker_result;
static size_t int_param, string_param, int_result, string_result;

static void define_types(void)
{
    const floe_field_def argument_fields[] = {{"intParam", FLOE_KIND_INT}, {"stringParam", FLOE_KIND_STRING}};
    const floe_field_def result_fields[] = {{"intResult", FLOE_KIND_INT}, {"stringResult", FLOE_KIND_STRING}};
    TRY(floe_type_define("WorkerArgument", argument_fields, 2, &worker_argument));
    TRY(floe_type_define("WorkerResult", result_fields, 2, &worker_result));
    TRY(floe_type_field_index(worker_argument, "intParam", &int_param));
    TRY(floe_type_field_index(worker_argument, "stringParam", &string_param));
    TRY(floe_type_field_index(worker_result, "intResult", &int_result));
    TRY(floe_type_field_index(worker_result, "stringResult", &string_result));
}

/* Copies a string field into `buf`; fails (with floe's status) when it does not fit. */
static floe_status read_string(floe_ref object, size_t field, char *buf, size_t buf_len)
{
    size_t len = 0;
    return floe_object_get_string(object, field, buf, buf_len, &len);
}

/* What the producer lambda captured: { WorkerArgument(workerIndex, "attempt $attempt") }. */
struct producer_arg {
    int worker_index;
    int attempt;
};

/* The producer: runs on the calling thread, builds the job's input; floe then owns `*out_root`. */
static floe_status make_argument(void *producer_arg, floe_ref *out_root)
{
    const struct producer_arg *arg = producer_arg;
    char text[TEXT];
    snprintf(text, sizeof text, "attempt %d", arg->attempt);
    floe_ref argument;
    floe_status status = floe_object_new(worker_argument, &argument);
    if (status != FLOE_OK)
        return status;
    if ((status = floe_object_set_int(argument, int_param, arg->worker_index)) != FLOE_OK ||
        (status = floe_object_set_string(argument, string_param, text)) != FLOE_OK) {
        floe_ref_release(argument);
        return status;
    }
    *out_root = argument;
    return FLOE_OK;
}

/* The job: { input -> WorkerResult(input.intParam, input.stringParam + " result") }, on the worker. */
static floe_status make_result(floe_ref input, floe_ref *out_result)
{
    int64_t index = 0;
    char text[TEXT];
    floe_status status = floe_object_get_int(input, int_param, &index);
    if (status == FLOE_OK)
        status = read_string(input, string_param, text, sizeof text - strlen(" result"));
    floe_ref_release(input); /* the job owns its input: release it (or return it) */
    if (status != FLOE_OK)
        return status;
    strcat(text, " result");

    floe_ref result;
    if ((status = floe_object_new(worker_result, &result)) != FLOE_OK)
        return status;
    if ((status = floe_object_set_int(result, int_result, index)) != FLOE_OK ||
        (status = floe_object_set_string(result, string_result, text)) != FLOE_OK) {
        floe_ref_release(result);
        return status;
    }
    *out_result = result; /* floe owns it now: it travels (SAFE) to whoever consumes the future */
    return FLOE_OK;
}

/* What the consume lambda sees: the attempt, the worker index it expects, and `consumed`. */
struct consumer {
    int attempt;
    int64_t worker_index;
    int consumed;
    int unexpected;
};

/* The consume lambda: runs on the consuming thread, which owns `result` and releases it. */
static void check_result(floe_status status, floe_ref result, void *user_data)
{
    struct consumer *c = user_data;
    if (status != FLOE_OK) {
        printf("  Unexpected failure: %s: %s\n", floe_status_name(status), floe_last_error_message());
        c->unexpected++;
        return;
    }
    char want[TEXT], got[TEXT];
    int64_t index = -1;
    snprintf(want, sizeof want, "attempt %d result", c->attempt);
    TRY(read_string(result, string_result, got, sizeof got));
    TRY(floe_object_get_int(result, int_result, &index));
    TRY(floe_ref_release(result));
    if (strcmp(got, want) != 0 || index != c->worker_index) {
        /* throw Error("Unexpected $result") */
        printf("  Unexpected WorkerResult(%" PRId64 ", \"%s\"), wanted (%" PRId64 ", \"%s\")\n", index, got,
               c->worker_index, want);
        c->unexpected++;
        return;
    }
    c->consumed++;
}

int main(void)
{
    TRY(floe_runtime_init());
    define_types();

    /* val workers = Array(COUNT, { _ -> Worker.start() }) */
    uint32_t workers[COUNT];
    for (int i = 0; i < COUNT; i++) {
        char name[16];
        snprintf(name, sizeof name, "worker-%d", i);
        TRY(floe_worker_start(name, &workers[i]));
    }
    printf("started %d workers (ids %" PRIu32 "..%" PRIu32 ")\n", COUNT, workers[0], workers[COUNT - 1]);

    int unexpected = 0;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
        /* val futures = Array(workers.size, { workerIndex -> workers[workerIndex].execute(SAFE, ...) }) */
        struct producer_arg args[COUNT];
        floe_future futures[COUNT];
        int64_t worker_of[COUNT];
        for (int i = 0; i < COUNT; i++) {
            args[i] = (struct producer_arg){.worker_index = i, .attempt = attempt};
            worker_of[i] = i;
            TRY(floe_worker_execute(workers[i], FLOE_TRANSFER_MODE_SAFE, make_argument, &args[i], make_result,
                                    &futures[i]));
        }
        printf("attempt %d: %d jobs scheduled\n", attempt, COUNT);

        /* val futureSet = futures.toSet(); var consumed = 0; while (consumed < futureSet.size) { ... } */
        struct consumer consumer = {.attempt = attempt};
        size_t pending = COUNT;
        while (consumer.consumed + consumer.unexpected < COUNT) {
            /* val ready = futureSet.waitForMultipleFutures(10000) */
            size_t ready = 0;
            TRY(floe_future_wait_any(futures, pending, 10000, &ready));
            /* ready.forEach { it.consume { result -> ... consumed++ } } */
            consumer.worker_index = worker_of[ready];
            TRY(floe_future_consume(futures[ready], 0, check_result, &consumer));
            TRY(floe_future_release(futures[ready]));
            /* A consumed future leaves the set: the last one takes its place. */
            pending--;
            futures[ready] = futures[pending];
            worker_of[ready] = worker_of[pending];
        }
        if (consumer.unexpected == 0)
            printf("attempt %d: consumed %d of %d results, each \"attempt %d result\"\n", attempt, consumer.consumed,
                   COUNT, attempt);
        else
            printf("attempt %d: consumed %d of %d results, %d unexpected\n", attempt, consumer.consumed, COUNT,
                   consumer.unexpected);
        unexpected += consumer.unexpected;
    }

    /* workers.forEach { it.requestTermination().result } */
    for (int i = 0; i < COUNT; i++) {
        floe_future done;
        floe_ref none = 1;
        TRY(floe_worker_request_termination(workers[i], true, &done));
        TRY(floe_future_wait(done, -1, &none));
        TRY(floe_future_release(done));
        if (none != 0) {
            printf("termination of worker %" PRIu32 " gave a result\n", workers[i]);
            unexpected++;
        }
    }
    printf("terminated %d workers\n", COUNT);

    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    printf("floe_runtime_stats: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64
           ", detached_graphs %" PRIu64 "\n",
           stats.live_objects, stats.frozen_objects, stats.live_handles, stats.detached_graphs);
    if (stats.live_objects != 0 || stats.frozen_objects != 0 || stats.live_handles != 0 ||
        stats.detached_graphs != 0) {
        printf("execute_consume: LEAK: something is still live\n");
        return 1;
    }
    if (unexpected != 0) {
        printf("execute_consume: %d unexpected results\n", unexpected);
        return 1;
    }
    printf("execute_consume: done, %d attempts of %d jobs, nothing leaked\n", ATTEMPTS, COUNT);
    return 0;
}
