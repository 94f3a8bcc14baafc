//! SharedData read under a concurrent writer, against arc-swap's `ArcSwap::load_full` under the same
//! writer: both give the reader its own counted reference to the current value.

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion};
use floe::{Object, Runtime, SharedCell};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn frozen_value(n: i64) -> Object {
    let value = Object::new_list().unwrap();
    value.push_int(n).unwrap();
    value.freeze(None).unwrap();
    value
}

fn reads_under_a_writer(c: &mut Criterion) {
    Runtime::init().unwrap();
    let mut group = c.benchmark_group("shared read under a writer");
    static CELL: SharedCell = SharedCell::new();
    CELL.publish(Some(&frozen_value(0))).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 1;
            while !stop.load(Ordering::Relaxed) {
                CELL.publish(Some(&frozen_value(n))).unwrap();
                n += 1;
            }
        });
        group.bench_function("floe SharedCell::read", |b| b.iter(|| black_box(CELL.read().unwrap())));
        stop.store(true, Ordering::Relaxed);
    });
    let swap = ArcSwap::from_pointee(0i64);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 1;
            while !stop.load(Ordering::Relaxed) {
                swap.store(Arc::new(n));
                n += 1;
            }
        });
        group.bench_function("arc-swap load_full", |b| b.iter(|| black_box(swap.load_full())));
        stop.store(true, Ordering::Relaxed);
    });
    group.finish();
    CELL.publish(None).unwrap();
}

criterion_group!(benches, reads_under_a_writer);
criterion_main!(benches);
