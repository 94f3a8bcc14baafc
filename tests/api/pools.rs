//! Worker pools and limited-parallelism views.

use crate::harness::assert_error;
use floe::{Object, Pool, Result, Status, TransferMode, Worker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

crate::tests![
    a_view_caps_parallelism_and_every_job_runs,
    termination_cancels_backlogged_jobs_too,
    a_thread_name_with_a_nul_byte_is_refused_and_nothing_starts,
];

const WAIT: Option<Duration> = Some(Duration::from_secs(20));
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn counted(input: Option<Object>) -> Result<Option<Object>> {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(10));
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    let list = input.expect("an input");
    list.push_string(std::thread::current().name().unwrap_or("?"))?;
    Ok(Some(list))
}

fn input(i: i64) -> floe::DetachedGraph {
    let list = Object::new_list().unwrap();
    list.push_int(i).unwrap();
    list.detach(TransferMode::Safe).unwrap()
}

fn a_view_caps_parallelism_and_every_job_runs() {
    let pool = Pool::start("pool", 4).unwrap();
    for (target, cap) in [(pool.limited_parallelism(2).unwrap(), 2), (pool, 4)] {
        RUNNING.store(0, Ordering::SeqCst);
        PEAK.store(0, Ordering::SeqCst);
        let futures: Vec<_> =
            (0..12).map(|i| target.execute(Some(input(i)), TransferMode::Safe, counted).unwrap()).collect();
        for (i, f) in futures.iter().enumerate() {
            let list = f.result(WAIT).unwrap().unwrap();
            assert_eq!(list.get_int(0).unwrap(), i as i64);
            assert!(list.get_string(1).unwrap().starts_with("pool-"), "ran on a pool thread");
        }
        let peak = PEAK.load(Ordering::SeqCst);
        assert!(peak <= cap, "peak {peak} > cap {cap}");
        assert!(peak >= 2, "jobs ran in parallel (peak {peak})");
    }
    pool.request_termination(true).unwrap().result(WAIT).unwrap();
    assert_error(pool.execute(None, TransferMode::Safe, counted), Status::ErrUnknownWorker, &["no pool or view"]);
}

fn termination_cancels_backlogged_jobs_too() {
    let pool = Pool::start("small", 1).unwrap();
    let view = pool.limited_parallelism(1).unwrap();
    let futures: Vec<_> = (0..6).map(|i| view.execute(Some(input(i)), TransferMode::Safe, counted).unwrap()).collect();
    view.request_termination(false).unwrap().result(WAIT).unwrap();
    let states: Vec<_> = futures.iter().map(|f| f.state()).collect();
    assert!(
        states.iter().all(|s| matches!(s, floe::FutureState::Computed | floe::FutureState::Cancelled)),
        "{states:?}"
    );
    assert!(states.contains(&floe::FutureState::Cancelled), "{states:?}");
    drop(futures);
    assert_eq!(floe::Runtime::stats().detached_graphs, 0);
}

/// std panics on such a name: `Worker::start` did, with the worker already registered, so that it
/// was reported unfinished at shutdown and its jobs never ran.
fn a_thread_name_with_a_nul_byte_is_refused_and_nothing_starts() {
    let running = Worker::running().len();
    assert_error(Worker::start("bad\0name"), Status::ErrInvalidArgument, &["NUL byte", "bad\\0name"]);
    assert_error(Pool::start("bad\0name", 2), Status::ErrInvalidArgument, &["NUL byte"]);
    assert_eq!(Worker::running().len(), running, "no worker was registered");
}
