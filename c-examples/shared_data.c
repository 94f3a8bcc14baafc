/*
 * shared_data.c — Kotlin/Native's versioned SharedData in a plain C global.
 *
 * Kotlin/Native's C interop hands Kotlin objects to C through a struct like
 *
 *   typedef struct { int version; void *kotlinObject; } SharedData;
 *
 * kept in a C global. floe's `floe_shared_data` is that struct: zero-initialised means empty, its
 * `object` is floe's opaque id (never dereferenced), and every floe_shared_data_* call locks it, so
 * the (version, object) pair is never torn.
 *
 *   part 1, publish/read: a writer pthread publishes 2000 frozen Config versions into `g_config`;
 *     4 reader pthreads read it concurrently. Each Config stores the version it was published as,
 *     so a reader checks every (version, root) pair it gets, and that versions never go backwards.
 *     Replaced versions are freed once no reader holds them.
 *   part 2, put/take: a mutable graph parked in `g_handoff` for exactly one taker; 4 pthreads race
 *     floe_shared_data_take, one wins and owns the graph, the others get FLOE_ERR_CONSUMED.
 *   end: publishing 0 empties `g_config`; floe_runtime_stats must then be all zero.
 *
 * Build (from the crate root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I include c-examples/shared_data.c \
 *      target/debug/libfloe.a -lpthread -ldl -lm -o shared_data
 */

#define _GNU_SOURCE /* pthread_setname_np, pthread_barrier_t */

#include "floe.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VERSIONS = 2000, READERS = 4, TAKERS = 4, ITEMS = 3, TEXT = 32 };

/* The C globals: zero-initialised, so both start empty (version 0, object NULL). */
static floe_shared_data g_config;
static floe_shared_data g_handoff;

/* Exits when a call that should succeed does not. */
#define TRY(call) try_ok((call), #call, __LINE__)

static void try_ok(floe_status status, const char *call, int line)
{
    if (status != FLOE_OK) {
        fprintf(stderr, "shared_data.c:%d: %s failed with %s: %s\n", line, call, floe_status_name(status),
                floe_last_error_message());
        exit(1);
    }
}

/* Config {version: int, text: string}; set once on the main thread before any other thread starts. */
static floe_type config_type;
static size_t config_version, config_text;

static void define_types(void)
{
    const floe_field_def fields[] = {{"version", FLOE_KIND_INT}, {"text", FLOE_KIND_STRING}};
    TRY(floe_type_define("Config", fields, 2, &config_type));
    TRY(floe_type_field_index(config_type, "version", &config_version));
    TRY(floe_type_field_index(config_type, "text", &config_text));
}

static void config_text_of(int64_t version, char *buf, size_t len)
{
    snprintf(buf, len, "config v%" PRId64, version);
}

/* A new mutable Config owned by the calling thread. */
static floe_ref new_config(int64_t version)
{
    char text[TEXT];
    config_text_of(version, text, sizeof text);
    floe_ref config;
    TRY(floe_object_new(config_type, &config));
    TRY(floe_object_set_int(config, config_version, version));
    TRY(floe_object_set_string(config, config_text, text));
    return config;
}

/* ---- part 1: one writer publishes, four readers read ---- */

static atomic_bool g_writer_done;
/* The highest version any reader has seen, and which versions were seen at all. */
static atomic_int g_highest_seen;
static atomic_bool g_seen[VERSIONS + 1];

static void *writer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "writer"); /* before any floe call: floe names threads once */
    for (int64_t v = 1; v <= VERSIONS; v++) {
        floe_ref config = new_config(v);
        /*
         * Pacing, so that on a machine with few CPUs the writer cannot publish every version inside
         * one time slice while the readers wait for theirs: version v is published once a reader
         * has seen version v - 1. The other readers may still hold older versions meanwhile.
         */
        while (atomic_load(&g_highest_seen) < v - 1)
            sched_yield();
        /* The writer is the only publisher, so version v of g_config will be this Config. */
        TRY(floe_object_freeze(config, "publish"));
        TRY(floe_shared_data_publish(&g_config, config));
        TRY(floe_ref_release(config)); /* g_config keeps its own reference */
    }
    atomic_store(&g_writer_done, true);
    return NULL;
}

struct reader {
    int index;
    long reads, empty, inconsistent, backwards, mutable_roots, distinct;
    int32_t first, last;
    pthread_t thread;
};

/* One read: checks the pair; returns the version read. */
static int32_t read_once(struct reader *r)
{
    int32_t version = -1;
    floe_ref root = 0;
    TRY(floe_shared_data_read(&g_config, &version, &root));
    r->reads++;
    if (version < r->last)
        r->backwards++;
    r->distinct += version != r->last;
    r->last = version;
    if (root == 0) {
        r->empty += version != 0; /* only version 0, before the first publish, is empty */
        return version;
    }
    if (r->first == 0)
        r->first = version;
    int64_t stored = -1;
    bool frozen = false;
    char text[TEXT], want[TEXT];
    size_t len = 0;
    TRY(floe_object_get_int(root, config_version, &stored));
    TRY(floe_object_get_string(root, config_text, text, sizeof text, &len));
    TRY(floe_object_is_frozen(root, &frozen));
    config_text_of(version, want, sizeof want);
    if (stored != version || strcmp(text, want) != 0)
        r->inconsistent++;
    r->mutable_roots += !frozen;
    TRY(floe_ref_release(root)); /* the reader's own reference: the version may now be freed */
    if (version >= 0 && version <= VERSIONS)
        atomic_store(&g_seen[version], true);
    int highest = atomic_load(&g_highest_seen);
    while (highest < version && !atomic_compare_exchange_weak(&g_highest_seen, &highest, version)) {
    }
    return version;
}

static void *reader(void *arg)
{
    struct reader *r = arg;
    char name[16];
    snprintf(name, sizeof name, "reader-%d", r->index);
    pthread_setname_np(pthread_self(), name);
    while (!atomic_load(&g_writer_done))
        read_once(r);
    read_once(r); /* after the writer finished: the last version */
    return NULL;
}

static bool publish_and_read(void)
{
    printf("== part 1: 1 writer publishes %d frozen versions, %d readers read concurrently\n", VERSIONS, READERS);
    struct reader readers[READERS];
    memset(readers, 0, sizeof readers);
    for (int i = 0; i < READERS; i++) {
        readers[i].index = i;
        if (pthread_create(&readers[i].thread, NULL, reader, &readers[i]) != 0) {
            printf("shared_data: cannot start reader %d\n", i);
            return false;
        }
    }
    pthread_t writer_thread;
    if (pthread_create(&writer_thread, NULL, writer, NULL) != 0) {
        printf("shared_data: cannot start the writer\n");
        return false;
    }
    pthread_join(writer_thread, NULL);
    printf("writer: published versions 1..%d into g_config\n", VERSIONS);

    bool ok = true;
    for (int i = 0; i < READERS; i++) {
        struct reader *r = &readers[i];
        pthread_join(r->thread, NULL);
        bool good = r->inconsistent == 0 && r->backwards == 0 && r->empty == 0 && r->mutable_roots == 0 &&
                    r->last == VERSIONS;
        printf("reader-%d: %ld reads, %ld distinct versions from %" PRId32 " to %" PRId32
               ", %ld inconsistent, %ld backwards%s\n",
               i, r->reads, r->distinct, r->first, r->last, r->inconsistent, r->backwards, good ? "" : " <- WRONG");
        ok &= good;
    }
    int seen = 0;
    for (int v = 1; v <= VERSIONS; v++)
        seen += atomic_load(&g_seen[v]);
    printf("the readers together saw %d of %d versions\n", seen, VERSIONS);
    ok &= seen == VERSIONS;
    if (ok)
        printf("%d readers: every (version, root) pair consistent, every root frozen, versions never went backwards, "
               "each ended at version %d\n",
               READERS, VERSIONS);

    /* Only the last version is still live: every replaced one was freed once its readers let go. */
    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    bool one_left = stats.live_objects == 1 && stats.frozen_objects == 1 && stats.live_handles == 0;
    printf("after the readers: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64
           "%s\n",
           stats.live_objects, stats.frozen_objects, stats.live_handles,
           one_left ? " (only the published version)" : " <- WRONG, expected 1, 1, 0");
    return ok && one_left;
}

/* ---- part 2: a mutable graph parked for exactly one taker ---- */

struct taker {
    int index;
    floe_status status;
    int64_t sum;
    size_t items;
    pthread_t thread;
};

static pthread_barrier_t g_start;

static void *taker(void *arg)
{
    struct taker *t = arg;
    char name[16];
    snprintf(name, sizeof name, "taker-%d", t->index);
    pthread_setname_np(pthread_self(), name);
    pthread_barrier_wait(&g_start); /* all four take at once */
    floe_ref list = 0;
    t->status = floe_shared_data_take(&g_handoff, &list);
    if (t->status != FLOE_OK)
        return NULL;
    /* The winner owns the graph now: it may read and write it, then frees it by releasing the root. */
    TRY(floe_object_len(list, &t->items));
    for (size_t i = 0; i < t->items; i++) {
        floe_ref item;
        int64_t version = 0;
        TRY(floe_object_get_ref(list, i, &item));
        TRY(floe_object_get_int(item, config_version, &version));
        TRY(floe_object_set_int(item, config_version, version * 10));
        TRY(floe_object_set_string(item, config_text, "taken"));
        t->sum += version;
        TRY(floe_ref_release(item));
    }
    TRY(floe_ref_release(list));
    return NULL;
}

static bool put_and_take(void)
{
    printf("== part 2: a mutable graph put in g_handoff, %d threads race to take it\n", TAKERS);
    floe_ref list;
    TRY(floe_list_new(&list));
    for (int64_t i = 1; i <= ITEMS; i++) {
        floe_ref item = new_config(i);
        TRY(floe_list_push_ref(list, item));
        TRY(floe_ref_release(item)); /* only the root's handle may be left: SAFE mode checks it */
    }
    TRY(floe_shared_data_put(&g_handoff, list, FLOE_TRANSFER_MODE_SAFE)); /* consumes the handle */
    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    printf("main: put a list of %d Configs (version %" PRId32 "), detached_graphs %" PRIu64 "\n", ITEMS,
           g_handoff.version, stats.detached_graphs);

    struct taker takers[TAKERS];
    memset(takers, 0, sizeof takers);
    pthread_barrier_init(&g_start, NULL, TAKERS);
    for (int i = 0; i < TAKERS; i++) {
        takers[i].index = i;
        if (pthread_create(&takers[i].thread, NULL, taker, &takers[i]) != 0) {
            printf("shared_data: cannot start taker %d\n", i);
            return false;
        }
    }
    int winners = 0, consumed = 0, winner = -1;
    for (int i = 0; i < TAKERS; i++) {
        pthread_join(takers[i].thread, NULL);
        if (takers[i].status == FLOE_OK) {
            winners++;
            winner = i;
        } else if (takers[i].status == FLOE_ERR_CONSUMED) {
            consumed++;
        } else {
            printf("taker-%d: %s, expected FLOE_OK or FLOE_ERR_CONSUMED\n", i, floe_status_name(takers[i].status));
        }
    }
    pthread_barrier_destroy(&g_start);
    bool ok = winners == 1 && consumed == TAKERS - 1;
    printf("take race: %d winner, %d got FLOE_ERR_CONSUMED%s\n", winners, consumed, ok ? "" : " <- WRONG");
    if (winner >= 0) {
        bool whole = takers[winner].items == ITEMS && takers[winner].sum == 6;
        printf("the winner owned the whole graph: %zu items, versions summing to %" PRId64 "%s\n",
               takers[winner].items, takers[winner].sum, whole ? "" : " <- WRONG, expected 3 and 6");
        ok &= whole;
    }
    floe_ref again = 0;
    floe_status late = floe_shared_data_take(&g_handoff, &again);
    printf("a late take: %s\n", floe_status_name(late));
    TRY(floe_runtime_stats(&stats));
    return ok && late == FLOE_ERR_CONSUMED && again == 0 && stats.detached_graphs == 0;
}

int main(void)
{
    TRY(floe_runtime_init());
    define_types();
    bool ok = publish_and_read();
    ok &= put_and_take();

    printf("== end: publish 0 empties g_config\n");
    TRY(floe_shared_data_publish(&g_config, 0));
    int32_t version = -1;
    floe_ref root = 1;
    TRY(floe_shared_data_read(&g_config, &version, &root));
    printf("g_config: version %" PRId32 ", root %" PRIu64 ", object %s\n", version, root,
           g_config.object == NULL ? "NULL" : "not NULL");
    ok &= version == VERSIONS + 1 && root == 0 && g_config.object == NULL;

    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    printf("floe_runtime_stats: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64
           ", detached_graphs %" PRIu64 "\n",
           stats.live_objects, stats.frozen_objects, stats.live_handles, stats.detached_graphs);
    if (stats.live_objects != 0 || stats.frozen_objects != 0 || stats.live_handles != 0 || stats.detached_graphs != 0) {
        printf("shared_data: LEAK: something is still live\n");
        return 1;
    }
    if (!ok) {
        printf("shared_data: FAILED\n");
        return 1;
    }
    printf("shared_data: done: %d versions read whole and in order by %d readers, 1 of %d takers won, nothing leaked\n",
           VERSIONS, READERS, TAKERS);
    return 0;
}
