fn main() {
    println!("cargo::rerun-if-env-changed=FLOE_CINTEROP_DEF");
    let def = std::env::var("FLOE_CINTEROP_DEF").unwrap_or_else(|_| "wrong.def".to_string());
    floe_cinterop::build(def);
}
