//! Shutdown: every worker asked to stop, waited for up to a deadline, and what is left reported —
//! never an abort.

use crate::core::base::stats::{self, Stats};
use crate::core::exec::{future, worker};
use std::fmt;
use std::time::Duration;

/// What a shutdown found: nothing aborts, everything is said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Workers that stopped (`worker <id> (<name>)`).
    pub stopped: Vec<String>,
    /// Workers still running when the time ran out.
    pub unfinished: Vec<String>,
    /// The counters afterwards: detached graphs never attached, objects and handles still alive.
    pub stats: Stats,
}

impl ShutdownReport {
    /// Whether everything stopped and nothing is left alive.
    pub fn is_clean(&self) -> bool {
        self.unfinished.is_empty() && self.stats == Stats::default()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "floe shutdown: {} worker(s) stopped", self.stopped.len())?;
        if !self.unfinished.is_empty() {
            write!(f, "; unfinished, still running: {}", self.unfinished.join(", "))?;
        }
        let s = &self.stats;
        write!(
            f,
            "; {} detached graph(s) never attached, {} live object(s), {} live handle(s)",
            s.detached_graphs, s.live_objects, s.live_handles
        )
    }
}

/// Terminates every running worker — running the jobs already queued when `process_scheduled`,
/// cancelling them otherwise — waits up to `timeout` for their threads, and reports what is left.
pub(crate) fn shutdown(process_scheduled: bool, timeout: Option<Duration>) -> ShutdownReport {
    let deadline = timeout.and_then(future::deadline_in);
    let mut report = ShutdownReport::default();
    let stopping: Vec<_> = worker::running()
        .into_iter()
        .filter_map(|w| w.request_termination(process_scheduled).ok().map(|done| (w, done)))
        .collect();
    for (worker, done) in stopping {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let name = worker.describe();
        match done.wait(left) {
            Ok(_) => report.stopped.push(name),
            Err(_) => report.unfinished.push(name),
        }
    }
    report.stats = stats::snapshot();
    if report.stats.live_objects != 0 && std::env::var_os("FLOE_DEBUG_LEAKS").is_some() {
        for line in crate::core::heap::slots::HEAP.describe_live(200) {
            eprintln!("floe shutdown: live {line}");
        }
    }
    report
}
