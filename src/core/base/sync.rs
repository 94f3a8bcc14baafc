//! The mutex, condition variable, atomics and cell of the protocols that loom models check (the
//! future state machine, the worker queue, the shared-data stripes): parking_lot's and std's
//! normally, loom's under `--cfg floe_loom`, behind one small API; and the brief spin that waiters
//! do before they sleep.

use std::cell::Cell;
use std::time::{Duration, Instant};

#[cfg(not(floe_loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
#[cfg(not(floe_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

#[cfg(floe_loom)]
pub(crate) use self::modelled::{Condvar, Mutex, MutexGuard};
#[cfg(floe_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};

/// A cell whose accesses loom checks for data races under `--cfg floe_loom`.
#[cfg(not(floe_loom))]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);
#[cfg(floe_loom)]
pub(crate) struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(floe_loom))]
        return UnsafeCell(std::cell::UnsafeCell::new(value));
        #[cfg(floe_loom)]
        return UnsafeCell(loom::cell::UnsafeCell::new(value));
    }

    /// Calls `f` with a pointer to the value for reading; the caller guarantees no write meanwhile.
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(not(floe_loom))]
        return f(self.0.get());
        #[cfg(floe_loom)]
        return self.0.with(f);
    }

    /// Calls `f` with a pointer to the value; the caller guarantees no other access meanwhile.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(floe_loom))]
        return f(self.0.get());
        #[cfg(floe_loom)]
        return self.0.with_mut(f);
    }
}

/// The middle of a handshake in which each side writes its own flag and then reads the other's (a
/// producer pushes and then reads `sleeping`; the worker sets `sleeping` and then looks at the
/// queue), so that at least one side sees the other. Both sides' accesses are SeqCst, which the
/// language's model orders so (a SeqCst read-modify-write or store, then a SeqCst load: on x86 the
/// locked instruction or `xchg` already drains the store buffer), so real builds need nothing more.
/// loom checks SeqCst accesses as acquire/release only: under loom this is a SeqCst fence, so the
/// models check the handshake as it runs.
#[inline(always)]
pub(crate) fn handshake_fence() {
    #[cfg(floe_loom)]
    loom::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
}

/// A wait for another thread that is in the middle of a short, bounded action (a producer between
/// claiming a queue slot and filling it, a reader holding a pin while it clones): pauses first, then
/// yields. The action takes a few instructions, unless its thread was preempted in the middle —
/// more runnable threads than CPUs — and then spinning on would keep the CPU it needs for the rest
/// of the waiter's time slice (milliseconds). Under loom, every step yields.
pub(crate) struct ShortWait {
    #[cfg_attr(floe_loom, allow(dead_code))]
    pauses: u32,
}

/// Pauses before a short wait starts yielding: a few microseconds, far longer than the actions
/// waited for take when their thread runs.
#[cfg_attr(floe_loom, allow(dead_code))]
const PAUSES_BEFORE_YIELD: u32 = 64;

#[cfg(all(test, not(floe_loom)))]
thread_local! {
    /// Called before each yield of this thread's short waits: a test's stand-in for the preempted
    /// thread that gets the CPU back.
    pub(crate) static ON_SHORT_WAIT_YIELD: std::cell::RefCell<Option<Box<dyn FnMut()>>> =
        const { std::cell::RefCell::new(None) };
}

impl ShortWait {
    pub(crate) const fn new() -> ShortWait {
        ShortWait { pauses: 0 }
    }

    /// One step of the wait.
    pub(crate) fn step(&mut self) {
        #[cfg(floe_loom)]
        loom::thread::yield_now();
        #[cfg(not(floe_loom))]
        if self.pauses < PAUSES_BEFORE_YIELD {
            self.pauses += 1;
            std::hint::spin_loop();
        } else {
            #[cfg(test)]
            ON_SHORT_WAIT_YIELD.with_borrow_mut(|hook| hook.as_mut().map(|hook| hook()));
            std::thread::yield_now();
        }
    }
}

#[cfg(floe_loom)]
mod modelled {
    use std::ops::{Deref, DerefMut};

    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// A guard that a condition variable can take and give back (`Option` only while waiting).
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().expect("models do not poison")))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("held")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("held")
        }
    }

    pub(crate) struct Condvar(loom::sync::Condvar);

    /// Models use no deadlines: a timed wait is a plain wait that never times out.
    pub(crate) struct WaitTimeoutResult;

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            false
        }
    }

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let held = guard.0.take().expect("held");
            guard.0 = Some(self.0.wait(held).expect("models do not poison"));
        }

        pub(crate) fn wait_until<T>(&self, guard: &mut MutexGuard<'_, T>, _: std::time::Instant) -> WaitTimeoutResult {
            self.wait(guard);
            WaitTimeoutResult
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

/// Runs a loom model with at most `preemptions` preemptions per execution, as loom advises for
/// models with many atomic operations (the worker's loop, the lock-free queue): exhaustive search
/// takes hours there, and bugs that need more preemptions than this are rare.
#[cfg(all(test, floe_loom))]
pub(crate) fn bounded_model(preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    builder.max_branches = 20_000;
    builder.check(f);
}

const MAX_SPINS: u32 = 256;
const MIN_SPINS: u32 = 4;
const GIVE_UP_AFTER: u32 = 3;
const PROBE: u32 = 16;

thread_local! {
    /// Waits in a row that ended during the yields after a fruitless spin, and waits so far.
    static SPINNING: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
    /// When this thread last woke a parked thread, until its next wait.
    static WOKE_SLEEPER: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Notes that the calling thread has just woken a parked thread (a worker for a job, a waiter for
/// a result). Its next wait, if it starts within `YIELD_FOR`, is likely one for that thread's
/// answer, which cannot come before the woken thread runs again: that wait yields for up to
/// `YIELD_FOR` before it parks, where any other yields a few times.
pub(crate) fn woke_a_sleeper() {
    if cfg!(not(floe_loom)) {
        WOKE_SLEEPER.set(Some(Instant::now()));
    }
}

/// Waits briefly for `done()` without sleeping — spinning, then yielding (see `woke_a_sleeper`) —
/// before a caller parks on a condition variable: a job handed to a waiting thread then costs no
/// sleep and wake-up (tens of microseconds on a VM). Only with more than one CPU; under loom, not
/// at all. Returns `done()`.
#[inline]
pub(crate) fn spin_until(done: impl Fn() -> bool) -> bool {
    // What is done already (a job that the caller's own queue ran, the last of a stream) costs one
    // check, and says nothing about whether spinning pays.
    done() || spin_until_slowly(done, None)
}

/// `spin_until` of what was not done at the first check (a caller that made that check itself),
/// yielding no later than `limit`.
#[inline(never)]
pub(crate) fn spin_until_slowly(done: impl Fn() -> bool, limit: Option<Instant>) -> bool {
    // Taken by every wait, one that cannot spin included, so that no later wait finds it stale.
    let woke = WOKE_SLEEPER.take();
    static CPUS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    // The machine's CPUs, not the calling thread's affinity: a pinned thread still has a peer to wait for.
    // SAFETY: sysconf has no preconditions.
    let cpus = *CPUS.get_or_init(|| unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) });
    if cfg!(floe_loom) || cpus < 2 {
        return done();
    }
    // Checked between single pauses: a pause costs tens of cycles and more, so blocks of them
    // between checks would add their length to every hand-off that lands in one. When the last few
    // waits each ended right after the spin, at the first yields — the peer needed this CPU —
    // the thread yields almost at once, still spinning in full every `PROBE`th wait to notice when
    // spinning pays again. A wait that outlasts the yields too (the peer was simply busy or idle)
    // says nothing about spinning and changes nothing.
    let (fruitless, waits) = SPINNING.with(Cell::get);
    let budget = if fruitless >= GIVE_UP_AFTER && waits % PROBE != 0 { MIN_SPINS } else { MAX_SPINS };
    let spun = (0..budget).any(|_| {
        let now = done();
        if !now {
            std::hint::spin_loop();
        }
        now
    });
    let patient = woke.is_some_and(|woke| woke.elapsed() < YIELD_FOR);
    let yielded = !spun && yield_until(&done, patient, limit);
    let fruitless = match (spun, yielded) {
        (true, _) => 0,
        (false, true) => fruitless.saturating_add(1),
        (false, false) => fruitless,
    };
    SPINNING.with(|s| s.set((fruitless, waits.wrapping_add(1))));
    spun || yielded || done()
}

/// Yields after a fruitless spin, in a wait that is not patient.
const YIELDS: u32 = 10;

/// How long a patient wait (see `woke_a_sleeper`) yields before it parks: longer than a parked
/// thread takes to run again once woken (about 30 µs on the VM where floe is benchmarked). When
/// both threads of a round trip parked after a few yields, each wait outlasted them, because the
/// other thread had to be woken first: a state that kept itself up, a round trip at 1–10 µs where
/// it takes 0.5 µs when neither parks (see `docs/performance.md#waiting-after-a-wake-up`).
/// Yielding, not pausing, so that a peer on the same CPU runs.
const YIELD_FOR: Duration = Duration::from_micros(100);

/// Yields until `done()`: `YIELDS` times, or when `patient` for up to `YIELD_FOR`; never past
/// `limit`. Returns `done()`.
#[cold]
fn yield_until(done: &impl Fn() -> bool, patient: bool, limit: Option<Instant>) -> bool {
    let until = if patient {
        let patience = Instant::now() + YIELD_FOR;
        Some(limit.map_or(patience, |limit| limit.min(patience)))
    } else {
        limit
    };
    let mut yields = 0u32;
    loop {
        std::thread::yield_now();
        if done() {
            return true;
        }
        yields = yields.saturating_add(1);
        if (!patient && yields >= YIELDS) || until.is_some_and(|until| Instant::now() >= until) {
            return false;
        }
    }
}

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn a_wait_for_what_is_done_checks_once_and_leaves_the_record_of_spins_alone() {
        let record = SPINNING.with(Cell::get);
        let checks = Cell::new(0);
        assert!(spin_until(|| {
            checks.set(checks.get() + 1);
            true
        }));
        assert_eq!(checks.get(), 1);
        assert_eq!(SPINNING.with(Cell::get), record, "a wait with nothing to wait for says nothing about spinning");
    }

    /// A `done` that never is, counting its checks.
    fn never(checks: &Cell<u32>) -> impl Fn() -> bool + '_ {
        || {
            checks.set(checks.get() + 1);
            false
        }
    }

    #[test]
    fn a_wait_yields_a_few_times_unless_it_follows_a_wake_up_then_for_longer_than_one_takes() {
        let checks = Cell::new(0);
        assert!(!yield_until(&never(&checks), false, None));
        assert_eq!(checks.get(), YIELDS, "a check after each of a few yields");
        checks.set(0);
        let start = Instant::now();
        assert!(!yield_until(&never(&checks), true, None));
        assert!(start.elapsed() >= YIELD_FOR, "a patient wait gave up after {:?}", start.elapsed());
        assert!(checks.get() >= 1);
        checks.set(0);
        assert!(!yield_until(&never(&checks), true, Some(Instant::now())));
        assert_eq!(checks.get(), 1, "a limit already past ends a patient wait at the first check");
        checks.set(0);
        assert!(yield_until(
            &|| {
                checks.set(checks.get() + 1);
                true
            },
            true,
            None
        ));
        assert_eq!(checks.get(), 1, "done at the first check, and no further");
    }

    #[test]
    fn waking_a_sleeper_makes_the_next_wait_alone_patient() {
        woke_a_sleeper();
        assert!(WOKE_SLEEPER.get().is_some());
        let checks = Cell::new(0);
        let start = Instant::now();
        assert!(!spin_until_slowly(never(&checks), None));
        if std::thread::available_parallelism().is_ok_and(|cpus| cpus.get() > 1) {
            assert!(start.elapsed() >= YIELD_FOR, "gave up after {:?}", start.elapsed());
        }
        assert_eq!(WOKE_SLEEPER.get(), None, "the wait took the note");
    }

    #[test]
    fn a_short_wait_pauses_a_while_then_yields_at_every_step() {
        let yields = Rc::new(Cell::new(0));
        let counted = yields.clone();
        ON_SHORT_WAIT_YIELD.set(Some(Box::new(move || counted.set(counted.get() + 1))));
        let mut wait = ShortWait::new();
        (0..PAUSES_BEFORE_YIELD).for_each(|_| wait.step());
        assert_eq!(yields.get(), 0, "the first steps pause");
        (0..3).for_each(|_| wait.step());
        assert_eq!(yields.get(), 3, "then every step yields");
        ON_SHORT_WAIT_YIELD.set(None);
    }
}
