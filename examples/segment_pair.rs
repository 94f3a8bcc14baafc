//! A frozen graph published by one process and read by another, through a segment: named shared
//! memory whose slots are Kotlin/Native's `SharedData` between processes.
//!
//! ```sh
//! cargo run --example segment_pair                       # both: a writer and a reader process
//! cargo run --example segment_pair -- writer NAME [N]    # publish versions 1..N to the segment NAME
//! cargo run --example segment_pair -- reader NAME [N]    # read the segment NAME up to version N
//! ```
//!
//! Without arguments the process creates the segment `/floe.example-pair-<pid>`, runs this program
//! again as the reader (`reader NAME N`), and publishes N versions (300) of a graph with a cycle
//! and a shared subgraph to slot 0: a ring of three `RingNode`s (node-0 → node-1 → node-2 →
//! node-0), each pointing at one catalog list of `Item`s, whose size changes with the version. The
//! reader waits for each change (`wait_for_change`), reads the slot's graph, and checks the graph
//! whole: the ring closes on the root, the three nodes share one catalog, every number is the
//! version's, and versions never go back. The writer then waits for the reader, checks that no
//! page stays pinned or retired once it is gone, unlinks the segment (also when anything failed)
//! and prints one summary line. Any inconsistency, in either process, exits non-zero with a
//! message on stderr.
//!
//! `writer NAME [N]` alone publishes to a segment another program made (its slot 0 never
//! published), for a reader written in another language; `reader NAME [N]` alone reads one.

use floe::{Kind, Object, ObjectType, Runtime, Segment};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VERSIONS: i32 = 300;
const RING: usize = 3;
/// RingNode's fields.
const NAME: usize = 0;
const N: usize = 1;
const NEXT: usize = 2;
const CATALOG: usize = 3;
/// Item's fields.
const SKU: usize = 0;
const PRICE: usize = 1;
/// How long a reader waits for a change before it calls the writer lost.
const PATIENCE: Duration = Duration::from_secs(10);

type Outcome<T> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => pair(),
        ["writer", name, rest @ ..] => versions(rest).and_then(|n| writer_only(name, n)),
        ["reader", name, rest @ ..] => versions(rest).and_then(|n| reader(name, n)),
        _ => Err("usage: segment_pair [writer NAME [VERSIONS] | reader NAME [VERSIONS]]".into()),
    };
    if let Err(problem) = outcome {
        eprintln!("segment_pair ({}): {problem}", std::process::id());
        std::process::exit(1);
    }
}

fn versions(rest: &[&str]) -> Outcome<i32> {
    match rest {
        [] => Ok(VERSIONS),
        [n] => n.parse().ok().filter(|&n| n >= 1).ok_or_else(|| format!("VERSIONS must be a number ≥ 1, not `{n}`")),
        _ => Err("too many arguments".into()),
    }
}

/// Attaches the slot's current version: its objects are read in place, from the segment's bytes.
fn read(segment: &Segment, slot: u32) -> floe::Result<Option<(i32, Object)>> {
    segment.read(slot)
}

fn fail(what: &str) -> impl FnOnce(floe::Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// Version `v`: node-0 → node-1 → node-2 → node-0, each node's catalog the one list of
/// `1 + v % 5` Items (sku-j, price 100 v + j). Frozen; the root is node-0.
fn graph(v: i32) -> floe::Result<Object> {
    let node_type = ObjectType::define(
        "RingNode",
        &[("name", Kind::String), ("n", Kind::Int), ("next", Kind::Ref), ("catalog", Kind::Ref)],
    )?;
    let item_type = ObjectType::define("Item", &[("sku", Kind::String), ("price", Kind::Int)])?;
    let catalog = Object::new_list()?;
    for j in 0..catalog_len(v) {
        let item = Object::new(item_type)?;
        item.set_string(SKU, &format!("sku-{j}"))?;
        item.set_int(PRICE, price(v, j))?;
        catalog.push_ref(Some(&item))?;
    }
    let nodes = (0..RING).map(|_| Object::new(node_type)).collect::<floe::Result<Vec<_>>>()?;
    for (i, node) in nodes.iter().enumerate() {
        node.set_string(NAME, &format!("node-{i}"))?;
        node.set_int(N, i64::from(v))?;
        node.set_ref(NEXT, Some(&nodes[(i + 1) % RING]))?;
        node.set_ref(CATALOG, Some(&catalog))?;
    }
    nodes[0].freeze(Some("segment_pair"))?;
    nodes[0].try_clone()
}

fn catalog_len(v: i32) -> usize {
    1 + v as usize % 5
}

fn price(v: i32, j: usize) -> i64 {
    100 * i64::from(v) + j as i64
}

/// Checks a read of `graph(version)` object by object; says what is wrong.
fn check(version: i32, root: &Object) -> floe::Result<Outcome<()>> {
    let wrong = |what: String| Ok(Err(format!("version {version}: {what}")));
    if !root.is_frozen()? {
        return wrong("the root is not frozen".into());
    }
    let Some(catalog) = root.get_ref(CATALOG)? else { return wrong("node-0 has no catalog".into()) };
    let mut node = root.try_clone()?;
    for i in 0..RING {
        let (name, n) = (node.get_string(NAME)?, node.get_int(N)?);
        if name != format!("node-{i}") || n != i64::from(version) {
            return wrong(format!("ring node {i} is {name:?} with n {n}"));
        }
        match node.get_ref(CATALOG)? {
            Some(shared) if shared.id()? == catalog.id()? => {}
            _ => return wrong(format!("node-{i}'s catalog is not node-0's: the shared subgraph was split")),
        }
        node = match node.get_ref(NEXT)? {
            Some(next) => next,
            None => return wrong(format!("node-{i}.next is null")),
        };
    }
    if node.id()? != root.id()? {
        return wrong(format!(
            "the ring does not close: {RING} steps from node-0 lead to {:?}",
            node.get_string(NAME)?
        ));
    }
    if catalog.len()? != catalog_len(version) {
        return wrong(format!("the catalog holds {} items, not {}", catalog.len()?, catalog_len(version)));
    }
    for j in 0..catalog_len(version) {
        let Some(item) = catalog.get_ref(j)? else { return wrong(format!("catalog[{j}] is null")) };
        let (sku, price_read) = (item.get_string(SKU)?, item.get_int(PRICE)?);
        if sku != format!("sku-{j}") || price_read != price(version, j) {
            return wrong(format!("catalog[{j}] is {sku:?} at {price_read}"));
        }
    }
    Ok(Ok(()))
}

/// The reader: waits for changes of slot 0 and checks each version read, up to version `last`.
/// Prints `read D of N versions` (D the distinct versions seen).
fn reader(name: &str, last_version: i32) -> Outcome<()> {
    Runtime::init().map_err(fail("Runtime::init"))?;
    let segment = Segment::open(name).map_err(fail("Segment::open"))?;
    let (mut last, mut distinct) = (0, 0);
    while last < last_version {
        let seen = segment.change_count(0).map_err(fail("change_count"))?;
        if let Some((version, root)) = read(&segment, 0).map_err(fail("read"))? {
            if version < last {
                return Err(format!("version {version} read after version {last}: versions went back"));
            }
            check(version, &root).map_err(fail("walking the graph"))??;
            distinct += u32::from(version != last);
            last = version;
        }
        if last < last_version {
            segment.wait_for_change(0, seen, PATIENCE).map_err(fail(&format!("waiting for a version after {last}")))?;
        }
    }
    drop(segment);
    Runtime::collect_cycles();
    let left = Runtime::stats();
    if left != floe::Stats::default() {
        return Err(format!("the reader leaked: {left:?}"));
    }
    println!("read {distinct} of {last_version} versions");
    Ok(())
}

/// Publishes versions 1..=`versions` of the graph to slot 0, pausing now and then so that a
/// reader sees some of them one by one.
fn publish_all(segment: &Segment, versions: i32) -> Outcome<()> {
    for v in 1..=versions {
        let root = graph(v).map_err(fail("building the graph"))?;
        segment.publish(0, &root).map_err(fail(&format!("publishing version {v}")))?;
        if v % 25 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    Ok(())
}

fn writer_only(name: &str, versions: i32) -> Outcome<()> {
    Runtime::init().map_err(fail("Runtime::init"))?;
    let segment = Segment::open(name).map_err(fail("Segment::open"))?;
    if read(&segment, 0).map_err(fail("read"))?.is_some() {
        return Err(format!("slot 0 of segment {name} already holds a version: give the writer a new segment"));
    }
    publish_all(&segment, versions)?;
    println!("segment_pair writer: published versions 1..{versions} to slot 0 of {name}");
    Ok(())
}

/// The segment's name, unlinked when this goes, however the writer ends.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Err(error) = Segment::unlink(&self.0) {
            eprintln!("segment_pair: unlinking {}: {error}", self.0);
        }
    }
}

/// The reader process, killed if the writer gives up on it.
struct ReaderProcess(Option<Child>);

impl ReaderProcess {
    /// Waits for it at most `limit`; its exit status and what it printed.
    fn finish(mut self, limit: Duration) -> Outcome<String> {
        let mut child = self.0.take().expect("a running reader");
        let deadline = Instant::now() + limit;
        while child.try_wait().map_err(|e| format!("waiting for the reader: {e}"))?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the reader process did not finish within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = child.wait_with_output().map_err(|e| format!("the reader's output: {e}"))?;
        let printed = String::from_utf8_lossy(&output.stdout).trim().to_string();
        if !output.status.success() {
            return Err(format!("the reader process failed ({}): {printed}", output.status));
        }
        Ok(printed)
    }
}

impl Drop for ReaderProcess {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pair() -> Outcome<()> {
    let started = Instant::now();
    Runtime::init().map_err(fail("Runtime::init"))?;
    let name = Unlink(format!("example-pair-{}", std::process::id()));
    let segment = Segment::create(&name.0, 4 << 20, 1, 8).map_err(fail("Segment::create"))?;
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let child = Command::new(exe)
        .args(["reader", &name.0, &VERSIONS.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the reader process: {e}"))?;
    let reader_pid = child.id();
    let reader = ReaderProcess(Some(child));
    publish_all(&segment, VERSIONS)?;
    let read = reader.finish(Duration::from_secs(60))?;

    // The reader is gone and unpinned everything: once recovery has freed what no process reads,
    // only the last version's pages are in use.
    segment.recover().map_err(fail("recover"))?;
    let state = segment.inspect().map_err(fail("inspect"))?;
    let unpinned = state.lines().filter(|l| l.starts_with("reader ")).all(|l| l.ends_with("pins versions []"));
    if !unpinned || !state.contains(" 0 retired, 0 being written") {
        return Err(format!("pages stay pinned or retired after the reader left:\n{state}"));
    }
    let last = segment.verify(0).map_err(fail("verify"))?.ok_or("slot 0 is empty after the writer")?;
    if last.version != VERSIONS || last.objects as usize != RING + 1 + catalog_len(VERSIONS) {
        return Err(format!("slot 0 holds {last:?}, not version {VERSIONS}"));
    }
    drop(segment);
    println!(
        "segment_pair: the writer published {VERSIONS} versions of a {RING}-node ring sharing one catalog; the reader \
         process (pid {reader_pid}) {read}, in order, each graph whole; no page left pinned; {} ms",
        started.elapsed().as_millis()
    );
    Ok(())
}
