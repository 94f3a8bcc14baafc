//! Segments: frozen graphs published in memory shared between processes. The other processes are
//! this test binary run again with one test selected, a `*_process` body that does nothing unless
//! the test that starts it sets its environment variable; the harness runs that body on its main
//! thread and on a background thread, as any test, and checks it leaked nothing.

use crate::harness::{assert_error, place};
use floe::{Kind, Object, ObjectType, Segment, Status};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

crate::tests![
    a_reader_process_sees_each_version_whole_with_its_cycle_and_shared_subgraph,
    reader_process,
    four_reader_processes_follow_a_writer_through_thousands_of_versions,
    a_million_object_graph_is_read_whole_by_another_process,
    million_reader_process,
    a_killed_reader_loses_its_pins_at_the_next_publish_or_open_and_its_pages_return,
    pin_holder_process,
    another_users_segment_is_refused_with_both_uids,
    other_user_process,
    headers_of_other_formats_and_cut_files_are_refused_and_a_later_minor_opens,
    refusals_are_statuses_with_messages,
    unpublish_empties_a_slot_and_bumps_its_version,
    writers_in_three_processes_give_each_version_of_a_slot_its_own_number,
    writer_process,
];

/// `reader_process`: the segment to read, and the last version to wait for.
const READ: &str = "FLOE_SEGMENT_READ";
const LAST: &str = "FLOE_SEGMENT_LAST";
/// `million_reader_process`: the segment, and the checksum the writer computed.
const MILLION: &str = "FLOE_SEGMENT_MILLION";
const CHECKSUM: &str = "FLOE_SEGMENT_CHECKSUM";
/// `pin_holder_process`: the segment whose slot 0 it reads over and over until it is killed.
const HOLD: &str = "FLOE_SEGMENT_HOLD";
/// `writer_process`: the segment whose slot 0 it publishes `PUBLISHES` versions to.
const WRITE: &str = "FLOE_SEGMENT_WRITE";
const PUBLISHES: i32 = 300;
/// `other_user_process`: `create NAME` or `open NAME`, run as another uid.
const OTHER_USER: &str = "FLOE_SEGMENT_OTHER_USER";
const VERSIONS: i64 = 200;
/// The uid (and gid) of the other user: `nobody` on Debian.
const OTHER_UID: u32 = 65534;

/// Attaches the slot's current version, read in place (`segment_reads` tests the copy beside it).
fn read(segment: &Segment, slot: u32) -> floe::Result<Option<(i32, Object)>> {
    segment.read(slot)
}

/// A segment name unique to this process, this place and this call; unlinked on drop.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Name(format!("api-{}-{:?}-{n}-{tag}", std::process::id(), place()))
    }

    /// The segment's file: POSIX shared memory is a tmpfs directory on Linux.
    fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/dev/shm").join(format!("floe.{}", self.0))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

/// Another process: this test binary running only `test`, with `env` set. Killed if the test
/// panics before it ends.
struct Process(Option<Child>);

impl Process {
    fn start(test: &str, env: &[(&str, &str)]) -> Process {
        Process::start_as(test, env, None)
    }

    /// `start`, as the user `uid` (with group `uid`) when given.
    fn start_as(test: &str, env: &[(&str, &str)], uid: Option<u32>) -> Process {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.arg(format!("api::segments::{test}")).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        if let Some(uid) = uid {
            command.uid(uid).gid(uid);
        }
        Process(Some(command.spawn().unwrap()))
    }

    fn pid(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    /// Waits for the process at most `limit` (then kills it and fails); what it printed. It must
    /// have passed its test on both threads.
    fn finish(mut self, limit: Duration) -> String {
        let mut child = self.0.take().unwrap();
        let deadline = Instant::now() + limit;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!("process {} still ran after {limit:?}:{}", output.status, indented(&text(&output)));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output().unwrap();
        let printed = text(&output);
        let shown = indented(&printed);
        assert!(output.status.success() && printed.contains("2 passed, 0 failed"), "the other process:{shown}");
        printed
    }

    /// Sends `signal`.
    fn signal(&self, signal: i32) {
        // SAFETY: a plain system call on this test's own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.pid() as libc::pid_t, signal) }, 0);
    }

    /// Kills the process with SIGKILL and reaps it.
    fn kill(mut self) {
        let mut child = self.0.take().unwrap();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL));
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Another process's output in a message, each line indented: its own summary line must not
/// read as this one's to a script that counts them.
fn indented(printed: &str) -> String {
    printed.lines().map(|line| format!("\n    | {line}")).collect()
}

fn text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr)
}

/// What `Segment::inspect` says of the page map: (pages, free, live, retired, being written).
fn pages(segment: &Segment) -> [u32; 5] {
    let shown = segment.inspect().unwrap();
    let number_before = |line: &str, word: &str| -> u32 {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let at = words.iter().position(|w| *w == word).unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
        words[at - 1].parse().unwrap()
    };
    let header = shown.lines().next().unwrap();
    let map = shown.lines().find(|l| l.starts_with("pages: ")).unwrap();
    [
        number_before(header, "pages"),
        number_before(map, "free"),
        number_before(map, "live"),
        number_before(map, "retired"),
        number_before(map, "being"),
    ]
}

/// `inspect`'s line for the reader entry of process `pid`, if it has one.
fn reader_line(segment: &Segment, pid: u32) -> Option<String> {
    let shown = segment.inspect().unwrap();
    let found = shown.lines().find(|l| l.starts_with("reader ") && l.contains(&format!(": pid {pid}, ")));
    found.map(str::to_string)
}

/// After recovery freed what no process reads, only the slot's current version uses pages, and no
/// reader entry pins anything.
fn assert_only_current_versions_use_pages(segment: &Segment, current_pages: u32) {
    segment.recover().unwrap();
    let [total, free, live, retired, writing] = pages(segment);
    let shown = segment.inspect().unwrap();
    assert_eq!((live, retired, writing, free), (current_pages, 0, 0, total - current_pages), "{shown}");
    for line in shown.lines().filter(|l| l.starts_with("reader ")) {
        assert!(line.ends_with("pins versions []"), "{shown}");
    }
}

/// The pages slot `slot`'s current version takes, as `inspect` says.
fn slot_pages(segment: &Segment, slot: u32) -> u32 {
    let shown = segment.inspect().unwrap();
    let line = shown.lines().find(|l| l.starts_with(&format!("slot {slot}: "))).unwrap();
    let before = line.split(" pages,").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{line}"))
}

fn node_type() -> ObjectType {
    ObjectType::define(
        "SegNode",
        &[("label", Kind::String), ("n", Kind::Int), ("next", Kind::Ref), ("shared", Kind::Ref)],
    )
    .unwrap()
}

/// How many more numbers version `v`'s shared list holds: its size changes with the version.
fn extra(v: i64) -> i64 {
    v % 32
}

/// Version `v`: `a <-> b` (a cycle), both pointing at one shared list `[v, v * 10]` followed by
/// `extra(v)` numbers `v + k`.
fn graph(v: i64) -> Object {
    let ty = node_type();
    let (a, b) = (Object::new(ty).unwrap(), Object::new(ty).unwrap());
    let shared = Object::new_list().unwrap();
    shared.push_int(v).unwrap();
    shared.push_int(v * 10).unwrap();
    for k in 0..extra(v) {
        shared.push_int(v + k).unwrap();
    }
    for (node, label, other) in [(&a, "a", &b), (&b, "b", &a)] {
        node.set_string(0, label).unwrap();
        node.set_int(1, v).unwrap();
        node.set_ref(2, Some(other)).unwrap();
        node.set_ref(3, Some(&shared)).unwrap();
    }
    a.freeze(Some("published")).unwrap();
    a
}

/// Checks a read of `graph(version)`; says what is wrong.
fn check(version: i32, a: &Object) -> Result<(), String> {
    let v = i64::from(version);
    let b = a.get_ref(2).unwrap().ok_or("a.next is null")?;
    let back = b.get_ref(2).unwrap().ok_or("b.next is null")?;
    let (shared_a, shared_b) = (a.get_ref(3).unwrap().ok_or("a.shared")?, b.get_ref(3).unwrap().ok_or("b.shared")?);
    let fields = (a.get_string(0).unwrap(), b.get_string(0).unwrap(), a.get_int(1).unwrap(), b.get_int(1).unwrap());
    if fields != ("a".into(), "b".into(), v, v) {
        return Err(format!("version {version}: fields {fields:?}"));
    }
    if back.id().unwrap() != a.id().unwrap() {
        return Err(format!("version {version}: b.next is not a: the cycle was lost"));
    }
    if shared_a.id().unwrap() != shared_b.id().unwrap() {
        return Err(format!("version {version}: the shared list was copied twice"));
    }
    let list = (shared_a.get_int(0).unwrap(), shared_a.get_int(1).unwrap(), shared_a.len().unwrap() as i64);
    if list != (v, v * 10, 2 + extra(v)) || !a.is_frozen().unwrap() || a.reachable_count().unwrap() != 3 {
        return Err(format!("version {version}: shared list {list:?}"));
    }
    for k in 0..extra(v) {
        let n = shared_a.get_int(2 + k as usize).unwrap();
        if n != v + k {
            return Err(format!("version {version}: shared[{}] is {n}, not {}", 2 + k, v + k));
        }
    }
    Ok(())
}

fn a_reader_process_sees_each_version_whole_with_its_cycle_and_shared_subgraph() {
    let name = Name::new("pair");
    let segment = Segment::create(&name.0, 1 << 20, 2, 8).unwrap();
    let reader = Process::start("reader_process", &[(READ, &name.0), (LAST, &VERSIONS.to_string())]);
    for v in 1..=VERSIONS {
        let root = graph(v);
        segment.publish(0, &root).unwrap();
        // The writer's own read gives the version back too.
        let (version, copy) = read(&segment, 0).unwrap().unwrap();
        assert_eq!(i64::from(version), v);
        check(version, &copy).unwrap();
        if v % 50 == 0 {
            std::thread::sleep(Duration::from_millis(5)); // let the reader see some versions one by one
        }
    }
    reader.finish(Duration::from_secs(60));
    // Every version the reader pinned is unpinned, its entry released: the slot is whole.
    let verified = segment.verify(0).unwrap().unwrap();
    assert_eq!((i64::from(verified.version), verified.objects), (VERSIONS, 3));
    assert!(segment.inspect().unwrap().contains("slot 0: version 200"), "{}", segment.inspect().unwrap());
}

/// The reader, in its own process: opens the segment, waits for versions, checks each graph, and
/// stops at the last one. Versions never go back. Prints how many distinct versions it saw.
fn reader_process() {
    let Ok(name) = std::env::var(READ) else { return };
    let last_version: i32 = std::env::var(LAST).unwrap().parse().unwrap();
    let segment = Segment::open(&name).unwrap();
    let (mut last, mut seen) = (0, 0);
    while last < last_version {
        let count = segment.change_count(0).unwrap();
        if let Some((version, root)) = read(&segment, 0).unwrap() {
            assert!(version >= last, "version {version} after {last}");
            check(version, &root).unwrap();
            seen += u32::from(version != last);
            last = version;
        }
        if last < last_version {
            match segment.wait_for_change(0, count, Duration::from_secs(10)) {
                Ok(_) => {}
                Err(e) => panic!("no new version after {last}: {e}"),
            }
        }
    }
    assert!(seen >= 1);
    println!("{:?}: saw {seen} versions", place());
}

fn four_reader_processes_follow_a_writer_through_thousands_of_versions() {
    const MANY: i64 = 2500;
    let name = Name::new("four");
    let segment = Segment::create(&name.0, 2 << 20, 1, 16).unwrap();
    let readers: Vec<Process> =
        (0..4).map(|_| Process::start("reader_process", &[(READ, &name.0), (LAST, &MANY.to_string())])).collect();
    // All four have opened the segment (and found it empty) before the first version.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !readers.iter().all(|r| reader_line(&segment, r.pid()).is_some_and(|l| l.contains(", alive, "))) {
        assert!(Instant::now() < deadline, "the readers did not open the segment: {}", segment.inspect().unwrap());
        std::thread::sleep(Duration::from_millis(2));
    }
    for v in 1..=MANY {
        segment.publish(0, &graph(v)).unwrap();
        if v % 100 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    for reader in readers {
        let printed = reader.finish(Duration::from_secs(120));
        // The reader checked every version it read, in order, and ended at the last; while the
        // writer ran, it read more than the last one.
        let seen: u32 = printed
            .lines()
            .find_map(|l| l.strip_prefix("Main: saw ")?.strip_suffix(" versions")?.parse().ok())
            .unwrap_or_else(|| panic!("no count of versions seen:{}", indented(&printed)));
        assert!(seen >= 2, "a reader saw only {seen} of {MANY} versions:{}", indented(&printed));
    }
    assert_eq!(segment.verify(0).unwrap().unwrap().version, MANY as i32);
    assert_only_current_versions_use_pages(&segment, slot_pages(&segment, 0));
}

/// The million-object graph: a list of `BUCKETS` lists of `CELLS` cells each, 10^6 objects in all.
/// Cell `k` of bucket `b` holds `n = b * CELLS + k` and refers to the next cell of its bucket, the
/// last to the first: a cycle per bucket. Under ThreadSanitizer the test command sets
/// `FLOE_TEST_GRAPH_SCALE=100`, and the graph has 10 buckets (10 011 objects).
const FULL_BUCKETS: usize = 999;
const CELLS: usize = 1000;
const MILLION_OBJECTS: usize = 1 + FULL_BUCKETS + FULL_BUCKETS * CELLS;

fn buckets() -> usize {
    let scale = std::env::var("FLOE_TEST_GRAPH_SCALE").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    (FULL_BUCKETS / scale.max(1)).max(1)
}

fn graph_objects() -> usize {
    1 + buckets() + buckets() * CELLS
}

fn million_graph() -> Object {
    let cell_type = ObjectType::define("MegaCell", &[("n", Kind::Int), ("next", Kind::Ref)]).unwrap();
    let root = Object::new_list().unwrap();
    for b in 0..buckets() {
        let bucket = Object::new_list().unwrap();
        let cells: Vec<Object> = (0..CELLS).map(|_| Object::new(cell_type).unwrap()).collect();
        for (k, cell) in cells.iter().enumerate() {
            cell.set_int(0, (b * CELLS + k) as i64).unwrap();
            cell.set_ref(1, Some(&cells[(k + 1) % CELLS])).unwrap();
            bucket.push_ref(Some(cell)).unwrap();
        }
        root.push_ref(Some(&bucket)).unwrap();
    }
    root.freeze(Some("a million")).unwrap();
    root
}

/// Folds a cell's number into a checksum, in walk order.
fn fold(checksum: u64, n: i64) -> u64 {
    checksum.wrapping_mul(1_000_003).wrapping_add(n as u64)
}

/// Walks the million-object graph: every bucket, and each bucket's cells by their `next` chain
/// around its cycle. Counts the objects and folds every cell's number, in order, into a checksum.
fn million_checksum(root: &Object) -> Result<(usize, u64), String> {
    let (mut objects, mut checksum) = (1, 0u64);
    for b in 0..root.len().unwrap() {
        let bucket = root.get_ref(b).unwrap().ok_or(format!("bucket {b} is null"))?;
        objects += 1;
        let first = bucket.get_ref(0).unwrap().ok_or(format!("bucket {b}'s first cell is null"))?;
        let mut cell = first.try_clone().unwrap();
        for k in 0..bucket.len().unwrap() {
            checksum = fold(checksum, cell.get_int(0).unwrap());
            objects += 1;
            cell = cell.get_ref(1).unwrap().ok_or(format!("cell {k} of bucket {b} has no next"))?;
        }
        if cell.id().unwrap() != first.id().unwrap() {
            return Err(format!("bucket {b}'s cells do not close their cycle"));
        }
    }
    Ok((objects, checksum))
}

fn a_million_object_graph_is_read_whole_by_another_process() {
    const _: () = assert!(MILLION_OBJECTS == 1_000_000);
    let name = Name::new("million");
    // What the walk must find, computed from the numbers alone.
    let checksum = (0..buckets() * CELLS).fold(0, |checksum, n| fold(checksum, n as i64));
    let segment = Segment::create(&name.0, 64 << 20, 1, 4).unwrap();
    segment.publish(0, &million_graph()).unwrap();
    let reader = Process::start("million_reader_process", &[(MILLION, &name.0), (CHECKSUM, &checksum.to_string())]);
    let verified = segment.verify(0).unwrap().unwrap();
    assert_eq!(verified.objects as usize, graph_objects());
    reader.finish(Duration::from_secs(300));
}

/// The million-object graph's reader: reads slot 0, walks every object and compares the count
/// and the checksum with the writer's.
fn million_reader_process() {
    let Ok(name) = std::env::var(MILLION) else { return };
    let expected: u64 = std::env::var(CHECKSUM).unwrap().parse().unwrap();
    let segment = Segment::open(&name).unwrap();
    let (version, root) = read(&segment, 0).unwrap().expect("slot 0 holds the graph");
    assert_eq!(version, 1);
    assert!(root.is_frozen().unwrap());
    assert_eq!(million_checksum(&root).unwrap(), (graph_objects(), expected));
}

/// Runs `pin_holder_process` until `inspect` shows it pinning a version, and stops it (SIGSTOP)
/// there: a reader frozen in the middle of a read. Its reader entry's line.
fn stopped_while_pinning(segment: &Segment, name: &Name) -> (Process, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let holder = Process::start("pin_holder_process", &[(HOLD, &name.0)]);
    loop {
        assert!(Instant::now() < deadline, "the holder never stopped holding a pin: {}", segment.inspect().unwrap());
        if reader_line(segment, holder.pid()).is_some_and(|l| !l.ends_with("pins versions []")) {
            holder.signal(libc::SIGSTOP);
            // Stopped: its line cannot change any more. It may have let go just before the stop.
            match reader_line(segment, holder.pid()) {
                Some(line) if !line.ends_with("pins versions []") => return (holder, line),
                _ => holder.signal(libc::SIGCONT),
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A large version (one list of 200 000 numbers, about 2 MB): reading it takes a while, so a
/// reader that reads it over and over holds a pin most of the time.
fn large_version() -> Object {
    let list = Object::new_list().unwrap();
    for i in 0..200_000 {
        list.push_int(i).unwrap();
    }
    list.freeze(None).unwrap();
    list
}

fn a_killed_reader_loses_its_pins_at_the_next_publish_or_open_and_its_pages_return() {
    let name = Name::new("killed");
    let segment = Segment::create(&name.0, 16 << 20, 1, 8).unwrap();
    let me = std::process::id();

    // Killed while it pins the current version; the next publish finds it dead and frees that
    // version once it is replaced.
    let large = segment.publish(0, &large_version()).unwrap();
    let (holder, line) = stopped_while_pinning(&segment, &name);
    assert!(line.ends_with(&format!(", alive, pins versions [{large}]")), "{line}");
    let pid = holder.pid();
    holder.kill();
    let line = reader_line(&segment, pid).unwrap();
    assert!(line.ends_with(&format!(", dead, pins versions [{large}]")), "{line}");
    segment.publish(0, &graph(1)).unwrap();
    assert_eq!(reader_line(&segment, pid), None, "{}", segment.inspect().unwrap());
    let [total, free, live, retired, _] = pages(&segment);
    assert_eq!((live, retired, free), (slot_pages(&segment, 0), 0, total - live), "{}", segment.inspect().unwrap());

    // Killed while it pins a version already replaced, which stays retired for it; the next open
    // claims its entry and clears its pin, and the next publish frees the version.
    let large = segment.publish(0, &large_version()).unwrap();
    let large_pages = slot_pages(&segment, 0);
    let (holder, line) = stopped_while_pinning(&segment, &name);
    assert!(line.ends_with(&format!(", alive, pins versions [{large}]")), "{line}");
    segment.publish(0, &graph(2)).unwrap();
    assert_eq!(pages(&segment)[3], large_pages, "the pinned version is retired, not freed");
    let (pid, entry) = (holder.pid(), line.split(':').next().unwrap().to_string());
    holder.kill();
    let again = Segment::open(&name.0).unwrap();
    let shown = segment.inspect().unwrap();
    let claimed = shown.lines().find(|l| l.starts_with(&format!("{entry}: ")));
    assert!(claimed.is_some_and(|l| l.ends_with(&format!(": pid {me}, alive, pins versions []"))), "{shown}");
    assert_eq!(reader_line(&segment, pid), None, "{}", segment.inspect().unwrap());
    assert_eq!(pages(&segment)[3], large_pages, "the space returns at the next publish");
    segment.publish(0, &graph(3)).unwrap();
    let [total, free, live, retired, _] = pages(&segment);
    assert_eq!((live, retired, free), (slot_pages(&segment, 0), 0, total - live), "{}", segment.inspect().unwrap());
    check(3, &read(&again, 0).unwrap().unwrap().1).unwrap();
}

/// Reads slot 0 over and over, each read kept until the next one is made, until it is killed.
fn pin_holder_process() {
    let Ok(name) = std::env::var(HOLD) else { return };
    let segment = Segment::open(&name).unwrap();
    let mut held = std::collections::VecDeque::new();
    loop {
        let (_, root) = read(&segment, 0).unwrap().expect("slot 0 holds a version");
        assert!(root.is_frozen().unwrap());
        held.push_back(root);
        if held.len() > 1 {
            held.pop_front();
        }
    }
}

fn another_users_segment_is_refused_with_both_uids() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    assert_eq!(me, 0, "this test runs a process as uid {OTHER_UID}, which needs root; run it as root");

    // A segment the other user's process made (0600, its own) is refused here, before any byte
    // of it is read.
    let theirs = Name::new("theirs");
    Process::start_as("other_user_process", &[(OTHER_USER, &format!("create {}", theirs.0))], Some(OTHER_UID))
        .finish(Duration::from_secs(30));
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(theirs.path()).unwrap());
    assert_eq!(owner, OTHER_UID);
    assert_error(
        Segment::open(&theirs.0),
        Status::ErrPermission,
        &[&format!("segment /floe.{} is owned by uid {OTHER_UID}, not {me}", theirs.0)],
    );

    // This user's segment is refused there: by the system while its mode is 0600, by floe when
    // the mode would let the other user in.
    let mine = Name::new("mine");
    let segment = Segment::create(&mine.0, 1 << 16, 1, 2).unwrap();
    segment.publish(0, &graph(1)).unwrap();
    let printed =
        Process::start_as("other_user_process", &[(OTHER_USER, &format!("open {}", mine.0))], Some(OTHER_UID))
            .finish(Duration::from_secs(30));
    assert!(
        printed.contains("Main: FLOE_ERR_PERMISSION: segment /floe.") && printed.contains("Permission denied"),
        "{}",
        indented(&printed)
    );
    std::fs::set_permissions(mine.path(), std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let printed =
        Process::start_as("other_user_process", &[(OTHER_USER, &format!("open {}", mine.0))], Some(OTHER_UID))
            .finish(Duration::from_secs(30));
    let expected = format!("Main: FLOE_ERR_PERMISSION: segment /floe.{} is owned by uid {me}, not {OTHER_UID}", mine.0);
    assert!(printed.contains(&expected), "{}", indented(&printed));
    // Here the mode is refused too, and nothing of the version was touched.
    assert_error(Segment::open(&mine.0), Status::ErrPermission, &["has mode 0666"]);
    check(1, &read(&segment, 0).unwrap().unwrap().1).unwrap();
}

/// As another user: creates the segment NAME (and leaves it), or tries to open it and prints the
/// refusal.
fn other_user_process() {
    let Ok(what) = std::env::var(OTHER_USER) else { return };
    // SAFETY: geteuid has no preconditions and cannot fail.
    assert_eq!(unsafe { libc::geteuid() }, OTHER_UID);
    match what.split_once(' ') {
        Some(("create", name)) => match Segment::create(name, 1 << 16, 1, 2) {
            Ok(segment) => segment.publish(0, &graph(1)).map(drop).unwrap(),
            Err(e) => assert_eq!(e.status(), Status::ErrExists, "{e}"), // the background run: made already
        },
        Some(("open", name)) => {
            let refused = Segment::open(name).expect_err("another user's segment opened");
            assert_eq!(refused.status(), Status::ErrPermission, "{refused}");
            println!("{:?}: {refused}", place());
        }
        _ => panic!("{OTHER_USER}={what}"),
    }
}

/// Opens of segment files changed behind floe's back (the store's tests cover mode 0644, another
/// owner set by chown, a longer file, another magic, a later major version and a damaged
/// checksum): a header never written, an earlier major version, a later minor version, which
/// opens, and a file cut short, by a page or inside its header.
fn headers_of_other_formats_and_cut_files_are_refused_and_a_later_minor_opens() {
    use std::os::unix::fs::FileExt;
    let name = Name::new("headers");
    drop(Segment::create(&name.0, 1 << 16, 1, 2).unwrap());
    let file = std::fs::OpenOptions::new().read(true).write(true).open(name.path()).unwrap();
    let mut good = [0u8; 128];
    file.read_exact_at(&mut good, 0).unwrap();
    let with_format = |major: u16, minor: u16| {
        let mut header = good;
        header[8..10].copy_from_slice(&major.to_le_bytes());
        header[10..12].copy_from_slice(&minor.to_le_bytes());
        let crc = crc32fast::hash(&header[..124]);
        header[124..].copy_from_slice(&crc.to_le_bytes());
        header
    };

    file.write_all_at(&[0; 128], 0).unwrap();
    assert_error(
        Segment::open(&name.0),
        Status::ErrIncompatible,
        &["not a floe segment", "all zero: its creator has not finished"],
    );
    file.write_all_at(&with_format(0, 3), 0).unwrap();
    assert_error(Segment::open(&name.0), Status::ErrIncompatible, &["has format 0.3, an earlier major version"]);
    file.write_all_at(&with_format(1, 7), 0).unwrap();
    let later_minor = Segment::open(&name.0).unwrap();
    assert!(later_minor.inspect().unwrap().contains(": format 1.7, "), "{}", later_minor.inspect().unwrap());
    later_minor.publish(0, &graph(4)).unwrap();
    check(4, &read(&later_minor, 0).unwrap().unwrap().1).unwrap();
    drop(later_minor);
    let len = file.metadata().unwrap().len();
    file.set_len(len - 4096).unwrap();
    assert_error(
        Segment::open(&name.0),
        Status::ErrCorrupt,
        &[&format!("the file is {} bytes, its header says {len}", len - 4096)],
    );
    file.set_len(100).unwrap();
    assert_error(Segment::open(&name.0), Status::ErrCorrupt, &["is 100 bytes, too small for its 128-byte header"]);
}

fn refusals_are_statuses_with_messages() {
    let name = Name::new("refusals");
    let segment = Segment::create(&name.0, 1 << 16, 1, 2).unwrap();
    assert_error(Segment::create(&name.0, 1 << 16, 1, 2), Status::ErrExists, &[&name.0]);
    assert_error(Segment::open(&format!("{}-none", name.0)), Status::ErrNotFound, &["-none"]);
    assert_error(Segment::open("../etc"), Status::ErrInvalidArgument, &["not allowed"]);
    let mutable = Object::new_list().unwrap();
    assert_error(segment.publish(0, &mutable), Status::ErrNotFrozen, &["mutable", "freeze it first"]);
    assert_error(segment.publish(1, &graph(1)), Status::ErrOutOfRange, &["slot 1", "1 slots"]);
    assert_error(segment.read_copy(3), Status::ErrOutOfRange, &["slot 3"]);
    assert!(segment.read_copy(0).unwrap().is_none());
    // A graph larger than the segment: refused, nothing published, the slot still empty.
    let big = Object::new_list().unwrap();
    for i in 0..20_000 {
        big.push_int(i).unwrap();
    }
    big.freeze(None).unwrap();
    assert_error(segment.publish(0, &big), Status::ErrLimit, &["does not fit"]);
    assert!(segment.read_copy(0).unwrap().is_none());
    assert_error(
        segment.wait_for_change(0, segment.change_count(0).unwrap(), Duration::from_millis(10)),
        Status::ErrTimeout,
        &["did not change"],
    );
}

fn unpublish_empties_a_slot_and_bumps_its_version() {
    let name = Name::new("unpublish");
    let segment = Segment::create(&name.0, 1 << 16, 1, 2).unwrap();
    segment.publish(0, &graph(1)).unwrap();
    let (version, copy) = segment.read_copy(0).unwrap().unwrap();
    let seen = segment.change_count(0).unwrap();
    segment.unpublish(0).unwrap();
    assert_eq!(segment.wait_for_change(0, seen, Duration::ZERO).unwrap(), seen + 1);
    assert!(segment.read_copy(0).unwrap().is_none());
    check(version, &copy).unwrap(); // the copy is the reader's
    segment.unpublish(0).unwrap(); // already empty: nothing happens
    assert_eq!(segment.change_count(0).unwrap(), seen + 1);
    segment.publish(0, &graph(3)).unwrap();
    assert_eq!(segment.read_copy(0).unwrap().unwrap().0, 3, "version 1, emptied as 2, then 3");
    // The slot is reused after the version emptied is reclaimed: the segment does not fill up.
    for v in 0..200 {
        segment.publish(0, &graph(v)).unwrap();
        segment.unpublish(0).unwrap();
    }
}

/// Two other processes (each running its body twice, on the main and a background thread) and
/// this one publish to one slot at once: each publish's version number is one more than the one
/// before it, taken under the writer lock, so none repeats and the last is the count of publishes.
fn writers_in_three_processes_give_each_version_of_a_slot_its_own_number() {
    let name = Name::new("writers");
    let segment = Segment::create(&name.0, 1 << 20, 1, 8).unwrap();
    let writers: Vec<Process> = (0..2).map(|_| Process::start("writer_process", &[(WRITE, &name.0)])).collect();
    publish_versions(&segment);
    for writer in writers {
        writer.finish(Duration::from_secs(60));
    }
    let copies = 1 + 2 * 2;
    assert_eq!(segment.read_copy(0).unwrap().unwrap().0, copies * PUBLISHES, "{}", segment.inspect().unwrap());
}

/// Publishes `PUBLISHES` versions of a small frozen list to slot 0, checking that each version
/// number read back right after is above the one before.
fn publish_versions(segment: &Segment) {
    let mut last = 0;
    for k in 0..PUBLISHES {
        let list = Object::new_list().unwrap();
        list.push_int(i64::from(k)).unwrap();
        list.freeze(None).unwrap();
        segment.publish(0, &list).unwrap();
        let version = segment.read_copy(0).unwrap().unwrap().0;
        assert!(version > last, "version {version} after {last}");
        last = version;
    }
}

fn writer_process() {
    let Ok(name) = std::env::var(WRITE) else { return };
    publish_versions(&Segment::open(&name).unwrap());
}
