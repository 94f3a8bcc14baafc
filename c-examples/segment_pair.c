/*
 * segment_pair.c — a frozen graph published by one process and read by another, through a
 * segment: named shared memory whose slots are Kotlin/Native's SharedData between processes.
 *
 *   the parent creates the segment /floe.pair-<pid> (1 MiB, 1 slot), then forks;
 *   the child (the reader) checks that the segment it inherited is refused (a forked child opens
 *     its own: the inherited one's reader entries are the parent's), opens it by name, waits for
 *     each change of slot 0, attaches the graph it holds in place with floe_segment_read (no copy:
 *     the handles read the segment's bytes) and checks its shape: two Nodes that refer to each
 *     other (a cycle) and both to one shared list [v, 10 v]; every tenth version it also copies
 *     the graph into its own heap with floe_segment_read_copy and checks the copy. Objects read in
 *     place refuse changes (FLOE_ERR_FROZEN). Versions never go back; it stops at the last one,
 *     releases everything and exits;
 *   the parent (the writer) publishes VERSIONS versions, then waits for the child and unlinks the
 *     name.
 *
 * Build (from the crate root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I include c-examples/segment_pair.c \
 *      target/debug/libfloe.a -lpthread -ldl -lm -o segment_pair
 */

#define _GNU_SOURCE /* fork, waitpid */

#include "floe.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { VERSIONS = 500 };

static const char *g_who = "parent";

#define TRY(call) try_ok((call), #call, __LINE__)

static void try_ok(floe_status status, const char *call, int line)
{
    if (status != FLOE_OK) {
        fprintf(stderr, "segment_pair.c:%d (%s): %s failed with %s: %s\n", line, g_who, call,
                floe_status_name(status), floe_last_error_message());
        fflush(NULL);
        _exit(1);
    }
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "segment_pair.c:%d (%s): ", __LINE__, g_who);                          \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            fflush(NULL);                                                                          \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* Node {label: string, n: int, next: ref, shared: ref} */
enum { LABEL, N, NEXT, SHARED };

static floe_ref graph(floe_type node, int64_t v)
{
    floe_ref a, b, shared;
    TRY(floe_object_new(node, &a));
    TRY(floe_object_new(node, &b));
    TRY(floe_list_new(&shared));
    TRY(floe_list_push_int(shared, v));
    TRY(floe_list_push_int(shared, 10 * v));
    TRY(floe_object_set_string(a, LABEL, "a"));
    TRY(floe_object_set_string(b, LABEL, "b"));
    TRY(floe_object_set_int(a, N, v));
    TRY(floe_object_set_int(b, N, v));
    TRY(floe_object_set_ref(a, NEXT, b));
    TRY(floe_object_set_ref(b, NEXT, a));
    TRY(floe_object_set_ref(a, SHARED, shared));
    TRY(floe_object_set_ref(b, SHARED, shared));
    TRY(floe_object_freeze(a, "published"));
    TRY(floe_ref_release(b));
    TRY(floe_ref_release(shared));
    return a;
}

static uint32_t id_of(floe_ref object)
{
    uint32_t id;
    TRY(floe_object_id(object, &id));
    return id;
}

/* Checks a copy of graph(version). */
static void check(int32_t version, floe_ref a)
{
    floe_ref b, back, shared_a, shared_b;
    int64_t na, nb, first, second;
    char label[8];
    size_t len;
    TRY(floe_object_get_ref(a, NEXT, &b));
    TRY(floe_object_get_ref(b, NEXT, &back));
    TRY(floe_object_get_ref(a, SHARED, &shared_a));
    TRY(floe_object_get_ref(b, SHARED, &shared_b));
    TRY(floe_object_get_int(a, N, &na));
    TRY(floe_object_get_int(b, N, &nb));
    TRY(floe_object_get_int(shared_a, 0, &first));
    TRY(floe_object_get_int(shared_a, 1, &second));
    TRY(floe_object_get_string(b, LABEL, label, sizeof label, &len));
    CHECK(na == version && nb == version && first == version && second == 10 * (int64_t)version,
          "version %d: n %" PRId64 "/%" PRId64 ", shared [%" PRId64 ", %" PRId64 "]", version, na, nb, first,
          second);
    CHECK(strcmp(label, "b") == 0, "version %d: b's label is %s", version, label);
    CHECK(id_of(back) == id_of(a), "version %d: the cycle a -> b -> a was lost", version);
    CHECK(id_of(shared_a) == id_of(shared_b), "version %d: the shared list was copied twice", version);
    floe_ref handles[] = {b, back, shared_a, shared_b};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++)
        TRY(floe_ref_release(handles[i]));
}

static int reader(const char *name, floe_segment *inherited)
{
    g_who = "child";
    TRY(floe_runtime_init());
    /* The parent's segment, copied by fork, is the parent's: this process opens its own. */
    int32_t version;
    floe_ref root;
    floe_status refused = floe_segment_read_copy(inherited, 0, &version, &root);
    CHECK(refused == FLOE_ERR_INVALID_ARGUMENT && strstr(floe_last_error_message(), "is a fork of it"),
          "the inherited segment gave %s: %s", floe_status_name(refused), floe_last_error_message());
    printf("child: the segment inherited across fork is refused: %s\n", floe_status_name(refused));
    TRY(floe_segment_close(inherited)); /* leaves the parent's reader entry alone */
    floe_segment *segment;
    TRY(floe_segment_open(name, &segment));
    int32_t last = 0;
    int distinct = 0;
    while (last < VERSIONS) {
        uint32_t count;
        TRY(floe_segment_change_count(segment, 0, &count));
        TRY(floe_segment_read(segment, 0, &version, &root));
        if (root != 0) {
            CHECK(version >= last, "version %d after %d", version, last);
            check(version, root);
            floe_status write = floe_object_set_int(root, 1, -1);
            CHECK(write == FLOE_ERR_FROZEN && strstr(floe_last_error_message(), "read in place"),
                  "a write to an object read in place gave %s: %s", floe_status_name(write),
                  floe_last_error_message());
            distinct += version != last;
            last = version;
            TRY(floe_ref_release(root));
            if (version % 10 == 0) {
                floe_ref copy;
                TRY(floe_segment_read_copy(segment, 0, &version, &copy));
                check(version, copy);
                TRY(floe_ref_release(copy));
            }
        }
        if (last < VERSIONS)
            TRY(floe_segment_wait(segment, 0, count, 10000, &count));
    }
    TRY(floe_segment_close(segment));
    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    CHECK(stats.live_objects == 0 && stats.live_handles == 0, "the child leaked %" PRIu64 " objects",
          stats.live_objects);
    printf("child: read %d versions in place, the last %d; every one whole, its cycle and shared list "
           "kept, writes refused; nothing leaked\n", distinct, last);
    fflush(NULL);
    return 0;
}

int main(void)
{
    char name[64];
    snprintf(name, sizeof name, "pair-%ld", (long)getpid());
    floe_segment *segment;
    TRY(floe_segment_create(name, 1 << 20, 1, 4, &segment));
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0, "fork failed");
    if (child == 0)
        _exit(reader(name, segment));

    TRY(floe_runtime_init());
    const floe_field_def fields[] = {
        {"label", FLOE_KIND_STRING}, {"n", FLOE_KIND_INT}, {"next", FLOE_KIND_REF}, {"shared", FLOE_KIND_REF}};
    floe_type node;
    TRY(floe_type_define("Node", fields, 4, &node));
    uint64_t version_id = 0;
    for (int64_t v = 1; v <= VERSIONS; v++) {
        floe_ref root = graph(node, v);
        TRY(floe_segment_publish(segment, 0, root, &version_id));
        TRY(floe_ref_release(root));
        if (v % 100 == 0)
            usleep(2000); /* let the reader see some versions one by one */
    }
    printf("parent: published versions 1..%d (the last with version id %" PRIu64 ")\n", VERSIONS, version_id);

    /* The bytes a slot holds, outside a segment: for a file or the network. */
    floe_ref sample = graph(node, 7);
    size_t need, written;
    TRY(floe_block_size(sample, &need));
    uint8_t *bytes = malloc(need);
    CHECK(bytes != NULL, "malloc failed");
    floe_status short_buffer = floe_block_encode(sample, bytes, need - 1, &written);
    CHECK(short_buffer == FLOE_ERR_BUFFER_TOO_SMALL, "a short buffer gave %s", floe_status_name(short_buffer));
    TRY(floe_block_encode(sample, bytes, need, &written));
    CHECK(written == need, "encoded %zu bytes of %zu", written, need);
    floe_ref decoded;
    TRY(floe_block_decode(bytes, written, &decoded));
    check(7, decoded);
    TRY(floe_ref_release(decoded));
    bytes[written / 2] ^= 0x5A;
    floe_status damaged = floe_block_decode(bytes, written, &decoded);
    CHECK(damaged == FLOE_ERR_CORRUPT, "a damaged block gave %s", floe_status_name(damaged));
    printf("parent: a graph as a %zu-byte block decodes whole; a damaged byte is %s\n", written,
           floe_status_name(damaged));
    free(bytes);
    TRY(floe_ref_release(sample));

    int status;
    CHECK(waitpid(child, &status, 0) == child, "waitpid failed");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader failed (status %d)", status);
    /* The slot by name, its version checked byte by byte, the segment's state as text. */
    TRY(floe_segment_name_slot(segment, 0, "prices"));
    uint32_t found;
    TRY(floe_segment_slot_by_name(segment, "prices", &found));
    CHECK(found == 0, "slot \"prices\" is %u", found);
    floe_status missing = floe_segment_slot_by_name(segment, "volumes", &found);
    CHECK(missing == FLOE_ERR_NOT_FOUND, "an unknown slot name gave %s", floe_status_name(missing));
    floe_segment_version checked;
    TRY(floe_segment_verify(segment, 0, &checked));
    CHECK(checked.version == VERSIONS && checked.objects == 3 && checked.version_id == version_id,
          "verify: version %d, %u objects", checked.version, checked.objects);
    char small[8];
    size_t text_len;
    floe_status too_small = floe_segment_inspect(segment, small, sizeof small, &text_len);
    CHECK(too_small == FLOE_ERR_BUFFER_TOO_SMALL, "inspect into 8 bytes gave %s", floe_status_name(too_small));
    static char text[1 << 16];
    TRY(floe_segment_inspect(segment, text, sizeof text, &text_len));
    CHECK(strstr(text, "prices") != NULL && text_len == strlen(text), "inspect: %s", text);
    TRY(floe_segment_recover(segment, text, sizeof text, &text_len));
    printf("parent: slot \"prices\" is slot 0; verify: version %d, %u objects, %" PRIu64
           " bytes; inspect and recover give text\n", checked.version, checked.objects, checked.bytes);
    /* Waiting for any of several slots: slot 0 changed since the counter was read. */
    uint32_t slots[] = {0}, seen[1];
    TRY(floe_segment_change_count(segment, 0, &seen[0]));
    size_t first;
    floe_status quiet = floe_segment_wait_any(segment, slots, seen, 1, 5, &first);
    CHECK(quiet == FLOE_ERR_TIMEOUT, "waiting on an unchanged slot gave %s", floe_status_name(quiet));
    seen[0] -= 1;
    TRY(floe_segment_wait_any(segment, slots, seen, 1, 0, &first));
    CHECK(first == 0, "wait_any says %zu", first);
    floe_status none = floe_segment_wait_any(segment, slots, seen, 0, 0, &first);
    CHECK(none == FLOE_ERR_INVALID_ARGUMENT, "waiting for no slot gave %s", floe_status_name(none));

    floe_ref mutable_list;
    TRY(floe_list_new(&mutable_list));
    uint64_t unused;
    floe_status refused = floe_segment_publish(segment, 0, mutable_list, &unused);
    CHECK(refused == FLOE_ERR_NOT_FROZEN, "publishing a mutable list gave %s", floe_status_name(refused));
    printf("parent: a mutable graph is refused: %s\n", floe_status_name(refused));
    TRY(floe_ref_release(mutable_list));
    TRY(floe_segment_unpublish(segment, 0));
    int32_t version;
    floe_ref root;
    TRY(floe_segment_read_copy(segment, 0, &version, &root));
    CHECK(version == VERSIONS + 1 && root == 0, "after unpublish: version %d, root %" PRIu64, version, root);
    printf("parent: unpublished: version %d, root 0\n", version);
    refused = floe_segment_read_copy((floe_segment *)(uintptr_t)0x12345678, 0, &version, &root);
    CHECK(refused == FLOE_ERR_INVALID_HANDLE, "a made-up segment gave %s", floe_status_name(refused));
    printf("parent: a made-up segment pointer: %s\n", floe_status_name(refused));
    TRY(floe_segment_close(segment));
    refused = floe_segment_close(segment);
    CHECK(refused == FLOE_ERR_RELEASED_HANDLE, "closing twice gave %s", floe_status_name(refused));
    printf("parent: closing twice: %s\n", floe_status_name(refused));
    TRY(floe_segment_unlink(name));
    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    printf("parent: live_objects %" PRIu64 ", live_handles %" PRIu64 "\n", stats.live_objects, stats.live_handles);
    return 0;
}
