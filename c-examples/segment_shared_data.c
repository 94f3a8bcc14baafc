/*
 * segment_shared_data.c — Kotlin/Native's "SharedData in a C global", between processes.
 *
 * Kotlin/Native's recipe keeps a `SharedData { int version; void *kotlinObject; }` in a C global and
 * publishes frozen objects into it for other threads. Here the global is a pointer,
 *
 *   static floe_shared_data *prices;
 *
 * and it points into a segment: floe_segment_slot gives slot 0's floe_shared_data, the slot's first
 * 16 bytes in this process's mapping. The same floe_shared_data_publish and floe_shared_data_read
 * that serve a struct in host memory serve it, and another process reads what this one publishes.
 *
 *   the parent creates the segment /floe.prices-<pid> (1 MiB, 1 slot), points `prices` at slot 0,
 *     then forks;
 *   the child (the reader) finds its inherited `prices` refused (the mapping it inherited is the
 *     parent's: a forked child opens the segment itself), closes that copy — `prices` is then a
 *     pointer into a closed segment, refused too, never followed — opens the segment by name,
 *     points `prices` at slot 0 of its own mapping, and reads it with floe_shared_data_read after
 *     each change until the last version: every price list whole (each Quote's cents from its
 *     version), versions never going back;
 *   the parent (the writer) publishes VERSIONS frozen price lists through floe_shared_data_publish,
 *     waits for the child, then checks the refusals: put and take on a slot (a mutable graph lives
 *     in one process's heap), a pointer into the middle of a slot, NULL; a floe_shared_data in its
 *     own memory still takes put and take; publishing 0 empties the slot; after the segment is
 *     closed, `prices` is refused.
 *
 * Build (from the crate root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I include c-examples/segment_shared_data.c \
 *      target/debug/libfloe.a -lpthread -ldl -lm -o segment_shared_data
 */

#define _GNU_SOURCE /* fork, waitpid */

#include "checks.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { VERSIONS = 300, QUOTES = 3 };

/* The K/N recipe's global: here it names a slot of a segment shared between processes. */
static floe_shared_data *prices;

/* A floe_shared_data in this process's memory, for comparison: zeroed, so empty. */
static floe_shared_data g_local;

static const char *g_who = "parent";

/* Exits when a call that must work does not. */
#define TRY(call) try_ok((call), #call, __LINE__)

static void try_ok(floe_status status, const char *call, int line)
{
    if (status != FLOE_OK) {
        fprintf(stderr, "segment_shared_data.c:%d (%s): %s failed with %s: %s\n", line, g_who, call,
                floe_status_name(status), floe_last_error_message());
        fflush(NULL);
        _exit(1);
    }
}

static const char *const SYMBOLS[QUOTES] = {"ACME", "GLOBEX", "INITECH"};

/* Quote {symbol: string, cents: int} */
static floe_type quote_type;
enum { SYMBOL, CENTS };

static void define_types(void)
{
    const floe_field_def fields[] = {{"symbol", FLOE_KIND_STRING}, {"cents", FLOE_KIND_INT}};
    TRY(floe_type_define("Quote", fields, 2, &quote_type));
}

static int64_t cents_of(int32_t version, int quote)
{
    return 100 * (int64_t)version + quote;
}

/* Version v's price list: [Quote ACME, Quote GLOBEX, Quote INITECH], frozen. */
static floe_ref price_list(int32_t version)
{
    floe_ref list;
    TRY(floe_list_new(&list));
    for (int i = 0; i < QUOTES; i++) {
        floe_ref quote;
        TRY(floe_object_new(quote_type, &quote));
        TRY(floe_object_set_string(quote, SYMBOL, SYMBOLS[i]));
        TRY(floe_object_set_int(quote, CENTS, cents_of(version, i)));
        TRY(floe_list_push_ref(list, quote));
        TRY(floe_ref_release(quote));
    }
    TRY(floe_object_freeze(list, "prices"));
    return list;
}

/* Whether `list` is version `version`'s price list, whole. */
static bool whole(int32_t version, floe_ref list)
{
    size_t len = 0;
    bool frozen = false;
    TRY(floe_object_len(list, &len));
    TRY(floe_object_is_frozen(list, &frozen));
    bool ok = len == QUOTES && frozen;
    for (size_t i = 0; ok && i < QUOTES; i++) {
        floe_ref quote;
        int64_t cents;
        char symbol[16];
        size_t symbol_len;
        TRY(floe_object_get_ref(list, i, &quote));
        TRY(floe_object_get_int(quote, CENTS, &cents));
        TRY(floe_object_get_string(quote, SYMBOL, symbol, sizeof symbol, &symbol_len));
        ok = cents == cents_of(version, (int)i) && strcmp(symbol, SYMBOLS[i]) == 0;
        TRY(floe_ref_release(quote));
    }
    return ok;
}

static int reader(const char *name, floe_segment *inherited)
{
    g_who = "child";
    TRY(floe_runtime_init());
    define_types();
    int32_t version = -1;
    floe_ref root = 0;
    /* `prices` came with fork: it points into the parent's mapping, whose reader entries are the parent's. */
    if (expect(floe_shared_data_read(prices, &version, &root), FLOE_ERR_INVALID_ARGUMENT,
               "child: floe_shared_data_read(prices) through the mapping inherited across fork"))
        CHECK(said("is a fork of it"), "child: the message says to open the segment in this process");
    TRY(floe_segment_close(inherited)); /* leaves the parent's reader entries alone */
    if (expect(floe_shared_data_read(prices, &version, &root), FLOE_ERR_RELEASED_HANDLE,
               "child: floe_shared_data_read(prices) after closing that segment"))
        CHECK(said("was slot 0 of segment") && said("floe_segment_slot"),
              "child: the message names the closed segment's slot and says how to get a new one");

    floe_segment *segment;
    TRY(floe_segment_open(name, &segment));
    TRY(floe_segment_slot(segment, 0, &prices)); /* the same slot, in this process's mapping */
    int32_t last = 0;
    int distinct = 0;
    long torn = 0, backwards = 0;
    while (last < VERSIONS) {
        uint32_t count;
        TRY(floe_segment_change_count(segment, 0, &count));
        TRY(floe_shared_data_read(prices, &version, &root));
        if (root != 0) {
            backwards += version < last;
            torn += !whole(version, root);
            distinct += version != last;
            last = version;
            TRY(floe_ref_release(root));
        }
        if (last < VERSIONS)
            TRY(floe_segment_wait(segment, 0, count, 10000, &count));
    }
    CHECK(torn == 0 && backwards == 0, "child: every price list read whole, versions never going back");
    printf("child: read %d versions through floe_shared_data_read(prices), the last %" PRId32 "\n", distinct,
           last);
    TRY(floe_segment_close(segment));
    floe_stats s = stats();
    CHECK(s.live_objects == 0 && s.live_handles == 0, "child: nothing leaked");
    printf("child: %d checks passed, %d failed\n", passed, failed);
    fflush(NULL);
    return failed == 0 ? 0 : 1;
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "prices-%ld", (long)getpid());
    floe_segment *segment;
    TRY(floe_segment_create(name, 1 << 20, 1, 4, &segment));
    TRY(floe_segment_slot(segment, 0, &prices));
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "segment_shared_data.c: fork failed\n");
        return 1;
    }
    if (child == 0)
        _exit(reader(name, segment));

    TRY(floe_runtime_init());
    define_types();
    for (int32_t v = 1; v <= VERSIONS; v++) {
        floe_ref list = price_list(v);
        TRY(floe_shared_data_publish(prices, list)); /* the slot's next version: v */
        TRY(floe_ref_release(list));
        if (v % 100 == 0)
            usleep(2000); /* let the reader see some versions one by one */
    }
    int32_t version = -1;
    floe_ref root = 0;
    TRY(floe_shared_data_read(prices, &version, &root));
    CHECK(version == VERSIONS && root != 0 && whole(version, root), "parent: published 300 price lists through prices");
    TRY(floe_ref_release(root));

    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "parent: the reader process read them all and exited 0");

    /* A mutable graph lives in this process's heap: a slot, read by other processes, cannot hold it. */
    floe_ref draft;
    TRY(floe_list_new(&draft));
    if (expect(floe_shared_data_put(prices, draft, FLOE_TRANSFER_MODE_SAFE), FLOE_ERR_INVALID_ARGUMENT,
               "parent: floe_shared_data_put(prices, a mutable list)"))
        CHECK(said("cannot put a mutable graph in slot 0") && said("publish"),
              "parent: the message says why and to publish a frozen graph instead");
    printf("  %s\n", message);
    CHECK(floe_list_push_int(draft, 1) == FLOE_OK, "parent: the refused draft is still the caller's, and mutable");
    floe_ref taken = 0;
    expect(floe_shared_data_take(prices, &taken), FLOE_ERR_INVALID_ARGUMENT, "parent: floe_shared_data_take(prices)");
    expect(floe_shared_data_publish(prices, draft), FLOE_ERR_NOT_FROZEN,
           "parent: floe_shared_data_publish(prices, a mutable list)");
    floe_shared_data *middle = (floe_shared_data *)((char *)prices + 8);
    if (expect(floe_shared_data_read(middle, &version, &root), FLOE_ERR_INVALID_ARGUMENT,
               "parent: floe_shared_data_read of a pointer 8 bytes into the slot"))
        CHECK(said("byte 8 of slot 0") && said("not the start of a slot"), "parent: the message says where it points");
    expect(floe_shared_data_read(NULL, &version, &root), FLOE_ERR_NULL, "parent: floe_shared_data_read(NULL)");

    /* The same calls on a floe_shared_data in this process's memory: put and take work there. */
    CHECK(floe_shared_data_put(&g_local, draft, FLOE_TRANSFER_MODE_SAFE) == FLOE_OK &&
              floe_shared_data_take(&g_local, &taken) == FLOE_OK,
          "parent: put and take on g_local, in this process's memory");
    TRY(floe_ref_release(taken));

    TRY(floe_shared_data_publish(prices, 0));
    TRY(floe_shared_data_read(prices, &version, &root));
    CHECK(version == VERSIONS + 1 && root == 0, "parent: publishing 0 empties the slot: version 301, root 0");

    TRY(floe_segment_close(segment));
    if (expect(floe_shared_data_read(prices, &version, &root), FLOE_ERR_RELEASED_HANDLE,
               "parent: floe_shared_data_read(prices) after floe_segment_close"))
        CHECK(said(name), "parent: the message names the closed segment");
    printf("  %s\n", message);
    expect(floe_shared_data_publish(prices, 0), FLOE_ERR_RELEASED_HANDLE,
           "parent: floe_shared_data_publish(prices, 0) after floe_segment_close");
    TRY(floe_segment_unlink(name));
    floe_stats s = stats();
    CHECK(s.live_objects == 0 && s.live_handles == 0, "parent: nothing leaked");
    printf("parent: %d checks passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
