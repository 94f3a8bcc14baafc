//! The `Segment`: one process's open segment — its descriptor (held until drop: the OFD locks
//! live on it), its mapping, its checked copy of the header, the writer's private state and the
//! reader's pins. Creation, opening, the reader-entry claim, slot names and inspection; publish,
//! read and recovery are in their own files.

use super::crash::crash_point;
use super::layout::*;
use super::lock;
use super::map::{self, Location, Mapping};
use crate::core::base::error::{Error, Result, Status};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

/// A run of pages holding one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) first: u32,
    pub(crate) count: u32,
    pub(crate) version_id: u64,
}

/// What the writer keeps in private memory between publishes: rebuilt from the page map whenever
/// another process held the writer lock since this one last did.
pub(crate) struct WriterState {
    /// One bit per data page, set when the page is free.
    pub(crate) free: Vec<u64>,
    /// Versions replaced in their slots and not yet freed.
    pub(crate) retired: Vec<Run>,
    /// The epoch in which `free` and `retired` were last true; 0 = never built.
    pub(crate) valid_epoch: u64,
}

impl WriterState {
    pub(crate) fn set(&mut self, first: u32, count: u32, free: bool) {
        for p in first..first + count {
            let (w, b) = ((p / 64) as usize, p % 64);
            if free {
                self.free[w] |= 1 << b;
            } else {
                self.free[w] &= !(1 << b);
            }
        }
    }

    fn is_free(&self, p: u32) -> bool {
        self.free[(p / 64) as usize] & (1 << (p % 64)) != 0
    }

    /// The first run of `n` free pages (first fit), and the largest run seen.
    pub(crate) fn find_run(&self, n: u32, page_count: u32) -> (Option<u32>, u32) {
        let (mut start, mut len, mut largest) = (0u32, 0u32, 0u32);
        let mut p = 0;
        while p < page_count {
            if p % 64 == 0 && self.free[(p / 64) as usize] == 0 {
                len = 0;
                p += 64;
                continue;
            }
            if self.is_free(p) {
                if len == 0 {
                    start = p;
                }
                len += 1;
                largest = largest.max(len);
                if len == n {
                    return (Some(start), largest);
                }
            } else {
                len = 0;
            }
            p += 1;
        }
        (None, largest)
    }
}

/// A version this process pins: the offset of the pin word that holds its reference, how many
/// users in this process hold it, and its checked record.
pub(crate) struct Pin {
    pub(crate) word: u64,
    pub(crate) count: u32,
    pub(crate) record: Record,
}

pub(crate) struct ReaderState {
    /// The reader entries this open segment holds (their bytes locked on its descriptor).
    pub(crate) entries: Vec<u32>,
    /// Pinned versions by reference.
    pub(crate) pins: HashMap<u64, Pin>,
}

/// This process, as it writes itself into the writer record and reader entries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner {
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    pub(crate) nonce: u64,
}

/// An open segment. Dropping it closes the descriptor (releasing its locks, so its reader entries
/// read as dead) and unmaps it; `Pinned` blocks taken from it must not be used after.
pub(crate) struct Segment {
    pub(crate) shown: String,
    pub(crate) map: Mapping,
    pub(crate) fd: OwnedFd,
    pub(crate) header: Header,
    pub(crate) layout: Layout,
    pub(crate) writer: Mutex<WriterState>,
    pub(crate) readers: Mutex<ReaderState>,
    pub(crate) me: Owner,
    /// Checks a version's block (at `base`, `len` bytes, expected to hold `version_id`) for
    /// recovery, set once by the layer that gives blocks a format; the store alone checks only
    /// its records.
    pub(crate) block_check: std::sync::OnceLock<BlockCheck>,
}

/// See `Segment::block_check`: `Err` says what is wrong with the block.
pub(crate) type BlockCheck = fn(base: *const u8, len: usize, version_id: u64) -> std::result::Result<(), String>;

impl Segment {
    /// Creates a segment of `size` bytes (rounded up to whole pages) with `slot_count` empty slots
    /// and room for `reader_capacity` reader entries; fails with `ErrExists` if the name is taken.
    /// The file is created 0600 with `O_EXCL`, sized once, and its header is written last, so an
    /// opener sees either no header (refused) or a complete segment. On failure the name is removed.
    pub(crate) fn create(
        name: &str,
        location: &Location,
        size: u64,
        slot_count: u32,
        reader_capacity: u32,
    ) -> Result<Segment> {
        let (shown, path) = map::path_of(name, location)?;
        let page_size = map::system_page_size().max(MIN_PAGE_SIZE);
        let segment_len = size
            .checked_next_multiple_of(page_size as u64)
            .ok_or_else(|| Error::new(Status::ErrInvalidArgument, format!("segment size {size} is too large")))?;
        let layout = Layout::compute(segment_len, page_size, slot_count, reader_capacity)?;
        let fd = map::create_file(&shown, &path, location)?;
        crash_point!("create.file_made");
        let made = (|| {
            map::set_len(&fd, segment_len, &shown)?;
            crash_point!("create.sized");
            let mapping = Mapping::map(&fd, segment_len, &shown)?;
            mapping.u64_at(layout.writer_off + WRITER_NEXT_VERSION).store(1, Ordering::Relaxed);
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&lock::random_u64().to_le_bytes());
            nonce[8..].copy_from_slice(&lock::random_u64().to_le_bytes());
            let header = Header {
                format_major: FORMAT_MAJOR,
                format_minor: FORMAT_MINOR,
                layout,
                // SAFETY: geteuid cannot fail.
                creator_uid: unsafe { libc::geteuid() },
                nonce,
                created_unix_secs: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            };
            std::sync::atomic::fence(Ordering::Release);
            mapping.write(0, &header.encode());
            crash_point!("create.header_written");
            Segment::attach(shown.clone(), fd, mapping, header)
        })();
        if made.is_err() {
            let _ = map::remove_file(&shown, &path, location);
        }
        made
    }

    /// Opens an existing segment after checking, before mapping it, that it is a regular file
    /// owned by this user with mode 0600 (`ErrPermission`), a floe segment of a format this floe
    /// reads (`ErrIncompatible`), with an intact header whose length and sections match the file
    /// (`ErrCorrupt`); then claims a reader entry (`ErrLimit` if all are held by live processes).
    pub(crate) fn open(name: &str, location: &Location) -> Result<Segment> {
        let (shown, path) = map::path_of(name, location)?;
        let fd = map::open_file(&shown, &path, location)?;
        let len = map::check_file(&fd, &shown)?;
        if len < HEADER_LEN as u64 {
            return Err(Error::new(
                Status::ErrCorrupt,
                format!("segment {shown} is {len} bytes, too small for its {HEADER_LEN}-byte header (being created, or its creator died first)"),
            ));
        }
        let mut bytes = [0u8; HEADER_LEN];
        map::read_at(&fd, 0, &mut bytes, &shown)?;
        let header = Header::decode(&bytes, len, map::system_page_size(), &format!("segment {shown}"))?;
        let mapping = Mapping::map(&fd, len, &shown)?;
        Segment::attach(shown, fd, mapping, header)
    }

    /// Removes the segment's name. Processes that have it open keep using it; the memory goes
    /// when the last one closes it.
    pub(crate) fn unlink(name: &str, location: &Location) -> Result<()> {
        let (shown, path) = map::path_of(name, location)?;
        map::remove_file(&shown, &path, location)
    }

    fn attach(shown: String, fd: OwnedFd, map: Mapping, header: Header) -> Result<Segment> {
        let layout = header.layout;
        // Data pages are read-only except while this process writes a version into them.
        map.protect(layout.data_off, (layout.segment_len - layout.data_off) as usize, false, &shown)?;
        let words = (layout.page_count as usize).div_ceil(64);
        let segment = Segment {
            shown,
            map,
            fd,
            header,
            layout,
            writer: Mutex::new(WriterState { free: vec![0; words], retired: Vec::new(), valid_epoch: 0 }),
            readers: Mutex::new(ReaderState { entries: Vec::new(), pins: HashMap::new() }),
            me: Owner { pid: lock::pid(), start_time: lock::process_start_time(), nonce: lock::random_u64() },
            block_check: std::sync::OnceLock::new(),
        };
        segment.claim_entry(&mut segment.readers.lock())?;
        Ok(segment)
    }

    /// Takes a reader entry nobody alive holds: the first whose byte this descriptor can lock.
    /// A dead owner's pins are dropped before the entry is marked as this process's.
    pub(crate) fn claim_entry(&self, readers: &mut ReaderState) -> Result<u32> {
        for index in 0..self.layout.reader_capacity {
            if readers.entries.contains(&index) {
                continue;
            }
            let entry = self.layout.reader(index);
            if lock::try_lock(&self.fd, entry, &self.shown)? {
                crash_point!("claim.locked");
                for k in 0..PINS_PER_READER as u64 {
                    if self.map.u64_at(entry + READER_PINS + 8 * k).swap(0, Ordering::SeqCst) != 0 {
                        crash_point!("claim.pin_cleared");
                    }
                }
                self.map.u64_at(entry + READER_START).store(self.me.start_time, Ordering::Relaxed);
                self.map.u64_at(entry + READER_NONCE).store(self.me.nonce, Ordering::Relaxed);
                self.map.u32_at(entry + READER_GENERATION).fetch_add(1, Ordering::Relaxed);
                self.map.u32_at(entry + READER_PID).store(self.me.pid, Ordering::Release);
                crash_point!("claim.claimed");
                readers.entries.push(index);
                return Ok(index);
            }
        }
        Err(Error::new(
            Status::ErrLimit,
            format!(
                "segment {}'s reader table is full: its {} entries are held by live processes (create it with a larger reader capacity)",
                self.shown, self.layout.reader_capacity
            ),
        ))
    }

    /// Refuses a segment this process inherited across `fork`: its reader entries and writer
    /// state are the parent's, so using them would change the parent's pins behind its back.
    pub(crate) fn this_process(&self) -> Result<()> {
        let here = lock::pid();
        if self.me.pid != here {
            return Err(Error::new(
                Status::ErrInvalidArgument,
                format!(
                    "segment {} was opened by process {}, and this process ({here}) is a fork of it: open the segment \
                     again in this process",
                    self.shown, self.me.pid
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn check_slot(&self, slot: u32) -> Result<()> {
        if slot >= self.layout.slot_count {
            return Err(Error::new(
                Status::ErrOutOfRange,
                format!("slot {slot} is out of range: segment {} has {} slots", self.shown, self.layout.slot_count),
            ));
        }
        Ok(())
    }

    pub(crate) fn slot_object(&self, slot: u32) -> &AtomicU64 {
        self.map.u64_at(self.layout.slot(slot) + SLOT_OBJECT)
    }
    pub(crate) fn slot_seq(&self, slot: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.slot(slot) + SLOT_SEQ)
    }
    pub(crate) fn slot_waiters(&self, slot: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.slot(slot) + SLOT_WAITERS)
    }
    pub(crate) fn slot_version(&self, slot: u32) -> &AtomicI32 {
        self.map.i32_at(self.layout.slot(slot) + SLOT_VERSION)
    }
    pub(crate) fn writer_word(&self, field: u64) -> &AtomicU64 {
        self.map.u64_at(self.layout.writer_off + field)
    }
    pub(crate) fn writer_u32(&self, field: u64) -> &AtomicU32 {
        self.map.u32_at(self.layout.writer_off + field)
    }
    pub(crate) fn page_word(&self, page: u32) -> &AtomicU64 {
        self.map.u64_at(self.layout.page_word(page))
    }
    pub(crate) fn pin_word(&self, entry: u32, k: usize) -> &AtomicU64 {
        self.map.u64_at(self.layout.reader(entry) + READER_PINS + 8 * k as u64)
    }

    /// The slot's change counter, for `wait_for_change`.
    pub(crate) fn seq(&self, slot: u32) -> Result<u32> {
        self.check_slot(slot)?;
        Ok(self.slot_seq(slot).load(Ordering::Acquire))
    }

    /// The record of the version `reference` names, checked (O(1)); `ErrCorrupt` naming the slot.
    pub(crate) fn checked_record(&self, reference: u64, slot: u32) -> Result<Record> {
        let fail = |m: String| Error::new(Status::ErrCorrupt, format!("segment {}, slot {slot}: {m}", self.shown));
        let (page, _) = split_ref(reference).ok_or_else(|| fail(format!("reference {reference:#x} names no page")))?;
        if page >= self.layout.page_count {
            return Err(fail(format!(
                "reference {reference:#x} names page {page}, the segment has {}",
                self.layout.page_count
            )));
        }
        let mut bytes = [0u8; RECORD_LEN];
        self.map.read(self.layout.page(page), &mut bytes);
        let record = Record::decode(&bytes, reference, page, &self.layout).map_err(fail)?;
        if record.slot != slot {
            return Err(fail(format!("version {} was published to slot {}", record.version_id, record.slot)));
        }
        Ok(record)
    }

    /// Runs the block check, if one was given, on the block of a checked record.
    pub(crate) fn check_block(&self, reference: u64, record: &Record) -> std::result::Result<(), String> {
        let (Some(check), Some((page, _))) = (self.block_check.get(), split_ref(reference)) else { return Ok(()) };
        let base = self.map.ptr(self.layout.page(page) + RECORD_LEN as u64, record.block_len as usize);
        check(base, record.block_len as usize, record.version_id)
    }

    /// The slot's name ("" if unnamed), as far as it is valid UTF-8.
    pub(crate) fn slot_name(&self, slot: u32) -> String {
        let mut bytes = [0u8; SLOT_NAME_MAX];
        self.map.read(self.layout.slot(slot) + SLOT_NAME, &mut bytes);
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(SLOT_NAME_MAX);
        String::from_utf8_lossy(&bytes[..end]).into_owned()
    }

    /// The slot that has this name.
    pub(crate) fn slot_by_name(&self, name: &str) -> Result<u32> {
        (0..self.layout.slot_count).find(|&s| !name.is_empty() && self.slot_name(s) == name).ok_or_else(|| {
            Error::new(Status::ErrNotFound, format!("segment {} has no slot named {name:?}", self.shown))
        })
    }

    /// Names an unnamed slot, under the writer lock: 1 to 40 bytes of UTF-8 without NUL, unique
    /// in the segment. A name is set once.
    pub(crate) fn name_slot(&self, slot: u32, name: &str) -> Result<()> {
        self.check_slot(slot)?;
        if name.is_empty() || name.len() > SLOT_NAME_MAX || name.contains('\0') {
            return Err(Error::new(
                Status::ErrInvalidArgument,
                format!("slot name {name:?} is not allowed: 1 to {SLOT_NAME_MAX} bytes of UTF-8 without NUL"),
            ));
        }
        let _session = self.begin_write()?;
        if let Ok(other) = self.slot_by_name(name) {
            return Err(Error::new(
                Status::ErrExists,
                format!("segment {} already has a slot named {name:?} (slot {other})", self.shown),
            ));
        }
        let current = self.slot_name(slot);
        if !current.is_empty() {
            return Err(Error::new(
                Status::ErrExists,
                format!("slot {slot} of segment {} is already named {current:?}", self.shown),
            ));
        }
        self.map.write(self.layout.slot(slot) + SLOT_NAME, name.as_bytes());
        Ok(())
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.me.pid != lock::pid() {
            // A copy inherited across fork: its entries are the parent's, still held by the parent.
            return;
        }
        // Politeness: the entries read as free at once. Closing the descriptor releases the locks,
        // which is what makes them free.
        let entries = std::mem::take(&mut self.readers.get_mut().entries);
        for index in entries {
            for k in 0..PINS_PER_READER {
                self.pin_word(index, k).store(0, Ordering::Release);
            }
            self.map.u32_at(self.layout.reader(index) + READER_PID).store(0, Ordering::Release);
        }
    }
}

/// The state of a segment as `floe segment inspect` shows it: a snapshot taken without the
/// writer lock, so a concurrent publish may show half done.
#[derive(Clone, Debug)]
pub(crate) struct Inspection {
    pub(crate) name: String,
    pub(crate) format: (u16, u16),
    pub(crate) segment_len: u64,
    pub(crate) page_size: u32,
    pub(crate) page_count: u32,
    pub(crate) creator_uid: u32,
    pub(crate) created_unix_secs: u64,
    pub(crate) epoch: u64,
    pub(crate) next_version_id: u64,
    pub(crate) writer: WriterInfo,
    pub(crate) slots: Vec<SlotInfo>,
    pub(crate) readers: Vec<ReaderInfo>,
    pub(crate) free_pages: u32,
    pub(crate) writing_pages: u32,
    pub(crate) live_pages: u32,
    pub(crate) retired_pages: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct WriterInfo {
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    /// Whether a process holds the writer lock now.
    pub(crate) locked: bool,
    pub(crate) in_flight: Option<InFlight>,
}

/// A publish the writer record says is under way (or was, when its writer died).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InFlight {
    pub(crate) committed: bool,
    pub(crate) slot: u32,
    pub(crate) first_page: u32,
    pub(crate) page_count: u32,
    pub(crate) version_id: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct SlotInfo {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) kn_version: i32,
    pub(crate) seq: u32,
    pub(crate) waiters: u32,
    /// `None` when empty.
    pub(crate) version_id: Option<u64>,
    pub(crate) bytes: u64,
    pub(crate) pages: u32,
    /// What is wrong with the version the slot references, if anything.
    pub(crate) problem: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct ReaderInfo {
    pub(crate) index: u32,
    pub(crate) pid: u32,
    pub(crate) start_time: u64,
    pub(crate) alive: bool,
    /// Pinned versions (ids; the low 32 bits where the version's record is unreadable).
    pub(crate) pins: Vec<u64>,
}

impl Segment {
    pub(crate) fn read_in_flight(&self) -> Option<InFlight> {
        let state = self.writer_u32(INFLIGHT_STATE).load(Ordering::Acquire);
        (state != INFLIGHT_NONE).then(|| InFlight {
            committed: state == INFLIGHT_COMMITTED,
            slot: self.writer_u32(INFLIGHT_SLOT).load(Ordering::Relaxed),
            first_page: self.writer_u32(INFLIGHT_FIRST_PAGE).load(Ordering::Relaxed),
            page_count: self.writer_u32(INFLIGHT_PAGE_COUNT).load(Ordering::Relaxed),
            version_id: self.writer_word(INFLIGHT_VERSION).load(Ordering::Relaxed),
        })
    }

    /// The version id a pin names, from its version's record if that still reads.
    pub(crate) fn pinned_id(&self, reference: u64) -> u64 {
        match split_ref(reference) {
            Some((page, _)) if page < self.layout.page_count => {
                let mut bytes = [0u8; RECORD_LEN];
                self.map.read(self.layout.page(page), &mut bytes);
                Record::decode(&bytes, reference, page, &self.layout).map(|r| r.version_id).unwrap_or(reference >> 32)
            }
            _ => reference >> 32,
        }
    }

    pub(crate) fn inspect(&self) -> Result<Inspection> {
        let l = &self.layout;
        // This process's publishes wait meanwhile: the records read below are not being rewritten
        // by a thread of this process (another process's writer may rewrite them, which the checks
        // of every record read catch).
        let _writer = self.writer.lock();
        let own = self.readers.lock().entries.clone();
        let mut slots = Vec::new();
        for s in 0..l.slot_count {
            let reference = self.slot_object(s).load(Ordering::Acquire);
            let mut info = SlotInfo {
                index: s,
                name: self.slot_name(s),
                kn_version: self.slot_version(s).load(Ordering::Relaxed),
                seq: self.slot_seq(s).load(Ordering::Relaxed),
                waiters: self.slot_waiters(s).load(Ordering::Relaxed),
                version_id: None,
                bytes: 0,
                pages: 0,
                problem: None,
            };
            if reference != 0 {
                match self.checked_record(reference, s) {
                    Ok(r) => {
                        info.version_id = Some(r.version_id);
                        info.bytes = r.block_len;
                        info.pages = r.page_count;
                    }
                    Err(e) => info.problem = Some(e.message().to_string()),
                }
            }
            slots.push(info);
        }
        let mut readers = Vec::new();
        for index in 0..l.reader_capacity {
            let entry = l.reader(index);
            let pid = self.map.u32_at(entry + READER_PID).load(Ordering::Acquire);
            let pins: Vec<u64> = (0..PINS_PER_READER)
                .map(|k| self.pin_word(index, k).load(Ordering::Acquire))
                .filter(|&r| r != 0)
                .map(|r| self.pinned_id(r))
                .collect();
            if pid == 0 && pins.is_empty() {
                continue;
            }
            let alive = own.contains(&index) || lock::is_locked(&self.fd, entry, &self.shown)?;
            readers.push(ReaderInfo {
                index,
                pid,
                start_time: self.map.u64_at(entry + READER_START).load(Ordering::Relaxed),
                alive,
                pins,
            });
        }
        let (mut free, mut writing, mut live, mut retired) = (0, 0, 0, 0);
        for p in 0..l.page_count {
            match PageState::decode(self.page_word(p).load(Ordering::Acquire)) {
                PageState::Free => free += 1,
                PageState::Writing(_) => writing += 1,
                PageState::Live(_) => live += 1,
                PageState::Retired(_) => retired += 1,
            }
        }
        Ok(Inspection {
            name: self.shown.clone(),
            format: (self.header.format_major, self.header.format_minor),
            segment_len: l.segment_len,
            page_size: l.page_size,
            page_count: l.page_count,
            creator_uid: self.header.creator_uid,
            created_unix_secs: self.header.created_unix_secs,
            epoch: self.writer_word(WRITER_EPOCH).load(Ordering::Acquire),
            next_version_id: self.writer_word(WRITER_NEXT_VERSION).load(Ordering::Acquire).max(1),
            writer: WriterInfo {
                pid: self.writer_u32(WRITER_PID).load(Ordering::Relaxed),
                start_time: self.writer_word(WRITER_START).load(Ordering::Relaxed),
                locked: lock::is_locked(&self.fd, l.writer_off + WRITER_LOCK_BYTE, &self.shown)?,
                in_flight: self.read_in_flight(),
            },
            slots,
            readers,
            free_pages: free,
            writing_pages: writing,
            live_pages: live,
            retired_pages: retired,
        })
    }
}
