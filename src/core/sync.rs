//! The mutex, condition variable, atomics and cell of the protocols that loom models check (the
//! future state machine, the worker queue, the shared-data stripes): parking_lot's and std's
//! normally, loom's under `--cfg floe_loom`, behind one small API; and the brief spin that waiters
//! do before they sleep.

use std::cell::Cell;

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
}

/// Waits briefly for `done()` without sleeping — spinning, then yielding for up to `YIELD_FOR` —
/// before a caller parks on a condition variable: a job handed to a waiting thread then costs no
/// sleep and wake-up (tens of microseconds on a VM). Only with more than one CPU; under loom, not at all. Returns `done()`.
#[inline]
pub(crate) fn spin_until(done: impl Fn() -> bool) -> bool {
    // What is done already (a job that the caller's own queue ran, the last of a stream) costs one
    // check, and says nothing about whether spinning pays.
    done() || spin_until_slowly(done)
}

/// `spin_until` of what was not done at the first check (a caller that made that check itself).
#[inline(never)]
pub(crate) fn spin_until_slowly(done: impl Fn() -> bool) -> bool {
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
    let yielded = !spun && yield_until(&done);
    let fruitless = match (spun, yielded) {
        (true, _) => 0,
        (false, true) => fruitless.saturating_add(1),
        (false, false) => fruitless,
    };
    SPINNING.with(|s| s.set((fruitless, waits.wrapping_add(1))));
    spun || yielded || done()
}

/// How long a waiter whose spin was fruitless goes on yielding before it parks: longer than a
/// parked thread takes to run again once woken (about 30 µs on the VM where floe is benchmarked).
/// A waiter that parks sooner makes a peer that wakes it wait that long in turn, and the peer then
/// parks too: a round trip whose two threads woke each other every time took 1–10 µs there, where
/// it takes 0.5 µs when neither parks (see BENCHMARKS.md). Yielding, not pausing, so that a peer
/// on the same CPU runs.
const YIELD_FOR: std::time::Duration = std::time::Duration::from_micros(100);

/// Yields until `done()` or `YIELD_FOR` has passed; returns `done()`.
#[cold]
fn yield_until(done: &impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + YIELD_FOR;
    loop {
        std::thread::yield_now();
        if done() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
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

    #[test]
    fn a_fruitless_spin_yields_for_longer_than_a_woken_thread_takes_to_run_then_gives_up() {
        let checks = Cell::new(0);
        let start = std::time::Instant::now();
        assert!(!yield_until(&|| {
            checks.set(checks.get() + 1);
            false
        }));
        assert!(start.elapsed() >= YIELD_FOR, "gave up after {:?}", start.elapsed());
        // Once per yield: many on a machine, perhaps one under Miri, where a yield outlasts the
        // whole phase.
        assert!(checks.get() >= 1, "checked after the yields");
        checks.set(0);
        assert!(yield_until(&|| {
            checks.set(checks.get() + 1);
            true
        }));
        assert_eq!(checks.get(), 1, "done at the first check, and no further");
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
