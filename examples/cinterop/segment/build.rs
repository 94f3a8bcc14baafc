fn main() {
    floe_cinterop::build("app.def");
}
