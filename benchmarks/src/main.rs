//! `floe-bench [--quick] [--only SECTION] [--markdown PATH]`: one run, one side-by-side report, no
//! criterion; with `--markdown`, BENCHMARKS.md written whole from it (`page`); with `--only`, one
//! section. `floe-bench --peer flip|heap ...` is the second process of the segment benchmarks.
//!
//! - Freeze against the plain traversal (`Object::reachable_count`, a bitmap and an explicit stack
//!   over the same heap) of the same freshly built graph, for three shapes and 10^3..10^6 objects
//!   (`--quick`: up to 10^5). Target: freeze ≤ 1.5 × traversal.
//! - A SAFE transfer (`Object::detach(TransferMode::Safe)`, then `DetachedGraph::attach`) against
//!   the traversal of the same graph, same shapes and sizes, the graph holding no handle but its
//!   root's. Target: detach ≤ 2 × traversal, detach + attach ≤ 2 × traversal.
//! - A checked field get and set through the C ABI (`floe_object_get_int` / `floe_object_set_int`),
//!   in ns per call. Target: ≤ 5 ns.
//! - Workers against crossbeam-channel between two threads pinned to CPUs (`std::sync::mpsc`
//!   beside, for reference): an `execute` + `Future::result` round trip against a ping-pong, the
//!   other thread on another CPU and on the same one (target ≤ 1.25×), from Rust and from C; and
//!   the throughput of 10^6 tiny jobs (`--quick`: 10^5) against as many messages to a consumer
//!   thread (target ≥ 0.8×).
//! - SharedData reads under a writer that publishes new frozen values all the while, against
//!   arc-swap's `ArcSwap::load_full` under a writer that stores new `Arc`s: both give the reader
//!   its own counted reference. No target.
//! - Segments (`segment_tables`): publish → observed in a reader process pinned to the other CPU,
//!   against iceoryx2's publish-subscribe (target ≤ 1.5×) and a Unix socket carrying the encoded
//!   graph, decoded by the reader (target: floe ≥ 10× faster from 64 KiB up); attach of 10^3 against
//!   10^6 objects (≤ 1.5×); publish against a traversal plus a memcpy of the block (≤ 2×); block
//!   bytes per published object.
//! - Memory per object: the 16-byte header, and the resident memory 10^6 two-field objects really
//!   take (RSS from `/proc/self/statm` before and after).
//!
//! Every figure is the best of several repetitions, with the median beside it. The worker and
//! SharedData contenders take turns, round after round (`measure::interleaved`), and their ratios
//! are given twice: of the best samples, and the median of the rounds' paired ratios; the paired
//! median decides the verdict (one fast round of the baseline on a shared VM is noise). Graph
//! construction and teardown are never timed; each graph is walked once after construction, so
//! freeze and traversal both meet a graph that was just walked (the traversal is timed on the
//! frozen graph: same objects, same code path). A SAFE transfer meets one graph per shape and size,
//! transferred again and again (the attach gives it back).
//!
//! The binary's own modules: `table` (a section's rows and verdicts, as text and as Markdown),
//! `bounds` (what bounds each target, printed under a table that misses it), `page` (BENCHMARKS.md),
//! `segment_tables` (the segments section).

mod bounds;
mod page;
mod segment_tables;
mod table;

use arc_swap::ArcSwap;
use bounds::Bound;
use floe::ffi::object::{floe_object_get_int, floe_object_set_int};
use floe::{Kind, Object, ObjectType, Runtime, SharedCell, TransferMode, Worker};
use floe_bench::channels::{ping_pong, Crossbeam, Echo, Mpsc};
use floe_bench::graph::{Graph, Shape};
use floe_bench::jobs::{c_round_trip, floe_c_stream, floe_stream, round_trip, tiny_job, Futures};
use floe_bench::measure::{cpu_count, interleaved, per_call, pin_current_thread, ratios, timed, Summary, ROUNDS};
use floe_bench::shared_data::{frozen_number, publish_numbers, store_numbers, under_a_writer};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;
use table::{Table, Verdict};

const RATIO_TARGET: f64 = 1.5;
const TRANSFER_TARGET: f64 = 2.0;
const ROUND_TRIP_TARGET: f64 = 1.25;
const THROUGHPUT_TARGET: f64 = 0.8;
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

const USAGE: &str = "usage: floe-bench [--quick] [--only SECTION] [--markdown PATH]\n\
                     sections: freeze, transfer, access, round-trip, throughput, shared-data, segments, memory";

/// The report's sections, in order, by the names `--only` takes.
const SECTIONS: [&str; 8] =
    ["freeze", "transfer", "access", "round-trip", "throughput", "shared-data", "segments", "memory"];

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The other processes of the segment benchmarks: this executable, run again.
    if let [peer, role, rest @ ..] = args.as_slice() {
        match (peer.as_str(), role.as_str()) {
            ("--peer", "flip") => return floe_bench::flip::reader_main(rest),
            ("--peer", "heap") => return floe_bench::segments::heap_main(rest),
            _ => {}
        }
    }
    let (mut quick, mut page_path, mut only) = (false, None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match (arg.as_str(), rest.clone().next()) {
            ("--quick", _) => quick = true,
            ("--markdown", Some(path)) => {
                page_path = Some(PathBuf::from(path));
                rest.next();
            }
            ("--only", Some(section)) if SECTIONS.contains(&section.as_str()) => {
                only = Some(section.clone());
                rest.next();
            }
            _ => {
                eprintln!("{USAGE}");
                return 2;
            }
        }
    }
    if let Err(error) = Runtime::init() {
        eprintln!("floe-bench: {error}");
        return 1;
    }
    let chosen = |section: &str| only.as_deref().is_none_or(|only| only == section);
    let setting = page::Setting::now(&args, page_path.as_deref());
    // First, while the heap is still empty: later graphs leave slots and malloc chunks for reuse.
    let resident = if chosen("memory") { resident_bytes_per_object() } else { None };
    println!(
        "floe-bench{}: best of N runs (median in parentheses); construction and teardown untimed",
        if quick { " --quick" } else { "" }
    );
    let largest = if quick { 100_000 } else { 1_000_000 };
    let sections: [(&str, &dyn Fn() -> Vec<Table>); 8] = [
        ("freeze", &|| vec![freeze_table(largest)]),
        ("transfer", &|| vec![transfer_table(largest)]),
        ("access", &|| vec![access_table()]),
        ("round-trip", &|| vec![round_trip_table(quick)]),
        ("throughput", &|| vec![throughput_table(quick)]),
        ("shared-data", &|| vec![shared_data_table(quick)]),
        ("segments", &|| segment_tables::tables(quick)),
        ("memory", &|| vec![memory_table(resident)]),
    ];
    let mut tables = Vec::new();
    for (name, section) in sections {
        if !chosen(name) {
            continue;
        }
        for table in section() {
            print!("{}", table.text());
            tables.push(table);
        }
    }
    let missed: usize = tables.iter().map(Table::missed).sum();
    println!("\n{missed} target(s) missed");
    if let Some(path) = page_path {
        if let Err(error) = std::fs::write(&path, page::markdown(&setting, &tables)) {
            eprintln!("floe-bench: writing {}: {error}", path.display());
            return 1;
        }
        println!("{} written", path.display());
    }
    0
}

/// The graph sizes up to `largest`, each with its number of repetitions.
fn sizes(largest: usize) -> impl Iterator<Item = (usize, usize)> {
    [(1_000, 31), (10_000, 15), (100_000, 7), (1_000_000, 5)].into_iter().filter(move |&(n, _)| n <= largest)
}

/// Freeze against the traversal of the same graph, each shape and size up to `largest`.
fn freeze_table(largest: usize) -> Table {
    let mut table = Table::new(
        "Freeze against the plain traversal",
        format!(
            "ns per object, best (median) of N graphs, each frozen, then traversed; target freeze / traversal \
             ≤ {RATIO_TARGET}× (of the bests)."
        ),
        vec!["shape", "objects", "N", "freeze", "traversal", "ratio"],
        1,
    );
    for shape in Shape::ALL {
        for (n, reps) in sizes(largest) {
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
            let bound = match shape {
                Shape::Random => Bound::FreezeRandom,
                Shape::Tree | Shape::List => Bound::FreezeAcyclic,
            };
            table.row(
                vec![
                    shape.name().into(),
                    n.to_string(),
                    reps.to_string(),
                    freeze.to_string(),
                    traversal.to_string(),
                    times(ratio),
                ],
                Verdict::of(ratio <= RATIO_TARGET, bound),
            );
        }
    }
    table
}

/// A SAFE detach, and the attach that follows, against the traversal of the same graph, each shape
/// and size up to `largest`. One graph per shape and size, holding only its root's handle, is
/// detached and attached again by every repetition (the attach gives it back to this thread).
fn transfer_table(largest: usize) -> Table {
    let mut table = Table::new(
        "SAFE transfer against the plain traversal",
        format!(
            "ns per object, best (median) of N transfers of one graph (detach, then attach on the same thread), \
             each followed by a traversal; target ≤ {TRANSFER_TARGET}× for the detach and for detach + attach \
             (of the bests)."
        ),
        vec!["shape", "objects", "N", "detach", "attach", "traversal", "detach ratio", "+attach ratio"],
        1,
    );
    for shape in Shape::ALL {
        for (n, reps) in sizes(largest) {
            let mut graph = Graph::build(shape, n);
            graph.release_all_but_root();
            let (mut detach, mut attach, mut both, mut traversal) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..reps {
                let (d, a) = graph.detach_attach();
                let (count, t) = timed(|| graph.root().reachable_count().expect("traverse"));
                assert_eq!(count, n, "{} graph of {n}: all reachable after the transfer", shape.name());
                let per_object = |d: Duration| d.as_nanos() as f64 / n as f64;
                detach.push(per_object(d));
                attach.push(per_object(a));
                both.push(per_object(d + a));
                traversal.push(per_object(t));
            }
            let [detach, attach, both, traversal] =
                [detach, attach, both, traversal].map(|mut samples| Summary::of(&mut samples));
            let (detach_ratio, both_ratio) = (detach.best / traversal.best, both.best / traversal.best);
            table.row(
                vec![
                    shape.name().into(),
                    n.to_string(),
                    reps.to_string(),
                    detach.to_string(),
                    attach.to_string(),
                    traversal.to_string(),
                    times(detach_ratio),
                    times(both_ratio),
                ],
                Verdict::of(detach_ratio <= TRANSFER_TARGET && both_ratio <= TRANSFER_TARGET, Bound::Transfer),
            );
        }
    }
    table
}

/// Checked get and set of an int field through the C ABI, with the Rust API beside for reference.
fn access_table() -> Table {
    let mut table = Table::new(
        "Checked field access",
        format!(
            "One int field of one object, ns per call, best (median) of {ROUNDS} runs of {CALLS} calls; target \
             ≤ {CALL_TARGET_NS} ns through the C ABI (best)."
        ),
        vec!["call", "ns per call"],
        1,
    );
    let object = Object::new(Graph::node_type()).expect("allocate");
    let (handle, field) = (object.handle(), Graph::VALUE_FIELD);
    object.set_int(field, 42).expect("set");
    let mut out = 0i64;
    // SAFETY: `out` is a writable i64.
    let get = best_of_rounds(|| {
        per_call(CALLS, |_| unsafe { floe_object_get_int(black_box(handle), black_box(field), &raw mut out) })
    });
    assert_eq!(out, 42, "the gets happened");
    let set =
        best_of_rounds(|| per_call(CALLS, |i| floe_object_set_int(black_box(handle), black_box(field), i64::from(i))));
    assert_eq!(object.get_int(field).expect("read"), i64::from(CALLS - 1), "the sets happened");
    for (name, summary) in [("floe_object_get_int", get), ("floe_object_set_int", set)] {
        table.row(
            vec![name.into(), summary.to_string()],
            Verdict::of(summary.best <= CALL_TARGET_NS, Bound::FieldAccess),
        );
    }
    let rust_get = best_of_rounds(|| per_call(CALLS, |_| object.get_int(black_box(field)).expect("get")));
    let rust_set = best_of_rounds(|| per_call(CALLS, |i| object.set_int(black_box(field), i64::from(i)).expect("set")));
    for (name, summary) in [("Object::get_int (Rust)", rust_get), ("Object::set_int (Rust)", rust_set)] {
        table.row(vec![name.into(), summary.to_string()], Verdict::Reference("the same checks without the C boundary"));
    }
    table
}

/// The best and median of `ROUNDS` samples.
fn best_of_rounds(mut sample: impl FnMut() -> f64) -> Summary {
    let mut samples: Vec<f64> = (0..ROUNDS).map(|_| sample()).collect();
    Summary::of(&mut samples)
}

/// The header size, and the resident memory an object really takes.
fn memory_table(resident: Option<f64>) -> Table {
    let mut table = Table::new(
        "Memory per object",
        format!(
            "Bytes; the resident memory is measured over {MEMORY_OBJECTS} objects with 2 int fields and 1 handle \
             each, where the slot ({SLOT_BYTES}), the handle's entry (8) and the fields' block (2 × {VALUE_BYTES} \
             in a 64-byte malloc chunk) make {}; target: a header of ≤ {HEADER_TARGET} bytes.",
            SLOT_BYTES + 8 + 64
        ),
        vec!["what", "bytes"],
        1,
    );
    table.row(
        vec!["header (owner, refs, meta, aux: 4 × u32)".into(), HEADER_BYTES.to_string()],
        Verdict::of(HEADER_BYTES <= HEADER_TARGET, Bound::Header),
    );
    table.row(vec!["slot (the header and the vector of fields)".into(), SLOT_BYTES.to_string()], Verdict::None);
    let resident =
        resident.map_or_else(|| "not measured (/proc/self/statm unreadable)".into(), |bytes| format!("{bytes:.1}"));
    table.row(vec!["resident, per object".into(), resident], Verdict::None);
    table
}

/// `x` as a ratio: `1.23×`.
fn times(x: f64) -> String {
    format!("{x:.2}×")
}

/// Round trips from CPU 0 to a worker on another CPU and on the same one, against crossbeam-channel
/// ping-pongs. Contenders take turns (see `interleaved`); ratios of the best samples and the
/// median of the rounds' paired ratios, the latter deciding.
fn round_trip_table(quick: bool) -> Table {
    let trips: u32 = if quick { 1_000 } else { 5_000 };
    let cpus = cpu_count();
    let mut table = Table::new(
        "Worker round trip against a crossbeam-channel ping-pong",
        format!(
            "ns per round trip, best (median) of {ROUNDS} rounds of {trips}; floe: `Worker::execute` + \
             `Future::result`, from C `floe_worker_execute` + `floe_future_wait` + `floe_future_release`; \
             crossbeam and mpsc: a ping-pong over two unbounded channels; the caller on CPU 0, the other \
             thread on CPU 1 (two CPUs) or on CPU 0 (one CPU); contenders take turns in each round. Ratio \
             to crossbeam of the bests and paired (the median of the rounds' ratios); target ≤ \
             {ROUND_TRIP_TARGET}× paired."
        ),
        vec!["placement", "contender", "ns per round trip", "bests", "paired"],
        2,
    );
    let worker = Worker::start("bench").expect("start a worker");
    for placement in Placement::ALL {
        if placement.partner >= cpus {
            let skipped = format!("skipped: {cpus} CPU(s)");
            table.row(vec![placement.name.into(), skipped, String::new(), String::new(), String::new()], Verdict::None);
            continue;
        }
        pin_current_thread(Some(0));
        floe_bench::jobs::pin_worker(worker, placement.partner);
        let rows = round_trips(worker, trips, Some(placement.partner));
        let crossbeam = rows[0].1.clone();
        for (i, (name, mut samples)) in rows.into_iter().enumerate() {
            let (bests, paired) = ratios(&samples, &crossbeam);
            let bound = match (placement.partner, i) {
                (0, _) => Bound::RoundTripOneCpu,
                (_, 4) => Bound::RoundTripObject,
                _ => Bound::RoundTrip,
            };
            let verdict = match i {
                0 => Verdict::None,
                1 => Verdict::Reference("std's channel parks at once"),
                _ => Verdict::of(paired <= ROUND_TRIP_TARGET, bound),
            };
            let summary = Summary::of(&mut samples);
            table.row(
                vec![placement.name.into(), name.into(), summary.to_string(), times(bests), times(paired)],
                verdict,
            );
        }
    }
    pin_current_thread(None);
    worker.request_termination(true).and_then(|done| done.result(None)).expect("terminate the worker");
    table
}

/// The throughput of tiny jobs to a worker on the other CPU, against as many messages to a
/// consumer thread; the contenders take turns, as the round trips' do.
fn throughput_table(quick: bool) -> Table {
    let jobs: u64 = if quick { 100_000 } else { 1_000_000 };
    let partner = (cpu_count() > 1).then_some(1);
    let mut table = Table::new(
        "Worker throughput against crossbeam-channel",
        format!(
            "{jobs} tiny jobs (one relaxed atomic increment each) to another thread, ns per job, best (median) \
             of {ROUNDS} rounds; floe: execute them all, then `Future::result` of the last; channels: send \
             them all, then wait for the consumer's word that it did the last; {}; contenders take turns in \
             each round. Ratio to crossbeam in jobs/s, of the bests and paired; target ≥ {THROUGHPUT_TARGET}× \
             paired.",
            if partner.is_some() { "pinned on two CPUs" } else { "one CPU" }
        ),
        vec!["contender", "ns per job", "M jobs/s", "bests", "paired"],
        1,
    );
    let worker = Worker::start("bench").expect("start a worker");
    pin_current_thread(Some(0));
    if let Some(cpu) = partner {
        floe_bench::jobs::pin_worker(worker, cpu);
    }
    let per_job = |elapsed: Duration| elapsed.as_nanos() as f64 / jobs as f64;
    let samples = interleaved(&mut [
        &mut || per_job(floe_bench::channels::channel_stream::<Crossbeam>(jobs, partner)),
        &mut || per_job(floe_bench::channels::channel_stream::<Mpsc>(jobs, partner)),
        &mut || per_job(floe_stream(worker, jobs, Futures::Kept)),
        &mut || per_job(floe_stream(worker, jobs, Futures::Dropped)),
        &mut || per_job(floe_stream(Worker::MAIN, jobs, Futures::Kept)),
        &mut || per_job(floe_c_stream(worker, jobs)),
    ]);
    let names = [
        "crossbeam-channel",
        "std::sync::mpsc",
        "floe worker, every future kept",
        "floe worker, futures dropped as made",
        "floe, Worker::MAIN + MainQueue::drain",
        "floe worker from C, every future kept",
    ];
    let crossbeam = samples[0].clone();
    for (i, (name, mut samples)) in names.into_iter().zip(samples).enumerate() {
        let (bests, paired) = ratios(&samples, &crossbeam);
        let (bests, paired) = (1.0 / bests, 1.0 / paired);
        let verdict = match i {
            2 => Verdict::of(paired >= THROUGHPUT_TARGET, Bound::Throughput),
            3 => Verdict::Reference("no future outlives its job"),
            4 => Verdict::Reference("one thread, no wake-up"),
            5 => Verdict::Reference("floe_worker_execute, a C job"),
            _ => Verdict::None,
        };
        let summary = Summary::of(&mut samples);
        table.row(
            vec![name.into(), summary.to_string(), format!("{:.2}", 1e3 / summary.best), times(bests), times(paired)],
            verdict,
        );
    }
    pin_current_thread(None);
    worker.request_termination(true).and_then(|done| done.result(None)).expect("terminate the worker");
    table
}

/// SharedData reads against arc-swap's, each under its own writer (see `under_a_writer`); the
/// contenders take turns, as the workers' do.
fn shared_data_table(quick: bool) -> Table {
    let reads: u32 = if quick { 20_000 } else { 200_000 };
    let mut table = Table::new(
        "SharedData read under a concurrent writer, against arc-swap",
        format!(
            "ns per read, best (median) of {ROUNDS} rounds of {reads} reads; floe: `SharedCell::read`, the object \
             dropped; arc-swap: `ArcSwap::load_full`, the `Arc` dropped; each under a writer publishing new \
             values{}; contenders take turns in each round. Ratio to arc-swap of the bests and paired; no target.",
            if cpu_count() > 1 { ", reader and writer pinned on two CPUs" } else { ", one CPU" }
        ),
        vec!["reader", "ns per read", "bests", "paired"],
        1,
    );
    pin_current_thread(Some(0));
    static CELL: SharedCell = SharedCell::new();
    CELL.publish(Some(&frozen_number(0))).expect("publish");
    let swap = ArcSwap::from_pointee(0i64);
    let samples = interleaved(&mut [
        &mut || under_a_writer(publish_numbers(&CELL), || per_call(reads, |_| CELL.read().expect("read"))),
        &mut || under_a_writer(store_numbers(&swap), || per_call(reads, |_| swap.load_full())),
    ]);
    pin_current_thread(None);
    CELL.publish(None).expect("empty the cell");
    let arc_swap = samples[1].clone();
    for (name, mut samples) in ["floe SharedCell::read", "arc-swap load_full"].into_iter().zip(samples) {
        let (bests, paired) = ratios(&samples, &arc_swap);
        let summary = Summary::of(&mut samples);
        table.row(vec![name.into(), summary.to_string(), times(bests), times(paired)], Verdict::None);
    }
    table
}

/// Where a round trip's other thread runs while the caller runs on CPU 0.
#[derive(Clone, Copy)]
struct Placement {
    name: &'static str,
    partner: usize,
}

impl Placement {
    const ALL: [Placement; 2] = [Placement { name: "two CPUs", partner: 1 }, Placement { name: "one CPU", partner: 0 }];
}

/// Round trips, `trips` per sample, from this thread to a thread on `partner`: crossbeam-channel and
/// std::sync::mpsc ping-pongs, then `worker` (already on `partner`) with no input, from C, and with
/// a one-object input and result; `ROUNDS` samples of each, taken in turns.
fn round_trips(worker: Worker, trips: u32, partner: Option<usize>) -> [(&'static str, Vec<f64>); 5] {
    let (crossbeam, mpsc) = (Echo::<Crossbeam>::start(partner), Echo::<Mpsc>::start(partner));
    let mut object = Some(Object::new(Graph::node_type()).expect("allocate"));
    let [crossbeam, mpsc, no_input, c_no_input, one_object] = interleaved(&mut [
        &mut || ping_pong(&crossbeam, trips),
        &mut || ping_pong(&mpsc, trips),
        &mut || {
            per_call(trips, |_| {
                worker.execute(None, TransferMode::Safe, tiny_job).and_then(|f| f.result(None)).expect("round trip")
            })
        },
        &mut || per_call(trips, |_| c_round_trip(worker)),
        &mut || {
            per_call(trips, |_| {
                let input = object.take().expect("returned by the previous job");
                object = round_trip(worker, input);
            })
        },
    ])
    .try_into()
    .expect("five contenders");
    let value = object.expect("returned").get_int(Graph::VALUE_FIELD);
    assert_eq!(value.expect("read"), ROUNDS as i64 * i64::from(trips), "every job ran once");
    [
        ("crossbeam-channel ping-pong", crossbeam),
        ("std::sync::mpsc ping-pong", mpsc),
        ("floe execute, no input", no_input),
        ("floe from C, no input", c_no_input),
        ("floe execute, 1-object input+result, SAFE", one_object),
    ]
}

/// Resident bytes per object for `MEMORY_OBJECTS` objects with two int fields, each held by one
/// handle. The vector of handles is filled (so resident) before the first reading.
fn resident_bytes_per_object() -> Option<f64> {
    let ty = ObjectType::define("BenchPair", &[("a", Kind::Int), ("b", Kind::Int)]).expect("define BenchPair");
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
