//! Named globals, in Kotlin/Native's three kinds, created lazily by an initialiser.
//!
//! - Main-thread-only (a plain Kotlin/Native global): only the main thread may touch it; any other
//!   thread gets `ErrWrongThread` (IncorrectDereferenceException). This is what broke libraries
//!   whose tests only ran on the main thread (the ArrayDeque bug).
//! - Thread-local (`@ThreadLocal`): each thread lazily gets its own value; a thread's values are
//!   released when it exits.
//! - Shared-immutable (`@SharedImmutable`, and lazy singletons): initialised once by the first
//!   thread to ask, frozen before it is published, the same object on every thread.
//!
//! Initialisation runs the initialiser outside any lock. An initialiser that asks, directly or
//! through other globals, for a global already being initialised on its own thread, or on a thread
//! waiting (through a chain of initialisations) for this one, is a cycle: `ErrCyclicInit`, naming
//! it, instead of a deadlock or a half-built value.

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::ranges::{elsewhere, IdRange, FIRST_GLOBAL_ID, FIRST_POOL_ID};
use crate::core::graph::object;
use crate::core::heap::handle;
use crate::core::heap::slots::HEAP;
use crate::core::heap::thread;
use crate::core::heap::value::ObjIndex;
use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

/// A global's kind. Numbers are part of the C ABI (`FLOE_GLOBAL_MODE_*`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalMode {
    MainThreadOnly = 1,
    ThreadLocal = 2,
    SharedImmutable = 3,
}

impl GlobalMode {
    pub fn from_code(code: u32) -> Option<GlobalMode> {
        [GlobalMode::MainThreadOnly, GlobalMode::ThreadLocal, GlobalMode::SharedImmutable]
            .into_iter()
            .find(|m| *m as u32 == code)
    }
}

/// Makes a global's value on the calling thread: a handle the global takes over, or `None`.
pub type Initializer = Box<dyn Fn() -> Result<Option<u64>> + Send + Sync>;

struct Global {
    name: Box<str>,
    mode: GlobalMode,
    init: Initializer,
    /// The shared value (main-thread-only and shared-immutable modes), once initialised.
    value: Mutex<Slot>,
    ready: Condvar,
}

#[derive(Clone, Copy)]
enum Slot {
    Empty,
    /// Being initialised by the thread with this token.
    Initializing(u32),
    Ready(Option<ObjIndex>),
}

static GLOBALS: Mutex<Vec<Arc<Global>>> = Mutex::new(Vec::new());

thread_local! {
    /// Globals this thread is initialising, innermost last.
    static INITIALIZING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// This thread's values of thread-local globals.
    static LOCAL: RefCell<LocalValues> = RefCell::new(LocalValues(HashMap::new()));
}

struct LocalValues(HashMap<usize, Option<ObjIndex>>);

impl Drop for LocalValues {
    fn drop(&mut self) {
        for target in self.0.values().flatten() {
            HEAP.release(*target);
        }
    }
}

/// Defines a global; returns its id.
pub fn define(name: &str, mode: GlobalMode, init: Initializer) -> Result<u32> {
    if name.is_empty() {
        return Err(Error::new(Status::ErrInvalidArgument, "a global needs a name"));
    }
    let mut globals = GLOBALS.lock();
    if globals.len() >= (FIRST_POOL_ID - FIRST_GLOBAL_ID) as usize {
        return Err(Error::new(Status::ErrLimit, format!("cannot define global {name:?}: no ids are left")));
    }
    globals.push(Arc::new(Global {
        name: name.into(),
        mode,
        init,
        value: Mutex::new(Slot::Empty),
        ready: Condvar::new(),
    }));
    Ok(FIRST_GLOBAL_ID + globals.len() as u32 - 1)
}

fn lookup(id: u32) -> Result<(usize, Arc<Global>)> {
    let globals = GLOBALS.lock();
    let index = id.checked_sub(FIRST_GLOBAL_ID).map(|i| i as usize).filter(|&i| i < globals.len());
    let index = index.ok_or_else(|| {
        let defined = match globals.len() {
            0 => "none is defined".to_string(),
            n => format!("defined ids: {FIRST_GLOBAL_ID}..={}", FIRST_GLOBAL_ID + n as u32 - 1),
        };
        let other = elsewhere(id, IdRange::Globals).map(|other| format!("; {other}")).unwrap_or_default();
        Error::new(Status::ErrInvalidArgument, format!("no global has id {id} ({defined}{other})"))
    })?;
    Ok((index, globals[index].clone()))
}

fn global_name(index: usize) -> String {
    GLOBALS.lock().get(index).map_or_else(|| format!("#{index}"), |g| g.name.to_string())
}

/// A new handle to the global's value on the calling thread (`None` when its initialiser made
/// none), initialising it first if needed.
pub fn get(id: u32) -> Result<Option<u64>> {
    let (index, global) = lookup(id)?;
    let target = match global.mode {
        GlobalMode::MainThreadOnly => {
            if !thread::is_main() {
                return Err(Error::new(
                    Status::ErrWrongThread,
                    format!(
                        "cannot read global {}: it is main-thread-only and the calling thread is {}, not main; \
                         define it thread-local (each thread its own value) or shared-immutable (frozen, shared)",
                        global.name,
                        thread::current_name()
                    ),
                ));
            }
            return shared_value(index, &global)?.map(handle::issue).transpose();
        }
        GlobalMode::SharedImmutable => return shared_value(index, &global)?.map(handle::issue).transpose(),
        GlobalMode::ThreadLocal => {
            let known = LOCAL.with(|l| l.borrow().0.get(&index).copied());
            match known {
                Some(target) => target,
                None => {
                    let target = initialize(index, &global)?;
                    LOCAL.with(|l| l.borrow_mut().0.insert(index, target));
                    target
                }
            }
        }
    };
    target
        .map(|t| {
            HEAP.retain(t);
            handle::issue(t)
        })
        .transpose()
}

/// The value of a main-thread-only or shared global, initialised once, with one more reference
/// for the caller, taken under the value lock: a `reset` on another thread cannot drop the value
/// between the read and the retain.
///
/// Takes a global's value lock, then `INIT_GRAPH` (the whole lock order is in `core/mod.rs`); the
/// cycle check and the registration as a waiter happen under one `INIT_GRAPH` lock, so two threads
/// cannot both decide to wait for each other.
fn shared_value(index: usize, global: &Global) -> Result<Option<ObjIndex>> {
    let me = thread::current();
    let mut slot = global.value.lock();
    loop {
        match *slot {
            Slot::Ready(target) => {
                target.inspect(|&t| HEAP.retain(t));
                return Ok(target);
            }
            Slot::Empty => {
                *slot = Slot::Initializing(me);
                INIT_GRAPH.lock().initializing.insert(index, me);
                drop(slot);
                let mut claim = Claim { index, global, outcome: Slot::Empty };
                let made = initialize(index, global);
                if let Ok(target) = made {
                    // The caller's reference, before the value is published for a reset to drop.
                    target.inspect(|&t| HEAP.retain(t));
                    claim.outcome = Slot::Ready(target);
                }
                drop(claim);
                return made;
            }
            Slot::Initializing(initializer) => {
                {
                    let mut graph = INIT_GRAPH.lock();
                    if let Some(cycle) = graph.cycle_through(index, initializer, me) {
                        return Err(cyclic(cycle));
                    }
                    graph.waiting.insert(me, index);
                }
                global.ready.wait(&mut slot);
                INIT_GRAPH.lock().waiting.remove(&me);
            }
        }
    }
}

/// A thread's claim to initialise a shared global, settled when dropped: the slot gets `outcome`
/// (the value, or empty again after a failure, so that the next `get` retries), the thread leaves
/// the init graph and the waiters wake. A drop guard, so that an initialiser that unwinds settles
/// it too: a claim left behind would make every later `get` on this thread, reset or not, a cycle.
struct Claim<'a> {
    index: usize,
    global: &'a Global,
    outcome: Slot,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut slot = self.global.value.lock();
        *slot = self.outcome;
        INIT_GRAPH.lock().initializing.remove(&self.index);
        self.global.ready.notify_all();
    }
}

/// Who initialises which global, and which global each thread waits for.
struct InitGraph {
    initializing: HashMap<usize, u32, BuildHasherDefault<DefaultHasher>>,
    waiting: HashMap<u32, usize, BuildHasherDefault<DefaultHasher>>,
}

static INIT_GRAPH: Mutex<InitGraph> = Mutex::new(InitGraph {
    initializing: HashMap::with_hasher(BuildHasherDefault::new()),
    waiting: HashMap::with_hasher(BuildHasherDefault::new()),
});

impl InitGraph {
    /// If `me` waiting for `index` (initialised by `initializer`) would close a cycle back to
    /// `me`, the globals on it.
    fn cycle_through(&self, index: usize, initializer: u32, me: u32) -> Option<Vec<usize>> {
        if initializer == me {
            return Some(own_cycle(index));
        }
        // Follow "thread waits for global, global is initialised by thread" until it ends or reaches me.
        let mut chain = vec![index];
        let mut thread = initializer;
        while chain.len() <= self.waiting.len() + 1 {
            let waited = *self.waiting.get(&thread)?;
            chain.push(waited);
            let next = *self.initializing.get(&waited)?;
            if next == me {
                chain.push(index);
                return Some(chain);
            }
            thread = next;
        }
        None
    }
}

/// The cycle of globals this thread is initialising that `index` closes.
fn own_cycle(index: usize) -> Vec<usize> {
    let mut chain = INITIALIZING.with(|i| i.borrow().clone());
    let start = chain.iter().position(|&g| g == index).unwrap_or(0);
    chain.drain(..start);
    chain.push(index);
    chain
}

fn cyclic(cycle: Vec<usize>) -> Error {
    let names: Vec<String> = cycle.into_iter().map(global_name).collect();
    Error::new(
        Status::ErrCyclicInit,
        format!("cyclic initialisation of globals: {}; an initialiser needs a global that needs it", names.join(" → ")),
    )
}

/// Global `index` on this thread's list of globals it is initialising, until dropped (an
/// initialiser that unwinds leaves the list too, or the global would look cyclic for ever).
struct Entered;

impl Entered {
    fn push(index: usize) -> Entered {
        INITIALIZING.with(|i| i.borrow_mut().push(index));
        Entered
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // A thread being torn down may have lost the list already; there is nothing left to undo.
        let _ = INITIALIZING.try_with(|i| i.borrow_mut().pop());
    }
}

/// Runs the initialiser of global `index` on the calling thread; shared-immutable values are frozen.
fn initialize(index: usize, global: &Global) -> Result<Option<ObjIndex>> {
    let already = INITIALIZING.with(|i| i.borrow().contains(&index));
    if already {
        return Err(cyclic(own_cycle(index)));
    }
    let made = {
        let _entered = Entered::push(index);
        (global.init)()
    };
    let Some(handle) = made.map_err(|e| e.context(&format!("the initialiser of global {}", global.name)))? else {
        return Ok(None);
    };
    if global.mode == GlobalMode::SharedImmutable {
        if let Err(error) = object::freeze(handle, Some(&format!("global {}", global.name))) {
            let _ = object::release(handle);
            return Err(error.context(&format!("global {} is shared-immutable and its value must freeze", global.name)));
        }
    }
    let target = handle::resolve(handle)?;
    HEAP.retain(target);
    object::release(handle)?;
    Ok(Some(target))
}

/// Drops the global's value (the calling thread's, for a thread-local one); the next `get` runs
/// the initialiser again. A main-thread-only global is reset on the main thread.
pub fn reset(id: u32) -> Result<()> {
    let (index, global) = lookup(id)?;
    let target = match global.mode {
        GlobalMode::ThreadLocal => LOCAL.with(|l| l.borrow_mut().0.remove(&index)).flatten(),
        GlobalMode::MainThreadOnly if !thread::is_main() => {
            return Err(Error::new(
                Status::ErrWrongThread,
                format!(
                    "cannot reset global {}: it is main-thread-only and the calling thread is {}",
                    global.name,
                    thread::current_name()
                ),
            ))
        }
        GlobalMode::MainThreadOnly | GlobalMode::SharedImmutable => {
            let mut slot = global.value.lock();
            match *slot {
                Slot::Ready(target) => {
                    *slot = Slot::Empty;
                    target
                }
                _ => None,
            }
        }
    };
    if let Some(target) = target {
        HEAP.release(target);
    }
    Ok(())
}
