//! Worker pools and limited-parallelism views (kotlinx.coroutines 1.6's dispatcher views).
//!
//! A pool is N threads sharing one queue. A view caps how many of its jobs run at once at k,
//! without threads of its own: a job beyond the cap waits in the view's backlog, and each job that
//! finishes hands its place to the next. Every job still has single-owner semantics: its input graph
//! is attached to whichever pool thread runs it, and its result leaves that thread by transfer.
//!
//! Invariant: a view's `running` counts its jobs that are in the pool queue or running; it never
//! exceeds the limit, and the backlog is non-empty only while `running == limit`. Termination
//! cancels (or runs, with `process_scheduled`) the pool queue; backlogged jobs of a view are
//! cancelled by the terminating thread (without `process_scheduled`), or submitted to the
//! terminating pool, which cancels them: no job is lost, and none waits for a job that never ends.
//!
//! A panic in anything a member runs for a job fails that job's future (`Task::run`); the member
//! goes on. A member's count in `threads_left` goes once its thread's values are released.
//!
//! Waits that could never end: a job's future notes the pool or view it was queued on
//! (`Future::completed_in_pool`). A pool's thread that waits, without a timeout, for a job of its
//! own pool (or of a view of it) counts itself in the pool's `stuck` waits, and in the view's when
//! it runs a job of that view and waits for another of its jobs. A wait is refused with
//! `ErrWouldDeadlock` when the others counted, all still waiting for unfinished jobs, fill every
//! thread of the pool (nobody is left to run the job) or every slot of the view (the job cannot
//! start). Only such a pool's or view's threads complete its jobs, and each of them is blocked, so
//! the check has no false alarm (a termination would only cancel the jobs). A wait with a timeout
//! is checked but not counted: it ends by itself. Of two waits that close the circle, the one
//! checked second is refused. Waits on several futures, and cycles through several pools, are not
//! checked.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::ranges::{elsewhere, take_id, IdRange, FIRST_POOL_ID};
use crate::core::base::sync::{spin_until, woke_a_sleeper};
use crate::core::exec::future::Future;
use crate::core::exec::future::FutureState;
use crate::core::exec::worker::{self, thread_name, Task};
use crate::core::heap::cycles;
use crate::core::heap::thread;
use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Pool {
    id: u32,
    name: Arc<str>,
    /// How many threads it started.
    members: usize,
    /// Its threads that wait for one of its jobs (see the top).
    stuck: StuckWaits,
    queue: Mutex<PoolQueue>,
    wake: Condvar,
    /// How many tasks the queue holds, stored under its lock: what an idle thread spins on before
    /// it sleeps, without the lock.
    queued: AtomicUsize,
}

struct PoolQueue {
    tasks: VecDeque<Task>,
    terminating: Option<Future>,
    threads_left: usize,
    /// Threads waiting on `wake`: a submit notifies only when there is one.
    sleepers: usize,
}

/// A pool, or a view of one with a cap on parallelism.
pub enum Executor {
    Pool(Arc<Pool>),
    View(Arc<View>),
}

pub struct View {
    id: u32,
    pool: Arc<Pool>,
    limit: usize,
    /// Its running jobs that wait for another of its jobs (see the top).
    stuck: StuckWaits,
    state: Mutex<ViewState>,
}

struct ViewState {
    running: usize,
    backlog: VecDeque<Task>,
}

static EXECUTORS: Mutex<HashMap<u32, Arc<Executor>, BuildHasherDefault<DefaultHasher>>> =
    Mutex::new(HashMap::with_hasher(BuildHasherDefault::new()));
static NEXT_ID: AtomicU32 = AtomicU32::new(FIRST_POOL_ID);

thread_local! {
    /// The pool whose thread this is, if any.
    static MEMBER: RefCell<Option<Arc<Pool>>> = const { RefCell::new(None) };
    /// The view whose job this thread runs, if any.
    static RUNNING_FOR: RefCell<Option<Arc<View>>> = const { RefCell::new(None) };
}

/// Threads waiting, without a timeout, for a future that only a pool's threads can complete: the
/// waiting thread's token and the future. A leaf lock: nothing is taken under it.
#[derive(Default)]
struct StuckWaits(Mutex<Vec<(u32, Future)>>);

impl StuckWaits {
    /// Whether `token` may wait for `future`: not when the others, with it, fill all `slots` (then
    /// nothing could run the job). If it may, its wait is counted (when `counted`).
    fn enter(&self, token: u32, future: &Future, slots: usize, counted: bool) -> bool {
        let mut waits = self.0.lock();
        let others = waits.iter().filter(|(_, waited)| waited.state() == FutureState::Scheduled).count();
        if others + 1 >= slots && future.state() == FutureState::Scheduled {
            return false;
        }
        if counted {
            waits.push((token, future.clone()));
        }
        true
    }

    fn leave(&self, token: u32) {
        let mut waits = self.0.lock();
        let left = waits.iter().position(|(waiter, _)| *waiter == token).map(|at| waits.swap_remove(at));
        drop(waits);
        // Dropped after the lock: the last handle to a future frees what it holds.
        drop(left);
    }
}

/// A wait counted by `wait_in_pool`, until it ends.
pub(crate) struct StuckWait {
    token: u32,
    pool: Option<Arc<Pool>>,
    view: Option<Arc<View>>,
}

impl Drop for StuckWait {
    fn drop(&mut self) {
        if let Some(view) = &self.view {
            view.stuck.leave(self.token);
        }
        if let Some(pool) = &self.pool {
            pool.stuck.leave(self.token);
        }
    }
}

/// Checks a wait for `future`, whose job only the threads of pool or view `executor` can run,
/// before the calling thread sleeps: refused with `ErrWouldDeadlock` when the caller is one of those
/// threads and no other could run the job (see the top); else counted, if `untimed`, until the
/// returned value goes.
pub(crate) fn wait_in_pool(future: &Future, executor: u32, untimed: bool) -> Result<Option<StuckWait>> {
    let Some(member) = MEMBER.with(|member| member.borrow().clone()) else {
        return Ok(None);
    };
    let view = if executor == member.id {
        None
    } else {
        match lookup(executor).as_deref() {
            Ok(Executor::View(view)) if Arc::ptr_eq(&view.pool, &member) => Some(view.clone()),
            _ => return Ok(None),
        }
    };
    let token = thread::current();
    let mut counted = StuckWait { token, pool: None, view: None };
    let running_for = RUNNING_FOR.with(|running| running.borrow().clone());
    if let Some(view) = view.filter(|view| running_for.is_some_and(|running| Arc::ptr_eq(&running, view))) {
        if !view.stuck.enter(token, future, view.limit, untimed) {
            let why = format!(
                "every job that view {} of pool {:?} may run at once (its limit, {}) waits for a job of that view, \
                 this one too, so the job waited for can never start",
                view.id, view.pool.name, view.limit
            );
            return Err(would_deadlock(why));
        }
        counted.view = Some(view);
    }
    if !member.stuck.enter(token, future, member.members, untimed) {
        let why = format!(
            "every thread of pool {:?} ({} in all) waits for a job of that pool, this one too, so none is left to \
             run the job waited for",
            member.name, member.members
        );
        return Err(would_deadlock(why));
    }
    counted.pool = Some(member);
    Ok(Some(counted))
}

#[cold]
fn would_deadlock(why: String) -> Error {
    Error::new(
        Status::ErrWouldDeadlock,
        format!("the wait could never end: {why}; wait on a thread outside the pool, or give it more threads"),
    )
}

/// An id for a new pool or view, taken before anything is started under it.
fn new_id() -> Result<u32> {
    take_id(&NEXT_ID, u32::MAX, "pools and views")
}

fn register(id: u32, executor: Executor) -> u32 {
    EXECUTORS.lock().insert(id, Arc::new(executor));
    id
}

/// The pool or view with id `id`.
pub fn lookup(id: u32) -> Result<Arc<Executor>> {
    EXECUTORS.lock().get(&id).cloned().ok_or_else(|| {
        let why = match elsewhere(id, IdRange::Pools) {
            Some(other) if IdRange::of(id) == Some(IdRange::Workers) => {
                format!("{other}; a worker's jobs go through floe_worker_execute (Worker::execute)")
            }
            other => other.unwrap_or_else(|| "it never existed, or its pool terminated".into()),
        };
        Error::new(Status::ErrUnknownWorker, format!("no pool or view has id {id} ({why})"))
    })
}

/// Starts a pool of `threads` threads named `<name>-<i>`; returns its id.
pub fn start(name: &str, threads: usize) -> Result<u32> {
    start_with(name, threads, |name, member| std::thread::Builder::new().name(name).spawn(member).map(drop))
}

/// `start`, with `spawn` starting each member thread. When one cannot start, the members already
/// started are stopped (they would wait for jobs forever) and nothing is registered.
fn start_with(
    name: &str,
    threads: usize,
    mut spawn: impl FnMut(String, Box<dyn FnOnce() + Send>) -> std::io::Result<()>,
) -> Result<u32> {
    if threads == 0 {
        return Err(Error::new(Status::ErrInvalidArgument, "a pool needs at least one thread"));
    }
    let name = thread_name(name)?;
    let id = new_id()?;
    let pool = Arc::new(Pool {
        id,
        name: name.into(),
        members: threads,
        stuck: StuckWaits::default(),
        queue: Mutex::new(PoolQueue { tasks: VecDeque::new(), terminating: None, threads_left: threads, sleepers: 0 }),
        wake: Condvar::new(),
        queued: AtomicUsize::new(0),
    });
    for started in 0..threads {
        let member = pool.clone();
        if let Err(e) = spawn(format!("{name}-{started}"), Box::new(move || member.run())) {
            // No member exits before the termination below, so this count is still exact.
            pool.queue.lock().threads_left = started;
            drop(pool.request_termination(false));
            let stopped = format!("the {started} started were stopped");
            return Err(Error::new(Status::ErrLimit, format!("cannot start pool {name:?}: {e}; {stopped}")));
        }
    }
    Ok(register(id, Executor::Pool(pool)))
}

/// A view of pool `pool_id` that runs at most `limit` of its jobs at once; returns its id.
pub fn view(pool_id: u32, limit: usize) -> Result<u32> {
    if limit == 0 {
        return Err(Error::new(Status::ErrInvalidArgument, "a view's parallelism limit is at least 1"));
    }
    let pool = lookup(pool_id)?.pool().clone();
    let id = new_id()?;
    Ok(register(
        id,
        Executor::View(Arc::new(View {
            id,
            pool,
            limit,
            stuck: StuckWaits::default(),
            state: Mutex::new(ViewState { running: 0, backlog: VecDeque::new() }),
        })),
    ))
}

impl Pool {
    fn submit(&self, task: Task) -> Result<()> {
        let mut queue = self.queue.lock();
        if queue.terminating.is_some() {
            drop(queue);
            task.cancel();
            return Err(Error::new(
                Status::ErrWorkerTerminated,
                format!("pool {} was asked to terminate and takes no new jobs", self.name),
            ));
        }
        queue.tasks.push_back(task);
        self.queued.store(queue.tasks.len(), Ordering::Relaxed);
        let sleeping = queue.sleepers > 0;
        drop(queue);
        if sleeping {
            self.wake.notify_one();
            woke_a_sleeper();
        }
        Ok(())
    }

    fn run(self: Arc<Self>) {
        worker::reserve_last_step();
        MEMBER.with(|member| *member.borrow_mut() = Some(self.clone()));
        loop {
            let task = self.next_task();
            match task {
                Some(task) => task.run(),
                None => break,
            }
        }
        // As a worker does (see `worker::run`): counted out once the thread's values are released.
        worker::set_last_step(Box::new(move || {
            let mut queue = self.queue.lock();
            queue.threads_left -= 1;
            if queue.threads_left == 0 {
                let done = queue.terminating.clone().expect("threads exit only when terminating");
                drop(queue);
                done.complete(Some(Ok(None)));
            }
        }));
    }

    /// The next task for a member thread, waiting for one; `None` once the pool terminates. Like a
    /// worker, an idle member spins (then yields) before it sleeps, so that a job handed to it costs
    /// no wake-up; it spins on `queued`, not the lock. A submit takes the lock to push and to read
    /// `sleepers`, which a sleeper counts itself in under the lock: no wake-up is lost.
    fn next_task(&self) -> Option<Task> {
        loop {
            {
                let mut queue = self.queue.lock();
                if let Some(task) = queue.tasks.pop_front() {
                    self.queued.store(queue.tasks.len(), Ordering::Relaxed);
                    return Some(task);
                }
                if queue.terminating.is_some() {
                    return None;
                }
            }
            if spin_until(|| self.queued.load(Ordering::Relaxed) > 0) {
                continue;
            }
            // Going idle, as a worker does (see `worker`'s `next_task`).
            if cycles::has_candidates() {
                cycles::collect_local();
            }
            let mut queue = self.queue.lock();
            if queue.tasks.is_empty() && queue.terminating.is_none() {
                queue.sleepers += 1;
                self.wake.wait(&mut queue);
                queue.sleepers -= 1;
            }
        }
    }

    /// Asks every thread to stop once the queue is empty (with `process_scheduled`) or at once,
    /// cancelling queued jobs; the future completes when the last thread has exited.
    fn request_termination(&self, process_scheduled: bool) -> Future {
        let mut queue = self.queue.lock();
        if let Some(done) = &queue.terminating {
            return done.clone();
        }
        let done = Future::new();
        queue.terminating = Some(done.clone());
        let cancelled: Vec<Task> = if process_scheduled { Vec::new() } else { queue.tasks.drain(..).collect() };
        self.queued.store(queue.tasks.len(), Ordering::Relaxed);
        drop(queue);
        self.wake.notify_all();
        cancelled.into_iter().for_each(Task::cancel);
        done
    }
}

impl View {
    fn submit(self: &Arc<Self>, task: Task) -> Result<()> {
        let mut state = self.state.lock();
        if state.running == self.limit {
            state.backlog.push_back(task);
            return Ok(());
        }
        state.running += 1;
        drop(state);
        self.pool.submit(self.wrap(task))
    }

    /// The task, followed by handing its place to the next backlogged job.
    fn wrap(self: &Arc<Self>, task: Task) -> Task {
        let view = self.clone();
        Task::new(move |run| {
            if run {
                let _running = RunningFor::enter(&view);
                task.run();
            } else {
                task.cancel();
            }
            view.finished();
        })
    }

    fn finished(self: &Arc<Self>) {
        let mut state = self.state.lock();
        match state.backlog.pop_front() {
            Some(next) => {
                drop(state);
                let _ = self.pool.submit(self.wrap(next));
            }
            None => state.running -= 1,
        }
    }
}

/// Notes, until it goes, that the calling thread runs a job of a view.
struct RunningFor(Option<Arc<View>>);

impl RunningFor {
    fn enter(view: &Arc<View>) -> RunningFor {
        RunningFor(RUNNING_FOR.with(|running| running.borrow_mut().replace(view.clone())))
    }
}

impl Drop for RunningFor {
    fn drop(&mut self) {
        let outer = self.0.take();
        let _ = RUNNING_FOR.try_with(|running| *running.borrow_mut() = outer);
    }
}

impl Executor {
    pub(crate) fn submit(&self, task: Task) -> Result<()> {
        task.completed_in_pool(self.id());
        match self {
            Executor::Pool(pool) => pool.submit(task),
            Executor::View(view) => view.submit(task),
        }
    }

    fn id(&self) -> u32 {
        match self {
            Executor::Pool(pool) => pool.id,
            Executor::View(view) => view.id,
        }
    }

    /// The pool this executor runs on: itself, or a view's pool.
    fn pool(&self) -> &Arc<Pool> {
        match self {
            Executor::Pool(pool) => pool,
            Executor::View(view) => &view.pool,
        }
    }

    /// Terminates the pool (of a view: its whole pool); views of it stop taking jobs with it.
    /// Without `process_scheduled`, the views' backlogged jobs are cancelled here too: they would
    /// otherwise wait for a place that a job which never returns does not give back.
    pub fn request_termination(&self, process_scheduled: bool) -> Future {
        let pool = self.pool();
        let mut stopped = Vec::new();
        EXECUTORS.lock().retain(|_, e| {
            let ours = Arc::ptr_eq(e.pool(), pool);
            if ours {
                stopped.push(e.clone());
            }
            !ours
        });
        let done = pool.request_termination(process_scheduled);
        if !process_scheduled {
            for executor in stopped {
                if let Executor::View(view) = &*executor {
                    let backlog = std::mem::take(&mut view.state.lock().backlog);
                    backlog.into_iter().for_each(Task::cancel);
                }
            }
        }
        done
    }
}

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_member_that_cannot_start_stops_the_ones_that_did() {
        let mut started = Vec::new();
        let error = start_with("partly", 3, |name, member| {
            if started.len() == 2 {
                return Err(std::io::Error::other("no more threads"));
            }
            started.push(std::thread::Builder::new().name(name).spawn(member)?);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(error.status(), Status::ErrLimit);
        assert!(error.message().contains("no more threads; the 2 started were stopped"), "{}", error.message());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !started.iter().all(|member| member.is_finished()) {
            assert!(Instant::now() < deadline, "the started members still wait for jobs");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_job_for_a_pool_whose_members_all_sleep_wakes_one() {
        let id = start("sleepy", 2).unwrap();
        let pool = lookup(id).unwrap().pool().clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        let sleepers = || pool.queue.lock().sleepers;
        while sleepers() < 2 {
            assert!(Instant::now() < deadline, "idle members sleep once their spin is over");
            std::thread::sleep(Duration::from_millis(1));
        }
        let (ran, done) = std::sync::mpsc::channel();
        pool.submit(Task::new(move |run| ran.send(run).unwrap())).unwrap();
        assert_eq!(done.recv_timeout(Duration::from_secs(10)), Ok(true), "a sleeping member was woken");
        assert_eq!(pool.queued.load(Ordering::Relaxed), 0);
        let terminated = lookup(id).unwrap().request_termination(true).wait(Some(Duration::from_secs(10)));
        assert_eq!(terminated.unwrap(), None, "the members exited");
    }
}
