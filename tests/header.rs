//! The committed header is exactly what cbindgen generates from the sources today (with the
//! `header` feature, which makes build.rs generate it), and spells every status as the runtime does.

#[cfg(feature = "header")]
#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/floe.h"));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/floe.h"))
        .expect("include/floe.h is committed");
    assert!(fresh == committed, "include/floe.h is stale: run scripts/bless-header and commit the result");
}

#[test]
fn every_status_is_spelled_in_the_header_as_the_runtime_names_it() {
    let header = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/floe.h"));
    for code in 0..=200 {
        if let Some(status) = floe::Status::from_code(code) {
            let line = format!("{} = {code},", status.name());
            assert!(header.contains(&line), "header lacks `{line}`");
        }
    }
}

#[test]
fn the_version_macros_are_cargos_version() {
    let header = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/floe.h"));
    for (part, value) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let line = format!("\n#define FLOE_VERSION_{part} {value}\n");
        assert!(header.contains(&line), "header lacks `{}`", line.trim());
    }
}
