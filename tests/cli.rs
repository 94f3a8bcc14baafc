//! The `floe` command's help, version and usage errors: what it prints, where, and its exit code.

use std::process::{Command, Output};

fn floe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_floe")).args(args).output().expect("the floe binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("floe prints UTF-8")
}

#[test]
fn help_goes_to_stdout_and_succeeds() {
    for args in [&["--help"][..], &["-h"], &["help"]] {
        let output = floe(args);
        assert_eq!(output.status.code(), Some(0), "floe {args:?}");
        let stdout = text(&output.stdout);
        assert!(stdout.starts_with("usage: floe <command>"), "floe {args:?}: {stdout}");
        for line in ["  demo ", "  -V, --version "] {
            assert!(stdout.contains(line), "floe {args:?} lacks `{line}`: {stdout}");
        }
        assert!(output.stderr.is_empty(), "floe {args:?}: {}", text(&output.stderr));
    }
}

#[test]
fn version_is_cargos() {
    for flag in ["--version", "-V"] {
        let output = floe(&[flag]);
        assert_eq!(output.status.code(), Some(0), "floe {flag}");
        assert_eq!(text(&output.stdout), format!("floe {}\n", env!("CARGO_PKG_VERSION")), "floe {flag}");
    }
}

#[test]
fn the_demo_has_its_own_help() {
    for args in [&["demo", "--help"][..], &["demo", "-h"], &["help", "demo"]] {
        let output = floe(args);
        assert_eq!(output.status.code(), Some(0), "floe {args:?}");
        let stdout = text(&output.stdout);
        assert!(stdout.starts_with("usage: floe demo\n"), "floe {args:?}: {stdout}");
        assert!(!stdout.contains("floe demo — objects are owned"), "floe {args:?} ran the demo: {stdout}");
    }
}

#[test]
fn mistakes_print_an_error_and_the_usage_to_stderr_and_exit_2() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "floe: no command given", "usage: floe <command>"),
        (&["frobnicate"], "floe: unknown command or option `frobnicate`", "usage: floe <command>"),
        (&["--verbose"], "floe: unknown command or option `--verbose`", "usage: floe <command>"),
        (&["demo", "--fast"], "floe: floe demo takes no argument `--fast`", "usage: floe demo\n"),
        (&["help", "frobnicate"], "floe: no help for `frobnicate`", "usage: floe <command>"),
    ];
    for &(args, error, usage) in cases {
        let output = floe(args);
        assert_eq!(output.status.code(), Some(2), "floe {args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with(error), "floe {args:?}: {stderr}");
        assert!(stderr.contains(usage), "floe {args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "floe {args:?}: {}", text(&output.stdout));
    }
}

#[test]
fn segment_create_inspect_verify_recover_rm() {
    let name = format!("cli-{}", std::process::id());
    let created = floe(&["segment", "create", &name, "--size", "262144", "--slots", "3", "--readers", "4"]);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains(&format!("segment {name} created")), "{}", text(&created.stdout));
    let again = floe(&["segment", "create", &name]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).starts_with("floe segment: FLOE_ERR_EXISTS: segment /floe."),
        "{}",
        text(&again.stderr)
    );
    let inspect = floe(&["segment", "inspect", &name]);
    let shown = text(&inspect.stdout);
    assert_eq!(inspect.status.code(), Some(0), "{}", text(&inspect.stderr));
    for line in [format!("segment /floe.{name}: format 1.0"), "slot 2: version 0, empty".into(), "pages: ".into()] {
        assert!(shown.contains(&line), "inspect lacks {line:?}: {shown}");
    }
    let verify = floe(&["segment", "verify", &name]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains("0 versions checked, every byte ok"), "{}", text(&verify.stdout));
    let recover = floe(&["segment", "recover", &name]);
    assert_eq!(recover.status.code(), Some(0), "{}", text(&recover.stderr));
    assert!(text(&recover.stdout).contains("pages free"), "{}", text(&recover.stdout));
    let rm = floe(&["segment", "rm", &name]);
    assert_eq!(rm.status.code(), Some(0), "{}", text(&rm.stderr));
    let gone = floe(&["segment", "inspect", &name]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(text(&gone.stderr).starts_with("floe segment: FLOE_ERR_NOT_FOUND: "), "{}", text(&gone.stderr));
    let usage = floe(&["segment", "frob", &name]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("usage: floe segment"), "{}", text(&usage.stderr));
    let help = floe(&["help", "segment"]);
    assert!(text(&help.stdout).starts_with("usage: floe segment"), "{}", text(&help.stdout));
}
