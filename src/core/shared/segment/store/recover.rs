//! Recovery: brings the segment back to a state where every page is accounted for, after a writer
//! or reader died at any instruction. Runs under the writer lock: when a writer takes the lock and
//! the in-flight record shows an unfinished publish, or another process held the lock since this
//! process last did (to rebuild the private bitmap), and on demand (`Segment::recover`).
//!
//! Every step is idempotent and changes one word at a time, so a crash during recovery leaves a
//! state the same rules classify:
//! 1. WRITING pages → FREE: only the lock holder writes pages, so any WRITING page is a dead (or
//!    failed) holder's.
//! 2. Each slot's reference is checked (a run of pages starting where it says, LIVE or RETIRED
//!    with its id — a mix of both is one run, left by a death while its state changed — and a
//!    record that agrees): a slot that fails is emptied and reported; a referenced run is made
//!    LIVE throughout, and its mirrored K/N version is set from the record; the block's own
//!    header is checked too when the layer above gave a check (`Segment::block_check`: the store
//!    itself treats blocks as opaque).
//! 3. Reader entries whose lock byte can be taken belong to dead processes: their pins are
//!    cleared (under that lock) and reported.
//! 4. Versions no slot references: pinned by a live reader → RETIRED throughout, else → FREE.
//! 5. The in-flight record is cleared; a slot it names gets a seq bump and a wake (a dead writer
//!    may have committed without telling waiters; a spurious wake is harmless).
//!
//! Afterwards: FREE + referenced + pinned pages = all pages.

use super::crash::crash_point;
use super::layout::*;
use super::lock;
use super::publish::Session;
use super::segment::{InFlight, Run};
use crate::core::base::error::Result;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{fence, Ordering};

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// A publish that did not finish, and the pid of the writer that left it.
    pub(crate) interrupted: Option<(u32, InFlight)>,
    pub(crate) writing_pages_freed: u32,
    pub(crate) versions_freed: u32,
    pub(crate) versions_retired: u32,
    /// Slots emptied because their version failed its check, with the reason.
    pub(crate) slots_emptied: Vec<(u32, String)>,
    pub(crate) dead_readers: Vec<DeadReader>,
    pub(crate) free_pages: u32,
}

/// A reader entry whose process died, as it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeadReader {
    pub(crate) index: u32,
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    /// The version ids it pinned.
    pub(crate) pins: Vec<u64>,
}

impl super::segment::Segment {
    /// Takes the writer lock and recovers (see the module's steps), whatever state it finds.
    pub(crate) fn recover(&self) -> Result<Report> {
        let mut session = self.begin_write()?;
        match session.recovered.take() {
            Some(report) => Ok(report),
            None => session.recover_locked(),
        }
    }
}

impl Session<'_> {
    pub(crate) fn recover_locked(&mut self) -> Result<Report> {
        let seg = self.seg;
        let l = seg.layout;
        let mut report =
            Report { interrupted: seg.read_in_flight().map(|f| (self.previous_owner, f)), ..Report::default() };
        crash_point!("recover.begun");

        // 1. Pages being written by a dead writer; runs of versions. A version is the run of
        // consecutive pages with its id, LIVE or RETIRED: a writer that died while retiring a run
        // (or a recovery that died while retiring or reviving one) leaves some pages of each, and
        // the run is still one version, which a reader may pin by its first page.
        let mut runs: Vec<(Run, bool /* some page retired */, bool /* some page live */)> = Vec::new();
        let mut p = 0;
        while p < l.page_count {
            let word = seg.page_word(p).load(Ordering::Acquire);
            match PageState::decode(word) {
                PageState::Free => p += 1,
                PageState::Writing(_) => {
                    seg.page_word(p).store(PageState::Free.encode(), Ordering::Release);
                    crash_point!("recover.writing_page_freed");
                    report.writing_pages_freed += 1;
                    p += 1;
                }
                PageState::Live(id) | PageState::Retired(id) => {
                    let (first, mut retired, mut live) = (p, false, false);
                    while p < l.page_count {
                        match PageState::decode(seg.page_word(p).load(Ordering::Acquire)) {
                            PageState::Live(other) if other == id => live = true,
                            PageState::Retired(other) if other == id => retired = true,
                            _ => break,
                        }
                        p += 1;
                    }
                    runs.push((Run { first, count: p - first, version_id: id }, retired, live));
                }
            }
        }
        let by_first: HashMap<u32, usize> = runs.iter().enumerate().map(|(i, (r, _, _))| (r.first, i)).collect();

        // 2. What the slots reference.
        let mut referenced = HashSet::new();
        for s in 0..l.slot_count {
            let reference = seg.slot_object(s).load(Ordering::Acquire);
            if reference == 0 {
                continue;
            }
            let found = split_ref(reference).and_then(|(page, _)| by_first.get(&page).copied());
            let verdict = match found {
                None => Err(format!("its reference {reference:#x} names no version's first page")),
                Some(i) if referenced.contains(&i) => Err("it names the version another slot holds".to_string()),
                Some(i) => {
                    let run = runs[i].0;
                    match seg.checked_record(reference, s) {
                        Err(e) => Err(e.message().to_string()),
                        Ok(r) if r.version_id != run.version_id || r.page_count != run.count => Err(format!(
                            "its record says version {} in {} pages, the page map version {} in {}",
                            r.version_id, r.page_count, run.version_id, run.count
                        )),
                        Ok(r) => seg.check_block(reference, &r).map(|()| (i, r)),
                    }
                }
            };
            match verdict {
                Ok((i, record)) => {
                    referenced.insert(i);
                    if runs[i].1 {
                        let run = runs[i].0;
                        let live = PageState::Live(run.version_id).encode();
                        for p in run.first..run.first + run.count {
                            if seg.page_word(p).load(Ordering::Acquire) != live {
                                seg.page_word(p).store(live, Ordering::Release);
                                crash_point!("recover.page_relived");
                            }
                        }
                        runs[i].1 = false;
                    }
                    if seg.slot_version(s).load(Ordering::Relaxed) != record.kn_version {
                        seg.slot_version(s).store(record.kn_version, Ordering::Release);
                        crash_point!("recover.mirror_reset");
                    }
                }
                Err(reason) => {
                    seg.slot_object(s).store(0, Ordering::SeqCst);
                    crash_point!("recover.slot_emptied");
                    seg.slot_seq(s).fetch_add(1, Ordering::SeqCst);
                    lock::futex_wake_all(seg.slot_seq(s));
                    report.slots_emptied.push((s, reason));
                }
            }
        }

        // 3. Dead readers; the pins of live ones.
        fence(Ordering::SeqCst);
        let mut pins = HashSet::new();
        for entry in 0..l.reader_capacity {
            let at = l.reader(entry);
            let held: Vec<u64> = (0..PINS_PER_READER)
                .map(|k| seg.pin_word(entry, k).load(Ordering::SeqCst))
                .filter(|&r| r != 0)
                .collect();
            let pid = seg.map.u32_at(at + READER_PID).load(Ordering::Acquire);
            if held.is_empty() && pid == 0 {
                continue;
            }
            // This open segment's own entries are alive (`clear_if_dead` says so).
            if let Some(dead) = self.clear_if_dead(entry)? {
                crash_point!("recover.dead_reader_cleared");
                report.dead_readers.push(dead);
                continue;
            }
            pins.extend(held);
        }

        // 4. Versions no slot references.
        let mut retired = Vec::new();
        for (i, &(run, _, some_live)) in runs.iter().enumerate() {
            if referenced.contains(&i) {
                continue;
            }
            if pins.contains(&version_ref(run.version_id, run.first)) {
                if some_live {
                    let word = PageState::Retired(run.version_id).encode();
                    for p in run.first..run.first + run.count {
                        if seg.page_word(p).load(Ordering::Acquire) != word {
                            seg.page_word(p).store(word, Ordering::Release);
                            crash_point!("recover.page_retired");
                        }
                    }
                    report.versions_retired += 1;
                }
                retired.push(run);
            } else {
                for p in run.first..run.first + run.count {
                    seg.page_word(p).store(PageState::Free.encode(), Ordering::Release);
                    crash_point!("recover.page_freed");
                }
                report.versions_freed += 1;
            }
        }

        // 5. The interrupted publish's slot hears of any change; the record is cleared.
        if let Some((_, f)) = report.interrupted {
            if f.slot < l.slot_count {
                seg.slot_seq(f.slot).fetch_add(1, Ordering::SeqCst);
                crash_point!("recover.seq_bumped");
                lock::futex_wake_all(seg.slot_seq(f.slot));
            }
        }
        seg.writer_u32(INFLIGHT_STATE).store(INFLIGHT_NONE, Ordering::Release);
        crash_point!("recover.in_flight_cleared");

        // The private state, rebuilt from the page map.
        self.st.free.iter_mut().for_each(|w| *w = 0);
        for p in 0..l.page_count {
            if seg.page_word(p).load(Ordering::Acquire) == PageState::Free.encode() {
                self.st.set(p, 1, true);
                report.free_pages += 1;
            }
        }
        self.st.retired = retired;
        self.st.valid_epoch = self.epoch;
        Ok(report)
    }
}
