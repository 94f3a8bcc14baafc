//! The safe Rust API for sharing and moving graphs between threads: `DetachedGraph`, `Worker`,
//! `Future`, `MainQueue`, `Pool`, `Global`, `SharedCell`. Jobs are plain `fn` items — no captured state, as in Kotlin/Native: a job that
//! needs data gets it as its input graph.

use crate::api::object::{Object, Runtime};
use crate::core::base::error::{Error, Result};
use crate::core::exec::future::{self as core_future, FutureState};
use crate::core::exec::pool;
use crate::core::exec::shutdown::{self, ShutdownReport};
use crate::core::exec::worker::{self, ForeignFn, JobFn, MAIN_WORKER};
use crate::core::graph::transfer::{self, TransferMode, Transit};
use crate::core::shared::global::{self, GlobalMode};
use crate::core::shared::shared_data::{self, SharedData};
use std::fmt;
use std::time::Duration;

/// A job: runs on a worker with its input graph (owned by the job), returns a result graph.
pub type Job = fn(Option<Object>) -> Result<Option<Object>>;

/// `job` as the engine runs jobs: behind the adapter below, as the C ABI hands over its own.
fn rust_job(job: Job) -> JobFn {
    JobFn { adapter: run_rust_job, target: ForeignFn(job as *const ()) }
}

/// The Rust API's adapter: calls the `Job` that `rust_job` erased into `target`, with the input
/// handle wrapped in an `Object` and the result's unwrapped.
fn run_rust_job(target: ForeignFn, input: Option<u64>) -> Result<Option<u64>> {
    // SAFETY: `rust_job` made `target` from a `Job`, the type given back here.
    let job = unsafe { std::mem::transmute::<*const (), Job>(target.0) };
    job(input.map(Object::from_raw)).map(|result| result.map(Object::into_raw))
}

/// A failed detach: the error, and the object, still owned by the caller.
#[derive(Debug)]
pub struct TransferError {
    pub error: Error,
    pub object: Object,
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for TransferError {}

impl From<TransferError> for Error {
    fn from(failed: TransferError) -> Error {
        failed.error
    }
}

/// A graph detached from its thread, owned by no thread until attached — once, on any thread.
/// Dropped unattached, it is attached to the dropping thread and released.
///
/// ```
/// use floe::{Object, Status, TransferMode};
/// let list = Object::new_list()?;
/// list.push_int(7)?;
/// let kept = list.try_clone()?; // a second reference from outside the graph...
/// let refused = list.detach(TransferMode::Safe).unwrap_err(); // ...so a SAFE detach refuses
/// assert_eq!(refused.error.status(), Status::ErrNotTransferable);
/// drop(kept);
/// let graph = refused.object.detach(TransferMode::Safe)?; // moved nothing before; moves now
/// let seven = std::thread::spawn(move || graph.attach()?.get_int(0)).join().unwrap()?;
/// assert_eq!(seven, 7);
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Debug)]
pub struct DetachedGraph(Transit);

impl Object {
    /// Detaches this object's graph from the calling thread. `Safe` refuses, moving nothing, when
    /// anything outside the graph refers into it; `Unsafe` skips that check (left-behind references
    /// then fail on use). A frozen object is shared, not moved.
    pub fn detach(self, mode: TransferMode) -> std::result::Result<DetachedGraph, TransferError> {
        match transfer::detach(self.handle(), mode) {
            Ok(transit) => {
                let _ = self.into_raw();
                Ok(DetachedGraph(transit))
            }
            Err(error) => Err(TransferError { error, object: self }),
        }
    }
}

impl DetachedGraph {
    /// Gives the graph to the calling thread.
    pub fn attach(self) -> Result<Object> {
        self.0.attach().map(Object::from_raw)
    }
}

/// A worker: a thread with a job queue, addressed by id from any thread. `Worker::MAIN` is the
/// main thread's queue, which the host drains with [`MainQueue::drain`].
///
/// ```
/// use floe::{Object, TransferMode, Worker};
/// fn double(input: Option<Object>) -> floe::Result<Option<Object>> {
///     let list = input.expect("a list comes with the job");
///     list.set_int(0, list.get_int(0)? * 2)?;
///     Ok(Some(list))
/// }
/// let worker = Worker::start("doubler")?;
/// let list = Object::new_list()?;
/// list.push_int(21)?;
/// let future = worker.execute(Some(list.detach(TransferMode::Safe)?), TransferMode::Safe, double)?;
/// assert_eq!(future.result(None)?.unwrap().get_int(0)?, 42);
/// worker.request_termination(true)?.result(None)?; // completes once its thread has exited
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Worker(u32);

impl Worker {
    pub const MAIN: Worker = Worker(MAIN_WORKER);

    /// Starts a worker thread with this name (also its thread's name in messages).
    pub fn start(name: &str) -> Result<Worker> {
        worker::start(name).map(Worker)
    }

    /// The worker with this id, if it is running.
    pub fn from_id(id: u32) -> Result<Worker> {
        worker::lookup(id).map(|_| Worker(id))
    }

    /// The workers running now, in no particular order (neither `MAIN` nor pools' threads).
    pub fn running() -> Vec<Worker> {
        worker::running().iter().map(|w| Worker(w.id())).collect()
    }

    /// The worker whose thread is calling (`MAIN` on the main thread), if any.
    pub fn current() -> Option<Worker> {
        Some(worker::current()).filter(|&id| id != 0).map(Worker)
    }

    pub fn id(self) -> u32 {
        self.0
    }

    /// Runs `job` on this worker with `input`; the future delivers its result graph.
    pub fn execute(self, input: Option<DetachedGraph>, result_mode: TransferMode, job: Job) -> Result<Future> {
        worker::execute_on(self.0, input.map(|g| g.0), result_mode, rust_job(job)).map(Future)
    }

    /// Runs `job` after `delay`, with a frozen input (shared, not moved) or none. A delay longer
    /// than `i64::MAX` milliseconds is refused (`ErrInvalidArgument`): no deadline is that far.
    /// A termination with `process_scheduled` waits for delayed jobs to fall due and runs them; one
    /// without cancels them at once.
    pub fn execute_after(self, delay: Duration, input: Option<&Object>, job: Job) -> Result<Future> {
        let worker = worker::lookup(self.0)?;
        worker::execute_after(&worker, delay, input.map(Object::handle), rust_job(job)).map(Future)
    }

    /// Asks the worker to stop. With `process_scheduled`, Kotlin/Native's rule: the request is
    /// queued behind the jobs and takes effect when the worker reaches it, so a job queued before it
    /// may still `execute` or `execute_after` on its own worker, and what it queues runs; other
    /// threads are refused (`ErrWorkerTerminated`) from the request on. Without, every job not yet
    /// started is cancelled at once, even behind a job that never returns. The future completes
    /// when the worker's thread has exited and its values (thread-local globals' values, garbage
    /// cycles) are released. A panic in anything the worker runs for a job fails that job's future
    /// with `ErrPanic`; the worker goes on. Garbage cycles freed on a worker are collected when it
    /// next goes idle.
    pub fn request_termination(self, process_scheduled: bool) -> Result<Future> {
        worker::lookup(self.0)?.request_termination(process_scheduled).map(Future)
    }

    /// Runs the jobs queued for this worker now, on its own thread (inside one of its jobs, or on
    /// the main thread for `MAIN`); returns how many ran.
    pub fn process_queue(self) -> Result<usize> {
        worker::lookup(self.0)?.process_queue(usize::MAX)
    }

    /// Kotlin/Native's `Worker.park`, on this worker's own thread (inside one of its jobs; the main
    /// thread for `MAIN`): waits up to `timeout` (forever with `None`) until a task is ready — a
    /// job or delivery queued, or a delayed job fallen due. With `process`, then runs what is ready
    /// and returns how many ran; without, runs nothing and returns 1 if a task is ready, 0 if the
    /// time ran out.
    pub fn park(self, timeout: Option<Duration>, process: bool) -> Result<usize> {
        worker::lookup(self.0)?.park(timeout, process)
    }
}

/// The main thread's queue: results and jobs sent to `Worker::MAIN` wait here until the host's own
/// loop drains them. A host loop either sleeps until the wake-up hook fires and then drains, or
/// parks in [`MainQueue::park`]; either way delayed jobs run when they fall due. When the main
/// thread exits, the queue closes: what waits in it is cancelled, and later jobs and deliveries for
/// it fail with `ErrWorkerTerminated` (no other thread becomes main).
///
/// ```
/// use floe::{MainQueue, Object, Runtime, TransferMode, Worker};
/// fn answer(_: Option<Object>) -> floe::Result<Option<Object>> {
///     let list = Object::new_list()?;
///     list.push_int(42)?;
///     Ok(Some(list))
/// }
/// fn show(result: floe::Result<Option<Object>>) {
///     assert!(Runtime::is_main_thread()); // the result is attached here, on the main thread
///     assert_eq!(result.unwrap().unwrap().get_int(0).unwrap(), 42);
/// }
/// Runtime::init()?;
/// let (poke, woken) = std::sync::mpsc::channel();
/// MainQueue::set_wakeup(Some(Box::new(move || drop(poke.send(()))))); // the host loop's doorbell
/// let worker = Worker::start("background")?;
/// worker.execute(None, TransferMode::Safe, answer)?.deliver_to(Worker::MAIN, show)?;
/// woken.recv().unwrap();
/// assert_eq!(MainQueue::drain(16)?, 1); // ran `show`
/// MainQueue::set_wakeup(None);
/// # worker.request_termination(true)?.result(None)?;
/// # Ok::<(), floe::Error>(())
/// ```
pub struct MainQueue;

impl MainQueue {
    /// Runs up to `max` ready tasks; main thread only. Returns how many ran.
    pub fn drain(max: usize) -> Result<usize> {
        worker::drain_main(max)
    }

    /// Waits up to `timeout` (forever with `None`) until a task of the main queue is ready — queued,
    /// or a delayed job fallen due — then, with `process`, runs what is ready; main thread only.
    /// Returns how many ran (without `process`: 1 if a task is ready, 0 if the time ran out). See
    /// [`Worker::park`].
    pub fn park(timeout: Option<Duration>, process: bool) -> Result<usize> {
        worker::park_main(timeout, process)
    }

    /// Sets the hook called, from any thread, whenever work is queued for the main thread, and when
    /// a delayed job of the main queue falls due (from floe's timer thread) — to poke the host's run
    /// loop. `None` removes it. The hook runs with no floe lock held: it may queue work for the main
    /// thread, or set the hook. Returns once no call of the replaced hook is under way (but one on
    /// the calling thread).
    pub fn set_wakeup(hook: Option<Box<dyn Fn() + Send + Sync>>) {
        worker::set_main_wakeup(hook)
    }
}

/// The outcome of a job. Its result graph is consumed once, attached to the consuming thread.
///
/// ```
/// use floe::{Error, FutureState, Object, Status, TransferMode, Worker};
/// use std::time::Duration;
/// fn refuse(_: Option<Object>) -> floe::Result<Option<Object>> {
///     Err(Error::host("order 45 has no lines"))
/// }
/// let worker = Worker::start("checks")?;
/// let future = worker.execute(None, TransferMode::Safe, refuse)?;
/// let failure = future.result(Some(Duration::from_secs(10))).unwrap_err();
/// assert_eq!((failure.status(), future.state()), (Status::ErrHost, FutureState::Failed));
/// assert!(failure.message().contains("order 45 has no lines"));
/// # worker.request_termination(true)?.result(None)?;
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone)]
pub struct Future(pub(crate) core_future::Future);

impl fmt::Debug for Future {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Future").field(&self.state()).finish()
    }
}

impl Future {
    pub fn state(&self) -> FutureState {
        self.0.state()
    }

    /// Waits (up to `timeout`, or forever) and takes the result: `Ok(None)` for a job that
    /// returned nothing; the job's own error (status and message) for a failed one. A timeout of
    /// zero is a poll: `ErrTimeout` at once for a job not finished, the future left as it was.
    pub fn result(&self, timeout: Option<Duration>) -> Result<Option<Object>> {
        Ok(self.0.wait(timeout)?.map(Object::from_raw))
    }

    /// Waits for the result and hands it to `f` on the calling thread (Kotlin's `consume`).
    pub fn consume<R>(&self, timeout: Option<Duration>, f: impl FnOnce(Option<Object>) -> R) -> Result<R> {
        self.result(timeout).map(f)
    }

    /// Delivers the outcome to `worker`'s queue: `callback` runs on that worker's thread, where the
    /// result graph is attached (for `Worker::MAIN`, when the host drains the main queue). A panic
    /// in `callback` is caught there (the panic hook reports it); the worker goes on.
    pub fn deliver_to(&self, worker: Worker, callback: fn(Result<Option<Object>>)) -> Result<()> {
        let target = worker::lookup(worker.0)?;
        self.0.deliver_to(target, Box::new(move |outcome| callback(outcome.map(|r| r.map(Object::from_raw)))))
    }

    /// Waits until one of `futures` finishes; returns its index.
    pub fn wait_any(futures: &[&Future], timeout: Option<Duration>) -> Result<usize> {
        let inner: Vec<core_future::Future> = futures.iter().map(|f| f.0.clone()).collect();
        core_future::wait_any(&inner, timeout)
    }
}

/// A named global of one of Kotlin/Native's three kinds, made lazily by its initialiser.
///
/// ```
/// use floe::{Global, GlobalMode, Object};
/// fn defaults() -> floe::Result<Option<Object>> {
///     let settings = Object::new_list()?;
///     settings.push_string("en")?;
///     Ok(Some(settings))
/// }
/// let settings = Global::define("settings", GlobalMode::SharedImmutable, defaults)?;
/// let language = std::thread::spawn(move || settings.get()?.unwrap().get_string(0)).join().unwrap()?;
/// assert_eq!(language, "en");
/// assert!(settings.get()?.unwrap().is_frozen()?); // made once, frozen, shared by every thread
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Global(u32);

impl Global {
    /// Defines a global. `init` runs on the thread that first needs a value (every thread, for a
    /// thread-local global); a shared-immutable value is frozen before anyone sees it.
    pub fn define(name: &str, mode: GlobalMode, init: fn() -> Result<Option<Object>>) -> Result<Global> {
        global::define(name, mode, Box::new(move || init().map(|v| v.map(Object::into_raw)))).map(Global)
    }

    pub fn id(self) -> u32 {
        self.0
    }

    /// The value on the calling thread (a new reference), initialising it first if needed.
    pub fn get(self) -> Result<Option<Object>> {
        Ok(global::get(self.0)?.map(Object::from_raw))
    }

    /// Drops the value (this thread's, for a thread-local global); the next `get` initialises again.
    pub fn reset(self) -> Result<()> {
        global::reset(self.0)
    }
}

/// Kotlin/Native's `SharedData` for Rust statics: `static CONFIG: SharedCell = SharedCell::new();`.
/// The same struct C code keeps in its globals (`floe_shared_data`).
///
/// ```
/// use floe::{Object, SharedCell, TransferMode};
/// static CONFIG: SharedCell = SharedCell::new();
/// let v1 = Object::new_list()?;
/// v1.push_int(1)?;
/// v1.freeze(Some("config v1"))?;
/// CONFIG.publish(Some(&v1))?; // frozen graphs only; readers never see a torn pair
/// let read = std::thread::spawn(|| CONFIG.read().map(|(version, root)| (version, root.map(|r| r.get_int(0)))));
/// assert_eq!(read.join().unwrap()?, (1, Some(Ok(1))));
/// CONFIG.publish(None)?; // empty again
/// // A mutable graph is put for exactly one taker, on any thread.
/// let draft = Object::new_list()?;
/// draft.push_string("draft")?;
/// CONFIG.put(draft, TransferMode::Safe)?;
/// let taken = std::thread::spawn(|| CONFIG.take()?.get_string(0)).join().unwrap()?;
/// assert_eq!(taken, "draft");
/// # Ok::<(), floe::Error>(())
/// ```
#[repr(transparent)]
pub struct SharedCell(std::cell::UnsafeCell<SharedData>);

// SAFETY: the cell is only accessed through `shared_data`'s functions, which read and write its two
// words atomically, writers one at a time under the striped lock of its address; its `object`
// pointer is an opaque id, never dereferenced.
unsafe impl Sync for SharedCell {}

impl Default for SharedCell {
    fn default() -> Self {
        SharedCell::new()
    }
}

impl SharedCell {
    /// An empty cell (a zeroed struct).
    pub const fn new() -> SharedCell {
        SharedCell(std::cell::UnsafeCell::new(SharedData { version: 0, object: std::ptr::null_mut() }))
    }

    /// Publishes a frozen object (bumping the version), or empties the cell with `None`.
    pub fn publish(&self, root: Option<&Object>) -> Result<()> {
        // SAFETY: the cell's struct is valid and only touched through `shared_data`.
        unsafe { shared_data::publish(self.0.get(), root.map(Object::handle)) }
    }

    /// The version and the published frozen object (a new reference), from any thread.
    pub fn read(&self) -> Result<(i32, Option<Object>)> {
        // SAFETY: as above.
        let (version, root) = unsafe { shared_data::read(self.0.get()) }?;
        Ok((version, root.map(Object::from_raw)))
    }

    /// Parks a mutable graph in the empty cell, detached by `mode`, for exactly one taker.
    pub fn put(&self, root: Object, mode: TransferMode) -> std::result::Result<(), TransferError> {
        // SAFETY: as above.
        match unsafe { shared_data::put(self.0.get(), root.handle(), mode) } {
            Ok(()) => {
                let _ = root.into_raw();
                Ok(())
            }
            Err(error) => Err(TransferError { error, object: root }),
        }
    }

    /// Takes the parked graph; the calling thread owns it. One taker wins; the others get
    /// `ErrConsumed`.
    pub fn take(&self) -> Result<Object> {
        // SAFETY: as above.
        unsafe { shared_data::take(self.0.get()) }.map(Object::from_raw)
    }
}

impl Runtime {
    /// Terminates every running worker — running the jobs already queued when `process_scheduled`,
    /// cancelling them otherwise — waits up to `timeout` for their threads, and reports what is
    /// left. Unlike Kotlin/Native's "Unfinished workers detected", it never aborts the process.
    /// With the environment variable `FLOE_DEBUG_LEAKS` set, it lists the objects still alive to
    /// stderr (up to 200, one line each: type, owner thread or freeze, count).
    pub fn shutdown(process_scheduled: bool, timeout: Option<Duration>) -> ShutdownReport {
        shutdown::shutdown(process_scheduled, timeout)
    }
}

/// A pool of worker threads sharing one queue, or a view of one that caps how many of its jobs
/// run at once (kotlinx.coroutines' `limitedParallelism`), without threads of its own.
///
/// ```
/// use floe::{Object, Pool, TransferMode};
/// fn answer(_: Option<Object>) -> floe::Result<Option<Object>> {
///     let list = Object::new_list()?;
///     list.push_int(42)?;
///     Ok(Some(list))
/// }
/// let pool = Pool::start("crunch", 2)?;
/// let one_at_a_time = pool.limited_parallelism(1)?;
/// let futures = [pool.execute(None, TransferMode::Safe, answer)?, one_at_a_time.execute(None, TransferMode::Safe, answer)?];
/// for future in &futures {
///     assert_eq!(future.result(None)?.unwrap().get_int(0)?, 42);
/// }
/// pool.request_termination(true)?.result(None)?;
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool(u32);

impl Pool {
    /// Starts `threads` threads named `<name>-<i>`.
    pub fn start(name: &str, threads: usize) -> Result<Pool> {
        pool::start(name, threads).map(Pool)
    }

    /// A view of this pool that runs at most `limit` of its jobs at once.
    pub fn limited_parallelism(self, limit: usize) -> Result<Pool> {
        pool::view(self.0, limit).map(Pool)
    }

    pub fn id(self) -> u32 {
        self.0
    }

    /// Runs `job` on one of the pool's threads with `input`, as [`Worker::execute`] does.
    pub fn execute(self, input: Option<DetachedGraph>, result_mode: TransferMode, job: Job) -> Result<Future> {
        let executor = pool::lookup(self.0)?;
        worker::execute_with(|task| executor.submit(task), input.map(|g| g.0), result_mode, rust_job(job)).map(Future)
    }

    /// Terminates the pool (for a view, its whole pool), running or cancelling queued jobs (and,
    /// when cancelling, its views' backlogs). The future completes when the last thread has exited
    /// and released its values.
    pub fn request_termination(self, process_scheduled: bool) -> Result<Future> {
        Ok(Future(pool::lookup(self.0)?.request_termination(process_scheduled)))
    }
}

/// Graphs and SharedData that C code keeps in its own memory, for Rust code linked with it (the
/// accessors `floe-cinterop` generates use these).
impl DetachedGraph {
    /// The graph as the `void *` C code stores, which `floe_graph_attach` (or
    /// [`DetachedGraph::from_raw`]) takes once, on any thread. Fails only when floe's table of
    /// detached graphs is full (`ErrLimit`); the graph is then disposed.
    pub fn into_raw(self) -> Result<*mut std::ffi::c_void> {
        crate::ffi::graph::graph_pointer(self.0)
    }

    /// Takes over a graph that C code keeps as a `void *` (from `floe_object_detach` or
    /// [`DetachedGraph::into_raw`]); each pointer is taken once. The pointer is looked up, never
    /// dereferenced: a second take gives `ErrAlreadyAttached`, a disposed graph `ErrDisposed`, a
    /// pointer floe never issued `ErrInvalidHandle`, as `floe_graph_attach` reports them.
    ///
    /// ```
    /// use floe::{DetachedGraph, Object, Status, TransferMode};
    /// let list = Object::new_list()?;
    /// list.push_int(7)?;
    /// let graph = list.detach(TransferMode::Safe)?.into_raw()?; // a `void *` for C code to keep
    /// let address = graph as usize; // a raw pointer is not Send; C code would pass it along
    /// let seven = std::thread::spawn(move || DetachedGraph::from_raw(address as *mut _)?.attach()?.get_int(0));
    /// assert_eq!(seven.join().unwrap()?, 7);
    /// assert_eq!(DetachedGraph::from_raw(graph).unwrap_err().status(), Status::ErrAlreadyAttached);
    /// assert_eq!(DetachedGraph::from_raw(8 as *mut _).unwrap_err().status(), Status::ErrInvalidHandle);
    /// # Ok::<(), floe::Error>(())
    /// ```
    pub fn from_raw(graph: *mut std::ffi::c_void) -> Result<DetachedGraph> {
        crate::ffi::graph::graph_of_pointer(graph).map(DetachedGraph)
    }
}

impl SharedCell {
    /// The `floe_shared_data` at `data` — a C global, a field of a C struct — as a `SharedCell`:
    /// `publish`, `read`, `put` and `take` from Rust, while C code uses the same struct through
    /// the `floe_shared_data_*` functions.
    ///
    /// ```
    /// use floe::ffi::shared_data::{floe_shared_data_read, SharedData};
    /// use floe::{Object, SharedCell, Status};
    /// // A C global `floe_shared_data prices;` (here: a Rust static of the same struct).
    /// static mut PRICES: SharedData = SharedData { version: 0, object: std::ptr::null_mut() };
    /// // SAFETY: a static, aligned and alive for the program, used only through floe's functions.
    /// let prices = unsafe { SharedCell::from_ptr(&raw mut PRICES) };
    /// let list = Object::new_list()?;
    /// list.push_int(250)?;
    /// list.freeze(None)?;
    /// prices.publish(Some(&list))?;
    /// let (mut version, mut root) = (0, 0); // what C code would read
    /// // SAFETY: the struct as above; both out-parameters are writable.
    /// let status = unsafe { floe_shared_data_read(&raw mut PRICES, &mut version, &mut root) };
    /// assert_eq!((status, version), (Status::Ok, 1));
    /// assert_eq!(Object::from_raw(root).get_int(0)?, 250);
    /// # Ok::<(), floe::Error>(())
    /// ```
    ///
    /// # Safety
    /// `data` is non-null, aligned and valid for reads and writes for `'a`; nothing writes the
    /// struct meanwhile but floe's functions; and it is host memory, not a segment slot's
    /// `floe_shared_data` (for those, [`Segment::shared_data`](crate::Segment::shared_data)).
    pub unsafe fn from_ptr<'a>(data: *mut SharedData) -> &'a SharedCell {
        // SAFETY: `SharedCell` is a transparent `UnsafeCell<SharedData>`, which has the layout of
        // `SharedData`; the caller vouches for the pointer and the lifetime.
        unsafe { &*data.cast::<SharedCell>() }
    }
}
