//! Criterion benchmarks: `Object::freeze` against the plain traversal (`Object::reachable_count`) of
//! the same graph, for a tree, a linked list and a random graph with cycles of 10^3..10^5 objects;
//! and the checked field get / set through the C ABI.
//!
//! The graphs come from the member's builder (`floe_bench::graph`), which the `floe-bench` report
//! uses too, so both measure the same shapes; the builder walks each graph once, untimed. Each freeze gets a
//! freshly built graph; building and dropping it are outside the timing (`iter_batched`, one graph
//! per iteration).
//!
//! `cargo bench -p floe-bench --bench freeze -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use floe::ffi::object::{floe_object_get_int, floe_object_set_int};
use floe::{Object, Runtime};
use std::hint::black_box;

use floe_bench::graph::{Graph, Shape};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn freeze_and_traversal(c: &mut Criterion) {
    Runtime::init().expect("init");
    for shape in Shape::ALL {
        let mut group = c.benchmark_group(shape.name());
        // One freshly built graph per freeze: building costs several times the freeze, so keep
        // the sample count low and the iterations per sample equal.
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
        for n in SIZES {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new("freeze", n), |b| {
                b.iter_batched(
                    || Graph::build(shape, n),
                    |graph| {
                        graph.root().freeze(None).expect("freeze");
                        graph
                    },
                    BatchSize::PerIteration,
                )
            });
            // Traversed frozen, as `floe-bench` does: the same objects and code path.
            let graph = Graph::build(shape, n);
            graph.root().freeze(None).expect("freeze");
            group.bench_function(BenchmarkId::new("traversal", n), |b| {
                b.iter(|| graph.root().reachable_count().expect("traverse"))
            });
        }
        group.finish();
    }
}

fn checked_field_access(c: &mut Criterion) {
    Runtime::init().expect("init");
    let object = Object::new(Graph::node_type()).expect("allocate");
    let (handle, field) = (object.handle(), Graph::VALUE_FIELD);
    let mut group = c.benchmark_group("c_abi");
    group.bench_function("floe_object_get_int", |b| {
        let mut out = 0i64;
        // SAFETY: `out` is a writable i64.
        b.iter(|| unsafe { floe_object_get_int(black_box(handle), black_box(field), &raw mut out) })
    });
    group.bench_function("floe_object_set_int", |b| {
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            floe_object_set_int(black_box(handle), black_box(field), i)
        })
    });
    group.finish();
}

criterion_group!(benches, freeze_and_traversal, checked_field_access);
criterion_main!(benches);
