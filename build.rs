//! With the `header` feature, generates the C header from the crate's doc-commented exports with
//! cbindgen (pinned in Cargo.toml). The result goes to `$OUT_DIR/floe.h`; `tests/header.rs` fails
//! when the committed `include/floe.h` differs, and `scripts/bless-header` copies the fresh one over
//! it. Without the feature (a dependent crate's build) the committed header is the header.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The shared library's SONAME names the ABI a program links against: MAJOR from 1.0 on, and
    // 0.MINOR before it, since Cargo's semver treats every 0.x minor release as a breaking one.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let (major, minor) = (env!("CARGO_PKG_VERSION_MAJOR"), env!("CARGO_PKG_VERSION_MINOR"));
        let abi = if major == "0" { format!("0.{minor}") } else { major.to_string() };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libfloe.so.{abi}");
    }
    #[cfg(feature = "header")]
    generate_header();
}

#[cfg(feature = "header")]
fn generate_header() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml parses");
    let mut header = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut header);
    // cbindgen qualifies enum constants with the type name; floe's statuses are spelled FLOE_OK and
    // FLOE_ERR_*, as its documentation and every message call them.
    let header = String::from_utf8(header).expect("the header is UTF-8").replace("FLOE_STATUS_", "FLOE_");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{out}/floe.h"), header).expect("OUT_DIR is writable");
}
