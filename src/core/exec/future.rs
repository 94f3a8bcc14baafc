//! Futures: the outcome of a job, produced on a worker and consumed on any thread.
//!
//! State machine: `Scheduled → Computed | Failed | Cancelled`, then `Computed → Consumed` when a
//! consumer takes the result. The result is a graph in transit; consuming attaches it to the
//! consuming thread, so it is owned there and nowhere else. A failed future keeps the job's status
//! and message (Kotlin/Native reduced them to "Job has thrown an exception"). A future may instead
//! be asked to deliver its outcome to a worker's queue (the main queue included): the graph is then
//! attached on that worker's thread.
//!
//! A future is a counted handle to a cell carved from its thread's block of cells
//! (`future_blocks`): making one allocates nothing in a steady stream of jobs. The cell's state is
//! one atomic word: the `FutureState` number, plus a flag for waiters that sleep, one for a
//! delivery, the job's result mode, and, until it completes, the worker whose thread alone can
//! complete it (so that this thread is told its wait could never end). Completing is one swap of
//! that word (no lock) after the outcome is written; sleepers and deliveries use the lock and
//! condition variable of the cell's stripe (`stripes`).
//! Invariants:
//! - A job's future holds the job's work (input, body, result mode) in `outcome` from its making
//!   until the task that completes it takes the work out; the queue that carries the task
//!   publishes the cell's contents to the worker's thread. So a queue slot holds a handle alone.
//!   A task that is no job (a closure) is a cell of its own too, holding the closure, never
//!   completed.
//! - `outcome` is written by the completer alone, before the swap that leaves `Scheduled`
//!   (release), and read only after seeing a finished state (acquire). A result is taken by the
//!   one consumer whose exchange turns `Computed` into `Consumed`; a failure is only read.
//! - A waiter sets `WAITING` under its stripe's lock and holds it until it sleeps on the stripe's
//!   condition variable; a completion that swaps out a `WAITING` takes that lock before notifying.
//! - A delivery waits in `DELIVERIES` under its cell's address: put there under the stripe's lock
//!   before `DELIVERY` is set, and taken by the completer after its swap returns the flag; if the
//!   swap came first, `deliver_to` delivers itself. A cell whose last handle goes with the flag
//!   still set (never completed) takes its delivery out, so that a later cell at that address
//!   finds no stale one.
//! - `UNSAFE_RESULT`, set in the state word when a job's cell is made, is the job's result mode,
//!   read by the task that takes the work; the completion's swap clears it. Deliveries and the
//!   mode live outside `outcome` so that a cell is half a cache line: a stream of jobs moves one
//!   line for every two jobs from the producer's CPU to the worker's.
//! - "Wait for any" (one global condition variable, as in Kotlin/Native): a waiter counts itself in
//!   `ANY_WAITERS` before it checks the states, and a completion reads `ANY_WAITERS` after its swap,
//!   all SeqCst, so either the check sees the state or the completion sees the waiter.
//! - `refs` counts the handles; the last one to go drops the cell's contents and retires the cell.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::ranges::FIRST_POOL_ID;
use crate::core::base::stripes::{self, Stripe};
use crate::core::base::sync::{
    handshake_fence, spin_until_slowly, woke_a_sleeper, AtomicU32, Condvar, Mutex, UnsafeCell,
};
use crate::core::exec::worker::{JobFn, Queued, Task, Work, Worker};
use crate::core::exec::{future_blocks, pool};
use crate::core::graph::transfer::{TransferMode, Transit};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
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

/// The bits of the state word that hold the `FutureState`.
const STATE: u32 = 0b111;
/// Someone sleeps on the stripe until the job finishes.
const WAITING: u32 = 1 << 3;
/// `DELIVERIES` holds a delivery for the completer.
const DELIVERY: u32 = 1 << 4;
/// The job's result leaves the worker UNSAFE (without the SAFE check); see the invariants.
const UNSAFE_RESULT: u32 = 1 << 5;
/// Above the flags, until the future completes: the id of the worker whose thread alone can
/// complete it (its job waits in that worker's queue, or it is that worker's termination), so that
/// the thread is told its wait could never end; or `POOLED` and the index of the pool or view whose
/// threads alone run its job (`pool::wait_in_pool` checks a wait by one of them); or 0 (an id too
/// large to fit).
const QUEUE_SHIFT: u32 = 6;
/// In the field above the flags: a pool's or a view's job; the rest is its id less `FIRST_POOL_ID`.
const POOLED: u32 = 1 << (31 - QUEUE_SHIFT);

/// The job to run, until the task that completes the future takes it; then what the job left: a
/// result (Computed, then Consumed once taken), a failure, or nothing.
enum Left {
    Nothing,
    /// A job's work but its result mode, which is the state word's `UNSAFE_RESULT`.
    Pending {
        input: Option<Transit>,
        job: JobFn,
    },
    /// A queued closure's body (a `Task` that is no job).
    Closure(Box<dyn FnOnce(bool) + Send>),
    Result(Option<Transit>),
    Failure(Error),
}

/// A future's shared part, in a block of cells.
pub(crate) struct Cell {
    state: AtomicU32,
    refs: AtomicU32,
    outcome: UnsafeCell<Left>,
}

// Half a cache line: the producer writes it when it makes the job, the worker when it completes it.
#[cfg(not(floe_loom))]
const _: () = assert!(std::mem::size_of::<Cell>() <= 32, "a future's cell is half a cache line");

/// A handle to a future; clones share it. The outcome is taken once, by one consumer.
pub struct Future(NonNull<Cell>);

// SAFETY: the cell's `outcome` and its delivery are reached as the invariants at the top say; what
// they hold is `Send`, and the rest of the cell is atomic.
unsafe impl Sync for Future {}
// SAFETY: as for `Sync`.
unsafe impl Send for Future {}

#[cfg(not(floe_loom))]
static ANY_LOCK: Mutex<()> = Mutex::new(());
#[cfg(not(floe_loom))]
static ANY_DONE: Condvar = Condvar::new();
#[cfg(not(floe_loom))]
static ANY_WAITERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
#[cfg(not(floe_loom))]
static DELIVERIES: Mutex<BTreeMap<usize, Delivery>> = Mutex::new(BTreeMap::new());
#[cfg(floe_loom)]
loom::lazy_static! {
    static ref ANY_LOCK: Mutex<()> = Mutex::new(());
    static ref ANY_DONE: Condvar = Condvar::new();
    static ref ANY_WAITERS: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
    static ref DELIVERIES: Mutex<BTreeMap<usize, Delivery>> = Mutex::new(BTreeMap::new());
}

fn state_of(word: u32) -> FutureState {
    match word & STATE {
        1 => FutureState::Scheduled,
        2 => FutureState::Computed,
        3 => FutureState::Failed,
        4 => FutureState::Cancelled,
        _ => FutureState::Consumed,
    }
}

impl Clone for Future {
    fn clone(&self) -> Future {
        if self.cell().refs.fetch_add(1, Ordering::Relaxed) > u32::MAX / 2 {
            // As `Arc` does: so many handles mean a leak of them, and wrapping would free a live cell.
            std::process::abort();
        }
        Future(self.0)
    }
}

impl Drop for Future {
    fn drop(&mut self) {
        if self.cell().refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if self.cell().state.load(Ordering::Relaxed) & DELIVERY != 0 {
            // Never completed: its delivery would otherwise wait for a later cell at this address.
            // Dropped after the lock: what the delivery holds may release futures of its own.
            let stale = DELIVERIES.lock().remove(&self.address());
            drop(stale);
        }
        // SAFETY: the last handle is going: nobody else reaches the cell, whose contents were
        // initialised by `fill`. An unconsumed result is freed here, on this thread.
        unsafe {
            std::ptr::drop_in_place(self.0.as_ptr());
            future_blocks::retire(self.0);
        }
    }
}

impl Future {
    pub(crate) fn new() -> Future {
        Future(Future::fill(future_blocks::carve(), 1, FutureState::Scheduled as u32, Left::Nothing))
    }

    /// A future holding `work`, and a second handle to it for the task that runs the work and
    /// completes it. The work travels in the cell, so that a queue slot holds only the handle.
    /// Counted as two from the start: a clone's read-modify-write on the new cell would wait for
    /// its writes to land.
    #[inline]
    pub(crate) fn new_job(work: Work) -> (Future, Future) {
        let Work { input, job, mode } = work;
        let mode = if mode == TransferMode::Unsafe { UNSAFE_RESULT } else { 0 };
        let cell =
            Future::fill(future_blocks::carve(), 2, FutureState::Scheduled as u32 | mode, Left::Pending { input, job });
        (Future(cell), Future(cell))
    }

    /// A cell for a task that is no job: it holds `body` until the task takes it, and is never
    /// completed.
    pub(crate) fn new_closure(body: Box<dyn FnOnce(bool) + Send>) -> Future {
        Future(Future::fill(future_blocks::carve(), 1, FutureState::Scheduled as u32, Left::Closure(body)))
    }

    /// The work of a future made by `new_job` or `new_closure`, for its task, before a job's task
    /// completes it. Taken once.
    pub(crate) fn take_work(&self) -> Queued {
        // SAFETY: the work is written when the cell is made and taken by its task (a job's,
        // before it completes the future); the queue that carried the task published the cell's
        // contents to it, and nobody else reads `outcome` while the state is `Scheduled`.
        self.cell().outcome.with_mut(|slot| match unsafe { std::ptr::replace(slot, Left::Nothing) } {
            Left::Pending { input, job } => {
                // The mode bit was written with the cell, before the queue published it.
                let unsafe_result = self.cell().state.load(Ordering::Relaxed) & UNSAFE_RESULT != 0;
                let mode = if unsafe_result { TransferMode::Unsafe } else { TransferMode::Safe };
                Queued::Job(Work { input, job, mode })
            }
            Left::Closure(body) => Queued::Closure(body),
            _ => unreachable!("a task's cell holds its work until the task takes it, once"),
        })
    }

    /// Makes `cell`, fresh from `future_blocks::carve`, a cell with the state word `state`, holding
    /// `outcome` and counting `refs` handles that the caller makes. Callers carve in the first
    /// argument, so that the outcome is made after the carving: made before, it was kept in memory
    /// across the carving (which may call out) and copied in by a vector read over two word stores,
    /// a read that waits for them to land (perf: half of `Worker::execute`'s samples).
    #[inline]
    fn fill(cell: NonNull<Cell>, refs: u32, state: u32, outcome: Left) -> NonNull<Cell> {
        let fresh =
            Cell { state: AtomicU32::new(state), refs: AtomicU32::new(refs), outcome: UnsafeCell::new(outcome) };
        // SAFETY: `carve` hands out memory for one cell, this thread's alone until shared.
        unsafe { cell.as_ptr().write(fresh) };
        cell
    }

    #[cfg(all(test, not(floe_loom)))]
    pub(crate) fn cell_ptr(&self) -> NonNull<Cell> {
        self.0
    }

    fn cell(&self) -> &Cell {
        // SAFETY: this handle counts in `refs`, so the cell is live and initialised.
        unsafe { self.0.as_ref() }
    }

    /// The cell's address: the key of its stripe and of its delivery.
    fn address(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// The stripe where this future's sleepers wait and its delivery is handed over.
    fn stripe(&self) -> &'static Stripe {
        stripes::stripe(self.address())
    }

    /// Notes that only worker `worker`'s thread can complete this future, for `wait`'s check.
    /// Called before the future is shared: the cell is still the calling thread's alone.
    pub(crate) fn completed_on(&self, worker: u32) {
        if worker < POOLED {
            self.mark_completer(worker);
        }
    }

    /// Notes that only the threads of pool or view `executor` can complete this future, for
    /// `wait`'s check; as `completed_on`, before the future is shared.
    pub(crate) fn completed_in_pool(&self, executor: u32) {
        if let Some(index) = executor.checked_sub(FIRST_POOL_ID).filter(|&index| index < POOLED) {
            self.mark_completer(POOLED | index);
        }
    }

    fn mark_completer(&self, field: u32) {
        // Not modelled: it precedes any sharing, and each access would be one more branch for loom.
        if cfg!(not(floe_loom)) {
            let word = self.cell().state.load(Ordering::Relaxed);
            self.cell().state.store(word | field << QUEUE_SHIFT, Ordering::Relaxed);
        }
    }

    /// The state word. SeqCst: `wait_any` reads states after counting itself in `ANY_WAITERS` (see
    /// the top).
    fn word(&self) -> u32 {
        self.cell().state.load(Ordering::SeqCst)
    }

    pub fn state(&self) -> FutureState {
        state_of(self.word())
    }

    fn finished(&self) -> bool {
        self.state() != FutureState::Scheduled
    }

    /// Records the job's outcome (or, with `None`, that it was cancelled) and wakes consumers.
    /// Called once, by whoever ran or cancelled the job. Always inlined: out of line, the outcome
    /// came by reference, and its first read spanned two of the caller's stores, a read that waits
    /// for them to land (perf: 60% of `complete`'s samples on a worker streaming jobs).
    #[inline(always)]
    pub(crate) fn complete(&self, outcome: Option<Result<Option<Transit>>>) {
        let cell = self.cell();
        let (left, state) = match outcome {
            Some(Ok(result)) => (Left::Result(result), FutureState::Computed),
            Some(Err(error)) => (Left::Failure(error), FutureState::Failed),
            None => (Left::Nothing, FutureState::Cancelled),
        };
        // SAFETY: the completer alone writes `outcome`, and nobody reads it while the state is
        // `Scheduled` (invariants at the top). It holds `Nothing` — a job's work is taken before
        // its future completes — so writing over it drops nothing.
        cell.outcome.with_mut(|slot| unsafe {
            debug_assert!(matches!(*slot, Left::Nothing), "a job's work is taken before it completes");
            slot.write(left)
        });
        let previous = cell.state.swap(state as u32, Ordering::SeqCst);
        debug_assert_eq!(state_of(previous), FutureState::Scheduled, "a future is completed once");
        handshake_fence();
        let any_waiters = ANY_WAITERS.load(Ordering::SeqCst) > 0;
        if previous & (WAITING | DELIVERY) != 0 || any_waiters {
            self.wake_and_deliver(previous, any_waiters);
        }
    }

    /// What a completion owes to those waiting (for this future, or for any) and to a delivery:
    /// `previous` is the state word that the completion swapped out.
    #[cold]
    fn wake_and_deliver(&self, previous: u32, any_waiters: bool) {
        if previous & WAITING != 0 {
            let stripe = self.stripe();
            drop(stripe.lock.lock());
            stripe.wake.notify_all();
            woke_a_sleeper();
        }
        if any_waiters {
            drop(ANY_LOCK.lock());
            ANY_DONE.notify_all();
        }
        if previous & DELIVERY != 0 {
            // `deliver_to` put it there before setting the flag that this swap took.
            let delivery = DELIVERIES.lock().remove(&self.address());
            let (worker, callback) = delivery.expect("the DELIVERY flag comes with a delivery");
            deliver(&worker, self.take(), callback);
        }
    }

    /// Takes a finished outcome: the result graph (still in transit) or the failure.
    fn take(&self) -> Result<Option<Transit>> {
        let cell = self.cell();
        loop {
            let word = cell.state.load(Ordering::Acquire);
            return match state_of(word) {
                FutureState::Computed => {
                    // After the completion's swap no flag is set again: the word is the state alone.
                    let consumed = FutureState::Consumed as u32;
                    if cell.state.compare_exchange(word, consumed, Ordering::Acquire, Ordering::Relaxed).is_err() {
                        continue;
                    }
                    // SAFETY: the exchange made this call the result's one consumer, after the
                    // completer's write (acquired with the state).
                    cell.outcome.with_mut(|slot| match unsafe { &mut *slot } {
                        Left::Result(result) => Ok(result.take()),
                        _ => unreachable!("a computed future holds a result"),
                    })
                }
                // Failures and cancellations stay readable; only a result is taken once.
                // SAFETY: a failure, written before the state said so (acquired), is only read.
                FutureState::Failed => cell.outcome.with(|slot| match unsafe { &*slot } {
                    Left::Failure(error) => {
                        Err(Error::new(error.status(), format!("the job failed: {}", error.message())))
                    }
                    _ => unreachable!("a failed future holds its failure"),
                }),
                FutureState::Cancelled => Err(Error::new(
                    Status::ErrCancelled,
                    "the job was cancelled: its worker terminated without processing it",
                )),
                FutureState::Consumed => {
                    Err(Error::new(Status::ErrConsumed, "the future's result was already consumed"))
                }
                FutureState::Scheduled => Err(Error::new(Status::ErrTimeout, "the job has not finished")),
            };
        }
    }

    /// Waits up to `timeout` (forever with `None`) and takes the outcome; a result is attached to
    /// the calling thread and returned as a handle it owns.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Option<u64>> {
        let word = self.word();
        if let Some(worker) = completed_by_the_caller(word) {
            return Err(never_ends(worker));
        }
        let deadline = timeout.and_then(deadline_in);
        // The first check reuses the word read above: under loom, each read is a branch to explore.
        // A wait of no time (a poll) does not spin.
        let finished = state_of(word) != FutureState::Scheduled
            || (timeout != Some(Duration::ZERO) && spin_until_slowly(|| self.finished(), deadline));
        if !finished {
            // A pool's thread waiting for a job of its pool: refused when no thread could run it.
            let _counted = match pooled_in(self.word()) {
                Some(executor) => pool::wait_in_pool(self, executor, timeout.is_none())?,
                None => None,
            };
            if !self.sleep_until_finished(deadline) {
                let waited = timeout.unwrap_or_default();
                return Err(Error::new(Status::ErrTimeout, format!("the job did not finish within {waited:?}")));
            }
        }
        self.take()?.map(Transit::attach).transpose()
    }

    /// Sleeps until the job finishes or `deadline` passes; whether it finished.
    fn sleep_until_finished(&self, deadline: Option<Instant>) -> bool {
        let (cell, stripe) = (self.cell(), self.stripe());
        let mut guard = stripe.lock.lock();
        loop {
            let word = cell.state.load(Ordering::Acquire);
            if state_of(word) != FutureState::Scheduled {
                return true;
            }
            if word & WAITING == 0
                && cell.state.compare_exchange(word, word | WAITING, Ordering::SeqCst, Ordering::Acquire).is_err()
            {
                continue;
            }
            // The stripe's other futures wake it too: the loop checks this one's state again.
            match deadline {
                Some(deadline) => {
                    if stripe.wake.wait_until(&mut guard, deadline).timed_out() {
                        return self.finished();
                    }
                }
                None => stripe.wake.wait(&mut guard),
            }
        }
    }

    /// Asks for the outcome to be delivered on `worker`'s thread, to `callback`; right away if
    /// the future is already finished.
    pub(crate) fn deliver_to(&self, worker: Arc<Worker>, callback: Box<dyn FnOnce(Outcome) + Send>) -> Result<()> {
        let cell = self.cell();
        let guard = self.stripe().lock.lock();
        let word = cell.state.load(Ordering::Acquire);
        let (worker, callback) = if state_of(word) != FutureState::Scheduled {
            (worker, callback)
        } else if word & DELIVERY != 0 {
            return Err(Error::new(Status::ErrConsumed, "the future already has a delivery; it is consumed once"));
        } else {
            // The completer looks for it only after the flag set below.
            DELIVERIES.lock().insert(self.address(), (worker, callback));
            // Under the lock the word changes only by the completion's swap (waiters hold it too).
            if cell.state.compare_exchange(word, word | DELIVERY, Ordering::SeqCst, Ordering::Acquire).is_ok() {
                return Ok(());
            }
            // The flag was not set, so the completer did not and will not look for it.
            DELIVERIES.lock().remove(&self.address()).expect("put there above")
        };
        drop(guard);
        deliver(&worker, self.take(), callback);
        Ok(())
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

/// The calling thread's worker (the main queue's, on the main thread), if only it can complete the
/// unfinished future whose state word is `word`: it does nothing else while it waits.
fn completed_by_the_caller(word: u32) -> Option<u32> {
    let worker = word >> QUEUE_SHIFT;
    let by_worker = worker != 0 && worker < POOLED;
    (state_of(word) == FutureState::Scheduled && by_worker && worker == crate::core::exec::worker::current())
        .then_some(worker)
}

/// The id of the pool or view whose threads alone can complete the unfinished future whose state
/// word is `word`, if it is one's job.
fn pooled_in(word: u32) -> Option<u32> {
    let field = word >> QUEUE_SHIFT;
    (state_of(word) == FutureState::Scheduled && field & POOLED != 0).then(|| FIRST_POOL_ID + (field & !POOLED))
}

/// The error for a wait by the thread of worker `worker`, which alone can complete the future.
#[cold]
fn never_ends(worker: u32) -> Error {
    let why = if worker == crate::core::exec::worker::MAIN_WORKER {
        "the job waits in the main queue, which this thread drains: drain it (floe_main_queue_drain) before waiting"
    } else {
        "only this worker's thread can finish it (its job waits in this worker's own queue, or it is this worker's \
         termination): process the queue (floe_worker_process_queue) or wait on another thread"
    };
    Error::new(Status::ErrWouldDeadlock, format!("the wait could never end: {why}"))
}

/// The instant `timeout` from now; `None` past the last one the clock can tell (`Duration::MAX`),
/// which no wait outlasts anyway: such a wait has no deadline, where adding would panic.
pub(crate) fn deadline_in(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Waits until one of `futures` has finished and is not consumed yet; returns the index of the first.
pub fn wait_any(futures: &[Future], timeout: Option<Duration>) -> Result<usize> {
    if futures.is_empty() {
        return Err(Error::new(Status::ErrInvalidArgument, "wait_any needs at least one future"));
    }
    let deadline = timeout.and_then(deadline_in);
    /// Counts the calling thread in `ANY_WAITERS` until it returns.
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            ANY_WAITERS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    ANY_WAITERS.fetch_add(1, Ordering::SeqCst);
    handshake_fence();
    let _waiting = Waiting;
    let mut guard = ANY_LOCK.lock();
    loop {
        let words: Vec<u32> = futures.iter().map(Future::word).collect();
        let states: Vec<FutureState> = words.iter().map(|&word| state_of(word)).collect();
        let finished =
            |s: &FutureState| matches!(s, FutureState::Computed | FutureState::Failed | FutureState::Cancelled);
        if let Some(i) = states.iter().position(finished) {
            return Ok(i);
        }
        if states.iter().all(|s| *s == FutureState::Consumed) {
            return Err(Error::new(Status::ErrConsumed, "every future is consumed: there is nothing left to wait for"));
        }
        // When only the caller's thread can complete every future left, none can finish.
        let mut left = words
            .iter()
            .filter(|&&word| state_of(word) != FutureState::Consumed)
            .map(|&word| completed_by_the_caller(word));
        if let Some(Some(worker)) = left.next() {
            if left.all(|other| other.is_some()) {
                return Err(never_ends(worker));
            }
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

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::*;
    use crate::core::exec::worker;

    #[test]
    fn a_future_dropped_while_its_job_completes_is_freed_once_by_whichever_goes_last() {
        for round in 0..if cfg!(miri) { 8 } else { 200 } {
            let future = Future::new();
            let (completer, observer) = (future.clone(), future.clone());
            let completing = std::thread::spawn(move || completer.complete(Some(Ok(None))));
            drop(future);
            if round % 2 == 0 {
                // A handle beside the completer's: the completion's is not the last.
                assert!(matches!(observer.wait(None), Ok(None)));
            }
            drop(observer);
            completing.join().unwrap();
        }
    }

    #[test]
    fn a_deadline_past_the_clocks_last_instant_is_none() {
        assert!(deadline_in(Duration::MAX).is_none());
        assert!(deadline_in(Duration::from_secs(1)).is_some_and(|d| d > Instant::now()));
    }

    #[test]
    fn a_delivery_of_a_future_dropped_unfinished_goes_with_it() {
        let (future, address) = {
            let future = Future::new();
            let address = future.address();
            (future, address)
        };
        let (sender, called) = std::sync::mpsc::channel::<()>();
        // Not the main queue: in these tests the main thread is whichever test came first, and it exits.
        let target = worker::lookup(worker::start("target").unwrap()).unwrap();
        future.deliver_to(target.clone(), Box::new(move |_| drop(sender))).unwrap();
        assert!(DELIVERIES.lock().contains_key(&address), "the delivery waits beside the cell");
        drop(future);
        assert!(!DELIVERIES.lock().contains_key(&address), "and goes when its last handle does");
        assert!(called.recv().is_err(), "dropped, never called: the callback's sender went with it");
        assert!(matches!(target.request_termination(true).unwrap().wait(None), Ok(None)));
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
    fn loom_the_last_handle_frees_the_cell_whether_it_is_the_completion_or_a_drop() {
        loom::model(|| {
            let future = Future::new();
            let completer = future.clone();
            let thread = loom::thread::spawn(move || completer.complete(Some(Ok(None))));
            drop(future);
            thread.join().unwrap();
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
