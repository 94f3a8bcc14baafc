//! The C examples in `c-examples/` build warning-free against `include/floe.h`, link statically
//! against the `libfloe.a` that cargo built next to this test, and run clean: once plain and once
//! under AddressSanitizer (with LeakSanitizer) and UBSan. The header also compiles on its own, as C
//! and as C++.
//!
//! The compilers are `$CC` / `$CXX`, else `cc` / `c++`. Binaries go to a directory under
//! `CARGO_TARGET_TMPDIR`. No LSan suppressions are needed: floe's process-lifetime tables stay
//! reachable from its statics, so LeakSanitizer does not report them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Werror"];
const SANITIZERS: &[&str] = &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"];

/// Each example and lines its output must contain.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "tour",
        &[
            "[reader] scope.job.children[2].state = \"child 2\"",
            "FLOE_ERR_FROZEN",
            "is frozen — frozen by freeze(Scope#",
            ", \"launch\") on thread main, reached via Scope.job (calling thread: main)",
            "FLOE_ERR_WRONG_THREAD",
            "is mutable and owned by thread main, but the calling thread is intruder",
            "FLOE_ERR_FREEZE_BLOCKED",
            "at Scope.job.children[1], which is marked never-frozen",
            "FLOE_ERR_RELEASED_HANDLE",
            "live_objects 0, frozen_objects 0, live_handles 0",
            "tour: done, nothing leaked",
        ],
    ),
    (
        "misuse",
        &[
            "ok: NULL handle: floe_object_len(0) -> FLOE_ERR_NULL",
            "ok: 100000 random 64-bit handles",
            "ok: use after release: floe_object_get_int -> FLOE_ERR_RELEASED_HANDLE",
            "ok: double release -> FLOE_ERR_DOUBLE_RELEASE",
            "ok: the message names both threads (main, intruder)",
            "ok: write to a frozen object -> FLOE_ERR_FROZEN",
            "ok: nothing was frozen: floe_object_is_frozen false everywhere",
            "ok: floe_runtime_stats are all zero at the end",
            " checks passed, 0 failed",
        ],
    ),
];

/// `target/<profile>`: this test runs as `target/<profile>/deps/c_examples-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("the test executable is in a directory");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("deps has a parent")
    } else {
        dir
    };
    dir.to_path_buf()
}

fn static_library() -> PathBuf {
    let lib = profile_dir().join("libfloe.a");
    assert!(
        lib.is_file(),
        "{} is missing: run `cargo build` (or `cargo test`) first",
        lib.display()
    );
    lib
}

fn tool(variable: &str, default: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-examples");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
}

/// Runs `command` and returns its output, or panics showing the command and everything it printed.
fn run(mut command: Command, what: &str) -> Output {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {shown}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n$ {shown}\n{}",
            output.status,
            printed(&output)
        );
    }
    output
}

fn printed(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Compiles `c-examples/<name>.c` (with sanitizers or not) and returns the binary's path.
fn compile(name: &str, sanitize: bool) -> PathBuf {
    let manifest = Path::new(MANIFEST_DIR);
    let binary = out_dir().join(if sanitize {
        format!("{name}-sanitized")
    } else {
        name.to_string()
    });
    let mut cc = Command::new(tool("CC", "cc"));
    cc.arg("-std=c11").args(WARNINGS).arg("-g");
    if sanitize {
        cc.args(SANITIZERS);
    }
    cc.arg("-I")
        .arg(manifest.join("include"))
        .arg(manifest.join("c-examples").join(format!("{name}.c")))
        .arg(static_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&binary);
    run(cc, &format!("compiling {name}.c"));
    binary
}

/// Builds and runs one example, and checks its exit status and output.
fn check_example(name: &str, sanitize: bool) {
    let expected = EXAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, lines)| *lines)
        .expect("a listed example");
    let mut command = Command::new(compile(name, sanitize));
    command
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let output = run(
        command,
        &format!(
            "running {name}{}",
            if sanitize { " (sanitized)" } else { "" }
        ),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in expected {
        assert!(
            stdout.contains(line),
            "{name} did not print {line:?}\n{}",
            printed(&output)
        );
    }
    assert!(
        !stderr.contains("Sanitizer") && !stderr.contains("runtime error:"),
        "{name} ran into a sanitizer report\n{}",
        printed(&output)
    );
    if name == "misuse" {
        check_misuse_summary(&stdout, &output);
    }
}

/// The last line is `misuse: N checks passed, 0 failed`, N counts the `ok:` lines, no line failed.
fn check_misuse_summary(stdout: &str, output: &Output) {
    let last = stdout.lines().last().unwrap_or_default();
    let passed: usize = last
        .strip_prefix("misuse: ")
        .and_then(|rest| rest.strip_suffix(" checks passed, 0 failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary line {last:?}\n{}", printed(output)));
    let ok_lines = stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    assert!(
        passed > 0 && passed == ok_lines,
        "summary says {passed} passed, {ok_lines} ok lines\n{}",
        printed(output)
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("FAIL")),
        "a check failed\n{}",
        printed(output)
    );
}

#[test]
fn tour_runs() {
    check_example("tour", false);
}

#[test]
fn tour_runs_under_asan_and_ubsan() {
    check_example("tour", true);
}

#[test]
fn misuse_checks_pass() {
    check_example("misuse", false);
}

#[test]
fn misuse_checks_pass_under_asan_and_ubsan() {
    check_example("misuse", true);
}

/// A new example must be added to `EXAMPLES`, or it would never be built.
#[test]
fn every_c_example_is_tested() {
    let dir = Path::new(MANIFEST_DIR).join("c-examples");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("c-examples/ exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .map(|path| {
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "c-examples/*.c and EXAMPLES in tests/c_examples.rs differ"
    );
}

fn check_header(compiler: &str, standard: &str, language: &str) {
    let mut command = Command::new(compiler);
    command
        .arg(standard)
        .args(WARNINGS)
        .args(["-fsyntax-only", "-x", language])
        .arg(Path::new(MANIFEST_DIR).join("include").join("floe.h"));
    run(
        command,
        &format!("compiling include/floe.h on its own as {language}"),
    );
}

#[test]
fn header_compiles_alone_as_c11() {
    check_header(&tool("CC", "cc"), "-std=c11", "c");
}

#[test]
fn header_compiles_alone_as_cxx17() {
    check_header(&tool("CXX", "c++"), "-std=c++17", "c++");
}
