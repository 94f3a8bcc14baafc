//! The threaded-test helper: every test body runs twice — on the process's main thread, which is
//! floe's main thread as in a real program, and on a background thread — and each run ends by
//! checking that nothing leaked (objects, handles). A custom harness (`harness = false`) because
//! libtest runs tests on spawned threads, where "main thread" would mean nothing.

use floe::{Runtime, Stats};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub type Test = (&'static str, fn());

/// Where a test body is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Main,
    Background,
}

thread_local! {
    static PLACE: std::cell::Cell<Place> = const { std::cell::Cell::new(Place::Main) };
}

/// Where the current test body runs.
pub fn place() -> Place {
    PLACE.with(|p| p.get())
}

fn run_once(body: fn(), place: Place) -> Result<(), String> {
    let run = move || -> Result<(), String> {
        PLACE.with(|p| p.set(place));
        catch_unwind(AssertUnwindSafe(body)).map_err(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into())
        })?;
        // The collector is per thread: run it where the body ran, then count what is left.
        Runtime::collect_cycles();
        let left = Runtime::stats();
        if left != Stats::default() {
            return Err(format!("leaked: {left:?}"));
        }
        Ok(())
    };
    match place {
        Place::Main => run(),
        Place::Background => std::thread::Builder::new()
            .name("floe-test-background".into())
            .spawn(run)
            .expect("spawn a background thread")
            .join()
            .unwrap_or_else(|_| Err("the background thread died".into())),
    }
}

/// Runs `tests` (those whose name contains the first command-line argument, if any) and exits
/// non-zero when any fails, or when a filter was given and matched no test: a script that selects
/// tests by name (TSan's module loop) must not pass because a module was renamed.
pub fn main(tests: &[Test]) {
    Runtime::init().expect("the harness's main thread initialises floe");
    assert!(Runtime::is_main_thread());
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let (mut passed, mut failed) = (0, 0);
    for (name, body) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        for place in [Place::Main, Place::Background] {
            match run_once(*body, place) {
                Ok(()) => {
                    passed += 1;
                    println!("test {name} [{place:?}] ... ok");
                }
                Err(why) => {
                    failed += 1;
                    println!("test {name} [{place:?}] ... FAILED: {why}");
                }
            }
        }
    }
    println!();
    if let Some(filter) = filter.as_deref().filter(|_| passed + failed == 0) {
        println!("no test name contains the filter {filter:?}: nothing ran");
        failed += 1;
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Declares a module's test list: `tests![a, b]` makes `TESTS` with names `module::a`, `module::b`.
#[macro_export]
macro_rules! tests {
    ($($body:ident),* $(,)?) => {
        pub const TESTS: &[$crate::harness::Test] = &[$((concat!(module_path!(), "::", stringify!($body)), $body)),*];
    };
}

/// Asserts that `result` failed with `status` and that its message contains each of `parts`.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(result: floe::Result<T>, status: floe::Status, parts: &[&str]) -> String {
    let error = result.expect_err("the operation should fail");
    assert_eq!(error.status(), status, "unexpected status; message: {}", error.message());
    for part in parts {
        assert!(error.message().contains(part), "message lacks {part:?}: {}", error.message());
    }
    error.message().to_owned()
}
