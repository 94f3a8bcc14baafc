//! The safe Rust API: `Runtime`, `ObjectType`, `Object`.
//!
//! An [`Object`] owns one handle (one counted reference) and releases it when dropped. Objects may
//! be sent between threads — every access is checked at run time: a mutable object works only on
//! its owner thread, a frozen one anywhere. Dropping an `Object` that refers to a mutable object on
//! a thread that does not own it cannot release it (that would touch another thread's object): the
//! handle stays live and shows in [`Runtime::stats`].

use crate::core::base::error::Result;
use crate::core::base::stats::{self, Stats};
use crate::core::graph::object as heap_object;
use crate::core::heap::cycles;
use crate::core::heap::thread;
use crate::core::heap::types;
use crate::core::heap::value::{Kind, Value};
use crate::core::shared::access as object;

/// The runtime as a whole: initialisation, counters, collection, shutdown.
///
/// ```
/// use floe::{Object, Runtime, Stats};
/// Runtime::init()?; // this thread is floe's main thread
/// assert!(Runtime::is_main_thread());
/// let list = Object::new_list()?;
/// list.push_ref(Some(&list))?; // a cycle: counting alone never frees it
/// drop(list);
/// assert_eq!(Runtime::collect_cycles(), 1);
/// assert_eq!(Runtime::stats(), Stats::default()); // nothing leaked
/// assert!(Runtime::shutdown(true, None).is_clean());
/// # Ok::<(), floe::Error>(())
/// ```
pub struct Runtime;

impl Runtime {
    /// Makes the calling thread the main thread. Without it, the first thread that makes any floe
    /// call is the main thread. Calling it again on the main thread is fine; on another thread it
    /// fails with `ErrAlreadyInitialized`, naming the main thread.
    pub fn init() -> Result<()> {
        thread::init_main()
    }

    /// Whether the calling thread is the runtime's main thread.
    pub fn is_main_thread() -> bool {
        thread::is_main()
    }

    /// Live objects and handles, for leak checks.
    pub fn stats() -> Stats {
        stats::snapshot()
    }

    /// Runs the cycle collector over the calling thread's mutable objects; returns how many objects
    /// were freed. It also runs by itself when enough candidates accumulate.
    pub fn collect_cycles() -> usize {
        cycles::collect()
    }
}

/// An object type: a name and named, kinded fields. Copyable; types live as long as the process.
///
/// ```
/// use floe::{Kind, ObjectType, Status};
/// let point = ObjectType::define("Point", &[("x", Kind::Int), ("y", Kind::Int)])?;
/// assert_eq!((point.name(), point.field("y")?), ("Point".to_string(), 1));
/// let missing = point.field("z").unwrap_err();
/// assert_eq!(missing.status(), Status::ErrUnknownField);
/// assert!(missing.message().contains("fields: x, y"));
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectType(u32);

impl ObjectType {
    /// The built-in growable list of values of any kind.
    pub const LIST: ObjectType = ObjectType(types::LIST_TYPE);

    /// Defines a type. The name and field names must be non-empty, field names distinct.
    pub fn define(name: &str, fields: &[(&str, Kind)]) -> Result<ObjectType> {
        types::define(name, fields).map(ObjectType)
    }

    /// The type with id `id`, as the C ABI numbers it.
    pub fn from_id(id: u32) -> Result<ObjectType> {
        types::get(id).map(|_| ObjectType(id))
    }

    pub fn id(self) -> u32 {
        self.0
    }

    pub fn name(self) -> String {
        types::get(self.0).map(|t| t.name.to_string()).unwrap_or_default()
    }

    /// The index of the field called `name`.
    pub fn field(self, name: &str) -> Result<usize> {
        types::field(self.0, name)
    }
}

/// A counted reference to an object, checked on every use: a mutable object works only on its owner
/// thread, a frozen one anywhere. Dropping it releases the reference.
///
/// ```
/// use floe::{Kind, Object, ObjectType, Status};
/// let node = ObjectType::define("Node", &[("name", Kind::String), ("next", Kind::Ref)])?;
/// let (head, tail) = (Object::new(node)?, Object::new(node)?);
/// head.set_string(0, "head")?;
/// head.set_ref(1, Some(&tail))?;
/// // A mutable object belongs to its thread: another thread is refused, by name.
/// let elsewhere = std::thread::scope(|s| s.spawn(|| head.get_string(0)).join().unwrap());
/// assert_eq!(elsewhere.unwrap_err().status(), Status::ErrWrongThread);
/// head.freeze(Some("list"))?; // the whole graph, tail too
/// assert!(tail.is_frozen()?);
/// let write = tail.set_string(0, "x").unwrap_err();
/// assert_eq!(write.status(), Status::ErrFrozen);
/// assert!(write.message().contains("reached via Node.next"), "{write}");
/// // A frozen object is read anywhere.
/// let name = std::thread::scope(|s| s.spawn(|| head.get_string(0)).join().unwrap())?;
/// assert_eq!(name, "head");
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Object {
    handle: u64,
}

macro_rules! scalar_accessors {
    ($($get:ident, $set:ident, $push:ident: $t:ty => $kind:ident, $as:ident;)*) => {$(
        #[doc = concat!("Reads a `", stringify!($kind), "` field or list element.")]
        pub fn $get(&self, slot: usize) -> Result<$t> {
            object::read(self.handle, slot, Kind::$kind, Value::$as)
        }

        #[doc = concat!("Writes a `", stringify!($kind), "` field or list element.")]
        pub fn $set(&self, slot: usize, value: $t) -> Result<()> {
            object::set(self.handle, slot, Value::$kind(value))
        }

        #[doc = concat!("Appends a `", stringify!($kind), "` to a list.")]
        pub fn $push(&self, value: $t) -> Result<()> {
            object::push(self.handle, Value::$kind(value))
        }
    )*};
}

impl Object {
    /// A new object of type `ty`, owned by the calling thread, fields at zero / empty / null.
    pub fn new(ty: ObjectType) -> Result<Object> {
        heap_object::new_object(ty.0).map(Object::from_raw)
    }

    /// A new empty list owned by the calling thread.
    pub fn new_list() -> Result<Object> {
        heap_object::new_list().map(Object::from_raw)
    }

    /// Takes over a handle obtained from the C ABI. Any value is accepted: a handle that is not
    /// live makes every call fail with its status (`ErrInvalidHandle`, `ErrReleasedHandle`, ...).
    pub fn from_raw(handle: u64) -> Object {
        Object { handle }
    }

    /// A view of a handle owned elsewhere (by C code, or by another `Object`): dropping the view
    /// does not release the handle.
    pub fn borrowed(handle: u64) -> std::mem::ManuallyDrop<Object> {
        std::mem::ManuallyDrop::new(Object { handle })
    }

    /// Gives up the handle without releasing it, for a C caller that will.
    pub fn into_raw(self) -> u64 {
        std::mem::ManuallyDrop::new(self).handle
    }

    /// The handle, as the C ABI sees it. It stays owned by this `Object`.
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// Releases the handle, reporting what `drop` would ignore (a double release). On any thread:
    /// a reference to another thread's mutable object is dropped by that thread at its next drain.
    pub fn release(self) -> Result<()> {
        object::release(self.into_raw())
    }

    /// A second reference to the same object (a new handle).
    pub fn try_clone(&self) -> Result<Object> {
        object::retain(self.handle).map(Object::from_raw)
    }

    scalar_accessors! {
        get_int, set_int, push_int: i64 => Int, as_int;
        get_double, set_double, push_double: f64 => Double, as_double;
        get_bool, set_bool, push_bool: bool => Bool, as_bool;
    }

    /// Reads a string field or list element.
    pub fn get_string(&self, slot: usize) -> Result<String> {
        object::read(self.handle, slot, Kind::String, |v| v.as_str().to_owned())
    }

    /// Writes a string field or list element (copied).
    pub fn set_string(&self, slot: usize, value: &str) -> Result<()> {
        object::set(self.handle, slot, Value::Str(value.into()))
    }

    /// Appends a string to a list.
    pub fn push_string(&self, value: &str) -> Result<()> {
        object::push(self.handle, Value::Str(value.into()))
    }

    /// The object a reference field or element points to, as a new reference; `None` for null.
    pub fn get_ref(&self, slot: usize) -> Result<Option<Object>> {
        Ok(object::get_ref(self.handle, slot)?.map(Object::from_raw))
    }

    /// Points a reference field or element at `target` (or null). The target must be owned by
    /// the same thread as this object, or frozen.
    pub fn set_ref(&self, slot: usize, target: Option<&Object>) -> Result<()> {
        object::set_ref(self.handle, slot, target.map(|t| t.handle))
    }

    /// Appends a reference to a list.
    pub fn push_ref(&self, target: Option<&Object>) -> Result<()> {
        object::push_ref(self.handle, target.map(|t| t.handle))
    }

    /// The kind of the value in a field or list element.
    pub fn kind_at(&self, slot: usize) -> Result<Kind> {
        object::kind_at(self.handle, slot)
    }

    /// The number of fields, or of list elements.
    pub fn len(&self) -> Result<usize> {
        object::len(self.handle)
    }

    /// Whether the object has no fields or elements.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    pub fn object_type(&self) -> Result<ObjectType> {
        object::type_of(self.handle).map(ObjectType)
    }

    /// The number messages show after `#` (`Job#12`).
    pub fn id(&self) -> Result<u32> {
        object::id_of(self.handle)
    }

    /// The value of an atomic int or long field. Works in frozen objects, from any thread.
    pub fn atomic_get(&self, slot: usize) -> Result<i64> {
        object::atomic_get(self.handle, slot)
    }

    /// Sets an atomic int or long field (an atomic int takes values that fit 32 bits).
    pub fn atomic_set(&self, slot: usize, value: i64) -> Result<()> {
        object::atomic_set(self.handle, slot, value)
    }

    /// Adds `delta` to an atomic int or long field (wrapping); returns the new value.
    pub fn atomic_add(&self, slot: usize, delta: i64) -> Result<i64> {
        object::atomic_add(self.handle, slot, delta)
    }

    /// Sets an atomic int or long field to `new` if it holds `expected`; returns whether it did.
    pub fn atomic_compare_and_set(&self, slot: usize, expected: i64, new: i64) -> Result<bool> {
        object::atomic_compare_and_set(self.handle, slot, expected, new)
    }

    /// The object an atomic reference field points to (a new reference), or `None`.
    pub fn atomic_ref_get(&self, slot: usize) -> Result<Option<Object>> {
        Ok(object::atomic_get_ref(self.handle, slot)?.map(Object::from_raw))
    }

    /// Points an atomic reference field at a frozen object, or at nothing.
    pub fn atomic_ref_set(&self, slot: usize, value: Option<&Object>) -> Result<()> {
        object::atomic_set_ref(self.handle, slot, value.map(|v| v.handle))
    }

    /// Points an atomic reference field at `new` if it points at `expected` (by identity).
    pub fn atomic_ref_compare_and_set(
        &self,
        slot: usize,
        expected: Option<&Object>,
        new: Option<&Object>,
    ) -> Result<bool> {
        object::atomic_compare_and_set_ref(self.handle, slot, expected.map(|e| e.handle), new.map(|n| n.handle))
    }

    /// How many distinct objects are reachable from this one, itself included (a plain traversal).
    pub fn reachable_count(&self) -> Result<usize> {
        object::reachable_count(self.handle)
    }

    /// Freezes everything reachable from this object, all or nothing. `label` is shown in the
    /// messages about objects this call froze.
    pub fn freeze(&self, label: Option<&str>) -> Result<()> {
        object::freeze(self.handle, label)
    }

    pub fn is_frozen(&self) -> Result<bool> {
        object::is_frozen(self.handle)
    }

    /// Makes any later freeze that reaches this object fail with `ErrFreezeBlocked`.
    pub fn ensure_never_frozen(&self) -> Result<()> {
        object::ensure_never_frozen(self.handle)
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // A refusal (another thread's mutable object) leaves the handle live and counted.
        let _ = object::release(self.handle);
    }
}
