//! Tests with real shared memory and real processes (fork, SIGKILL). Blocks are opaque here: a
//! length, the version id, a pattern, and a crc32 of the rest, which readers check.

use super::layout::*;
use super::map::Location;
use super::segment::{Inspection, Segment};
use crate::core::base::error::Status;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A segment name unique to this process and test; unlinked when the guard drops (even on failure).
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        Name(format!("t{}-{}-{tag}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0, &Location::SharedMemory);
    }
}

fn fill(base: *mut u8, len: usize, version_id: u64) {
    assert!(len >= 20);
    let mut bytes = vec![0u8; len];
    bytes[0..8].copy_from_slice(&(len as u64).to_le_bytes());
    bytes[8..16].copy_from_slice(&version_id.to_le_bytes());
    for (i, b) in bytes[16..len - 4].iter_mut().enumerate() {
        *b = (version_id as u8).wrapping_add(i as u8).wrapping_mul(31);
    }
    let crc = crc32fast::hash(&bytes[..len - 4]);
    bytes[len - 4..].copy_from_slice(&crc.to_le_bytes());
    // SAFETY: `base` is writable for `len` bytes during the publish's callback.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base, len) };
}

/// Checks a block `fill` wrote; the error says what differs.
fn check(base: *const u8, len: usize, version_id: u64) -> Result<(), String> {
    let mut bytes = vec![0u8; len];
    // SAFETY: the version is pinned, its block `len` bytes long.
    unsafe { std::ptr::copy_nonoverlapping(base, bytes.as_mut_ptr(), len) };
    let stored_len = u64::from_le_bytes(bytes[0..8].try_into().unwrap());
    let stored_id = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    let crc = u32::from_le_bytes(bytes[len - 4..].try_into().unwrap());
    if stored_len != len as u64 || stored_id != version_id || crc != crc32fast::hash(&bytes[..len - 4]) {
        return Err(format!("block of version {version_id} torn: len {stored_len}/{len}, id {stored_id}"));
    }
    Ok(())
}

fn publish(seg: &Segment, slot: u32, len: usize, kn: i32) -> u64 {
    seg.publish(slot, len, Some(kn), |base, len, id, _| {
        fill(base, len, id);
        Ok(())
    })
    .unwrap()
}

fn read_checked(seg: &Segment, slot: u32) -> Option<(u64, i32, usize)> {
    let pinned = seg.read(slot).unwrap()?;
    check(pinned.base, pinned.len, pinned.version_id).unwrap();
    let out = (pinned.version_id, pinned.kn_version, pinned.len);
    seg.unpin(&pinned).unwrap();
    Some(out)
}

/// FREE + referenced + pinned pages = all pages, nothing being written.
fn assert_accounted(i: &Inspection) {
    assert_eq!(i.writing_pages, 0, "{i:#?}");
    let referenced: u32 = i.slots.iter().map(|s| s.pages).sum();
    assert_eq!(referenced, i.live_pages, "{i:#?}");
    assert_eq!(i.free_pages + i.live_pages + i.retired_pages, i.page_count, "{i:#?}");
}

/// Memory shared with forked children (anonymous, MAP_SHARED), for flags and counters.
struct SharedWords(*mut u64, usize);

impl SharedWords {
    fn new(n: usize) -> SharedWords {
        // SAFETY: a fresh anonymous mapping.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                n * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        SharedWords(p.cast(), n)
    }
    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.1);
        // SAFETY: in bounds, aligned, only touched atomically.
        unsafe { AtomicU64::from_ptr(self.0.add(i)) }
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: mapped by `new`.
        unsafe { libc::munmap(self.0.cast(), self.1 * 8) };
    }
}

/// Forks a child that runs `body` and exits with its code (101 if it panicked).
fn fork_child(body: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child only runs `body` (its own segments, no locks held by other threads) and
    // leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for a child at most `timeout` (then kills it and fails); returns its wait status.
fn wait_child(pid: libc::pid_t, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        let mut status = 0;
        // SAFETY: a plain system call on our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return status;
        }
        if Instant::now() > deadline {
            // SAFETY: killing our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child {pid} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    }
}

fn wait_flag(word: &AtomicU64, value: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while word.load(Ordering::SeqCst) < value {
        assert!(Instant::now() < deadline, "flag never reached {value}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A raw descriptor of the segment's file, to damage it.
fn raw_fd(name: &str) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    let path = std::ffi::CString::new(format!("/floe.{name}")).unwrap();
    // SAFETY: a NUL-terminated path; the descriptor is owned by the returned value.
    let fd = unsafe { libc::shm_open(path.as_ptr(), libc::O_RDWR, 0) };
    assert!(fd >= 0);
    // SAFETY: just opened.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

fn pwrite(fd: &std::os::fd::OwnedFd, offset: u64, bytes: &[u8]) {
    use std::os::fd::AsRawFd;
    // SAFETY: `bytes` is valid for its length.
    let n = unsafe { libc::pwrite(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), offset as libc::off_t) };
    assert_eq!(n as usize, bytes.len());
}

fn header_bytes(fd: &std::os::fd::OwnedFd) -> [u8; HEADER_LEN] {
    use std::os::fd::AsRawFd;
    let mut b = [0u8; HEADER_LEN];
    // SAFETY: `b` is valid for HEADER_LEN bytes.
    let n = unsafe { libc::pread(fd.as_raw_fd(), b.as_mut_ptr().cast(), HEADER_LEN, 0) };
    assert_eq!(n as usize, HEADER_LEN);
    b
}

fn open_err(name: &str) -> crate::core::base::error::Error {
    match Segment::open(name, &Location::SharedMemory) {
        Ok(_) => panic!("segment {name} opened"),
        Err(e) => e,
    }
}

#[test]
fn create_and_open_refusals() {
    use std::os::fd::AsRawFd;
    let name = Name::new("refuse");
    let shm = Location::SharedMemory;
    assert_eq!(open_err(&name.0).status(), Status::ErrNotFound);
    let seg = Segment::create(&name.0, &shm, 64 << 10, 2, 4).unwrap();
    assert_eq!(Segment::create(&name.0, &shm, 64 << 10, 2, 4).err().unwrap().status(), Status::ErrExists);
    assert_eq!(Segment::create("bad/name", &shm, 64 << 10, 2, 4).err().unwrap().status(), Status::ErrInvalidArgument);
    assert_eq!(Segment::create("tiny", &shm, 4096, 2, 4).err().unwrap().status(), Status::ErrInvalidArgument);
    drop(Segment::open(&name.0, &shm).unwrap());
    let fd = raw_fd(&name.0);

    // SAFETY (all fchmod/fchown/ftruncate below): plain system calls on an open descriptor.
    unsafe { libc::fchmod(fd.as_raw_fd(), 0o644) };
    let e = open_err(&name.0);
    assert_eq!(e.status(), Status::ErrPermission);
    assert!(e.message().contains("has mode 0644"), "{e}");
    unsafe { libc::fchmod(fd.as_raw_fd(), 0o600) };

    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    assert_eq!(me, 0, "this test changes the segment's owner, which needs root; run it as root");
    unsafe { libc::fchown(fd.as_raw_fd(), 65534, u32::MAX) };
    let e = open_err(&name.0);
    assert_eq!(e.status(), Status::ErrPermission);
    assert!(e.message().contains(&format!("is owned by uid 65534, not {me}")), "{e}");
    unsafe { libc::fchown(fd.as_raw_fd(), me, u32::MAX) };

    let len = seg.layout.segment_len as libc::off_t;
    unsafe { libc::ftruncate(fd.as_raw_fd(), len + 4096) };
    let e = open_err(&name.0);
    assert_eq!(e.status(), Status::ErrCorrupt);
    assert!(e.message().contains("its header says"), "{e}");
    unsafe { libc::ftruncate(fd.as_raw_fd(), len) };

    let good = header_bytes(&fd);
    pwrite(&fd, 0, b"NOTFLOE!");
    let e = open_err(&name.0);
    assert_eq!(e.status(), Status::ErrIncompatible);
    assert!(e.message().contains("not a floe segment: magic 4e 4f"), "{e}");

    let mut later = good;
    later[8..10].copy_from_slice(&2u16.to_le_bytes());
    let crc = crc32fast::hash(&later[..HEADER_LEN - 4]);
    later[HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    pwrite(&fd, 0, &later);
    let e = open_err(&name.0);
    assert_eq!(e.status(), Status::ErrIncompatible);
    assert!(e.message().contains("format 2.0, a later major version"), "{e}");

    let mut damaged = good;
    damaged[30] ^= 0x40;
    pwrite(&fd, 0, &damaged);
    let e = open_err(&name.0);
    assert_eq!(e.status(), Status::ErrCorrupt);
    assert!(e.message().contains("checksum"), "{e}");

    pwrite(&fd, 0, &good);
    drop(Segment::open(&name.0, &shm).unwrap());
}

#[test]
fn a_directory_location_works_like_shared_memory() {
    let dir = std::env::temp_dir().join(format!(
        "floe-seg-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).unwrap();
    let at = Location::Directory(dir.clone());
    let seg = Segment::create("dir", &at, 64 << 10, 1, 2).unwrap();
    publish(&seg, 0, 100, 1);
    let other = Segment::open("dir", &at).unwrap();
    assert_eq!(read_checked(&other, 0).unwrap().2, 100);
    Segment::unlink("dir", &at).unwrap();
    assert_eq!(Segment::open("dir", &at).err().unwrap().status(), Status::ErrNotFound);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn publish_and_read_round_trip() {
    let name = Name::new("trip");
    let seg = Segment::create(&name.0, &Location::SharedMemory, 256 << 10, 3, 1).unwrap();
    assert_eq!(seg.read(0).unwrap(), None);
    assert_eq!(seg.read(3).err().unwrap().status(), Status::ErrOutOfRange);
    let mut last = 0;
    for (i, len) in [20usize, 4000, 4096 - 64, 4096, 50_000, 33].into_iter().enumerate() {
        let id = publish(&seg, 1, len, i as i32 + 1);
        assert!(id > last);
        last = id;
        assert_eq!(read_checked(&seg, 1), Some((id, i as i32 + 1, len)));
    }
    // A failing write publishes nothing and frees its pages.
    let e = seg.publish(1, 100, Some(99), |_, _, _, _| Err(crate::core::base::error::Error::host("no"))).unwrap_err();
    assert_eq!(e.status(), Status::ErrHost);
    assert_eq!(read_checked(&seg, 1).unwrap().0, last);
    assert_accounted(&seg.inspect().unwrap());

    // Names.
    seg.name_slot(2, "prices").unwrap();
    assert_eq!(seg.slot_by_name("prices").unwrap(), 2);
    assert_eq!(seg.name_slot(0, "prices").unwrap_err().status(), Status::ErrExists);
    assert_eq!(seg.name_slot(2, "other").unwrap_err().status(), Status::ErrExists);
    assert_eq!(seg.slot_by_name("nope").unwrap_err().status(), Status::ErrNotFound);
    assert_eq!(seg.name_slot(0, &"x".repeat(41)).unwrap_err().status(), Status::ErrInvalidArgument);

    // Pins keep old versions; more pins than the table holds is ErrLimit, not a silent unpin.
    let mut pins = Vec::new();
    for k in 0..PINS_PER_READER {
        publish(&seg, 0, 5000, k as i32);
        pins.push(seg.read(0).unwrap().unwrap());
    }
    publish(&seg, 0, 5000, 50);
    let e = seg.read(0).unwrap_err();
    assert_eq!(e.status(), Status::ErrLimit);
    assert!(e.message().contains("reader table is full"), "{e}");
    let i = seg.inspect().unwrap();
    assert_eq!(i.retired_pages, 2 * PINS_PER_READER as u32, "{i:#?}");
    for p in &pins {
        check(p.base, p.len, p.version_id).unwrap();
        seg.unpin(p).unwrap();
    }
    assert_eq!(seg.unpin(&pins[0]).unwrap_err().status(), Status::ErrInvalidArgument);

    // Empty a slot; a block too large for the segment; a full segment.
    seg.unpublish(1).unwrap();
    assert_eq!(seg.read(1).unwrap(), None);
    let e = seg.publish(0, 1 << 30, Some(1), |_, _, _, _| Ok(())).unwrap_err();
    assert_eq!(e.status(), Status::ErrLimit);
    let big = (seg.layout.page_count as usize - 1) * seg.layout.page_size as usize;
    let held = seg.read(0).unwrap().unwrap();
    let e = seg.publish(0, big, Some(1), |_, _, _, _| Ok(())).unwrap_err();
    assert_eq!(e.status(), Status::ErrLimit);
    assert!(e.message().contains("segment /floe.") && e.message().contains("is full: needs"), "{e}");
    seg.unpin(&held).unwrap();
    publish(&seg, 0, 100, 7);
    let i = seg.inspect().unwrap();
    assert_accounted(&i);
    assert_eq!(i.retired_pages, 0);
}

#[test]
fn second_reader_entry_when_one_is_full() {
    let name = Name::new("entries");
    let seg = Segment::create(&name.0, &Location::SharedMemory, 256 << 10, 1, 3).unwrap();
    let mut pins = Vec::new();
    for k in 0..PINS_PER_READER + 2 {
        publish(&seg, 0, 100, k as i32);
        pins.push(seg.read(0).unwrap().unwrap());
    }
    assert_eq!(seg.readers.lock().entries.len(), 2);
    for p in &pins {
        seg.unpin(p).unwrap();
    }
}

/// A reader entry this open segment claimed after a publish's reclaim looked at its own entries
/// is still its own: the dead-reader check, whose lock would succeed on this descriptor, leaves it
/// and its pins alone (once, it cleared them, and the pinned version's pages went to the next
/// publish while objects read in place still read them).
#[test]
fn the_dead_reader_check_never_clears_an_entry_of_its_own_segment() {
    let name = Name::new("own-entry");
    let seg = Segment::create(&name.0, &Location::SharedMemory, 256 << 10, 1, 3).unwrap();
    publish(&seg, 0, 100, 1);
    let pinned = seg.read(0).unwrap().unwrap();
    let entry = seg.readers.lock().entries[0];
    let session = seg.begin_write().unwrap();
    assert_eq!(session.clear_if_dead(entry).unwrap(), None, "an entry of this open segment is alive");
    drop(session);
    publish(&seg, 0, 100, 2);
    publish(&seg, 0, 100, 3);
    check(pinned.base, pinned.len, pinned.version_id).unwrap();
    let i = seg.inspect().unwrap();
    assert!(i.readers.iter().any(|r| r.index == entry && r.pins.contains(&pinned.version_id)), "{i:?}");
    seg.unpin(&pinned).unwrap();
}

#[test]
fn four_reader_processes_never_see_a_torn_or_older_version() {
    let name = Name::new("stress");
    let shm = Location::SharedMemory;
    let seg = Segment::create(&name.0, &shm, 4 << 20, 2, 8).unwrap();
    publish(&seg, 0, 64, 0);
    let shared = SharedWords::new(8); // 0: writer done, 1..5: reads per reader
    const VERSIONS: i32 = 3000;
    let writer = fork_child(|| {
        let seg = Segment::open(&name.0, &shm).unwrap();
        for v in 1..=VERSIONS {
            let len = 20 + (v as usize * 7919) % 40_000;
            seg.publish(0, len, Some(v), |base, len, id, _| {
                fill(base, len, id);
                Ok(())
            })
            .unwrap();
        }
        shared.word(0).store(1, Ordering::SeqCst);
        0
    });
    let readers: Vec<_> = (1..=4)
        .map(|r| {
            let (name, shared) = (&name, &shared);
            fork_child(move || {
                let seg = Segment::open(&name.0, &Location::SharedMemory).unwrap();
                let (mut last_id, mut last_kn) = (0, -1);
                loop {
                    let done = shared.word(0).load(Ordering::SeqCst) == 1;
                    let p = seg.read(0).unwrap().unwrap();
                    if check(p.base, p.len, p.version_id).is_err() || p.version_id < last_id || p.kn_version < last_kn {
                        return 1;
                    }
                    (last_id, last_kn) = (p.version_id, p.kn_version);
                    seg.unpin(&p).unwrap();
                    shared.word(r).fetch_add(1, Ordering::Relaxed);
                    if done {
                        return if last_kn == VERSIONS { 0 } else { 2 };
                    }
                }
            })
        })
        .collect();
    assert_eq!(exit_code(wait_child(writer, Duration::from_secs(60))), 0, "writer");
    for (k, pid) in readers.into_iter().enumerate() {
        assert_eq!(exit_code(wait_child(pid, Duration::from_secs(20))), 0, "reader {k}");
    }
    for r in 1..=4 {
        assert!(shared.word(r).load(Ordering::Relaxed) > 0);
    }
    seg.recover().unwrap();
    let i = seg.inspect().unwrap();
    assert_accounted(&i);
    assert_eq!(i.retired_pages, 0);
    assert_eq!(i.slots[0].kn_version, VERSIONS);
}

#[test]
fn a_killed_reader_loses_its_pins_and_its_pages_return() {
    let name = Name::new("deadreader");
    let shm = Location::SharedMemory;
    let seg = Segment::create(&name.0, &shm, 256 << 10, 1, 4).unwrap();
    let first = publish(&seg, 0, 10_000, 1);
    let shared = SharedWords::new(1);
    let child = fork_child(|| {
        let seg = Segment::open(&name.0, &shm).unwrap();
        let _pinned = seg.read(0).unwrap().unwrap();
        shared.word(0).store(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(30));
        0
    });
    wait_flag(shared.word(0), 1, Duration::from_secs(10));
    publish(&seg, 0, 10_000, 2);
    publish(&seg, 0, 10_000, 3);
    let i = seg.inspect().unwrap();
    assert_eq!(i.retired_pages, 3, "the pinned first version stays: {i:#?}");
    let r = i.readers.iter().find(|r| r.pid == child as u32).expect("the child's entry");
    assert!(r.alive && r.pins == vec![first], "{r:?}");

    // SAFETY: killing our own child.
    unsafe { libc::kill(child, libc::SIGKILL) };
    assert_eq!(exit_code(wait_child(child, Duration::from_secs(5))), -libc::SIGKILL);
    let i = seg.inspect().unwrap();
    assert!(!i.readers.iter().find(|r| r.pid == child as u32).unwrap().alive);
    let report = seg.recover().unwrap();
    assert_eq!(report.dead_readers.len(), 1, "{report:?}");
    assert_eq!(report.dead_readers[0].pid, child as u32);
    assert_eq!(report.dead_readers[0].pins, vec![first]);
    let i = seg.inspect().unwrap();
    assert_accounted(&i);
    assert_eq!(i.retired_pages, 0);
    assert_eq!(i.free_pages, i.page_count - 3);
    assert!(i.readers.iter().all(|r| r.pid != child as u32));
}

#[test]
fn a_writer_killed_mid_publish_loses_nothing() {
    let name = Name::new("deadwriter");
    let shm = Location::SharedMemory;
    let seg = Segment::create(&name.0, &shm, 256 << 10, 1, 4).unwrap();
    let before = publish(&seg, 0, 9000, 1);
    let child = fork_child(|| {
        let seg = Segment::open(&name.0, &shm).unwrap();
        let _ = seg.publish(0, 20_000, Some(2), |base, len, id, _| {
            fill(base, len / 2, id);
            // SAFETY: the test's crash: the process dies here, holding the writer lock.
            unsafe { libc::raise(libc::SIGKILL) };
            Ok(())
        });
        0
    });
    assert_eq!(exit_code(wait_child(child, Duration::from_secs(10))), -libc::SIGKILL);
    assert_eq!(read_checked(&seg, 0), Some((before, 1, 9000)));
    let i = seg.inspect().unwrap();
    assert_eq!(i.writing_pages, 5, "{i:#?}");
    assert!(!i.writer.locked);
    assert!(i.writer.in_flight.is_some_and(|f| !f.committed && f.page_count == 5));

    let report = seg.recover().unwrap();
    let (pid, inflight) = report.interrupted.expect("the interrupted publish");
    assert_eq!(pid, child as u32);
    assert_eq!(inflight.slot, 0);
    assert_eq!(report.writing_pages_freed, 5);
    let i = seg.inspect().unwrap();
    assert_accounted(&i);
    assert_eq!(i.free_pages, i.page_count - 3);
    assert!(i.writer.in_flight.is_none());
    assert_eq!(read_checked(&seg, 0), Some((before, 1, 9000)));
    let after = publish(&seg, 0, 100, 3);
    assert!(after > before + 1, "the dead writer's id is not reused");
}

#[test]
fn recovery_empties_a_slot_whose_version_is_damaged() {
    let name = Name::new("damaged");
    let seg = Segment::create(&name.0, &Location::SharedMemory, 256 << 10, 2, 2).unwrap();
    publish(&seg, 0, 500, 1);
    publish(&seg, 1, 500, 1);
    let (page, _) = split_ref(seg.slot_object(1).load(Ordering::Relaxed)).unwrap();
    // A peer scribbles over slot 1's record.
    let fd = raw_fd(&name.0);
    pwrite(&fd, seg.layout.page(page) + 20, &[0xAA; 4]);
    let e = seg.read(1).unwrap_err();
    assert_eq!(e.status(), Status::ErrCorrupt);
    assert!(e.message().contains("slot 1") && e.message().contains("checksum"), "{e}");
    let report = seg.recover().unwrap();
    assert_eq!(report.slots_emptied.len(), 1);
    assert_eq!(report.slots_emptied[0].0, 1);
    assert_eq!(report.versions_freed, 1);
    assert_eq!(seg.read(1).unwrap(), None);
    assert!(read_checked(&seg, 0).is_some());
    assert_accounted(&seg.inspect().unwrap());
    // Recovery again changes nothing.
    let again = seg.recover().unwrap();
    assert_eq!((again.versions_freed, again.slots_emptied.len(), again.writing_pages_freed), (0, 0, 0));
}

#[test]
fn an_unlinked_segment_keeps_working_for_those_who_have_it() {
    let name = Name::new("unlinked");
    let shm = Location::SharedMemory;
    let seg = Segment::create(&name.0, &shm, 128 << 10, 1, 2).unwrap();
    let other = Segment::open(&name.0, &shm).unwrap();
    publish(&seg, 0, 300, 1);
    Segment::unlink(&name.0, &shm).unwrap();
    assert_eq!(Segment::open(&name.0, &shm).err().unwrap().status(), Status::ErrNotFound);
    assert_eq!(Segment::unlink(&name.0, &shm).unwrap_err().status(), Status::ErrNotFound);
    let id = publish(&other, 0, 400, 2);
    assert_eq!(read_checked(&seg, 0), Some((id, 2, 400)));
}

#[test]
fn two_writer_processes_are_serialized() {
    let name = Name::new("writers");
    let shm = Location::SharedMemory;
    let seg = Segment::create(&name.0, &shm, 1 << 20, 2, 4).unwrap();
    let shared = SharedWords::new(2); // 0: writers inside `write` now, 1: overlaps seen
    const EACH: i32 = 300;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (name, shared) = (&name, &shared);
            fork_child(move || {
                let seg = Segment::open(&name.0, &Location::SharedMemory).unwrap();
                for v in 0..EACH {
                    seg.publish(w, 3000, Some(v), |base, len, id, _| {
                        if shared.word(0).fetch_add(1, Ordering::SeqCst) != 0 {
                            shared.word(1).fetch_add(1, Ordering::SeqCst);
                        }
                        fill(base, len, id);
                        std::hint::spin_loop();
                        shared.word(0).fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .unwrap();
                }
                0
            })
        })
        .collect();
    for pid in writers {
        assert_eq!(exit_code(wait_child(pid, Duration::from_secs(60))), 0);
    }
    assert_eq!(shared.word(1).load(Ordering::SeqCst), 0, "two writers were inside publish at once");
    let i = seg.inspect().unwrap();
    assert_eq!(i.next_version_id, 2 * EACH as u64 + 1);
    assert_accounted(&i);
    assert_eq!(read_checked(&seg, 0).unwrap().1, EACH - 1);
    assert_eq!(read_checked(&seg, 1).unwrap().1, EACH - 1);
}

#[test]
fn a_waiter_in_another_process_wakes_on_publish() {
    let name = Name::new("wait");
    let shm = Location::SharedMemory;
    let seg = Segment::create(&name.0, &shm, 128 << 10, 1, 4).unwrap();
    let seen = seg.seq(0).unwrap();
    let e = seg.wait_for_change(0, seen, Duration::from_millis(20)).unwrap_err();
    assert_eq!(e.status(), Status::ErrTimeout);
    let shared = SharedWords::new(1);
    let child = fork_child(|| {
        let seg = Segment::open(&name.0, &shm).unwrap();
        shared.word(0).store(1, Ordering::SeqCst);
        match seg.wait_for_change(0, seen, Duration::from_secs(10)) {
            Ok(now) if now != seen => match seg.read(0) {
                Ok(Some(p)) if p.kn_version == 5 => 0,
                _ => 2,
            },
            _ => 1,
        }
    });
    wait_flag(shared.word(0), 1, Duration::from_secs(10));
    // Give it time to sleep in the futex, then check the publish wakes it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while seg.slot_waiters(0).load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(seg.slot_waiters(0).load(Ordering::SeqCst), 1);
    let start = Instant::now();
    publish(&seg, 0, 100, 5);
    assert_eq!(exit_code(wait_child(child, Duration::from_secs(10))), 0);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(seg.slot_waiters(0).load(Ordering::SeqCst), 0);
}

/// A writer killed while retiring a version leaves its first pages RETIRED and the rest LIVE
/// (`change.page_retired` in the kill matrix). The version is still one run, which a live reader
/// pins by its first page: recovery retires it whole, and later publishes do not take its pages.
#[test]
fn a_version_retired_part_way_stays_whole_for_its_reader() {
    let name = Name::new("halfretired");
    let seg = Segment::create(&name.0, &Location::SharedMemory, 256 << 10, 1, 2).unwrap();
    publish(&seg, 0, 15_000, 1);
    let held = seg.read(0).unwrap().unwrap();
    let (first, _) = split_ref(seg.slot_object(0).load(Ordering::SeqCst)).unwrap();
    publish(&seg, 0, 100, 2);
    for p in first + 1..first + 4 {
        seg.page_word(p).store(PageState::Live(held.version_id).encode(), Ordering::SeqCst);
    }
    let report = seg.recover().unwrap();
    assert_eq!((report.versions_freed, report.versions_retired), (0, 1), "{report:?}");
    for p in first..first + 4 {
        assert_eq!(
            PageState::decode(seg.page_word(p).load(Ordering::SeqCst)),
            PageState::Retired(held.version_id),
            "page {p}"
        );
    }
    for kn in 3..40 {
        publish(&seg, 0, 15_000, kn);
    }
    check(held.base, held.len, held.version_id).unwrap();
    seg.unpin(&held).unwrap();
    publish(&seg, 0, 100, 40);
    let i = seg.inspect().unwrap();
    assert_accounted(&i);
    assert_eq!(i.retired_pages, 0);
}

/// A recovery killed while making a referenced version LIVE again leaves it part LIVE, part
/// RETIRED (`recover.page_relived`); the next recovery finishes the run, keeping the slot's
/// version instead of emptying the slot.
#[test]
fn a_referenced_version_revived_part_way_is_kept() {
    let name = Name::new("halfrevived");
    let seg = Segment::create(&name.0, &Location::SharedMemory, 256 << 10, 1, 2).unwrap();
    let id = publish(&seg, 0, 15_000, 1);
    let (first, _) = split_ref(seg.slot_object(0).load(Ordering::SeqCst)).unwrap();
    for p in first + 2..first + 4 {
        seg.page_word(p).store(PageState::Retired(id).encode(), Ordering::SeqCst);
    }
    let report = seg.recover().unwrap();
    assert!(report.slots_emptied.is_empty(), "{report:?}");
    assert_eq!(read_checked(&seg, 0), Some((id, 1, 15_000)));
    let i = seg.inspect().unwrap();
    assert_accounted(&i);
    assert_eq!((i.live_pages, i.retired_pages), (4, 0));
}
