/* The C process of the segment example. It opens the segment the Rust process created (its name is
 * argv[1]), finds the slots by app_shared.h — the header the Rust side was generated from — checks
 * that the slot names the Rust side gave agree with FLOE_SLOT, publishes a list of prices into the
 * `prices` slot, then waits for the `config` the Rust process publishes in reply and checks that
 * its total is the sum of the prices. Exits 0 only if all went so. */
#include <floe.h>
#include <floe_cinterop.h>
#include <stdio.h>
#include <string.h>

#include "app_shared.h"

#define CHECK(call)                                                                          \
    do {                                                                                     \
        floe_status status_ = (call);                                                        \
        if (status_ != FLOE_OK) {                                                            \
            fprintf(stderr, "c_process: %s: %s\n", #call, floe_last_error_message());        \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)
#define EXPECT(condition)                                                                    \
    do {                                                                                     \
        if (!(condition)) {                                                                  \
            fprintf(stderr, "c_process: expected %s\n", #condition);                         \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

static const int64_t CENTS[] = {250, 1999, 7};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SEGMENT\n", argv[0]);
        return 2;
    }
    CHECK(floe_runtime_init());
    struct floe_segment *segment;
    CHECK(floe_segment_open(argv[1], &segment));

    /* One header, the same slots: the names the Rust process gave are FLOE_SLOT's indexes. */
    uint32_t slot;
    CHECK(floe_segment_slot_by_name(segment, "config", &slot));
    EXPECT(slot == FLOE_SLOT(AppShared, config));
    CHECK(floe_segment_slot_by_name(segment, "prices", &slot));
    EXPECT(slot == FLOE_SLOT(AppShared, prices) && FLOE_SLOTS(AppShared) == 2);
    floe_shared_data *config, *prices;
    CHECK(floe_segment_slot(segment, FLOE_SLOT(AppShared, config), &config));
    CHECK(floe_segment_slot(segment, FLOE_SLOT(AppShared, prices), &prices));
    uint32_t seen;
    CHECK(floe_segment_change_count(segment, FLOE_SLOT(AppShared, config), &seen));

    floe_field_def fields[] = {{"sku", FLOE_KIND_STRING}, {"cents", FLOE_KIND_INT}};
    floe_type price_type;
    CHECK(floe_type_define("Price", fields, 2, &price_type));
    floe_ref list;
    CHECK(floe_list_new(&list));
    int64_t sum = 0;
    for (size_t i = 0; i < sizeof CENTS / sizeof CENTS[0]; i++) {
        char sku[16];
        snprintf(sku, sizeof sku, "sku-%zu", i);
        floe_ref price;
        CHECK(floe_object_new(price_type, &price));
        CHECK(floe_object_set_string(price, 0, sku));
        CHECK(floe_object_set_int(price, 1, CENTS[i]));
        CHECK(floe_list_push_ref(list, price));
        CHECK(floe_ref_release(price));
        sum += CENTS[i];
    }
    CHECK(floe_object_freeze(list, "prices"));
    CHECK(floe_shared_data_publish(prices, list)); /* written into the segment: version 1 */
    CHECK(floe_ref_release(list));
    printf("c_process: published %zu prices (total %lld) to slot %u `prices`\n", sizeof CENTS / sizeof CENTS[0],
           (long long)sum, FLOE_SLOT(AppShared, prices));

    /* The Rust process replies in `config`. */
    uint32_t count;
    CHECK(floe_segment_wait(segment, FLOE_SLOT(AppShared, config), seen, 10000, &count));
    int32_t version;
    floe_ref reply;
    CHECK(floe_shared_data_read(config, &version, &reply));
    EXPECT(reply != 0);
    char currency[8];
    size_t len;
    int64_t total;
    CHECK(floe_object_get_string(reply, 0, currency, sizeof currency, &len));
    CHECK(floe_object_get_int(reply, 1, &total));
    EXPECT(strcmp(currency, "EUR") == 0 && total == sum);
    printf("c_process: read config version %d from slot %u: %s, total %lld\n", version,
           FLOE_SLOT(AppShared, config), currency, (long long)total);
    CHECK(floe_ref_release(reply));
    CHECK(floe_segment_close(segment));
    return 0;
}
