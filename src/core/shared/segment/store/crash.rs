//! Crash points: named places in creation, publish, recovery, reclamation and reading where a test
//! makes the process kill itself with SIGKILL, to prove that a death at that instruction loses
//! nothing.
//!
//! Each point is one line, `crash_point!("publish.committed");`. Without the `crash-points` cargo
//! feature (the default) the macro expands to nothing: the library has no trace of them. With it,
//! the environment variable `FLOE_CRASH_AT` selects one point, read once per process:
//! `FLOE_CRASH_AT=publish.committed` dies at the first pass through it, `publish.page_live:2` at the
//! second (points inside loops run once per page or pin). An unknown name aborts the process with
//! a message, so a misspelt point never passes for a crash that did not happen.
//!
//! `POINTS` lists every point; a point used in the code and missing from it is a compile error
//! (with the feature on), and the kill matrix (`kills.rs`) runs every one of them.

/// Raises SIGKILL here when `FLOE_CRASH_AT` names this point (and this pass); nothing without the
/// `crash-points` feature. The name must be one of `POINTS`.
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "crash-points")]
        {
            const _: () = assert!(
                $crate::core::shared::segment::store::crash::is_point($name),
                concat!("crash point ", $name, " is not listed in crash::POINTS")
            );
            $crate::core::shared::segment::store::crash::hit($name);
        }
    };
}
pub(crate) use crash_point;

/// Every crash point, in the order a creation, a publish, an unpublish, a recovery, a reclamation
/// and a read meet them.
#[cfg(feature = "crash-points")]
pub(crate) const POINTS: &[&str] = &[
    // Creating a segment.
    "create.file_made",
    "create.sized",
    "create.header_written",
    // Taking the writer lock (every publish, unpublish, recovery and slot naming).
    "writer.locked",
    "writer.epoch_bumped",
    "writer.owner_written",
    // Publish.
    "publish.run_found",
    "publish.id_taken",
    "publish.in_flight_fields",
    "publish.in_flight_written",
    "publish.page_writing",
    "publish.pages_writing",
    "publish.writable",
    "publish.record_written",
    "publish.block_written",
    "publish.read_only",
    "publish.page_live",
    "publish.pages_live",
    "publish.committed",
    "publish.mirrored",
    "publish.in_flight_committed",
    // After a slot changed (publish and unpublish): retire, tell waiters, reclaim.
    "change.page_retired",
    "change.retired",
    "change.seq_bumped",
    "change.woken",
    "reclaim.pins_scanned",
    "reclaim.page_freed",
    "reclaim.run_freed",
    "reclaim.dead_reader_cleared",
    "publish.in_flight_cleared",
    // A write that failed: its pages go back.
    "rollback.page_freed",
    "rollback.in_flight_cleared",
    // Unpublish.
    "unpublish.mirrored",
    "unpublish.emptied",
    // Clearing a dead reader's entry (from recovery and from reclamation).
    "dead_reader.locked",
    "dead_reader.pin_cleared",
    "dead_reader.pid_cleared",
    // Recovery.
    "recover.begun",
    "recover.writing_page_freed",
    "recover.page_relived",
    "recover.mirror_reset",
    "recover.slot_emptied",
    "recover.dead_reader_cleared",
    "recover.page_retired",
    "recover.page_freed",
    "recover.seq_bumped",
    "recover.in_flight_cleared",
    // A reader claiming an entry, pinning and unpinning.
    "claim.locked",
    "claim.pin_cleared",
    "claim.claimed",
    "read.pinned",
    "read.checked",
    "read.unpinned",
];

/// Whether `name` is one of `POINTS` (a `const fn`, so that `crash_point!` checks its name when
/// it compiles).
#[cfg(feature = "crash-points")]
pub(crate) const fn is_point(name: &str) -> bool {
    let mut i = 0;
    while i < POINTS.len() {
        if same(POINTS[i].as_bytes(), name.as_bytes()) {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(feature = "crash-points")]
const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The environment variable that selects a crash point.
#[cfg(feature = "crash-points")]
pub(crate) const VARIABLE: &str = "FLOE_CRASH_AT";

/// Parses `name` or `name:N` (N ≥ 1, the pass to die at); the reason when it is not a point.
#[cfg(feature = "crash-points")]
pub(crate) fn parse(spec: &str) -> Result<(&'static str, u32), String> {
    let (name, pass) = match spec.split_once(':') {
        Some((name, n)) => match n.parse::<u32>() {
            Ok(n) if n >= 1 => (name, n),
            _ => return Err(format!("{VARIABLE}={spec}: the pass after ':' must be a number from 1")),
        },
        None => (spec, 1),
    };
    match POINTS.iter().find(|&&p| p == name) {
        Some(&point) => Ok((point, pass)),
        None => {
            Err(format!("{VARIABLE}={spec}: no crash point is named {name:?}; the points are {}", POINTS.join(", ")))
        }
    }
}

#[cfg(feature = "crash-points")]
static ARMED: std::sync::OnceLock<Option<(&'static str, u32)>> = std::sync::OnceLock::new();
#[cfg(feature = "crash-points")]
static PASSES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// One pass through the point `name`: the process dies here if `FLOE_CRASH_AT` selects it.
#[cfg(feature = "crash-points")]
pub(crate) fn hit(name: &'static str) {
    let armed = ARMED.get_or_init(|| match std::env::var(VARIABLE) {
        Err(_) => None,
        Ok(spec) => match parse(&spec) {
            Ok(armed) => Some(armed),
            Err(message) => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "{message}");
                std::process::abort();
            }
        },
    });
    let Some((point, pass)) = *armed else { return };
    if point != name || PASSES.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 != pass {
        return;
    }
    use std::io::Write;
    let _ =
        writeln!(std::io::stderr(), "crash point {name} (pass {pass}): process {} kills itself", std::process::id());
    loop {
        // SAFETY: sends SIGKILL to this process; nothing runs after it is delivered (before the
        // system call returns to this thread), the loop only covers the impossible return.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[cfg(all(test, feature = "crash-points"))]
mod tests {
    use super::*;

    #[test]
    fn names_and_passes_parse_and_unknown_names_are_refused() {
        assert_eq!(parse("publish.committed"), Ok(("publish.committed", 1)));
        assert_eq!(parse("publish.page_live:3"), Ok(("publish.page_live", 3)));
        assert!(parse("publish.page_live:0").unwrap_err().contains("a number from 1"));
        assert!(parse("publish.commited").unwrap_err().contains("no crash point is named \"publish.commited\""));
        let mut seen = std::collections::HashSet::new();
        for &p in POINTS {
            assert!(seen.insert(p), "{p} is listed twice");
            assert!(is_point(p));
        }
        assert!(!is_point("publish"));
    }
}
