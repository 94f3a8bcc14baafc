/*
 * checks.h — what the C example programs share to check floe: the pass and fail counters, CHECK,
 * expect (a failure's status, its last-error status and a message), SETUP (calls that must work)
 * and the runtime's counters. Each program includes it once.
 */
#ifndef FLOE_EXAMPLE_CHECKS_H
#define FLOE_EXAMPLE_CHECKS_H

#include "floe.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Atomic: checks may run on several pthreads at once (a receiver thread and main, say). */
static atomic_int passed, failed;

/* A copy of the message of the last failure checked by `expect` on this thread. */
static _Thread_local char message[4096];

static inline bool check(bool ok, const char *what, const char *condition)
{
    if (ok) {
        passed++;
        printf("ok: %s\n", what);
    } else {
        failed++;
        printf("FAIL: %s (%s; last error: %s: %s)\n", what, condition, floe_status_name(floe_last_error_status()),
               floe_last_error_message());
    }
    return ok;
}

#define CHECK(condition, what) check((condition), (what), #condition)

/* Whether the last checked message contains `part`. */
static inline bool said(const char *part)
{
    return strstr(message, part) != NULL;
}

/*
 * Checks that a call failed with `want`, that floe_last_error_status agrees, and that the message
 * is not empty; the message is copied to `message` for further checks.
 */
static inline bool expect(floe_status got, floe_status want, const char *what)
{
    snprintf(message, sizeof message, "%s", floe_last_error_message());
    bool ok = got == want && floe_last_error_status() == want && message[0] != '\0';
    if (ok) {
        passed++;
        printf("ok: %s -> %s\n", what, floe_status_name(want));
    } else {
        failed++;
        printf("FAIL: %s -> %s, expected %s; message: \"%s\"\n", what, floe_status_name(got), floe_status_name(want),
               message);
    }
    return ok;
}

/* Setup calls are not checks, but a failing one still fails the run. */
#define SETUP(call) setup((call), #call)

static inline void setup(floe_status status, const char *call)
{
    if (status != FLOE_OK) {
        failed++;
        printf("FAIL: setup %s -> %s: %s\n", call, floe_status_name(status), floe_last_error_message());
    }
}

/* The runtime's live counters. */
static inline floe_stats stats(void)
{
    floe_stats s;
    memset(&s, 0, sizeof s);
    SETUP(floe_runtime_stats(&s));
    return s;
}

#endif
