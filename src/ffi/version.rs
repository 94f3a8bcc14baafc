//! `floe_version` and the `FLOE_VERSION_*` macros: the floe a program was compiled against (the
//! macros, from its header) and the one it runs with (the function, from the loaded library).

use std::ffi::{c_char, CStr};

/// floe's major version, as the header a program includes says (the crate version's MAJOR).
pub const FLOE_VERSION_MAJOR: u32 = 0;
/// floe's minor version, as the header a program includes says (the crate version's MINOR).
pub const FLOE_VERSION_MINOR: u32 = 1;
/// floe's patch version, as the header a program includes says (the crate version's PATCH).
pub const FLOE_VERSION_PATCH: u32 = 0;

// The macros are literals so that cbindgen can write them into the header; the build fails when
// they differ from the version in Cargo.toml, so a release cannot ship a header that misstates it.
const _: () = assert!(
    FLOE_VERSION_MAJOR == decimal(env!("CARGO_PKG_VERSION_MAJOR"))
        && FLOE_VERSION_MINOR == decimal(env!("CARGO_PKG_VERSION_MINOR"))
        && FLOE_VERSION_PATCH == decimal(env!("CARGO_PKG_VERSION_PATCH")),
    "FLOE_VERSION_* in src/ffi/version.rs differ from the version in Cargo.toml"
);

/// The value of a version component Cargo gives as decimal digits.
const fn decimal(digits: &str) -> u32 {
    let digits = digits.as_bytes();
    let (mut value, mut at) = (0, 0);
    while at < digits.len() {
        value = value * 10 + (digits[at] - b'0') as u32;
        at += 1;
    }
    value
}

const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
    Ok(version) => version,
    Err(_) => panic!("Cargo's version has no NUL byte"),
};

/// The version of the floe library this program runs with, as text: "MAJOR.MINOR.PATCH" (for
/// example "0.1.0"), followed by "-PRE" for a pre-release. Compare it with the `FLOE_VERSION_*`
/// macros to learn whether the loaded library is the one the program was compiled against.
///
/// The string is static and NUL-terminated: never NULL, never freed by the caller. Callable from
/// any thread at any time, before `floe_runtime_init` too; it never fails.
#[unsafe(no_mangle)]
pub extern "C" fn floe_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_cargos() {
        // SAFETY: floe_version returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(floe_version()) }.to_str().unwrap();
        assert_eq!(text, env!("CARGO_PKG_VERSION"));
        let from_macros = format!("{FLOE_VERSION_MAJOR}.{FLOE_VERSION_MINOR}.{FLOE_VERSION_PATCH}");
        assert!(text.starts_with(&from_macros), "{text} vs {from_macros}");
    }
}
