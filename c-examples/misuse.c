/*
 * misuse.c — every way a C host can misuse floe gives its own status and a message, never a crash.
 *
 * One line per check ("ok: ..." or "FAIL: ..."), then a summary line
 * "misuse: N checks passed, M failed"; the exit status is non-zero when any check failed.
 * Meant to run under AddressSanitizer and UBSan as well as plain.
 */

#define _GNU_SOURCE /* pthread_setname_np, pthread_barrier_t, nanosleep */

#include "checks.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>


static bool frozen(floe_ref object)
{
    bool is = true; /* a failing call reads as "frozen", which every caller here treats as wrong */
    SETUP(floe_object_is_frozen(object, &is));
    return is;
}

/* Node {name: string, count: int, next: ref, items: ref}, with its field indices. */
static floe_type node_type;
enum { NAME, COUNT, NEXT, ITEMS };

static floe_ref new_node(const char *name)
{
    floe_ref node = 0;
    SETUP(floe_object_new(node_type, &node));
    SETUP(floe_object_set_string(node, NAME, name));
    return node;
}

static void status_names(void)
{
    CHECK(strcmp(floe_status_name(FLOE_OK), "FLOE_OK") == 0, "floe_status_name(FLOE_OK) is \"FLOE_OK\"");
    CHECK(strcmp(floe_status_name(FLOE_ERR_FROZEN), "FLOE_ERR_FROZEN") == 0,
          "floe_status_name(FLOE_ERR_FROZEN) is \"FLOE_ERR_FROZEN\"");
    CHECK(strcmp(floe_status_name(FLOE_ERR_PANIC), "FLOE_ERR_PANIC") == 0,
          "floe_status_name(FLOE_ERR_PANIC) is \"FLOE_ERR_PANIC\"");
    CHECK(strcmp(floe_status_name(-1), "FLOE_UNKNOWN_STATUS") == 0 &&
              strcmp(floe_status_name(99), "FLOE_UNKNOWN_STATUS") == 0 &&
              strcmp(floe_status_name(INT32_MAX), "FLOE_UNKNOWN_STATUS") == 0,
          "floe_status_name of -1, 99, INT32_MAX is \"FLOE_UNKNOWN_STATUS\"");
    CHECK(floe_last_error_message() != NULL && floe_last_error_message()[0] == '\0' &&
              floe_last_error_status() == FLOE_OK,
          "before any failure: empty message, status FLOE_OK");
}

static void types(void)
{
    const floe_field_def fields[] = {
        {"name", FLOE_KIND_STRING}, {"count", FLOE_KIND_INT}, {"next", FLOE_KIND_REF}, {"items", FLOE_KIND_REF}};
    SETUP(floe_type_define("Node", fields, 4, &node_type));
    /* The enum above mirrors the declaration order; make sure floe agrees. */
    const char *names[] = {"name", "count", "next", "items"};
    size_t index = 99;
    bool in_order = true;
    for (size_t i = 0; i < 4; i++) {
        SETUP(floe_type_field_index(node_type, names[i], &index));
        in_order &= index == i;
    }
    CHECK(in_order, "floe_type_field_index gives Node's fields in declaration order");

    floe_type ty = 0;
    const floe_field_def twice[] = {{"a", FLOE_KIND_INT}, {"a", FLOE_KIND_BOOL}};
    const floe_field_def odd_kind[] = {{"a", 42}};
    const floe_field_def no_name[] = {{NULL, FLOE_KIND_INT}};
    if (expect(floe_type_define("Twice", twice, 2, &ty), FLOE_ERR_INVALID_ARGUMENT, "type with two fields named a"))
        CHECK(said("two fields named a"), "the message names the duplicate field");
    expect(floe_type_define("Odd", odd_kind, 1, &ty), FLOE_ERR_INVALID_ARGUMENT, "field kind 42");
    expect(floe_type_define("", NULL, 0, &ty), FLOE_ERR_INVALID_ARGUMENT, "empty type name");
    expect(floe_type_define("\xff\xfe", NULL, 0, &ty), FLOE_ERR_INVALID_ARGUMENT, "type name that is bad UTF-8");
    if (expect(floe_type_define("NoName", no_name, 1, &ty), FLOE_ERR_NULL, "NULL field name"))
        CHECK(said("fields[0].name"), "the message names fields[0].name");
    expect(floe_type_define("NoFields", NULL, 2, &ty), FLOE_ERR_NULL, "NULL fields with field_count 2");
    CHECK(ty == 0, "failed floe_type_define calls never wrote *out_type");

    if (expect(floe_type_field_index(node_type, "colour", &index), FLOE_ERR_UNKNOWN_FIELD, "unknown field name"))
        CHECK(said("colour") && said("items"), "the message names the field asked for and the fields there are");
    floe_ref object = 0;
    expect(floe_object_new(0, &object), FLOE_ERR_UNKNOWN_TYPE, "floe_object_new(type 0)");
    if (expect(floe_object_new(123456, &object), FLOE_ERR_UNKNOWN_TYPE, "floe_object_new(type 123456)"))
        CHECK(said("123456"), "the message names the unknown type id");
    expect(floe_type_field_index(UINT32_MAX, "name", &index), FLOE_ERR_UNKNOWN_TYPE,
           "floe_type_field_index(type UINT32_MAX)");
    CHECK(object == 0, "failed floe_object_new calls never wrote *out_object");
}

static void null_arguments(void)
{
    size_t len;
    floe_ref ref;
    if (expect(floe_object_len(0, &len), FLOE_ERR_NULL, "NULL handle: floe_object_len(0)"))
        CHECK(said("NULL"), "the message says NULL");
    expect(floe_object_set_int(0, 0, 1), FLOE_ERR_NULL, "NULL handle: floe_object_set_int(0)");
    expect(floe_object_freeze(0, "x"), FLOE_ERR_NULL, "NULL handle: floe_object_freeze(0)");
    expect(floe_ref_retain(0, &ref), FLOE_ERR_NULL, "NULL handle: floe_ref_retain(0)");
    expect(floe_ref_release(0), FLOE_ERR_NULL, "NULL handle: floe_ref_release(0)");

    floe_ref node = new_node("n");
    expect(floe_list_new(NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_list_new");
    expect(floe_object_new(node_type, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_object_new");
    if (expect(floe_object_get_int(node, COUNT, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_object_get_int"))
        CHECK(said("out_value"), "the message names the argument out_value");
    expect(floe_object_get_string(node, NAME, NULL, 8, &len), FLOE_ERR_NULL, "NULL buffer: floe_object_get_string");
    expect(floe_object_get_string_len(node, NAME, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_object_get_string_len");
    expect(floe_object_get_ref(node, NEXT, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_object_get_ref");
    expect(floe_object_is_frozen(node, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_object_is_frozen");
    expect(floe_ref_retain(node, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_ref_retain");
    expect(floe_runtime_stats(NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_runtime_stats");
    expect(floe_object_set_string(node, NAME, NULL), FLOE_ERR_NULL, "NULL string: floe_object_set_string");
    expect(floe_type_field_index(node_type, NULL, &len), FLOE_ERR_NULL, "NULL name: floe_type_field_index");
    SETUP(floe_object_len(node, &len));
    CHECK(len == 4, "the object is intact after the NULL arguments");
    SETUP(floe_ref_release(node));
}

static uint64_t xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void made_up_handles(void)
{
    enum { LIVE = 64, ROUNDS = 100000 };
    floe_ref live[LIVE];
    for (int i = 0; i < LIVE; i++)
        SETUP(floe_list_new(&live[i]));
    floe_stats before = stats();

    /* Each random value goes through a read, a write and a release; none may be taken as live. */
    uint64_t state = 0x9e3779b97f4a7c15u;
    int wrong = 0, silent = 0;
    for (int round = 0; round < ROUNDS; round++) {
        floe_ref h = xorshift(&state);
        bool is_live = false;
        for (int i = 0; i < LIVE; i++)
            is_live |= live[i] == h;
        if (is_live)
            continue;
        size_t len;
        floe_status read = floe_object_len(h, &len);
        silent += floe_last_error_message()[0] == '\0';
        floe_status write = floe_object_set_int(h, 0, 1);
        floe_status release = floe_ref_release(h);
        wrong += read != FLOE_ERR_INVALID_HANDLE && read != FLOE_ERR_RELEASED_HANDLE;
        wrong += write != FLOE_ERR_INVALID_HANDLE && write != FLOE_ERR_RELEASED_HANDLE;
        wrong += release != FLOE_ERR_INVALID_HANDLE && release != FLOE_ERR_DOUBLE_RELEASE;
    }
    CHECK(wrong == 0 && silent == 0,
          "100000 random 64-bit handles -> FLOE_ERR_INVALID_HANDLE (or RELEASED/DOUBLE_RELEASE), each with a message");
    floe_stats after = stats();
    CHECK(after.live_handles == before.live_handles && after.live_objects == before.live_objects,
          "the random handles released nothing and created nothing");

    /* A live handle's slot with a generation it never had, and a slot far beyond any allocated. */
    size_t len;
    if (expect(floe_object_len(live[0] + (UINT64_C(2) << 32), &len), FLOE_ERR_INVALID_HANDLE,
               "live slot, generation never issued"))
        CHECK(said("not a handle this runtime issued"), "the message says the handle was never issued");
    expect(floe_object_len(UINT64_C(0x7fffffff00000001), &len), FLOE_ERR_INVALID_HANDLE, "slot far beyond the table");

    for (int i = 0; i < LIVE; i++)
        SETUP(floe_ref_release(live[i]));
}

static void released_handles(void)
{
    floe_ref list;
    SETUP(floe_list_new(&list));
    SETUP(floe_list_push_int(list, 7));
    SETUP(floe_ref_release(list));
    floe_stats before = stats();

    int64_t value = -1;
    if (expect(floe_object_get_int(list, 0, &value), FLOE_ERR_RELEASED_HANDLE, "use after release: floe_object_get_int"))
        CHECK(said("was released"), "the message says the handle was released");
    CHECK(value == -1, "use after release never wrote *out_value");
    expect(floe_list_push_int(list, 8), FLOE_ERR_RELEASED_HANDLE, "use after release: floe_list_push_int");
    if (expect(floe_ref_release(list), FLOE_ERR_DOUBLE_RELEASE, "double release"))
        CHECK(said("already released"), "the message says already released");

    /* The slot is reused by the next handle; the old handle stays dead (its generation differs). */
    floe_ref fresh;
    SETUP(floe_list_new(&fresh));
    size_t len = 99;
    expect(floe_object_len(list, &len), FLOE_ERR_RELEASED_HANDLE, "stale handle after its slot is reused");
    expect(floe_ref_release(list), FLOE_ERR_DOUBLE_RELEASE, "double release after its slot is reused");
    SETUP(floe_object_len(fresh, &len));
    CHECK(len == 0, "the new handle in the reused slot works");
    SETUP(floe_ref_release(fresh));
    floe_stats after = stats();
    CHECK(after.live_handles == before.live_handles && after.live_objects == before.live_objects,
          "released and double-released handles changed no counter");
}

/* The second thread: every use of the main thread's mutable list `arg` must be refused. */
static void *intruder(void *arg)
{
    /* floe names a thread when it first sees it: set the OS name before any floe call. */
    pthread_setname_np(pthread_self(), "intruder");
    const floe_ref theirs = *(const floe_ref *)arg;

    CHECK(floe_last_error_message()[0] == '\0' && floe_last_error_status() == FLOE_OK,
          "second thread: its own last error starts empty");
    int64_t value = -1;
    if (expect(floe_object_get_int(theirs, 0, &value), FLOE_ERR_WRONG_THREAD, "second thread reads main's mutable list")) {
        CHECK(said("owned by thread main") && said("calling thread is intruder"),
              "the message names both threads (main, intruder)");
    }
    CHECK(value == -1, "the refused read never wrote *out_value");
    expect(floe_list_push_int(theirs, 2), FLOE_ERR_WRONG_THREAD, "second thread pushes onto main's list");
    expect(floe_object_set_int(theirs, 0, 2), FLOE_ERR_WRONG_THREAD, "second thread sets main's list element");
    expect(floe_object_freeze(theirs, "steal"), FLOE_ERR_WRONG_THREAD, "second thread freezes main's list");
    floe_ref copy = 0;
    expect(floe_ref_retain(theirs, &copy), FLOE_ERR_WRONG_THREAD, "second thread retains main's list");

    /* Storing a reference to main's object would make a mutable object reachable from two threads. */
    floe_ref mine;
    SETUP(floe_list_new(&mine));
    if (expect(floe_list_push_ref(mine, theirs), FLOE_ERR_WRONG_THREAD, "second thread stores a ref to main's list"))
        CHECK(said("owned by thread main"), "the message names the owner");
    SETUP(floe_ref_release(mine));

    if (expect(floe_runtime_init(), FLOE_ERR_ALREADY_INITIALIZED, "floe_runtime_init on a second thread"))
        CHECK(said("thread intruder") && said("thread main, which is main"), "the message names both threads");
    return NULL;
}

static void *releaser(void *arg)
{
    pthread_setname_np(pthread_self(), "releaser");
    floe_ref handle = *(floe_ref *)arg;
    CHECK(floe_ref_release(handle) == FLOE_OK, "another thread releases main's last handle to its list");
    expect(floe_ref_release(handle), FLOE_ERR_DOUBLE_RELEASE, "and releases it again");
    return NULL;
}

static void wrong_thread(void)
{
    floe_ref list;
    SETUP(floe_list_new(&list));
    SETUP(floe_list_push_int(list, 1));
    floe_stats before = stats();

    pthread_t thread;
    if (!CHECK(pthread_create(&thread, NULL, intruder, &list) == 0 && pthread_join(thread, NULL) == 0,
               "the second thread ran"))
        return;

    size_t len = 0;
    int64_t value = 0;
    SETUP(floe_object_len(list, &len));
    SETUP(floe_object_get_int(list, 0, &value));
    CHECK(len == 1 && value == 1 && !frozen(list), "main's list is unchanged and its handle still live");
    floe_stats after = stats();
    CHECK(after.live_handles == before.live_handles && after.live_objects == before.live_objects,
          "the second thread leaked nothing and released nothing");

    /* Any thread may release a handle (a C++ destructor, a Swift deinit runs wherever the last host
       reference went); the owner drops the reference at its next drain. */
    floe_ref last;
    SETUP(floe_ref_retain(list, &last));
    SETUP(floe_ref_release(list));
    if (!CHECK(pthread_create(&thread, NULL, releaser, &last) == 0 && pthread_join(thread, NULL) == 0,
               "the releasing thread ran"))
        return;
    after = stats();
    CHECK(after.live_handles == before.live_handles - 1 && after.live_objects == before.live_objects,
          "the handle ended at once; the list waits for its owner");
    size_t freed = 0;
    SETUP(floe_runtime_collect_cycles(&freed));
    CHECK(stats().live_objects == before.live_objects - 1, "the owner's next drain freed the list");
}

/* root -> next -> items list of 5 Nodes; the caller gets all of them. */
struct graph {
    floe_ref root, next, items, item[5];
};

static struct graph build_graph(void)
{
    struct graph g;
    g.root = new_node("root");
    g.next = new_node("next");
    SETUP(floe_list_new(&g.items));
    SETUP(floe_object_set_ref(g.root, NEXT, g.next));
    SETUP(floe_object_set_ref(g.next, ITEMS, g.items));
    for (int i = 0; i < 5; i++) {
        g.item[i] = new_node("item");
        SETUP(floe_list_push_ref(g.items, g.item[i]));
    }
    return g;
}

static void release_graph(struct graph *g)
{
    floe_ref all[] = {g->root, g->next, g->items, g->item[0], g->item[1], g->item[2], g->item[3], g->item[4]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        SETUP(floe_ref_release(all[i]));
}

static void freeze_blocked(void)
{
    struct graph g = build_graph();
    SETUP(floe_object_ensure_never_frozen(g.item[2]));
    uint64_t frozen_before = stats().frozen_objects;

    if (expect(floe_object_freeze(g.root, "blocked"), FLOE_ERR_FREEZE_BLOCKED, "freeze reaching a never-frozen object")) {
        CHECK(said("at Node.next.items[2]"), "the message gives the path Node.next.items[2]");
        CHECK(said("nothing was frozen"), "the message says nothing was frozen");
    }
    bool any = frozen(g.root) || frozen(g.next) || frozen(g.items);
    for (int i = 0; i < 5; i++)
        any |= frozen(g.item[i]);
    CHECK(!any && stats().frozen_objects == frozen_before, "nothing was frozen: floe_object_is_frozen false everywhere");
    CHECK(floe_object_set_int(g.next, COUNT, 3) == FLOE_OK, "the graph is still writable after the blocked freeze");

    /* Freezing the blocker itself, or from inside the graph through it, is blocked the same way. */
    if (expect(floe_object_freeze(g.item[2], NULL), FLOE_ERR_FREEZE_BLOCKED, "freezing the never-frozen object itself"))
        CHECK(!frozen(g.item[2]), "the never-frozen object stays mutable");
    release_graph(&g);
}

static void frozen_writes(void)
{
    struct graph g = build_graph();
    if (expect(floe_object_freeze(g.root, "\xc3\x28"), FLOE_ERR_INVALID_ARGUMENT, "freeze label that is bad UTF-8"))
        CHECK(!frozen(g.root) && !frozen(g.item[4]), "a bad label froze nothing");
    SETUP(floe_object_freeze(g.root, "misuse-freeze"));

    if (expect(floe_object_set_string(g.item[1], NAME, "x"), FLOE_ERR_FROZEN, "write to a frozen object")) {
        CHECK(said("frozen by freeze(") && said("\"misuse-freeze\""), "the message names the freeze and its label");
        CHECK(said("reached via Node.next.items[1]"), "the message gives the path from the freeze root");
        CHECK(said("on thread main") && said("calling thread: main"), "the message names the freezing and calling threads");
    }
    if (expect(floe_object_set_ref(g.root, NEXT, 0), FLOE_ERR_FROZEN, "clearing a ref of the frozen root"))
        CHECK(said("as the root"), "the message says the object was the freeze's root");
    expect(floe_list_push_int(g.items, 1), FLOE_ERR_FROZEN, "push onto a frozen list");
    expect(floe_object_ensure_never_frozen(g.next), FLOE_ERR_FROZEN, "ensure_never_frozen on a frozen object");

    /* Positive controls: a mutable object may point at a frozen one; a second freeze is a no-op. */
    floe_ref holder = new_node("holder");
    SETUP(floe_object_set_ref(holder, NEXT, g.next));
    CHECK(!frozen(holder), "a mutable object may refer to a frozen one and stays mutable");
    SETUP(floe_ref_release(holder));
    CHECK(floe_object_freeze(g.root, "again") == FLOE_OK, "freezing a frozen graph again is a no-op");
    release_graph(&g);
}

static void kinds_ranges_buffers(void)
{
    floe_ref node = new_node("hello");
    floe_ref list;
    SETUP(floe_list_new(&list));
    SETUP(floe_list_push_int(list, 5));

    int64_t value = -1;
    if (expect(floe_object_set_int(node, NAME, 1), FLOE_ERR_WRONG_KIND, "set_int on a string field"))
        CHECK(said("Node") && said(".name") && said("a string") && said("an int"), "the message names field and both kinds");
    if (expect(floe_object_get_int(node, NAME, &value), FLOE_ERR_WRONG_KIND, "get_int of a string field"))
        CHECK(value == -1, "the wrong-kind read never wrote *out_value");
    expect(floe_object_set_ref(node, COUNT, list), FLOE_ERR_WRONG_KIND, "set_ref on an int field");
    size_t len = 0;
    expect(floe_object_get_string_len(list, 0, &len), FLOE_ERR_WRONG_KIND, "string length of an int list element");
    if (expect(floe_list_push_int(node, 1), FLOE_ERR_NOT_A_LIST, "push onto a Node"))
        CHECK(said("not a list"), "the message says it is not a list");

    if (expect(floe_object_get_int(list, 1, &value), FLOE_ERR_OUT_OF_RANGE, "list element 1 of 1"))
        CHECK(said("[1]") && said("has 1"), "the message gives the index and the length");
    expect(floe_object_set_int(node, 4, 1), FLOE_ERR_OUT_OF_RANGE, "field 4 of a 4-field type");
    expect(floe_object_get_int(list, SIZE_MAX, &value), FLOE_ERR_OUT_OF_RANGE, "index SIZE_MAX");
    uint32_t kind = 0;
    expect(floe_object_kind_at(node, 100, &kind), FLOE_ERR_OUT_OF_RANGE, "floe_object_kind_at(100)");
    CHECK(value == -1 && kind == 0, "out-of-range reads never wrote their out-values");

    if (expect(floe_object_set_string(node, NAME, "bad \xff utf-8"), FLOE_ERR_INVALID_ARGUMENT, "set_string with bad UTF-8"))
        CHECK(said("UTF-8"), "the message says UTF-8");
    expect(floe_list_push_string(list, "\xed\xa0\x80"), FLOE_ERR_INVALID_ARGUMENT, "push_string of a UTF-16 surrogate");

    /* "hello" needs 6 bytes with its NUL: 5 is too small, and nothing is written. */
    char buf[8];
    memset(buf, '#', sizeof buf);
    len = 99;
    if (expect(floe_object_get_string(node, NAME, buf, 5, &len), FLOE_ERR_BUFFER_TOO_SMALL, "5-byte buffer for \"hello\""))
        CHECK(said("6 bytes"), "the message says 6 bytes are needed");
    CHECK(buf[0] == '#' && buf[4] == '#' && len == 99, "the short buffer and *out_len are untouched");
    expect(floe_object_get_string(node, NAME, buf, 0, &len), FLOE_ERR_BUFFER_TOO_SMALL, "0-byte buffer");
    SETUP(floe_object_get_string(node, NAME, buf, 6, &len));
    CHECK(len == 5 && strcmp(buf, "hello") == 0, "a 6-byte buffer holds \"hello\"");

    size_t n = 0;
    SETUP(floe_object_len(list, &n));
    CHECK(n == 1, "the refused writes left the list as it was");
    SETUP(floe_ref_release(list));
    SETUP(floe_ref_release(node));
}

/* ---- transfers, detached graphs, workers, futures, the main queue ---- */

static bool same_counts(floe_stats a, floe_stats b)
{
    return a.live_objects == b.live_objects && a.frozen_objects == b.frozen_objects &&
           a.live_handles == b.live_handles && a.detached_graphs == b.detached_graphs;
}

/* Releases every handle of `g` but the root (and `keep`, when it is one of them). */
static void release_all_but_root(struct graph *g, floe_ref keep)
{
    floe_ref rest[] = {g->next, g->items, g->item[0], g->item[1], g->item[2], g->item[3], g->item[4]};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        if (rest[i] != keep)
            SETUP(floe_ref_release(rest[i]));
}

/* A producer whose root is a second handle to `*(floe_ref *)arg`: the caller keeps its own. */
static floe_status retain_producer(void *arg, floe_ref *out_root)
{
    return floe_ref_retain(*(const floe_ref *)arg, out_root);
}

/* A producer making a fresh list of one int: nothing else refers to it. */
static floe_status list_producer(void *arg, floe_ref *out_root)
{
    (void)arg;
    floe_status status = floe_list_new(out_root);
    return status == FLOE_OK ? floe_list_push_int(*out_root, 1) : status;
}

/* Jobs: plain C functions, run on a worker; each releases its input. */
static floe_status quick_job(floe_ref input, floe_ref *out_result)
{
    (void)out_result;
    return input != 0 ? floe_ref_release(input) : FLOE_OK;
}

/* Fails for a reason of its own, explained with floe_last_error_set. */
static floe_status explaining_job(floe_ref input, floe_ref *out_result)
{
    (void)out_result;
    if (input != 0)
        floe_ref_release(input);
    floe_last_error_set(FLOE_ERR_INVALID_ARGUMENT, "the order has no lines");
    return FLOE_ERR_INVALID_ARGUMENT;
}

/* A delivery's callback: records how it was called. */
struct delivery_record {
    atomic_int calls;
    floe_status status;
};

static void record_delivery(floe_status status, floe_ref result, void *user_data)
{
    struct delivery_record *record = user_data;
    record->status = status;
    if (result != 0)
        floe_ref_release(result);
    atomic_fetch_add(&record->calls, 1);
}

static floe_status sleepy_job(floe_ref input, floe_ref *out_result)
{
    const struct timespec nap = {0, 300 * 1000 * 1000};
    nanosleep(&nap, NULL);
    return quick_job(input, out_result);
}

/* Fails as a job does when a floe call in it fails: with that call's status (and message). */
static floe_status failing_job(floe_ref input, floe_ref *out_result)
{
    (void)out_result;
    floe_ref list;
    floe_status status = floe_list_new(&list);
    int64_t value;
    if (status == FLOE_OK) {
        status = floe_object_get_int(list, 5, &value);
        floe_ref_release(list);
    }
    if (input != 0)
        floe_ref_release(input);
    return status;
}

static void ignore_outcome(floe_status status, floe_ref result, void *user_data)
{
    (void)status, (void)result, (void)user_data;
}

static uint32_t future_state(floe_future future)
{
    uint32_t state = 0;
    SETUP(floe_future_get_state(future, &state));
    return state;
}

static void transfer_safe(uint32_t worker)
{
    floe_stats empty = stats();
    struct graph g = build_graph();
    uint32_t item_id = 0, root_id = 0;
    SETUP(floe_object_id(g.item[3], &item_id));
    SETUP(floe_object_id(g.root, &root_id));
    floe_ref outsider = new_node("outsider");
    SETUP(floe_object_set_ref(outsider, NEXT, g.item[3]));
    release_all_but_root(&g, 0);
    floe_stats before = stats();

    void *graph = NULL;
    if (expect(floe_object_detach(g.root, FLOE_TRANSFER_MODE_SAFE, &graph), FLOE_ERR_NOT_TRANSFERABLE,
               "SAFE detach of a graph that an outside object refers into")) {
        char where[64];
        snprintf(where, sizeof where, "Node#%" PRIu32 " at Node.next.items[3]", item_id);
        CHECK(said(where) && said("from outside the graph") && said("nothing moved"),
              "the message names the object referred to and its path Node.next.items[3], and says nothing moved");
    }
    floe_ref next = 0;
    size_t len = 0;
    bool usable = floe_object_set_int(g.root, COUNT, 1) == FLOE_OK && floe_object_get_ref(g.root, NEXT, &next) == FLOE_OK &&
                  floe_object_set_int(next, COUNT, 2) == FLOE_OK;
    if (next != 0)
        SETUP(floe_ref_release(next));
    CHECK(usable && graph == NULL && same_counts(stats(), before),
          "nothing moved: the graph is still main's and writable, no graph was detached, *out_graph untouched");

    /* The same through floe_worker_execute: its producer's root is refused and released. */
    floe_future future = 0;
    if (expect(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, retain_producer, &g.root, quick_job, &future),
               FLOE_ERR_NOT_TRANSFERABLE, "floe_worker_execute SAFE of a root main still holds a handle to")) {
        char where[64];
        snprintf(where, sizeof where, "Node#%" PRIu32 " at the root", root_id);
        CHECK(said(where), "the message says the root itself is referred to from outside");
    }
    CHECK(future == 0 && same_counts(stats(), before) && floe_object_len(g.root, &len) == FLOE_OK,
          "nothing was scheduled: the producer's handle was released, the root still usable");

    /* Once the outside reference is gone, the graph may leave. */
    SETUP(floe_ref_release(outsider));
    CHECK(floe_object_detach(g.root, FLOE_TRANSFER_MODE_SAFE, &graph) == FLOE_OK && graph != NULL,
          "SAFE detach succeeds once the outside object is released");
    SETUP(floe_graph_dispose(graph));
    CHECK(same_counts(stats(), empty), "the disposed graph is freed");
}

/* The receiver of an UNSAFE transfer, and the handle main left behind. */
struct unsafe_receiver {
    void *graph;
    floe_ref left;
    pthread_barrier_t attached, checked;
};

static void *receiver(void *arg)
{
    pthread_setname_np(pthread_self(), "receiver");
    struct unsafe_receiver *r = arg;
    floe_ref root = 0;
    int64_t count = -1;
    bool ok = floe_graph_attach(r->graph, &root) == FLOE_OK && floe_object_get_int(r->left, COUNT, &count) == FLOE_OK;
    CHECK(ok && count == 0, "receiver thread attaches the graph; the handle main left behind works there");
    pthread_barrier_wait(&r->attached);
    pthread_barrier_wait(&r->checked);
    CHECK(floe_ref_release(r->left) == FLOE_OK && floe_ref_release(root) == FLOE_OK,
          "receiver thread releases the left-behind handle and the root");
    return NULL;
}

static void transfer_unsafe(void)
{
    floe_stats empty = stats();
    struct graph g = build_graph();
    struct unsafe_receiver r = {.graph = NULL, .left = g.item[1]};
    release_all_but_root(&g, r.left);

    if (!CHECK(floe_object_detach(g.root, FLOE_TRANSFER_MODE_UNSAFE, &r.graph) == FLOE_OK,
               "UNSAFE detach succeeds although main keeps a handle into the graph"))
        return;
    int64_t value = -1;
    if (expect(floe_object_get_int(r.left, COUNT, &value), FLOE_ERR_WRONG_THREAD,
               "main uses its left-behind handle while the graph is detached"))
        CHECK(said("in transit") && said("owned by no thread"), "the message says the object is in transit");

    pthread_barrier_init(&r.attached, NULL, 2);
    pthread_barrier_init(&r.checked, NULL, 2);
    pthread_t thread;
    if (!CHECK(pthread_create(&thread, NULL, receiver, &r) == 0, "the receiver thread started"))
        return;
    pthread_barrier_wait(&r.attached);
    if (expect(floe_object_set_int(r.left, COUNT, 1), FLOE_ERR_WRONG_THREAD,
               "main writes through its left-behind handle after the receiver attached"))
        CHECK(said("owned by thread receiver") && said("calling thread is main"),
              "the message says the receiver owns it now");
    CHECK(value == -1, "the refused read never wrote *out_value");
    pthread_barrier_wait(&r.checked);
    pthread_join(thread, NULL);
    pthread_barrier_destroy(&r.attached);
    pthread_barrier_destroy(&r.checked);
    CHECK(same_counts(stats(), empty), "after the receiver released it all, nothing is left");
}

static void detached_graphs(void)
{
    floe_stats empty = stats();
    floe_ref list, first_root = 0, again = 0;
    SETUP(floe_list_new(&list));
    SETUP(floe_list_push_int(list, 42));
    void *first = NULL;
    SETUP(floe_object_detach(list, FLOE_TRANSFER_MODE_SAFE, &first));
    CHECK(stats().detached_graphs == empty.detached_graphs + 1, "a detached graph is counted in detached_graphs");
    SETUP(floe_graph_attach(first, &first_root));

    if (expect(floe_graph_attach(first, &again), FLOE_ERR_ALREADY_ATTACHED, "second attach of a detached graph"))
        CHECK(said("already attached"), "the message says it was already attached");
    int64_t value = 0;
    CHECK(again == 0 && floe_object_get_int(first_root, 0, &value) == FLOE_OK && value == 42 &&
              floe_list_push_int(first_root, 43) == FLOE_OK,
          "the first attached graph stays valid, and the second attach wrote no handle");
    expect(floe_graph_dispose(first), FLOE_ERR_ALREADY_ATTACHED, "dispose of an attached graph");
    SETUP(floe_ref_release(first_root));

    void *second = NULL;
    SETUP(floe_list_new(&list));
    SETUP(floe_object_detach(list, FLOE_TRANSFER_MODE_SAFE, &second));
    SETUP(floe_graph_dispose(second));
    if (expect(floe_graph_attach(second, &again), FLOE_ERR_DISPOSED, "attach of a disposed graph"))
        CHECK(said("disposed"), "the message says it was disposed");
    expect(floe_graph_dispose(second), FLOE_ERR_DISPOSED, "second dispose of a graph");

    if (expect(floe_graph_attach((void *)(uintptr_t)0x12345678u, &again), FLOE_ERR_INVALID_HANDLE,
               "garbage void* 0x12345678 to floe_graph_attach"))
        CHECK(said("not a live detached graph this runtime issued"), "the message says floe never issued it");
    expect(floe_graph_attach(&again, &again), FLOE_ERR_INVALID_HANDLE, "the address of a C variable to floe_graph_attach");
    expect(floe_graph_attach(NULL, &again), FLOE_ERR_NULL, "NULL graph to floe_graph_attach");
    expect(floe_graph_dispose((void *)(uintptr_t)0x12345678u), FLOE_ERR_INVALID_HANDLE, "garbage void* to floe_graph_dispose");
    CHECK(again == 0 && same_counts(stats(), empty), "the refused attaches wrote nothing and left nothing behind");
}

static void workers_and_futures(uint32_t worker)
{
    floe_stats empty = stats();
    floe_future future = 0;
    floe_ref result = 0;
    if (expect(floe_worker_execute(999999, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, quick_job, &future),
               FLOE_ERR_UNKNOWN_WORKER, "floe_worker_execute on unknown worker id 999999"))
        CHECK(said("999999"), "the message names the worker id");
    expect(floe_future_deliver(1, 999999, ignore_outcome, NULL), FLOE_ERR_UNKNOWN_WORKER,
           "floe_future_deliver to unknown worker id 999999");
    /* Workers' and object types' ids have ranges of their own: neither is taken for the other. */
    if (expect(floe_worker_execute(node_type, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, quick_job, &future),
               FLOE_ERR_UNKNOWN_WORKER, "floe_worker_execute given an object type's id"))
        CHECK(said("object types' range"), "the message says the id is an object type's");
    floe_ref made = 0;
    if (expect(floe_object_new(worker, &made), FLOE_ERR_UNKNOWN_TYPE, "floe_object_new given a worker's id"))
        CHECK(said("workers' range") && made == 0, "the message says the id is a worker's; no object was made");
    if (expect(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, NULL, &future), FLOE_ERR_NULL,
               "NULL job"))
        CHECK(said("job"), "the message names the argument job");
    expect(floe_worker_execute(worker, 7, NULL, NULL, quick_job, &future), FLOE_ERR_INVALID_ARGUMENT, "transfer mode 7");
    CHECK(future == 0, "failed floe_worker_execute calls never wrote *out_future");

    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, failing_job, &future));
    if (expect(floe_future_wait(future, -1, &result), FLOE_ERR_OUT_OF_RANGE,
               "wait on a job that failed with FLOE_ERR_OUT_OF_RANGE"))
        CHECK(said("the job failed") && said("floe_object_get_int") && said("out of range"),
              "the message says the job failed, and gives the job's own message");
    CHECK(future_state(future) == FLOE_FUTURE_STATE_FAILED && result == 0,
          "the future is FAILED and the wait wrote no result");
    expect(floe_future_wait(future, 0, &result), FLOE_ERR_OUT_OF_RANGE, "a failure stays readable: wait again");
    SETUP(floe_future_release(future));

    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, explaining_job, &future));
    if (expect(floe_future_wait(future, -1, &result), FLOE_ERR_INVALID_ARGUMENT,
               "wait on a job that explained its failure with floe_last_error_set"))
        CHECK(said("the job failed") && said("the order has no lines"), "the future keeps the job's own message");
    SETUP(floe_future_release(future));
    expect(floe_last_error_set(FLOE_OK, "fine"), FLOE_ERR_INVALID_ARGUMENT, "floe_last_error_set with FLOE_OK");
    expect(floe_last_error_set(FLOE_ERR_FROZEN, NULL), FLOE_ERR_NULL, "floe_last_error_set with a NULL message");

    /* A delivery whose worker terminates before running it still calls back, once. */
    {
        uint32_t doomed = 0;
        floe_future busy = 0, made = 0, stopped = 0;
        struct delivery_record record = {0};
        SETUP(floe_worker_start("doomed", &doomed));
        SETUP(floe_worker_execute(doomed, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, sleepy_job, &busy));
        SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, quick_job, &made));
        SETUP(floe_future_deliver(made, doomed, record_delivery, &record));
        SETUP(floe_worker_request_termination(doomed, false, &stopped));
        SETUP(floe_future_wait(stopped, -1, &result));
        for (int waited = 0; atomic_load(&record.calls) == 0 && waited < 5000; waited++) {
            const struct timespec ms = {0, 1000 * 1000};
            nanosleep(&ms, NULL);
        }
        CHECK(atomic_load(&record.calls) == 1 && record.status == FLOE_ERR_WORKER_TERMINATED,
              "a delivery to a worker that terminated first calls back once, with FLOE_ERR_WORKER_TERMINATED");
        SETUP(floe_future_release(busy));
        SETUP(floe_future_release(made));
        SETUP(floe_future_release(stopped));
    }

    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, sleepy_job, &future));
    if (expect(floe_future_wait(future, 20, &result), FLOE_ERR_TIMEOUT, "floe_future_wait(20 ms) on a 300 ms job"))
        CHECK(future_state(future) == FLOE_FUTURE_STATE_SCHEDULED, "the timed-out future is still SCHEDULED");
    size_t index = 99;
    expect(floe_future_wait_any(&future, 1, 10, &index), FLOE_ERR_TIMEOUT, "floe_future_wait_any(10 ms) on it");
    CHECK(floe_future_wait(future, -1, &result) == FLOE_OK && result == 0 && index == 99,
          "waiting again without a timeout takes the (empty) result");
    expect(floe_future_wait(future, -1, &result), FLOE_ERR_CONSUMED, "second wait on a consumed future");
    expect(floe_future_wait_any(&future, 0, 10, &index), FLOE_ERR_INVALID_ARGUMENT, "floe_future_wait_any of 0 futures");
    SETUP(floe_future_release(future));
    if (expect(floe_future_wait(future, 0, &result), FLOE_ERR_RELEASED_HANDLE, "wait on a released future"))
        CHECK(said("released"), "the message says the future was released");
    expect(floe_future_consume(future, 0, ignore_outcome, NULL), FLOE_ERR_RELEASED_HANDLE,
           "consume of a released future");
    expect(floe_future_release(future), FLOE_ERR_RELEASED_HANDLE, "second release of a future");
    expect(floe_future_wait(UINT64_C(0x7777000012345), 0, &result), FLOE_ERR_INVALID_HANDLE, "made-up future id");

    /* Termination: a worker asked to stop takes no new job; once stopped, its id is gone. */
    floe_future done = 0, refused = 0;
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, sleepy_job, &future));
    SETUP(floe_worker_request_termination(worker, true, &done));
    if (expect(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, quick_job, &refused),
               FLOE_ERR_WORKER_TERMINATED, "floe_worker_execute on a worker asked to terminate"))
        CHECK(said("asked to terminate"), "the message says the worker was asked to terminate");
    CHECK(floe_future_wait(future, -1, &result) == FLOE_OK, "the job queued before the request still ran");
    SETUP(floe_future_wait(done, -1, &result));
    SETUP(floe_future_release(done));
    SETUP(floe_future_release(future));
    if (expect(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, quick_job, &refused),
               FLOE_ERR_UNKNOWN_WORKER, "floe_worker_execute on a terminated worker"))
        CHECK(said("terminated"), "the message says the worker may have terminated");
    CHECK(refused == 0 && same_counts(stats(), empty), "the refused jobs left nothing behind (their input freed)");
    expect(floe_worker_request_termination(FLOE_WORKER_MAIN, true, &done), FLOE_ERR_INVALID_ARGUMENT,
           "terminating the main queue");
}

static void *drainer(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "drainer");
    size_t ran = 99;
    if (expect(floe_main_queue_drain(10, &ran), FLOE_ERR_WRONG_THREAD, "floe_main_queue_drain on a non-main pthread"))
        CHECK(said("only its own thread (main)") && said("calling thread is drainer"),
              "the message names the main thread and the caller");
    CHECK(ran == 99, "the refused drain never wrote *out_ran");
    return NULL;
}

static void main_queue(void)
{
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, drainer, NULL) == 0 && pthread_join(thread, NULL) == 0, "the drainer thread ran");
    size_t ran = 99;
    CHECK(floe_main_queue_drain(10, &ran) == FLOE_OK && ran == 0, "the main thread drains its (empty) queue");
    expect(floe_worker_process_queue(FLOE_WORKER_MAIN, NULL), FLOE_ERR_NULL, "NULL out-pointer: floe_worker_process_queue");

    /* Waiting on the main thread for a job in the main queue could never end: only this thread
     * drains it. An error at once, not a hang; drained, the job runs and the wait succeeds. */
    floe_future queued = 0;
    floe_ref result = 0;
    SETUP(floe_worker_execute(FLOE_WORKER_MAIN, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, quick_job, &queued));
    if (expect(floe_future_wait(queued, -1, &result), FLOE_ERR_WOULD_DEADLOCK, "wait on main for a main-queue job"))
        CHECK(said("floe_main_queue_drain") && result == 0, "the message says to drain the queue first");
    CHECK(floe_main_queue_drain(10, &ran) == FLOE_OK && ran == 1, "drained, the job runs");
    CHECK(floe_future_wait(queued, -1, &result) == FLOE_OK, "and the wait takes its result");
    if (result != 0)
        floe_ref_release(result);
    SETUP(floe_future_release(queued));
}

/* ---- atomics, globals, shared data, pools, shutdown ---- */

/* Counter {hits: atomic int, total: atomic long, latest: atomic ref}, with its field indices. */
static floe_type counter_type;
enum { HITS, TOTAL, LATEST };

static floe_ref new_counter(void)
{
    floe_ref counter = 0;
    SETUP(floe_object_new(counter_type, &counter));
    return counter;
}

enum { ADDS = 1000 };
#define BIG_STEP (INT64_C(1) << 33) /* an atomic long's step that no 32-bit int could hold */

/* Adds to the shared frozen counter from its own pthread, through its own handle. */
struct adder {
    floe_ref counter;
    floe_status status;
};

static void *add_from_thread(void *arg)
{
    pthread_setname_np(pthread_self(), "adder");
    struct adder *a = arg;
    int64_t now = 0;
    a->status = FLOE_OK;
    for (int i = 0; i < ADDS && a->status == FLOE_OK; i++) {
        a->status = floe_object_atomic_add(a->counter, HITS, 1, &now);
        if (a->status == FLOE_OK)
            a->status = floe_object_atomic_add(a->counter, TOTAL, BIG_STEP, &now);
    }
    if (a->status == FLOE_OK)
        a->status = floe_ref_release(a->counter); /* frozen: any thread may release its handle */
    return NULL;
}

/* Every atomic operation on main's mutable Counter `arg` is refused on another thread. */
static void *atomic_intruder(void *arg)
{
    pthread_setname_np(pthread_self(), "atomic-intrude");
    const floe_ref theirs = *(const floe_ref *)arg;
    int64_t value = -1;
    if (expect(floe_object_atomic_add(theirs, HITS, 1, &value), FLOE_ERR_WRONG_THREAD,
               "atomic_add on main's mutable Counter from another pthread"))
        CHECK(said("owned by thread main") && said("atomic-intrude"), "the message names the owner and the caller");
    expect(floe_object_atomic_get(theirs, TOTAL, &value), FLOE_ERR_WRONG_THREAD,
           "atomic_get on main's mutable Counter from another pthread");
    expect(floe_object_atomic_set(theirs, HITS, 9), FLOE_ERR_WRONG_THREAD,
           "atomic_set on main's mutable Counter from another pthread");
    floe_ref none = 0;
    expect(floe_object_atomic_ref_get(theirs, LATEST, &none), FLOE_ERR_WRONG_THREAD,
           "atomic_ref_get on main's mutable Counter from another pthread");
    CHECK(value == -1 && none == 0, "the refused atomic reads never wrote their out-values");
    return NULL;
}

static void atomics(void)
{
    floe_stats empty = stats();
    const floe_field_def fields[] = {
        {"hits", FLOE_KIND_ATOMIC_INT}, {"total", FLOE_KIND_ATOMIC_LONG}, {"latest", FLOE_KIND_ATOMIC_REF}};
    SETUP(floe_type_define("Counter", fields, 3, &counter_type));
    uint32_t kinds[3] = {0, 0, 0};
    floe_ref counter = new_counter();
    for (size_t i = 0; i < 3; i++)
        SETUP(floe_object_kind_at(counter, i, &kinds[i]));
    CHECK(kinds[HITS] == FLOE_KIND_ATOMIC_INT && kinds[TOTAL] == FLOE_KIND_ATOMIC_LONG &&
              kinds[LATEST] == FLOE_KIND_ATOMIC_REF,
          "a Counter's fields are ATOMIC_INT, ATOMIC_LONG, ATOMIC_REF");

    /* A mutable object's atomics follow the ownership rule like every field. */
    SETUP(floe_object_atomic_set(counter, HITS, 7));
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, atomic_intruder, &counter) == 0 && pthread_join(thread, NULL) == 0,
          "the atomic intruder thread ran");
    int64_t value = -1;
    SETUP(floe_object_atomic_get(counter, HITS, &value));
    CHECK(value == 7, "main's mutable Counter is unchanged (hits 7)");
    SETUP(floe_object_atomic_set(counter, HITS, 0));

    /* Frozen, its atomics still change, from every thread, atomically. */
    SETUP(floe_object_freeze(counter, "shared-counter"));
    struct adder a = {.counter = 0, .status = FLOE_ERR_PANIC};
    SETUP(floe_ref_retain(counter, &a.counter)); /* the adder's own handle */
    bool started = pthread_create(&thread, NULL, add_from_thread, &a) == 0;
    floe_status mine = FLOE_OK;
    int64_t now = 0;
    for (int i = 0; i < ADDS && mine == FLOE_OK; i++) {
        mine = floe_object_atomic_add(counter, HITS, 1, &now);
        if (mine == FLOE_OK)
            mine = floe_object_atomic_add(counter, TOTAL, BIG_STEP, &now);
    }
    bool joined = started && pthread_join(thread, NULL) == 0;
    int64_t hits = -1, total = -1;
    SETUP(floe_object_atomic_get(counter, HITS, &hits));
    SETUP(floe_object_atomic_get(counter, TOTAL, &total));
    CHECK(joined && a.status == FLOE_OK && mine == FLOE_OK && hits == 2 * ADDS && total == 2 * ADDS * BIG_STEP,
          "frozen Counter: floe_object_atomic_add from main and another pthread, 1000 each: hits 2000, total 2000 * 2^33");
    bool swapped = true;
    SETUP(floe_object_atomic_compare_and_set(counter, HITS, 1, 5, &swapped));
    CHECK(!swapped, "atomic compare_and_set with a stale expected value does not swap");

    floe_ref loose = new_counter();
    if (expect(floe_object_atomic_ref_set(counter, LATEST, loose), FLOE_ERR_NOT_FROZEN,
               "atomic_ref_set of a frozen Counter to a mutable object"))
        CHECK(said("is not frozen") && said("must be frozen"), "the message says the value must be frozen");
    floe_ref latest = 1;
    SETUP(floe_object_atomic_ref_get(counter, LATEST, &latest));
    CHECK(latest == 0, "the refused atomic_ref_set left the reference empty");
    expect(floe_object_atomic_ref_set(loose, LATEST, loose), FLOE_ERR_NOT_FROZEN,
           "atomic_ref_set of a mutable Counter to itself");
    SETUP(floe_ref_release(loose));

    if (expect(floe_object_atomic_set(counter, HITS, INT64_C(1) << 32), FLOE_ERR_INVALID_ARGUMENT,
               "atomic int set to 2^32"))
        CHECK(said("4294967296") && said("32 bits"), "the message gives the value and says 32 bits");
    expect(floe_object_atomic_set(counter, HITS, (int64_t)INT32_MIN - 1), FLOE_ERR_INVALID_ARGUMENT,
           "atomic int set to INT32_MIN - 1");
    hits = -1;
    SETUP(floe_object_atomic_get(counter, HITS, &hits));
    CHECK(hits == 2 * ADDS, "the refused sets left the atomic int at 2000");
    CHECK(floe_object_atomic_set(counter, HITS, INT32_MIN) == FLOE_OK &&
              floe_object_atomic_set(counter, TOTAL, INT64_MIN) == FLOE_OK,
          "INT32_MIN fits the atomic int, INT64_MIN the atomic long");

    value = -1;
    if (expect(floe_object_get_int(counter, HITS, &value), FLOE_ERR_WRONG_KIND, "floe_object_get_int of an atomic int field"))
        CHECK(said("Counter") && said(".hits") && said("an int"), "the message names the field and the kinds");
    CHECK(value == -1, "the wrong-kind read never wrote *out_value");
    expect(floe_object_set_int(counter, TOTAL, 1), FLOE_ERR_FROZEN, "floe_object_set_int of a frozen Counter's atomic long");
    floe_ref node = new_node("plain");
    expect(floe_object_atomic_add(node, COUNT, 1, &value), FLOE_ERR_WRONG_KIND, "atomic_add on a plain int field");
    expect(floe_object_atomic_ref_get(node, NEXT, &latest), FLOE_ERR_WRONG_KIND, "atomic_ref_get of a plain ref field");
    expect(floe_object_atomic_add(counter, LATEST, 1, &value), FLOE_ERR_WRONG_KIND, "atomic_add on an atomic ref field");
    SETUP(floe_ref_release(node));
    SETUP(floe_ref_release(counter));
    CHECK(same_counts(stats(), empty), "the atomics checks left nothing behind");

    /* A frozen object pointing at itself through its atomic reference dies with its last handle. */
    floe_ref self = new_counter();
    SETUP(floe_object_freeze(self, "self"));
    CHECK(floe_object_atomic_ref_set(self, LATEST, self) == FLOE_OK, "a frozen Counter's atomic ref set to itself");
    floe_ref again = 0;
    uint32_t self_id = 0, again_id = 1;
    SETUP(floe_object_atomic_ref_get(self, LATEST, &again));
    SETUP(floe_object_id(self, &self_id));
    if (again != 0) {
        SETUP(floe_object_id(again, &again_id));
        SETUP(floe_ref_release(again));
    }
    CHECK(self_id == again_id, "its atomic ref reads back the object itself");
    CHECK(stats().live_objects == empty.live_objects + 1, "while its handle lives, the self-referring Counter lives");
    SETUP(floe_ref_release(self));
    CHECK(same_counts(stats(), empty), "releasing the handle frees the self-referring frozen Counter (stats back to zero)");
}

/* Globals: names and ids; the initialisers below refer to them. */
static uint32_t g_main_only, g_shared, g_alpha, g_beta;

/* The initialiser of both settings globals: a fresh Node on the calling thread. */
static floe_status make_settings(floe_ref *out_value)
{
    floe_status status = floe_object_new(node_type, out_value);
    return status == FLOE_OK ? floe_object_set_string(*out_value, NAME, "settings") : status;
}

/* A global whose initialiser needs `other`: a Node pointing at other's value. */
static floe_status needs(uint32_t other, floe_ref *out_value)
{
    floe_ref value = 0;
    floe_status status = floe_global_get(other, &value);
    if (status != FLOE_OK)
        return status; /* floe's message for this thread says why; the failing get passes it on */
    status = floe_object_new(node_type, out_value);
    if (status == FLOE_OK)
        status = floe_object_set_ref(*out_value, NEXT, value);
    floe_ref_release(value);
    return status;
}

static floe_status init_alpha(floe_ref *out_value)
{
    return needs(g_beta, out_value);
}

static floe_status init_beta(floe_ref *out_value)
{
    return needs(g_alpha, out_value);
}

/* Jobs reading a global on the worker: the status of floe_global_get fails the job (with its message). */
static floe_status read_main_only_job(floe_ref input, floe_ref *out_result)
{
    (void)input, (void)out_result;
    floe_ref value = 0;
    floe_status status = floe_global_get(g_main_only, &value);
    if (status == FLOE_OK)
        floe_ref_release(value);
    return status;
}

static floe_status read_shared_job(floe_ref input, floe_ref *out_result)
{
    (void)input;
    return floe_global_get(g_shared, out_result); /* the frozen value is the job's result: shared, not moved */
}

/* Starts the worker it uses and leaves it running: floe_runtime_shutdown stops it at the end. */
static void globals(void)
{
    floe_stats empty = stats();
    uint32_t worker = 0;
    SETUP(floe_worker_start("globals-worker", &worker));
    SETUP(floe_global_define("settings_main_only", FLOE_GLOBAL_MODE_MAIN_THREAD_ONLY, make_settings, &g_main_only));
    SETUP(floe_global_define("settings_shared", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE, make_settings, &g_shared));
    SETUP(floe_global_define("alpha", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE, init_alpha, &g_alpha));
    SETUP(floe_global_define("beta", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE, init_beta, &g_beta));

    floe_ref value = 0;
    CHECK(floe_global_get(g_main_only, &value) == FLOE_OK && value != 0 && !frozen(value),
          "the main thread reads its main-thread-only global: a mutable Node");
    if (value != 0)
        SETUP(floe_ref_release(value));

    floe_future future = 0;
    floe_ref result = 0;
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, read_main_only_job, &future));
    if (expect(floe_future_wait(future, -1, &result), FLOE_ERR_WRONG_THREAD,
               "a worker's job reads a main-thread-only global"))
        CHECK(said("the job failed") && said("global settings_main_only") && said("main-thread-only") &&
                  said("globals-worker"),
              "the message names the global settings_main_only, its mode and the worker's thread");
    CHECK(result == 0, "the failed wait wrote no result");
    SETUP(floe_future_release(future));

    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, read_shared_job, &future));
    bool read = floe_future_wait(future, -1, &result) == FLOE_OK && result != 0;
    SETUP(floe_future_release(future));
    floe_ref mine = 0;
    uint32_t theirs_id = 0, mine_id = 1;
    if (read) {
        SETUP(floe_object_id(result, &theirs_id));
        SETUP(floe_global_get(g_shared, &mine));
        SETUP(floe_object_id(mine, &mine_id));
    }
    CHECK(read && frozen(result), "the same initialiser as a shared-immutable global: the job reads it, frozen");
    CHECK(read && theirs_id == mine_id, "the main thread gets the very object the worker initialised");
    if (read) {
        expect(floe_object_set_string(mine, NAME, "changed"), FLOE_ERR_FROZEN, "write to a shared-immutable global's value");
        SETUP(floe_ref_release(result));
        SETUP(floe_ref_release(mine));
    }

    floe_stats before = stats();
    value = 0;
    if (expect(floe_global_get(g_alpha, &value), FLOE_ERR_CYCLIC_INIT, "globals alpha and beta whose initialisers read each other"))
        CHECK(said("alpha \xe2\x86\x92 beta \xe2\x86\x92 alpha"), "the message names the cycle alpha \xe2\x86\x92 beta \xe2\x86\x92 alpha");
    CHECK(value == 0 && same_counts(stats(), before), "the cyclic get wrote no value and left nothing behind");
    if (expect(floe_global_get(g_beta, &value), FLOE_ERR_CYCLIC_INIT, "then beta on its own: the cycle again, no half-built value"))
        CHECK(said("beta \xe2\x86\x92 alpha \xe2\x86\x92 beta"), "the message names the cycle beta \xe2\x86\x92 alpha \xe2\x86\x92 beta");

    expect(floe_global_get(999, &value), FLOE_ERR_INVALID_ARGUMENT, "floe_global_get of unknown global id 999");
    expect(floe_global_define("bad_mode", 9, make_settings, &g_alpha), FLOE_ERR_INVALID_ARGUMENT, "global mode 9");
    expect(floe_global_define("no_init", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE, NULL, &g_alpha), FLOE_ERR_NULL,
           "NULL initialiser");

    SETUP(floe_global_reset(g_main_only));
    SETUP(floe_global_reset(g_shared));
    CHECK(same_counts(stats(), empty), "after floe_global_reset of both settings globals, nothing is left");
}

static void shared_data(void)
{
    floe_stats empty = stats();
    floe_shared_data corrupt = {.version = 3, .object = (void *)(uintptr_t)0xdeadbeefu};
    int32_t version = -7;
    floe_ref root = 77;
    if (expect(floe_shared_data_read(&corrupt, &version, &root), FLOE_ERR_INVALID_HANDLE,
               "floe_shared_data_read of a corrupt struct (version 3, object 0xdeadbeef)"))
        CHECK(said("corrupt floe_shared_data") && said("0xdeadbeef"), "the message says corrupt and shows the pointer");
    CHECK(version == -7 && root == 77, "the refused read wrote neither *out_version nor *out_root");

    floe_ref config = new_node("config");
    SETUP(floe_object_freeze(config, "config"));
    expect(floe_shared_data_publish(&corrupt, config), FLOE_ERR_INVALID_HANDLE, "publish into the corrupt struct");
    CHECK(corrupt.version == 3 && corrupt.object == (void *)(uintptr_t)0xdeadbeefu,
          "the corrupt struct is left as it was");
    if (expect(floe_shared_data_read(NULL, &version, &root), FLOE_ERR_NULL, "floe_shared_data_read(NULL struct)"))
        CHECK(said("NULL"), "the message says NULL");
    expect(floe_shared_data_publish(NULL, config), FLOE_ERR_NULL, "floe_shared_data_publish(NULL struct)");

    floe_shared_data data = {0, NULL};
    expect(floe_shared_data_read(&data, NULL, &root), FLOE_ERR_NULL, "floe_shared_data_read with NULL out_version");
    floe_ref loose = new_node("loose");
    if (expect(floe_shared_data_publish(&data, loose), FLOE_ERR_NOT_FROZEN, "publishing a mutable object"))
        CHECK(said("must be frozen"), "the message says it must be frozen");
    CHECK(data.version == 0 && data.object == NULL, "the refused publish left the struct empty, version 0");

    /* A graph put for one taker is not for readers. */
    SETUP(floe_shared_data_put(&data, loose, FLOE_TRANSFER_MODE_SAFE));
    expect(floe_shared_data_read(&data, &version, &root), FLOE_ERR_INVALID_ARGUMENT, "read of a struct holding a put graph");
    floe_ref other = new_node("other");
    expect(floe_shared_data_put(&data, other, FLOE_TRANSFER_MODE_SAFE), FLOE_ERR_INVALID_ARGUMENT, "put into a full struct");
    SETUP(floe_ref_release(other)); /* a refused put leaves the handle with the caller */
    expect(floe_shared_data_publish(&data, config), FLOE_ERR_INVALID_ARGUMENT, "publish over a put graph");
    floe_ref taken = 0;
    SETUP(floe_shared_data_take(&data, &taken));
    SETUP(floe_ref_release(taken));
    expect(floe_shared_data_take(&data, &taken), FLOE_ERR_CONSUMED, "second take");

    CHECK(floe_shared_data_publish(&data, config) == FLOE_OK && floe_shared_data_read(&data, &version, &root) == FLOE_OK &&
              root != 0 && version == 3,
          "a frozen object publishes and reads back (version 3: put, take, publish)");
    if (root != 0 && root != 77)
        SETUP(floe_ref_release(root));
    SETUP(floe_ref_release(config));
    SETUP(floe_shared_data_publish(&data, 0));
    CHECK(same_counts(stats(), empty), "after publishing 0, nothing is left");
}

/* A pool job: appends 2 to its input list and returns it. */
static floe_status pool_job(floe_ref input, floe_ref *out_result)
{
    floe_status status = floe_list_push_int(input, 2);
    if (status != FLOE_OK) {
        floe_ref_release(input);
        return status;
    }
    *out_result = input;
    return FLOE_OK;
}

static void pools(void)
{
    floe_stats empty = stats();
    uint32_t pool = 0, view = 0;
    expect(floe_pool_start("empty-pool", 0, &pool), FLOE_ERR_INVALID_ARGUMENT, "floe_pool_start with 0 threads");
    SETUP(floe_pool_start("misuse-pool", 2, &pool));
    if (expect(floe_pool_limited_parallelism(pool, 0, &view), FLOE_ERR_INVALID_ARGUMENT,
               "floe_pool_limited_parallelism(pool, 0)"))
        CHECK(said("at least 1"), "the message says the limit is at least 1");
    CHECK(view == 0, "the refused view wrote no id");
    SETUP(floe_pool_limited_parallelism(pool, 1, &view));

    floe_future future = 0, done = 0;
    floe_ref result = 0;
    SETUP(floe_pool_execute(view, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, pool_job, &future));
    int64_t first = 0, second = 0;
    size_t len = 0;
    CHECK(floe_future_wait(future, -1, &result) == FLOE_OK && floe_object_len(result, &len) == FLOE_OK && len == 2 &&
              floe_object_get_int(result, 0, &first) == FLOE_OK && floe_object_get_int(result, 1, &second) == FLOE_OK &&
              first == 1 && second == 2,
          "a job on a limited-parallelism view runs: its result is [1, 2]");
    if (result != 0)
        SETUP(floe_ref_release(result));
    SETUP(floe_future_release(future));

    SETUP(floe_pool_request_termination(pool, true, &done));
    CHECK(floe_future_wait(done, -1, &result) == FLOE_OK, "floe_pool_request_termination: the pool's threads exit");
    SETUP(floe_future_release(done));
    future = 0;
    if (expect(floe_pool_execute(pool, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, pool_job, &future),
               FLOE_ERR_UNKNOWN_WORKER, "floe_pool_execute on a terminated pool"))
        CHECK(said("its pool terminated"), "the message says the pool may have terminated");
    expect(floe_pool_execute(view, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, pool_job, &future),
           FLOE_ERR_UNKNOWN_WORKER, "floe_pool_execute on a view of the terminated pool");
    expect(floe_pool_limited_parallelism(pool, 1, &view), FLOE_ERR_UNKNOWN_WORKER, "a new view of the terminated pool");
    CHECK(future == 0 && same_counts(stats(), empty), "the refused jobs wrote no future and left nothing behind");
}

static void runtime_shutdown(void)
{
    floe_shutdown_report report;
    memset(&report, 0xff, sizeof report);
    SETUP(floe_runtime_shutdown(true, 5000, &report));
    CHECK(report.workers_unfinished == 0, "floe_runtime_shutdown(true, 5000): workers_unfinished 0");
    CHECK(report.workers_stopped == 1, "it stopped the one worker still running (globals-worker)");
    CHECK(report.stats.live_objects == 0 && report.stats.frozen_objects == 0 && report.stats.live_handles == 0 &&
              report.stats.detached_graphs == 0,
          "its report's counters are all zero");
}

/*
 * Host callbacks that return a number that is no floe_status, or fail without a message of their own.
 * Callbacks return int32_t: any number is defined behaviour and gets FLOE_ERR_HOST, naming it.
 */

static int32_t returns_minus_one(floe_ref input, floe_ref *out_result)
{
    (void)input, (void)out_result;
    return -1;
}

static int32_t returns_12345(floe_ref input, floe_ref *out_result)
{
    (void)input, (void)out_result;
    return 12345;
}

/* Hands over a fresh list as its result, then returns -1: floe releases the result. */
static int32_t result_then_minus_one(floe_ref input, floe_ref *out_result)
{
    (void)input;
    floe_list_new(out_result);
    return -1;
}

/* Makes a fresh list as the job's input, then returns the number `*arg` points to. */
static int32_t root_then_returns(void *arg, floe_ref *out_root)
{
    floe_list_new(out_root);
    return *(const int32_t *)arg;
}

static int32_t explains_order_45(floe_ref input, floe_ref *out_result)
{
    (void)input, (void)out_result;
    floe_last_error_set(FLOE_ERR_HOST, "order 45 has no lines");
    return FLOE_ERR_HOST;
}

static int32_t fails_silently(floe_ref input, floe_ref *out_result)
{
    (void)input, (void)out_result;
    return FLOE_ERR_HOST;
}

/* An initialiser that makes a list, then returns `flaky_returns`. */
static int32_t flaky_returns = -1;
static int flaky_calls;

static int32_t flaky_settings(floe_ref *out_value)
{
    flaky_calls++;
    floe_list_new(out_value);
    return flaky_returns;
}

/* Runs `job` (no input) on `worker` and waits: the wait's status, its message in `message`. */
static floe_status run_job(uint32_t worker, floe_job_fn job)
{
    floe_future future = 0;
    floe_ref result = 0;
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, NULL, NULL, job, &future));
    floe_status status = floe_future_wait(future, -1, &result);
    snprintf(message, sizeof message, "%s", floe_last_error_message());
    if (result != 0)
        SETUP(floe_ref_release(result));
    SETUP(floe_future_release(future));
    return status;
}

static void callback_returns(void)
{
    floe_stats empty = stats();
    uint32_t worker = 0;
    SETUP(floe_worker_start("callbacks-worker", &worker));

    if (expect(run_job(worker, returns_minus_one), FLOE_ERR_HOST, "a job that returns -1"))
        CHECK(said("the job failed: it returned -1, which is no floe_status"), "the message names the number -1");
    if (expect(run_job(worker, returns_12345), FLOE_ERR_HOST, "a job that returns 12345"))
        CHECK(said("it returned 12345, which is no floe_status"), "the message names the number 12345");
    expect(run_job(worker, result_then_minus_one), FLOE_ERR_HOST, "a job that hands over a result, then returns -1");
    CHECK(same_counts(stats(), empty), "the result it handed over was released");

    floe_future future = 0;
    int32_t code = -1;
    if (expect(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, root_then_returns, &code, quick_job, &future),
               FLOE_ERR_HOST, "a producer that makes a root, then returns -1"))
        CHECK(said("the producer failed: it returned -1"), "the message says the producer returned -1");
    code = FLOE_ERR_INVALID_ARGUMENT;
    if (expect(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, root_then_returns, &code, quick_job, &future),
               FLOE_ERR_INVALID_ARGUMENT, "a producer that makes a root, then fails without a message"))
        CHECK(said("without a message"), "the message says it set none");
    CHECK(future == 0 && same_counts(stats(), empty), "no future was written and both roots were released");

    uint32_t flaky = 0;
    floe_ref value = 0;
    SETUP(floe_global_define("flaky", FLOE_GLOBAL_MODE_SHARED_IMMUTABLE, flaky_settings, &flaky));
    if (expect(floe_global_get(flaky, &value), FLOE_ERR_HOST, "a global whose initialiser returns -1"))
        CHECK(said("global flaky") && said("it returned -1"), "the message names the global and the number");
    expect(floe_global_get(flaky, &value), FLOE_ERR_HOST, "get it again: the initialiser runs again, not a cycle");
    SETUP(floe_global_reset(flaky));
    flaky_returns = FLOE_OK;
    CHECK(floe_global_get(flaky, &value) == FLOE_OK && value != 0 && flaky_calls == 3,
          "after a reset the third run succeeds: the failed runs poisoned nothing");
    if (value != 0)
        SETUP(floe_ref_release(value));
    SETUP(floe_global_reset(flaky));
    CHECK(same_counts(stats(), empty), "the values the failed runs made were released");

    /* A failure without a message of its own is never explained by an earlier job's. */
    if (expect(run_job(worker, explains_order_45), FLOE_ERR_HOST, "a job that explains its failure"))
        CHECK(said("order 45 has no lines"), "its future keeps its message");
    if (expect(run_job(worker, fails_silently), FLOE_ERR_HOST, "the next job on that worker fails without a message"))
        CHECK(!said("order 45") && said("without a message"), "its message is not the earlier job's");

    /* A producer that succeeds leaves the caller's last error as it was: the very string. */
    expect(floe_ref_release(0), FLOE_ERR_NULL, "a failure on the main thread");
    const char *earlier = floe_last_error_message();
    SETUP(floe_worker_execute(worker, FLOE_TRANSFER_MODE_SAFE, list_producer, NULL, quick_job, &future));
    floe_ref result = 0;
    SETUP(floe_future_wait(future, -1, &result));
    SETUP(floe_future_release(future));
    CHECK(floe_last_error_status() == FLOE_ERR_NULL && floe_last_error_message() == earlier &&
              strcmp(earlier, message) == 0,
          "after a producer that succeeded, the earlier failure's message is still there, unchanged");

    /* A detached-graph pointer whose slot was reused nine times since: ended, not unknown. */
    void *stale = NULL, *graph = NULL;
    floe_ref list = 0;
    SETUP(floe_list_new(&list));
    SETUP(floe_object_detach(list, FLOE_TRANSFER_MODE_SAFE, &stale));
    SETUP(floe_graph_dispose(stale));
    int reuses = 0;
    for (int i = 0; i < 10000 && reuses < 9; i++) {
        SETUP(floe_list_new(&list));
        SETUP(floe_object_detach(list, FLOE_TRANSFER_MODE_SAFE, &graph));
        SETUP(floe_graph_dispose(graph));
        if ((uint32_t)(uintptr_t)graph == (uint32_t)(uintptr_t)stale)
            reuses++;
    }
    CHECK(reuses == 9, "a graph's slot is reused nine times");
    floe_ref root = 0;
    if (expect(floe_graph_attach(stale, &root), FLOE_ERR_RELEASED_HANDLE, "attach of a graph that ended long ago"))
        CHECK(said("attached or disposed, long ago") && !said("issued"), "the message says it ended, not that floe never issued it");

    SETUP(floe_worker_request_termination(worker, true, &future));
    SETUP(floe_future_wait(future, -1, &result));
    SETUP(floe_future_release(future));
    CHECK(root == 0 && same_counts(stats(), empty), "nothing is left behind");
}

int main(void)
{
    if (floe_runtime_init() != FLOE_OK) {
        printf("FAIL: floe_runtime_init: %s\n", floe_last_error_message());
        return 1;
    }
    status_names();
    types();
    null_arguments();
    made_up_handles();
    released_handles();
    wrong_thread();
    freeze_blocked();
    frozen_writes();
    kinds_ranges_buffers();

    uint32_t worker = 0;
    SETUP(floe_worker_start("misuse-worker", &worker));
    transfer_safe(worker);
    transfer_unsafe();
    detached_graphs();
    workers_and_futures(worker);
    main_queue();
    atomics();
    globals();
    shared_data();
    pools();
    callback_returns();
    runtime_shutdown();

    floe_stats left = stats();
    CHECK(left.live_objects == 0 && left.frozen_objects == 0 && left.live_handles == 0 && left.detached_graphs == 0,
          "floe_runtime_stats are all zero at the end");
    printf("misuse: %d checks passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
