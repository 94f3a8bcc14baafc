// C++17, built against an installed floe with CMake (floe::floe) by scripts/test-install: a class
// owns one handle and releases it in its destructor; a failed call throws floe's message.
#include <floe.h>

#include <cstdio>
#include <stdexcept>
#include <string>

static void check(floe_status status) {
    if (status != FLOE_OK) throw std::runtime_error(floe_last_error_message());
}

class Object {
public:
    explicit Object(floe_type type) { check(floe_object_new(type, &handle_)); }
    Object(const Object &) = delete;
    Object &operator=(const Object &) = delete;
    ~Object() { floe_ref_release(handle_); }

    void set(std::size_t field, const std::string &text) {
        check(floe_object_set_string(handle_, field, text.c_str()));
    }
    void freeze(const char *label) { check(floe_object_freeze(handle_, label)); }
    std::string get(std::size_t field) const {
        std::size_t len = 0;
        check(floe_object_get_string_len(handle_, field, &len));
        std::string text(len + 1, '\0');
        check(floe_object_get_string(handle_, field, text.data(), text.size(), &len));
        text.resize(len);
        return text;
    }

private:
    floe_ref handle_ = 0;
};

int main() try {
    check(floe_runtime_init());
    const floe_field_def fields[] = {{"text", FLOE_KIND_STRING}};
    floe_type greeting_type = 0;
    check(floe_type_define("Greeting", fields, 1, &greeting_type));
    {
        Object greeting(greeting_type);
        greeting.set(0, "hello from C++");
        greeting.freeze("greeting");
        try {
            greeting.set(0, "bye");
            return 1;  // a frozen object took a write
        } catch (const std::runtime_error &refused) {
            std::printf("refused: %s\n", refused.what());
        }
        std::printf("%s\n", greeting.get(0).c_str());
    }
    floe_stats stats{};
    check(floe_runtime_stats(&stats));
    if (auto left = stats.live_objects + stats.live_handles; left != 0) return 1;
    std::printf("floe %s from C++: nothing leaked\n", floe_version());
    return 0;
} catch (const std::exception &error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
}
