//! Workers: named threads with a job queue, addressed by integer id from any thread; and the main
//! thread's queue, which the host drains from its own loop.
//!
//! A job receives a graph transferred from the caller (or a frozen one, shared) and returns a
//! result graph, transferred to whoever consumes its future. Jobs are plain functions, with no
//! captured state, as in Kotlin/Native.
//!
//! Queue invariants: ready tasks go through a lock-free queue with many producers and one consumer
//! (`mpsc`), the thread that runs the worker; delayed tasks, termination and the sleep handshake
//! sit under one mutex. A job is either run or cancelled, never lost. Cancelling a job cancels its
//! future and disposes of its input. Termination closes the queue: every job that got in before
//! runs — or, without `process_scheduled`, is cancelled by the worker's thread as it takes it, or
//! by the terminating thread when the worker's thread is in a job (`queue_role`), and the delayed
//! ones by the terminating thread at once — and every later one is refused (`ErrWorkerTerminated`;
//! deliveries sent to it are disposed). With `process_scheduled`, the request is a task queued
//! behind the jobs, and the queue closes when the worker reaches it (Kotlin/Native's rule): until
//! then only the worker's own thread may still queue jobs; delayed jobs run when they come due,
//! before the thread exits. A panic in a task is caught in it (`Task::run`): the thread goes on.
//! The termination's future completes last on the thread, after its values are released
//! (`LAST_STEP`).
//!
//! Sleep handshake: the worker stores `sleeping` under the mutex and then looks at the queue once
//! more; a producer pushes and then reads `sleeping`; each side's write and read are SeqCst
//! (`sync::handshake_fence` says why that suffices). One of the two sees the other, and a producer
//! that sees a sleeper takes the mutex before notifying, so the worker is either still deciding or
//! already waiting.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::ranges::{elsewhere, take_id, IdRange, FIRST_TYPE_ID};
use crate::core::base::sync::{
    self, handshake_fence, spin_until, woke_a_sleeper, AtomicBool, Condvar, Mutex, ShortWait,
};
use crate::core::exec::future::Future;
use crate::core::exec::mpsc::{Look, Mpsc, Pop};
use crate::core::graph::object;
use crate::core::graph::transfer::{self, TransferMode, Transit};
use crate::core::heap::{cycles, thread};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The id of the main thread's queue.
pub const MAIN_WORKER: u32 = 1;

/// A unit of work on a queue: a handle to a future's cell, which holds the work until the task
/// takes it — a job's, or a closure's — so that queueing a job allocates nothing and a queue slot is
/// a stamp and this one pointer (16 bytes). The lines a producer writes that the worker's CPU read
/// last are what a stream of jobs pays for most: an inline job took 72 bytes.
pub(crate) struct Task(Future);

/// What a task's cell held.
pub(crate) enum Queued {
    /// A job: run, it completes its future; cancelled, it frees the input and cancels the future.
    Job(Work),
    /// Anything else (a delivery, a termination's step): called with `true` to run it, or `false`
    /// to cancel it. Its cell has no other handle and is never completed.
    Closure(Box<dyn FnOnce(bool) + Send>),
}

impl Task {
    pub(crate) fn new(body: impl FnOnce(bool) + Send + 'static) -> Task {
        Task(Future::new_closure(Box::new(body)))
    }

    /// Runs the task. A panic anywhere in it — the input's attach, the job, the result's detach, a
    /// closure's body — is caught here: a job's future fails with `ErrPanic` and the panic's
    /// message, and the thread that runs the queue goes on to its next task.
    pub(crate) fn run(self) {
        match self.0.take_work() {
            // Completed in each arm: with the outcome whole, its result went through memory in
            // pieces and was read back as one word, a read that waits for the pieces to land.
            Queued::Job(Work { input, job, mode }) => {
                match catch_unwind(AssertUnwindSafe(|| run_job(input, job, mode))).unwrap_or_else(from_panic) {
                    Ok(result) => self.0.complete(Some(Ok(result))),
                    Err(error) => self.0.complete(Some(Err(error))),
                }
            }
            Queued::Closure(body) => run_closure(body, true),
        }
    }

    /// Notes that only the threads of pool or view `executor` can complete this task's future.
    pub(crate) fn completed_in_pool(&self, executor: u32) {
        self.0.completed_in_pool(executor);
    }

    /// Cancels the task; a panic while its input is freed or in a closure's body is caught, as in `run`.
    pub(crate) fn cancel(self) {
        match self.0.take_work() {
            Queued::Job(work) => {
                let _ = catch_unwind(AssertUnwindSafe(|| drop(work)));
                self.0.complete(None);
            }
            Queued::Closure(body) => run_closure(body, false),
        }
    }
}

/// Runs a closure task's body (a delivery's callback, a termination's step), catching a panic: it
/// has no future to fail, and the panic hook has already reported it; the queue's thread goes on.
fn run_closure(body: Box<dyn FnOnce(bool) + Send>, run: bool) {
    let _ = catch_unwind(AssertUnwindSafe(move || body(run)));
}

fn from_panic<T>(payload: Box<dyn std::any::Any + Send>) -> Result<T> {
    Err(Error::from_panic(payload))
}

/// What a job runs: its input, its body, and how its result leaves the worker's thread.
pub(crate) struct Work {
    pub(crate) input: Option<Transit>,
    pub(crate) job: JobFn,
    pub(crate) mode: TransferMode,
}

/// A job body as the core runs it: the input handle (owned by the job) in, a result handle out.
/// `adapter` calls the function `target` points to, whose type and error mapping only the adapter
/// knows: the C ABI's adapter calls a `floe_job_fn`, the Rust API's a plain Rust function. Nothing
/// allocates: a job is a function pointer, as in Kotlin/Native, where it may not capture.
pub(crate) struct JobFn {
    pub(crate) adapter: fn(ForeignFn, Option<u64>) -> Result<Option<u64>>,
    pub(crate) target: ForeignFn,
}

/// A host's function pointer, its type erased; its adapter casts it back.
#[derive(Clone, Copy)]
pub(crate) struct ForeignFn(pub(crate) *const ());

// SAFETY: it points at code, which any thread may call (a foreign job runs on its worker's thread,
// as its documentation says); floe only copies it.
unsafe impl Send for ForeignFn {}

impl JobFn {
    fn call(self, input: Option<u64>) -> Result<Option<u64>> {
        (self.adapter)(self.target, input)
    }
}

/// Called, from any thread, when work is queued for the main thread or a delayed job of the main
/// queue falls due.
pub type WakeHook = Box<dyn Fn() + Send + Sync>;

enum Phase {
    Running,
    /// Asked to stop once the jobs queued before the request have run (`process_scheduled`): the
    /// request waits in the queue behind them, and until the worker reaches it, its own thread may
    /// still queue jobs (`closing`).
    Requested {
        done: Future,
    },
    /// Asked to stop; `done` completes when the thread has exited.
    Terminating {
        done: Future,
    },
}

/// What the mutex guards: the delayed tasks, in due order, and the phase.
struct Control {
    delayed: BTreeMap<(Instant, u64), Task>,
    sequence: u64,
    phase: Phase,
}

pub struct Worker {
    id: u32,
    name: Arc<str>,
    /// Tasks ready to run, in order; taken only on the thread that runs this worker's queue.
    ready: Mpsc<Task>,
    control: Mutex<Control>,
    wake: Condvar,
    /// Set by the worker's thread, under `control`, before its last look at `ready` ahead of a sleep.
    sleeping: AtomicBool,
    /// Whether `control.delayed` has tasks: a hint that spares the worker the mutex when not.
    has_delayed: AtomicBool,
    /// Set by a termination that cancels what is queued.
    cancel_queued: AtomicBool,
    /// Set once a termination was requested: from then on, only the worker's own thread may queue
    /// tasks, until its queue closes.
    closing: AtomicBool,
    /// Who may take tasks from `ready`: `IN_LOOP`, `IN_TASK` or `DRAINING` (see there).
    queue_role: sync::AtomicU32,
    /// Set just before a worker's thread leaves the registry: cached lookups then fail as it does.
    exited: AtomicBool,
    /// The thread token of the thread that runs this worker's queue.
    token: AtomicU32,
    /// The main queue's: where its timer thread (`announce_due_jobs`) waits for the next delayed
    /// job to fall due; told under `control` when one is added.
    timer: Condvar,
}

// The registries are not part of the loom models: plain parking_lot, usable in statics.
static WORKERS: parking_lot::Mutex<HashMap<u32, Arc<Worker>, BuildHasherDefault<DefaultHasher>>> =
    parking_lot::Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));
static NEXT_ID: AtomicU32 = AtomicU32::new(MAIN_WORKER + 1);
static MAIN: OnceLock<Arc<Worker>> = OnceLock::new();
/// The host's wake-up hook: cloned under the lock and called after it, so that host code never runs
/// under a floe lock (a hook may queue work for the main thread, or set the hook).
static MAIN_WAKEUP: parking_lot::Mutex<Option<Arc<dyn Fn() + Send + Sync>>> = parking_lot::Mutex::new(None);
/// Whether `MAIN_WAKEUP` holds a hook, stored under its lock: every job or result queued for the
/// main thread reads it, so that with no hook it takes no lock (two locked read-modify-writes, each
/// waiting for the stores of the task just queued: half of a main-queue submit's samples).
static MAIN_WAKEUP_SET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `queue_role`: the worker's thread takes tasks from `ready` (in its loop, or in `process_queue`).
const IN_LOOP: u32 = 0;
/// `queue_role`: the worker's thread runs (or cancels) a task, host code that may never return;
/// meanwhile a termination that cancels queued jobs may take the queue (`DRAINING`), by a
/// compare-and-swap that the thread's own, to take it back (`IN_LOOP`), excludes.
const IN_TASK: u32 = 1;
/// `queue_role`: a terminating thread takes the queued tasks out to cancel them itself, and then
/// stores `IN_TASK` back.
const DRAINING: u32 = 2;

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
    /// What a worker's or pool member's thread does last: complete its termination's future.
    /// Reached first on the thread (`reserve_last_step`), its destructor runs last — a thread runs
    /// its destructors last-registered first — so the future completes once the thread's values
    /// are released: its thread-local globals' values, its garbage cycles, the references parked
    /// for it.
    static LAST_STEP: LastStep = const { LastStep(RefCell::new(None)) };
    /// The worker this thread addressed last, so that a stream of `execute`s to one worker skips
    /// the registry's mutex and hash lookup.
    static LAST_ADDRESSED: RefCell<Option<Arc<Worker>>> = const { RefCell::new(None) };
}

/// A thread's last step, run when the thread-local goes.
struct LastStep(RefCell<Option<Box<dyn FnOnce()>>>);

impl Drop for LastStep {
    fn drop(&mut self) {
        if let Some(step) = self.0.get_mut().take() {
            step();
        }
    }
}

/// Called first on a new worker's or pool member's thread, before anything else there touches
/// floe: `LAST_STEP`'s destructor is then the thread's last.
pub(crate) fn reserve_last_step() {
    LAST_STEP.with(|_| ());
}

/// `step` is what the calling thread does last, after its other thread-exit destructors.
pub(crate) fn set_last_step(step: Box<dyn FnOnce()>) {
    LAST_STEP.with(|last| *last.0.borrow_mut() = Some(step));
}

impl Worker {
    fn new(id: u32, name: &str) -> Worker {
        Worker {
            id,
            name: name.into(),
            ready: Mpsc::new(),
            control: Mutex::new(Control { delayed: BTreeMap::new(), sequence: 0, phase: Phase::Running }),
            wake: Condvar::new(),
            sleeping: AtomicBool::new(false),
            has_delayed: AtomicBool::new(false),
            cancel_queued: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            queue_role: sync::AtomicU32::new(IN_LOOP),
            exited: AtomicBool::new(false),
            token: AtomicU32::new(0),
            timer: Condvar::new(),
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the running worker with id `id`: a cached worker whose thread has exited is not.
    fn answers(&self, id: u32) -> bool {
        self.id == id && !self.exited.load(Ordering::Acquire)
    }

    pub(crate) fn describe(&self) -> String {
        format!("worker {} ({})", self.id, self.name)
    }

    /// Queues `task` (to run once `due`). A terminating worker refuses it, and the task is cancelled.
    #[inline]
    fn submit(&self, task: Task, due: Option<Instant>) -> Result<()> {
        task.0.completed_on(self.id);
        let refused = match due {
            // Asked to terminate: the worker's own jobs may still queue work until it reaches the
            // request (`request_termination`); other threads may not.
            _ if self.closing.load(Ordering::Relaxed) && current() != self.id => Some(task),
            None => self.ready.push(task).err(),
            Some(due) => self.schedule(task, due),
        };
        if let Some(task) = refused {
            task.cancel();
            return Err(Error::new(
                Status::ErrWorkerTerminated,
                format!("{} was asked to terminate and takes no new jobs", self.describe()),
            ));
        }
        // The producer's half of the sleep handshake (see the top of this file).
        handshake_fence();
        // A delayed task wakes the worker to reset its timer; a ready one, only if it sleeps.
        let sleeping = due.is_none() && self.sleeping.load(Ordering::SeqCst);
        if due.is_some() || sleeping {
            drop(self.control.lock());
            self.wake.notify_one();
            if sleeping {
                woke_a_sleeper();
            }
        }
        // A delayed job wakes the host when it falls due (the timer), or now if it already has.
        if self.id == MAIN_WORKER && due.is_none_or(|due| due <= Instant::now()) {
            wake_main_host();
        }
        Ok(())
    }

    /// Adds a delayed task, or hands it back if the worker is terminating.
    fn schedule(&self, task: Task, due: Instant) -> Option<Task> {
        let mut control = self.control.lock();
        if let Phase::Terminating { .. } = control.phase {
            return Some(task);
        }
        control.sequence += 1;
        let key = (due, control.sequence);
        control.delayed.insert(key, task);
        self.has_delayed.store(true, Ordering::Relaxed);
        self.timer.notify_one();
        None
    }

    /// Queues a future's delivery; a terminating worker disposes of it instead.
    pub(crate) fn enqueue_delivery(&self, task: Task) {
        let _ = self.submit(task, None);
    }

    /// The next task for the worker's thread, waiting for one; `None` once the thread must exit.
    fn next_task(&self) -> Option<Task> {
        // Set when the look before sleeping found values: one may be claimed and not written yet,
        // so the next take waits for it (`pop`) rather than going round again.
        let mut claimed = false;
        loop {
            // SAFETY (here and below): `next_task` runs on the worker's own thread, the only
            // consumer of `ready` (`process_queue` checks that it is called there too). Otherwise
            // only a written task is taken, so that the queue's `tail` is read only before sleeping
            // (`pop_written`); a closed queue is found there too.
            let task = if std::mem::take(&mut claimed) {
                match unsafe { self.take_ready() } {
                    Pop::Value(task) => Some(task),
                    Pop::Empty | Pop::Closed => None,
                }
            } else {
                self.take_due().or_else(|| unsafe { self.ready.pop_written() })
            };
            if let Some(task) = task {
                return Some(task);
            }
            if spin_until(|| unsafe { self.ready.next_is_written() }) {
                continue;
            }
            // Going idle: the garbage cycles released here meanwhile (a job's result freed with its
            // future) would otherwise stay until this thread next collects.
            if cycles::has_candidates() {
                cycles::collect_local();
            }
            let mut control = self.control.lock();
            if let Some(task) = self.take_due_locked(&mut control) {
                return Some(task);
            }
            self.sleeping.store(true, Ordering::SeqCst);
            handshake_fence();
            let look = unsafe { self.ready.look() };
            let due = control.delayed.keys().next().map(|&(due, _)| due);
            match (look, due) {
                (Look::Values, _) => claimed = true,
                (Look::Closed, None) => {
                    self.sleeping.store(false, Ordering::Relaxed);
                    return None;
                }
                (_, Some(due)) => {
                    self.wake.wait_until(&mut control, due);
                }
                (Look::Empty, None) => self.wake.wait(&mut control),
            }
            self.sleeping.store(false, Ordering::Relaxed);
        }
    }

    /// The next task ready now, without waiting: a delayed task that is due first, so a busy queue
    /// does not hold it back, then the queue's next.
    ///
    /// # Safety
    /// Called on the thread that runs this worker's queue, the only consumer of `ready`.
    unsafe fn take_ready(&self) -> Pop<Task> {
        match self.take_due() {
            Some(task) => Pop::Value(task),
            // SAFETY: forwarded contract.
            None => unsafe { self.ready.pop() },
        }
    }

    /// Takes the first delayed task if it is due; takes the mutex only while there are delayed tasks.
    fn take_due(&self) -> Option<Task> {
        if !self.has_delayed.load(Ordering::Relaxed) {
            return None;
        }
        self.take_due_locked(&mut self.control.lock())
    }

    fn take_due_locked(&self, control: &mut Control) -> Option<Task> {
        let entry = control.delayed.first_entry()?;
        if entry.key().0 > Instant::now() {
            return None;
        }
        let task = entry.remove();
        self.has_delayed.store(!control.delayed.is_empty(), Ordering::Relaxed);
        Some(task)
    }

    /// The worker thread's loop: runs tasks until the worker must exit.
    fn serve(&self) {
        while let Some(task) = self.next_task() {
            self.run_or_cancel(task);
        }
    }

    /// Runs `task`, or cancels it once a termination without processing was asked for. Meanwhile
    /// the queue is free for such a termination to cancel what waits in it (`IN_TASK`).
    fn run_or_cancel(&self, task: Task) {
        // A handshake with `cancel_queued_behind_a_task` (see `sync::handshake_fence`): either this
        // sees `cancel_queued`, or the termination sees `IN_TASK` and cancels what is queued.
        self.queue_role.store(IN_TASK, Ordering::SeqCst);
        handshake_fence();
        if self.cancel_queued.load(Ordering::SeqCst) {
            task.cancel();
        } else {
            task.run();
        }
        self.take_queue_back();
    }

    /// Back from a task, takes the queue again, waiting while a terminating thread drains it.
    fn take_queue_back(&self) {
        let mut drained = ShortWait::new();
        while self.queue_role.compare_exchange(IN_TASK, IN_LOOP, Ordering::Acquire, Ordering::Relaxed).is_err() {
            drained.step();
        }
    }

    /// A termination's cancelling of the queued tasks when the worker's thread is in a task, which
    /// may never return: takes the queue (`DRAINING`) and cancels what it holds. A thread in its
    /// loop needs nothing: it sees `cancel_queued` before its next task (the handshake in
    /// `run_or_cancel`), cancels what it takes, and ends at the closed queue's end.
    fn cancel_queued_behind_a_task(&self) {
        handshake_fence();
        if self.queue_role.compare_exchange(IN_TASK, DRAINING, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            return;
        }
        let mut queued = Vec::new();
        // SAFETY: `DRAINING` makes this thread the queue's only consumer until it stores `IN_TASK`
        // back: the worker's thread is in a task, and takes the queue back only from `IN_TASK`.
        while let Pop::Value(task) = unsafe { self.ready.pop() } {
            queued.push(task);
        }
        self.queue_role.store(IN_TASK, Ordering::Release);
        queued.into_iter().for_each(Task::cancel);
    }

    /// Runs the tasks that are ready now, on the worker's own thread; returns how many ran.
    pub fn process_queue(&self, max: usize) -> Result<usize> {
        self.check_own_thread("process")?;
        // Inside one of its tasks, the thread takes its queue back for the while (see `IN_TASK`).
        let nested = self.queue_role.load(Ordering::Relaxed) != IN_LOOP;
        if nested {
            self.take_queue_back();
        }
        let mut ran = 0;
        while ran < max {
            // SAFETY: checked above: this is the worker's own thread, the only consumer of `ready`.
            let Pop::Value(task) = (unsafe { self.take_ready() }) else {
                break;
            };
            self.run_or_cancel(task);
            ran += 1;
        }
        if nested {
            self.queue_role.store(IN_TASK, Ordering::Release);
        }
        Ok(ran)
    }

    /// Fails unless the calling thread runs this worker's queue (the main thread, for the main
    /// queue): only it may `doing` the queue.
    fn check_own_thread(&self, doing: &str) -> Result<()> {
        let me = thread::current();
        let owner = if self.id == MAIN_WORKER { thread::main_token() } else { self.token.load(Ordering::Acquire) };
        if me == owner {
            return Ok(());
        }
        Err(Error::new(
            Status::ErrWrongThread,
            format!(
                "cannot {doing} the queue of {}: only its own thread ({}) may, and the calling thread is {}",
                self.describe(),
                thread::name_of(owner),
                thread::current_name()
            ),
        ))
    }

    /// Kotlin/Native's `Worker.park`: waits, on the worker's own thread, up to `timeout` (forever
    /// with `None`) until a task is ready — a job or delivery queued, or a delayed job fallen due.
    /// With `process`, then runs what is ready and returns how many ran; without, runs nothing and
    /// returns 1 if a task is ready, 0 if the time ran out. A closed queue (a terminating worker
    /// with nothing left) does not wait.
    pub fn park(&self, timeout: Option<Duration>, process: bool) -> Result<usize> {
        self.check_own_thread("park on")?;
        let deadline = timeout.and_then(crate::core::exec::future::deadline_in);
        // Inside one of its tasks, the thread takes its queue back while it looks at it, as
        // `process_queue` does: a cancelling termination may otherwise be taking from it (`IN_TASK`).
        let nested = self.queue_role.load(Ordering::Relaxed) != IN_LOOP;
        if nested {
            self.take_queue_back();
        }
        let ready = self.wait_for_work(deadline);
        if nested {
            self.queue_role.store(IN_TASK, Ordering::Release);
        }
        if process {
            self.process_queue(usize::MAX)
        } else {
            Ok(usize::from(ready))
        }
    }

    /// Sleeps until a task is ready or `deadline` passes; whether one is. The same sleep handshake
    /// as `next_task` (see the top of this file); on the worker's own thread.
    fn wait_for_work(&self, deadline: Option<Instant>) -> bool {
        loop {
            // SAFETY (here and below): `park` checked that this is the queue's own thread and holds
            // the queue (`IN_LOOP`): its only consumer.
            if unsafe { self.ready.next_is_written() } {
                return true;
            }
            let mut control = self.control.lock();
            let due = control.delayed.keys().next().map(|&(due, _)| due);
            let now = Instant::now();
            if due.is_some_and(|due| due <= now) {
                return true;
            }
            if deadline.is_some_and(|deadline| deadline <= now) {
                return false;
            }
            self.sleeping.store(true, Ordering::SeqCst);
            handshake_fence();
            let look = unsafe { self.ready.look() };
            let wake_at = match (due, deadline) {
                (Some(due), Some(deadline)) => Some(due.min(deadline)),
                (due, deadline) => due.or(deadline),
            };
            match (look, wake_at) {
                (Look::Values, _) => {
                    self.sleeping.store(false, Ordering::Relaxed);
                    return true;
                }
                (Look::Closed, _) => {
                    self.sleeping.store(false, Ordering::Relaxed);
                    return false;
                }
                (Look::Empty, Some(wake_at)) => {
                    self.wake.wait_until(&mut control, wake_at);
                }
                (Look::Empty, None) => self.wake.wait(&mut control),
            }
            self.sleeping.store(false, Ordering::Relaxed);
        }
    }

    /// The main queue's timer thread: calls the host's wake-up hook when a delayed job falls due,
    /// once for each such job, so that a host that sleeps until the hook fires runs it on time.
    fn announce_due_jobs(&self) {
        use std::ops::Bound::{Excluded, Unbounded};
        // Every delayed job due at or before this instant was announced. A job added later with an
        // earlier due time was already due when added, and `submit` announced it.
        let mut announced: Option<Instant> = None;
        let mut control = self.control.lock();
        loop {
            let after = announced.map_or(Unbounded, |instant| Excluded((instant, u64::MAX)));
            let next = control.delayed.range((after, Unbounded)).next().map(|(&(due, _), _)| due);
            match next {
                None => self.timer.wait(&mut control),
                Some(due) if due > Instant::now() => {
                    self.timer.wait_until(&mut control, due);
                }
                Some(_) => {
                    announced = Some(Instant::now());
                    drop(control);
                    wake_main_host();
                    control = self.control.lock();
                }
            }
        }
    }

    /// Asks the worker to stop; the returned future completes when its thread has exited and its
    /// values are released.
    ///
    /// With `process_scheduled`, Kotlin/Native's rule: the request is queued behind the jobs and
    /// takes effect when the worker reaches it. Other threads' jobs are refused from the moment of
    /// the request; the worker's own jobs queued before it may still queue work on their worker
    /// (`execute`, `execute_after`) until it is reached, and what they queue runs. Then the queue
    /// closes; delayed jobs run when due, and the thread exits when none is left.
    ///
    /// Without, the queue closes at once: delayed jobs are cancelled here, and queued ones by the
    /// worker's thread as it takes them — or here, when that thread is in a job (which may never
    /// return). A later request without processing turns a pending one with processing into this.
    pub fn request_termination(self: &Arc<Self>, process_scheduled: bool) -> Result<Future> {
        if self.id == MAIN_WORKER {
            return Err(Error::new(Status::ErrInvalidArgument, "the main queue cannot be terminated"));
        }
        let mut control = self.control.lock();
        let done = match &control.phase {
            Phase::Terminating { done } => return Ok(done.clone()),
            Phase::Requested { done } if process_scheduled => return Ok(done.clone()),
            Phase::Requested { done } => done.clone(),
            Phase::Running => {
                let done = Future::new();
                // Completed by this worker's thread as it exits, which it cannot do while waiting for it.
                done.completed_on(self.id);
                done
            }
        };
        if process_scheduled {
            control.phase = Phase::Requested { done: done.clone() };
            drop(control);
            let worker = self.clone();
            // Queued before `closing` is set, which would refuse it from another thread; refused
            // only if a termination without processing came in between, which closed the queue.
            let _ = self.submit(
                Task::new(move |run| {
                    if run {
                        worker.close()
                    }
                }),
                None,
            );
            self.closing.store(true, Ordering::Relaxed);
            return Ok(done);
        }
        control.phase = Phase::Terminating { done: done.clone() };
        self.closing.store(true, Ordering::Relaxed);
        self.cancel_queued.store(true, Ordering::SeqCst);
        self.has_delayed.store(false, Ordering::Relaxed);
        let cancelled = std::mem::take(&mut control.delayed);
        self.ready.close();
        drop(control);
        self.wake.notify_all();
        cancelled.into_values().for_each(Task::cancel);
        self.cancel_queued_behind_a_task();
        Ok(done)
    }

    /// A termination with processing, reached in the queue: closes it.
    fn close(&self) {
        let mut control = self.control.lock();
        if let Phase::Requested { done } = &control.phase {
            control.phase = Phase::Terminating { done: done.clone() };
        }
        self.ready.close();
    }
}

/// The main thread's queue. Made closed if the main thread has exited already.
fn main_worker() -> &'static Arc<Worker> {
    if let Some(main) = MAIN.get() {
        return main;
    }
    let mut made = false;
    let main = MAIN.get_or_init(|| {
        made = true;
        Arc::new(Worker::new(MAIN_WORKER, "main"))
    });
    if made {
        // Either the main thread's exit finds the hook, or this finds that it has exited.
        thread::on_main_exit(close_main_queue);
        if thread::main_has_exited() {
            close_main_queue();
        }
    }
    main
}

/// When the main thread exits (in its last thread-local destructor): nothing will drain the main
/// queue again, so it closes — later jobs and deliveries for it are refused — and what waits in it
/// is cancelled: jobs' futures fail with `ErrCancelled`, deliveries are called back with
/// `ErrWorkerTerminated`. Once only.
fn close_main_queue() {
    let main = main_worker();
    let mut control = main.control.lock();
    if let Phase::Terminating { .. } = control.phase {
        return;
    }
    let done = Future::new();
    control.phase = Phase::Terminating { done: done.clone() };
    main.cancel_queued.store(true, Ordering::Release);
    main.exited.store(true, Ordering::Release);
    main.has_delayed.store(false, Ordering::Relaxed);
    let delayed = std::mem::take(&mut control.delayed);
    main.ready.close();
    drop(control);
    delayed.into_values().for_each(Task::cancel);
    // SAFETY: the main thread, the queue's consumer, is exiting or gone: this call, the one that
    // left `Running` above, is the only consumer now.
    while let Pop::Value(task) = unsafe { main.ready.pop() } {
        task.cancel();
    }
    done.complete(Some(Ok(None)));
}

/// The main queue if the main thread has not exited; else `ErrWorkerTerminated`.
fn running_main() -> Result<&'static Arc<Worker>> {
    let main = main_worker();
    if !main.exited.load(Ordering::Acquire) {
        return Ok(main);
    }
    Err(Error::new(
        Status::ErrWorkerTerminated,
        format!(
            "the main thread ({}) has exited: nothing will drain the main queue, so it takes no jobs or \
             deliveries (what waited in it was cancelled)",
            thread::name_of(thread::main_token())
        ),
    ))
}

/// Starts a worker thread named `name`; returns its id, valid on every thread.
pub fn start(name: &str) -> Result<u32> {
    let name = thread_name(name)?;
    let id = take_id(&NEXT_ID, FIRST_TYPE_ID, "workers")?;
    let worker = Arc::new(Worker::new(id, name));
    WORKERS.lock().insert(id, worker.clone());
    let thread_worker = worker.clone();
    std::thread::Builder::new().name(name.to_owned()).spawn(move || run(thread_worker)).map_err(|e| {
        WORKERS.lock().remove(&id);
        Error::new(Status::ErrLimit, format!("cannot start worker {name:?}: {e}"))
    })?;
    Ok(id)
}

fn run(worker: Arc<Worker>) {
    reserve_last_step();
    worker.token.store(thread::current(), Ordering::Release);
    CURRENT.with(|c| c.set(worker.id));
    worker.serve();
    worker.exited.store(true, Ordering::Release);
    WORKERS.lock().remove(&worker.id);
    let done = match &worker.control.lock().phase {
        Phase::Requested { done } | Phase::Terminating { done } => done.clone(),
        Phase::Running => unreachable!("a worker's thread exits only when asked to terminate"),
    };
    set_last_step(Box::new(move || done.complete(Some(Ok(None)))));
}

/// The worker with id `id` (the main queue for `MAIN_WORKER`). The worker that the calling thread
/// addressed last is found without the registry, unless its thread has exited.
pub fn lookup(id: u32) -> Result<Arc<Worker>> {
    if id == MAIN_WORKER {
        return running_main().cloned();
    }
    let cached = LAST_ADDRESSED.try_with(|last| {
        // Borrowed by a `with_worker` that re-entered here: leave the cache as it is.
        let Ok(mut last) = last.try_borrow_mut() else {
            return registered(id).map(|worker| (worker, None));
        };
        match &*last {
            Some(worker) if worker.answers(id) => Ok((worker.clone(), None)),
            _ => registered(id).map(|worker| (worker.clone(), last.replace(worker))),
        }
    });
    // The worker replaced in the cache is dropped here, outside the borrow.
    let (worker, _replaced) = cached.unwrap_or_else(|_| registered(id).map(|worker| (worker, None)))?;
    Ok(worker)
}

/// Calls `f` with the worker with id `id`, as `lookup` finds it, but lending the cached worker
/// rather than cloning its `Arc`: a stream of `execute`s to one worker then makes no
/// read-modify-write on the worker's count, each of which would wait for the stream's earlier
/// writes to land. `f` may call `lookup` (it then bypasses the cache).
#[inline]
pub(crate) fn with_worker<R>(id: u32, f: impl FnOnce(&Worker) -> Result<R>) -> Result<R> {
    if id == MAIN_WORKER {
        return f(running_main()?);
    }
    let mut f = Some(f);
    let lent = LAST_ADDRESSED.try_with(|last| {
        let last = last.try_borrow().ok()?;
        let worker = last.as_ref().filter(|worker| worker.answers(id))?;
        f.take().map(|f| f(worker))
    });
    match (lent, f) {
        (Ok(Some(result)), _) => result,
        (_, f) => f.expect("`f` is taken only when a worker is lent")(&*lookup(id)?),
    }
}

/// The running worker with id `id`, from the registry.
fn registered(id: u32) -> Result<Arc<Worker>> {
    WORKERS.lock().get(&id).cloned().ok_or_else(|| {
        let why = match IdRange::of(id) {
            Some(IdRange::Pools) => {
                "that is a pool's or a view's id: its jobs go through floe_pool_execute (Pool::execute)".to_string()
            }
            _ => elsewhere(id, IdRange::Workers).unwrap_or_else(|| "it never existed, or it has terminated".into()),
        };
        Error::new(Status::ErrUnknownWorker, format!("no worker has id {id} ({why})"))
    })
}

/// `name`, if it can name a thread: std refuses, by panicking, a name with a NUL byte in it.
pub(crate) fn thread_name(name: &str) -> Result<&str> {
    if name.contains('\0') {
        return Err(Error::new(
            Status::ErrInvalidArgument,
            format!("a thread's name may not hold a NUL byte: {name:?}"),
        ));
    }
    Ok(name)
}

/// The id of the worker running on the calling thread: `MAIN_WORKER` on the main thread, 0 on a
/// thread that is no worker.
pub fn current() -> u32 {
    match CURRENT.with(Cell::get) {
        0 if thread::is_main() => MAIN_WORKER,
        id => id,
    }
}

/// Workers started and not yet terminated (the main queue excluded).
pub fn running() -> Vec<Arc<Worker>> {
    WORKERS.lock().values().cloned().collect()
}

thread_local! {
    /// How many calls of the wake-up hook are under way on this thread.
    static IN_WAKEUP: Cell<u32> = const { Cell::new(0) };
}

/// Registers the hook called whenever work is queued for the main thread or a delayed job of the
/// main queue falls due (replacing any other). Returns once no call of the replaced hook is under
/// way, but one on the calling thread (a hook that replaces itself): so what it used may go.
pub fn set_main_wakeup(hook: Option<WakeHook>) {
    let replaced = {
        let mut registered = MAIN_WAKEUP.lock();
        MAIN_WAKEUP_SET.store(hook.is_some(), Ordering::Release);
        std::mem::replace(&mut *registered, hook.map(Arc::from))
    };
    let Some(replaced) = replaced else { return };
    // Each call under way holds a clone; a thread inside a hook never waits here, so no two wait
    // for each other.
    let own_calls = IN_WAKEUP.try_with(Cell::get).unwrap_or(0) as usize;
    while Arc::strong_count(&replaced) > 1 + own_calls {
        std::thread::yield_now();
    }
}

/// Calls the host's wake-up hook, if any, with no floe lock held.
fn wake_main_host() {
    if !MAIN_WAKEUP_SET.load(Ordering::Acquire) {
        return;
    }
    let hook = MAIN_WAKEUP.lock().clone();
    let Some(hook) = hook else { return };
    /// Counts the call in `IN_WAKEUP` until it returns, and then lets the hook's clone go.
    struct Calling(Arc<dyn Fn() + Send + Sync>);
    impl Drop for Calling {
        fn drop(&mut self) {
            let _ = IN_WAKEUP.try_with(|calls| calls.set(calls.get() - 1));
        }
    }
    let _ = IN_WAKEUP.try_with(|calls| calls.set(calls.get() + 1));
    let calling = Calling(hook);
    (calling.0)();
}

/// Runs up to `max` ready tasks of the main queue; main thread only.
pub fn drain_main(max: usize) -> Result<usize> {
    main_worker().process_queue(max)
}

/// `Worker::park` for the main queue; main thread only.
pub fn park_main(timeout: Option<Duration>, process: bool) -> Result<usize> {
    main_worker().park(timeout, process)
}

/// Starts the main queue's timer thread (`Worker::announce_due_jobs`) unless it runs already.
fn start_main_timer() -> Result<()> {
    static STARTED: parking_lot::Mutex<bool> = parking_lot::Mutex::new(false);
    let mut started = STARTED.lock();
    if !*started {
        std::thread::Builder::new()
            .name("floe-main-timer".into())
            .spawn(|| main_worker().announce_due_jobs())
            .map_err(|e| Error::new(Status::ErrLimit, format!("cannot start the main queue's timer thread: {e}")))?;
        *started = true;
    }
    Ok(())
}

/// The longest delay `execute_after` takes: the deadlines floe reports are int64 milliseconds.
pub(crate) const MAX_DELAY: Duration = Duration::from_millis(i64::MAX as u64);

/// Schedules `job` with `input` (a graph in transit, or none) on the worker with id `id`, lent
/// rather than cloned (`with_worker`); its result leaves the worker's thread by `mode`.
#[inline]
pub(crate) fn execute_on(id: u32, input: Option<Transit>, mode: TransferMode, job: JobFn) -> Result<Future> {
    // The task is made first, so that what `with_worker` carries to the worker is a handle.
    execute_with(|task| with_worker(id, |worker| worker.submit(task, None)), input, mode, job)
}

/// Schedules `job` on `worker` after `delay`, with a frozen input — shared: the caller keeps its
/// handle — or none.
pub(crate) fn execute_after(worker: &Worker, delay: Duration, input: Option<u64>, job: JobFn) -> Result<Future> {
    let due = Some(delay).filter(|&delay| delay <= MAX_DELAY).and_then(crate::core::exec::future::deadline_in);
    let Some(due) = due else {
        return Err(Error::new(
            Status::ErrInvalidArgument,
            format!(
                "a delay of {} ms ({delay:?}) cannot be a deadline: the longest is {} ms; the job would never run",
                delay.as_millis(),
                MAX_DELAY.as_millis()
            ),
        ));
    };
    if worker.id == MAIN_WORKER {
        start_main_timer()?;
    }
    let input = match input {
        None => None,
        Some(handle) if !object::is_frozen(handle)? => {
            return Err(Error::new(
                Status::ErrNotFrozen,
                "execute_after takes a frozen input (shared by every run) or none; freeze it, or use execute",
            ))
        }
        Some(handle) => Some(transfer::detach(object::retain(handle)?, TransferMode::Safe)?),
    };
    execute_with(|task| worker.submit(task, Some(due)), input, TransferMode::Safe, job)
}

/// Makes the task that runs `job` with `input` and completes a future, and hands it to `submit`
/// (a worker's queue, a pool, a view). A cancelled task disposes of its input and cancels the future.
/// Always inlined: out of line, the job (two words, which the caller had just stored one by one)
/// came by reference and was read back as one, a read that waited for the stores to land.
#[inline(always)]
pub(crate) fn execute_with(
    submit: impl FnOnce(Task) -> Result<()>,
    input: Option<Transit>,
    mode: TransferMode,
    job: JobFn,
) -> Result<Future> {
    let (future, completer) = Future::new_job(Work { input, job, mode });
    submit(Task(completer))?;
    Ok(future)
}

/// Runs a job on the current thread: attaches the input, calls the job, detaches the result. A
/// panic in any of the three is caught by the caller, `Task::run`.
fn run_job(input: Option<Transit>, job: JobFn, mode: TransferMode) -> Result<Option<Transit>> {
    let input = input.map(Transit::attach).transpose()?;
    let result = job.call(input)?;
    #[cfg(all(test, not(floe_loom)))]
    tests::panic_if_injected();
    result
        .map(|handle| {
            transfer::detach(handle, mode).inspect_err(|_| {
                let _ = object::release(handle);
            })
        })
        .transpose()
}

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::*;

    thread_local! {
        /// Set by a job to make `run_job` panic after the job returned, where the result's detach
        /// runs: a fault that reaches the queue's loop outside the job's body.
        static INJECTED_PANIC: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn panic_if_injected() {
        if INJECTED_PANIC.with(|injected| injected.replace(false)) {
            panic!("injected: the result's detach panicked");
        }
    }

    fn injects_a_panic(_: ForeignFn, _: Option<u64>) -> Result<Option<u64>> {
        INJECTED_PANIC.with(|injected| injected.set(true));
        Ok(None)
    }

    fn returns_nothing(_: ForeignFn, _: Option<u64>) -> Result<Option<u64>> {
        Ok(None)
    }

    fn job(adapter: fn(ForeignFn, Option<u64>) -> Result<Option<u64>>) -> JobFn {
        JobFn { adapter, target: ForeignFn(std::ptr::null()) }
    }

    /// A panic outside the job's body fails that job's future with its message; the thread that
    /// runs the queue — a worker's, a pool member's — runs the next job.
    #[test]
    fn a_panic_after_the_job_returned_fails_its_future_and_the_queue_goes_on() {
        const WAIT: Option<Duration> = Some(Duration::from_secs(10));
        let worker = start("panic outside the job").unwrap();
        let pool = crate::core::exec::pool::start("panic outside the job", 1).unwrap();
        let on_worker = |adapter| execute_on(worker, None, TransferMode::Safe, job(adapter)).unwrap();
        let executor = crate::core::exec::pool::lookup(pool).unwrap();
        let on_pool =
            |adapter| execute_with(|task| executor.submit(task), None, TransferMode::Safe, job(adapter)).unwrap();
        for execute in [&on_worker as &dyn Fn(_) -> Future, &on_pool] {
            let failed = execute(injects_a_panic).wait(WAIT).unwrap_err();
            assert_eq!(failed.status(), Status::ErrPanic, "{}", failed.message());
            assert!(failed.message().contains("injected: the result's detach panicked"), "{}", failed.message());
            assert!(matches!(execute(returns_nothing).wait(WAIT), Ok(None)), "the next job runs");
        }
        assert!(matches!(lookup(worker).unwrap().request_termination(true).unwrap().wait(WAIT), Ok(None)));
        assert!(matches!(executor.request_termination(true).wait(WAIT), Ok(None)));
    }

    #[test]
    fn a_queued_job_is_a_handle() {
        assert_eq!(std::mem::size_of::<Task>(), 8, "a task's work lives in its future's cell");
    }

    #[test]
    fn a_lookup_inside_with_worker_leaves_the_lent_worker_alone_and_an_exited_one_is_not_lent() {
        let (lent, other) = (start("lent").unwrap(), start("other").unwrap());
        with_worker(lent, |_| Ok(())).unwrap();
        let inner = with_worker(lent, |worker| {
            assert_eq!(worker.id(), lent);
            lookup(other).map(|worker| worker.id())
        });
        assert_eq!(inner.unwrap(), other);
        assert_eq!(with_worker(lent, |worker| Ok(worker.id())).unwrap(), lent, "still lent after the inner lookup");
        // `lent` last, so that the cache holds it when its thread has exited.
        for id in [other, lent] {
            assert!(matches!(lookup(id).unwrap().request_termination(true).unwrap().wait(None), Ok(None)));
        }
        assert_eq!(with_worker(lent, |_| Ok(())).unwrap_err().status(), Status::ErrUnknownWorker);
    }
}

/// loom models of the queue: run with `RUSTFLAGS="--cfg floe_loom" cargo test --release --lib loom`.
#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;
    use crate::core::base::sync::bounded_model;
    use loom::sync::atomic::AtomicUsize;

    const PREEMPTIONS: usize = 3;

    /// Two jobs raced against the worker's loop and a termination: each runs or is cancelled,
    /// exactly once, and with `process_scheduled` every one runs.
    fn every_job_runs_or_is_cancelled_once(process_scheduled: bool) {
        bounded_model(PREEMPTIONS, move || {
            let worker = Arc::new(Worker::new(2, "modelled"));
            let (ran, cancelled) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let looping = worker.clone();
            let thread = loom::thread::spawn(move || {
                looping.serve();
            });
            for _ in 0..2 {
                let (ran, cancelled) = (ran.clone(), cancelled.clone());
                let _ = worker.submit(
                    Task::new(move |run| {
                        let counter = if run { &ran } else { &cancelled };
                        counter.fetch_add(1, Ordering::SeqCst);
                    }),
                    None,
                );
            }
            let _ = worker.request_termination(process_scheduled);
            thread.join().unwrap();
            let (ran, cancelled) = (ran.load(Ordering::SeqCst), cancelled.load(Ordering::SeqCst));
            assert_eq!(ran + cancelled, 2);
            if process_scheduled {
                assert_eq!(ran, 2);
            }
        });
    }

    /// A job submitted to an idle worker runs with no other nudge (no lost wake-up): the submitter
    /// waits for it before anything else happens.
    #[test]
    fn loom_a_submitted_job_wakes_the_idle_worker() {
        loom::model(|| {
            let worker = Arc::new(Worker::new(2, "modelled"));
            let looping = worker.clone();
            let thread = loom::thread::spawn(move || {
                looping.serve();
            });
            let done = Future::new();
            let completing = done.clone();
            worker.submit(Task::new(move |_| completing.complete(Some(Ok(None)))), None).unwrap();
            assert!(matches!(done.wait(None), Ok(None)));
            // Without processing: a termination with processing is one more task through the queue,
            // which this unbounded model need not explore (the models below do, bounded).
            let _ = worker.request_termination(false);
            thread.join().unwrap();
        });
    }

    /// `deliver_to` raced against the completion: the delivery is queued once, by whichever side
    /// comes second, and runs on the target worker's thread with the outcome.
    #[test]
    fn loom_a_delivery_asked_for_while_the_job_completes_runs_once() {
        bounded_model(PREEMPTIONS, || {
            let target = Arc::new(Worker::new(2, "target"));
            let serving = target.clone();
            let server = loom::thread::spawn(move || serving.serve());
            let future = Future::new();
            let completer = future.clone();
            let completing = loom::thread::spawn(move || completer.complete(Some(Ok(None))));
            let runs = Arc::new(AtomicUsize::new(0));
            let counted = runs.clone();
            let callback = move |outcome: crate::core::exec::future::Outcome| {
                assert!(matches!(outcome, Ok(None)), "the job's outcome");
                counted.fetch_add(1, Ordering::SeqCst);
            };
            future.deliver_to(target.clone(), Box::new(callback)).unwrap();
            completing.join().unwrap();
            // Terminating with the queue processed runs the delivery first, whichever side queued it.
            let _ = target.request_termination(true);
            server.join().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 1, "delivered once");
        });
    }

    #[test]
    fn loom_termination_processing_scheduled_jobs_runs_them_all() {
        every_job_runs_or_is_cancelled_once(true);
    }

    #[test]
    fn loom_termination_without_processing_cancels_the_rest() {
        every_job_runs_or_is_cancelled_once(false);
    }
}
