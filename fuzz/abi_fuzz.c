/*
 * abi_fuzz.c — a multi-threaded random-call fuzzer over the whole C ABI of floe.
 *
 *   abi_fuzz [--seed S] [--seconds N] [--calls BUDGET] [--scribble none|data|control]
 *
 * The main thread initialises floe and drains the main queue between its own random calls; four
 * host threads make random calls over every entry point with valid, stale, released, other-thread,
 * wrong-kind and garbage arguments; jobs (C functions) do random things on their workers and pools,
 * initialisers and producers fail at random or return junk numbers. The fuzzer keeps the header's
 * contract — each thread releases only its own handles (the other threads use a thread's handles
 * only under a read lock that the owner takes for writing before it releases them), and every
 * pointer argument is NULL or valid — and breaks every rule floe promises to check.
 *
 * Segments: a few named segments of this process (abi-fuzz-<pid>-<k>, unlinked at the end),
 * created, opened (once, twice, missing, refused names), closed (twice: FLOE_ERR_RELEASED_HANDLE),
 * unlinked and created again; made-up segment pointers (FLOE_ERR_INVALID_HANDLE); publishes of
 * frozen graphs of random shape, of the pool's graphs (mutable: FLOE_ERR_NOT_FROZEN; read in
 * place: FLOE_ERR_INVALID_ARGUMENT) and to slots out of range; unpublish, change counts, waits for
 * one slot or several of at most 3 ms, verify, inspect, recover, slot names, copies and reads in
 * place; version blocks outside segments, encoded, decoded, and decoded with bytes changed (never
 * accepted). The handles floe_segment_read gives join the thread's pool, so every object call
 * meets them (a write is FLOE_ERR_FROZEN; a call that needs a heap object refuses them), jobs,
 * producers and initialisers hand them to floe (which must release them), and they are walked
 * object by object. make_shape's objects check themselves, so a value read in place that its
 * publisher did not write is caught. A scribbler thread writes bytes with pwrite into the
 * segments' files from a random moment on (--scribble data, the default: into their data pages,
 * mostly into the versions the slots reference; control: into the header, slots, writer record,
 * reader table and page map too, where the only promise left is a documented status — never a
 * crash, a hang or a panic). Until its first write no call may report a damaged version.
 *
 * Checked on every call: the status has a name (floe_status_name is not "FLOE_UNKNOWN_STATUS"), is
 * not FLOE_ERR_PANIC (floe panicked), and after a failure floe_last_error_status agrees and
 * floe_last_error_message is not empty; an out-handle is written only on success; a handle this
 * thread released never works again; and a few exact outcomes (a wait on the calling thread's own
 * queue is FLOE_ERR_WOULD_DEADLOCK, a made-up handle is refused...). A watchdog fails a run in which
 * no call completes for a minute (a hang). At the end everything is released, workers and pools
 * terminated, floe_runtime_shutdown(false, 10000) run, and every floe_runtime_stats counter must be
 * zero (a leak fails; handles read in place count in live_handles), and no segment of the run may
 * be left in /dev/shm. The last line is "N passed, M failed" over the run's checks: one per thread
 * (main, host-1..4, jobs and callbacks), shutdown, leaks and segments.
 */

#define _GNU_SOURCE /* pthread_setname_np, nanosleep, pread, pwrite */

#include "floe.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Run parameters, counters, checks                                                            */

static uint64_t g_seed;
static double g_seconds = 10;
static uint64_t g_budget = UINT64_MAX;
static atomic_bool g_stop;
/* Set before the scribbler's first write into a segment (see "The scribbler"): until then every
 * segment byte is as floe wrote it, and a damaged version is floe's own fault. */
static atomic_bool g_scribbled;
/* Set while the calling thread decodes bytes it damaged itself. */
static _Thread_local bool t_own_damage;

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
    G_SEGMENT,
    G_WALK,
    G_COUNT
};
static const char *const group_names[G_COUNT] = {
    "objects",   "lists",   "strings", "refs",     "atomics",    "freeze", "transfer", "workers",
    "futures",   "pools",   "globals", "shared_data", "main_queue", "types",  "runtime",  "errors",
    "segments",  "walks",
};
static atomic_ullong g_calls[G_COUNT];
static atomic_ullong g_total;
static atomic_ullong g_jobs_run, g_callbacks_run, g_inits_run, g_producers_run, g_wakeups;

/* Checks: 0 main, 1..4 host threads, 5 jobs/callbacks/initialisers (any other thread). */
enum { N_HOST = 4, CHECK_JOBS = N_HOST + 1, N_THREAD_CHECKS = N_HOST + 2 };
static atomic_int g_violations[N_THREAD_CHECKS];
static atomic_int g_printed;
/* Violations printed per line of this file: a flood from one check does not hide the others. */
#define MAX_LINES 8192
static atomic_int g_printed_at[MAX_LINES];

/* Per thread: which check it counts for, its name, the call under way (for the watchdog). */
static _Thread_local int t_check = CHECK_JOBS;
static _Thread_local const char *t_name = "worker";
static _Atomic(const char *) g_current[N_THREAD_CHECKS];

static void violation(const char *call, int line, const char *fmt, ...)
{
    atomic_fetch_add(&g_violations[t_check], 1);
    if (atomic_fetch_add(&g_printed_at[line % MAX_LINES], 1) >= 3 || atomic_fetch_add(&g_printed, 1) >= 60)
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
    /* Only segment bytes make these, and until the scribbler's first write they are floe's own
     * (a callback's failure on purpose, "by the fuzzer", may carry any status). */
    if ((status == FLOE_ERR_CORRUPT || status == FLOE_ERR_TYPE_MISMATCH || status == FLOE_ERR_INCOMPATIBLE) &&
        !atomic_load(&g_scribbled) && !t_own_damage && !strstr(message ? message : "", "by the fuzzer"))
        violation(call, line, "%s with no segment byte scribbled: %s", floe_status_name(status), message ? message : "");
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
    switch (rnd(5)) {
    case 0: return rnd64() | 1;
    case 1: return rnd64() | 0x8000000000000000ull;
    case 2: return (floe_ref)(uintptr_t)(g_garbage_area + rnd(sizeof g_garbage_area));
    case 3: /* shaped like a handle read in place, with a generation no handle reaches in a run */
        return (uint64_t)(0x80000001u | (uint32_t)rnd64()) << 32 | 0x80000000u | rnd(64);
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
    floe_ref produced; /* an in-place handle this thread's producer handed to floe, checked after the call */
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

/* Handles to objects read in place from a segment carry this bit (docs/segment-format.md). */
#define IN_PLACE(ref) (((ref) & 0x80000000ull) != 0)
/* A live handle of the pool to an object read in place from a segment. */
#define LIVE_IN_PLACE(kind, ref) ((kind) == A_LIVE && IN_PLACE(ref))

/* A change to an object read in place is FLOE_ERR_FROZEN, whatever else is wrong with the call. */
static void expect_frozen(bool in_place, floe_status s, const char *call, int line)
{
    if (in_place && s != FLOE_ERR_FROZEN)
        violation(call, line, "a change to an object read in place gave %s, not FLOE_ERR_FROZEN", floe_status_name(s));
}
#define FROZEN_IF(in_place, s, call) expect_frozen((in_place), (s), (call), __LINE__)

/* A call that needs a heap object never takes one read in place. */
static void expect_not_taken(bool in_place, floe_status s, const char *call, int line)
{
    if (in_place && s == FLOE_OK)
        violation(call, line, "an object read in place was taken where a heap object is needed (FLOE_OK)");
}
#define NOT_TAKEN(in_place, s, call) expect_not_taken((in_place), (s), (call), __LINE__)

/* ------------------------------------------------------------------------------------------ */
/* Graphs                                                                                     */

/* Whether `text` is ASCII (random_string makes other bytes too, which floe refuses as not UTF-8). */
static bool ascii(const char *text)
{
    for (; text && *text; text++)
        if ((unsigned char)*text >= 0x80)
            return false;
    return text != NULL;
}

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
/* Segments: a few named segments of this process, the pointers open on them, their scribbler  */

/* An out-version floe must leave alone on failure. */
#define VERSION_SENTINEL (INT32_MIN + 0x5e57)

enum scribble_mode { SCRIBBLE_NONE, SCRIBBLE_DATA, SCRIBBLE_CONTROL };
static const char *const scribble_names[] = {"none", "data", "control"};
static int g_scribble = SCRIBBLE_DATA;
static double g_scribble_start; /* when the scribbler writes its first byte (now_s() time) */
static atomic_ullong g_scribbles, g_seg_created, g_seg_opened, g_seg_published, g_seg_full, g_seg_read_in_place,
    g_seg_read_copies, g_seg_read_limited, g_seg_damaged, g_walked_objects, g_checked_objects, g_damaged_objects;

/* True once garbage may have reached floe's view of some segment: checks of exact values stop. */
static bool scribbled(void) { return atomic_load(&g_scribbled); }
/* True once the control words (header, slots, writer, readers, page map) may be garbage: then a
 * call on an open segment may give any documented status (never a crash, a hang or a panic). */
static bool control_scribbled(void) { return g_scribble == SCRIBBLE_CONTROL && scribbled(); }

#define N_SEG_NAMES 3
#define MAX_SEG_OPEN 8
#define MAX_SEG_CLOSED 16
#define MAX_SEG_CREATIONS 16

/* A name of this process's (abi-fuzz-<pid>-<k>), the segment under it if any, and where its data
 * pages lie (read from its header at creation, for the scribbler). */
typedef struct segname {
    char name[64];
    char path[96];         /* /dev/shm/floe.<name> */
    pthread_mutex_t lock;  /* held across each create, open, unlink and scribble of this name */
    bool exists;           /* created and not unlinked */
    uint32_t slots, page_size, page_count;
    uint64_t len, slots_off, data_off;
} segname;
static segname g_segnames[N_SEG_NAMES];
static atomic_int g_creations;
static double g_next_unlink; /* under g_seg_lock */

/* Open segment pointers, usable by every thread; closed ones (each closed once, by the thread that
 * took it out of the open list) never work again. */
typedef struct segopen {
    floe_segment *seg;
    uint32_t slots;
} segopen;
static pthread_mutex_t g_seg_lock = PTHREAD_MUTEX_INITIALIZER;
static segopen g_seg_open[MAX_SEG_OPEN];
static int g_nseg_open;
static floe_segment *g_seg_closed[MAX_SEG_CLOSED];
static int g_nseg_closed, g_seg_closed_next;

static bool seg_still_open(floe_segment *seg)
{
    bool found = false;
    pthread_mutex_lock(&g_seg_lock);
    for (int i = 0; i < g_nseg_open && !found; i++)
        found = g_seg_open[i].seg == seg;
    pthread_mutex_unlock(&g_seg_lock);
    return found;
}
static void seg_closed(floe_segment *seg)
{
    pthread_mutex_lock(&g_seg_lock);
    g_seg_closed[g_seg_closed_next] = seg;
    g_seg_closed_next = (g_seg_closed_next + 1) % MAX_SEG_CLOSED;
    if (g_nseg_closed < MAX_SEG_CLOSED)
        g_nseg_closed++;
    pthread_mutex_unlock(&g_seg_lock);
}
/* Takes an open pointer out of the list (the caller closes it); NULL when none. */
static floe_segment *seg_take(int keep)
{
    floe_segment *seg = NULL;
    pthread_mutex_lock(&g_seg_lock);
    if (g_nseg_open > keep) {
        int i = (int)rnd(g_nseg_open);
        seg = g_seg_open[i].seg;
        g_seg_open[i] = g_seg_open[--g_nseg_open];
    }
    pthread_mutex_unlock(&g_seg_lock);
    return seg;
}
static void seg_close_taken(floe_segment *seg, int group)
{
    floe_status s = C(group, floe_segment_close(seg));
    EXPECT(s == FLOE_OK, "closing an open segment gave %s: %s", floe_status_name(s), floe_last_error_message());
    seg_closed(seg);
}
/* Adds a freshly opened pointer to the list; with the list full, closes another. */
static void seg_add(floe_segment *seg, uint32_t slots, int group)
{
    floe_segment *evicted = NULL;
    pthread_mutex_lock(&g_seg_lock);
    if (g_nseg_open == MAX_SEG_OPEN) {
        int i = (int)rnd(MAX_SEG_OPEN);
        evicted = g_seg_open[i].seg;
        g_seg_open[i] = g_seg_open[--g_nseg_open];
    }
    g_seg_open[g_nseg_open++] = (segopen){seg, slots};
    pthread_mutex_unlock(&g_seg_lock);
    if (evicted)
        seg_close_taken(evicted, group);
}

/* The kind of segment pointer handed to a call. */
enum seg_arg { SA_OPEN, SA_CLOSED, SA_GARBAGE, SA_NULL };

/* A made-up segment pointer: never one floe gave out (a live segment's id with a generation no
 * segment ever had, an address, a handle, random bits). */
static floe_segment *garbage_segment(void)
{
    uint64_t v;
    switch (rnd(4)) {
    case 0: {
        v = rnd64();
        pthread_mutex_lock(&g_seg_lock);
        if (g_nseg_open > 0)
            v = ((uint64_t)(uintptr_t)g_seg_open[rnd(g_nseg_open)].seg & 0xffffffffull) |
                ((uint64_t)(0x80000001u | (uint32_t)rnd64()) << 32);
        pthread_mutex_unlock(&g_seg_lock);
        break;
    }
    case 1: v = (uint64_t)(uintptr_t)garbage_pointer(); break;
    case 2: v = garbage_handle(); break;
    default: v = rnd64() | 1; break;
    }
    return (floe_segment *)(uintptr_t)v;
}

/* A segment argument: open (its slot count in *slots), closed, made up or NULL. */
static floe_segment *pick_seg(enum seg_arg *kind, uint32_t *slots)
{
    uint32_t r = rnd(100);
    *slots = 0;
    if (r < 88) {
        pthread_mutex_lock(&g_seg_lock);
        if (g_nseg_open > 0) {
            segopen o = g_seg_open[rnd(g_nseg_open)];
            pthread_mutex_unlock(&g_seg_lock);
            *kind = SA_OPEN;
            *slots = o.slots;
            return o.seg;
        }
        pthread_mutex_unlock(&g_seg_lock);
    }
    if (r < 94) {
        floe_segment *seg = NULL;
        pthread_mutex_lock(&g_seg_lock);
        if (g_nseg_closed > 0)
            seg = g_seg_closed[rnd(g_nseg_closed)];
        pthread_mutex_unlock(&g_seg_lock);
        if (seg) {
            *kind = SA_CLOSED;
            return seg;
        }
    }
    if (r < 96) {
        *kind = SA_NULL;
        return NULL;
    }
    *kind = SA_GARBAGE;
    return garbage_segment();
}

/* A slot of a segment with `slots` slots: mostly valid, sometimes just past the end or far out. */
static uint32_t pick_slot(uint32_t slots)
{
    uint32_t r = rnd(100);
    if (r < 90 && slots > 0)
        return rnd(slots);
    if (r < 96)
        return slots + rnd(3);
    return UINT32_MAX - rnd(2);
}

/* Checks the status of a call given segment `seg` of `kind` (and nothing else wrong but what `set`
 * allows): a closed segment is FLOE_ERR_RELEASED_HANDLE, a made-up one FLOE_ERR_INVALID_HANDLE,
 * NULL FLOE_ERR_NULL; an open one is one of `set` (or FLOE_ERR_RELEASED_HANDLE when another thread
 * closed it meanwhile), anything documented once control words were scribbled. */
static void seg_outcome(enum seg_arg kind, floe_segment *seg, floe_status s, const char *call, int line,
                        const floe_status *set, size_t n)
{
    switch (kind) {
    case SA_CLOSED:
        if (s != FLOE_ERR_RELEASED_HANDLE)
            violation(call, line, "a closed segment gave %s, not FLOE_ERR_RELEASED_HANDLE", floe_status_name(s));
        return;
    case SA_GARBAGE:
        if (s != FLOE_ERR_INVALID_HANDLE)
            violation(call, line, "made-up segment %p gave %s, not FLOE_ERR_INVALID_HANDLE", (void *)seg,
                      floe_status_name(s));
        return;
    case SA_NULL:
        if (s != FLOE_ERR_NULL)
            violation(call, line, "a NULL segment gave %s, not FLOE_ERR_NULL", floe_status_name(s));
        return;
    case SA_OPEN:
        for (size_t i = 0; i < n; i++)
            if (set[i] == s)
                return;
        if (s == FLOE_ERR_RELEASED_HANDLE) {
            if (seg_still_open(seg))
                violation(call, line, "an open segment gave FLOE_ERR_RELEASED_HANDLE: %s", floe_last_error_message());
            return;
        }
        if (control_scribbled())
            return;
        violation(call, line, "an open segment gave %s: %s", floe_status_name(s),
                  s == FLOE_OK ? "" : floe_last_error_message());
        return;
    }
}
#define SEG_OUTCOME(kind, seg, s, call, ...)                                                                       \
    seg_outcome((kind), (seg), (s), (call), __LINE__, (const floe_status[]){__VA_ARGS__},                          \
                sizeof((const floe_status[]){__VA_ARGS__}) / sizeof(floe_status))

/* Statuses a read from a segment may give besides success and the caller's own mistakes: a damaged
 * version (only once something was scribbled; `checked` sees to that), a full reader table. */
#define READ_FAILURES FLOE_ERR_CORRUPT, FLOE_ERR_INCOMPATIBLE, FLOE_ERR_TYPE_MISMATCH, FLOE_ERR_LIMIT

/* Reads the creation-time layout of `sn`'s file from its header. */
static bool seg_read_header(segname *sn)
{
    unsigned char hdr[128];
    int fd = open(sn->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool ok = pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && memcmp(hdr, "FLOESEG1", 8) == 0;
    close(fd);
    if (!ok)
        return false;
    memcpy(&sn->len, hdr + 16, 8);
    memcpy(&sn->page_size, hdr + 24, 4);
    memcpy(&sn->slots, hdr + 28, 4);
    memcpy(&sn->page_count, hdr + 36, 4);
    memcpy(&sn->slots_off, hdr + 40, 8);
    memcpy(&sn->data_off, hdr + 72, 8);
    return sn->data_off > 0 && sn->data_off < sn->len && sn->page_size > 0;
}

/* Creates segment name `k` with valid arguments (the caller holds its lock): FLOE_OK when it does
 * not exist, FLOE_ERR_EXISTS when it does. */
static void seg_create_locked(int k, int group)
{
    segname *sn = &g_segnames[k];
    static const uint64_t sizes[] = {128 << 10, 1 << 20, 2 << 20, 4 << 20};
    static const uint32_t readers[] = {2, 16, 64, 128, 128, 256};
    uint64_t size = sizes[rnd(4)] + rnd(5000);
    uint32_t slots = chance(10) ? 1 : 2 + rnd(7);
    floe_segment *seg = (floe_segment *)(uintptr_t)SENTINEL;
    bool fresh = !sn->exists && atomic_load(&g_creations) < MAX_SEG_CREATIONS;
    if (!sn->exists && !fresh)
        return;
    floe_status s = C(group, floe_segment_create(sn->name, size, slots, readers[rnd(6)], &seg));
    if (!fresh) {
        EXPECT(s == FLOE_ERR_EXISTS, "creating segment %s, which exists, gave %s", sn->name, floe_status_name(s));
        EXPECT(seg == (floe_segment *)(uintptr_t)SENTINEL, "floe_segment_create wrote *out_segment on failure");
        return;
    }
    EXPECT(s == FLOE_OK, "creating segment %s (%" PRIu64 " bytes, %u slots) gave %s: %s", sn->name, size, slots,
           floe_status_name(s), floe_last_error_message());
    if (s != FLOE_OK)
        return;
    atomic_fetch_add(&g_creations, 1);
    atomic_fetch_add(&g_seg_created, 1);
    sn->exists = true;
    if (!seg_read_header(sn)) {
        violation("floe_segment_create", __LINE__, "segment %s has no readable header at %s", sn->name, sn->path);
        sn->slots = slots;
    }
    EXPECT(sn->slots == slots, "segment %s has %u slots, created with %u", sn->name, sn->slots, slots);
    seg_add(seg, slots, group);
}

/* Create with arguments floe must refuse (FLOE_ERR_INVALID_ARGUMENT, FLOE_ERR_NULL), or valid ones
 * on a name of this process (FLOE_OK, or FLOE_ERR_EXISTS). */
static void seg_create(int group, int tag)
{
    if (chance(60)) {
        int k = (int)rnd(N_SEG_NAMES);
        pthread_mutex_lock(&g_segnames[k].lock);
        seg_create_locked(k, group);
        pthread_mutex_unlock(&g_segnames[k].lock);
        return;
    }
    char name[256], path[300];
    snprintf(name, sizeof name, "abi-fuzz-%d-bad-%d", (int)getpid(), tag); /* a thread's own */
    snprintf(path, sizeof path, "/dev/shm/floe.%s", name);
    uint64_t size = 256 << 10;
    uint32_t slots = 2, readers = 2;
    floe_status want = FLOE_ERR_INVALID_ARGUMENT;
    const char *n = name;
    switch (rnd(10)) {
    case 0: n = NULL; want = FLOE_ERR_NULL; break;
    case 1: n = ""; break;
    case 2: n = ".hidden"; break;
    case 3: n = "a/b"; break;
    case 4: memset(name, 'x', 201); name[201] = '\0'; break;
    case 5: n = chance(50) ? "caf\xc3\xa9" : "bad\xff"; break;
    case 6: size = chance(50) ? rnd(4097) : UINT64_MAX - rnd(4096); break; /* no data page; past 2^64 rounded */
    case 7: size = ((uint64_t)1 << 63) + rnd64() % ((uint64_t)1 << 62); break;
    case 8: slots = chance(50) ? 0 : 65537 + rnd(1000); break;
    default: readers = chance(50) ? 0 : 65537 + rnd(1000); break;
    }
    floe_segment *seg = (floe_segment *)(uintptr_t)SENTINEL;
    floe_status s = C(group, floe_segment_create(n, size, slots, readers, &seg));
    EXPECT(s == want, "floe_segment_create(%s, %" PRIu64 ", %u, %u) gave %s, not %s", n ? n : "NULL", size, slots,
           readers, floe_status_name(s), floe_status_name(want));
    EXPECT(seg == (floe_segment *)(uintptr_t)SENTINEL, "floe_segment_create wrote *out_segment on failure");
    if (s == FLOE_OK) {
        floe_segment_close(seg);
        floe_segment_unlink(n);
    }
    EXPECT(access(path, F_OK) != 0, "a refused creation left %s behind", path);
}

/* Opens name `k` (existing: FLOE_OK or a full reader table; unlinked: FLOE_ERR_NOT_FOUND), now and
 * then twice in a row; or a name that never existed, or one floe refuses. */
static void seg_open(int group)
{
    floe_segment *seg = (floe_segment *)(uintptr_t)SENTINEL;
    floe_status s;
    if (chance(15)) {
        char name[64];
        const char *n = name;
        floe_status want = FLOE_ERR_NOT_FOUND;
        snprintf(name, sizeof name, "abi-fuzz-%d-missing", (int)getpid());
        switch (rnd(4)) {
        case 0: n = NULL; want = FLOE_ERR_NULL; break;
        case 1: n = chance(50) ? "" : "../etc"; want = FLOE_ERR_INVALID_ARGUMENT; break;
        default: break;
        }
        s = C(group, floe_segment_open(n, &seg));
        EXPECT(s == want, "floe_segment_open(%s) gave %s, not %s", n ? n : "NULL", floe_status_name(s), floe_status_name(want));
        EXPECT(seg == (floe_segment *)(uintptr_t)SENTINEL, "floe_segment_open wrote *out_segment on failure");
        if (chance(20))
            EXPECT(C(group, floe_segment_open(g_segnames[0].name, NULL)) == FLOE_ERR_NULL,
                   "floe_segment_open with a NULL out_segment was not FLOE_ERR_NULL");
        return;
    }
    int k = (int)rnd(N_SEG_NAMES);
    segname *sn = &g_segnames[k];
    pthread_mutex_lock(&sn->lock);
    for (int times = chance(20) ? 2 : 1; times > 0; times--) {
        seg = (floe_segment *)(uintptr_t)SENTINEL;
        s = C(group, floe_segment_open(sn->name, &seg));
        if (!sn->exists)
            EXPECT(s == FLOE_ERR_NOT_FOUND, "opening unlinked segment %s gave %s", sn->name, floe_status_name(s));
        else if (!control_scribbled())
            EXPECT(s == FLOE_OK || s == FLOE_ERR_LIMIT, "opening segment %s gave %s: %s", sn->name, floe_status_name(s),
                   floe_last_error_message());
        if (s != FLOE_OK) {
            EXPECT(seg == (floe_segment *)(uintptr_t)SENTINEL, "floe_segment_open wrote *out_segment on failure");
            break;
        }
        atomic_fetch_add(&g_seg_opened, 1);
        seg_add(seg, sn->slots, group);
    }
    pthread_mutex_unlock(&sn->lock);
}

/* Closes an open pointer (FLOE_OK), then maybe again (FLOE_ERR_RELEASED_HANDLE); closes a made-up
 * or NULL one. */
static void seg_close(int group)
{
    floe_status s;
    if (chance(85)) {
        floe_segment *seg = seg_take(2);
        if (!seg)
            return;
        seg_close_taken(seg, group);
        if (chance(40)) {
            s = C(group, floe_segment_close(seg));
            EXPECT(s == FLOE_ERR_RELEASED_HANDLE, "closing a segment twice gave %s", floe_status_name(s));
        }
        return;
    }
    enum seg_arg kind;
    uint32_t slots;
    floe_segment *seg = pick_seg(&kind, &slots);
    if (kind == SA_OPEN)
        return; /* an open one is closed by the thread that takes it out of the list */
    s = C(group, floe_segment_close(seg));
    SEG_OUTCOME(kind, seg, s, "floe_segment_close", FLOE_OK);
}

/* Removes a name now and then (FLOE_OK, or FLOE_ERR_NOT_FOUND when it is gone); pointers open on
 * it keep working, and a later create makes a new segment under it. */
static void seg_unlink(int group)
{
    double now = now_s();
    pthread_mutex_lock(&g_seg_lock);
    bool due = now >= g_next_unlink && atomic_load(&g_creations) < MAX_SEG_CREATIONS;
    if (due)
        g_next_unlink = now + g_seconds / 6;
    pthread_mutex_unlock(&g_seg_lock);
    floe_status s;
    if (!due) {
        char name[64];
        snprintf(name, sizeof name, "abi-fuzz-%d-missing", (int)getpid());
        s = C(group, floe_segment_unlink(chance(80) ? name : chance(50) ? NULL : ".x"));
        EXPECT(s != FLOE_OK, "unlinking a segment that does not exist gave FLOE_OK");
        return;
    }
    int k = (int)rnd(N_SEG_NAMES);
    segname *sn = &g_segnames[k];
    pthread_mutex_lock(&sn->lock);
    s = C(group, floe_segment_unlink(sn->name));
    EXPECT(s == (sn->exists ? FLOE_OK : FLOE_ERR_NOT_FOUND), "unlinking segment %s (%s) gave %s", sn->name,
           sn->exists ? "existing" : "unlinked", floe_status_name(s));
    sn->exists = false;
    pthread_mutex_unlock(&sn->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Self-checking graphs, and walks over any graph                                              */

/* make_shape's objects check themselves: a Node named "#chk:<hex>" has count <hex>, ratio
 * count % 1000003 and flag count & 1; a list whose element 0 is "#chkl" has key k at 1 and at
 * i >= 2 an element of kind shape_kind(k, i) and value shape_int / shape_double / shape_bool /
 * "e<i>" (references anywhere). The fuzzer's other strings never start with '#'. */
static const uint32_t shape_kinds[5] = {FLOE_KIND_INT, FLOE_KIND_DOUBLE, FLOE_KIND_BOOL, FLOE_KIND_STRING, FLOE_KIND_REF};
static uint32_t shape_kind(int64_t k, size_t i) { return shape_kinds[((uint64_t)k + i) % 5]; }
static int64_t shape_int(int64_t k, size_t i) { return (int64_t)((uint64_t)k * 31 + i); }
static double shape_double(size_t i) { return (double)i / 4; }
static bool shape_bool(int64_t k, size_t i) { return (((uint64_t)k >> (i % 64)) & 1) != 0; }
static double shape_ratio(uint64_t count) { return (double)(count % 1000003); }

#define SHAPE_MAX 160
/* A fresh graph of random shape on the calling thread, frozen when `freeze`: 1 to 8 Nodes (now and
 * then up to 160), each with lists of mixed elements (now and then hundreds), shared lists,
 * references forming chains, cycles and self loops, and an atomic reference to a frozen graph of
 * the pool. 0 when floe refused something. */
static floe_ref make_shape(host *h, int group, bool freeze)
{
    floe_ref nodes[SHAPE_MAX], lists[SHAPE_MAX];
    int n = chance(92) ? 1 + (int)rnd(8) : 9 + (int)rnd(SHAPE_MAX - 9), nl = 0;
    char text[40];
    for (int i = 0; i < n; i++) {
        if (C(group, floe_object_new(g_node, &nodes[i])) != FLOE_OK) {
            n = i;
            break;
        }
        uint64_t count = rnd64();
        snprintf(text, sizeof text, "#chk:%" PRIx64, count);
        C(group, floe_object_set_string(nodes[i], F_NAME, text));
        C(group, floe_object_set_int(nodes[i], F_COUNT, (int64_t)count));
        C(group, floe_object_set_double(nodes[i], F_RATIO, shape_ratio(count)));
        C(group, floe_object_set_bool(nodes[i], F_FLAG, (count & 1) != 0));
        C(G_ATOMIC, floe_object_atomic_set(nodes[i], F_HITS, (int32_t)count));
        C(G_ATOMIC, floe_object_atomic_set(nodes[i], F_TOTAL, (int64_t)count));
        if (chance(60) && C(G_LIST, floe_list_new(&lists[nl])) == FLOE_OK) {
            floe_ref list = lists[nl++];
            int64_t k = (int64_t)rnd64();
            size_t m = chance(95) ? rnd(10) : 50 + rnd(600);
            C(G_LIST, floe_list_push_string(list, "#chkl"));
            C(G_LIST, floe_list_push_int(list, k));
            for (size_t e = 2; e < m + 2; e++) {
                switch (shape_kind(k, e)) {
                case FLOE_KIND_INT: C(G_LIST, floe_list_push_int(list, shape_int(k, e))); break;
                case FLOE_KIND_DOUBLE: C(G_LIST, floe_list_push_double(list, shape_double(e))); break;
                case FLOE_KIND_BOOL: C(G_LIST, floe_list_push_bool(list, shape_bool(k, e))); break;
                case FLOE_KIND_STRING:
                    snprintf(text, sizeof text, "e%zu", e);
                    C(G_LIST, floe_list_push_string(list, text));
                    break;
                default: C(G_LIST, floe_list_push_ref(list, chance(80) ? nodes[rnd(i + 1)] : 0)); break;
                }
            }
        }
        if (nl > 0)
            C(group, floe_object_set_ref(nodes[i], F_ITEMS, lists[rnd(nl)])); /* shared now and then */
    }
    if (n == 0) {
        for (int j = 0; j < nl; j++)
            C(G_REF, floe_ref_release(lists[j]));
        return 0;
    }
    for (int i = 0; i < n; i++) {
        uint32_t r = rnd(10);
        floe_ref next = r < 6 ? (i + 1 < n ? nodes[i + 1] : nodes[0]) : r < 8 ? nodes[rnd(n)] : 0;
        if (next)
            C(group, floe_object_set_ref(nodes[i], F_NEXT, next));
    }
    floe_ref root = nodes[0];
    for (int i = 1; i < n; i++)
        C(G_REF, floe_ref_release(nodes[i]));
    for (int j = 0; j < nl; j++)
        C(G_REF, floe_ref_release(lists[j]));
    if (!freeze)
        return root;
    if (C(G_FREEZE, floe_object_freeze(root, "shape")) != FLOE_OK) {
        C(G_REF, floe_ref_release(root));
        return 0;
    }
    if (h && h->nrefs > 0 && chance(30)) {
        floe_ref target = h->refs[rnd(h->nrefs)];
        floe_status s = C(G_ATOMIC, floe_object_atomic_ref_set(root, F_LATEST, target));
        if (IN_PLACE(target))
            EXPECT(s != FLOE_OK, "an atomic reference took an object read in place");
    }
    return root;
}

/* A status a read of an object read in place may give: the caller's mistakes and a damaged version. */
static void in_place_read_status(floe_status s, const char *call, int line)
{
    switch (s) {
    case FLOE_ERR_CORRUPT: case FLOE_ERR_TYPE_MISMATCH:
        atomic_fetch_add_explicit(&g_damaged_objects, 1, memory_order_relaxed);
        return;
    case FLOE_OK: case FLOE_ERR_WRONG_KIND: case FLOE_ERR_OUT_OF_RANGE: case FLOE_ERR_BUFFER_TOO_SMALL: case FLOE_ERR_LIMIT:
        return;
    default:
        violation(call, line, "reading an object in place gave %s: %s", floe_status_name(s), floe_last_error_message());
    }
}
static floe_status walk_read(bool ip, floe_status s, const char *call, int line)
{
    if (ip)
        in_place_read_status(s, call, line);
    return s;
}
#define WALK_READ(ip, group, call) walk_read((ip), C(group, call), #call, __LINE__)

/* A value read from an object floe read intact must be what its publisher wrote. */
#define SHAPE_CHECK(cond, ...)                                                                                     \
    do {                                                                                                           \
        if (!(cond) && !scribbled())                                                                               \
            violation(#cond, __LINE__, __VA_ARGS__);                                                               \
    } while (0)

#define WALK_MAX 24
/* Reads the graph of `root` (the caller keeps it) object by object — every slot with the getter its
 * kind calls for, now and then another getter, and writes, which an object read in place refuses
 * with FLOE_ERR_FROZEN — following references up to WALK_MAX objects; checks make_shape's objects. */
static void walk(floe_ref root, int group)
{
    floe_ref todo[WALK_MAX];
    bool owned[WALK_MAX];
    uint32_t seen[WALK_MAX];
    int ntodo = 0, nseen = 0;
    todo[ntodo] = root, owned[ntodo++] = false;
    char buf[48];
    for (int steps = 0; ntodo > 0; steps++) {
        if (steps >= 4 * WALK_MAX) { /* enough: let go of what is left */
            while (ntodo > 0)
                if (owned[--ntodo])
                    C(G_REF, floe_ref_release(todo[ntodo]));
            break;
        }
        ntodo--;
        floe_ref x = todo[ntodo];
        bool own = owned[ntodo], ip = IN_PLACE(x);
        uint32_t id = 0, ty = 0;
        size_t n = 0;
        bool known = false;
        if (WALK_READ(ip, group, floe_object_id(x, &id)) == FLOE_OK) {
            for (int i = 0; i < nseen && !known; i++)
                known = seen[i] == id;
            if (!known && nseen < WALK_MAX)
                seen[nseen++] = id;
        }
        if (known || WALK_READ(ip, group, floe_object_len(x, &n)) != FLOE_OK ||
            WALK_READ(ip, group, floe_object_type(x, &ty)) != FLOE_OK) {
            if (own)
                C(G_REF, floe_ref_release(x));
            continue;
        }
        atomic_fetch_add_explicit(&g_walked_objects, 1, memory_order_relaxed);
        if (ip)
            SHAPE_CHECK(ty == g_node || ty == FLOE_TYPE_LIST, "an object read in place has type %u, neither Node nor a list", ty);
        if (ip && ty == g_node) {
            SHAPE_CHECK(n == NODE_FIELDS, "a Node read in place has %zu fields", n);
            floe_status s = C(group, floe_object_set_int(x, F_COUNT, 1));
            EXPECT(s == FLOE_ERR_FROZEN, "a write to an object read in place gave %s", floe_status_name(s));
        }
        if (ip && ty == FLOE_TYPE_LIST) {
            floe_status s = C(group, floe_list_push_int(x, 1));
            EXPECT(s == FLOE_ERR_FROZEN, "a push onto a list read in place gave %s", floe_status_name(s));
        }
        /* make_shape's checks */
        size_t len = 0;
        if (ty == g_node && n == NODE_FIELDS &&
            WALK_READ(ip, group, floe_object_get_string(x, F_NAME, buf, sizeof buf, &len)) == FLOE_OK &&
            strncmp(buf, "#chk:", 5) == 0) {
            uint64_t want = strtoull(buf + 5, NULL, 16);
            int64_t count = 0;
            double ratio = 0;
            bool flag = false;
            floe_status s1 = WALK_READ(ip, group, floe_object_get_int(x, F_COUNT, &count));
            floe_status s2 = WALK_READ(ip, group, floe_object_get_double(x, F_RATIO, &ratio));
            floe_status s3 = WALK_READ(ip, group, floe_object_get_bool(x, F_FLAG, &flag));
            SHAPE_CHECK(s1 == FLOE_OK && s2 == FLOE_OK && s3 == FLOE_OK, "a self-checking Node's fields could not be read: %s",
                        floe_last_error_message());
            SHAPE_CHECK(s1 != FLOE_OK || (uint64_t)count == want, "%s has count %" PRIx64, buf, (uint64_t)count);
            SHAPE_CHECK(s2 != FLOE_OK || ratio == shape_ratio(want), "%s has ratio %g, not %g", buf, ratio, shape_ratio(want));
            SHAPE_CHECK(s3 != FLOE_OK || flag == ((want & 1) != 0), "%s has flag %d", buf, (int)flag);
            atomic_fetch_add_explicit(&g_checked_objects, 1, memory_order_relaxed);
        }
        bool shape_list = ty == FLOE_TYPE_LIST && n >= 2 &&
                          WALK_READ(ip, group, floe_object_get_string(x, 0, buf, sizeof buf, &len)) == FLOE_OK &&
                          strcmp(buf, "#chkl") == 0;
        int64_t key = 0;
        if (shape_list && WALK_READ(ip, group, floe_object_get_int(x, 1, &key)) != FLOE_OK)
            shape_list = false;
        size_t limit = n < 12 ? n : 12;
        size_t first = n > limit ? rnd((uint32_t)(n - limit + 1)) : 0;
        for (size_t i = first; i < first + limit; i++) {
            uint32_t kind = 0;
            if (WALK_READ(ip, group, floe_object_kind_at(x, i, &kind)) != FLOE_OK)
                continue;
            bool check = shape_list && i >= 2;
            if (check)
                SHAPE_CHECK(kind == shape_kind(key, i), "element %zu of a self-checking list (key %" PRId64 ") is of kind %u, not %u",
                            i, key, kind, shape_kind(key, i));
            check = check && kind == shape_kind(key, i);
            int64_t v = 0;
            double d = 0;
            bool b = false;
            floe_ref r = SENTINEL;
            floe_status s = FLOE_OK;
            switch (kind) {
            case FLOE_KIND_INT:
                s = WALK_READ(ip, group, floe_object_get_int(x, i, &v));
                if (check && s == FLOE_OK)
                    SHAPE_CHECK(v == shape_int(key, i), "element %zu of a self-checking list is %" PRId64, i, v);
                break;
            case FLOE_KIND_DOUBLE:
                s = WALK_READ(ip, group, floe_object_get_double(x, i, &d));
                if (check && s == FLOE_OK)
                    SHAPE_CHECK(d == shape_double(i), "element %zu of a self-checking list is %g", i, d);
                break;
            case FLOE_KIND_BOOL:
                s = WALK_READ(ip, group, floe_object_get_bool(x, i, &b));
                if (check && s == FLOE_OK)
                    SHAPE_CHECK(b == shape_bool(key, i), "element %zu of a self-checking list is %d", i, (int)b);
                break;
            case FLOE_KIND_STRING: {
                size_t cap = chance(90) ? sizeof buf : rnd(4);
                s = WALK_READ(ip, group, floe_object_get_string(x, i, buf, cap, &len));
                if (s == FLOE_OK)
                    EXPECT(len < cap && buf[len] == '\0', "floe_object_get_string: length %zu for a %zu-byte buffer", len, cap);
                if (check && s == FLOE_OK) {
                    char want[24];
                    snprintf(want, sizeof want, "e%zu", i);
                    SHAPE_CHECK(strcmp(buf, want) == 0, "element %zu of a self-checking list is \"%s\"", i, buf);
                }
                WALK_READ(ip, group, floe_object_get_string_len(x, i, &len));
                break;
            }
            case FLOE_KIND_ATOMIC_INT: case FLOE_KIND_ATOMIC_LONG: {
                s = WALK_READ(ip, group, floe_object_atomic_get(x, i, &v));
                if (ip) {
                    floe_status w = C(G_ATOMIC, floe_object_atomic_add(x, i, 1, &v));
                    EXPECT(w == FLOE_ERR_FROZEN, "an atomic add on an object read in place gave %s", floe_status_name(w));
                }
                break;
            }
            case FLOE_KIND_REF: case FLOE_KIND_ATOMIC_REF:
                s = kind == FLOE_KIND_REF ? WALK_READ(ip, group, floe_object_get_ref(x, i, &r))
                                          : WALK_READ(ip, group, floe_object_atomic_ref_get(x, i, &r));
                if (s != FLOE_OK)
                    EXPECT(r == SENTINEL, "a failed reference read wrote *out_ref");
                else if (r != 0) {
                    if (ip)
                        EXPECT(IN_PLACE(r), "a reference read in place gave a heap handle");
                    if (ntodo < WALK_MAX && nseen < WALK_MAX)
                        todo[ntodo] = r, owned[ntodo++] = true;
                    else
                        C(G_REF, floe_ref_release(r));
                }
                break;
            default:
                violation("floe_object_kind_at", __LINE__, "kind %u of slot %zu is no FLOE_KIND_*", kind, i);
                break;
            }
            /* another getter of a scalar kind than the slot's must refuse */
            if (s == FLOE_OK && (kind == FLOE_KIND_INT || kind == FLOE_KIND_DOUBLE || kind == FLOE_KIND_BOOL) && chance(20)) {
                floe_status w = kind == FLOE_KIND_INT ? WALK_READ(ip, group, floe_object_get_double(x, i, &d))
                                                      : WALK_READ(ip, group, floe_object_get_int(x, i, &v));
                SHAPE_CHECK(w != FLOE_OK, "slot %zu of kind %u was read with another kind's getter", i, kind);
            }
        }
        if (chance(10))
            WALK_READ(ip, group, floe_object_get_int(x, n + rnd(3), &key)); /* out of range */
        if (own)
            C(G_REF, floe_ref_release(x));
    }
}

/* In-place handles floe took from the fuzzer (a job's result, a producer's root, a global's value):
 * each must be dead once floe is done with it — taken over or released, never left behind. */
#define MAX_GIVEN 64
static pthread_mutex_t g_given_lock = PTHREAD_MUTEX_INITIALIZER;
static floe_ref g_given[MAX_GIVEN];
static const char *g_given_what[MAX_GIVEN];
static int g_ngiven, g_given_next;
static void given_to_floe(floe_ref ref, const char *what)
{
    if (!IN_PLACE(ref))
        return;
    pthread_mutex_lock(&g_given_lock);
    g_given[g_given_next] = ref;
    g_given_what[g_given_next] = what;
    g_given_next = (g_given_next + 1) % MAX_GIVEN;
    if (g_ngiven < MAX_GIVEN)
        g_ngiven++;
    pthread_mutex_unlock(&g_given_lock);
}
/* A handle floe took over must not work any more. */
static void expect_dead(floe_ref ref, const char *what, int line)
{
    size_t n;
    floe_status s = C(G_SEGMENT, floe_object_len(ref, &n));
    if (s == FLOE_OK)
        violation("floe_object_len(handle given to floe)", line,
                  "in-place handle 0x%" PRIx64 " that %s handed to floe still works: floe neither took it over nor released it",
                  ref, what);
}

/* An open segment and one of its slots, for jobs and initialisers; false when none is open. */
static bool any_open_slot(floe_segment **seg, uint32_t *slot)
{
    bool ok = false;
    pthread_mutex_lock(&g_seg_lock);
    if (g_nseg_open > 0) {
        segopen o = g_seg_open[rnd(g_nseg_open)];
        *seg = o.seg;
        *slot = rnd(o.slots);
        ok = true;
    }
    pthread_mutex_unlock(&g_seg_lock);
    return ok;
}

/* Reads a random slot in place on the calling thread: its root handle (the caller's), or 0. */
static floe_ref read_in_place_anywhere(int group)
{
    floe_segment *seg;
    uint32_t slot;
    floe_ref root = 0;
    int32_t version;
    if (any_open_slot(&seg, &slot) && C(group, floe_segment_read(seg, slot, &version, &root)) == FLOE_OK && root)
        return root;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The scribbler: plain writes into the segments' files while the threads read them in place   */

static const uint32_t odd_u32[] = {0, 1, 2, 3, 7, 8, 9, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x7fffffff, 0x80000000u,
                                   0xfffffffeu, 0xffffffffu};
static const uint64_t odd_u64[] = {0, 1, 2, 8, 0xffffffffull, 0x100000000ull, 0x7fffffffffffffffull,
                                   0x8000000000000000ull, 0xffffffffffffffffull, 0x7ff8000000000000ull /* a NaN */};

/* Writes a few bytes somewhere in [lo, hi) of `fd`: a bit flipped, an odd 32- or 64-bit word, a
 * kind byte, random bytes. */
static void scribble_range(int fd, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return;
    uint64_t at = lo + rnd64() % (hi - lo);
    unsigned char buf[16];
    size_t n;
    switch (rnd(6)) {
    case 0:
        n = 1;
        if (pread(fd, buf, 1, (off_t)at) != 1)
            return;
        buf[0] ^= (unsigned char)(1u << rnd(8));
        break;
    case 1: {
        uint32_t v = odd_u32[rnd(sizeof odd_u32 / sizeof odd_u32[0])];
        at &= ~(uint64_t)3;
        n = 4;
        memcpy(buf, &v, 4);
        break;
    }
    case 2: {
        uint64_t v = odd_u64[rnd(sizeof odd_u64 / sizeof odd_u64[0])];
        at &= ~(uint64_t)7;
        n = 8;
        memcpy(buf, &v, 8);
        break;
    }
    case 3: n = 1; buf[0] = (unsigned char)rnd(12); break; /* a kind, a bool, a small count */
    default:
        n = 1 + rnd(sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)rnd64();
        break;
    }
    if (at < lo)
        at = lo;
    if (at + n > hi)
        n = (size_t)(hi - at);
    atomic_store(&g_scribbled, true);
    if (pwrite(fd, buf, n, (off_t)at) == (ssize_t)n)
        atomic_fetch_add_explicit(&g_scribbles, 1, memory_order_relaxed);
}

/* One scribble on segment name `k` (its lock held): in data mode into its data pages — mostly into
 * a version some slot references (its record, its block's header, its body), else anywhere among
 * them; in control mode, half the time into the header, slots, writer record, reader table or
 * page map instead. The file is written with pwrite, never truncated or extended. */
static void scribble_once(segname *sn)
{
    int fd = open(sn->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != sn->len) {
        close(fd);
        return;
    }
    uint64_t lo = sn->data_off, hi = sn->len;
    if (g_scribble == SCRIBBLE_CONTROL && chance(50)) {
        switch (rnd(4)) {
        case 0: lo = 0, hi = 128; break;
        case 1: lo = sn->slots_off, hi = sn->slots_off + 64ull * sn->slots; break;
        default: lo = 0, hi = sn->data_off; break;
        }
    } else if (chance(75)) {
        uint64_t ref = 0, block_len = 0;
        uint32_t slot = rnd(sn->slots);
        if (pread(fd, &ref, 8, (off_t)(sn->slots_off + 64ull * slot + 8)) == 8 && ref != 0 &&
            (uint32_t)ref - 1 < sn->page_count) {
            uint64_t base = sn->data_off + ((uint64_t)(uint32_t)ref - 1) * sn->page_size;
            if (pread(fd, &block_len, 8, (off_t)(base + 16)) != 8 || block_len > sn->len - base - 64)
                block_len = sn->page_size - 64;
            uint32_t r = rnd(100);
            if (r < 8)
                lo = base, hi = base + 64; /* the version record */
            else if (r < 20)
                lo = base + 64, hi = base + 64 + 128; /* the block's header */
            else
                lo = base + 64 + 128, hi = base + 64 + block_len; /* types, objects, table, strings */
            if (hi > sn->len)
                hi = sn->len;
        }
    }
    scribble_range(fd, lo, hi);
    close(fd);
}

static pthread_t g_scribbler;
static void *scribbler(void *arg)
{
    (void)arg;
    t_name = "scribbler";
    pthread_setname_np(pthread_self(), "scribbler");
    while (!atomic_load(&g_stop)) {
        sleep_us(100 + rnd(900));
        if (now_s() < g_scribble_start)
            continue;
        segname *sn = &g_segnames[rnd(N_SEG_NAMES)];
        pthread_mutex_lock(&sn->lock);
        if (sn->exists)
            for (int i = chance(10) ? 1 + (int)rnd(8) : 1; i > 0; i--)
                scribble_once(sn);
        pthread_mutex_unlock(&sn->lock);
    }
    return NULL;
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
    switch (rnd(11)) {
    case 0: *out_root = 0; return FLOE_OK;
    case 1:
        if (h && h->nrefs > 0) { /* a handle of the pool: floe owns it from here on */
            floe_ref ref = take_ref(h, (int)rnd(h->nrefs));
            remember_dead(h, ref);
            if (IN_PLACE(ref))
                h->produced = ref;
            *out_root = ref;
            return FLOE_OK;
        }
        *out_root = make_graph(G_WORKER);
        return FLOE_OK;
    case 5: { /* an object read in place, which floe cannot transfer: it must release it */
        floe_ref r = read_in_place_anywhere(G_WORKER);
        if (!r) {
            *out_root = make_graph(G_WORKER);
            return FLOE_OK;
        }
        if (h)
            h->produced = r;
        else
            given_to_floe(r, "a producer (its root)");
        *out_root = r;
        return chance(25) ? fail_on_purpose() : FLOE_OK;
    }
    case 2: *out_root = make_graph(G_WORKER); return fail_on_purpose();
    case 3: return fail_on_purpose();
    case 4: *out_root = garbage_handle(); return FLOE_OK;
    default: *out_root = make_graph(G_WORKER); return FLOE_OK;
    }
}

/* In-place handles initialisers on this thread handed to floe since the last check_given_values. */
static _Thread_local floe_ref t_given_values[4];
static _Thread_local int t_ngiven_values;

/* After a floe_global_get: every in-place value an initialiser gave is taken over or released. */
static void check_given_values(void)
{
    for (int i = 0; i < t_ngiven_values; i++)
        expect_dead(t_given_values[i], "an initialiser (its value)", __LINE__);
    t_ngiven_values = 0;
}

static int32_t initializer(floe_ref *out_value)
{
    atomic_fetch_add(&g_inits_run, 1);
    switch (rnd(11)) {
    case 5: { /* an object read in place as the global's value */
        floe_ref r = read_in_place_anywhere(G_GLOBAL);
        if (!r) {
            *out_value = make_graph(G_GLOBAL);
            return FLOE_OK;
        }
        if (t_ngiven_values < 4)
            t_given_values[t_ngiven_values++] = r;
        else
            given_to_floe(r, "an initialiser (its value)");
        *out_value = r;
        return chance(25) ? fail_on_purpose() : FLOE_OK;
    }
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
    switch (rnd(18)) {
    case 0: break;
    case 16: { /* a slot read in place and walked; now and then returned as the result, which floe
                * cannot transfer: the future fails and floe releases the handle */
        floe_ref r = read_in_place_anywhere(G_SEGMENT);
        if (!r)
            break;
        walk(r, G_WALK);
        if (chance(50)) {
            C(G_REF, floe_ref_release(r));
            break;
        }
        if (input)
            C(G_REF, floe_ref_release(input));
        given_to_floe(r, "a job (its result)");
        *out_result = r;
        return chance(25) ? fail_on_purpose() : FLOE_OK;
    }
    case 17: { /* the input published to a segment, a slot copied */
        floe_segment *seg;
        uint32_t slot;
        if (!any_open_slot(&seg, &slot))
            break;
        uint64_t id;
        if (input)
            C(G_SEGMENT, floe_segment_publish(seg, slot, input, &id));
        int32_t version;
        floe_ref copy = 0;
        if (C(G_SEGMENT, floe_segment_read_copy(seg, slot, &version, &copy)) == FLOE_OK && copy) {
            walk(copy, G_WALK);
            C(G_REF, floe_ref_release(copy));
        }
        break;
    }
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
        check_given_values();
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
        switch (rnd(14)) {
        case 0: C(G_OBJECT, floe_object_get_int(x, F_COUNT, &v)); break;
        case 1: s = C(G_OBJECT, floe_object_set_int(x, F_COUNT, 7)); FROZEN_IF(IN_PLACE(x), s, "floe_object_set_int"); break;
        case 2: s = C(G_ATOMIC, floe_object_atomic_add(x, F_HITS, 1, &v)); FROZEN_IF(IN_PLACE(x), s, "floe_object_atomic_add"); break;
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
            if (h->nrefs > 0) {
                s = C(G_REF, floe_object_set_ref(h->refs[rnd(h->nrefs)], rnd_index(), x));
                NOT_TAKEN(IN_PLACE(x), s, "floe_object_set_ref (target)");
            }
            break;
        case 8: C(G_FREEZE, floe_object_freeze(x, "other thread")); break;
        case 9:
            s = C(G_REF, floe_object_get_ref(x, chance(50) ? F_ITEMS : F_NEXT, &r));
            if (s == FLOE_OK)
                add_ref(h, r);
            break;
        case 10: C(G_OBJECT, floe_object_len(x, &n)); break;
        case 12: walk(x, G_WALK); break;
        case 13: {
            /* another thread's object published: frozen, FLOE_OK (or a full segment); mutable, refused */
            floe_segment *seg;
            uint32_t slot;
            uint64_t id;
            if (any_open_slot(&seg, &slot)) {
                s = C(G_SEGMENT, floe_segment_publish(seg, slot, x, &id));
                if (IN_PLACE(x))
                    EXPECT(s == FLOE_ERR_INVALID_ARGUMENT || s == FLOE_ERR_RELEASED_HANDLE,
                           "publishing an object read in place gave %s", floe_status_name(s));
            }
            break;
        }
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
    bool ip = LIVE_IN_PLACE(kind, x);
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
    case 3: s = C(G_OBJECT, floe_object_set_int(x, rnd_index(), (int64_t)rnd64())); REFUSED(kind, s, "floe_object_set_int"); FROZEN_IF(ip, s, "floe_object_set_int"); break;
    case 4: s = C(G_OBJECT, floe_object_get_double(x, rnd_index(), &d)); REFUSED(kind, s, "floe_object_get_double"); break;
    case 5: s = C(G_OBJECT, floe_object_set_double(x, rnd_index(), 1.25)); REFUSED(kind, s, "floe_object_set_double"); FROZEN_IF(ip, s, "floe_object_set_double"); break;
    case 6: s = C(G_OBJECT, floe_object_get_bool(x, rnd_index(), &b)); REFUSED(kind, s, "floe_object_get_bool"); break;
    case 7: s = C(G_OBJECT, floe_object_set_bool(x, rnd_index(), chance(50))); REFUSED(kind, s, "floe_object_set_bool"); FROZEN_IF(ip, s, "floe_object_set_bool"); break;
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
    bool ip = LIVE_IN_PLACE(kind, x);
    floe_status s;
    char buf[24];
    const char *text;
    switch (rnd(8)) {
    case 0: {
        floe_ref l = SENTINEL;
        if (C(G_LIST, floe_list_new(&l)) == FLOE_OK)
            add_ref(h, l);
        break;
    }
    case 1: s = C(G_LIST, floe_list_push_int(x, (int64_t)rnd64())); REFUSED(kind, s, "floe_list_push_int"); FROZEN_IF(ip, s, "floe_list_push_int"); break;
    case 2: s = C(G_LIST, floe_list_push_double(x, -0.0)); REFUSED(kind, s, "floe_list_push_double"); FROZEN_IF(ip, s, "floe_list_push_double"); break;
    case 3: s = C(G_LIST, floe_list_push_bool(x, true)); REFUSED(kind, s, "floe_list_push_bool"); FROZEN_IF(ip, s, "floe_list_push_bool"); break;
    case 4:
        text = chance(90) ? random_string(buf, sizeof buf) : NULL;
        s = C(G_LIST, floe_list_push_string(x, text));
        REFUSED(kind, s, "floe_list_push_string");
        FROZEN_IF(ip && ascii(text), s, "floe_list_push_string");
        break;
    default: {
        enum arg_kind k2;
        int l2;
        floe_ref t = pick_ref(h, &k2, &l2);
        s = C(G_LIST, floe_list_push_ref(x, t));
        REFUSED(kind, s, "floe_list_push_ref (list)");
        REFUSED(k2, s, "floe_list_push_ref (target)");
        FROZEN_IF(ip, s, "floe_list_push_ref (list)");
        NOT_TAKEN(LIVE_IN_PLACE(k2, t), s, "floe_list_push_ref (target)");
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
    case 0: {
        const char *text = chance(95) ? random_string(buf, sizeof buf) : NULL;
        s = C(G_STRING, floe_object_set_string(x, chance(80) ? F_NAME : rnd_index(), text));
        REFUSED(kind, s, "floe_object_set_string");
        FROZEN_IF(LIVE_IN_PLACE(kind, x) && ascii(text), s, "floe_object_set_string");
        break;
    }
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
        FROZEN_IF(LIVE_IN_PLACE(kind, x), s, "floe_object_set_ref (object)");
        NOT_TAKEN(LIVE_IN_PLACE(k2, t), s, "floe_object_set_ref (target)");
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
    bool ip = LIVE_IN_PLACE(kind, x);
    switch (rnd(8)) {
    case 0: s = C(G_ATOMIC, floe_object_atomic_get(x, idx, &v)); break;
    case 1: s = C(G_ATOMIC, floe_object_atomic_set(x, idx, chance(70) ? rnd(100) : (int64_t)rnd64())); FROZEN_IF(ip, s, "floe_object_atomic_set"); break;
    case 2: s = C(G_ATOMIC, floe_object_atomic_add(x, idx, (int64_t)rnd64(), &v)); FROZEN_IF(ip, s, "floe_object_atomic_add"); break;
    case 3: s = C(G_ATOMIC, floe_object_atomic_compare_and_set(x, idx, rnd(3), rnd(3), &b)); FROZEN_IF(ip, s, "floe_object_atomic_compare_and_set"); break;
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
        FROZEN_IF(ip, s, "floe_object_atomic_ref_set");
        NOT_TAKEN(t != 0 && LIVE_IN_PLACE(k2, t), s, "floe_object_atomic_ref_set (value)");
        break;
    }
    default: {
        floe_ref e = chance(30) ? 0 : pick_ref(h, &k2, &l2);
        floe_ref n = chance(30) ? 0 : pick_ref(h, &k3, &l3);
        s = C(G_ATOMIC, floe_object_atomic_ref_compare_and_set(x, idx, e, n, &b));
        FROZEN_IF(ip, s, "floe_object_atomic_ref_compare_and_set");
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
    case 2: s = C(G_FREEZE, floe_object_ensure_never_frozen(x)); FROZEN_IF(LIVE_IN_PLACE(kind, x), s, "floe_object_ensure_never_frozen"); break;
    case 3:
        s = C(G_FREEZE, floe_object_is_frozen(x, &b));
        if (LIVE_IN_PLACE(kind, x))
            EXPECT(s == FLOE_OK && b, "an object read in place is not frozen (%s)", floe_status_name(s));
        break;
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
        if (LIVE_IN_PLACE(kind, x))
            EXPECT(s == FLOE_ERR_INVALID_ARGUMENT, "detaching an object read in place gave %s", floe_status_name(s));
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

/* After a call that ran this thread's producer: an in-place root it gave is released by floe. One
 * floe left live stays out of the released handles (it is floe's, and leaked: the leak check says
 * so at the end). */
static void check_produced(host *h)
{
    if (h->produced) {
        size_t n;
        if (C(G_WORKER, floe_object_len(h->produced, &n)) == FLOE_OK) {
            expect_dead(h->produced, "a producer (its root)", __LINE__);
            for (int i = 0; i < h->ndead; i++)
                if (h->dead[i] == h->produced)
                    h->dead[i] = garbage_handle();
        }
        h->produced = 0;
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
        check_produced(h);
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
        NOT_TAKEN(in != 0 && LIVE_IN_PLACE(kind, in), s, "floe_worker_execute_after (input)");
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
        check_produced(h);
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
        check_given_values();
        if (s == FLOE_OK)
            add_ref(h, v);
        else
            EXPECT(v == SENTINEL, "floe_global_get wrote *out_value on failure");
        if (g == g_alpha || g == g_beta)
            EXPECT(s != FLOE_OK, "a global whose initialiser needs the other's (alpha and beta) gave FLOE_OK");
        break;
    }
    case 5: C(G_GLOBAL, floe_global_reset(chance(95) ? random_global() : target_id())); break;
    default: C(G_GLOBAL, floe_global_get(random_global(), NULL)); check_given_values(); break;
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
        NOT_TAKEN(LIVE_IN_PLACE(kind, x), s, "floe_shared_data_publish");
        changed = s == FLOE_OK;
        break;
    case 3: {
        s = C(G_SHARED, floe_shared_data_put(d, x, random_mode()));
        REFUSED(kind, s, "floe_shared_data_put");
        NOT_TAKEN(LIVE_IN_PLACE(kind, x), s, "floe_shared_data_put");
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

/* Publishes to a slot: a fresh frozen graph of random shape or a graph of the pool (FLOE_OK, or
 * FLOE_ERR_LIMIT when the segment is full), a mutable one (FLOE_ERR_NOT_FROZEN), an object read in
 * place (FLOE_ERR_INVALID_ARGUMENT), released, made-up and NULL handles, slots out of range. */
static void seg_publish(host *h, floe_segment *seg, enum seg_arg kind, uint32_t slots)
{
    uint32_t slot = pick_slot(slots);
    enum arg_kind rk = A_LIVE;
    int li = -1;
    floe_ref root, fresh = 0;
    bool frozen = false;
    uint32_t r = rnd(100);
    if (r < 40)
        fresh = root = make_shape(h, G_SEGMENT, true), frozen = true;
    else if (r < 46)
        fresh = root = make_shape(h, G_SEGMENT, false);
    else {
        root = pick_ref(h, &rk, &li);
        if (rk == A_LIVE && !IN_PLACE(root))
            C(G_FREEZE, floe_object_is_frozen(root, &frozen));
    }
    if (r < 46 && root == 0)
        return;
    uint64_t version_id = SENTINEL;
    bool null_out = chance(2);
    floe_status s = C(G_SEGMENT, floe_segment_publish(seg, slot, root, null_out ? NULL : &version_id));
    if (null_out)
        EXPECT(s == FLOE_ERR_NULL, "floe_segment_publish with a NULL out_version_id gave %s", floe_status_name(s));
    else if (slot >= slots && kind == SA_OPEN)
        SEG_OUTCOME(kind, seg, s, "floe_segment_publish (slot out of range)", FLOE_ERR_OUT_OF_RANGE);
    else if (rk == A_NULL)
        SEG_OUTCOME(kind, seg, s, "floe_segment_publish (NULL root)", FLOE_ERR_NULL);
    else if (rk != A_LIVE)
        SEG_OUTCOME(kind, seg, s, "floe_segment_publish (released, made-up or wrong-kind root)", FLOE_ERR_INVALID_HANDLE,
                    FLOE_ERR_RELEASED_HANDLE);
    else if (IN_PLACE(root))
        SEG_OUTCOME(kind, seg, s, "floe_segment_publish (an object read in place)", FLOE_ERR_INVALID_ARGUMENT);
    else if (frozen)
        SEG_OUTCOME(kind, seg, s, "floe_segment_publish (a frozen graph)", FLOE_OK, FLOE_ERR_LIMIT);
    else
        SEG_OUTCOME(kind, seg, s, "floe_segment_publish (a mutable graph)", FLOE_ERR_NOT_FROZEN);
    if (s == FLOE_OK) {
        EXPECT(version_id != SENTINEL, "floe_segment_publish did not write *out_version_id");
        atomic_fetch_add_explicit(&g_seg_published, 1, memory_order_relaxed);
    } else {
        EXPECT(version_id == SENTINEL, "floe_segment_publish wrote *out_version_id on failure");
        if (s == FLOE_ERR_LIMIT)
            atomic_fetch_add_explicit(&g_seg_full, 1, memory_order_relaxed);
    }
    if (fresh) {
        if (frozen && chance(40))
            add_ref(h, fresh);
        else
            C(G_REF, floe_ref_release(fresh));
    }
}

/* Reads a slot in place (`copy`: into the heap): FLOE_OK with a root (0 for an empty slot) that
 * joins the pool, FLOE_ERR_LIMIT with the reader table full, a damaged version once bytes were
 * scribbled; out-parameters untouched on failure. */
static void seg_read(host *h, floe_segment *seg, enum seg_arg kind, uint32_t slots, bool copy)
{
    uint32_t slot = pick_slot(slots);
    int32_t version = VERSION_SENTINEL;
    floe_ref root = SENTINEL;
    const char *call = copy ? "floe_segment_read_copy" : "floe_segment_read";
    if (chance(2)) {
        floe_status s = copy ? C(G_SEGMENT, floe_segment_read_copy(seg, slot, chance(50) ? NULL : &version, NULL))
                             : C(G_SEGMENT, floe_segment_read(seg, slot, NULL, chance(50) ? NULL : &root));
        EXPECT(s == FLOE_ERR_NULL, "%s with a NULL out-parameter gave %s", call, floe_status_name(s));
        EXPECT(version == VERSION_SENTINEL && root == SENTINEL, "%s wrote an out-parameter on failure", call);
        return;
    }
    floe_status s = copy ? C(G_SEGMENT, floe_segment_read_copy(seg, slot, &version, &root))
                         : C(G_SEGMENT, floe_segment_read(seg, slot, &version, &root));
    if (slot >= slots && kind == SA_OPEN)
        SEG_OUTCOME(kind, seg, s, call, FLOE_ERR_OUT_OF_RANGE);
    else
        SEG_OUTCOME(kind, seg, s, call, FLOE_OK, READ_FAILURES);
    if (s != FLOE_OK) {
        EXPECT(version == VERSION_SENTINEL && root == SENTINEL, "%s wrote an out-parameter on failure", call);
        if (s == FLOE_ERR_CORRUPT || s == FLOE_ERR_INCOMPATIBLE || s == FLOE_ERR_TYPE_MISMATCH)
            atomic_fetch_add_explicit(&g_seg_damaged, 1, memory_order_relaxed);
        if (s == FLOE_ERR_LIMIT)
            atomic_fetch_add_explicit(&g_seg_read_limited, 1, memory_order_relaxed);
        return;
    }
    EXPECT(root != SENTINEL, "%s did not write *out_root", call);
    if (root == 0)
        return;
    atomic_fetch_add_explicit(copy ? &g_seg_read_copies : &g_seg_read_in_place, 1, memory_order_relaxed);
    EXPECT(IN_PLACE(root) == !copy, "%s gave %s handle 0x%" PRIx64, call, IN_PLACE(root) ? "an in-place" : "a heap",
           root);
    bool frozen = false;
    EXPECT(C(G_SEGMENT, floe_object_is_frozen(root, &frozen)) == FLOE_OK && frozen, "%s gave a root that is not frozen",
           call);
    if (chance(40))
        walk(root, G_WALK);
    add_ref(h, root);
}

/* Verifies a slot (every byte of its version): FLOE_OK with what it holds, a damaged version once
 * bytes were scribbled, a full reader table; the out-parameter untouched on failure. */
static void seg_verify(floe_segment *seg, enum seg_arg kind, uint32_t slots)
{
    uint32_t slot = pick_slot(slots);
    floe_segment_version v, untouched;
    memset(&v, 0xa5, sizeof v);
    untouched = v;
    bool null_out = chance(2);
    floe_status s = C(G_SEGMENT, floe_segment_verify(seg, slot, null_out ? NULL : &v));
    if (null_out)
        EXPECT(s == FLOE_ERR_NULL, "floe_segment_verify with a NULL out_version gave %s", floe_status_name(s));
    else if (slot >= slots && kind == SA_OPEN)
        SEG_OUTCOME(kind, seg, s, "floe_segment_verify", FLOE_ERR_OUT_OF_RANGE);
    else
        SEG_OUTCOME(kind, seg, s, "floe_segment_verify", FLOE_OK, READ_FAILURES);
    if (s != FLOE_OK) {
        EXPECT(memcmp(&v, &untouched, sizeof v) == 0, "floe_segment_verify wrote *out_version on failure");
        return;
    }
    if (v.version_id == 0)
        EXPECT(v.objects == 0 && v.bytes == 0, "an empty slot verified as %u objects, %" PRIu64 " bytes", v.objects, v.bytes);
    else
        EXPECT(v.objects >= 1 && v.bytes >= 128, "version %" PRIu64 " verified as %u objects, %" PRIu64 " bytes",
               v.version_id, v.objects, v.bytes);
}

/* The segment's state as text (inspect), or a recovery's report (recover, which takes the writer
 * lock while the other threads publish and read in place), into buffers of every size. */
static void seg_text(floe_segment *seg, enum seg_arg kind, bool recover)
{
    static _Thread_local char text[1 << 16];
    size_t cap = chance(20) ? rnd(64) : sizeof text, len = SENTINEL;
    char *buf = chance(3) ? NULL : text;
    const char *call = recover ? "floe_segment_recover" : "floe_segment_inspect";
    floe_status s = recover ? C(G_SEGMENT, floe_segment_recover(seg, buf, cap, &len))
                            : C(G_SEGMENT, floe_segment_inspect(seg, buf, cap, &len));
    if (!buf)
        EXPECT(s == FLOE_ERR_NULL, "%s with a NULL buffer gave %s", call, floe_status_name(s));
    else
        SEG_OUTCOME(kind, seg, s, call, FLOE_OK, FLOE_ERR_BUFFER_TOO_SMALL);
    if (s != FLOE_OK) {
        EXPECT(len == SENTINEL, "%s wrote *out_len on failure", call);
        return;
    }
    EXPECT(len < cap && text[len] == '\0', "%s: length %zu for a %zu-byte buffer", call, len, cap);
    if (!recover && !control_scribbled())
        EXPECT(strncmp(text, "segment /floe.abi-fuzz-", 23) == 0, "floe_segment_inspect wrote \"%.60s\"", text);
}

/* Names a slot (set once, unique in the segment: FLOE_OK or FLOE_ERR_EXISTS; a bad name
 * FLOE_ERR_INVALID_ARGUMENT), then finds it by that name; or looks a name up. */
static void seg_names(floe_segment *seg, enum seg_arg kind, uint32_t slots)
{
    uint32_t slot = pick_slot(slots), found = (uint32_t)SENTINEL;
    char name[64];
    snprintf(name, sizeof name, "n%u", (unsigned)rnd(12));
    floe_status s;
    if (chance(50)) {
        uint32_t r = rnd(100);
        if (r < 3) {
            s = C(G_SEGMENT, floe_segment_name_slot(seg, slot, NULL));
            EXPECT(s == FLOE_ERR_NULL, "floe_segment_name_slot with a NULL name gave %s", floe_status_name(s));
            return;
        }
        bool bad = r < 10;
        if (bad) {
            if (chance(50))
                name[0] = '\0';
            else
                memset(name, 'x', 41), name[41] = '\0';
        }
        s = C(G_SEGMENT, floe_segment_name_slot(seg, slot, name));
        if (slot >= slots && kind == SA_OPEN)
            SEG_OUTCOME(kind, seg, s, "floe_segment_name_slot", FLOE_ERR_OUT_OF_RANGE);
        else if (bad)
            SEG_OUTCOME(kind, seg, s, "floe_segment_name_slot (a bad name)", FLOE_ERR_INVALID_ARGUMENT);
        else
            SEG_OUTCOME(kind, seg, s, "floe_segment_name_slot", FLOE_OK, FLOE_ERR_EXISTS);
        if (s != FLOE_OK)
            return;
        s = C(G_SEGMENT, floe_segment_slot_by_name(seg, name, &found));
        if (!control_scribbled() && s != FLOE_ERR_RELEASED_HANDLE)
            EXPECT(s == FLOE_OK && found == slot, "slot %u named \"%s\" was found as %s, slot %u", slot, name,
                   floe_status_name(s), found);
        return;
    }
    bool null_out = chance(3);
    s = C(G_SEGMENT, floe_segment_slot_by_name(seg, chance(95) ? name : "", null_out ? NULL : &found));
    if (null_out)
        EXPECT(s == FLOE_ERR_NULL, "floe_segment_slot_by_name with a NULL out_slot gave %s", floe_status_name(s));
    else
        SEG_OUTCOME(kind, seg, s, "floe_segment_slot_by_name", FLOE_OK, FLOE_ERR_NOT_FOUND);
    if (s == FLOE_OK && kind == SA_OPEN && !control_scribbled())
        EXPECT(found < slots, "a name was found as slot %u of %u", found, slots);
    if (s != FLOE_OK)
        EXPECT(found == (uint32_t)SENTINEL, "floe_segment_slot_by_name wrote *out_slot on failure");
}

/* Waits at most 2 ms for any of 1 to 4 slots (one out of range now and then), or with a count floe
 * refuses. */
static void seg_wait_any(floe_segment *seg, enum seg_arg kind, uint32_t slots)
{
    uint32_t which[4], seen[4];
    size_t n = 1 + rnd(4), index = SENTINEL;
    bool all_valid = true;
    for (size_t i = 0; i < n; i++) {
        which[i] = chance(95) ? pick_slot(slots) : (slots > 0 ? rnd(slots) : 0);
        all_valid = all_valid && which[i] < slots;
        seen[i] = (uint32_t)rnd64();
        if (which[i] < slots && kind == SA_OPEN && chance(80))
            C(G_SEGMENT, floe_segment_change_count(seg, which[i], &seen[i]));
    }
    int64_t timeout = rnd(3);
    floe_status s;
    if (chance(4)) {
        size_t count = chance(50) ? 0 : 129 + rnd(4);
        s = C(G_SEGMENT, floe_segment_wait_any(seg, which, seen, count, timeout, &index));
        EXPECT(s == FLOE_ERR_INVALID_ARGUMENT, "floe_segment_wait_any of %zu slots gave %s", count, floe_status_name(s));
        return;
    }
    if (chance(3)) {
        uint32_t null = rnd(3);
        s = C(G_SEGMENT, floe_segment_wait_any(seg, null == 1 ? which : NULL, null == 0 ? seen : NULL, n, timeout, &index));
        EXPECT(s == FLOE_ERR_NULL, "floe_segment_wait_any with a NULL array gave %s", floe_status_name(s));
        return;
    }
    double started = now_s();
    s = C(G_SEGMENT, floe_segment_wait_any(seg, which, seen, n, timeout, &index));
    double took = now_s() - started;
    EXPECT(took < 5.0, "floe_segment_wait_any(%" PRId64 " ms) took %.1f s", timeout, took);
    if (all_valid || kind != SA_OPEN)
        SEG_OUTCOME(kind, seg, s, "floe_segment_wait_any", FLOE_OK, FLOE_ERR_TIMEOUT);
    else
        SEG_OUTCOME(kind, seg, s, "floe_segment_wait_any", FLOE_ERR_OUT_OF_RANGE);
    if (s == FLOE_OK)
        EXPECT(index < n, "floe_segment_wait_any gave index %zu of %zu", index, n);
    else
        EXPECT(index == SENTINEL, "floe_segment_wait_any wrote *out_index on failure");
}

/* A graph's version block outside any segment: sized, encoded (into buffers too small now and
 * then), decoded as it is (FLOE_OK, a graph that checks itself), and decoded with bytes changed or
 * cut short, which the O(N) check must refuse. */
static void block_roundtrip(host *h)
{
    enum arg_kind kind = A_LIVE;
    int li;
    floe_ref root, fresh = 0;
    uint32_t r = rnd(100);
    if (r < 45)
        fresh = root = make_shape(h, G_SEGMENT, true);
    else if (r < 50)
        fresh = root = make_shape(h, G_SEGMENT, false);
    else
        root = pick_ref(h, &kind, &li);
    if (r < 50 && root == 0)
        return;
    size_t need = SENTINEL, len = SENTINEL;
    floe_status s = C(G_SEGMENT, floe_block_size(root, chance(2) ? NULL : &need));
    REFUSED(kind, s, "floe_block_size");
    if (LIVE_IN_PLACE(kind, root))
        EXPECT(s == FLOE_ERR_INVALID_ARGUMENT || s == FLOE_ERR_NULL, "floe_block_size of an object read in place gave %s",
               floe_status_name(s));
    if (s != FLOE_OK) {
        EXPECT(need == SENTINEL, "floe_block_size wrote *out_len on failure");
        if (fresh)
            C(G_REF, floe_ref_release(fresh));
        return;
    }
    /* Another thread may repoint an atomic reference of the graph meanwhile: the size may change. */
    size_t cap = chance(10) && need > 0 ? rnd((uint32_t)need) : need + rnd(64);
    uint8_t *buf = malloc(cap + 1);
    s = C(G_SEGMENT, floe_block_encode(root, buf, cap, &len));
    if (s == FLOE_OK)
        EXPECT(len <= cap && len >= 128, "floe_block_encode gave %zu bytes for a %zu-byte buffer", len, cap);
    else {
        EXPECT(len == SENTINEL, "floe_block_encode wrote *out_len on failure");
        EXPECT(s == FLOE_ERR_BUFFER_TOO_SMALL, "floe_block_encode of a graph floe_block_size took gave %s: %s",
               floe_status_name(s), floe_last_error_message());
    }
    if (fresh)
        C(G_REF, floe_ref_release(fresh));
    if (s != FLOE_OK) {
        free(buf);
        return;
    }
    floe_ref copy = SENTINEL;
    s = C(G_SEGMENT, floe_block_decode(buf, len, &copy));
    EXPECT(s == FLOE_OK, "decoding the block floe_block_encode wrote gave %s: %s", floe_status_name(s),
           floe_last_error_message());
    if (s == FLOE_OK) {
        EXPECT(!IN_PLACE(copy), "floe_block_decode gave an in-place handle");
        if (copy) {
            walk(copy, G_WALK);
            add_ref(h, copy);
        }
    }
    /* The same bytes changed or cut short: never accepted. */
    uint8_t *original = malloc(len);
    memcpy(original, buf, len);
    if (chance(70))
        for (int k = 1 + (int)rnd(4); k > 0; k--)
            buf[rnd((uint32_t)len)] ^= (uint8_t)(1 + rnd(255));
    size_t cut = chance(30) ? 1 + rnd((uint32_t)len) : 0;
    bool damaged = cut > 0 || memcmp(original, buf, len) != 0;
    free(original);
    copy = SENTINEL;
    t_own_damage = true;
    s = C(G_SEGMENT, floe_block_decode(buf, len - cut, &copy));
    t_own_damage = false;
    if (s == FLOE_OK) {
        EXPECT(!damaged, "a version block with bytes changed or %zu of its %zu bytes cut off was decoded", cut, len);
        if (copy)
            C(G_REF, floe_ref_release(copy));
    } else
        EXPECT(copy == SENTINEL, "floe_block_decode wrote *out_root on failure");
    if (chance(10)) {
        for (size_t i = 0; i < cap; i++)
            buf[i] = (uint8_t)rnd64();
        t_own_damage = true;
        s = C(G_SEGMENT, floe_block_decode(chance(95) ? buf : NULL, chance(95) ? cap : 0, &copy));
        t_own_damage = false;
        EXPECT(s != FLOE_OK, "random bytes were decoded as a version block");
    }
    free(buf);
}

static void op_segments(host *h)
{
    uint32_t which = rnd(100);
    if (which < 2) {
        seg_create(G_SEGMENT, h->index);
        return;
    }
    if (which < 5) {
        seg_open(G_SEGMENT);
        return;
    }
    if (which < 7) {
        seg_close(G_SEGMENT);
        return;
    }
    if (which < 8) {
        seg_unlink(G_SEGMENT);
        return;
    }
    if (which < 18) {
        /* a walk of the pool's handles, those read in place first */
        if (h->nrefs == 0)
            return;
        int i = (int)rnd(h->nrefs);
        for (int k = 0; k < h->nrefs && !IN_PLACE(h->refs[i]) && chance(70); k++)
            i = (i + 1) % h->nrefs;
        walk(h->refs[i], G_WALK);
        return;
    }
    enum seg_arg kind;
    uint32_t slots;
    floe_segment *seg = pick_seg(&kind, &slots);
    floe_status s;
    uint32_t slot = pick_slot(slots), count = (uint32_t)SENTINEL;
    if (which < 36)
        seg_publish(h, seg, kind, slots);
    else if (which < 39) {
        s = C(G_SEGMENT, floe_segment_unpublish(seg, slot));
        if (slot < slots || kind != SA_OPEN)
            SEG_OUTCOME(kind, seg, s, "floe_segment_unpublish", FLOE_OK);
        else
            SEG_OUTCOME(kind, seg, s, "floe_segment_unpublish", FLOE_ERR_OUT_OF_RANGE);
    } else if (which < 60)
        seg_read(h, seg, kind, slots, false);
    else if (which < 67)
        seg_read(h, seg, kind, slots, true);
    else if (which < 72) {
        bool null_out = chance(3);
        s = C(G_SEGMENT, floe_segment_change_count(seg, slot, null_out ? NULL : &count));
        if (null_out)
            EXPECT(s == FLOE_ERR_NULL, "floe_segment_change_count with a NULL out_count gave %s", floe_status_name(s));
        else if (slot < slots || kind != SA_OPEN)
            SEG_OUTCOME(kind, seg, s, "floe_segment_change_count", FLOE_OK);
        else
            SEG_OUTCOME(kind, seg, s, "floe_segment_change_count", FLOE_ERR_OUT_OF_RANGE);
        if (s != FLOE_OK)
            EXPECT(count == (uint32_t)SENTINEL, "floe_segment_change_count wrote *out_count on failure");
    } else if (which < 76) {
        uint32_t seen = (uint32_t)rnd64();
        if (chance(70) && slot < slots)
            C(G_SEGMENT, floe_segment_change_count(seg, slot, &seen));
        int64_t timeout = chance(50) ? 0 : 1 + rnd(3);
        double started = now_s();
        s = C(G_SEGMENT, floe_segment_wait(seg, slot, seen, timeout, &count));
        double took = now_s() - started;
        EXPECT(took < 5.0, "floe_segment_wait(%" PRId64 " ms) took %.1f s", timeout, took);
        if (slot < slots || kind != SA_OPEN)
            SEG_OUTCOME(kind, seg, s, "floe_segment_wait", FLOE_OK, FLOE_ERR_TIMEOUT);
        else
            SEG_OUTCOME(kind, seg, s, "floe_segment_wait", FLOE_ERR_OUT_OF_RANGE);
        if (s == FLOE_OK)
            EXPECT(count != seen, "floe_segment_wait gave FLOE_OK and the count it was told (%u)", seen);
        else
            EXPECT(count == (uint32_t)SENTINEL, "floe_segment_wait wrote *out_count on failure");
    } else if (which < 79)
        seg_wait_any(seg, kind, slots);
    else if (which < 83)
        seg_verify(seg, kind, slots);
    else if (which < 85)
        seg_text(seg, kind, chance(20));
    else if (which < 89)
        seg_names(seg, kind, slots);
    else if (which < 94)
        block_roundtrip(h);
    else {
        /* a segment given as a handle, and a handle as a segment */
        size_t n;
        floe_ref r = 0;
        if (kind == SA_OPEN) {
            s = C(G_SEGMENT, floe_object_len((floe_ref)(uintptr_t)seg, &n));
            EXPECT(s != FLOE_OK, "a segment pointer was accepted as a handle");
            s = C(G_SEGMENT, floe_ref_retain((floe_ref)(uintptr_t)seg, &r));
            EXPECT(s != FLOE_OK, "a segment pointer was accepted as a handle");
        }
        if (h->nrefs > 0) {
            floe_segment *fake = (floe_segment *)(uintptr_t)h->refs[rnd(h->nrefs)];
            s = C(G_SEGMENT, floe_segment_change_count(fake, 0, &count));
            EXPECT(s == FLOE_ERR_INVALID_HANDLE, "a handle given as a segment gave %s", floe_status_name(s));
            s = C(G_SEGMENT, floe_segment_close(fake));
            EXPECT(s == FLOE_ERR_INVALID_HANDLE, "closing a handle given as a segment gave %s", floe_status_name(s));
        }
    }
}

typedef void (*op_fn)(host *);
static struct {
    op_fn fn;
    int weight;
    const char *name;
} ops[] = {
    {op_objects, 14, "objects"}, {op_lists, 5, "lists"},     {op_strings, 5, "strings"},   {op_refs, 12, "refs"},
    {op_atomics, 6, "atomics"},  {op_freeze, 6, "freeze"},   {op_transfer, 7, "transfer"}, {op_workers, 8, "workers"},
    {op_futures, 9, "futures"},  {op_pools, 4, "pools"},     {op_globals, 4, "globals"},   {op_shared, 6, "shared_data"},
    {op_types, 1, "types"},      {op_runtime, 3, "runtime"}, {op_errors, 3, "errors"},     {op_segments, 10, "segments"},
};
/* Calls on other threads' exhibits (use_exhibit), in percent of the steps; --off exhibits sets 0. */
static uint32_t g_exhibit_percent = 6;

/* --off a,b,c: those groups of calls are never chosen (to narrow a finding down). */
static void switch_off(const char *list)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        bool found = strcmp(name, "exhibits") == 0;
        if (found)
            g_exhibit_percent = 0;
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (strcmp(ops[i].name, name) == 0)
                ops[i].weight = 0, found = true;
        if (!found) {
            fprintf(stderr, "abi_fuzz: --off: no group %s\n", name);
            exit(2);
        }
    }
}

static void host_step(host *h)
{
    if (chance(g_exhibit_percent)) {
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

/* The run's first segments: names 0 and 1 created (name 0 opened twice), name 2 left for later;
 * the scribbler started. */
static void segments_begin(void)
{
    for (int k = 0; k < N_SEG_NAMES; k++) {
        segname *sn = &g_segnames[k];
        snprintf(sn->name, sizeof sn->name, "abi-fuzz-%d-%d", (int)getpid(), k);
        snprintf(sn->path, sizeof sn->path, "/dev/shm/floe.abi-fuzz-%d-%d", (int)getpid(), k);
        pthread_mutex_init(&sn->lock, NULL);
        if (k < 2) {
            pthread_mutex_lock(&sn->lock);
            seg_create_locked(k, G_SEGMENT);
            pthread_mutex_unlock(&sn->lock);
        }
    }
    floe_segment *again = NULL;
    if (C(G_SEGMENT, floe_segment_open(g_segnames[0].name, &again)) == FLOE_OK)
        seg_add(again, g_segnames[0].slots, G_SEGMENT);
    double start = g_deadline - g_seconds;
    g_next_unlink = start + g_seconds / 6;
    g_scribble_start = start + g_seconds * (0.2 + 0.3 * (double)rnd(1000) / 1000);
    if (g_scribble != SCRIBBLE_NONE)
        pthread_create(&g_scribbler, NULL, scribbler, NULL);
}

/* Closes every open segment pointer and unlinks every name of the run; true when all went as
 * promised and no file of the run is left in /dev/shm. */
static int segments_end(void)
{
    int ok = 1;
    for (floe_segment *seg; (seg = seg_take(0)) != NULL;) {
        floe_status s = C(G_SEGMENT, floe_segment_close(seg));
        if (s != FLOE_OK)
            ok = 0, printf("closing a segment at the end gave %s: %s\n", floe_status_name(s), floe_last_error_message());
    }
    for (int k = 0; k < N_SEG_NAMES; k++) {
        segname *sn = &g_segnames[k];
        if (sn->exists) {
            floe_status s = C(G_SEGMENT, floe_segment_unlink(sn->name));
            if (s != FLOE_OK)
                ok = 0, printf("unlinking segment %s gave %s: %s\n", sn->name, floe_status_name(s), floe_last_error_message());
            sn->exists = false;
        }
        if (access(sn->path, F_OK) == 0)
            ok = 0, printf("%s is left behind\n", sn->path);
    }
    for (int tag = 0; tag <= N_HOST; tag++) {
        char path[96];
        snprintf(path, sizeof path, "/dev/shm/floe.abi-fuzz-%d-bad-%d", (int)getpid(), tag);
        if (access(path, F_OK) == 0)
            ok = 0, printf("%s is left behind\n", path);
    }
    return ok;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--seed S] [--seconds N] [--calls BUDGET] [--scribble none|data|control] [--off GROUP,...]\n", argv0);
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
        else if (strcmp(argv[i], "--scribble") == 0) {
            const char *mode = argv[++i];
            g_scribble = -1;
            for (int k = 0; k < 3; k++)
                if (strcmp(mode, scribble_names[k]) == 0)
                    g_scribble = k;
            if (g_scribble < 0)
                usage(argv[0]);
        } else if (strcmp(argv[i], "--off") == 0)
            switch_off(argv[++i]);
        else
            usage(argv[0]);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("abi_fuzz: seed %" PRIu64 ", %.0f s, call budget %s, scribble %s, floe %s\n", g_seed, g_seconds,
           g_budget == UINT64_MAX ? "none" : "set", scribble_names[g_scribble], floe_version());
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
    segments_begin();
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
    if (g_scribble != SCRIBBLE_NONE)
        pthread_join(g_scribbler, NULL);

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
    /* Every in-place handle a job, producer or initialiser handed to floe is dead by now. */
    pthread_mutex_lock(&g_given_lock);
    for (int i = 0; i < g_ngiven; i++)
        expect_dead(g_given[i], g_given_what[i], __LINE__);
    pthread_mutex_unlock(&g_given_lock);
    int segments_ok = segments_end();
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
    printf("segments: %llu created, %llu opened, %llu versions published, %llu publishes refused as full, %llu reads in place, "
           "%llu copies, %llu reads refused for a full reader table, %llu reads of damaged versions; walks: %llu objects read, "
           "%llu self-checked, %llu reads in place of damaged objects\n",
           (unsigned long long)atomic_load(&g_seg_created), (unsigned long long)atomic_load(&g_seg_opened),
           (unsigned long long)atomic_load(&g_seg_published), (unsigned long long)atomic_load(&g_seg_full),
           (unsigned long long)atomic_load(&g_seg_read_in_place), (unsigned long long)atomic_load(&g_seg_read_copies),
           (unsigned long long)atomic_load(&g_seg_read_limited), (unsigned long long)atomic_load(&g_seg_damaged), (unsigned long long)atomic_load(&g_walked_objects),
           (unsigned long long)atomic_load(&g_checked_objects), (unsigned long long)atomic_load(&g_damaged_objects));
    if (g_scribble == SCRIBBLE_NONE)
        printf("scribbler: off\n");
    else
        printf("scribbler (%s): %llu writes from %.1f s on\n", scribble_names[g_scribble],
               (unsigned long long)atomic_load(&g_scribbles), g_scribble_start - (g_deadline - g_seconds));
    printf("calls: %llu in total; jobs run %llu, outcome callbacks %llu, initialisers %llu, producers %llu, wake-ups %llu\n",
           (unsigned long long)atomic_load(&g_total), (unsigned long long)atomic_load(&g_jobs_run),
           (unsigned long long)atomic_load(&g_callbacks_run), (unsigned long long)atomic_load(&g_inits_run),
           (unsigned long long)atomic_load(&g_producers_run), (unsigned long long)atomic_load(&g_wakeups));
    printf("shutdown: %s, workers_stopped %u, workers_unfinished %u\n", floe_status_name(s), report.workers_stopped,
           report.workers_unfinished);
    printf("floe_runtime_stats: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64
           ", detached_graphs %" PRIu64 "\n",
           st.live_objects, st.frozen_objects, st.live_handles, st.detached_graphs);

    for (int line = 0; line < MAX_LINES; line++)
        if (atomic_load(&g_printed_at[line]) > 0)
            printf("violations at abi_fuzz.c:%d: %d\n", line, atomic_load(&g_printed_at[line]));
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
    if (segments_ok)
        passed++, printf("ok: every segment closed and unlinked, none left in /dev/shm\n");
    else
        failed++, printf("FAIL: segments: a close or unlink failed, or a file is left in /dev/shm (seed %" PRIu64 ")\n", g_seed);
    printf("seed %" PRIu64 "\n", g_seed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
