//! Criterion benchmarks: workers against crossbeam-channel, and the SAFE transfer check against the
//! plain traversal of the same graph.
//!
//! - `round_trip_two_cpus` / `round_trip_one_cpu`: one `Worker::execute` + `Future::result` (no
//!   input; a one-object input and result, SAFE both ways), and from C `floe_worker_execute` +
//!   `floe_future_wait` + `floe_future_release` (no input), against a crossbeam-channel ping-pong
//!   (and `std::sync::mpsc`, for reference), the caller pinned to CPU 0, the other thread to CPU 1
//!   or to CPU 0 as well. Target: floe ≤ 1.25 × crossbeam.
//! - `throughput`: 10^5 tiny jobs per iteration to a worker on the other CPU, against as many
//!   messages to a consumer thread; and through `Worker::MAIN` drained by the same thread, for
//!   reference. Target: floe ≥ 0.8 × crossbeam in jobs/s.
//! - `transfer_<shape>`: a SAFE `Object::detach`, the detach and the attach that follows, and the
//!   traversal (`Object::reachable_count`), of the same graph of 10^3..10^5 objects holding only its
//!   root's handle (the attach gives it back, so one graph serves every iteration). Target: ≤ 2 ×
//!   the traversal.
//!
//! Jobs, graphs, channels and the pinning come from the member's lib (`floe_bench`), which the
//! `floe-bench` report uses too, so both measure the same things.
//!
//! `cargo bench -p floe-bench --bench workers -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use floe::{Object, Runtime, TransferMode, Worker};
use std::time::Duration;

use floe_bench::channels::{channel_stream, Channel, Crossbeam, Echo, Mpsc};
use floe_bench::graph::{Graph, Shape};
use floe_bench::jobs::{c_round_trip, floe_stream, pin_worker, round_trip, tiny_job, Futures};
use floe_bench::measure::{cpu_count, pin_current_thread, timed};

const JOBS: u64 = 100_000;

/// One timed stream of `JOBS` jobs or messages.
type Stream<'a> = Box<dyn Fn() -> Duration + 'a>;
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn round_trips(c: &mut Criterion) {
    Runtime::init().expect("init");
    let worker = Worker::start("bench").expect("start a worker");
    for (group_name, partner) in [("round_trip_two_cpus", 1), ("round_trip_one_cpu", 0)] {
        if partner >= cpu_count() {
            continue;
        }
        pin_current_thread(Some(0));
        pin_worker(worker, partner);
        let mut group = c.benchmark_group(group_name);
        {
            let echo = Echo::<Crossbeam>::start(Some(partner));
            group.bench_function("crossbeam_ping_pong", |b| b.iter_custom(|iters| ping_pong(&echo, iters)));
        }
        {
            let echo = Echo::<Mpsc>::start(Some(partner));
            group.bench_function("std_mpsc_ping_pong", |b| b.iter_custom(|iters| ping_pong(&echo, iters)));
        }
        group.bench_function("floe_execute_no_input", |b| {
            b.iter(|| {
                worker.execute(None, TransferMode::Safe, tiny_job).and_then(|f| f.result(None)).expect("round trip")
            })
        });
        group.bench_function("floe_c_execute_no_input", |b| b.iter(|| c_round_trip(worker)));
        let mut object = Some(Object::new(Graph::node_type()).expect("allocate"));
        group.bench_function("floe_execute_1_object_safe", |b| {
            b.iter(|| {
                let input = object.take().expect("returned by the previous job");
                object = round_trip(worker, input);
            })
        });
        group.finish();
    }
    pin_current_thread(None);
    worker.request_termination(true).and_then(|done| done.result(None)).expect("terminate the worker");
}

/// `iters` round trips through `echo`.
fn ping_pong<C: Channel>(echo: &Echo<C>, iters: u64) -> Duration {
    let ((), elapsed) = timed(|| {
        for i in 0..iters {
            assert_eq!(echo.ping(i), i + 1);
        }
    });
    elapsed
}

fn throughput(c: &mut Criterion) {
    Runtime::init().expect("init");
    let partner = (cpu_count() > 1).then_some(1);
    pin_current_thread(Some(0));
    let worker = Worker::start("bench").expect("start a worker");
    if let Some(cpu) = partner {
        pin_worker(worker, cpu);
    }
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(JOBS)).sample_size(10).sampling_mode(SamplingMode::Flat);
    let streams: [(&str, Stream); 4] = [
        ("crossbeam", Box::new(|| channel_stream::<Crossbeam>(JOBS, partner))),
        ("std_mpsc", Box::new(|| channel_stream::<Mpsc>(JOBS, partner))),
        ("floe_worker", Box::new(|| floe_stream(worker, JOBS, Futures::Kept))),
        ("floe_main_queue", Box::new(|| floe_stream(Worker::MAIN, JOBS, Futures::Kept))),
    ];
    for (name, stream) in &streams {
        group.bench_function(*name, |b| b.iter_custom(|iters| (0..iters).map(|_| stream()).sum()));
    }
    group.finish();
    pin_current_thread(None);
    worker.request_termination(true).and_then(|done| done.result(None)).expect("terminate the worker");
}

fn transfer(c: &mut Criterion) {
    Runtime::init().expect("init");
    for shape in Shape::ALL {
        let mut group = c.benchmark_group(format!("transfer_{}", shape.name()));
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
        for n in SIZES {
            let mut graph = Graph::build(shape, n);
            graph.release_all_but_root();
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new("detach_safe", n), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| graph.detach_attach().0).sum())
            });
            group.bench_function(BenchmarkId::new("detach_attach", n), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let (detach, attach) = graph.detach_attach();
                            detach + attach
                        })
                        .sum()
                })
            });
            group.bench_function(BenchmarkId::new("traversal", n), |b| {
                b.iter(|| graph.root().reachable_count().expect("traverse"))
            });
            assert_eq!(graph.root().reachable_count().expect("traverse"), n);
        }
        group.finish();
    }
}

criterion_group!(benches, round_trips, throughput, transfer);
criterion_main!(benches);
