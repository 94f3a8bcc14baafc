/*
 * abi_fuzz.c — a multi-threaded random-call fuzzer over the whole C ABI of floe.
 *
 *   abi_fuzz [--seed S] [--seconds N] [--calls BUDGET]
 *
 * The main thread initialises floe and drains the main queue between its own random calls; four
 * host threads make random calls over every entry point with valid, stale, released, other-thread,
 * wrong-kind and garbage arguments; jobs (C functions) do random things on their workers and pools,
 * initialisers and producers fail at random or return junk numbers. The fuzzer keeps the header's
 * contract — each thread releases only its own handles (the other threads use a thread's handles
 * only under a read lock that the owner takes for writing before it releases them), and every
 * pointer argument is NULL or valid — and breaks every rule floe promises to check.
 *
 * Checked on every call: the status has a name (floe_status_name is not "FLOE_UNKNOWN_STATUS"), is
 * not FLOE_ERR_PANIC (floe panicked), and after a failure floe_last_error_status agrees and
 * floe_last_error_message is not empty; an out-handle is written only on success; a handle this
 * thread released never works again; and a few exact outcomes (a wait on the calling thread's own
 * queue is FLOE_ERR_WOULD_DEADLOCK, a made-up handle is refused...). A watchdog fails a run in which
 * no call completes for a minute (a hang). At the end everything is released, workers and pools
 * terminated, floe_runtime_shutdown(false, 10000) run, and every floe_runtime_stats counter must be
 * zero (a leak fails). The last line is "N passed, M failed" over the run's checks: one per thread
 * (main, host-1..4, jobs and callbacks), shutdown and leaks.
 */

#define _GNU_SOURCE /* pthread_setname_np, nanosleep */

#include "floe.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Run parameters, counters, checks                                                            */

static uint64_t g_seed;
static double g_seconds = 10;
static uint64_t g_budget = UINT64_MAX;
static atomic_bool g_stop;

enum group {
    G_OBJECT,
    G_LIST,
    G_STRING,
    G_REF,
    G_ATOMIC,
    G_FREEZE,
    G_TRANSFER,
    G_WORKER,
    G_FUTURE,
    G_POOL,
    G_GLOBAL,
    G_SHARED,
    G_MAINQ,
    G_TYPE,
    G_RUNTIME,
    G_ERROR,
    G_COUNT
};
static const char *const group_names[G_COUNT] = {
    "objects",   "lists",   "strings", "refs",     "atomics",    "freeze", "transfer", "workers",
    "futures",   "pools",   "globals", "shared_data", "main_queue", "types",  "runtime",  "errors",
};
static atomic_ullong g_calls[G_COUNT];
static atomic_ullong g_total;
static atomic_ullong g_jobs_run, g_callbacks_run, g_inits_run, g_producers_run, g_wakeups;

/* Checks: 0 main, 1..4 host threads, 5 jobs/callbacks/initialisers (any other thread). */
enum { N_HOST = 4, CHECK_JOBS = N_HOST + 1, N_THREAD_CHECKS = N_HOST + 2 };
static atomic_int g_violations[N_THREAD_CHECKS];
static atomic_int g_printed;

/* Per thread: which check it counts for, its name, the call under way (for the watchdog). */
static _Thread_local int t_check = CHECK_JOBS;
static _Thread_local const char *t_name = "worker";
static _Atomic(const char *) g_current[N_THREAD_CHECKS];

static void violation(const char *call, int line, const char *fmt, ...)
{
    atomic_fetch_add(&g_violations[t_check], 1);
    if (atomic_fetch_add(&g_printed, 1) >= 40)
        return;
    char what[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(what, sizeof what, fmt, args);
    va_end(args);
    printf("VIOLATION (seed %" PRIu64 ", thread %s, abi_fuzz.c:%d): %s\n    call: %s\n", g_seed, t_name, line, what,
           call);
    fflush(stdout);
}

static bool unknown_status(floe_status status)
{
    return strcmp(floe_status_name(status), "FLOE_UNKNOWN_STATUS") == 0;
}

/* Every call goes through here: counted, and its status checked as the header documents it. */
static floe_status checked(int group, floe_status status, const char *call, int line)
{
    atomic_fetch_add_explicit(&g_calls[group], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_total, 1, memory_order_relaxed);
    if (unknown_status(status)) {
        violation(call, line, "undocumented status %d", (int)status);
        return status;
    }
    if (status == FLOE_OK)
        return status;
    const char *message = floe_last_error_message();
    if (status == FLOE_ERR_PANIC && !strstr(message ? message : "", "by the fuzzer"))
        violation(call, line, "FLOE_ERR_PANIC (floe panicked): %s", message ? message : "(NULL)");
    if (message == NULL || message[0] == '\0')
        violation(call, line, "%s with an empty floe_last_error_message()", floe_status_name(status));
    if (floe_last_error_status() != status)
        violation(call, line, "returned %s but floe_last_error_status() is %s", floe_status_name(status),
                  floe_status_name(floe_last_error_status()));
    return status;
}

#define C(group, call)                                                                                  \
    (atomic_store_explicit(&g_current[t_check], #call, memory_order_relaxed),                               \
     checked((group), (call), #call, __LINE__))
#define EXPECT(cond, ...)                                                                                    \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            violation(#cond, __LINE__, __VA_ARGS__);                                                         \
    } while (0)

/* An out-parameter floe must leave alone on failure. */
#define SENTINEL ((uint64_t)0x5e57e1a1dead5e57ull)

/* ------------------------------------------------------------------------------------------ */
/* Randomness: one xorshift64* stream per thread                                              */

static atomic_ullong g_stream;
static _Thread_local uint64_t t_rng;

static uint64_t rnd64(void)
{
    if (t_rng == 0)
        t_rng = (g_seed ^ (0x9e3779b97f4a7c15ull * (atomic_fetch_add(&g_stream, 1) + 101))) | 1;
    t_rng ^= t_rng >> 12;
    t_rng ^= t_rng << 25;
    t_rng ^= t_rng >> 27;
    return t_rng * 0x2545f4914f6cdd1dull;
}
static uint32_t rnd(uint32_t n) { return n ? (uint32_t)(rnd64() % n) : 0; }
static bool chance(uint32_t percent) { return rnd(100) < percent; }

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Readable memory for garbage pointers: floe must never dereference a graph or shared-data pointer. */
static char g_garbage_area[4096];

static floe_ref garbage_handle(void)
{
    switch (rnd(4)) {
    case 0: return rnd64() | 1;
    case 1: return rnd64() | 0x8000000000000000ull;
    case 2: return (floe_ref)(uintptr_t)(g_garbage_area + rnd(sizeof g_garbage_area));
    default: return UINT64_MAX - rnd(16);
    }
}
static void *garbage_pointer(void) { return g_garbage_area + rnd(sizeof g_garbage_area - 16); }

/* ------------------------------------------------------------------------------------------ */
/* Types, globals, shared registries                                                          */

static floe_type g_node; /* Node, below */
enum { F_NAME, F_COUNT, F_NEXT, F_ITEMS, F_HITS, F_TOTAL, F_LATEST, F_RATIO, F_FLAG, NODE_FIELDS };
static const floe_field_def node_fields[NODE_FIELDS] = {
    {"name", FLOE_KIND_STRING},       {"count", FLOE_KIND_INT},        {"next", FLOE_KIND_REF},
    {"items", FLOE_KIND_REF},         {"hits", FLOE_KIND_ATOMIC_INT},  {"total", FLOE_KIND_ATOMIC_LONG},
    {"latest", FLOE_KIND_ATOMIC_REF}, {"ratio", FLOE_KIND_DOUBLE},     {"flag", FLOE_KIND_BOOL},
};

static size_t rnd_index(void)
{
    if (chance(85))
        return rnd(NODE_FIELDS + 1);
    return chance(50) ? (size_t)rnd64() : SIZE_MAX - rnd(3);
}

/* Globals: ids appended by floe_global_define (at start and at random); reset by main at the end. */
#define MAX_GLOBALS 32
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_globals[MAX_GLOBALS];
static uint32_t g_global_modes[MAX_GLOBALS];
static int g_nglobals;
static uint32_t g_alpha, g_beta;

/* Workers and pools: live ids and ids asked to terminate (stale). */
#define MAX_IDS 16
typedef struct idset {
    uint32_t live[MAX_IDS];
    int nlive;
    uint32_t dead[MAX_IDS];
    int ndead;
} idset;
static idset g_workers, g_pools;

static bool ids_pick(idset *set, bool live, uint32_t *out)
{
    pthread_mutex_lock(&g_reg_lock);
    int n = live ? set->nlive : set->ndead;
    bool ok = n > 0;
    if (ok)
        *out = live ? set->live[rnd(n)] : set->dead[rnd(n)];
    pthread_mutex_unlock(&g_reg_lock);
    return ok;
}
static int ids_live(idset *set)
{
    pthread_mutex_lock(&g_reg_lock);
    int n = set->nlive;
    pthread_mutex_unlock(&g_reg_lock);
    return n;
}
static void ids_add(idset *set, uint32_t id)
{
    pthread_mutex_lock(&g_reg_lock);
    if (set->nlive < MAX_IDS)
        set->live[set->nlive++] = id;
    pthread_mutex_unlock(&g_reg_lock);
}
/* Moves `id` from live to dead (it was asked to terminate); false when it was not live. */
static bool ids_kill(idset *set, uint32_t id)
{
    bool found = false;
    pthread_mutex_lock(&g_reg_lock);
    for (int i = 0; i < set->nlive; i++)
        if (set->live[i] == id) {
            set->live[i] = set->live[--set->nlive];
            found = true;
            break;
        }
    if (found) {
        if (set->ndead == MAX_IDS)
            memmove(set->dead, set->dead + 1, sizeof set->dead - sizeof set->dead[0]), set->ndead--;
        set->dead[set->ndead++] = id;
    }
    pthread_mutex_unlock(&g_reg_lock);
    return found;
}
static bool is_worker_id(uint32_t id)
{
    bool found = false;
    pthread_mutex_lock(&g_reg_lock);
    for (int i = 0; i < g_workers.nlive && !found; i++)
        found = g_workers.live[i] == id;
    for (int i = 0; i < g_workers.ndead && !found; i++)
        found = g_workers.dead[i] == id;
    pthread_mutex_unlock(&g_reg_lock);
    return found;
}

/* A worker, pool or view id to send work to: live, stale, the main queue, another kind, garbage. */
static uint32_t target_id(void)
{
    uint32_t id;
    switch (rnd(12)) {
    case 0: case 1: case 2: if (ids_pick(&g_workers, true, &id)) return id; break;
    case 3: case 4: case 5: if (ids_pick(&g_pools, true, &id)) return id; break;
    case 6: if (ids_pick(&g_workers, false, &id)) return id; break;
    case 7: if (ids_pick(&g_pools, false, &id)) return id; break;
    case 8: return FLOE_WORKER_MAIN;
    case 9: return g_node; /* a type id */
    case 10: return g_alpha; /* a global id */
    default: break;
    }
    return chance(50) ? (uint32_t)rnd64() : rnd(4);
}

/* Detached graphs in flight between threads (each attached or disposed once), and ended ones. */
#define MAX_GRAPHS 16
static pthread_mutex_t g_graph_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_graphs[MAX_GRAPHS];
static int g_ngraphs;
static void *g_dead_graphs[MAX_GRAPHS];
static int g_ndead_graphs, g_dead_graph_next;

/* Shared structs, used by every thread. */
#define N_SHARED 4
static floe_shared_data g_shared[N_SHARED];

static void wakeup_hook(void *user_data)
{
    (void)user_data;
    atomic_fetch_add(&g_wakeups, 1);
}
static int g_wakeup_data;

/* ------------------------------------------------------------------------------------------ */
/* Per-thread state of a host thread (main and host-1..4)                                      */

#define MAX_REFS 40
#define MAX_DEAD 24
#define MAX_FUTS 12
typedef struct host {
    int index;
    char name[24];
    floe_ref refs[MAX_REFS]; /* handles this thread owns */
    int nrefs;
    floe_ref dead[MAX_DEAD]; /* handles this thread released or gave away: never valid again */
    int ndead, dead_next;
    floe_future futs[MAX_FUTS]; /* futures this thread owns */
    int nfuts;
    floe_future dead_futs[MAX_DEAD];
    int ndead_futs, dead_futs_next;
    floe_shared_data mine; /* a struct of its own, copied and corrupted at will */
    /* What the other threads may use (never release or consume): a handle and a future of this
     * thread's, replaced only under the write lock. */
    pthread_rwlock_t exhibit_lock;
    floe_ref exhibit_ref;
    floe_future exhibit_fut;
    bool done;
} host;

static host g_hosts[N_HOST + 1];
static atomic_int g_hosts_done;

static void remember_dead(host *h, floe_ref value)
{
    h->dead[h->dead_next] = value;
    h->dead_next = (h->dead_next + 1) % MAX_DEAD;
    if (h->ndead < MAX_DEAD)
        h->ndead++;
}
static void remember_dead_fut(host *h, floe_future value)
{
    h->dead_futs[h->dead_futs_next] = value;
    h->dead_futs_next = (h->dead_futs_next + 1) % MAX_DEAD;
    if (h->ndead_futs < MAX_DEAD)
        h->ndead_futs++;
}

static floe_status release_ref(int group, floe_ref ref)
{
    return C(group, floe_ref_release(ref));
}

/* Takes handle i out of the pool (the caller now deals with it). */
static floe_ref take_ref(host *h, int i)
{
    floe_ref ref = h->refs[i];
    h->refs[i] = h->refs[--h->nrefs];
    return ref;
}
static void drop_ref(host *h, int i)
{
    floe_ref ref = take_ref(h, i);
    floe_status s = release_ref(G_REF, ref);
    EXPECT(s == FLOE_OK, "releasing a live handle of this thread's pool failed: %s", floe_last_error_message());
    remember_dead(h, ref);
}
static void add_ref(host *h, floe_ref ref)
{
    if (ref == 0)
        return;
    if (h->nrefs == MAX_REFS)
        drop_ref(h, (int)rnd(MAX_REFS));
    h->refs[h->nrefs++] = ref;
}
static void add_fut(host *h, floe_future fut)
{
    if (h->nfuts == MAX_FUTS) {
        int i = (int)rnd(MAX_FUTS);
        floe_future old = h->futs[i];
        EXPECT(C(G_FUTURE, floe_future_release(old)) == FLOE_OK, "releasing an owned future failed: %s",
               floe_last_error_message());
        remember_dead_fut(h, old);
        h->futs[i] = h->futs[--h->nfuts];
    }
    h->futs[h->nfuts++] = fut;
}

/* The kind of argument handed to a call. */
enum arg_kind { A_LIVE, A_STALE, A_GARBAGE, A_NULL, A_WRONG_KIND };

/* A handle argument of this thread's: live (index in *live_index), released, made up, 0 or a future. */
static floe_ref pick_ref(host *h, enum arg_kind *kind, int *live_index)
{
    *live_index = -1;
    uint32_t r = rnd(100);
    if (r < 70 && h->nrefs > 0) {
        *kind = A_LIVE;
        *live_index = (int)rnd(h->nrefs);
        return h->refs[*live_index];
    }
    if (r < 82 && h->ndead > 0) {
        *kind = A_STALE;
        return h->dead[rnd(h->ndead)];
    }
    if (r < 88 && h->nfuts > 0) {
        *kind = A_WRONG_KIND;
        return h->futs[rnd(h->nfuts)];
    }
    if (r < 92) {
        *kind = A_NULL;
        return 0;
    }
    *kind = A_GARBAGE;
    return garbage_handle();
}

/* A stale or made-up handle must never work. */
static void expect_refused(enum arg_kind kind, floe_status s, const char *call, int line)
{
    if ((kind == A_STALE || kind == A_GARBAGE || kind == A_WRONG_KIND) && s == FLOE_OK)
        violation(call, line, "a %s handle was accepted (FLOE_OK)",
                  kind == A_STALE ? "released" : kind == A_GARBAGE ? "made-up" : "wrong-kind");
}
#define REFUSED(kind, s, call) expect_refused((kind), (s), (call), __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* Graphs                                                                                     */

static const char *random_string(char *buf, size_t len)
{
    size_t n = rnd((uint32_t)len - 1);
    bool utf8 = chance(85);
    for (size_t i = 0; i < n; i++) {
        char c = utf8 ? (char)('a' + rnd(26)) : (char)(1 + rnd(255));
        buf[i] = c;
    }
    buf[n] = '\0';
    return buf;
}

/* A fresh graph on the calling thread: a Node with a list of items, sometimes a cycle. */
static floe_ref make_graph(int group)
{
    floe_ref node = 0, list = 0;
    if (C(group, floe_object_new(g_node, &node)) != FLOE_OK)
        return 0;
    C(group, floe_object_set_string(node, F_NAME, "node"));
    C(group, floe_object_set_int(node, F_COUNT, (int64_t)rnd64()));
    C(group, floe_object_set_double(node, F_RATIO, 0.5));
    if (chance(60) && C(G_LIST, floe_list_new(&list)) == FLOE_OK) {
        int n = (int)rnd(5);
        for (int i = 0; i < n; i++)
            C(G_LIST, floe_list_push_int(list, i));
        C(G_LIST, floe_list_push_string(list, "item"));
        if (chance(30))
            C(G_LIST, floe_list_push_ref(list, node)); /* a cycle node -> list -> node */
        C(group, floe_object_set_ref(node, F_ITEMS, list));
        C(G_REF, floe_ref_release(list));
    }
    if (chance(15))
        C(group, floe_object_set_ref(node, F_NEXT, node)); /* a self cycle */
    return node;
}

/* ------------------------------------------------------------------------------------------ */
/* Callbacks: jobs, producers, initialisers, outcome callbacks                                 */

static int32_t job_leaf(floe_ref input, floe_ref *out_result);
static int32_t job_main(floe_ref input, floe_ref *out_result);

static void outcome(floe_status status, floe_ref result, void *user_data)
{
    (void)user_data;
    atomic_fetch_add(&g_callbacks_run, 1);
    if (unknown_status(status) || (status == FLOE_ERR_PANIC && !strstr(floe_last_error_message(), "by the fuzzer")))
        violation("floe_outcome_fn", __LINE__, "outcome callback called with status %d (%s)", (int)status,
                  floe_status_name(status));
    if (status != FLOE_OK && floe_last_error_message()[0] == '\0')
        violation("floe_outcome_fn", __LINE__, "outcome callback with %s but an empty message",
                  floe_status_name(status));
    if (status != FLOE_OK && result != 0)
        violation("floe_outcome_fn", __LINE__, "outcome callback with %s and a result handle",
                  floe_status_name(status));
    if (result != 0)
        EXPECT(C(G_FUTURE, floe_ref_release(result)) == FLOE_OK, "the outcome's result could not be released: %s",
               floe_last_error_message());
}

static const int32_t junk_numbers[] = {-1, 36, 99, 101, 4242, 31337, INT32_MAX, INT32_MIN, -100};
static int32_t junk_number(void) { return junk_numbers[rnd(sizeof junk_numbers / sizeof junk_numbers[0])]; }
static int32_t random_error(void) { return chance(90) ? (int32_t)(1 + rnd(35)) : FLOE_ERR_PANIC; }

/* Fails a callback on purpose: with a floe status and a message, or a junk number. */
static int32_t fail_on_purpose(void)
{
    if (chance(50)) {
        int32_t status = random_error();
        C(G_ERROR, floe_last_error_set(status, "failed on purpose by the fuzzer"));
        return status;
    }
    return junk_number();
}

static int32_t producer(void *arg, floe_ref *out_root)
{
    host *h = arg; /* NULL when a job produces */
    atomic_fetch_add(&g_producers_run, 1);
    switch (rnd(10)) {
    case 0: *out_root = 0; return FLOE_OK;
    case 1:
        if (h && h->nrefs > 0) { /* a handle of the pool: floe owns it from here on */
            floe_ref ref = take_ref(h, (int)rnd(h->nrefs));
            remember_dead(h, ref);
            *out_root = ref;
            return FLOE_OK;
        }
        *out_root = make_graph(G_WORKER);
        return FLOE_OK;
    case 2: *out_root = make_graph(G_WORKER); return fail_on_purpose();
    case 3: return fail_on_purpose();
    case 4: *out_root = garbage_handle(); return FLOE_OK;
    default: *out_root = make_graph(G_WORKER); return FLOE_OK;
    }
}

static int32_t initializer(floe_ref *out_value)
{
    atomic_fetch_add(&g_inits_run, 1);
    switch (rnd(10)) {
    case 0: *out_value = 0; return FLOE_OK;
    case 1: *out_value = make_graph(G_GLOBAL); return fail_on_purpose();
    case 2: return fail_on_purpose();
    case 3: *out_value = garbage_handle(); return FLOE_OK;
    case 4: { /* reads another global */
        floe_ref v = 0;
        uint32_t g = 0;
        pthread_mutex_lock(&g_reg_lock);
        if (g_nglobals > 0)
            g = g_globals[rnd(g_nglobals)];
        pthread_mutex_unlock(&g_reg_lock);
        if (C(G_GLOBAL, floe_global_get(g, &v)) == FLOE_OK && v != 0)
            C(G_REF, floe_ref_release(v));
        *out_value = make_graph(G_GLOBAL);
        return FLOE_OK;
    }
    default: *out_value = make_graph(G_GLOBAL); return FLOE_OK;
    }
}
/* alpha and beta need each other: FLOE_ERR_CYCLIC_INIT, never a deadlock. */
static int32_t init_alpha(floe_ref *out_value)
{
    floe_ref v = 0;
    floe_status s = C(G_GLOBAL, floe_global_get(g_beta, &v));
    if (s == FLOE_OK) {
        if (v != 0)
            C(G_REF, floe_ref_release(v));
        violation("floe_global_get(beta) in alpha's initialiser", __LINE__, "a cyclic initialisation succeeded");
    }
    *out_value = 0;
    return s;
}
static int32_t init_beta(floe_ref *out_value)
{
    floe_ref v = 0;
    floe_status s = C(G_GLOBAL, floe_global_get(g_alpha, &v));
    if (s == FLOE_OK && v != 0)
        C(G_REF, floe_ref_release(v));
    *out_value = make_graph(G_GLOBAL);
    return s == FLOE_OK ? FLOE_OK : (chance(50) ? s : junk_number());
}

/* The exchange of detached graphs. */
static bool graph_put(void *graph)
{
    pthread_mutex_lock(&g_graph_lock);
    bool ok = g_ngraphs < MAX_GRAPHS;
    if (ok)
        g_graphs[g_ngraphs++] = graph;
    pthread_mutex_unlock(&g_graph_lock);
    return ok;
}
static void *graph_get(void)
{
    void *graph = NULL;
    pthread_mutex_lock(&g_graph_lock);
    if (g_ngraphs > 0) {
        int i = (int)rnd(g_ngraphs);
        graph = g_graphs[i];
        g_graphs[i] = g_graphs[--g_ngraphs];
    }
    pthread_mutex_unlock(&g_graph_lock);
    return graph;
}
static void graph_ended(void *graph)
{
    pthread_mutex_lock(&g_graph_lock);
    g_dead_graphs[g_dead_graph_next] = graph;
    g_dead_graph_next = (g_dead_graph_next + 1) % MAX_GRAPHS;
    if (g_ndead_graphs < MAX_GRAPHS)
        g_ndead_graphs++;
    pthread_mutex_unlock(&g_graph_lock);
}
static void *dead_graph(void)
{
    void *graph = NULL;
    pthread_mutex_lock(&g_graph_lock);
    if (g_ndead_graphs > 0)
        graph = g_dead_graphs[rnd(g_ndead_graphs)];
    pthread_mutex_unlock(&g_graph_lock);
    return graph;
}
/* Detaches `root` (consumed on success) and parks it in the exchange, or disposes of it. */
static floe_status detach_to_exchange(int group, floe_ref root, uint32_t mode)
{
    void *graph = (void *)(uintptr_t)SENTINEL;
    floe_status s = C(group, floe_object_detach(root, mode, &graph));
    if (s != FLOE_OK) {
        EXPECT(graph == (void *)(uintptr_t)SENTINEL, "floe_object_detach wrote *out_graph on failure");
        return s;
    }
    if (!graph_put(graph)) {
        EXPECT(C(group, floe_graph_dispose(graph)) == FLOE_OK, "disposing a fresh graph failed: %s",
               floe_last_error_message());
        graph_ended(graph);
    }
    return s;
}

static uint32_t random_global(void)
{
    uint32_t g = (uint32_t)rnd64();
    pthread_mutex_lock(&g_reg_lock);
    if (g_nglobals > 0 && chance(90))
        g = g_globals[rnd(g_nglobals)];
    pthread_mutex_unlock(&g_reg_lock);
    return g;
}

/* A job with no floe work of its own beyond its input: returns it, fails, or sleeps a little. */
static int32_t job_leaf(floe_ref input, floe_ref *out_result)
{
    atomic_fetch_add(&g_jobs_run, 1);
    switch (rnd(6)) {
    case 0:
        if (input)
            C(G_REF, floe_ref_release(input));
        return fail_on_purpose();
    case 1: *out_result = input; return fail_on_purpose(); /* floe releases the result */
    case 2: sleep_us(rnd(2000)); /* fallthrough */
    default: *out_result = input; return FLOE_OK;
    }
}

/* A job doing random things on its worker or pool thread. */
static int32_t job_main(floe_ref input, floe_ref *out_result)
{
    atomic_fetch_add(&g_jobs_run, 1);
    uint32_t self = 0;
    C(G_WORKER, floe_worker_current(&self));
    floe_ref result = input;
    switch (rnd(16)) {
    case 0: break;
    case 1:
        if (input)
            C(G_REF, floe_ref_release(input));
        result = make_graph(G_OBJECT);
        break;
    case 2: *out_result = input; return fail_on_purpose();
    case 3:
        if (input) {
            C(G_FREEZE, floe_object_freeze(input, chance(50) ? "job" : NULL));
            int64_t v;
            C(G_OBJECT, floe_object_get_int(input, rnd_index(), &v));
            C(G_ATOMIC, floe_object_atomic_add(input, F_HITS, 1, &v));
        }
        break;
    case 4: {
        floe_ref v = SENTINEL;
        floe_status s = C(G_GLOBAL, floe_global_get(random_global(), &v));
        if (s == FLOE_OK && v != 0)
            C(G_REF, floe_ref_release(v));
        if (s != FLOE_OK)
            EXPECT(v == SENTINEL, "floe_global_get wrote *out_value on failure");
        break;
    }
    case 5:
        /* A wait without timeout for a job in this worker's own queue can never end. */
        if (self != 0 && self != FLOE_WORKER_MAIN && is_worker_id(self)) {
            floe_future f = 0;
            if (C(G_WORKER, floe_worker_execute(self, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, job_leaf, &f)) == FLOE_OK) {
                floe_ref r = 0;
                floe_status s = C(G_FUTURE, floe_future_wait(f, -1, &r));
                /* Or cancelled: a termination without processing came in between. */
                if (s != FLOE_ERR_WOULD_DEADLOCK && s != FLOE_ERR_CANCELLED)
                    violation("floe_future_wait(own queue's job, -1)", __LINE__,
                              "a wait on the worker's own queue gave %s, not FLOE_ERR_WOULD_DEADLOCK",
                              floe_status_name(s));
                if (s == FLOE_OK && r)
                    C(G_REF, floe_ref_release(r));
                C(G_FUTURE, floe_future_release(f));
            }
        }
        break;
    case 6: {
        floe_future f = 0;
        uint32_t target = target_id();
        floe_status s = (target & 0x80000000u)
                            ? C(G_POOL, floe_pool_execute(target, FLOE_TRANSFER_MODE_SAFE, producer, NULL, job_leaf, &f))
                            : C(G_WORKER, floe_worker_execute(target, FLOE_TRANSFER_MODE_SAFE, producer, NULL, job_leaf, &f));
        if (s == FLOE_OK) {
            floe_ref r = 0;
            if (C(G_FUTURE, floe_future_wait(f, rnd(30), &r)) == FLOE_OK && r)
                C(G_REF, floe_ref_release(r));
            C(G_FUTURE, floe_future_release(f));
        }
        break;
    }
    case 7: {
        size_t ran = 0;
        C(G_WORKER, floe_worker_park(self, rnd(3), chance(50), &ran));
        C(G_WORKER, floe_worker_process_queue(chance(80) ? self : target_id(), &ran));
        break;
    }
    case 8:
        if (input && detach_to_exchange(G_TRANSFER, input, chance(70) ? FLOE_TRANSFER_MODE_SAFE
                                                                     : FLOE_TRANSFER_MODE_UNSAFE) == FLOE_OK)
            result = 0;
        break;
    case 9: {
        void *graph = graph_get();
        if (graph) {
            floe_ref root = 0;
            floe_status s = chance(70) ? C(G_TRANSFER, floe_graph_attach(graph, &root))
                                       : C(G_TRANSFER, floe_graph_dispose(graph));
            EXPECT(s == FLOE_OK, "a graph from the exchange could not be attached or disposed: %s",
                   floe_last_error_message());
            graph_ended(graph);
            if (root)
                C(G_REF, floe_ref_release(root));
        }
        break;
    }
    case 10: sleep_us(rnd(3000)); break;
    case 11:
        if (input)
            C(G_REF, floe_ref_release(input));
        *out_result = garbage_handle(); /* a made-up result: the future must fail, not crash */
        return FLOE_OK;
    case 12:
        if (self != 0 && self != FLOE_WORKER_MAIN && is_worker_id(self)) {
            floe_future f = 0;
            floe_ref frozen = 0;
            if (C(G_OBJECT, floe_object_new(g_node, &frozen)) == FLOE_OK) {
                C(G_FREEZE, floe_object_freeze(frozen, "delayed"));
                if (C(G_WORKER, floe_worker_execute_after(self, rnd(20), frozen, job_leaf, &f)) == FLOE_OK)
                    C(G_FUTURE, floe_future_release(f));
                C(G_REF, floe_ref_release(frozen));
            }
        }
        break;
    case 13: {
        floe_shared_data *d = &g_shared[rnd(N_SHARED)];
        int32_t version = 0;
        floe_ref root = 0;
        if (C(G_SHARED, floe_shared_data_read(d, &version, &root)) == FLOE_OK && root)
            C(G_REF, floe_ref_release(root));
        if (input && chance(40) && C(G_SHARED, floe_shared_data_put(d, input, FLOE_TRANSFER_MODE_SAFE)) == FLOE_OK)
            result = 0;
        break;
    }
    case 14: {
        floe_stats st;
        size_t freed;
        C(G_RUNTIME, floe_runtime_stats(&st));
        C(G_RUNTIME, floe_runtime_collect_cycles(&freed));
        size_t ran;
        floe_status drained = C(G_MAINQ, floe_main_queue_drain(4, &ran));
        EXPECT(self == FLOE_WORKER_MAIN || drained == FLOE_ERR_WRONG_THREAD,
               "floe_main_queue_drain on a worker thread was not FLOE_ERR_WRONG_THREAD");
        break;
    }
    default:
        if (input) {
            floe_future f = 0;
            bool frozen = false;
            C(G_FREEZE, floe_object_is_frozen(input, &frozen));
            if (frozen && C(G_WORKER, floe_worker_execute_after(target_id(), rnd(10), input, job_leaf, &f)) == FLOE_OK)
                C(G_FUTURE, floe_future_release(f));
        }
        break;
    }
    *out_result = result;
    return FLOE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The host threads' random calls                                                             */

/* The other host thread whose exhibit this call borrows (read-locked by the caller). */
static host *other_host(host *h)
{
    int i = (int)rnd(N_HOST + 1);
    return i == h->index ? NULL : &g_hosts[i];
}

/* Calls on another thread's exhibited handle: read-only, writes (wrong thread or frozen), retain
 * (a thread's own handle to a frozen object), use as a target. Never a release or a consuming call. */
static void use_exhibit(host *h)
{
    host *o = other_host(h);
    if (!o)
        return;
    pthread_rwlock_rdlock(&o->exhibit_lock);
    floe_ref x = o->exhibit_ref;
    floe_future xf = o->exhibit_fut;
    if (x) {
        int64_t v;
        bool b;
        uint32_t u;
        size_t n;
        floe_ref r = SENTINEL;
        floe_status s;
        switch (rnd(12)) {
        case 0: C(G_OBJECT, floe_object_get_int(x, F_COUNT, &v)); break;
        case 1: C(G_OBJECT, floe_object_set_int(x, F_COUNT, 7)); break;
        case 2: C(G_ATOMIC, floe_object_atomic_add(x, F_HITS, 1, &v)); break;
        case 3: C(G_ATOMIC, floe_object_atomic_compare_and_set(x, F_TOTAL, 0, 1, &b)); break;
        case 4:
            s = C(G_REF, floe_ref_retain(x, &r));
            if (s == FLOE_OK)
                add_ref(h, r);
            else
                EXPECT(r == SENTINEL, "floe_ref_retain wrote *out_ref on failure");
            break;
        case 5: C(G_OBJECT, floe_object_type(x, &u)); C(G_OBJECT, floe_object_id(x, &u)); break;
        case 6: C(G_FREEZE, floe_object_is_frozen(x, &b)); break;
        case 7:
            if (h->nrefs > 0)
                C(G_REF, floe_object_set_ref(h->refs[rnd(h->nrefs)], rnd_index(), x));
            break;
        case 8: C(G_FREEZE, floe_object_freeze(x, "other thread")); break;
        case 9:
            s = C(G_REF, floe_object_get_ref(x, chance(50) ? F_ITEMS : F_NEXT, &r));
            if (s == FLOE_OK)
                add_ref(h, r);
            break;
        case 10: C(G_OBJECT, floe_object_len(x, &n)); break;
        default:
            s = C(G_ATOMIC, floe_object_atomic_ref_get(x, F_LATEST, &r));
            if (s == FLOE_OK)
                add_ref(h, r);
            if (h->nrefs > 0)
                C(G_ATOMIC, floe_object_atomic_ref_set(x, F_LATEST, h->refs[rnd(h->nrefs)]));
            break;
        }
    }
    if (xf) {
        uint32_t state;
        floe_ref r = 0;
        switch (rnd(4)) {
        case 0: C(G_FUTURE, floe_future_get_state(xf, &state)); break;
        case 1:
            if (C(G_FUTURE, floe_future_wait(xf, rnd(3), &r)) == FLOE_OK)
                add_ref(h, r);
            break;
        case 2: C(G_FUTURE, floe_future_deliver(xf, target_id(), outcome, &g_wakeup_data)); break;
        default: {
            floe_future fs[2] = {xf, h->nfuts ? h->futs[0] : xf};
            size_t index;
            C(G_FUTURE, floe_future_wait_any(fs, 2, rnd(3), &index));
        }
        }
    }
    pthread_rwlock_unlock(&o->exhibit_lock);
}

static void replace_exhibit(host *h)
{
    pthread_rwlock_wrlock(&h->exhibit_lock);
    if (h->exhibit_ref) {
        EXPECT(C(G_REF, floe_ref_release(h->exhibit_ref)) == FLOE_OK, "releasing the exhibit failed: %s",
               floe_last_error_message());
        remember_dead(h, h->exhibit_ref);
        h->exhibit_ref = 0;
    }
    if (h->exhibit_fut) {
        EXPECT(C(G_FUTURE, floe_future_release(h->exhibit_fut)) == FLOE_OK, "releasing the exhibited future failed: %s",
               floe_last_error_message());
        remember_dead_fut(h, h->exhibit_fut);
        h->exhibit_fut = 0;
    }
    if (!atomic_load(&g_stop)) {
        if (h->nrefs > 0 && chance(80)) {
            floe_ref r = 0;
            if (C(G_REF, floe_ref_retain(h->refs[rnd(h->nrefs)], &r)) == FLOE_OK)
                h->exhibit_ref = r;
        }
        if (h->nfuts > 0 && chance(60)) {
            int i = (int)rnd(h->nfuts);
            h->exhibit_fut = h->futs[i];
            h->futs[i] = h->futs[--h->nfuts];
        }
    }
    pthread_rwlock_unlock(&h->exhibit_lock);
}

static uint32_t random_mode(void)
{
    switch (rnd(10)) {
    case 0: return 0;
    case 1: return (uint32_t)rnd64();
    case 2: case 3: case 4: return FLOE_TRANSFER_MODE_UNSAFE;
    default: return FLOE_TRANSFER_MODE_SAFE;
    }
}

static void op_objects(host *h)
{
    enum arg_kind kind;
    int li;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    int64_t v = 0;
    double d;
    bool b;
    uint32_t u;
    size_t n;
    switch (rnd(14)) {
    case 0: {
        floe_ref o = SENTINEL;
        floe_type ty = chance(85) ? g_node : chance(50) ? FLOE_TYPE_LIST : (floe_type)rnd64();
        s = C(G_OBJECT, floe_object_new(ty, &o));
        if (s == FLOE_OK)
            add_ref(h, o);
        else
            EXPECT(o == SENTINEL, "floe_object_new wrote *out_object on failure");
        break;
    }
    case 1: add_ref(h, make_graph(G_OBJECT)); break;
    case 2: s = C(G_OBJECT, floe_object_get_int(x, rnd_index(), &v)); REFUSED(kind, s, "floe_object_get_int"); break;
    case 3: s = C(G_OBJECT, floe_object_set_int(x, rnd_index(), (int64_t)rnd64())); REFUSED(kind, s, "floe_object_set_int"); break;
    case 4: s = C(G_OBJECT, floe_object_get_double(x, rnd_index(), &d)); REFUSED(kind, s, "floe_object_get_double"); break;
    case 5: s = C(G_OBJECT, floe_object_set_double(x, rnd_index(), 1.25)); REFUSED(kind, s, "floe_object_set_double"); break;
    case 6: s = C(G_OBJECT, floe_object_get_bool(x, rnd_index(), &b)); REFUSED(kind, s, "floe_object_get_bool"); break;
    case 7: s = C(G_OBJECT, floe_object_set_bool(x, rnd_index(), chance(50))); REFUSED(kind, s, "floe_object_set_bool"); break;
    case 8: s = C(G_OBJECT, floe_object_kind_at(x, rnd_index(), &u)); REFUSED(kind, s, "floe_object_kind_at"); break;
    case 9: s = C(G_OBJECT, floe_object_len(x, &n)); REFUSED(kind, s, "floe_object_len"); break;
    case 10: s = C(G_OBJECT, floe_object_type(x, &u)); REFUSED(kind, s, "floe_object_type"); break;
    case 11: s = C(G_OBJECT, floe_object_id(x, &u)); REFUSED(kind, s, "floe_object_id"); break;
    case 12: C(G_OBJECT, floe_object_get_int(x, 0, NULL)); break;
    default: C(G_OBJECT, floe_object_new(g_node, NULL)); break;
    }
}

static void op_lists(host *h)
{
    enum arg_kind kind;
    int li;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    char buf[24];
    switch (rnd(8)) {
    case 0: {
        floe_ref l = SENTINEL;
        if (C(G_LIST, floe_list_new(&l)) == FLOE_OK)
            add_ref(h, l);
        break;
    }
    case 1: s = C(G_LIST, floe_list_push_int(x, (int64_t)rnd64())); REFUSED(kind, s, "floe_list_push_int"); break;
    case 2: s = C(G_LIST, floe_list_push_double(x, -0.0)); REFUSED(kind, s, "floe_list_push_double"); break;
    case 3: s = C(G_LIST, floe_list_push_bool(x, true)); REFUSED(kind, s, "floe_list_push_bool"); break;
    case 4: s = C(G_LIST, floe_list_push_string(x, chance(90) ? random_string(buf, sizeof buf) : NULL)); REFUSED(kind, s, "floe_list_push_string"); break;
    default: {
        enum arg_kind k2;
        int l2;
        floe_ref t = pick_ref(h, &k2, &l2);
        s = C(G_LIST, floe_list_push_ref(x, t));
        REFUSED(kind, s, "floe_list_push_ref (list)");
        REFUSED(k2, s, "floe_list_push_ref (target)");
        break;
    }
    }
}

static void op_strings(host *h)
{
    enum arg_kind kind;
    int li;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    char buf[40];
    size_t len = SENTINEL;
    switch (rnd(4)) {
    case 0: s = C(G_STRING, floe_object_set_string(x, chance(80) ? F_NAME : rnd_index(), chance(95) ? random_string(buf, sizeof buf) : NULL)); REFUSED(kind, s, "floe_object_set_string"); break;
    case 1: s = C(G_STRING, floe_object_get_string_len(x, chance(80) ? F_NAME : rnd_index(), &len)); REFUSED(kind, s, "floe_object_get_string_len"); break;
    default: {
        size_t cap = rnd(sizeof buf + 1);
        s = C(G_STRING, floe_object_get_string(x, chance(80) ? F_NAME : rnd_index(), cap ? buf : (chance(50) ? NULL : buf), cap, &len));
        REFUSED(kind, s, "floe_object_get_string");
        if (s == FLOE_OK)
            EXPECT(len < cap && buf[len] == '\0', "floe_object_get_string: length %zu for a %zu-byte buffer", len, cap);
        else
            EXPECT(len == SENTINEL, "floe_object_get_string wrote *out_len on failure");
        break;
    }
    }
}

static void op_refs(host *h)
{
    enum arg_kind kind, k2;
    int li, l2;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    floe_ref r = SENTINEL;
    switch (rnd(8)) {
    case 0: case 1:
        s = C(G_REF, floe_ref_retain(x, &r));
        REFUSED(kind, s, "floe_ref_retain");
        if (s == FLOE_OK)
            add_ref(h, r);
        else
            EXPECT(r == SENTINEL, "floe_ref_retain wrote *out_ref on failure");
        break;
    case 2: case 3:
        s = C(G_REF, floe_ref_release(x));
        REFUSED(kind, s, "floe_ref_release");
        if (kind == A_LIVE) {
            EXPECT(s == FLOE_OK, "releasing a live handle of this thread failed: %s", floe_last_error_message());
            take_ref(h, li);
            remember_dead(h, x);
        } else if (kind == A_STALE)
            EXPECT(s == FLOE_ERR_DOUBLE_RELEASE || s == FLOE_ERR_RELEASED_HANDLE || s == FLOE_ERR_INVALID_HANDLE,
                   "releasing a released handle gave %s", floe_status_name(s));
        break;
    case 4: {
        floe_ref t = pick_ref(h, &k2, &l2);
        s = C(G_REF, floe_object_set_ref(x, chance(70) ? (chance(50) ? F_NEXT : F_ITEMS) : rnd_index(), t));
        REFUSED(kind, s, "floe_object_set_ref (object)");
        REFUSED(k2, s, "floe_object_set_ref (target)");
        break;
    }
    case 5: case 6:
        s = C(G_REF, floe_object_get_ref(x, chance(70) ? (chance(50) ? F_NEXT : F_ITEMS) : rnd_index(), &r));
        REFUSED(kind, s, "floe_object_get_ref");
        if (s == FLOE_OK)
            add_ref(h, r);
        else
            EXPECT(r == SENTINEL, "floe_object_get_ref wrote *out_ref on failure");
        break;
    default: C(G_REF, floe_ref_retain(x, NULL)); break;
    }
}

static void op_atomics(host *h)
{
    enum arg_kind kind, k2, k3;
    int li, l2, l3;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    int64_t v;
    bool b;
    floe_ref r = SENTINEL;
    size_t idx = chance(80) ? F_HITS + rnd(3) : rnd_index();
    switch (rnd(8)) {
    case 0: s = C(G_ATOMIC, floe_object_atomic_get(x, idx, &v)); break;
    case 1: s = C(G_ATOMIC, floe_object_atomic_set(x, idx, chance(70) ? rnd(100) : (int64_t)rnd64())); break;
    case 2: s = C(G_ATOMIC, floe_object_atomic_add(x, idx, (int64_t)rnd64(), &v)); break;
    case 3: s = C(G_ATOMIC, floe_object_atomic_compare_and_set(x, idx, rnd(3), rnd(3), &b)); break;
    case 4:
        s = C(G_ATOMIC, floe_object_atomic_ref_get(x, idx, &r));
        if (s == FLOE_OK)
            add_ref(h, r);
        else
            EXPECT(r == SENTINEL, "floe_object_atomic_ref_get wrote *out_ref on failure");
        break;
    case 5: case 6: {
        floe_ref t = chance(20) ? 0 : pick_ref(h, &k2, &l2);
        s = C(G_ATOMIC, floe_object_atomic_ref_set(x, idx, t));
        break;
    }
    default: {
        floe_ref e = chance(30) ? 0 : pick_ref(h, &k2, &l2);
        floe_ref n = chance(30) ? 0 : pick_ref(h, &k3, &l3);
        s = C(G_ATOMIC, floe_object_atomic_ref_compare_and_set(x, idx, e, n, &b));
        break;
    }
    }
    REFUSED(kind, s, "floe_object_atomic_*");
}

static void op_freeze(host *h)
{
    enum arg_kind kind;
    int li;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    bool b;
    char label[16];
    switch (rnd(5)) {
    case 0: case 1: s = C(G_FREEZE, floe_object_freeze(x, chance(70) ? random_string(label, sizeof label) : NULL)); break;
    case 2: s = C(G_FREEZE, floe_object_ensure_never_frozen(x)); break;
    case 3: s = C(G_FREEZE, floe_object_is_frozen(x, &b)); break;
    default: {
        /* A frozen graph for the other threads: freeze a fresh one and exhibit it. */
        floe_ref g = make_graph(G_OBJECT);
        if (g) {
            C(G_FREEZE, floe_object_freeze(g, "exhibit"));
            add_ref(h, g);
            replace_exhibit(h);
        }
        return;
    }
    }
    REFUSED(kind, s, "floe_object_freeze / ensure_never_frozen / is_frozen");
}

static void op_transfer(host *h)
{
    enum arg_kind kind;
    int li;
    floe_ref x = pick_ref(h, &kind, &li);
    floe_status s;
    switch (rnd(8)) {
    case 0: case 1: {
        s = detach_to_exchange(G_TRANSFER, x, random_mode());
        REFUSED(kind, s, "floe_object_detach");
        if (s == FLOE_OK && kind == A_LIVE) {
            take_ref(h, li);
            remember_dead(h, x);
        }
        break;
    }
    case 2: case 3: {
        void *graph = graph_get();
        if (!graph)
            break;
        floe_ref root = SENTINEL;
        s = chance(75) ? C(G_TRANSFER, floe_graph_attach(graph, &root)) : C(G_TRANSFER, floe_graph_dispose(graph));
        EXPECT(s == FLOE_OK, "attach or dispose of a graph from the exchange failed: %s", floe_last_error_message());
        graph_ended(graph);
        if (s == FLOE_OK && root != SENTINEL)
            add_ref(h, root);
        break;
    }
    case 4: {
        void *graph = dead_graph();
        if (!graph)
            break;
        floe_ref root = SENTINEL;
        s = chance(50) ? C(G_TRANSFER, floe_graph_attach(graph, &root)) : C(G_TRANSFER, floe_graph_dispose(graph));
        if (s == FLOE_OK)
            violation("floe_graph_attach/dispose(ended graph)", __LINE__, "an ended graph was accepted");
        EXPECT(root == SENTINEL, "floe_graph_attach wrote *out_root on failure");
        break;
    }
    case 5: {
        floe_ref root = SENTINEL;
        void *graph = chance(50) ? garbage_pointer() : (void *)(uintptr_t)garbage_handle();
        s = chance(50) ? C(G_TRANSFER, floe_graph_attach(graph, &root)) : C(G_TRANSFER, floe_graph_dispose(graph));
        if (s == FLOE_OK)
            violation("floe_graph_attach/dispose(garbage pointer)", __LINE__, "a made-up graph pointer was accepted");
        break;
    }
    case 6: C(G_TRANSFER, floe_graph_attach(NULL, NULL)); C(G_TRANSFER, floe_object_detach(x, FLOE_TRANSFER_MODE_SAFE, NULL)); break;
    default: {
        /* A handle given as a graph, and a graph as a handle. */
        void *graph = dead_graph();
        if (graph) {
            s = C(G_TRANSFER, floe_ref_retain((floe_ref)(uintptr_t)graph, &x));
            if (s == FLOE_OK)
                violation("floe_ref_retain(graph pointer)", __LINE__, "a graph pointer was accepted as a handle");
        }
        floe_ref root;
        if (h->nrefs > 0 && C(G_TRANSFER, floe_graph_attach((void *)(uintptr_t)h->refs[rnd(h->nrefs)], &root)) == FLOE_OK)
            violation("floe_graph_attach(handle)", __LINE__, "a handle was accepted as a graph");
        break;
    }
    }
}

static void op_workers(host *h)
{
    floe_status s;
    floe_future f = SENTINEL;
    char name[16];
    switch (rnd(12)) {
    case 0: {
        if (ids_live(&g_workers) >= 4)
            break;
        uint32_t w = 0;
        const char *n = chance(90) ? "fuzz-worker" : chance(50) ? NULL : random_string(name, sizeof name);
        if (C(G_WORKER, floe_worker_start(n, &w)) == FLOE_OK)
            ids_add(&g_workers, w);
        break;
    }
    case 1: {
        uint32_t w = target_id();
        s = C(G_WORKER, floe_worker_request_termination(w, chance(50), &f));
        if (s == FLOE_OK) {
            ids_kill(&g_workers, w);
            ids_kill(&g_pools, w);
            add_fut(h, f);
        } else
            EXPECT(f == SENTINEL, "floe_worker_request_termination wrote *out_future on failure");
        break;
    }
    case 2: case 3: case 4: case 5: {
        uint32_t w = target_id();
        s = C(G_WORKER, floe_worker_execute(w, random_mode(), chance(90) ? producer : NULL, h,
                                            chance(95) ? (chance(70) ? job_main : job_leaf) : NULL, &f));
        if (s == FLOE_OK)
            add_fut(h, f);
        else
            EXPECT(f == SENTINEL, "floe_worker_execute wrote *out_future on failure");
        break;
    }
    case 6: case 7: {
        enum arg_kind kind;
        int li;
        floe_ref in = chance(30) ? 0 : pick_ref(h, &kind, &li);
        uint64_t delay = chance(95) ? rnd(150) : (chance(50) ? UINT64_MAX : (uint64_t)INT64_MAX + 1 + rnd(10));
        s = C(G_WORKER, floe_worker_execute_after(target_id(), delay, in, chance(50) ? job_main : job_leaf, &f));
        if (s == FLOE_OK)
            add_fut(h, f);
        break;
    }
    case 8: {
        uint32_t w = SENTINEL & 0xffffffff;
        C(G_WORKER, floe_worker_current(&w));
        EXPECT(w == (h->index == 0 ? FLOE_WORKER_MAIN : 0), "floe_worker_current gave %u on host thread %s", w, h->name);
        break;
    }
    case 9: {
        size_t ran;
        s = C(G_WORKER, floe_worker_process_queue(target_id(), &ran));
        EXPECT(s != FLOE_OK || h->index == 0, "floe_worker_process_queue worked on a host thread");
        s = C(G_WORKER, floe_worker_park(target_id(), rnd(2), chance(50), &ran));
        break;
    }
    case 10: C(G_WORKER, floe_worker_execute(target_id(), FLOE_TRANSFER_MODE_SAFE, NULL, NULL, job_leaf, NULL)); break;
    default: C(G_WORKER, floe_worker_start("x", NULL)); break;
    }
}

static void op_pools(host *h)
{
    floe_status s;
    floe_future f = SENTINEL;
    uint32_t id = 0;
    switch (rnd(8)) {
    case 0:
        if (ids_live(&g_pools) >= 4)
            break;
        if (C(G_POOL, floe_pool_start(chance(90) ? "fuzz-pool" : NULL, chance(90) ? 1 + rnd(2) : 0, &id)) == FLOE_OK)
            ids_add(&g_pools, id);
        break;
    case 1: {
        uint32_t p = target_id();
        if (C(G_POOL, floe_pool_limited_parallelism(p, rnd(3), &id)) == FLOE_OK)
            ids_add(&g_pools, id);
        break;
    }
    case 2: {
        uint32_t p = target_id();
        s = C(G_POOL, floe_pool_request_termination(p, chance(50), &f));
        if (s == FLOE_OK) {
            ids_kill(&g_pools, p);
            add_fut(h, f);
        } else
            EXPECT(f == SENTINEL, "floe_pool_request_termination wrote *out_future on failure");
        break;
    }
    default:
        s = C(G_POOL, floe_pool_execute(target_id(), random_mode(), chance(90) ? producer : NULL, h,
                                        chance(95) ? (chance(70) ? job_main : job_leaf) : NULL, &f));
        if (s == FLOE_OK)
            add_fut(h, f);
        else
            EXPECT(f == SENTINEL, "floe_pool_execute wrote *out_future on failure");
        break;
    }
}

static floe_future pick_future(host *h, bool *own, int *index)
{
    *own = false;
    *index = -1;
    uint32_t r = rnd(100);
    if (r < 75 && h->nfuts > 0) {
        *own = true;
        *index = (int)rnd(h->nfuts);
        return h->futs[*index];
    }
    if (r < 87 && h->ndead_futs > 0)
        return h->dead_futs[rnd(h->ndead_futs)];
    if (r < 92 && h->nrefs > 0)
        return h->refs[rnd(h->nrefs)]; /* a handle as a future */
    return chance(20) ? 0 : garbage_handle();
}

static void op_futures(host *h)
{
    bool own;
    int i;
    floe_future f = pick_future(h, &own, &i);
    floe_status s;
    uint32_t which = rnd(10);
    floe_ref r = SENTINEL;
    uint32_t state;
    switch (which) {
    case 0: s = C(G_FUTURE, floe_future_get_state(f, &state)); break;
    case 1: case 2: {
        /* Without timeout only on an own future; the main queue's own jobs must be refused. */
        int64_t timeout = own && chance(15) ? -1 : (int64_t)rnd(15);
        s = C(G_FUTURE, floe_future_wait(f, timeout, &r));
        if (s == FLOE_OK)
            add_ref(h, r);
        else
            EXPECT(r == SENTINEL, "floe_future_wait wrote *out_result on failure");
        break;
    }
    case 3: s = C(G_FUTURE, floe_future_consume(f, rnd(10), chance(95) ? outcome : NULL, NULL)); break;
    case 4: case 5: s = C(G_FUTURE, floe_future_deliver(f, target_id(), chance(95) ? outcome : NULL, &g_wakeup_data)); break;
    case 6: {
        floe_future fs[6];
        size_t n = 0, index = SENTINEL;
        for (int k = 0; k < h->nfuts && n < 4; k++)
            fs[n++] = h->futs[k];
        if (chance(30))
            fs[n++] = garbage_handle();
        if (chance(30) && h->ndead_futs)
            fs[n++] = h->dead_futs[0];
        s = C(G_FUTURE, floe_future_wait_any(chance(95) ? fs : NULL, chance(95) ? n : 0, rnd(10), &index));
        if (s == FLOE_OK)
            EXPECT(index < n, "floe_future_wait_any gave index %zu of %zu", index, n);
        break;
    }
    case 7: case 8:
        s = C(G_FUTURE, floe_future_release(f));
        if (own) {
            EXPECT(s == FLOE_OK, "releasing an own future failed: %s", floe_last_error_message());
            h->futs[i] = h->futs[--h->nfuts];
            remember_dead_fut(h, f);
        }
        break;
    default: replace_exhibit(h); return;
    }
    if (which != 6 && !own && f != 0 && s == FLOE_OK) /* a released, made-up or wrong-kind future must never work */
        violation("floe_future_* on a released, made-up or wrong-kind future", __LINE__,
                  "future 0x%" PRIx64 " accepted (FLOE_OK) by operation %u", f, which);
}

static void op_globals(host *h)
{
    floe_status s;
    floe_ref v = SENTINEL;
    switch (rnd(8)) {
    case 0: {
        pthread_mutex_lock(&g_reg_lock);
        bool room = g_nglobals < MAX_GLOBALS - 1;
        pthread_mutex_unlock(&g_reg_lock);
        if (!room)
            break;
        char name[24];
        snprintf(name, sizeof name, "g%u", (unsigned)rnd(64)); /* duplicates sometimes */
        uint32_t mode = chance(90) ? 1 + rnd(3) : (uint32_t)rnd64();
        uint32_t id = 0;
        s = C(G_GLOBAL, floe_global_define(chance(95) ? name : (chance(50) ? "" : NULL), mode,
                                           chance(95) ? initializer : NULL, &id));
        if (s == FLOE_OK) {
            pthread_mutex_lock(&g_reg_lock);
            g_global_modes[g_nglobals] = mode;
            g_globals[g_nglobals++] = id;
            pthread_mutex_unlock(&g_reg_lock);
        }
        break;
    }
    case 1: case 2: case 3: case 4: {
        uint32_t g = random_global();
        s = C(G_GLOBAL, floe_global_get(chance(95) ? g : target_id(), &v));
        if (s == FLOE_OK)
            add_ref(h, v);
        else
            EXPECT(v == SENTINEL, "floe_global_get wrote *out_value on failure");
        if (g == g_alpha || g == g_beta)
            EXPECT(s != FLOE_OK, "a global whose initialiser needs the other's (alpha and beta) gave FLOE_OK");
        break;
    }
    case 5: C(G_GLOBAL, floe_global_reset(chance(95) ? random_global() : target_id())); break;
    default: C(G_GLOBAL, floe_global_get(random_global(), NULL)); break;
    }
}

static void op_shared(host *h)
{
    floe_shared_data *d;
    floe_shared_data scratch;
    bool on_scratch = false;
    switch (rnd(5)) {
    case 0: d = &h->mine; break;
    case 1: /* A copy, maybe corrupted: floe must refuse what it does not recognise. */
        scratch = h->mine;
        switch (rnd(4)) {
        case 0: scratch.version = (int32_t)rnd64(); break;
        case 1: scratch.object = garbage_pointer(); break;
        case 2: scratch.object = (void *)(uintptr_t)garbage_handle(); break;
        default: break; /* an exact copy */
        }
        d = &scratch;
        on_scratch = true;
        break;
    case 2: d = chance(97) ? &g_shared[rnd(N_SHARED)] : NULL; break;
    default: d = &g_shared[rnd(N_SHARED)]; break;
    }
    enum arg_kind kind;
    int li;
    floe_ref x = chance(15) ? 0 : pick_ref(h, &kind, &li);
    if (x == 0)
        kind = A_NULL;
    floe_status s;
    int32_t version = (int32_t)0x5e57;
    floe_ref r = SENTINEL;
    bool changed = false;
    switch (rnd(6)) {
    case 0: case 1:
        s = C(G_SHARED, floe_shared_data_read(d, &version, &r));
        if (s == FLOE_OK)
            add_ref(h, r);
        else
            EXPECT(r == SENTINEL && version == 0x5e57, "floe_shared_data_read wrote an out-parameter on failure");
        break;
    case 2:
        s = C(G_SHARED, floe_shared_data_publish(d, x));
        REFUSED(kind, s, "floe_shared_data_publish");
        changed = s == FLOE_OK;
        break;
    case 3: {
        s = C(G_SHARED, floe_shared_data_put(d, x, random_mode()));
        REFUSED(kind, s, "floe_shared_data_put");
        if (s == FLOE_OK && kind == A_LIVE) {
            take_ref(h, li);
            remember_dead(h, x);
        }
        changed = s == FLOE_OK;
        break;
    }
    default:
        s = C(G_SHARED, floe_shared_data_take(d, &r));
        if (s == FLOE_OK)
            add_ref(h, r);
        changed = s == FLOE_OK;
        break;
    }
    if (on_scratch && changed)
        h->mine = scratch; /* the copy holds the value now; the original reads as corrupt */
}

static void op_types(host *h)
{
    (void)h;
    char name[16];
    floe_field_def fields[3];
    size_t n = rnd(4);
    char fnames[3][8];
    for (size_t i = 0; i < n && i < 3; i++) {
        snprintf(fnames[i], sizeof fnames[i], "f%u", (unsigned)rnd(3)); /* duplicates sometimes */
        fields[i].name = chance(95) ? fnames[i] : (chance(50) ? "" : NULL);
        fields[i].kind = chance(90) ? 1 + rnd(8) : (uint32_t)rnd64();
    }
    floe_type ty = 0;
    size_t index;
    switch (rnd(4)) {
    case 0:
        snprintf(name, sizeof name, "T%u", (unsigned)rnd(400)); /* duplicates more and more often */
        C(G_TYPE, floe_type_define(chance(95) ? name : "", chance(95) ? fields : NULL, n > 3 ? 3 : n, &ty));
        break;
    case 1: C(G_TYPE, floe_type_define("Tnull", NULL, 2, &ty)); break;
    default:
        C(G_TYPE, floe_type_field_index(chance(70) ? g_node : chance(50) ? FLOE_TYPE_LIST : (floe_type)rnd64(),
                                        chance(50) ? node_fields[rnd(NODE_FIELDS)].name : (chance(90) ? "nope" : NULL),
                                        &index));
        break;
    }
}

static void op_runtime(host *h)
{
    floe_stats st;
    size_t n;
    floe_status s;
    switch (rnd(6)) {
    case 0: C(G_RUNTIME, floe_runtime_stats(&st)); break;
    case 1: C(G_RUNTIME, floe_runtime_collect_cycles(&n)); break;
    case 2:
        s = C(G_RUNTIME, floe_runtime_init());
        EXPECT(s == (h->index == 0 ? FLOE_OK : FLOE_ERR_ALREADY_INITIALIZED), "floe_runtime_init on %s gave %s", h->name,
               floe_status_name(s));
        break;
    case 3: C(G_RUNTIME, floe_runtime_stats(NULL)); break;
    case 4: C(G_MAINQ, floe_main_queue_set_wakeup(chance(80) ? wakeup_hook : NULL, &g_wakeup_data)); break;
    default: {
        size_t ran;
        s = chance(50) ? C(G_MAINQ, floe_main_queue_drain(rnd(8), &ran)) : C(G_MAINQ, floe_main_queue_park(rnd(2), chance(50), &ran));
        if (h->index != 0)
            EXPECT(s == FLOE_ERR_WRONG_THREAD, "the main queue's drain or park on %s gave %s", h->name, floe_status_name(s));
        break;
    }
    }
}

static void op_errors(host *h)
{
    (void)h;
    uint32_t which = rnd(5);
    if (which != 0) { /* the calls that return no status, counted here */
        atomic_fetch_add(&g_calls[G_ERROR], 1);
        atomic_fetch_add(&g_total, 1);
    }
    switch (which) {
    case 0: {
        int32_t status = chance(70) ? random_error() : (chance(50) ? 0 : junk_number());
        floe_status s = C(G_ERROR, floe_last_error_set(status, chance(90) ? "set by the fuzzer" : NULL));
        if (status == FLOE_OK || unknown_status(status))
            EXPECT(s != FLOE_OK, "floe_last_error_set(%d) was accepted", status);
        break;
    }
    case 1: EXPECT(floe_last_error_message() != NULL, "floe_last_error_message() is NULL"); break;
    case 2: EXPECT(!unknown_status(floe_last_error_status()), "floe_last_error_status() is undocumented"); break;
    case 3: EXPECT(floe_status_name(chance(50) ? (int32_t)rnd(40) : (int32_t)rnd64()) != NULL, "floe_status_name gave NULL"); break;
    default: {
        char header[32];
        snprintf(header, sizeof header, "%d.%d.%d", FLOE_VERSION_MAJOR, FLOE_VERSION_MINOR, FLOE_VERSION_PATCH);
        EXPECT(strncmp(floe_version(), header, strlen(header)) == 0, "floe_version() is %s, the header %s", floe_version(), header);
        break;
    }
    }
}

typedef void (*op_fn)(host *);
static const struct {
    op_fn fn;
    int weight;
} ops[] = {
    {op_objects, 14}, {op_lists, 5}, {op_strings, 5}, {op_refs, 12},  {op_atomics, 6},  {op_freeze, 6},
    {op_transfer, 7}, {op_workers, 8}, {op_futures, 9}, {op_pools, 4}, {op_globals, 4}, {op_shared, 6},
    {op_types, 1},    {op_runtime, 3}, {op_errors, 3},
};

static void host_step(host *h)
{
    if (chance(6)) {
        use_exhibit(h);
        return;
    }
    int total = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        total += ops[i].weight;
    int r = (int)rnd((uint32_t)total);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (r < ops[i].weight) {
            ops[i].fn(h);
            return;
        }
        r -= ops[i].weight;
    }
}

/* Releases everything a host thread owns. */
static void host_cleanup(host *h)
{
    atomic_store(&g_stop, true);
    replace_exhibit(h); /* empties it: g_stop is set */
    while (h->nrefs > 0)
        drop_ref(h, h->nrefs - 1);
    while (h->nfuts > 0) {
        floe_future f = h->futs[--h->nfuts];
        EXPECT(C(G_FUTURE, floe_future_release(f)) == FLOE_OK, "releasing an own future failed: %s",
               floe_last_error_message());
    }
    floe_ref r = 0;
    if (h->mine.object) {
        /* It holds a put graph or a published value (or a value the copy took away: corrupt). */
        if (C(G_SHARED, floe_shared_data_take(&h->mine, &r)) == FLOE_OK && r)
            C(G_REF, floe_ref_release(r));
        if (h->mine.object)
            C(G_SHARED, floe_shared_data_publish(&h->mine, 0));
    }
}

static bool time_up(double deadline)
{
    return atomic_load(&g_stop) || now_s() >= deadline || atomic_load(&g_total) >= g_budget;
}

static double g_deadline;

static void *host_thread(void *arg)
{
    host *h = arg;
    t_check = h->index;
    t_name = h->name;
    pthread_setname_np(pthread_self(), h->name);
    while (!time_up(g_deadline))
        host_step(h);
    host_cleanup(h);
    atomic_fetch_add(&g_hosts_done, 1);
    return NULL;
}

/* Fails a run in which no call completed for a minute, naming each thread's last call. */
static void *watchdog(void *arg)
{
    (void)arg;
    unsigned long long last = 0;
    int still = 0;
    for (;;) {
        sleep(1);
        unsigned long long now = atomic_load(&g_total);
        still = now == last ? still + 1 : 0;
        last = now;
        if (still >= 60) {
            printf("HANG (seed %" PRIu64 "): no floe call completed for 60 s; the calls under way:\n", g_seed);
            for (int i = 0; i < N_THREAD_CHECKS; i++)
                printf("    %s: %s\n", i == 0 ? "main" : i <= N_HOST ? g_hosts[i].name : "a job or callback",
                       atomic_load(&g_current[i]) ? atomic_load(&g_current[i]) : "-");
            printf("0 passed, 1 failed\n");
            fflush(stdout);
            _exit(3);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void define_globals(void)
{
    static const struct {
        const char *name;
        uint32_t mode;
    } defs[] = {
        {"main_only", FLOE_GLOBAL_MODE_MAIN_THREAD_ONLY},
        {"per_thread", FLOE_GLOBAL_MODE_THREAD_LOCAL},
        {"shared", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        uint32_t id = 0;
        if (C(G_GLOBAL, floe_global_define(defs[i].name, defs[i].mode, initializer, &id)) == FLOE_OK) {
            g_global_modes[g_nglobals] = defs[i].mode;
            g_globals[g_nglobals++] = id;
        }
    }
    C(G_GLOBAL, floe_global_define("alpha", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE, init_alpha, &g_alpha));
    C(G_GLOBAL, floe_global_define("beta", FLOE_GLOBAL_MODE_THREAD_LOCAL, init_beta, &g_beta));
    g_global_modes[g_nglobals] = FLOE_GLOBAL_MODE_SHARED_IMMUTABLE;
    g_globals[g_nglobals++] = g_alpha;
    g_global_modes[g_nglobals] = FLOE_GLOBAL_MODE_THREAD_LOCAL;
    g_globals[g_nglobals++] = g_beta;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--seed S] [--seconds N] [--calls BUDGET]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    g_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage(argv[0]);
        if (strcmp(argv[i], "--seed") == 0)
            g_seed = strtoull(argv[++i], NULL, 0);
        else if (strcmp(argv[i], "--seconds") == 0)
            g_seconds = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--calls") == 0)
            g_budget = strtoull(argv[++i], NULL, 0);
        else
            usage(argv[0]);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("abi_fuzz: seed %" PRIu64 ", %.0f s, call budget %s, floe %s\n", g_seed, g_seconds,
           g_budget == UINT64_MAX ? "none" : "set", floe_version());
    if (g_budget != UINT64_MAX)
        printf("abi_fuzz: call budget %" PRIu64 "\n", g_budget);

    t_check = 0;
    t_name = "main";
    host *m = &g_hosts[0];
    m->index = 0;
    snprintf(m->name, sizeof m->name, "main");
    EXPECT(C(G_RUNTIME, floe_runtime_init()) == FLOE_OK, "floe_runtime_init failed: %s", floe_last_error_message());
    EXPECT(C(G_TYPE, floe_type_define("Node", node_fields, NODE_FIELDS, &g_node)) == FLOE_OK, "Node: %s",
           floe_last_error_message());
    define_globals();
    C(G_MAINQ, floe_main_queue_set_wakeup(wakeup_hook, &g_wakeup_data));

    pthread_t dog;
    pthread_create(&dog, NULL, watchdog, NULL);
    pthread_detach(dog);

    for (int i = 0; i <= N_HOST; i++)
        pthread_rwlock_init(&g_hosts[i].exhibit_lock, NULL);
    g_deadline = now_s() + g_seconds;
    pthread_t threads[N_HOST + 1];
    for (int i = 1; i <= N_HOST; i++) {
        g_hosts[i].index = i;
        snprintf(g_hosts[i].name, sizeof g_hosts[i].name, "host-%d", i);
        pthread_create(&threads[i], NULL, host_thread, &g_hosts[i]);
    }

    /* The main thread's own random calls, draining the main queue in between. */
    size_t ran;
    while (!time_up(g_deadline)) {
        host_step(m);
        if (chance(30)) {
            if (chance(70))
                C(G_MAINQ, floe_main_queue_drain(1 + rnd(16), &ran));
            else
                C(G_MAINQ, floe_main_queue_park(rnd(3), chance(70), &ran));
        }
    }
    atomic_store(&g_stop, true);
    /* Keep draining while the host threads finish (they may wait on main-queue jobs). */
    while (atomic_load(&g_hosts_done) < N_HOST)
        C(G_MAINQ, floe_main_queue_park(5, true, &ran));
    for (int i = 1; i <= N_HOST; i++)
        pthread_join(threads[i], NULL);
    host_cleanup(m);

    /* Terminate every worker and pool, cancelling what is queued, and wait for their threads. */
    C(G_MAINQ, floe_main_queue_set_wakeup(NULL, NULL));
    for (idset *set = &g_workers;; set = &g_pools) {
        uint32_t id;
        while (ids_pick(set, true, &id)) {
            floe_future f = 0;
            floe_status s = set == &g_pools ? C(G_POOL, floe_pool_request_termination(id, false, &f))
                                            : C(G_WORKER, floe_worker_request_termination(id, false, &f));
            ids_kill(set, id);
            if (s == FLOE_OK) {
                floe_ref r = 0;
                /* The future completes once the thread exited: drain meanwhile (deliveries to main). */
                while ((s = C(G_FUTURE, floe_future_wait(f, 5, &r))) == FLOE_ERR_TIMEOUT)
                    C(G_MAINQ, floe_main_queue_drain(64, &ran));
                if (r)
                    C(G_REF, floe_ref_release(r));
                C(G_FUTURE, floe_future_release(f));
            }
        }
        if (set == &g_pools)
            break;
    }
    /* Delayed main-queue jobs fall due within 150 ms: drain until nothing came for 400 ms. */
    for (double quiet = now_s() + 0.4; now_s() < quiet;)
        if (C(G_MAINQ, floe_main_queue_park(50, true, &ran)) == FLOE_OK && ran > 0)
            quiet = now_s() + 0.4;
    /* What is left in the shared structs, the exchange, the globals. */
    for (int i = 0; i < N_SHARED; i++) {
        floe_ref r = 0;
        if (C(G_SHARED, floe_shared_data_take(&g_shared[i], &r)) == FLOE_OK && r)
            C(G_REF, floe_ref_release(r));
        C(G_SHARED, floe_shared_data_publish(&g_shared[i], 0));
    }
    for (void *graph; (graph = graph_get()) != NULL;)
        EXPECT(C(G_TRANSFER, floe_graph_dispose(graph)) == FLOE_OK, "disposing a left graph failed: %s",
               floe_last_error_message());
    for (int i = 0; i < g_nglobals; i++)
        C(G_GLOBAL, floe_global_reset(g_globals[i]));
    size_t freed;
    C(G_RUNTIME, floe_runtime_collect_cycles(&freed));

    floe_shutdown_report report;
    memset(&report, 0, sizeof report);
    floe_status s = C(G_RUNTIME, floe_runtime_shutdown(false, 10000, &report));
    int shutdown_ok = s == FLOE_OK && report.workers_unfinished == 0;
    floe_stats st;
    memset(&st, 0xff, sizeof st);
    C(G_RUNTIME, floe_runtime_stats(&st));
    int leaks_ok = st.live_objects == 0 && st.frozen_objects == 0 && st.live_handles == 0 && st.detached_graphs == 0;

    printf("calls by group:");
    for (int g = 0; g < G_COUNT; g++)
        printf(" %s %llu%s", group_names[g], (unsigned long long)atomic_load(&g_calls[g]), g + 1 < G_COUNT ? "," : "\n");
    printf("calls: %llu in total; jobs run %llu, outcome callbacks %llu, initialisers %llu, producers %llu, wake-ups %llu\n",
           (unsigned long long)atomic_load(&g_total), (unsigned long long)atomic_load(&g_jobs_run),
           (unsigned long long)atomic_load(&g_callbacks_run), (unsigned long long)atomic_load(&g_inits_run),
           (unsigned long long)atomic_load(&g_producers_run), (unsigned long long)atomic_load(&g_wakeups));
    printf("shutdown: %s, workers_stopped %u, workers_unfinished %u\n", floe_status_name(s), report.workers_stopped,
           report.workers_unfinished);
    printf("floe_runtime_stats: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64
           ", detached_graphs %" PRIu64 "\n",
           st.live_objects, st.frozen_objects, st.live_handles, st.detached_graphs);

    int passed = 0, failed = 0;
    for (int i = 0; i < N_THREAD_CHECKS; i++) {
        int v = atomic_load(&g_violations[i]);
        const char *who = i == 0 ? "main" : i <= N_HOST ? g_hosts[i].name : "jobs and callbacks";
        if (v == 0)
            passed++, printf("ok: %s: every call's status documented and as promised\n", who);
        else
            failed++, printf("FAIL: %s: %d violations\n", who, v);
    }
    if (shutdown_ok)
        passed++, printf("ok: floe_runtime_shutdown stopped every worker\n");
    else
        failed++, printf("FAIL: floe_runtime_shutdown: %s, %u workers unfinished\n", floe_status_name(s),
                         report.workers_unfinished);
    if (leaks_ok)
        passed++, printf("ok: floe_runtime_stats all zero after shutdown: nothing leaked\n");
    else
        failed++, printf("FAIL: leak: floe_runtime_stats not zero after shutdown (seed %" PRIu64 ")\n", g_seed);
    printf("seed %" PRIu64 "\n", g_seed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
