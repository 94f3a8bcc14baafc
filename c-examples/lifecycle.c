/*
 * lifecycle.c — a worker's life from C: jobs queued behind a job that never returns, a termination
 * with processing reached in the queue, the termination's future after the thread's values are
 * released, garbage cycles collected when a worker goes idle, a job parking on its worker while a
 * termination cancels the jobs queued behind it (a race ThreadSanitizer watches for).
 *
 * Prints "ok: ..." per check and ends with "lifecycle: N checks passed, 0 failed"; exits non-zero on
 * any failure.
 */

#define _GNU_SOURCE /* nanosleep */

#include "checks.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}


static floe_status list_producer(void *arg, floe_ref *out_root)
{
    (void)arg;
    floe_status status = floe_list_new(out_root);
    return status == FLOE_OK ? floe_list_push_int(*out_root, 1) : status;
}

/* ---- jobs behind a job that never returns ---- */

static atomic_bool gate, blocked_started;

static floe_status blocked_job(floe_ref input, floe_ref *out_result)
{
    atomic_store(&blocked_started, true);
    while (!atomic_load(&gate))
        sleep_ms(1);
    *out_result = input;
    return FLOE_OK;
}

static floe_status nothing_job(floe_ref input, floe_ref *out_result)
{
    (void)out_result;
    return input == 0 ? FLOE_OK : floe_ref_release(input);
}

static void jobs_behind_a_stuck_job(void)
{
    uint32_t worker = 0;
    floe_future stuck = 0, behind[3] = {0, 0, 0}, done = 0;
    floe_ref result = 0;
    atomic_store(&gate, false);
    SETUP(floe_worker_start("stuck", &worker));
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, blocked_job, &stuck));
    while (!atomic_load(&blocked_started))
        sleep_ms(1);
    for (int i = 0; i < 3; i++)
        SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, nothing_job, &behind[i]));
    SETUP(floe_worker_request_termination(worker, false, &done));
    bool cancelled = true;
    for (int i = 0; i < 3; i++)
        cancelled &= floe_future_wait(behind[i], -1, &result) == FLOE_ERR_CANCELLED;
    CHECK(cancelled, "a wait without timeout on each job queued behind a job that never returns -> FLOE_ERR_CANCELLED");
    floe_stats left = stats();
    CHECK(left.live_objects == 1 && left.detached_graphs == 0,
          "their inputs are freed; only the stuck job's input is live");
    atomic_store(&gate, true);
    CHECK(floe_future_wait(stuck, -1, &result) == FLOE_OK && result != 0, "the stuck job, let go, returns its input");
    SETUP(floe_ref_release(result));
    CHECK(floe_future_wait(done, 10000, &result) == FLOE_OK, "then the worker terminates");
    SETUP(floe_future_release(stuck));
    SETUP(floe_future_release(done));
    for (int i = 0; i < 3; i++)
        SETUP(floe_future_release(behind[i]));
}

/* ---- a termination with processing, reached in the queue ---- */

static atomic_int ran_after_the_request;

static floe_status count_job(floe_ref input, floe_ref *out_result)
{
    (void)input;
    (void)out_result;
    atomic_fetch_add(&ran_after_the_request, 1);
    return FLOE_OK;
}

static floe_status queues_more_job(floe_ref input, floe_ref *out_result)
{
    (void)input;
    (void)out_result;
    while (!atomic_load(&gate))
        sleep_ms(1);
    uint32_t me = 0;
    floe_future later = 0, next = 0;
    floe_status status = floe_worker_current(&me);
    if (status == FLOE_OK)
        status = floe_worker_execute_after(me, 20, 0, count_job, &later);
    if (status == FLOE_OK)
        status = floe_worker_execute(me, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, count_job, &next);
    if (later != 0)
        floe_future_release(later);
    if (next != 0)
        floe_future_release(next);
    return status;
}

static void termination_reached_in_the_queue(void)
{
    uint32_t worker = 0;
    floe_future first = 0, done = 0, refused = 0;
    floe_ref result = 0;
    atomic_store(&gate, false);
    atomic_store(&ran_after_the_request, 0);
    SETUP(floe_worker_start("finishing", &worker));
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, queues_more_job, &first));
    SETUP(floe_worker_request_termination(worker, true, &done));
    CHECK(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, count_job, &refused) ==
              FLOE_ERR_WORKER_TERMINATED,
          "after floe_worker_request_termination(worker, true), main's floe_worker_execute -> "
          "FLOE_ERR_WORKER_TERMINATED");
    atomic_store(&gate, true);
    CHECK(floe_future_wait(first, 10000, &result) == FLOE_OK,
          "a job queued before the request still queues floe_worker_execute_after and floe_worker_execute on its "
          "own worker -> FLOE_OK");
    CHECK(floe_future_wait(done, 10000, &result) == FLOE_OK && atomic_load(&ran_after_the_request) == 2,
          "both ran before the worker's thread exited");
    SETUP(floe_future_release(first));
    SETUP(floe_future_release(done));
}

/* ---- the termination's future after the thread's values are released ---- */

static floe_status many_objects(floe_ref *out_value)
{
    floe_status status = floe_list_new(out_value);
    for (int i = 0; i < 20000 && status == FLOE_OK; i++) {
        floe_ref item = 0;
        status = floe_list_new(&item);
        if (status == FLOE_OK)
            status = floe_list_push_ref(*out_value, item);
        if (item != 0)
            floe_ref_release(item);
    }
    return status;
}

static uint32_t per_thread_global;

static floe_status reads_the_global(floe_ref input, floe_ref *out_result)
{
    (void)input;
    (void)out_result;
    floe_ref value = 0;
    floe_status status = floe_global_get(per_thread_global, &value);
    return status == FLOE_OK ? floe_ref_release(value) : status;
}

static void termination_after_the_threads_values(void)
{
    uint32_t worker = 0;
    floe_future read = 0, done = 0;
    floe_ref result = 0;
    SETUP(floe_global_define("per thread, large", FLOE_GLOBAL_MODE_THREAD_LOCAL, many_objects, &per_thread_global));
    SETUP(floe_worker_start("holds a global", &worker));
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, reads_the_global, &read));
    SETUP(floe_future_wait(read, 10000, &result));
    SETUP(floe_worker_request_termination(worker, true, &done));
    SETUP(floe_future_wait(done, 10000, &result));
    floe_stats left = stats();
    CHECK(left.live_objects == 0 && left.live_handles == 0,
          "right after the termination future: the worker's thread-local global value (20001 objects) is released");
    SETUP(floe_future_release(read));
    SETUP(floe_future_release(done));
}

/* ---- garbage cycles collected when a worker goes idle ---- */

static atomic_bool cycle_made;

static floe_status late_cycle(floe_ref input, floe_ref *out_result)
{
    (void)input;
    sleep_ms(50);
    floe_ref a = 0, b = 0;
    floe_status status = floe_list_new(&a);
    if (status == FLOE_OK)
        status = floe_list_new(&b);
    if (status == FLOE_OK)
        status = floe_list_push_ref(a, b);
    if (status == FLOE_OK)
        status = floe_list_push_ref(b, a);
    if (b != 0)
        floe_ref_release(b);
    *out_result = a;
    atomic_store(&cycle_made, true);
    return status;
}

static void cycles_collected_when_idle(void)
{
    uint32_t worker = 0;
    floe_future future = 0, done = 0;
    floe_ref result = 0;
    SETUP(floe_worker_start("idle collector", &worker));
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, late_cycle, &future));
    SETUP(floe_future_release(future));
    int waited = 0;
    while (!atomic_load(&cycle_made) && waited < 10000) {
        sleep_ms(1);
        waited += 1;
    }
    CHECK(atomic_load(&cycle_made), "the job made its cycle after its future was released");
    waited = 0;
    while (stats().live_objects != 0 && waited < 10000) {
        sleep_ms(5);
        waited += 5;
    }
    CHECK(stats().live_objects == 0,
          "a cyclic job result whose future was released first is collected when its worker goes idle");
    SETUP(floe_worker_request_termination(worker, true, &done));
    SETUP(floe_future_wait(done, 10000, &result));
    SETUP(floe_future_release(done));
}

static uint32_t parking_worker;

static floe_status parks_on_its_worker(floe_ref input, floe_ref *out_result)
{
    size_t ran;
    for (int i = 0; i < 2000; i++) {
        floe_worker_park(parking_worker, 0, false, &ran); /* looks at the queue the termination empties */
    }
    *out_result = input;
    return FLOE_OK;
}

static void park_while_a_termination_cancels(void)
{
    int settled = 0;
    for (int round = 0; round < 50; round++) {
        floe_future futures[8], done;
        floe_ref result;
        SETUP(floe_worker_start("parker", &parking_worker));
        SETUP(floe_worker_execute(parking_worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, parks_on_its_worker,
                                  &futures[0]));
        for (int i = 1; i < 8; i++) {
            SETUP(floe_worker_execute(parking_worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing_job,
                                      &futures[i]));
        }
        SETUP(floe_worker_request_termination(parking_worker, false, &done));
        SETUP(floe_future_wait(done, -1, &result));
        floe_future_release(done);
        int finished = 0;
        for (int i = 0; i < 8; i++) {
            uint32_t state;
            if (floe_future_get_state(futures[i], &state) == FLOE_OK &&
                (state == FLOE_FUTURE_STATE_COMPUTED || state == FLOE_FUTURE_STATE_CANCELLED)) {
                finished++;
            }
            floe_future_release(futures[i]);
        }
        settled += finished == 8;
    }
    CHECK(settled == 50, "a job parking on its worker while a termination cancels the queue: every job ran or was cancelled");
    CHECK(stats().live_objects == 0, "nothing is left of the parking rounds");
}

int main(void)
{
    SETUP(floe_runtime_init());
    jobs_behind_a_stuck_job();
    termination_reached_in_the_queue();
    termination_after_the_threads_values();
    cycles_collected_when_idle();
    park_while_a_termination_cancels();
    floe_stats end = stats();
    CHECK(end.live_objects == 0 && end.frozen_objects == 0 && end.live_handles == 0 && end.detached_graphs == 0,
          "floe_runtime_stats are all zero at the end");
    printf("lifecycle: %d checks passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
