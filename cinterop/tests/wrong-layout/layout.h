#include <floe.h>

typedef struct {
    floe_shared_data config;
    int prices;
} AppShared;
