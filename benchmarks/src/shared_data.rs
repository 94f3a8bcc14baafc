//! The writers of the SharedData benchmark: floe's `SharedCell` and arc-swap's `ArcSwap`, each
//! given new values as fast as a thread can.

use crate::measure::{cpu_count, pin_current_thread};
use arc_swap::ArcSwap;
use floe::{Object, SharedCell};
use std::sync::atomic::{AtomicBool, Ordering};

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
