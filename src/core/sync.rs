//! The mutex and condition variable of the protocols that loom models check (the future state
//! machine, the worker queue, the shared-data stripes): parking_lot's normally, loom's under `--cfg floe_loom`, behind one small API; and the
//! brief spin that waiters do before they sleep.

use std::cell::Cell;

#[cfg(not(floe_loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

#[cfg(floe_loom)]
pub(crate) use self::modelled::{Condvar, Mutex, MutexGuard};

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

const MAX_SPINS: u32 = 256;
const MIN_SPINS: u32 = 4;
const GIVE_UP_AFTER: u32 = 3;
const PROBE: u32 = 16;

thread_local! {
    /// Waits in a row that ended during the yields after a fruitless spin, and waits so far.
    static SPINNING: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// Waits briefly for `done()` without sleeping — spinning, then yielding — before a caller parks on
/// a condition variable: a job handed to a waiting thread then costs no sleep and wake-up (tens of
/// microseconds on a VM). Only with more than one CPU; under loom, not at all. Returns `done()`.
pub(crate) fn spin_until(done: impl Fn() -> bool) -> bool {
    const YIELDS: u32 = 10;
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
    let yielded = !spun
        && (0..YIELDS).any(|_| {
            std::thread::yield_now();
            done()
        });
    let fruitless = match (spun, yielded) {
        (true, _) => 0,
        (false, true) => fruitless.saturating_add(1),
        (false, false) => fruitless,
    };
    SPINNING.with(|s| s.set((fruitless, waits.wrapping_add(1))));
    spun || yielded || done()
}
