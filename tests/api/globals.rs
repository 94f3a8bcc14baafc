//! Globals: main-thread-only, thread-local, shared-immutable; lazy singletons; cyclic init.

use crate::harness::{assert_error, place, Place};
use crate::ownership::on_thread;
use floe::{Global, GlobalMode, Object, Result, Status};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

crate::tests![
    the_array_deque_bug_reproduces_and_is_fixed_by_the_right_mode,
    thread_local_globals_give_each_thread_its_own_value,
    a_shared_singleton_is_initialised_once_and_frozen,
    cyclic_initialisation_is_named_not_deadlocked,
    cyclic_initialisation_across_threads_is_named_not_deadlocked,
];

/// Kotlin's ArrayDeque kept an empty array in a plain global.
fn empty_array() -> Result<Option<Object>> {
    Ok(Some(Object::new_list()?))
}

fn the_array_deque_bug_reproduces_and_is_fixed_by_the_right_mode() {
    let plain = Global::define("emptyElementData", GlobalMode::MainThreadOnly, empty_array).unwrap();
    let from_background = on_thread("deque-user", || plain.get().map(|v| v.is_some()));
    assert_error(
        from_background,
        Status::ErrWrongThread,
        &["global emptyElementData", "main-thread-only", "deque-user"],
    );
    match place() {
        Place::Main => {
            assert_eq!(plain.get().unwrap().unwrap().len().unwrap(), 0);
            plain.reset().unwrap();
        }
        Place::Background => {
            assert_error(plain.get(), Status::ErrWrongThread, &["main-thread-only"]);
        }
    }
    let shared = Global::define("emptyElementData", GlobalMode::SharedImmutable, empty_array).unwrap();
    let ids = on_thread("deque-user", || shared.get().unwrap().unwrap().id().unwrap());
    let here = shared.get().unwrap().unwrap();
    assert!(here.is_frozen().unwrap());
    assert_eq!(here.id().unwrap(), ids, "the same object on every thread");
    drop(here);
    shared.reset().unwrap();
}

fn thread_local_globals_give_each_thread_its_own_value() {
    let local = Global::define("scratch", GlobalMode::ThreadLocal, empty_array).unwrap();
    let mine = local.get().unwrap().unwrap();
    mine.push_int(1).unwrap();
    let theirs = on_thread("other", || {
        let theirs = local.get().unwrap().unwrap();
        theirs.push_int(2).unwrap();
        (theirs.id().unwrap(), theirs.len().unwrap())
    });
    assert_ne!(theirs.0, mine.id().unwrap());
    assert_eq!(theirs.1, 1);
    assert_eq!(local.get().unwrap().unwrap().len().unwrap(), 1, "the same value on later reads");
    drop(mine);
    local.reset().unwrap();
}

static SINGLETON_INITS: AtomicUsize = AtomicUsize::new(0);

fn make_singleton() -> Result<Option<Object>> {
    SINGLETON_INITS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let config = Object::new_list()?;
    config.push_string("configured")?;
    Ok(Some(config))
}

fn a_shared_singleton_is_initialised_once_and_frozen() {
    SINGLETON_INITS.store(0, Ordering::SeqCst);
    let singleton = Global::define("Config", GlobalMode::SharedImmutable, make_singleton).unwrap();
    let ids: Vec<u32> = std::thread::scope(|s| {
        let readers: Vec<_> =
            (0..4).map(|_| s.spawn(move || singleton.get().unwrap().unwrap().id().unwrap())).collect();
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(SINGLETON_INITS.load(Ordering::SeqCst), 1);
    let config = singleton.get().unwrap().unwrap();
    assert_error(config.push_string("changed"), Status::ErrFrozen, &["frozen by freeze(List#", "\"global Config\""]);
    drop(config);
    singleton.reset().unwrap();
}

static CYCLE: OnceLock<(Global, Global)> = OnceLock::new();

fn needs_b() -> Result<Option<Object>> {
    CYCLE.get().unwrap().1.get()
}

fn needs_a() -> Result<Option<Object>> {
    CYCLE.get().unwrap().0.get()
}

fn cyclic_initialisation_is_named_not_deadlocked() {
    let (a, _) = *CYCLE.get_or_init(|| {
        (
            Global::define("Alpha", GlobalMode::SharedImmutable, needs_b).unwrap(),
            Global::define("Beta", GlobalMode::SharedImmutable, needs_a).unwrap(),
        )
    });
    assert_error(a.get(), Status::ErrCyclicInit, &["Alpha → Beta → Alpha"]);
}

static CROSS: OnceLock<(Global, Global)> = OnceLock::new();
static ARRIVED: AtomicUsize = AtomicUsize::new(0);

/// The first two initialiser runs wait for each other, so both globals are being initialised
/// before either asks for the other; later runs pass straight on.
fn meet() {
    if ARRIVED.fetch_add(1, Ordering::SeqCst) < 2 {
        while ARRIVED.load(Ordering::SeqCst) < 2 {
            std::thread::yield_now();
        }
    }
}

fn gamma_needs_delta() -> Result<Option<Object>> {
    meet();
    CROSS.get().unwrap().1.get()
}

fn delta_needs_gamma() -> Result<Option<Object>> {
    meet();
    CROSS.get().unwrap().0.get()
}

/// Two threads each start one global of a cycle; both initialisers then ask for the other's.
fn cyclic_initialisation_across_threads_is_named_not_deadlocked() {
    let (gamma, delta) = *CROSS.get_or_init(|| {
        (
            Global::define("Gamma", GlobalMode::SharedImmutable, gamma_needs_delta).unwrap(),
            Global::define("Delta", GlobalMode::SharedImmutable, delta_needs_gamma).unwrap(),
        )
    });
    ARRIVED.store(0, Ordering::SeqCst);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(move || gamma.get().map(|_| ()));
        let b = s.spawn(move || delta.get().map(|_| ()));
        (a.join().unwrap(), b.join().unwrap())
    });
    for result in [a, b] {
        let error = result.expect_err("a cycle cannot initialise");
        assert_eq!(error.status(), Status::ErrCyclicInit, "{}", error.message());
    }
}
