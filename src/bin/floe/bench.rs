//! `floe bench [--quick]`: one run, one side-by-side report, no criterion.
//!
//! - Freeze against the plain traversal (`Object::reachable_count`, a bitmap and an explicit stack
//!   over the same heap) of the same freshly built graph, for three shapes and 10^3..10^6 objects
//!   (`--quick`: up to 10^5). Target: freeze ≤ 1.5 × traversal.
//! - A checked field get and set through the C ABI (`floe_object_get_int` / `floe_object_set_int`),
//!   in ns per call. Target: ≤ 5 ns.
//! - A SAFE transfer (`Object::detach(TransferMode::Safe)`, then `DetachedGraph::attach`) against
//!   the traversal of the same graph, same shapes and sizes, the graph holding no handle but its
//!   root's. Target: detach ≤ 2 × traversal, detach + attach ≤ 2 × traversal.
//! - Workers against crossbeam-channel between two threads pinned to CPUs (`std::sync::mpsc`
//!   beside, for reference): an `execute` + `Future::result` round trip against a ping-pong, the
//!   other thread on another CPU and on the same one (target ≤ 1.25×), from Rust and from C; and the throughput of 10^6
//!   tiny jobs (`--quick`: 10^5) against as many messages to a consumer thread (target ≥ 0.8×).
//! - SharedData reads under a writer that publishes new frozen values all the while, against
//!   arc-swap's `ArcSwap::load_full` under a writer that stores new `Arc`s: both give the reader
//!   its own counted reference. No target.
//! - Memory per object: the 16-byte header, and the resident memory 10^6 two-field objects really
//!   take (RSS from `/proc/self/statm` before and after).
//!
//! Every figure is the best of several repetitions, with the median beside it. The worker
//! contenders take turns, round after round (`interleaved`), and their ratios are given twice: of
//! the best samples, and the median of the rounds' paired ratios; a target is met when both meet
//! it. Graph construction and teardown are never timed; each graph is walked once after
//! construction, so freeze and traversal both meet a graph that was just walked (the traversal is
//! timed on the frozen graph: same objects, same code path). A SAFE transfer meets one graph per
//! shape and size, transferred again and again (the attach gives it back). `benches/freeze.rs`,
//! `benches/workers.rs` and `benches/shared_data.rs` include this file for its graph builder, jobs,
//! channel baselines and SharedData writers.

use arc_swap::ArcSwap;
use floe::ffi::future::{floe_future_release, floe_future_wait};
use floe::ffi::object::{floe_object_get_int, floe_object_set_int};
use floe::ffi::worker::floe_worker_execute;
use floe::ffi::{floe_future, floe_ref};
use floe::{FutureState, Kind, MainQueue, Object, ObjectType, Runtime, SharedCell, Status, TransferMode, Worker};
use std::cell::RefCell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    let largest = if quick { 100_000 } else { 1_000_000 };
    freeze_report(largest, &mut verdicts);
    transfer_report(largest, &mut verdicts);
    access_report(&mut verdicts);
    workers_report(quick, &mut verdicts);
    shared_data_report(quick);
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

/// The graph sizes up to `largest`, each with its number of repetitions.
fn sizes(largest: usize) -> impl Iterator<Item = (usize, usize)> {
    [(1_000, 31), (10_000, 15), (100_000, 7), (1_000_000, 5)].into_iter().filter(move |&(n, _)| n <= largest)
}

/// Freeze against the traversal of the same graph, each shape and size up to `largest`.
fn freeze_report(largest: usize, verdicts: &mut Verdicts) {
    println!("\nfreeze vs plain traversal (reachable_count) of the same graph, ns per object; target freeze/traversal <= {RATIO_TARGET}x");
    println!("{:<7} {:>9} {:>4}  {:>18}  {:>18}  {:>6}", "shape", "objects", "N", "freeze", "traversal", "ratio");
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

/// A SAFE detach, and the attach that follows, against the traversal of the same graph, each shape
/// and size up to `largest`. One graph per shape and size, holding only its root's handle, is
/// detached and attached again by every repetition (the attach gives it back to this thread).
fn transfer_report(largest: usize, verdicts: &mut Verdicts) {
    println!("\nSAFE transfer (detach, then attach on the same thread) vs plain traversal of the same graph, ns per object; target <= {TRANSFER_TARGET}x for detach and for detach + attach");
    println!(
        "{:<7} {:>9} {:>4}  {:>16}  {:>14}  {:>16}  {:>7}  {:>7}",
        "shape", "objects", "N", "detach", "attach", "traversal", "detach", "+attach"
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
            println!(
                "{:<7} {:>9} {:>4}  {:>16}  {:>14}  {:>16}  {:>6.2}x  {:>6.2}x  {}",
                shape.name(),
                n,
                reps,
                detach.to_string(),
                attach.to_string(),
                traversal.to_string(),
                detach_ratio,
                both_ratio,
                verdicts.check(detach_ratio <= TRANSFER_TARGET && both_ratio <= TRANSFER_TARGET)
            );
        }
    }
}

/// Checked get and set of an int field through the C ABI, with the Rust API beside for reference.
fn access_report(verdicts: &mut Verdicts) {
    println!("\nchecked field access on one object, best of {ROUNDS} runs of {CALLS} calls, ns per call; target <= {CALL_TARGET_NS} ns (C ABI)");
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
        let verdict = verdicts.check(summary.best <= CALL_TARGET_NS);
        println!("{name:<24} {:>16}  {verdict}", summary.to_string());
    }
    let rust_get = best_of_rounds(|| per_call(CALLS, |_| object.get_int(black_box(field)).expect("get")));
    let rust_set = best_of_rounds(|| per_call(CALLS, |i| object.set_int(black_box(field), i64::from(i)).expect("set")));
    for (name, summary) in [("Object::get_int (Rust)", rust_get), ("Object::set_int (Rust)", rust_set)] {
        println!("{name:<24} {:>16}  (reference: the same checks without the C boundary)", summary.to_string());
    }
}

/// The best and median of `ROUNDS` samples.
fn best_of_rounds(mut sample: impl FnMut() -> f64) -> Summary {
    let mut samples: Vec<f64> = (0..ROUNDS).map(|_| sample()).collect();
    Summary::of(&mut samples)
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

/// Workers against crossbeam-channel between two threads: round trips on two placements, then the
/// throughput of tiny jobs. Contenders take turns (see `interleaved`). Two ratios each: of the best
/// samples, and the median of the ratios of samples taken side by side; a target is met only when
/// both meet it (a crossbeam sample in which its receiver parked makes the paired ratio flatter
/// floe; a lucky best sample, the ratio of bests).
fn workers_report(quick: bool, verdicts: &mut Verdicts) {
    let trips: u32 = if quick { 1_000 } else { 5_000 };
    let jobs: u64 = if quick { 100_000 } else { 1_000_000 };
    let cpus = cpu_count();
    let worker = Worker::start("bench").expect("start a worker");
    println!("\nround trip to another thread and back, {ROUNDS} rounds of {trips}, ns per round trip, best (median); floe/crossbeam: of the bests, and the median of the rounds' ratios; target <= {ROUND_TRIP_TARGET}x for both");
    println!("(floe: Worker::execute + Future::result, from C floe_worker_execute + floe_future_wait + floe_future_release; crossbeam and mpsc: ping-pong over two unbounded channels; threads pinned; contenders take turns in each round)");
    println!("{:<10} {:<42} {:>20}  {:>6}  {:>6}", "placement", "", "ns per round trip", "bests", "paired");
    for placement in Placement::ALL {
        if placement.partner >= cpus {
            println!("{:<10} skipped: {cpus} CPU(s)", placement.name);
            continue;
        }
        pin_current_thread(Some(0));
        pin_worker(worker, placement.partner);
        let rows = round_trips(worker, trips, Some(placement.partner));
        let crossbeam = rows[0].1.clone();
        for (i, (name, mut samples)) in rows.into_iter().enumerate() {
            let (bests, paired) = ratios(&samples, &crossbeam);
            let verdict = match i {
                0 => "",
                1 => "(reference)",
                _ => verdicts.check(bests.max(paired) <= ROUND_TRIP_TARGET),
            };
            let summary = Summary::of(&mut samples);
            println!(
                "{:<10} {name:<42} {:>20}  {bests:>5.2}x  {paired:>5.2}x  {verdict}",
                placement.name,
                summary.to_string()
            );
        }
    }

    let partner = (cpus > 1).then_some(1);
    println!("\nthroughput, {jobs} tiny jobs (one relaxed atomic increment each) to another thread, {ROUNDS} rounds, ns per job, best (median); floe/crossbeam in jobs/s: of the bests, and the median of the rounds' ratios; target >= {THROUGHPUT_TARGET}x for both");
    println!("(floe: execute them all, then Future::result of the last; channels: send them all, then wait for the consumer's word that it did the last; {}; contenders take turns in each round)",
        if partner.is_some() { "pinned on two CPUs" } else { "one CPU" });
    pin_current_thread(Some(0));
    if let Some(cpu) = partner {
        pin_worker(worker, cpu);
    }
    let per_job = |elapsed: Duration| elapsed.as_nanos() as f64 / jobs as f64;
    let samples = interleaved(&mut [
        &mut || per_job(channel_stream::<Crossbeam>(jobs, partner)),
        &mut || per_job(channel_stream::<Mpsc>(jobs, partner)),
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
            2 => verdicts.check(bests.min(paired) >= THROUGHPUT_TARGET),
            3 => "(reference: no future outlives its job)",
            4 => "(reference: one thread, no wake-up)",
            5 => "(reference: floe_worker_execute, a C job)",
            _ => "",
        };
        let summary = Summary::of(&mut samples);
        println!(
            "{name:<38} {:>16}  {:>7.2} M jobs/s  {bests:>5.2}x  {paired:>5.2}x  {verdict}",
            summary.to_string(),
            1e3 / summary.best
        );
    }
    pin_current_thread(None);
    worker.request_termination(true).and_then(|done| done.result(None)).expect("terminate the worker");
}

/// SharedData reads against arc-swap's, each under its own writer (see `under_a_writer`); the
/// contenders take turns, as the workers' do.
fn shared_data_report(quick: bool) {
    let reads: u32 = if quick { 20_000 } else { 200_000 };
    let cpus = cpu_count();
    println!("\nSharedData read under a concurrent writer, {ROUNDS} rounds of {reads} reads, ns per read, best (median); floe/arc-swap: of the bests, and the median of the rounds' ratios; no target");
    println!("(floe: SharedCell::read, the object dropped; arc-swap: ArcSwap::load_full, the Arc dropped; each under a writer publishing new values{})",
        if cpus > 1 { ", reader and writer pinned on two CPUs" } else { ", one CPU" });
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
        println!("{name:<24} {:>16}  {bests:>5.2}x  {paired:>5.2}x", summary.to_string());
    }
}

/// A frozen list holding `n`: a value to publish.
pub fn frozen_number(n: i64) -> Object {
    let value = Object::new_list().expect("allocate");
    value.push_int(n).expect("push");
    value.freeze(None).expect("freeze");
    value
}

/// A writer's step for `cell`: publishes the next number, frozen.
pub fn publish_numbers(cell: &'static SharedCell) -> impl FnMut(i64) + Send {
    move |n| cell.publish(Some(&frozen_number(n))).expect("publish")
}

/// A writer's step for `swap`: stores the next number in a new `Arc`.
pub fn store_numbers(swap: &ArcSwap<i64>) -> impl FnMut(i64) + Send + '_ {
    move |n| swap.store(std::sync::Arc::new(n))
}

/// Runs `reads` while another thread (pinned to CPU 1 when there is one; the caller pins itself to
/// CPU 0) calls `write` with 1, 2, 3, ... as fast as it can; returns what `reads` returned. The
/// writer has written once before `reads` starts.
pub fn under_a_writer<R>(mut write: impl FnMut(i64) + Send, reads: impl FnOnce() -> R) -> R {
    let cpu = (cpu_count() > 1).then_some(1);
    let (stop, started) = (AtomicBool::new(false), AtomicBool::new(false));
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_current_thread(cpu);
            let mut n = 1;
            while !stop.load(Ordering::Relaxed) {
                write(n);
                started.store(true, Ordering::Release);
                n += 1;
            }
        });
        while !started.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        let result = reads();
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Rounds of samples in every comparison whose contenders take turns (workers, SharedData).
const ROUNDS: usize = 7;

/// `ROUNDS` samples of each contender, taken in turns: each round samples every contender once, in
/// order. This VM's speed drifts by 2.5× from one second to the next (crossbeam's ping-pong takes
/// 130 ns in some runs, 330 in others), so contenders sampled one after the other in a round meet
/// the same machine, where a block of one contender's samples and then a block of the next's may not.
pub fn interleaved(contenders: &mut [&mut dyn FnMut() -> f64]) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(ROUNDS); contenders.len()];
    for _ in 0..ROUNDS {
        for (contender, samples) in contenders.iter_mut().zip(&mut samples) {
            samples.push(contender());
        }
    }
    samples
}

/// The ratio of the best (smallest) samples to the baseline's, and the median, over rounds, of
/// `samples[r] / baseline[r]`.
fn ratios(samples: &[f64], baseline: &[f64]) -> (f64, f64) {
    let best = |samples: &[f64]| samples.iter().copied().fold(f64::INFINITY, f64::min);
    let mut paired: Vec<f64> = samples.iter().zip(baseline).map(|(s, b)| s / b).collect();
    paired.sort_by(f64::total_cmp);
    (best(samples) / best(baseline), paired[paired.len() / 2])
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
/// std::sync::mpsc ping-pongs, then `worker` (already on `partner`) with no input and with a
/// one-object input and result; `ROUNDS` samples of each, taken in turns.
pub fn round_trips(worker: Worker, trips: u32, partner: Option<usize>) -> [(&'static str, Vec<f64>); 5] {
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

/// One round trip through the C ABI: `floe_worker_execute` with no producer and a C job, then
/// `floe_future_wait` and `floe_future_release`, as a C host does it.
pub fn c_round_trip(worker: Worker) {
    let future = c_execute_tiny_job(worker);
    let mut result: floe_ref = u64::MAX;
    // SAFETY: a writable out-parameter.
    assert_eq!(unsafe { floe_future_wait(future, -1, &mut result) }, Status::Ok, "floe_future_wait");
    assert_eq!(result, 0, "the job returns no result");
    assert_eq!(floe_future_release(future), Status::Ok, "floe_future_release");
}

/// ns per round trip of `trips` round trips through `echo`.
fn ping_pong<C: Channel>(echo: &Echo<C>, trips: u32) -> f64 {
    per_call(trips, |i| assert_eq!(echo.ping(u64::from(i)), u64::from(i) + 1, "the echo's reply"))
}

/// ns per call of `calls` calls of `call`.
fn per_call<R>(calls: u32, mut call: impl FnMut(u32) -> R) -> f64 {
    let ((), elapsed) = timed(|| (0..calls).for_each(|i| drop(black_box(call(i)))));
    elapsed.as_nanos() as f64 / f64::from(calls)
}

/// Runs `f` once; its result and how long it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let result = black_box(f());
    (result, start.elapsed())
}

/// The best and the median of a set of samples.
#[derive(Clone, Copy)]
pub struct Summary {
    pub best: f64,
    pub median: f64,
}

impl Summary {
    pub fn of(samples: &mut [f64]) -> Summary {
        samples.sort_by(f64::total_cmp);
        Summary { best: samples[0], median: samples[samples.len() / 2] }
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
            Shape::Random => [within(i + 1), Some(rng.below(n)), (rng.next() & 1 == 1).then(|| rng.below(n))],
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
            let fields = [("a", Kind::Ref), ("b", Kind::Ref), ("c", Kind::Ref), ("value", Kind::Int)];
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

impl Graph {
    /// Releases the handle to every node but the root, last node first: nothing outside the graph
    /// then refers into it, as a SAFE transfer requires. Each release leaves a live object whose
    /// count dropped, a cycle-collector candidate; the collector runs once a quarter of the live
    /// objects are candidates (untimed).
    pub fn release_all_but_root(&mut self) {
        while self.nodes.len() > 1 {
            self.nodes.pop();
        }
    }

    /// One SAFE detach of the graph and the attach that gives it back to the calling thread, timed
    /// apart. The graph must hold only its root's handle (`release_all_but_root`).
    pub fn detach_attach(&mut self) -> (Duration, Duration) {
        assert_eq!(self.nodes.len(), 1, "release_all_but_root first");
        let root = self.nodes.pop().expect("the root");
        let (detached, detach) = timed(|| root.detach(TransferMode::Safe));
        let detached = detached.expect("SAFE detach of a graph with no outside reference");
        let (root, attach) = timed(|| detached.attach());
        self.nodes.push(root.expect("attach"));
        (detach, attach)
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        if let Some(root) = self.nodes.first() {
            let _ = root.freeze(None);
        }
    }
}

/// The tiny work of a throughput job or message: one relaxed increment of a shared counter, which
/// the benchmarks check afterwards (no job lost, none run twice).
pub static TINY_WORK: AtomicU64 = AtomicU64::new(0);

pub fn tiny_work() {
    TINY_WORK.fetch_add(1, Ordering::Relaxed);
}

/// A job with no input and no result that does the tiny work.
pub fn tiny_job(_: Option<Object>) -> floe::Result<Option<Object>> {
    tiny_work();
    Ok(None)
}

/// A job that adds 1 to its input's int field (a `BenchNode`) and returns the input.
pub fn increment_job(input: Option<Object>) -> floe::Result<Option<Object>> {
    if let Some(object) = &input {
        let value = object.get_int(Graph::VALUE_FIELD)?;
        object.set_int(Graph::VALUE_FIELD, value + 1)?;
    }
    Ok(input)
}

/// Sends `object` (a one-object graph) to `worker` for `increment_job` and takes it back.
pub fn round_trip(worker: Worker, object: Object) -> Option<Object> {
    let input = object.detach(TransferMode::Safe).expect("detach");
    worker
        .execute(Some(input), TransferMode::Safe, increment_job)
        .and_then(|future| future.result(None))
        .expect("round trip")
}

/// Whether a stream of jobs keeps every future until the end, or drops each as it is made.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Futures {
    Kept,
    Dropped,
}

thread_local! {
    /// Where a stream keeps its futures: one buffer for every stream of the thread, so that its
    /// pages are faulted in once rather than inside each timing (the harness's memory is not what
    /// is measured; a page fault costs microseconds on a VM).
    static KEPT: RefCell<Vec<floe::Future>> = const { RefCell::new(Vec::new()) };
    /// The same for `floe_c_stream`'s C handles.
    static KEPT_C: RefCell<Vec<floe_future>> = const { RefCell::new(Vec::new()) };
}

/// Runs `jobs` tiny jobs on `worker`; the time from the first `execute` to the result of the last
/// job (a worker runs its jobs in order). For `Worker::MAIN`, the calling (main) thread drains its
/// queue before that. Untimed: every kept future is checked, and the count of jobs run.
pub fn floe_stream(worker: Worker, jobs: u64, futures: Futures) -> Duration {
    KEPT.with_borrow_mut(|kept| {
        kept.reserve(jobs as usize);
        let before = TINY_WORK.load(Ordering::Relaxed);
        let (last, elapsed) = timed(|| {
            for i in 0..jobs {
                let future = worker.execute(None, TransferMode::Safe, tiny_job).expect("execute");
                if futures == Futures::Kept || i + 1 == jobs {
                    kept.push(future);
                }
            }
            if worker == Worker::MAIN {
                assert_eq!(MainQueue::drain(usize::MAX).expect("drain"), jobs as usize);
            }
            kept.last().expect("at least one job").result(None)
        });
        last.expect("the last job");
        let (last, rest) = kept.split_last().expect("at least one job");
        assert_eq!(last.state(), FutureState::Consumed);
        assert!(rest.iter().all(|f| f.state() == FutureState::Computed), "every job ran");
        assert_eq!(TINY_WORK.load(Ordering::Relaxed) - before, jobs, "every job ran once");
        kept.clear();
        elapsed
    })
}

/// The C job of `floe_c_stream`: the tiny work, no result.
unsafe extern "C" fn c_tiny_job(_input: floe_ref, out_result: *mut floe_ref) -> Status {
    tiny_work();
    // SAFETY: floe passes a writable out-parameter.
    unsafe { out_result.write(0) };
    Status::Ok
}

/// `floe_worker_execute` of `c_tiny_job` on `worker`, with no producer; the C future it wrote.
#[inline]
fn c_execute_tiny_job(worker: Worker) -> floe_future {
    let mut future: floe_future = 0;
    // SAFETY: no producer; a job of the documented type; a writable out-parameter.
    let status = unsafe {
        floe_worker_execute(
            worker.id(),
            TransferMode::Safe as u32,
            None,
            std::ptr::null_mut(),
            Some(c_tiny_job),
            &mut future,
        )
    };
    assert_eq!(status, Status::Ok, "floe_worker_execute");
    future
}

/// `floe_stream` through the C ABI: `floe_worker_execute` with no producer and a C job, every
/// future kept (as a C host holds `floe_future` handles), then `floe_future_wait` on the last.
/// Untimed: every future released, and the count of jobs run.
pub fn floe_c_stream(worker: Worker, jobs: u64) -> Duration {
    KEPT_C.with_borrow_mut(|futures| {
        futures.reserve(jobs as usize);
        let before = TINY_WORK.load(Ordering::Relaxed);
        let (status, elapsed) = timed(|| {
            for _ in 0..jobs {
                futures.push(c_execute_tiny_job(worker));
            }
            let mut result: floe_ref = 0;
            // SAFETY: a writable out-parameter.
            unsafe { floe_future_wait(*futures.last().expect("at least one job"), -1, &mut result) }
        });
        assert_eq!(status, Status::Ok, "the last job");
        assert!(futures.drain(..).all(|future| floe_future_release(future) == Status::Ok), "every future released");
        assert_eq!(TINY_WORK.load(Ordering::Relaxed) - before, jobs, "every job ran once");
        elapsed
    })
}

/// Pins the calling thread to one CPU, or with `None` lets it run on any (Linux; elsewhere a
/// no-op). The worker benchmarks pin both threads, so that the placement is known: whether the
/// other thread runs on another CPU changes a round trip's cost tenfold or more.
pub fn pin_current_thread(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes within it; sched_setaffinity
        // reads `size_of::<cpu_set_t>()` bytes of it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let cpus = cpu.map_or(0..cpu_count(), |cpu| cpu..cpu + 1);
            cpus.for_each(|cpu| libc::CPU_SET(cpu, &mut set));
            let status = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            assert_eq!(status, 0, "sched_setaffinity to {cpu:?}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// The number of CPUs online (not the calling thread's affinity mask, which pinning narrows).
pub fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).unwrap_or(1).max(1)
}

/// A job that pins the thread running it to the CPU in its input's int field.
fn pin_job(input: Option<Object>) -> floe::Result<Option<Object>> {
    let cpu = input.expect("a CPU number").get_int(Graph::VALUE_FIELD)?;
    pin_current_thread(Some(cpu as usize));
    Ok(None)
}

/// Pins `worker`'s thread to `cpu`, by a job.
pub fn pin_worker(worker: Worker, cpu: usize) {
    let object = Object::new(Graph::node_type()).expect("allocate");
    object.set_int(Graph::VALUE_FIELD, cpu as i64).expect("set");
    let input = object.detach(TransferMode::Safe).expect("detach");
    worker
        .execute(Some(input), TransferMode::Safe, pin_job)
        .and_then(|future| future.result(None))
        .expect("pin the worker");
}

/// A channel of `u64` messages between two threads, the baseline of the worker benchmarks.
pub trait Channel: 'static {
    type Sender: Send + 'static;
    type Receiver: Send + 'static;
    fn pair() -> (Self::Sender, Self::Receiver);
    fn send(sender: &Self::Sender, message: u64);
    /// The next message, waiting for it; `None` once every sender is gone.
    fn recv(receiver: &Self::Receiver) -> Option<u64>;
}

/// crossbeam-channel, unbounded: a waiting receiver spins, then yields a few times, then parks.
pub struct Crossbeam;

impl Channel for Crossbeam {
    type Sender = crossbeam_channel::Sender<u64>;
    type Receiver = crossbeam_channel::Receiver<u64>;

    fn pair() -> (Self::Sender, Self::Receiver) {
        crossbeam_channel::unbounded()
    }

    fn send(sender: &Self::Sender, message: u64) {
        sender.send(message).expect("the receiving thread is alive");
    }

    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

/// `std::sync::mpsc`: crossbeam-channel's algorithm, ported into std in Rust 1.67, but a waiting
/// receiver spins less and never yields before it parks.
pub struct Mpsc;

impl Channel for Mpsc {
    type Sender = mpsc::Sender<u64>;
    type Receiver = mpsc::Receiver<u64>;

    fn pair() -> (Self::Sender, Self::Receiver) {
        mpsc::channel()
    }

    fn send(sender: &Self::Sender, message: u64) {
        sender.send(message).expect("the receiving thread is alive");
    }

    fn recv(receiver: &Self::Receiver) -> Option<u64> {
        receiver.recv().ok()
    }
}

/// A thread that answers every request `x` with `x + 1`: the other end of a ping-pong.
pub struct Echo<C: Channel> {
    requests: Option<C::Sender>,
    replies: C::Receiver,
    thread: Option<JoinHandle<()>>,
}

impl<C: Channel> Echo<C> {
    /// Starts the thread, pinned to `cpu` if given.
    pub fn start(cpu: Option<usize>) -> Echo<C> {
        let (requests, inbox) = C::pair();
        let (outbox, replies) = C::pair();
        let thread = std::thread::spawn(move || {
            pin_current_thread(cpu);
            while let Some(x) = C::recv(&inbox) {
                C::send(&outbox, x + 1);
            }
        });
        Echo { requests: Some(requests), replies, thread: Some(thread) }
    }

    /// One round trip: sends `x`, waits for the reply.
    pub fn ping(&self, x: u64) -> u64 {
        C::send(self.requests.as_ref().expect("running"), x);
        C::recv(&self.replies).expect("the echo thread is alive")
    }
}

impl<C: Channel> Drop for Echo<C> {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `messages` messages to a consumer thread (pinned to `cpu` if given) that does the tiny
/// work for each; the time from the first send to the consumer's word that it did the last. The
/// thread is started and answering first.
pub fn channel_stream<C: Channel>(messages: u64, cpu: Option<usize>) -> Duration {
    let (requests, inbox) = C::pair();
    let (outbox, done) = C::pair();
    let consumer = std::thread::spawn(move || {
        pin_current_thread(cpu);
        C::send(&outbox, u64::MAX);
        while let Some(message) = C::recv(&inbox) {
            tiny_work();
            if message + 1 == messages {
                C::send(&outbox, message);
            }
        }
    });
    assert_eq!(C::recv(&done), Some(u64::MAX), "the consumer started");
    let before = TINY_WORK.load(Ordering::Relaxed);
    let (last, elapsed) = timed(|| {
        (0..messages).for_each(|message| C::send(&requests, message));
        C::recv(&done)
    });
    assert_eq!(last, Some(messages - 1));
    assert_eq!(TINY_WORK.load(Ordering::Relaxed) - before, messages, "every message handled once");
    drop(requests);
    consumer.join().expect("the consumer thread");
    elapsed
}
