/*
 * tour.c — a guided tour of floe's C API.
 *
 * It defines two types, builds a small graph (Scope -> Job -> list of child Jobs), reads it, freezes
 * it, shares it with a second thread, provokes one diagnostic of each kind on purpose, releases
 * everything and checks that nothing is left. Every step prints what it does.
 *
 * Build (from the crate root, after `cargo build`):
 *   cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I include c-examples/tour.c \
 *      target/debug/libfloe.a -lpthread -ldl -lm -o tour
 */

#define _GNU_SOURCE /* pthread_setname_np */

#include "floe.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Exits when a call that should succeed does not: the tour only goes on from a known state. */
#define TRY(call) try_ok((call), #call, __LINE__)

static void try_ok(floe_status status, const char *call, int line)
{
    if (status != FLOE_OK) {
        fprintf(stderr, "tour.c:%d: %s failed with %s: %s\n", line, call, floe_status_name(status),
                floe_last_error_message());
        exit(1);
    }
}

/* Prints a diagnostic the tour provokes on purpose; any other status means the tour is wrong. */
static void show_diagnostic(const char *what, floe_status got, floe_status expected)
{
    if (got != expected) {
        fprintf(stderr, "tour: %s: expected %s, got %s (%s)\n", what, floe_status_name(expected),
                floe_status_name(got), floe_last_error_message());
        exit(1);
    }
    /* The message belongs to this thread and stays valid until its next failing floe call. */
    printf("  %s -> %s\n    %s\n", what, floe_status_name(got), floe_last_error_message());
}

/* Field indices, looked up by name once the types exist. */
static size_t scope_name, scope_job, job_state, job_children;

/* Reads a string field into `buf`: the length first, then the copy. */
static const char *read_string(floe_ref object, size_t field, char *buf, size_t buf_len)
{
    size_t len = 0;
    TRY(floe_object_get_string_len(object, field, &len));
    if (len >= buf_len) {
        fprintf(stderr, "tour: a %zu-byte string does not fit the tour's buffer\n", len);
        exit(1);
    }
    TRY(floe_object_get_string(object, field, buf, buf_len, &len));
    return buf;
}

static bool is_frozen(floe_ref object)
{
    bool frozen = false;
    TRY(floe_object_is_frozen(object, &frozen));
    return frozen;
}

/* Builds Scope{name} -> Job{"active"} -> children list of `n` Jobs; `children` gets their handles. */
static floe_ref build_scope(floe_type scope_type, floe_type job_type, const char *name, floe_ref *children, size_t n)
{
    floe_ref scope, job, list;
    TRY(floe_object_new(scope_type, &scope));
    TRY(floe_object_set_string(scope, scope_name, name));
    TRY(floe_object_new(job_type, &job));
    TRY(floe_object_set_string(job, job_state, "active"));
    TRY(floe_object_set_ref(scope, scope_job, job));
    TRY(floe_list_new(&list));
    TRY(floe_object_set_ref(job, job_children, list));
    for (size_t i = 0; i < n; i++) {
        char state[32];
        snprintf(state, sizeof state, "child %zu", i);
        TRY(floe_object_new(job_type, &children[i]));
        TRY(floe_object_set_string(children[i], job_state, state));
        TRY(floe_list_push_ref(list, children[i]));
    }
    /* The graph holds its own references: these two handles are no longer needed. */
    TRY(floe_ref_release(list));
    TRY(floe_ref_release(job));
    return scope;
}

/* Follows Scope.job.children and returns a new handle to the list (the caller releases it). */
static floe_ref children_of(floe_ref scope)
{
    floe_ref job, list;
    TRY(floe_object_get_ref(scope, scope_job, &job));
    TRY(floe_object_get_ref(job, job_children, &list));
    TRY(floe_ref_release(job));
    return list;
}

/* The reader thread: walks a frozen graph it did not create. */
static void *reader(void *arg)
{
    /* floe fixes a thread's name when it first meets the thread: name it before any floe call. */
    pthread_setname_np(pthread_self(), "reader");
    const floe_ref shared = *(const floe_ref *)arg;

    /* Frozen objects can be retained on any thread: take a handle of our own and use only that. */
    floe_ref scope;
    TRY(floe_ref_retain(shared, &scope));
    char buf[64];
    printf("  [reader] scope.name = \"%s\"\n", read_string(scope, scope_name, buf, sizeof buf));
    floe_ref list = children_of(scope);
    size_t n = 0;
    TRY(floe_object_len(list, &n));
    for (size_t i = 0; i < n; i++) {
        floe_ref child;
        TRY(floe_object_get_ref(list, i, &child));
        printf("  [reader] scope.job.children[%zu].state = \"%s\"\n", i, read_string(child, job_state, buf, sizeof buf));
        TRY(floe_ref_release(child));
    }
    TRY(floe_ref_release(list));
    TRY(floe_ref_release(scope));
    printf("  [reader] released its own handles\n");
    return NULL;
}

/* The intruder thread: touches an object that is mutable and owned by the main thread. */
static void *intruder(void *arg)
{
    pthread_setname_np(pthread_self(), "intruder");
    const floe_ref job = *(const floe_ref *)arg;
    char buf[16];
    size_t len;
    show_diagnostic("wrong thread: another thread reads Job.state of a mutable Job",
                    floe_object_get_string(job, job_state, buf, sizeof buf, &len), FLOE_ERR_WRONG_THREAD);
    return NULL;
}

static void run_thread(void *(*body)(void *), floe_ref *arg)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, body, arg) != 0 || pthread_join(thread, NULL) != 0) {
        fprintf(stderr, "tour: cannot run a thread\n");
        exit(1);
    }
}

int main(void)
{
    /* The thread that initialises floe is its main thread; messages call it "main". */
    TRY(floe_runtime_init());

    printf("== 1. types\n");
    const floe_field_def scope_fields[] = {{"name", FLOE_KIND_STRING}, {"job", FLOE_KIND_REF}};
    const floe_field_def job_fields[] = {{"state", FLOE_KIND_STRING}, {"children", FLOE_KIND_REF}};
    floe_type scope_type, job_type;
    TRY(floe_type_define("Scope", scope_fields, 2, &scope_type));
    TRY(floe_type_define("Job", job_fields, 2, &job_type));
    TRY(floe_type_field_index(scope_type, "name", &scope_name));
    TRY(floe_type_field_index(scope_type, "job", &scope_job));
    TRY(floe_type_field_index(job_type, "state", &job_state));
    TRY(floe_type_field_index(job_type, "children", &job_children));
    printf("  Scope is type %" PRIu32 " {name: string [%zu], job: ref [%zu]}\n", scope_type, scope_name, scope_job);
    printf("  Job is type %" PRIu32 " {state: string [%zu], children: ref [%zu]}\n", job_type, job_state, job_children);

    printf("== 2. a graph owned by the main thread\n");
    floe_ref children[3];
    floe_ref scope = build_scope(scope_type, job_type, "io", children, 3);
    floe_ref job;
    TRY(floe_object_get_ref(scope, scope_job, &job));
    floe_ref list = children_of(scope);
    uint32_t scope_id, job_id;
    size_t n;
    char buf[64];
    TRY(floe_object_id(scope, &scope_id));
    TRY(floe_object_id(job, &job_id));
    TRY(floe_object_len(list, &n));
    printf("  Scope#%" PRIu32 ".name = \"%s\"\n", scope_id, read_string(scope, scope_name, buf, sizeof buf));
    printf("  Scope#%" PRIu32 ".job = Job#%" PRIu32 ", state \"%s\"\n", scope_id, job_id,
           read_string(job, job_state, buf, sizeof buf));
    printf("  Job#%" PRIu32 ".children has %zu jobs; the last one's state is \"%s\"\n", job_id, n,
           read_string(children[2], job_state, buf, sizeof buf));

    printf("== 3. freeze: deep, one way, remembered by its label\n");
    TRY(floe_object_freeze(scope, "launch"));
    printf("  froze Scope#%" PRIu32 " with label \"launch\": scope %s, job %s, list %s, children[2] %s\n", scope_id,
           is_frozen(scope) ? "frozen" : "MUTABLE", is_frozen(job) ? "frozen" : "MUTABLE",
           is_frozen(list) ? "frozen" : "MUTABLE", is_frozen(children[2]) ? "frozen" : "MUTABLE");
    floe_stats stats;
    TRY(floe_runtime_stats(&stats));
    printf("  %" PRIu64 " of %" PRIu64 " live objects are frozen\n", stats.frozen_objects, stats.live_objects);

    printf("== 4. frozen objects are readable from any thread\n");
    run_thread(reader, &scope);

    printf("== 5. diagnostics: each misuse is a status and a message, never a crash\n");
    show_diagnostic("write to a frozen object: Job.state = \"done\"", floe_object_set_string(job, job_state, "done"),
                    FLOE_ERR_FROZEN);

    floe_ref ui_children[2];
    floe_ref ui = build_scope(scope_type, job_type, "ui", ui_children, 2);
    floe_ref ui_job;
    TRY(floe_object_get_ref(ui, scope_job, &ui_job));
    run_thread(intruder, &ui_job);

    TRY(floe_object_ensure_never_frozen(ui_children[1]));
    show_diagnostic("freeze blocked: Scope \"ui\" reaches a Job marked never-frozen",
                    floe_object_freeze(ui, "render"), FLOE_ERR_FREEZE_BLOCKED);
    TRY(floe_object_set_string(ui, scope_name, "ui, still mutable"));
    printf("  nothing was frozen: Scope.name is now \"%s\"\n", read_string(ui, scope_name, buf, sizeof buf));

    floe_ref extra;
    TRY(floe_ref_retain(job, &extra));
    TRY(floe_ref_release(extra));
    show_diagnostic("released handle: floe_object_len on a Job handle that was already released",
                    floe_object_len(extra, &n), FLOE_ERR_RELEASED_HANDLE);

    printf("== 6. release everything\n");
    floe_ref handles[] = {scope, job, list, children[0], children[1], children[2],
                          ui, ui_job, ui_children[0], ui_children[1]};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        TRY(floe_ref_release(handles[i]));
    }
    TRY(floe_runtime_stats(&stats));
    printf("  floe_runtime_stats: live_objects %" PRIu64 ", frozen_objects %" PRIu64 ", live_handles %" PRIu64 "\n",
           stats.live_objects, stats.frozen_objects, stats.live_handles);
    if (stats.live_objects != 0 || stats.live_handles != 0) {
        printf("tour: LEAK: objects or handles are still live\n");
        return 1;
    }
    printf("tour: done, nothing leaked\n");
    return 0;
}
