/* A C program built against an installed floe: through pkg-config (shared and static) and through
 * CMake's find_package(floe) by scripts/test-install. It checks the library is the version its
 * header names, freezes an object, sees a write refused and ends with nothing leaked. */
#include <floe.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        if ((call) != FLOE_OK) {                                                 \
            fprintf(stderr, "%s failed: %s\n", #call, floe_last_error_message()); \
            return 1;                                                            \
        }                                                                        \
    } while (0)

int main(void) {
    char header_version[32];
    snprintf(header_version, sizeof header_version, "%d.%d.%d", FLOE_VERSION_MAJOR, FLOE_VERSION_MINOR,
             FLOE_VERSION_PATCH);
    if (strcmp(floe_version(), header_version) != 0) {
        fprintf(stderr, "compiled against floe %s, running with %s\n", header_version, floe_version());
        return 1;
    }

    CHECK(floe_runtime_init());
    floe_field_def fields[] = {{"text", FLOE_KIND_STRING}};
    floe_type greeting_type;
    CHECK(floe_type_define("Greeting", fields, 1, &greeting_type));
    floe_ref greeting;
    CHECK(floe_object_new(greeting_type, &greeting));
    CHECK(floe_object_set_string(greeting, 0, "hello"));
    CHECK(floe_object_freeze(greeting, "greeting"));
    if (floe_object_set_string(greeting, 0, "bye") != FLOE_ERR_FROZEN) {
        fprintf(stderr, "a frozen object took a write\n");
        return 1;
    }
    printf("refused: %s\n", floe_last_error_message());
    CHECK(floe_ref_release(greeting));

    floe_stats stats;
    CHECK(floe_runtime_stats(&stats));
    printf("floe %s: %llu live objects, %llu live handles\n", floe_version(),
           (unsigned long long)stats.live_objects, (unsigned long long)stats.live_handles);
    return stats.live_objects == 0 && stats.live_handles == 0 ? 0 : 1;
}
