//! SharedData read under a concurrent writer, against arc-swap's `ArcSwap::load_full` under the same
//! kind of writer: both give the reader its own counted reference. The writers and the pinning come
//! from `floe_bench::shared_data`, which the `floe-bench` report uses for its own such section.
//!
//! `cargo bench -p floe-bench --bench shared_data -- --warm-up-time 1 --measurement-time 3`

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion};
use floe::{Runtime, SharedCell};
use std::hint::black_box;

use floe_bench::measure::pin_current_thread;
use floe_bench::shared_data::{frozen_number, publish_numbers, store_numbers, under_a_writer};

fn reads_under_a_writer(c: &mut Criterion) {
    Runtime::init().unwrap();
    pin_current_thread(Some(0));
    let mut group = c.benchmark_group("shared read under a writer");
    static CELL: SharedCell = SharedCell::new();
    CELL.publish(Some(&frozen_number(0))).unwrap();
    under_a_writer(publish_numbers(&CELL), || {
        group.bench_function("floe SharedCell::read", |b| b.iter(|| black_box(CELL.read().unwrap())))
    });
    let swap = ArcSwap::from_pointee(0i64);
    under_a_writer(store_numbers(&swap), || {
        group.bench_function("arc-swap load_full", |b| b.iter(|| black_box(swap.load_full())))
    });
    group.finish();
    CELL.publish(None).unwrap();
}

criterion_group!(benches, reads_under_a_writer);
criterion_main!(benches);
