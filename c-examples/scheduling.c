/*
 * scheduling.c — waits that could never end on a pool's own threads, delayed jobs and the main
 * queue: a delay no deadline reaches, the wake-up hook when a delayed job falls due, a hook that
 * queues work for the main thread, parking, and the main queue once the main thread has exited.
 *
 * floe's main thread here is a pthread that calls floe_runtime_init and exits; the process's own
 * main thread then checks that the main queue refuses work. One line per check ("ok: ..." or
 * "FAIL: ..."), then "scheduling: N checks passed, M failed"; non-zero exit when any failed.
 */

#define _GNU_SOURCE /* pthread_setname_np */

#include "checks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static floe_status nothing(floe_ref input, floe_ref *out_result)
{
    (void)input;
    *out_result = 0;
    return FLOE_OK;
}

/* ---- a pool's job waiting for a job of its own pool ---- */

static uint32_t g_pool;

/* Queues `nothing` on g_pool and waits up to 5 s for it; returns the wait's status. */
static floe_status wait_for_own_pool(floe_ref input, floe_ref *out_result)
{
    (void)input;
    *out_result = 0;
    floe_future inner = 0;
    floe_status status = floe_pool_execute(g_pool, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, &inner);
    if (status != FLOE_OK) {
        return status;
    }
    floe_ref result = 0;
    status = floe_future_wait(inner, 5000, &result);
    floe_future_release(inner);
    return status;
}

static void pool_waits(void)
{
    SETUP(floe_pool_start("solo", 1, &g_pool));
    floe_future outer = 0;
    SETUP(floe_pool_execute(g_pool, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, wait_for_own_pool, &outer));
    double started = now_ms();
    floe_ref result = 0;
    expect(floe_future_wait(outer, 20000, &result), FLOE_ERR_WOULD_DEADLOCK,
           "a job of a 1-thread pool waits for a job of its own pool");
    CHECK(said("every thread of pool \"solo\" (1 in all)"), "the message names the pool and its threads");
    CHECK(now_ms() - started < 4000, "refused at once, not after the inner wait's 5 s");
    floe_future_release(outer);
    floe_future done = 0;
    SETUP(floe_pool_request_termination(g_pool, true, &done));
    SETUP(floe_future_wait(done, 20000, &result));
    floe_future_release(done);
}

/* ---- delayed jobs ---- */

static void absurd_delay(void)
{
    uint32_t worker = 0;
    SETUP(floe_worker_start("patient", &worker));
    floe_future future = 0;
    expect(floe_worker_execute_after(worker, UINT64_MAX, 0, nothing, &future), FLOE_ERR_INVALID_ARGUMENT,
           "floe_worker_execute_after(UINT64_MAX ms)");
    CHECK(said("a delay of 18446744073709551615 ms"), "the message names the delay");
    CHECK(future == 0, "no future was written");
    /* The longest delay is taken; a termination without processing cancels it at once. */
    SETUP(floe_worker_execute_after(worker, INT64_MAX, 0, nothing, &future));
    floe_future done = 0;
    floe_ref result = 0;
    SETUP(floe_worker_request_termination(worker, false, &done));
    SETUP(floe_future_wait(done, 20000, &result));
    floe_future_release(done);
    expect(floe_future_wait(future, 20000, &result), FLOE_ERR_CANCELLED,
           "a job delayed INT64_MAX ms, after a termination without processing");
    floe_future_release(future);
}

/* The host's doorbell: the wake-up hook rings it. */
static pthread_mutex_t bell_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bell = PTHREAD_COND_INITIALIZER;
static int rings;

static void ring(void *user_data)
{
    (void)user_data;
    pthread_mutex_lock(&bell_lock);
    rings++;
    pthread_cond_broadcast(&bell);
    pthread_mutex_unlock(&bell_lock);
}

/* Sleeps until the hook has rung more than `seen` times, or 10 s pass; the count. */
static int wait_for_ring(int seen)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&bell_lock);
    while (rings <= seen && pthread_cond_timedwait(&bell, &bell_lock, &deadline) == 0) {
    }
    int now = rings;
    pthread_mutex_unlock(&bell_lock);
    return now;
}

static void delayed_main_job_wakes_the_host(void)
{
    SETUP(floe_main_queue_set_wakeup(ring, NULL));
    floe_future delayed = 0;
    double queued = now_ms();
    SETUP(floe_worker_execute_after(FLOE_WORKER_MAIN, 150, 0, nothing, &delayed));
    /* The host loop: sleep until the hook rings, then drain. */
    size_t ran = 0;
    int seen = 0;
    while (ran == 0) {
        int now = wait_for_ring(seen);
        if (now == seen) {
            break;
        }
        seen = now;
        size_t drained = 0;
        SETUP(floe_main_queue_drain(SIZE_MAX, &drained));
        ran += drained;
    }
    CHECK(ran == 1, "a host that sleeps until the hook rings runs a delayed main-queue job");
    CHECK(now_ms() - queued >= 150, "the job ran once due, not before");
    floe_ref result = 0;
    SETUP(floe_future_wait(delayed, 0, &result));
    floe_future_release(delayed);
    SETUP(floe_main_queue_set_wakeup(NULL, NULL));
}

/* A hook that queues work for the main thread (once) and then replaces itself. */
static atomic_int reentrant_calls;
static floe_future queued_by_hook;

static void queue_from_the_hook(void *user_data)
{
    (void)user_data;
    if (atomic_fetch_add(&reentrant_calls, 1) == 0) {
        SETUP(floe_worker_execute(FLOE_WORKER_MAIN, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, &queued_by_hook));
        SETUP(floe_main_queue_set_wakeup(ring, NULL));
    }
}

static atomic_bool queueing_returned;

static void *queue_for_main(void *arg)
{
    floe_future *future = arg;
    SETUP(floe_worker_execute(FLOE_WORKER_MAIN, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, future));
    atomic_store(&queueing_returned, true);
    return NULL;
}

static void hook_queues_for_main(void)
{
    SETUP(floe_main_queue_set_wakeup(queue_from_the_hook, NULL));
    floe_future first = 0;
    pthread_t queuer;
    pthread_create(&queuer, NULL, queue_for_main, &first);
    double started = now_ms();
    while (!atomic_load(&queueing_returned) && now_ms() - started < 10000) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    if (!CHECK(atomic_load(&queueing_returned), "a hook that queues work for the main thread and sets the hook "
                                               "returns (it ran with no floe lock held)")) {
        printf("scheduling: %d checks passed, %d failed\n", passed, failed);
        fflush(stdout);
        _Exit(1); /* the queueing thread is stuck for good */
    }
    pthread_join(queuer, NULL);
    SETUP(floe_main_queue_set_wakeup(NULL, NULL));
    size_t ran = 0;
    SETUP(floe_main_queue_drain(SIZE_MAX, &ran));
    CHECK(ran == 2, "both jobs (the thread's and the hook's) ran on the main thread");
    floe_ref result = 0;
    SETUP(floe_future_wait(first, 0, &result));
    SETUP(floe_future_wait(queued_by_hook, 0, &result));
    floe_future_release(first);
    floe_future_release(queued_by_hook);
}

static void parking(void)
{
    size_t ran = 99;
    SETUP(floe_main_queue_park(30, false, &ran));
    CHECK(ran == 0, "floe_main_queue_park(30 ms) with nothing queued: the time runs out");
    floe_future delayed = 0;
    double queued = now_ms();
    SETUP(floe_worker_execute_after(FLOE_WORKER_MAIN, 100, 0, nothing, &delayed));
    SETUP(floe_main_queue_park(10000, true, &ran));
    CHECK(ran == 1 && now_ms() - queued >= 100, "floe_main_queue_park(process) wakes for a delayed job and runs it");
    floe_ref result = 0;
    SETUP(floe_future_wait(delayed, 0, &result));
    floe_future_release(delayed);
}

/* ---- the main thread's exit ---- */

static floe_future g_main_job, g_main_delayed, g_delivered;
static atomic_int delivery_calls;
static _Atomic floe_status delivery_status = FLOE_OK;

static void on_delivery(floe_status status, floe_ref result, void *user_data)
{
    (void)result;
    (void)user_data;
    atomic_store(&delivery_status, status);
    atomic_fetch_add(&delivery_calls, 1);
}

/* floe's main thread: runs the main-queue checks, leaves work in the main queue, and exits. */
static void *first_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "first");
    SETUP(floe_runtime_init());
    pool_waits();
    absurd_delay();
    delayed_main_job_wakes_the_host();
    hook_queues_for_main();
    parking();

    SETUP(floe_worker_execute(FLOE_WORKER_MAIN, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, &g_main_job));
    SETUP(floe_worker_execute_after(FLOE_WORKER_MAIN, 60000, 0, nothing, &g_main_delayed));
    uint32_t worker = 0;
    SETUP(floe_worker_start("helper", &worker));
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, &g_delivered));
    floe_future done = 0;
    floe_ref result = 0;
    SETUP(floe_worker_request_termination(worker, true, &done));
    SETUP(floe_future_wait(done, 20000, &result));
    floe_future_release(done);
    SETUP(floe_future_deliver(g_delivered, FLOE_WORKER_MAIN, on_delivery, NULL));
    return NULL;
}

static void after_the_main_thread_exited(void)
{
    uint32_t state = 0;
    SETUP(floe_future_get_state(g_main_job, &state));
    CHECK(state == FLOE_FUTURE_STATE_CANCELLED, "a job left in the main queue is cancelled when the main thread exits");
    SETUP(floe_future_get_state(g_main_delayed, &state));
    CHECK(state == FLOE_FUTURE_STATE_CANCELLED, "so is a delayed job of the main queue");
    CHECK(atomic_load(&delivery_calls) == 1 && atomic_load(&delivery_status) == FLOE_ERR_WORKER_TERMINATED,
          "a delivery left in the main queue is called back once, with FLOE_ERR_WORKER_TERMINATED");

    floe_future future = 0;
    expect(floe_worker_execute(FLOE_WORKER_MAIN, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, &future),
           FLOE_ERR_WORKER_TERMINATED, "floe_worker_execute(FLOE_WORKER_MAIN) after the main thread exited");
    CHECK(said("the main thread (main (exited)) has exited"), "the message says the main thread has exited");
    CHECK(future == 0, "no future was written");
    expect(floe_worker_execute_after(FLOE_WORKER_MAIN, 10, 0, nothing, &future), FLOE_ERR_WORKER_TERMINATED,
           "floe_worker_execute_after(FLOE_WORKER_MAIN) after the main thread exited");
    uint32_t worker = 0;
    SETUP(floe_worker_start("late", &worker));
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, nothing, &future));
    expect(floe_future_deliver(future, FLOE_WORKER_MAIN, on_delivery, NULL), FLOE_ERR_WORKER_TERMINATED,
           "floe_future_deliver(FLOE_WORKER_MAIN) after the main thread exited");
    floe_ref result = 0;
    SETUP(floe_future_wait(future, 20000, &result));
    floe_future_release(future);
    expect(floe_runtime_init(), FLOE_ERR_ALREADY_INITIALIZED, "floe_runtime_init on another thread afterwards");

    floe_future_release(g_main_job);
    floe_future_release(g_main_delayed);
    floe_future_release(g_delivered);
    floe_shutdown_report report;
    SETUP(floe_runtime_shutdown(true, 20000, &report));
    CHECK(report.workers_unfinished == 0 && report.stats.live_objects == 0 && report.stats.live_handles == 0 &&
              report.stats.detached_graphs == 0,
          "shutdown: every worker stopped, nothing leaked");
}

int main(void)
{
    pthread_t first;
    pthread_create(&first, NULL, first_thread, NULL);
    pthread_join(first, NULL);
    after_the_main_thread_exited();
    printf("scheduling: %d checks passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
