//! `floe bench [--quick]`: one run, one side-by-side report, no criterion.
//!
//! - Freeze against the plain traversal (`Object::reachable_count`, a bitmap and an explicit stack
//!   over the same heap) of the same freshly built graph, for three shapes and 10^3..10^6 objects
//!   (`--quick`: up to 10^5). Target: freeze ≤ 1.5 × traversal.
//! - A checked field get and set through the C ABI (`floe_object_get_int` / `floe_object_set_int`),
//!   in ns per call. Target: ≤ 5 ns.
//! - Memory per object: the 16-byte header, and the resident memory 10^6 two-field objects really
//!   take (RSS from `/proc/self/statm` before and after).
//!
//! Every figure is the best of several repetitions, with the median beside it. Graph construction and
//! teardown are never timed; each graph is walked once after construction, so freeze and traversal
//! both meet a graph that was just walked (the traversal is timed on the frozen graph: same objects,
//! same code path). `benches/freeze.rs` includes this file for its graph builder.

use floe::ffi::object::{floe_object_get_int, floe_object_set_int};
use floe::{Kind, Object, ObjectType, Runtime};
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const RATIO_TARGET: f64 = 1.5;
const CALL_TARGET_NS: f64 = 5.0;
const HEADER_TARGET: usize = 16;
const CALLS: u32 = 10_000_000;
const MEMORY_OBJECTS: usize = 1_000_000;
/// The object header: owner, refs, meta and aux, four `u32` words (`core::heap::Slot`).
const HEADER_BYTES: usize = 16;
/// A slot is the header plus the `Vec<Value>` (pointer, capacity, length) that owns the fields.
const SLOT_BYTES: usize = HEADER_BYTES + std::mem::size_of::<Vec<u64>>();
/// `core::value::Value` (crate-private): a tag and at most a 16-byte `Box<str>`, 24 bytes.
const VALUE_BYTES: usize = 24;

pub fn run(args: &[String]) -> i32 {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => {
            eprintln!("usage: floe bench [--quick]");
            return 2;
        }
    };
    if let Err(error) = Runtime::init() {
        eprintln!("floe bench: {error}");
        return 1;
    }
    // First, while the heap is still empty: later graphs leave slots and malloc chunks for reuse.
    let resident = resident_bytes_per_object();
    let mut verdicts = Verdicts::default();
    println!(
        "floe bench{}: best of N runs (median in parentheses); construction and teardown untimed",
        if quick { " --quick" } else { "" }
    );
    freeze_report(if quick { 100_000 } else { 1_000_000 }, &mut verdicts);
    access_report(&mut verdicts);
    memory_report(resident, &mut verdicts);
    println!("\n{} target(s) missed", verdicts.missed);
    0
}

/// Counts the targets missed; gives the word printed beside a figure.
#[derive(Default)]
struct Verdicts {
    missed: usize,
}

impl Verdicts {
    fn check(&mut self, pass: bool) -> &'static str {
        self.missed += usize::from(!pass);
        if pass {
            "PASS"
        } else {
            "MISS"
        }
    }
}

/// Freeze against the traversal of the same graph, each shape and size up to `largest`.
fn freeze_report(largest: usize, verdicts: &mut Verdicts) {
    println!("\nfreeze vs plain traversal (reachable_count) of the same graph, ns per object; target freeze/traversal <= {RATIO_TARGET}x");
    println!(
        "{:<7} {:>9} {:>4}  {:>18}  {:>18}  {:>6}",
        "shape", "objects", "N", "freeze", "traversal", "ratio"
    );
    for shape in Shape::ALL {
        for n in [1_000, 10_000, 100_000, 1_000_000]
            .into_iter()
            .filter(|&n| n <= largest)
        {
            let reps = match n {
                1_000 => 31,
                10_000 => 15,
                100_000 => 7,
                _ => 5,
            };
            let (mut freeze, mut traversal) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                let graph = Graph::build(shape, n);
                let (frozen, f) = timed(|| graph.root().freeze(Some("bench")));
                frozen.expect("freeze");
                let (count, t) = timed(|| graph.root().reachable_count().expect("traverse"));
                assert_eq!(count, n, "{} graph of {n}: all reachable", shape.name());
                traversal.push(t.as_nanos() as f64 / n as f64);
                freeze.push(f.as_nanos() as f64 / n as f64);
            }
            let (freeze, traversal) = (Summary::of(&mut freeze), Summary::of(&mut traversal));
            let ratio = freeze.best / traversal.best;
            println!(
                "{:<7} {:>9} {:>4}  {:>18}  {:>18}  {:>5.2}x  {}",
                shape.name(),
                n,
                reps,
                freeze.to_string(),
                traversal.to_string(),
                ratio,
                verdicts.check(ratio <= RATIO_TARGET)
            );
        }
    }
}

/// Checked get and set of an int field through the C ABI, with the Rust API beside for reference.
fn access_report(verdicts: &mut Verdicts) {
    println!("\nchecked field access on one object, best of 7 runs of {CALLS} calls, ns per call; target <= {CALL_TARGET_NS} ns (C ABI)");
    let object = Object::new(Graph::node_type()).expect("allocate");
    let (handle, field) = (object.handle(), Graph::VALUE_FIELD);
    object.set_int(field, 42).expect("set");
    let mut out = 0i64;
    // SAFETY: `out` is a writable i64.
    let get = per_call(|_| unsafe {
        floe_object_get_int(black_box(handle), black_box(field), &raw mut out)
    });
    assert_eq!(out, 42, "the gets happened");
    let set = per_call(|i| floe_object_set_int(black_box(handle), black_box(field), i64::from(i)));
    assert_eq!(
        object.get_int(field).expect("read"),
        i64::from(CALLS - 1),
        "the sets happened"
    );
    for (name, summary) in [("floe_object_get_int", get), ("floe_object_set_int", set)] {
        let verdict = verdicts.check(summary.best <= CALL_TARGET_NS);
        println!("{name:<24} {:>16}  {verdict}", summary.to_string());
    }
    let rust_get = per_call(|_| object.get_int(black_box(field)).expect("get"));
    let rust_set = per_call(|i| object.set_int(black_box(field), i64::from(i)).expect("set"));
    for (name, summary) in [
        ("Object::get_int (Rust)", rust_get),
        ("Object::set_int (Rust)", rust_set),
    ] {
        println!(
            "{name:<24} {:>16}  (reference: the same checks without the C boundary)",
            summary.to_string()
        );
    }
}

/// The header size, and the resident memory an object really takes.
fn memory_report(resident: Option<f64>, verdicts: &mut Verdicts) {
    println!("\nmemory per object");
    println!(
        "header (owner, refs, meta, aux: 4 x u32)     {HEADER_BYTES:>6} bytes  {}",
        verdicts.check(HEADER_BYTES <= HEADER_TARGET)
    );
    println!("slot (header + the Vec<Value> of the fields) {SLOT_BYTES:>6} bytes");
    match resident {
        Some(bytes) => println!(
            "resident per object, {MEMORY_OBJECTS} objects with 2 int fields and 1 handle each: {bytes:.1} bytes \
             (slot {SLOT_BYTES} + handle entry 8 + field block 2 x {VALUE_BYTES} in a 64-byte malloc chunk = {})",
            SLOT_BYTES + 8 + 64
        ),
        None => println!("resident per object: /proc/self/statm unreadable, not measured"),
    }
}

/// The best and median ns per call of 7 runs of `CALLS` calls of `call`.
fn per_call<R>(mut call: impl FnMut(u32) -> R) -> Summary {
    let mut samples: Vec<f64> = (0..7)
        .map(|_| {
            let ((), elapsed) = timed(|| (0..CALLS).for_each(|i| drop(black_box(call(i)))));
            elapsed.as_nanos() as f64 / f64::from(CALLS)
        })
        .collect();
    Summary::of(&mut samples)
}

/// Runs `f` once; its result and how long it took.
fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let result = black_box(f());
    (result, start.elapsed())
}

/// The best and the median of a set of samples.
#[derive(Clone, Copy)]
struct Summary {
    best: f64,
    median: f64,
}

impl Summary {
    fn of(samples: &mut [f64]) -> Summary {
        samples.sort_by(f64::total_cmp);
        Summary {
            best: samples[0],
            median: samples[samples.len() / 2],
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ({:.2})", self.best, self.median)
    }
}

/// Resident bytes per object for `MEMORY_OBJECTS` objects with two int fields, each held by one
/// handle. The vector of handles is filled (so resident) before the first reading.
fn resident_bytes_per_object() -> Option<f64> {
    let ty = ObjectType::define("BenchPair", &[("a", Kind::Int), ("b", Kind::Int)])
        .expect("define BenchPair");
    let mut handles = vec![u64::MAX; MEMORY_OBJECTS];
    let before = resident_bytes()?;
    for handle in &mut handles {
        *handle = Object::new(ty).expect("allocate").into_raw();
    }
    let after = resident_bytes()?;
    handles.into_iter().for_each(|h| drop(Object::from_raw(h)));
    Some(after.saturating_sub(before) as f64 / MEMORY_OBJECTS as f64)
}

/// The resident set size, from the second field of `/proc/self/statm` (in pages).
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * usize::try_from(page).ok()?)
}

/// The graph shapes benchmarked. Every node is a `BenchNode` with three reference fields.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Node i points at 2i+1 and 2i+2: a complete binary tree.
    Tree,
    /// Node i points at i+1.
    List,
    /// Node i points at i+1 (so all are reachable), at a random node, and half the time at
    /// another: cycles everywhere, almost all of the graph one strongly connected component.
    Random,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::Tree, Shape::List, Shape::Random];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Tree => "tree",
            Shape::List => "list",
            Shape::Random => "random",
        }
    }

    /// The targets of node `i`'s three reference fields in a graph of `n` nodes.
    fn edges(self, i: usize, n: usize, rng: &mut XorShift) -> [Option<usize>; 3] {
        let within = |j: usize| (j < n).then_some(j);
        match self {
            Shape::Tree => [within(2 * i + 1), within(2 * i + 2), None],
            Shape::List => [within(i + 1), None, None],
            Shape::Random => [
                within(i + 1),
                Some(rng.below(n)),
                (rng.next() & 1 == 1).then(|| rng.below(n)),
            ],
        }
    }
}

/// xorshift64, seeded: the same random graph on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A graph whose node 0 is the root, with a handle to every node.
///
/// Keeping every handle until the graph is dropped means building it never releases a reference,
/// so the cycle collector never runs during construction. Dropping freezes the graph first (a no-op
/// when the benchmark already did): frozen, it is torn down by plain count decrements, whereas
/// releasing the handles of a large mutable graph one by one would feed the cycle collector.
pub struct Graph {
    nodes: Vec<Object>,
}

impl Graph {
    /// The int field of `BenchNode`, after its three references.
    pub const VALUE_FIELD: usize = 3;

    pub fn node_type() -> ObjectType {
        static TYPE: OnceLock<ObjectType> = OnceLock::new();
        *TYPE.get_or_init(|| {
            let fields = [
                ("a", Kind::Ref),
                ("b", Kind::Ref),
                ("c", Kind::Ref),
                ("value", Kind::Int),
            ];
            ObjectType::define("BenchNode", &fields).expect("define BenchNode")
        })
    }

    /// Builds the graph, then walks it once (untimed): a benchmark then finds the graph as warm
    /// in the caches as right after any full pass over it, whichever operation it times first.
    pub fn build(shape: Shape, n: usize) -> Graph {
        let ty = Graph::node_type();
        let nodes: Vec<Object> = (0..n).map(|_| Object::new(ty).expect("allocate")).collect();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ n as u64);
        for (i, node) in nodes.iter().enumerate() {
            for (field, target) in shape.edges(i, n, &mut rng).into_iter().enumerate() {
                if let Some(target) = target {
                    node.set_ref(field, Some(&nodes[target])).expect("set_ref");
                }
            }
        }
        let graph = Graph { nodes };
        let reached = graph.root().reachable_count().expect("traverse");
        assert_eq!(reached, n, "{} graph of {n}: all reachable", shape.name());
        graph
    }

    pub fn root(&self) -> &Object {
        &self.nodes[0]
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        let _ = self.root().freeze(None);
    }
}
