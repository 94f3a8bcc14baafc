/* Built against an installed floe by scripts/test-install: with pkg-config (shared and static)
 * and with CMake (floe::floe, floe::floe_static). Exits 0 only if all went as floe promises. */
#include <floe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* floe's message names the failed function, the object and the threads involved. */
static void check(floe_status status) {
    if (status != FLOE_OK) {
        fprintf(stderr, "%s\n", floe_last_error_message());
        exit(1);
    }
}

int main(void) {
    char compiled[32];
    snprintf(compiled, sizeof compiled, "%d.%d.%d", FLOE_VERSION_MAJOR, FLOE_VERSION_MINOR,
             FLOE_VERSION_PATCH);
    if (strcmp(floe_version(), compiled) != 0) return 1; /* the library is not the header's */

    check(floe_runtime_init());
    floe_field_def fields[] = {{"text", FLOE_KIND_STRING}};
    floe_type greeting_type;
    check(floe_type_define("Greeting", fields, 1, &greeting_type));
    floe_ref greeting;
    check(floe_object_new(greeting_type, &greeting));
    check(floe_object_set_string(greeting, 0, "hello"));
    check(floe_object_freeze(greeting, "greeting"));
    if (floe_object_set_string(greeting, 0, "bye") != FLOE_ERR_FROZEN) return 1;
    printf("refused: %s\n", floe_last_error_message());
    check(floe_ref_release(greeting));

    floe_stats stats;
    check(floe_runtime_stats(&stats));
    printf("floe %s: %llu live objects, %llu live handles\n", floe_version(),
           (unsigned long long)stats.live_objects, (unsigned long long)stats.live_handles);
    return stats.live_objects == 0 && stats.live_handles == 0 ? 0 : 1;
}
