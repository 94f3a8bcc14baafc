//! Kill tests: real processes that die by SIGKILL — at every crash point (`matrix`), at random
//! moments (`stress`), by exiting without closing, in a segment already unlinked, and while two
//! writers race to recover (`cases`) — and the checks that follow each death (`audit`).
//!
//! Every child is this test binary run again (`child_process`, selected by `FLOE_KILL_CHILD`), so
//! that each starts as a fresh process with `FLOE_CRASH_AT` in its environment, exactly as a
//! script would start one, and builds and publishes real frozen graphs. A child dies with its
//! parent (`PR_SET_PDEATHSIG`), so a failing test leaves no process behind.
//!
//! The graphs: version `kn` of slot `s` is a list `[s, kn, "slot s version kn", sub]` whose `sub`
//! holds `payload(s, kn)` integers and a reference back to the root (a cycle), 3 to 5 pages.

mod cases;
mod matrix;
mod stress;

use super::crash;
use super::layout::*;
use super::lock;
use super::map::Location;
use super::recover::Report;
use super::segment::Segment;
use crate::core::base::error::{Error, Status};
use crate::core::graph::object;
use crate::core::heap::value::{Kind, Value};
use crate::core::shared::segment::block::BlockView;
use crate::core::shared::segment::slot;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable that makes this test binary a child, and its role's arguments.
const CHILD: &str = "FLOE_KILL_CHILD";
/// The pid a child expects as its parent (it exits at once if its parent is already gone).
const PARENT: &str = "FLOE_KILL_PARENT";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A segment name unique to this process and test, unlinked when dropped.
pub(super) struct Name(pub(super) String);

impl Name {
    pub(super) fn new(tag: &str) -> Name {
        Name(format!("k{}-{}-{tag}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0, &Location::SharedMemory);
    }
}

/// A private directory for children's logs and rendezvous files; removed when dropped, unless
/// the test is failing (then its path is printed, to read the logs).
pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    pub(super) fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "floe-kills-{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("children's logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub(super) fn open(name: &str) -> std::sync::Arc<Segment> {
    slot::open(name, &Location::SharedMemory).unwrap_or_else(|e| panic!("opening segment {name}: {e}"))
}

pub(super) fn create(name: &str, size: u64, slots: u32, readers: u32) -> std::sync::Arc<Segment> {
    slot::create(name, &Location::SharedMemory, size, slots, readers)
        .unwrap_or_else(|e| panic!("creating segment {name}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The graphs.

/// Integers in version `kn` of slot `s`: 1100 to 2099 (a block of 3 to 5 pages).
pub(super) fn payload(slot: u32, kn: i32) -> usize {
    1100 + ((kn as u64).wrapping_mul(7919).wrapping_add(slot as u64 * 104_729) % 1000) as usize
}

fn value(kn: i32, i: usize) -> i64 {
    kn as i64 * 1_000_003 + i as i64
}

fn label(slot: u32, kn: i32) -> String {
    format!("slot {slot} version {kn}")
}

/// Builds and freezes version `kn` of slot `slot`; the root's handle (the caller releases it).
pub(super) fn build(slot: u32, kn: i32) -> crate::core::base::error::Result<u64> {
    let root = object::new_list()?;
    object::push(root, Value::Int(slot as i64))?;
    object::push(root, Value::Int(kn as i64))?;
    object::push(root, Value::Str(label(slot, kn).into()))?;
    let sub = object::new_list()?;
    for i in 0..payload(slot, kn) {
        object::push(sub, Value::Int(value(kn, i)))?;
    }
    object::push_ref(sub, Some(root))?;
    object::push_ref(root, Some(sub))?;
    object::freeze(root, None)?;
    object::release(sub)?;
    Ok(root)
}

/// Publishes version `kn` of `slot`, built for the purpose; its version id.
pub(super) fn publish(seg: &Segment, slot: u32, kn: i32) -> crate::core::base::error::Result<u64> {
    let root = build(slot, kn)?;
    let published = slot::publish_graph(seg, slot, root, Some(kn));
    object::release(root)?;
    published
}

/// Checks a block against the graph `build(slot, kn)` makes, after `verify`; says what differs.
pub(super) fn check_block(view: &BlockView, slot: u32, kn: i32) -> Result<(), String> {
    let s = |e: Error| e.message().to_string();
    view.verify().map_err(s)?;
    let root = view.root();
    let n = payload(slot, kn);
    let head =
        (view.get_int(root, 0).map_err(s)?, view.get_int(root, 1).map_err(s)?, view.get_string(root, 2).map_err(s)?);
    if head != (slot as i64, kn as i64, label(slot, kn)) || view.kn_version() != kn {
        return Err(format!("version {} holds {head:?}, not version {kn} of slot {slot}", view.version_id()));
    }
    let sub = view.get_ref(root, 3).map_err(s)?.ok_or("the root's sub-list is null")?;
    if view.len_of(sub).map_err(s)? != n + 1 {
        return Err(format!(
            "the sub-list of version {kn} of slot {slot} has {} elements, not {}",
            view.len_of(sub).map_err(s)?,
            n + 1
        ));
    }
    for i in 0..n {
        let got = view.get_int(sub, i).map_err(s)?;
        if got != value(kn, i) {
            return Err(format!("element {i} of version {kn} of slot {slot} is {got}, not {}", value(kn, i)));
        }
    }
    if view.get_ref(sub, n).map_err(s)? != Some(root) {
        return Err(format!("the cycle of version {kn} of slot {slot} is broken"));
    }
    Ok(())
}

/// Checks a heap copy against `build(slot, kn)`.
fn check_copy(root: u64, slot: u32, kn: i32) -> Result<(), String> {
    let s = |e: Error| e.message().to_string();
    let int = |h: u64, i: usize| {
        object::read(h, i, Kind::Int, |v| if let Value::Int(x) = v { *x } else { i64::MIN }).map_err(s)
    };
    if (int(root, 0)?, int(root, 1)?) != (slot as i64, kn as i64) {
        return Err(format!("a copy of slot {slot} holds {:?}, not version {kn}", (int(root, 0)?, int(root, 1)?)));
    }
    let sub = object::get_ref(root, 3).map_err(s)?.ok_or("the copy's sub-list is null")?;
    let n = payload(slot, kn);
    let result = (|| {
        if object::len(sub).map_err(s)? != n + 1 || int(sub, n - 1)? != value(kn, n - 1) {
            return Err(format!("the copy of version {kn} of slot {slot} has a wrong sub-list"));
        }
        let back = object::get_ref(sub, n).map_err(s)?.ok_or("the copy's cycle is null")?;
        let same = object::id_of(back).map_err(s)? == object::id_of(root).map_err(s)?;
        object::release(back).map_err(s)?;
        if same {
            Ok(())
        } else {
            Err(format!("the copy of version {kn} of slot {slot} lost its cycle"))
        }
    })();
    object::release(sub).map_err(s)?;
    result
}

// ---------------------------------------------------------------------------------------------
// The audit: what must hold after any death, once recovery has run.

/// What a slot holds after an audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlotSeen {
    /// (version id, K/N version), or `None` when empty.
    pub(super) version: Option<(u64, i32)>,
    /// The slot's mirrored K/N version.
    pub(super) mirror: i32,
}

#[derive(Debug)]
pub(super) struct Audit {
    pub(super) report: Report,
    pub(super) slots: Vec<SlotSeen>,
    pub(super) free_pages: u32,
    pub(super) live_pages: u32,
    pub(super) retired_pages: u32,
    /// Pins of live readers whose versions were checked whole, block and graph.
    pub(super) pinned_versions_checked: u32,
    /// Pins of live readers that name a version no longer there: a reader stopped between
    /// storing a pin and checking the slot again (it drops the pin when it runs).
    pub(super) stale_pins: u32,
}

/// Takes the writer lock, recovers, and checks, under the lock:
/// - no publish is in flight and no page is being written;
/// - each version's pages are one run, all LIVE or all RETIRED;
/// - each slot's reference names a run whose record agrees, whose block verifies and holds the
///   graph `build(slot, kn)` makes for the record's K/N version, which the slot mirrors; its
///   version id is not below the one `last` remembers (versions never go back), and every id is
///   below the writer's next;
/// - every LIVE version is some slot's, so live pages = the referenced versions' pages;
/// - an entry whose process is dead holds no pin and no pid;
/// - each pin of a live reader names a whole version (checked like a slot's), or — only with
///   `stale_allowed`, for readers stopped mid-read — a version entirely gone;
/// - every RETIRED version is pinned by a live reader: free + referenced + pinned = all pages;
/// - the writer's private free bitmap agrees with the page map.
///
/// Readers must not unpin meanwhile (the caller stops them, or has none running); writers may run
/// (they wait for the lock).
pub(super) fn audit(seg: &Segment, last: &mut [u64], stale_allowed: bool) -> Result<Audit, String> {
    let mut s = seg.begin_write().map_err(|e| format!("taking the writer lock: {e}"))?;
    let report = match s.recovered.take() {
        Some(report) => report,
        None => s.recover_locked().map_err(|e| format!("recovery failed: {e}"))?,
    };
    let l = seg.layout;
    if let Some(f) = seg.read_in_flight() {
        return Err(format!("after recovery a publish is still in flight: {f:?}"));
    }

    // The page map, as versions: id -> (first page, pages, any live, any retired).
    let mut versions: BTreeMap<u64, (u32, u32, bool, bool)> = BTreeMap::new();
    let (mut free_pages, mut live_pages, mut retired_pages) = (0, 0, 0);
    for p in 0..l.page_count {
        let (id, live) = match PageState::decode(seg.page_word(p).load(Ordering::SeqCst)) {
            PageState::Free => {
                free_pages += 1;
                continue;
            }
            PageState::Writing(epoch) => {
                return Err(format!("page {p} is still being written (epoch {epoch}) after recovery"))
            }
            PageState::Live(id) => (id, true),
            PageState::Retired(id) => (id, false),
        };
        if live {
            live_pages += 1
        } else {
            retired_pages += 1
        }
        let v = versions.entry(id).or_insert((p, 0, false, false));
        if v.0 + v.1 != p {
            return Err(format!("version {id}'s pages are not one run: pages {}..{} and page {p}", v.0, v.0 + v.1));
        }
        v.1 += 1;
        v.2 |= live;
        v.3 |= !live;
    }
    for (id, &(first, count, live, retired)) in &versions {
        if live && retired {
            return Err(format!("version {id} (pages {first}..{}) is partly LIVE and partly RETIRED", first + count));
        }
    }
    let next = seg.writer_word(WRITER_NEXT_VERSION).load(Ordering::SeqCst).max(1);
    if let Some((&max, _)) = versions.iter().next_back() {
        if max >= next {
            return Err(format!(
                "version {max} is in the page map, but the next version id is {next}: an id would repeat"
            ));
        }
    }

    // A version a reference names, checked whole: record, pages, block, graph.
    let whole = |reference: u64, slot: Option<u32>| -> Result<Record, String> {
        let (first, _) = split_ref(reference).ok_or("a reference to no page")?;
        let record = match slot {
            Some(slot) => seg.checked_record(reference, slot).map_err(|e| e.message().to_string())?,
            None => {
                let mut bytes = [0u8; RECORD_LEN];
                seg.map.read(l.page(first), &mut bytes);
                Record::decode(&bytes, reference, first, &l)?
            }
        };
        match versions.get(&record.version_id) {
            Some(&(f, count, _, _)) if f == first && count == record.page_count => {}
            other => {
                return Err(format!(
                    "version {} should be pages {first}..{}, the page map has {other:?}",
                    record.version_id,
                    first + record.page_count
                ))
            }
        }
        let base = seg.map.ptr(l.page(first) + RECORD_LEN as u64, record.block_len as usize);
        // SAFETY: the record was checked: `block_len` bytes inside the version's pages, which the
        // writer lock (held) and the pins keep from being reused during the check.
        let view = unsafe { BlockView::open(base, record.block_len as usize, Some(record.version_id)) }
            .map_err(|e| format!("version {}: {}", record.version_id, e.message()))?;
        check_block(&view, record.slot, record.kn_version)
            .map_err(|e| format!("version {}: {e}", record.version_id))?;
        Ok(record)
    };

    // The slots.
    let mut slots = Vec::new();
    let mut referenced: HashMap<u64, u32> = HashMap::new();
    for slot in 0..l.slot_count {
        let reference = seg.slot_object(slot).load(Ordering::SeqCst);
        let mirror = seg.slot_version(slot).load(Ordering::SeqCst);
        if reference == 0 {
            slots.push(SlotSeen { version: None, mirror });
            continue;
        }
        let record = whole(reference, Some(slot)).map_err(|e| format!("slot {slot}: {e}"))?;
        if !versions[&record.version_id].2 {
            return Err(format!("slot {slot} references version {}, which is RETIRED", record.version_id));
        }
        if let Some(other) = referenced.insert(record.version_id, slot) {
            return Err(format!("slots {other} and {slot} reference one version"));
        }
        if mirror != record.kn_version {
            return Err(format!("slot {slot} mirrors version {mirror}, its block is version {}", record.kn_version));
        }
        if record.version_id < last[slot as usize] {
            return Err(format!(
                "slot {slot} went back from version id {} to {}",
                last[slot as usize], record.version_id
            ));
        }
        last[slot as usize] = record.version_id;
        slots.push(SlotSeen { version: Some((record.version_id, record.kn_version)), mirror });
    }
    for (id, &(first, count, live, _)) in &versions {
        if live && !referenced.contains_key(id) {
            return Err(format!("version {id} (pages {first}..{}) is LIVE but no slot references it", first + count));
        }
    }

    // The readers.
    let own = seg.readers.lock().entries.clone();
    let mut live_pins = HashSet::new();
    let (mut pinned_versions_checked, mut stale_pins) = (0, 0);
    for entry in 0..l.reader_capacity {
        let at = l.reader(entry);
        let pid = seg.map.u32_at(at + READER_PID).load(Ordering::SeqCst);
        let pins: Vec<u64> =
            (0..PINS_PER_READER).map(|k| seg.pin_word(entry, k).load(Ordering::SeqCst)).filter(|&r| r != 0).collect();
        let alive = own.contains(&entry) || lock::is_locked(&seg.fd, at, &seg.shown).map_err(|e| e.to_string())?;
        if !alive {
            if pid != 0 || !pins.is_empty() {
                return Err(format!(
                    "reader entry {entry} of dead pid {pid} still holds pins {pins:x?} after recovery"
                ));
            }
            continue;
        }
        for reference in pins {
            let (first, generation) = split_ref(reference).ok_or("a pin of no page")?;
            let there = versions.iter().any(|(&id, v)| v.0 == first && id & 0xFFFF_FFFF == generation as u64);
            if !there && stale_allowed {
                stale_pins += 1;
                continue;
            }
            whole(reference, None)
                .map_err(|e| format!("reader entry {entry} (pid {pid}) pins a version not whole: {e}"))?;
            pinned_versions_checked += 1;
            live_pins.insert(reference);
        }
    }
    for (&id, &(first, count, live, _)) in &versions {
        if !live && !live_pins.contains(&version_ref(id, first)) {
            return Err(format!(
                "version {id} (pages {first}..{}) stays RETIRED, but no live reader pins it: its space is lost",
                first + count
            ));
        }
    }

    // The writer's private bitmap, rebuilt or kept, agrees with the page map.
    for p in 0..l.page_count {
        let bit = s.st.free[(p / 64) as usize] & (1 << (p % 64)) != 0;
        let word = seg.page_word(p).load(Ordering::SeqCst) == PageState::Free.encode();
        if bit != word {
            return Err(format!(
                "the writer's bitmap says page {p} is {}free, the page map says otherwise",
                if bit { "" } else { "not " }
            ));
        }
    }
    drop(s);
    Ok(Audit { report, slots, free_pages, live_pages, retired_pages, pinned_versions_checked, stale_pins })
}

/// A recovery report with nothing in it: what recovering a consistent segment must give.
pub(super) fn is_empty(r: &Report) -> bool {
    r.interrupted.is_none()
        && r.writing_pages_freed == 0
        && r.versions_freed == 0
        && r.versions_retired == 0
        && r.slots_emptied.is_empty()
        && r.dead_readers.is_empty()
}

// ---------------------------------------------------------------------------------------------
// Children: this test binary again, as a fresh process.

/// A child process, killed (SIGKILL) and reaped if still running when dropped.
pub(super) struct Kid {
    pub(super) child: Child,
    pub(super) log: PathBuf,
    pub(super) what: String,
    /// The `FLOE_CRASH_AT` it was started with.
    pub(super) crash: Option<String>,
    reaped: Option<ExitStatus>,
}

/// Starts `role` with `args` as a child, dying at `crash` (a `FLOE_CRASH_AT` value) if given; its
/// stdout and stderr go to a log in `scratch`.
pub(super) fn spawn(scratch: &Scratch, role: &str, args: &[&str], crash: Option<&str>) -> Kid {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let log = scratch.file(&format!("{n}-{role}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let test = concat!(module_path!(), "::child_process");
    let test = test.split_once("::").map_or(test, |(_, rest)| rest);
    let mut spec = vec![role];
    spec.extend_from_slice(args);
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, spec.join(" "))
        .env(PARENT, std::process::id().to_string())
        // Its own process group: a stopped child never takes part in job control of the parent's
        // group (were that group orphaned, the kernel would send its stopped members SIGHUP).
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    match crash {
        Some(point) => command.env(crash::VARIABLE, point),
        None => command.env_remove(crash::VARIABLE),
    };
    let child = command.spawn().unwrap_or_else(|e| panic!("starting child {role}: {e}"));
    let what = match crash {
        Some(point) => format!("{} (FLOE_CRASH_AT={point})", spec.join(" ")),
        None => spec.join(" "),
    };
    Kid { child, log, what, crash: crash.map(str::to_string), reaped: None }
}

impl Kid {
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the child at most `timeout` (then kills it and panics).
    pub(super) fn wait(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.reaped {
            return status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.reaped = Some(status);
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("child `{}` did not finish within {timeout:?}; its output:\n{}", self.what, self.output());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether the child is still running.
    pub(super) fn running(&mut self) -> bool {
        match self.reaped {
            Some(_) => false,
            None => match self.child.try_wait().unwrap() {
                Some(status) => {
                    self.reaped = Some(status);
                    false
                }
                None => true,
            },
        }
    }

    /// What a child that ended by itself left: its status and output.
    pub(super) fn ended(&mut self) -> String {
        let status = self.wait(Duration::ZERO);
        format!("`{}` ended by itself with {status}; its output:\n{}", self.what, self.output())
    }

    /// Asserts that the child died by SIGKILL (not by a panic, an exit or another signal).
    pub(super) fn expect_killed(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "child `{}` ended with {status}, not by SIGKILL; its output:\n{}",
            self.what,
            self.output()
        );
    }

    /// Asserts that the child exited with status 0.
    pub(super) fn expect_success(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        assert!(status.success(), "child `{}` ended with {status}; its output:\n{}", self.what, self.output());
    }

    /// Sends SIGKILL and asserts that the child died of it (it was still running: no exit, no
    /// panic before).
    pub(super) fn kill(&mut self) {
        assert!(
            self.running(),
            "child `{}` ended by itself ({:?}) before it was killed; its output:\n{}",
            self.what,
            self.reaped,
            self.output()
        );
        // SAFETY: a signal to our own child, not yet reaped (so its pid is not reused).
        unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGKILL) };
        self.expect_killed(Duration::from_secs(10));
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `condition` holds, at most `timeout`; `what` names it in the panic.
pub(super) fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the reader entry of process `pid` pins something.
pub(super) fn wait_for_pins(seg: &Segment, kid: &mut Kid) {
    let pid = kid.pid();
    wait_until(&format!("child `{}` pinning a version", kid.what), Duration::from_secs(20), || {
        assert!(kid.running(), "child `{}` ended: {}", kid.what, kid.output());
        seg.inspect().unwrap().readers.iter().any(|r| r.pid == pid && !r.pins.is_empty())
    });
}

/// Waits for a file to appear (a child's rendezvous).
fn wait_for_file(path: &Path, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if Instant::now() > deadline {
            return Err(format!("{} did not appear within {timeout:?}", path.display()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The entry point of every child; run as the parent's test it checks that no crash point fires
/// without `FLOE_CRASH_AT`.
#[test]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD) else {
        assert!(
            std::env::var_os(crash::VARIABLE).is_none(),
            "{} is set in the tests' environment: the kill tests set it for their children only",
            crash::VARIABLE
        );
        for point in crash::POINTS {
            crash::hit(point);
        }
        return;
    };
    // Die with the parent: a failing test leaves no child running.
    // SAFETY: plain system calls with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let parent: u32 = std::env::var(PARENT).unwrap().parse().unwrap();
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } as u32 != parent {
        return;
    }
    let words: Vec<&str> = spec.split(' ').collect();
    if let Err(message) = run_role(&words) {
        panic!("child {spec}: {message}");
    }
}

fn num<T: std::str::FromStr>(words: &[&str], i: usize) -> T {
    words[i].parse().unwrap_or_else(|_| panic!("argument {i} of {words:?} is not a number"))
}

fn run_role(words: &[&str]) -> Result<(), String> {
    let text = |e: Error| e.to_string();
    match words {
        ["publish", name, ..] => {
            let seg = open(name);
            let id = publish(&seg, num(words, 2), num(words, 3)).map_err(text)?;
            println!("published version id {id}");
        }
        ["publish-fail", name, slot] => {
            let seg = open(name);
            let slot: u32 = slot.parse().unwrap();
            let e = seg.publish(slot, 3 * seg.layout.page_size as usize, Some(99), |_, _, _, _| {
                Err(Error::host("the write fails on purpose"))
            });
            match e {
                Err(e) if e.status() == Status::ErrHost => println!("the failed write published nothing"),
                other => return Err(format!("a failing write gave {other:?}")),
            }
        }
        ["publish-twice", name, slot, kn, dir] => {
            let seg = open(name);
            let (slot, kn): (u32, i32) = (slot.parse().unwrap(), kn.parse().unwrap());
            publish(&seg, slot, kn).map_err(text)?;
            let dir = Path::new(dir);
            std::fs::write(dir.join("ready"), b"").unwrap();
            wait_for_file(&dir.join("go"), Duration::from_secs(30))?;
            publish(&seg, slot, kn + 1).map_err(text)?;
        }
        ["unpublish", name, slot] => open(name).unpublish(slot.parse().unwrap()).map_err(text)?,
        ["recover", name] => {
            let report = open(name).recover().map_err(text)?;
            println!("{}", report_line(&report));
        }
        ["pin", name, slot] => {
            let seg = open(name);
            let pinned = seg.read(slot.parse().unwrap()).map_err(text)?.ok_or("the slot is empty")?;
            println!("pinned version id {}", pinned.version_id);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        ["read", name, slot] => {
            let seg = open(name);
            let pinned = seg.read(slot.parse().unwrap()).map_err(text)?.ok_or("the slot is empty")?;
            // SAFETY: pinned until the unpin below.
            let view = unsafe { BlockView::open(pinned.base, pinned.len, Some(pinned.version_id)) }.map_err(text)?;
            check_block(&view, pinned.slot, pinned.kn_version)?;
            seg.unpin(&pinned).map_err(text)?;
        }
        ["claim", name] => drop(open(name)),
        ["create", name] => drop(create(name, 512 << 10, 2, 8)),
        ["pin-exit", name, slot, how] => {
            let seg = open(name);
            let pinned = seg.read(slot.parse().unwrap()).map_err(text)?.ok_or("the slot is empty")?;
            println!("pinned version id {}, exiting without closing", pinned.version_id);
            if *how == "_exit" {
                // SAFETY: ends the process at once, closing nothing of floe's.
                unsafe { libc::_exit(0) };
            }
            std::process::exit(0);
        }
        ["publish-exit", name, slot, micros] => {
            let seg = open(name);
            let slot: u32 = slot.parse().unwrap();
            let publisher = seg.clone();
            std::thread::spawn(move || {
                for kn in 1000.. {
                    if let Err(e) = publish(&publisher, slot, kn) {
                        eprintln!("publish failed: {e}");
                        std::process::exit(3);
                    }
                }
            });
            std::thread::sleep(Duration::from_micros(micros.parse().unwrap()));
            std::process::exit(0);
        }
        ["race-recover", name, dir, me] => {
            let seg = open(name);
            let dir = Path::new(dir);
            std::fs::write(dir.join(format!("ready-{me}")), b"").unwrap();
            wait_for_file(&dir.join("go"), Duration::from_secs(30))?;
            let report = seg.recover().map_err(text)?;
            println!("{}", report_line(&report));
        }
        ["race-publish", name, dir, me, slot, kn] => {
            let seg = open(name);
            let dir = Path::new(dir);
            std::fs::write(dir.join(format!("ready-{me}")), b"").unwrap();
            wait_for_file(&dir.join("go"), Duration::from_secs(30))?;
            let id = publish(&seg, slot.parse().unwrap(), kn.parse().unwrap()).map_err(text)?;
            println!("published version id {id}");
        }
        ["wait-publish", name, slot, kn, dir] => {
            let seg = open(name);
            let dir = Path::new(dir);
            std::fs::write(dir.join("ready"), b"").unwrap();
            wait_for_file(&dir.join("go"), Duration::from_secs(30))?;
            let id = publish(&seg, slot.parse().unwrap(), kn.parse().unwrap()).map_err(text)?;
            println!("published version id {id}");
        }
        ["follow", name, slot, until] => follow(name, slot.parse().unwrap(), until.parse().unwrap())?,
        ["writer", name, slots @ ..] => {
            stress::writer(name, &slots.iter().map(|s| s.parse().unwrap()).collect::<Vec<u32>>())?
        }
        ["reader", name, slots] => stress::reader(name, slots.parse().unwrap())?,
        _ => return Err(format!("no role {words:?}")),
    }
    Ok(())
}

/// One line a parent parses: `recovered: interrupted <pid|none> writing <pages> freed <versions>
/// retired <versions> emptied <slots> dead <readers>`.
pub(super) fn report_line(r: &Report) -> String {
    let interrupted = r.interrupted.map_or("none".to_string(), |(pid, _)| pid.to_string());
    format!(
        "recovered: interrupted {interrupted} writing {} freed {} retired {} emptied {} dead {}",
        r.writing_pages_freed,
        r.versions_freed,
        r.versions_retired,
        r.slots_emptied.len(),
        r.dead_readers.len()
    )
}

/// Waits for each change of `slot`, checks each version read (in the segment and as a heap copy),
/// and returns once it has seen version `until`. Versions never go back.
fn follow(name: &str, slot: u32, until: i32) -> Result<(), String> {
    let text = |e: Error| e.to_string();
    let seg = open(name);
    let (mut last_id, mut last_kn, mut seen) = (0, 0, 0);
    loop {
        let seq = seg.seq(slot).map_err(text)?;
        if let Some(p) = seg.read(slot).map_err(text)? {
            // SAFETY: pinned until the unpin below.
            let view = unsafe { BlockView::open(p.base, p.len, Some(p.version_id)) }.map_err(text)?;
            check_block(&view, slot, p.kn_version)?;
            if p.version_id < last_id || p.kn_version < last_kn {
                return Err(format!(
                    "slot {slot} went back from {last_id}/{last_kn} to {}/{}",
                    p.version_id, p.kn_version
                ));
            }
            (last_id, last_kn) = (p.version_id, p.kn_version);
            seen += 1;
            seg.unpin(&p).map_err(text)?;
            if let Some((kn, root)) = slot::read_copy(&seg, slot).map_err(text)? {
                check_copy(root, slot, kn)?;
                object::release(root).map_err(text)?;
            }
            if last_kn >= until {
                println!("followed slot {slot} to version {last_kn}: {seen} reads");
                return Ok(());
            }
        }
        match seg.wait_for_change(slot, seq, Duration::from_secs(30)) {
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}
