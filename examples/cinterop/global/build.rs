fn main() {
    // Kotlin/Native's .def, line for line, and the C library that publishes into its global.
    floe_cinterop::Interop::new("global.def").header("quotes.h").source("quotes.c").run();
    // C structs and globals whose `void *` fields hold detached graphs.
    floe_cinterop::build("orders.def");
}
