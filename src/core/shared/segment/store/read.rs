//! Read: pin the version a slot references, O(1), without a system call or a lock another process
//! takes; and wait for a slot to change.
//!
//! 1. Load the slot word (Acquire); 0 is empty.
//! 2. If this process already pins that reference, count one more user: done.
//! 3. Store the reference into a free pin word of one of this process's entries (SeqCst).
//! 4. Reload the slot word (SeqCst); if it changed, clear the pin and start again. (Hazard-pointer
//!    validation: the writer frees a retired version only after a SeqCst fence and a scan of every
//!    pin, so a version seen still referenced after the pin was stored cannot be freed until the
//!    pin is cleared.)
//! 5. Check the version's record (magic, checksum, the reference's generation, pages and block in
//!    bounds, the slot): a failure is `ErrCorrupt` and the pin is cleared.
//!
//! The process's pin counts are guarded by a process-private mutex (uncontended, a CAS). A process
//! pinning more versions at once than its entries hold claims another entry (a system call, only
//! then); with the table full, `ErrLimit` — never a silent unpin.

use super::crash::crash_point;
use super::layout::*;
use super::lock;
use super::segment::{Pin, Segment};
use crate::core::base::error::{Error, Result, Status};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A pinned version: its block's bytes stay in place until `Segment::unpin`. `base` points into
/// memory other processes map: read it through raw pointers and check what you read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pinned {
    pub(crate) base: *const u8,
    pub(crate) len: usize,
    pub(crate) version_id: u64,
    pub(crate) kn_version: i32,
    pub(crate) slot: u32,
    reference: u64,
}

/// Reads after which a slot that keeps changing is reported instead of read.
const MAX_READ_ATTEMPTS: u32 = 1 << 20;
/// Loads of the change counter before a waiter sleeps.
const SPINS_BEFORE_SLEEP: u32 = 2000;

impl Segment {
    /// Pins the slot's current version; `None` when the slot is empty.
    pub(crate) fn read(&self, slot: u32) -> Result<Option<Pinned>> {
        self.check_slot(slot)?;
        let object = self.slot_object(slot);
        let mut readers = self.readers.lock();
        for _ in 0..MAX_READ_ATTEMPTS {
            let reference = object.load(Ordering::Acquire);
            if reference == 0 {
                return Ok(None);
            }
            if let Some(pin) = readers.pins.get_mut(&reference) {
                pin.count += 1;
                return Ok(Some(self.pinned(reference, &pin.record)));
            }
            let word = match self.free_pin_word(&readers.entries) {
                Some(word) => word,
                None => {
                    let entry = self.claim_entry(&mut readers).map_err(|e| {
                        Error::new(
                            e.status(),
                            format!("pinning a version of slot {slot} needs another reader entry: {}", e.message()),
                        )
                    })?;
                    self.layout.reader(entry) + READER_PINS
                }
            };
            let pin = self.map.u64_at(word);
            pin.store(reference, Ordering::SeqCst);
            crash_point!("read.pinned");
            if object.load(Ordering::SeqCst) != reference {
                pin.store(0, Ordering::Release);
                continue;
            }
            match self.checked_record(reference, slot) {
                Ok(record) => {
                    readers.pins.insert(reference, Pin { word, count: 1, record });
                    crash_point!("read.checked");
                    return Ok(Some(self.pinned(reference, &record)));
                }
                Err(e) => {
                    pin.store(0, Ordering::Release);
                    return Err(e);
                }
            }
        }
        Err(Error::new(
            Status::ErrLimit,
            format!("slot {slot} of segment {} changed {MAX_READ_ATTEMPTS} times while being read", self.shown),
        ))
    }

    /// The slot's version while it is empty, read consistently: `Some(version)` when the slot was
    /// empty with that version at one instant, `None` when it holds a version (pin it with
    /// `read`) or changed meanwhile (ask again). No lock, no system call.
    ///
    /// Why the pair is whole: every change of a slot, made under the writer lock, stores the slot
    /// word and the mirrored version and then bumps `seq`; a publish stores the word first, an
    /// unpublish the version first. A reader that loads `seq`, finds the word 0, loads the
    /// version, then finds the word still 0 and `seq` unchanged, saw at most one change begin
    /// after its first load (a second would follow the first's `seq` bump). If that change is a
    /// publish, its word was stored before its version, so a version of it is caught by the second
    /// load of the word; if it is an unpublish, its version was stored before the word this reader
    /// found empty, so the version read is the empty slot's.
    pub(crate) fn empty_version(&self, slot: u32) -> Result<Option<i32>> {
        self.check_slot(slot)?;
        let (seq, object) = (self.slot_seq(slot), self.slot_object(slot));
        let seen = seq.load(Ordering::SeqCst);
        if object.load(Ordering::SeqCst) != 0 {
            return Ok(None);
        }
        let version = self.slot_version(slot).load(Ordering::Acquire);
        let unchanged = object.load(Ordering::SeqCst) == 0 && seq.load(Ordering::SeqCst) == seen;
        Ok(unchanged.then_some(version))
    }

    /// One user of a pinned version lets go; the last one clears the pin (Release: after every
    /// read of the block).
    pub(crate) fn unpin(&self, pinned: &Pinned) -> Result<()> {
        let mut readers = self.readers.lock();
        let Some(pin) = readers.pins.get_mut(&pinned.reference) else {
            return Err(Error::new(
                Status::ErrInvalidArgument,
                format!(
                    "version {} of slot {} is not pinned by this process (unpinned twice?)",
                    pinned.version_id, pinned.slot
                ),
            ));
        };
        pin.count -= 1;
        if pin.count == 0 {
            self.map.u64_at(pin.word).store(0, Ordering::Release);
            crash_point!("read.unpinned");
            readers.pins.remove(&pinned.reference);
        }
        Ok(())
    }

    fn pinned(&self, reference: u64, record: &Record) -> Pinned {
        let (page, _) = split_ref(reference).expect("a checked reference");
        Pinned {
            base: self.map.ptr(self.layout.page(page) + RECORD_LEN as u64, record.block_len as usize),
            len: record.block_len as usize,
            version_id: record.version_id,
            kn_version: record.kn_version,
            slot: record.slot,
            reference,
        }
    }

    /// An unused pin word in this process's entries (only this process writes them).
    fn free_pin_word(&self, entries: &[u32]) -> Option<u64> {
        entries.iter().flat_map(|&e| (0..PINS_PER_READER).map(move |k| (e, k))).find_map(|(e, k)| {
            (self.pin_word(e, k).load(Ordering::Relaxed) == 0)
                .then(|| self.layout.reader(e) + READER_PINS + 8 * k as u64)
        })
    }

    /// Waits until the change counter of one of `slots` differs from the value given with it, at
    /// most `timeout`; the position in `slots` of the first that did, or `ErrTimeout`. Spins
    /// briefly, then sleeps on all the counters at once (`futex_waitv`; where the kernel lacks it,
    /// or elsewhere than Linux, polls in 1 ms steps). At most 128 slots.
    pub(crate) fn wait_for_any(&self, slots: &[(u32, u32)], timeout: Duration) -> Result<usize> {
        if slots.is_empty() || slots.len() > 128 {
            return Err(Error::new(
                Status::ErrInvalidArgument,
                format!("waiting for any of {} slots: from 1 to 128 allowed", slots.len()),
            ));
        }
        for &(slot, _) in slots {
            self.check_slot(slot)?;
        }
        let changed = || slots.iter().position(|&(slot, seen)| self.slot_seq(slot).load(Ordering::SeqCst) != seen);
        for _ in 0..SPINS_BEFORE_SLEEP {
            if let Some(i) = changed() {
                return Ok(i);
            }
            std::hint::spin_loop();
        }
        let deadline = Instant::now() + timeout;
        struct Leave<'a>(Vec<&'a std::sync::atomic::AtomicU32>);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                for waiters in &self.0 {
                    waiters.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        let mut joined = Leave(Vec::with_capacity(slots.len()));
        for &(slot, _) in slots {
            let waiters = self.slot_waiters(slot);
            waiters.fetch_add(1, Ordering::SeqCst);
            joined.0.push(waiters);
        }
        let words: Vec<_> = slots.iter().map(|&(slot, seen)| (self.slot_seq(slot), seen)).collect();
        loop {
            if let Some(i) = changed() {
                return Ok(i);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let list: Vec<String> = slots.iter().map(|(slot, _)| slot.to_string()).collect();
                return Err(Error::new(
                    Status::ErrTimeout,
                    format!("none of slots {} of segment {} changed within {timeout:?}", list.join(", "), self.shown),
                ));
            }
            if !lock::futex_wait_any(&words, left) {
                std::thread::sleep(left.min(Duration::from_millis(1)));
            }
        }
    }

    /// Waits until the slot's change counter differs from `seen_seq` (from `seq`), at most
    /// `timeout`; returns the new counter, or `ErrTimeout`. Spins briefly, then sleeps on the
    /// counter as a futex shared between processes; publishers wake only when `waiters > 0`.
    /// Elsewhere than Linux, sleeps in 1 ms steps (polling).
    pub(crate) fn wait_for_change(&self, slot: u32, seen_seq: u32, timeout: Duration) -> Result<u32> {
        self.check_slot(slot)?;
        let seq = self.slot_seq(slot);
        for _ in 0..SPINS_BEFORE_SLEEP {
            let now = seq.load(Ordering::Acquire);
            if now != seen_seq {
                return Ok(now);
            }
            std::hint::spin_loop();
        }
        let deadline = Instant::now() + timeout;
        let waiters = self.slot_waiters(slot);
        waiters.fetch_add(1, Ordering::SeqCst);
        struct Leave<'a>(&'a std::sync::atomic::AtomicU32);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(waiters);
        loop {
            let now = seq.load(Ordering::SeqCst);
            if now != seen_seq {
                return Ok(now);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::new(
                    Status::ErrTimeout,
                    format!("slot {slot} of segment {} did not change within {timeout:?}", self.shown),
                ));
            }
            lock::futex_wait(seq, seen_seq, left);
        }
    }
}
