//! Publish: the writer lock, page allocation, the commit, and reclamation of retired versions.
//!
//! One writer at a time: a process-private mutex (threads of one open segment share its
//! descriptor, and so its OFD lock) and then the OFD lock on the writer byte, which the kernel
//! drops when its holder dies. Taking the lock bumps the epoch; if the in-flight record shows an
//! unfinished publish, or another process held the lock since this one last did, recovery runs
//! first and rebuilds the private free bitmap from the page map.
//!
//! Every step of a publish changes one shared word, in an order that leaves, at each point a
//! crash can stop it, a state recovery classifies (see `recover.rs`):
//! in-flight record → pages WRITING(epoch) → block written → pages LIVE(id) → slot word (the
//! commit, one SeqCst store) → mirrored K/N version → old pages RETIRED(old id) → seq + 1 and a
//! wake if anyone waits → fence, reclaim unpinned retired versions → in-flight cleared → unlock.

use super::crash::crash_point;
use super::layout::*;
use super::lock;
use super::recover::{DeadReader, Report};
use super::segment::{Run, Segment, WriterState};
use crate::core::base::error::{Error, Result, Status};
use parking_lot::MutexGuard;
use std::collections::HashMap;
use std::sync::atomic::{fence, Ordering};

/// The writer lock, held: unlocked on drop, after rolling back pages still being written (a
/// failed or panicking `write` callback).
pub(crate) struct Session<'a> {
    pub(crate) seg: &'a Segment,
    pub(crate) st: MutexGuard<'a, WriterState>,
    pub(crate) epoch: u64,
    /// The writer record's owner before this session took the lock (for the recovery report).
    pub(crate) previous_owner: u32,
    /// Pages marked WRITING by this session and not yet LIVE.
    writing: Option<(u32, u32)>,
    /// What recovery found when this session ran it.
    pub(crate) recovered: Option<Report>,
}

impl Segment {
    pub(crate) fn begin_write(&self) -> Result<Session<'_>> {
        let st = self.writer.lock();
        let lock_byte = self.layout.writer_off + WRITER_LOCK_BYTE;
        lock::lock_wait(&self.fd, lock_byte, &self.shown)?;
        crash_point!("writer.locked");
        let epoch_word = self.writer_word(WRITER_EPOCH);
        let previous = epoch_word.load(Ordering::Acquire);
        let epoch = previous.wrapping_add(1) & VERSION_ID_MASK;
        epoch_word.store(epoch, Ordering::Release);
        crash_point!("writer.epoch_bumped");
        let previous_owner = self.writer_u32(WRITER_PID).load(Ordering::Relaxed);
        self.writer_u32(WRITER_PID).store(self.me.pid, Ordering::Relaxed);
        self.writer_word(WRITER_START).store(self.me.start_time, Ordering::Relaxed);
        self.writer_word(WRITER_NONCE).store(self.me.nonce, Ordering::Relaxed);
        crash_point!("writer.owner_written");
        let mut session = Session { seg: self, st, epoch, previous_owner, writing: None, recovered: None };
        let unfinished = self.writer_u32(INFLIGHT_STATE).load(Ordering::Acquire) != INFLIGHT_NONE;
        if unfinished || session.st.valid_epoch == 0 || session.st.valid_epoch != previous {
            let report = session.recover_locked()?;
            session.recovered = Some(report);
        } else {
            session.st.valid_epoch = epoch;
        }
        Ok(session)
    }

    /// Publishes a block of `block_len` bytes to `slot` as K/N version `kn_version` — `None`: the
    /// slot's next, its mirrored version plus one, read under the writer lock, so that two
    /// publishers of one slot never give the same number — and returns its version id.
    /// `write(base, block_len, version_id, kn_version)` fills the block in place (8-byte aligned,
    /// writable only during the call); if it fails, nothing is published and its pages are free
    /// again. The previous version stays readable until the commit, and after it for the readers
    /// that pin it. `ErrLimit` when no run of free pages fits even after reclaiming.
    pub(crate) fn publish(
        &self,
        slot: u32,
        block_len: usize,
        kn_version: Option<i32>,
        write: impl FnOnce(*mut u8, usize, u64, i32) -> Result<()>,
    ) -> Result<u64> {
        self.check_slot(slot)?;
        let l = self.layout;
        let needed = match l.pages_for(block_len) {
            Some(n) if n <= l.page_count as u64 => n as u32,
            _ => {
                return Err(Error::new(
                    Status::ErrLimit,
                    format!(
                        "a block of {block_len} bytes does not fit segment {}: it has {} pages of {} bytes",
                        self.shown, l.page_count, l.page_size
                    ),
                ))
            }
        };
        let mut s = self.begin_write()?;
        // Under the lock, after any recovery, which re-mirrors a committed version's number.
        let kn_version = kn_version.unwrap_or_else(|| self.slot_version(slot).load(Ordering::Relaxed).wrapping_add(1));
        let first = match s.st.find_run(needed, l.page_count).0 {
            Some(first) => first,
            None => {
                s.reclaim()?;
                match s.st.find_run(needed, l.page_count) {
                    (Some(first), _) => first,
                    (None, largest) => {
                        return Err(Error::new(
                            Status::ErrLimit,
                            format!(
                                "segment {} is full: needs {needed} pages, the largest free run is {largest}",
                                self.shown
                            ),
                        ))
                    }
                }
            }
        };
        crash_point!("publish.run_found");
        let next = self.writer_word(WRITER_NEXT_VERSION);
        let version_id = next.load(Ordering::Relaxed).max(1) & VERSION_ID_MASK;
        next.store(version_id + 1, Ordering::Relaxed);
        crash_point!("publish.id_taken");
        let previous = self.slot_object(slot).load(Ordering::Acquire);

        self.writer_u32(INFLIGHT_SLOT).store(slot, Ordering::Relaxed);
        self.writer_u32(INFLIGHT_FIRST_PAGE).store(first, Ordering::Relaxed);
        self.writer_u32(INFLIGHT_PAGE_COUNT).store(needed, Ordering::Relaxed);
        self.writer_word(INFLIGHT_VERSION).store(version_id, Ordering::Relaxed);
        self.writer_word(INFLIGHT_PREVIOUS).store(previous, Ordering::Relaxed);
        crash_point!("publish.in_flight_fields");
        self.writer_u32(INFLIGHT_STATE).store(INFLIGHT_WRITING, Ordering::Release);
        crash_point!("publish.in_flight_written");

        s.st.set(first, needed, false);
        s.writing = Some((first, needed));
        for p in first..first + needed {
            self.page_word(p).store(PageState::Writing(s.epoch).encode(), Ordering::Release);
            crash_point!("publish.page_writing");
        }
        crash_point!("publish.pages_writing");
        let run_len = needed as usize * l.page_size as usize;
        self.map.protect(l.page(first), run_len, true, &self.shown)?;
        crash_point!("publish.writable");
        let record =
            Record { version_id, block_len: block_len as u64, kn_version, slot, page_count: needed, epoch: s.epoch };
        self.map.write(l.page(first), &record.encode());
        crash_point!("publish.record_written");
        write(self.map.ptr(l.page(first) + RECORD_LEN as u64, block_len), block_len, version_id, kn_version)?;
        crash_point!("publish.block_written");
        self.map.protect(l.page(first), run_len, false, &self.shown)?;
        crash_point!("publish.read_only");
        for p in first..first + needed {
            self.page_word(p).store(PageState::Live(version_id).encode(), Ordering::Release);
            crash_point!("publish.page_live");
        }
        crash_point!("publish.pages_live");

        // The commit.
        self.slot_object(slot).store(version_ref(version_id, first), Ordering::SeqCst);
        crash_point!("publish.committed");
        s.writing = None;
        self.slot_version(slot).store(kn_version, Ordering::Release);
        crash_point!("publish.mirrored");
        self.writer_u32(INFLIGHT_STATE).store(INFLIGHT_COMMITTED, Ordering::Release);
        crash_point!("publish.in_flight_committed");
        s.finish_change(slot, previous);
        self.writer_u32(INFLIGHT_STATE).store(INFLIGHT_NONE, Ordering::Release);
        crash_point!("publish.in_flight_cleared");
        Ok(version_id)
    }

    /// Empties the slot; its version stays readable for the readers that pin it. The mirrored
    /// version is bumped before the slot word is cleared (a publish stores them the other way
    /// round): a reader that finds the slot empty then reads the empty slot's version or a later
    /// one, never the version of the graph that was just removed (see `empty_version`). The
    /// readers of a full slot take the version from the version's record, not from the mirror.
    pub(crate) fn unpublish(&self, slot: u32) -> Result<()> {
        self.check_slot(slot)?;
        let mut s = self.begin_write()?;
        let previous = self.slot_object(slot).load(Ordering::Acquire);
        if previous == 0 {
            return Ok(());
        }
        let version = self.slot_version(slot);
        version.store(version.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
        crash_point!("unpublish.mirrored");
        self.slot_object(slot).store(0, Ordering::SeqCst);
        crash_point!("unpublish.emptied");
        s.finish_change(slot, previous);
        Ok(())
    }
}

impl Session<'_> {
    /// After a slot changed from `previous`: retire it, tell waiters, reclaim.
    fn finish_change(&mut self, slot: u32, previous: u64) {
        let seg = self.seg;
        if previous != 0 {
            self.retire(previous);
        }
        crash_point!("change.retired");
        seg.slot_seq(slot).fetch_add(1, Ordering::SeqCst);
        crash_point!("change.seq_bumped");
        if seg.slot_waiters(slot).load(Ordering::SeqCst) > 0 {
            lock::futex_wake_all(seg.slot_seq(slot));
        }
        crash_point!("change.woken");
        // A failed liveness check leaves the retired versions for the next publish.
        let _ = self.reclaim();
    }

    /// Marks the run a replaced reference names RETIRED: the pages from its first that the page
    /// map says are LIVE with its id (the page map is the truth, not the record).
    fn retire(&mut self, reference: u64) {
        let seg = self.seg;
        let Some((first, generation)) = split_ref(reference) else { return };
        if first >= seg.layout.page_count {
            return;
        }
        let PageState::Live(id) = PageState::decode(seg.page_word(first).load(Ordering::Acquire)) else { return };
        if id & 0xFFFF_FFFF != generation as u64 {
            return;
        }
        let mut count = 0;
        while first + count < seg.layout.page_count
            && PageState::decode(seg.page_word(first + count).load(Ordering::Acquire)) == PageState::Live(id)
        {
            seg.page_word(first + count).store(PageState::Retired(id).encode(), Ordering::Release);
            crash_point!("change.page_retired");
            count += 1;
        }
        self.st.retired.push(Run { first, count, version_id: id });
    }

    /// Frees retired versions no live reader pins. Reads every pin after a SeqCst fence (a reader
    /// stores its pin SeqCst and then reloads the slot SeqCst: either it sees the new slot word
    /// and retries, or this scan sees its pin). An entry whose pin blocks a free is checked for
    /// liveness by `clear_if_dead` (this open segment's own entries are alive; another's owner is
    /// dead if its lock can be taken, and its pins are cleared under the lock, so no new owner can
    /// claim it meanwhile). O(readers × pins + retired).
    pub(crate) fn reclaim(&mut self) -> Result<Vec<DeadReader>> {
        fence(Ordering::SeqCst);
        let mut dead = Vec::new();
        if self.st.retired.is_empty() {
            return Ok(dead);
        }
        let seg = self.seg;
        let mut holders: HashMap<u64, Vec<u32>> = HashMap::new();
        for entry in 0..seg.layout.reader_capacity {
            for k in 0..PINS_PER_READER {
                let r = seg.pin_word(entry, k).load(Ordering::SeqCst);
                if r != 0 {
                    holders.entry(r).or_default().push(entry);
                }
            }
        }
        crash_point!("reclaim.pins_scanned");
        let mut alive: HashMap<u32, bool> = HashMap::new();
        let retired = std::mem::take(&mut self.st.retired);
        let mut kept = Vec::new();
        let mut failure = None;
        for run in retired {
            let mut pinned = false;
            for &entry in holders.get(&version_ref(run.version_id, run.first)).map(Vec::as_slice).unwrap_or(&[]) {
                let live = match alive.get(&entry) {
                    Some(&a) => a,
                    None => match self.clear_if_dead(entry) {
                        Ok(Some(d)) => {
                            crash_point!("reclaim.dead_reader_cleared");
                            dead.push(d);
                            false
                        }
                        Ok(None) => true,
                        Err(e) => {
                            failure = Some(e);
                            true
                        }
                    },
                };
                alive.insert(entry, live);
                pinned |= live;
            }
            if pinned {
                kept.push(run);
            } else {
                self.free_run(run);
                crash_point!("reclaim.run_freed");
            }
        }
        self.st.retired = kept;
        match failure {
            Some(e) => Err(e),
            None => Ok(dead),
        }
    }

    pub(crate) fn free_run(&mut self, run: Run) {
        for p in run.first..run.first + run.count {
            self.seg.page_word(p).store(PageState::Free.encode(), Ordering::Release);
            crash_point!("reclaim.page_freed");
        }
        self.st.set(run.first, run.count, true);
    }

    /// If the entry's owner is dead (its lock byte can be taken), clears its pins and pid and
    /// says what it held. An entry of this open segment is alive, whatever its callers saw: its
    /// lock is on this descriptor, so taking it would succeed (OFD locks of one descriptor never
    /// conflict), and a reader of this segment may have claimed it since they looked. The check
    /// holds the readers mutex, which every claim holds, until the entry is unlocked again.
    pub(crate) fn clear_if_dead(&self, entry: u32) -> Result<Option<DeadReader>> {
        let seg = self.seg;
        let readers = seg.readers.lock();
        if readers.entries.contains(&entry) {
            return Ok(None);
        }
        let at = seg.layout.reader(entry);
        if !lock::try_lock(&seg.fd, at, &seg.shown)? {
            return Ok(None);
        }
        crash_point!("dead_reader.locked");
        let mut pins = Vec::new();
        for k in 0..PINS_PER_READER {
            let r = seg.pin_word(entry, k).swap(0, Ordering::SeqCst);
            if r != 0 {
                pins.push(r);
                crash_point!("dead_reader.pin_cleared");
            }
        }
        let report = DeadReader {
            index: entry,
            pid: seg.map.u32_at(at + READER_PID).swap(0, Ordering::AcqRel),
            start_time: seg.map.u64_at(at + READER_START).load(Ordering::Relaxed),
            pins: pins.iter().map(|&r| seg.pinned_id(r)).collect(),
        };
        crash_point!("dead_reader.pid_cleared");
        lock::unlock(&seg.fd, at);
        drop(readers);
        Ok(Some(report))
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let seg = self.seg;
        if let Some((first, count)) = self.writing.take() {
            let _ = seg.map.protect(
                seg.layout.page(first),
                count as usize * seg.layout.page_size as usize,
                false,
                &seg.shown,
            );
            for p in first..first + count {
                seg.page_word(p).store(PageState::Free.encode(), Ordering::Release);
                crash_point!("rollback.page_freed");
            }
            self.st.set(first, count, true);
            seg.writer_u32(INFLIGHT_STATE).store(INFLIGHT_NONE, Ordering::Release);
            crash_point!("rollback.in_flight_cleared");
        }
        lock::unlock(&seg.fd, seg.layout.writer_off + WRITER_LOCK_BYTE);
    }
}
