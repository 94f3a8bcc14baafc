//! Futures: the outcome of a job, produced on a worker and consumed on any thread.
//!
//! State machine (one mutex and condition variable per future):
//! `Scheduled → Computed | Failed | Cancelled`, then `Computed → Consumed` when a consumer takes the
//! result. The result is a graph in transit; consuming attaches it to the consuming thread, so it
//! is owned there and nowhere else. A failed future keeps the job's status and message (Kotlin/
//! Native reduced them to "Job has thrown an exception"). A future may instead be asked to deliver
//! its outcome to a worker's queue (the main queue included): the graph is then attached on that
//! worker's thread. One global condition variable serves "wait for any of these futures", as in
//! Kotlin/Native; a completion touches it only while someone waits.

use super::error::{Error, Result, Status};
use super::sync::{spin_until, Condvar, Mutex};
use super::transfer::Transit;
use super::worker::{Task, Worker};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A future's state. Numbers are part of the C ABI (`FLOE_FUTURE_STATE_*`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutureState {
    /// The job has not finished.
    Scheduled = 1,
    /// The job finished; its result waits for a consumer.
    Computed = 2,
    /// The job failed; the future keeps its status and message.
    Failed = 3,
    /// The job never ran (its worker terminated without processing it).
    Cancelled = 4,
    /// The result was taken by a consumer.
    Consumed = 5,
}

/// What a delivery callback receives: the result's handle (owned by the callback) or the failure.
pub type Outcome = Result<Option<u64>>;

type Delivery = (Arc<Worker>, Box<dyn FnOnce(Outcome) + Send>);

enum Slot {
    Scheduled(Option<Delivery>),
    Computed(Option<Transit>),
    Failed(Error),
    Cancelled,
    Consumed,
}

pub struct Future {
    slot: Mutex<Slot>,
    done: Condvar,
    /// Set once the job has finished, for waiters that spin before they sleep.
    finished: AtomicBool,
}

// "Wait for any": waiters hold `ANY_LOCK` from their check of the states to their wait on
// `ANY_DONE`, and count themselves in `ANY_WAITERS` before the check. A completion takes the lock
// and notifies only when someone waits: it writes its state under the future's slot lock, so
// either the waiter's check sees the state, or the waiter had counted itself before the completion
// looked (the slot lock orders the two).
#[cfg(not(floe_loom))]
static ANY_LOCK: Mutex<()> = Mutex::new(());
#[cfg(not(floe_loom))]
static ANY_DONE: Condvar = Condvar::new();
#[cfg(not(floe_loom))]
static ANY_WAITERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
#[cfg(floe_loom)]
loom::lazy_static! {
    static ref ANY_LOCK: Mutex<()> = Mutex::new(());
    static ref ANY_DONE: Condvar = Condvar::new();
    static ref ANY_WAITERS: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
}

impl Future {
    pub(crate) fn new() -> Arc<Future> {
        Arc::new(Future {
            slot: Mutex::new(Slot::Scheduled(None)),
            done: Condvar::new(),
            finished: AtomicBool::new(false),
        })
    }

    pub fn state(&self) -> FutureState {
        match &*self.slot.lock() {
            Slot::Scheduled(_) => FutureState::Scheduled,
            Slot::Computed(_) => FutureState::Computed,
            Slot::Failed(_) => FutureState::Failed,
            Slot::Cancelled => FutureState::Cancelled,
            Slot::Consumed => FutureState::Consumed,
        }
    }

    /// Records the job's outcome (or, with `None`, that it was cancelled) and wakes consumers.
    pub(crate) fn complete(&self, outcome: Option<Result<Option<Transit>>>) {
        let finished = match outcome {
            Some(Ok(result)) => Slot::Computed(result),
            Some(Err(error)) => Slot::Failed(error),
            None => Slot::Cancelled,
        };
        let previous = std::mem::replace(&mut *self.slot.lock(), finished);
        self.finished.store(true, Ordering::Release);
        self.done.notify_all();
        if ANY_WAITERS.load(Ordering::SeqCst) > 0 {
            drop(ANY_LOCK.lock());
            ANY_DONE.notify_all();
        }
        if let Slot::Scheduled(Some((worker, callback))) = previous {
            deliver(&worker, self.take(), callback);
        }
    }

    /// Takes a finished outcome: the result graph (still in transit) or the failure.
    fn take(&self) -> Result<Option<Transit>> {
        let mut slot = self.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Consumed) {
            Slot::Computed(result) => Ok(result),
            other => {
                let error = match &other {
                    Slot::Failed(error) => Error::new(error.status(), format!("the job failed: {}", error.message())),
                    Slot::Cancelled => Error::new(
                        Status::ErrCancelled,
                        "the job was cancelled: its worker terminated without processing it",
                    ),
                    Slot::Consumed => Error::new(Status::ErrConsumed, "the future's result was already consumed"),
                    Slot::Scheduled(_) => Error::new(Status::ErrTimeout, "the job has not finished"),
                    Slot::Computed(_) => unreachable!("handled above"),
                };
                // Failures and cancellations stay readable; only a result is taken once.
                if !matches!(other, Slot::Consumed) {
                    *slot = other;
                }
                Err(error)
            }
        }
    }

    /// Waits up to `timeout` (forever with `None`) and takes the outcome; a result is attached to
    /// the calling thread and returned as a handle it owns.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<u64>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        spin_until(|| self.finished.load(Ordering::Acquire));
        {
            let mut slot = self.slot.lock();
            while let Slot::Scheduled(_) = &*slot {
                match deadline {
                    Some(deadline) => {
                        if self.done.wait_until(&mut slot, deadline).timed_out() {
                            break;
                        }
                    }
                    None => self.done.wait(&mut slot),
                }
            }
            if let Slot::Scheduled(_) = &*slot {
                let waited = timeout.unwrap_or_default();
                return Err(Error::new(Status::ErrTimeout, format!("the job did not finish within {waited:?}")));
            }
        }
        self.take()?.map(Transit::attach).transpose()
    }

    /// Asks for the outcome to be delivered on `worker`'s thread, to `callback`; right away if
    /// the future is already finished.
    pub(crate) fn deliver_to(&self, worker: Arc<Worker>, callback: Box<dyn FnOnce(Outcome) + Send>) -> Result<()> {
        let mut slot = self.slot.lock();
        match &mut *slot {
            Slot::Scheduled(delivery @ None) => {
                *delivery = Some((worker, callback));
                Ok(())
            }
            Slot::Scheduled(Some(_)) => {
                Err(Error::new(Status::ErrConsumed, "the future already has a delivery; it is consumed once"))
            }
            _ => {
                drop(slot);
                deliver(&worker, self.take(), callback);
                Ok(())
            }
        }
    }
}

/// Queues `callback` on `worker` with the outcome; the result graph is attached on that worker's
/// thread when the callback runs. If the worker terminates first, the result is freed and the
/// callback still runs once — on the thread that found out — with `ErrWorkerTerminated` and no
/// result, so that whatever the host passed along (C `user_data`, a Swift closure) can be freed.
fn deliver(worker: &Worker, outcome: Result<Option<Transit>>, callback: Box<dyn FnOnce(Outcome) + Send>) {
    let name = worker.name().to_owned();
    worker.enqueue_delivery(Task::new(move |run| {
        if run {
            callback(outcome.and_then(|result| result.map(Transit::attach).transpose()))
        } else {
            drop(outcome);
            callback(Err(Error::new(
                Status::ErrWorkerTerminated,
                format!("worker {name:?} terminated before running this delivery; its result was freed"),
            )))
        }
    }));
}

/// Waits until one of `futures` has finished and is not consumed yet; returns the index of the first.
pub fn wait_any(futures: &[Arc<Future>], timeout: Option<Duration>) -> Result<usize> {
    if futures.is_empty() {
        return Err(Error::new(Status::ErrInvalidArgument, "wait_any needs at least one future"));
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    /// Counts the calling thread in `ANY_WAITERS` until it returns.
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            ANY_WAITERS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    ANY_WAITERS.fetch_add(1, Ordering::SeqCst);
    let _waiting = Waiting;
    let mut guard = ANY_LOCK.lock();
    loop {
        let states: Vec<FutureState> = futures.iter().map(|f| f.state()).collect();
        let finished =
            |s: &FutureState| matches!(s, FutureState::Computed | FutureState::Failed | FutureState::Cancelled);
        if let Some(i) = states.iter().position(finished) {
            return Ok(i);
        }
        if states.iter().all(|s| *s == FutureState::Consumed) {
            return Err(Error::new(Status::ErrConsumed, "every future is consumed: there is nothing left to wait for"));
        }
        match deadline {
            Some(deadline) => {
                if ANY_DONE.wait_until(&mut guard, deadline).timed_out() {
                    let waited = timeout.unwrap_or_default();
                    return Err(Error::new(
                        Status::ErrTimeout,
                        format!("none of the futures finished within {waited:?}"),
                    ));
                }
            }
            None => ANY_DONE.wait(&mut guard),
        }
    }
}

/// loom models of the state machine: run with `RUSTFLAGS="--cfg floe_loom" cargo test --release --lib loom`.
#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;

    #[test]
    fn loom_a_completion_wakes_its_waiter() {
        loom::model(|| {
            let future = Future::new();
            let producer = future.clone();
            let thread = loom::thread::spawn(move || producer.complete(Some(Ok(None))));
            assert!(matches!(future.wait(None), Ok(None)));
            assert_eq!(future.state(), FutureState::Consumed);
            thread.join().unwrap();
        });
    }

    #[test]
    fn loom_wait_any_sees_a_completion_on_another_thread() {
        loom::model(|| {
            let (idle, busy) = (Future::new(), Future::new());
            let producer = busy.clone();
            let thread = loom::thread::spawn(move || producer.complete(None));
            assert_eq!(wait_any(&[idle.clone(), busy.clone()], None).unwrap(), 1);
            assert_eq!(busy.wait(None).unwrap_err().status(), Status::ErrCancelled);
            thread.join().unwrap();
            idle.complete(None);
        });
    }

    #[test]
    fn loom_two_consumers_one_result() {
        loom::model(|| {
            let future = Future::new();
            let (producer, rival) = (future.clone(), future.clone());
            let completing = loom::thread::spawn(move || producer.complete(Some(Ok(None))));
            let consuming = loom::thread::spawn(move || rival.wait(None).is_ok());
            let mine = future.wait(None).is_ok();
            let theirs = consuming.join().unwrap();
            completing.join().unwrap();
            assert!(mine ^ theirs, "exactly one consumer takes the result");
        });
    }
}
