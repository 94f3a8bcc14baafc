//! Workers: named threads with a job queue, addressed by integer id from any thread; and the main
//! thread's queue, which the host drains from its own loop.
//!
//! A job receives a graph transferred from the caller (or a frozen one, shared) and returns a
//! result graph, transferred to whoever consumes its future. Jobs are plain functions, with no
//! captured state, as in Kotlin/Native.
//!
//! Queue invariants (one mutex and condition variable per worker): a job is either run or
//! cancelled, never lost. Cancelling a job cancels its future and disposes of its input on the
//! cancelling thread. Termination with `process_scheduled` runs everything queued (delayed jobs when
//! they come due) before the thread exits; without, it cancels everything not yet started. A worker
//! that is terminating takes no new jobs (`ErrWorkerTerminated`); deliveries sent to it are disposed.

use super::api::Object;
use super::error::{Error, Result, Status};
use super::future::Future;
use super::object;
use super::sync::spin_until;
use super::sync::{Condvar, Mutex};
use super::thread;
use super::transfer::{self, TransferMode, Transit};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The id of the main thread's queue.
pub const MAIN_WORKER: u32 = 1;

/// A unit of work on a queue. A job is held inline, so queueing one allocates nothing beyond its
/// future (boxes made on one thread and freed on another are what a worker's malloc paid most for).
pub(crate) enum Task {
    /// A job: run with its input, it completes its future; cancelled, it frees the input.
    Job { future: Arc<Future>, input: Option<Transit>, job: JobFn, mode: TransferMode },
    /// Anything else: called with `true` to run it, or `false` to cancel it.
    Other(Box<dyn FnOnce(bool) + Send>),
}

impl Task {
    pub(crate) fn new(body: impl FnOnce(bool) + Send + 'static) -> Task {
        Task::Other(Box::new(body))
    }

    pub(crate) fn run(self) {
        match self {
            Task::Job { future, input, job, mode } => future.complete(Some(run_job(input, job, mode))),
            Task::Other(body) => body(true),
        }
    }

    pub(crate) fn cancel(self) {
        match self {
            Task::Job { future, input, .. } => {
                drop(input);
                future.complete(None);
            }
            Task::Other(body) => body(false),
        }
    }
}

/// A job body as the core runs it: the input handle (owned by the job) in, a result handle out.
pub enum JobFn {
    /// A Rust API job: a plain function, called without allocating.
    Plain(fn(Option<Object>) -> Result<Option<Object>>),
    /// Any other body (a C job with its error mapping).
    Boxed(Box<dyn FnOnce(Option<u64>) -> Result<Option<u64>> + Send>),
}

impl JobFn {
    fn call(self, input: Option<u64>) -> Result<Option<u64>> {
        match self {
            JobFn::Plain(job) => job(input.map(Object::from_raw)).map(|result| result.map(Object::into_raw)),
            JobFn::Boxed(job) => job(input),
        }
    }
}

/// Called, from any thread, when work is queued for the main thread.
pub type WakeHook = Box<dyn Fn() + Send + Sync>;

enum Phase {
    Running,
    /// Asked to stop; `done` completes when the thread has exited.
    Terminating {
        done: Arc<Future>,
    },
}

struct Queue {
    ready: VecDeque<Task>,
    delayed: BTreeMap<(Instant, u64), Task>,
    sequence: u64,
    phase: Phase,
}

pub struct Worker {
    id: u32,
    name: Arc<str>,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// The thread token of the thread that runs this worker's queue.
    token: AtomicU32,
    /// Counts submissions, so that an idle worker can spin for the next one before it sleeps.
    submitted: AtomicU64,
    /// Set by a termination that cancels what is queued, batches taken by the thread included.
    cancel_queued: AtomicBool,
}

// The registries are not part of the loom models: plain parking_lot, usable in statics.
static WORKERS: parking_lot::Mutex<HashMap<u32, Arc<Worker>, BuildHasherDefault<DefaultHasher>>> =
    parking_lot::Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));
static NEXT_ID: AtomicU32 = AtomicU32::new(MAIN_WORKER + 1);
static MAIN: OnceLock<Arc<Worker>> = OnceLock::new();
static MAIN_WAKEUP: parking_lot::Mutex<Option<WakeHook>> = parking_lot::Mutex::new(None);

thread_local! {
    static CURRENT: Cell<u32> = const { Cell::new(0) };
}

impl Worker {
    fn new(id: u32, name: &str) -> Worker {
        Worker {
            id,
            name: name.into(),
            queue: Mutex::new(Queue {
                ready: VecDeque::new(),
                delayed: BTreeMap::new(),
                sequence: 0,
                phase: Phase::Running,
            }),
            wake: Condvar::new(),
            token: AtomicU32::new(0),
            submitted: AtomicU64::new(0),
            cancel_queued: AtomicBool::new(false),
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn describe(&self) -> String {
        format!("worker {} ({})", self.id, self.name)
    }

    /// Queues `task` (after `delay`). A terminating worker refuses it, and the task is cancelled.
    fn submit(&self, task: Task, delay: Option<Duration>) -> Result<()> {
        let mut queue = self.queue.lock();
        if let Phase::Terminating { .. } = queue.phase {
            drop(queue);
            task.cancel();
            return Err(Error::new(
                Status::ErrWorkerTerminated,
                format!("{} was asked to terminate and takes no new jobs", self.describe()),
            ));
        }
        match delay {
            Some(delay) => {
                queue.sequence += 1;
                let key = (Instant::now() + delay, queue.sequence);
                queue.delayed.insert(key, task);
            }
            None => queue.ready.push_back(task),
        }
        self.submitted.fetch_add(1, Ordering::Release);
        drop(queue);
        self.wake.notify_one();
        if self.id == MAIN_WORKER {
            if let Some(hook) = &*MAIN_WAKEUP.lock() {
                hook();
            }
        }
        Ok(())
    }

    /// Queues a future's delivery; a terminating worker disposes of it instead.
    pub(crate) fn enqueue_delivery(&self, task: Task) {
        let _ = self.submit(task, None);
    }

    /// Moves every ready task into the empty `batch`, waiting for one; `false` once the worker's
    /// thread must exit. Taking them all at once keeps the worker off the lock that submitters take.
    fn next_batch(&self, batch: &mut VecDeque<Task>) -> bool {
        let mut queue = self.queue.lock();
        let mut spun = false;
        loop {
            if let Some(task) = take_ready(&mut queue) {
                std::mem::swap(&mut queue.ready, batch);
                batch.push_front(task);
                return true;
            }
            if let Phase::Terminating { .. } = queue.phase {
                if queue.delayed.is_empty() {
                    return false;
                }
            }
            if !spun && queue.delayed.is_empty() {
                spun = true;
                let seen = self.submitted.load(Ordering::Acquire);
                drop(queue);
                spin_until(|| self.submitted.load(Ordering::Acquire) != seen);
                queue = self.queue.lock();
                continue;
            }
            match queue.delayed.keys().next().map(|&(due, _)| due) {
                Some(due) => {
                    self.wake.wait_until(&mut queue, due);
                }
                None => self.wake.wait(&mut queue),
            }
        }
    }

    /// The worker thread's loop: runs batches of ready tasks until the worker must exit.
    fn serve(&self) {
        let mut batch = VecDeque::new();
        while self.next_batch(&mut batch) {
            self.run_batch(&mut batch);
        }
    }

    /// Runs a batch taken by `next_batch`; once a termination without processing was asked for,
    /// the tasks not started yet are cancelled instead.
    fn run_batch(&self, batch: &mut VecDeque<Task>) {
        while let Some(task) = batch.pop_front() {
            if self.cancel_queued.load(Ordering::Acquire) {
                task.cancel();
            } else {
                task.run();
            }
        }
    }

    /// Runs the tasks that are ready now, on the worker's own thread; returns how many ran.
    pub fn process_queue(&self, max: usize) -> Result<usize> {
        let me = thread::current();
        let owner = if self.id == MAIN_WORKER { thread::main_token() } else { self.token.load(Ordering::Acquire) };
        if me != owner {
            return Err(Error::new(
                Status::ErrWrongThread,
                format!(
                    "cannot process the queue of {}: only its own thread ({}) may, and the calling thread is {}",
                    self.describe(),
                    thread::name_of(owner),
                    thread::current_name()
                ),
            ));
        }
        let mut ran = 0;
        while ran < max {
            let Some(task) = take_ready(&mut self.queue.lock()) else {
                break;
            };
            task.run();
            ran += 1;
        }
        Ok(ran)
    }

    /// Asks the worker to stop; the returned future completes when its thread has exited.
    pub fn request_termination(&self, process_scheduled: bool) -> Result<Arc<Future>> {
        if self.id == MAIN_WORKER {
            return Err(Error::new(Status::ErrInvalidArgument, "the main queue cannot be terminated"));
        }
        let mut queue = self.queue.lock();
        let done = match &queue.phase {
            Phase::Terminating { done } => return Ok(done.clone()),
            Phase::Running => Future::new(),
        };
        queue.phase = Phase::Terminating { done: done.clone() };
        let cancelled: Vec<Task> = if process_scheduled {
            Vec::new()
        } else {
            self.cancel_queued.store(true, Ordering::Release);
            let delayed = std::mem::take(&mut queue.delayed);
            queue.ready.drain(..).chain(delayed.into_values()).collect()
        };
        drop(queue);
        self.wake.notify_all();
        cancelled.into_iter().for_each(Task::cancel);
        Ok(done)
    }
}

/// Moves delayed tasks that are due to the ready queue and takes the first ready task.
fn take_ready(queue: &mut Queue) -> Option<Task> {
    // The clock is read only when a delayed task exists: most queues never have one.
    let now = if queue.delayed.is_empty() { None } else { Some(Instant::now()) };
    while let (Some(now), Some(entry)) = (now, queue.delayed.first_entry()) {
        if entry.key().0 > now {
            break;
        }
        let task = entry.remove();
        queue.ready.push_back(task);
    }
    queue.ready.pop_front()
}

/// The main thread's queue.
fn main_worker() -> Arc<Worker> {
    MAIN.get_or_init(|| Arc::new(Worker::new(MAIN_WORKER, "main"))).clone()
}

/// Starts a worker thread named `name`; returns its id, valid on every thread.
pub fn start(name: &str) -> Result<u32> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
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
    worker.token.store(thread::current(), Ordering::Release);
    CURRENT.with(|c| c.set(worker.id));
    worker.serve();
    // Before saying the thread is done: drop what other threads parked for it and its garbage
    // cycles, which its thread-exit destructors would otherwise do after the future completed.
    super::cycles::collect();
    WORKERS.lock().remove(&worker.id);
    let done = match &worker.queue.lock().phase {
        Phase::Terminating { done } => done.clone(),
        Phase::Running => unreachable!("a worker's thread exits only when asked to terminate"),
    };
    done.complete(Some(Ok(None)));
}

/// The worker with id `id` (the main queue for `MAIN_WORKER`).
pub fn lookup(id: u32) -> Result<Arc<Worker>> {
    if id == MAIN_WORKER {
        return Ok(main_worker());
    }
    WORKERS.lock().get(&id).cloned().ok_or_else(|| {
        Error::new(Status::ErrUnknownWorker, format!("no worker has id {id} (it never existed, or it has terminated)"))
    })
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

/// Registers the hook called whenever work is queued for the main thread (replacing any other).
pub fn set_main_wakeup(hook: Option<WakeHook>) {
    *MAIN_WAKEUP.lock() = hook;
}

/// Runs up to `max` ready tasks of the main queue; main thread only.
pub fn drain_main(max: usize) -> Result<usize> {
    main_worker().process_queue(max)
}

/// Schedules `job` on `worker` (after `delay`) with `input` (a graph in transit, or none); its
/// result leaves the worker's thread by `mode`.
pub(crate) fn execute(
    worker: &Worker,
    input: Option<Transit>,
    mode: TransferMode,
    job: JobFn,
    delay: Option<Duration>,
) -> Result<Arc<Future>> {
    execute_with(|task| worker.submit(task, delay), input, mode, job)
}

/// Schedules `job` on `worker` after `delay`, with a frozen input — shared: the caller keeps its
/// handle — or none.
pub(crate) fn execute_after(worker: &Worker, delay: Duration, input: Option<u64>, job: JobFn) -> Result<Arc<Future>> {
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
    execute(worker, input, TransferMode::Safe, job, Some(delay))
}

/// Makes the task that runs `job` with `input` and completes a future, and hands it to `submit`
/// (a worker's queue, a pool, a view). A cancelled task disposes of its input and cancels the future.
pub(crate) fn execute_with(
    submit: impl FnOnce(Task) -> Result<()>,
    input: Option<Transit>,
    mode: TransferMode,
    job: JobFn,
) -> Result<Arc<Future>> {
    let future = Future::new();
    submit(Task::Job { future: future.clone(), input, job, mode })?;
    Ok(future)
}

/// Runs a job on the current thread: attaches the input, calls the job (a panic is a failure),
/// detaches the result.
fn run_job(input: Option<Transit>, job: JobFn, mode: TransferMode) -> Result<Option<Transit>> {
    let input = input.map(Transit::attach).transpose()?;
    let result = catch_unwind(AssertUnwindSafe(|| job.call(input))).map_err(Error::from_panic)??;
    result
        .map(|handle| {
            transfer::detach(handle, mode).inspect_err(|_| {
                let _ = object::release(handle);
            })
        })
        .transpose()
}

/// loom models of the queue: run with `RUSTFLAGS="--cfg floe_loom" cargo test --release --lib loom`.
#[cfg(all(test, floe_loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicUsize;

    /// Two jobs raced against the worker's loop and a termination: each runs or is cancelled,
    /// exactly once, and with `process_scheduled` every one runs.
    fn every_job_runs_or_is_cancelled_once(process_scheduled: bool) {
        loom::model(move || {
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
            let _ = worker.request_termination(true);
            thread.join().unwrap();
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
