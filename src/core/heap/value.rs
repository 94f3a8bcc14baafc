//! Field kinds and the values stored in object slots.
//!
//! A reference is stored as the referent's slot index, not a pointer, so a frozen graph can later be
//! written position-independently (offsets in a shared segment) without rewriting the heap.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering};

/// The kind of a field or list element. Numbers are part of the C ABI (`FLOE_KIND_*`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A signed 64-bit integer.
    Int = 1,
    /// An IEEE-754 double.
    Double = 2,
    /// A boolean.
    Bool = 3,
    /// A UTF-8 string, copied in and out.
    String = 4,
    /// A nullable reference to another object.
    Ref = 5,
    /// A 32-bit atomic integer (Kotlin's AtomicInt): changes atomically even in a frozen object.
    AtomicInt = 6,
    /// A 64-bit atomic integer (Kotlin's AtomicLong): changes atomically even in a frozen object.
    AtomicLong = 7,
    /// An atomic, nullable reference to a frozen object (Kotlin's AtomicReference): changes
    /// atomically even in a frozen object; its value must be frozen.
    AtomicRef = 8,
}

impl Kind {
    /// The kind with the C number `code`, if there is one.
    pub fn from_code(code: u32) -> Option<Kind> {
        [
            Kind::Int,
            Kind::Double,
            Kind::Bool,
            Kind::String,
            Kind::Ref,
            Kind::AtomicInt,
            Kind::AtomicLong,
            Kind::AtomicRef,
        ]
        .into_iter()
        .find(|k| *k as u32 == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Double => "double",
            Kind::Bool => "bool",
            Kind::String => "string",
            Kind::Ref => "ref",
            Kind::AtomicInt => "atomic int",
            Kind::AtomicLong => "atomic long",
            Kind::AtomicRef => "atomic ref",
        }
    }

    /// "an int", "a string": the name with its article, for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            Kind::Int => "an int",
            Kind::Double => "a double",
            Kind::Bool => "a bool",
            Kind::String => "a string",
            Kind::Ref => "a ref",
            Kind::AtomicInt => "an atomic int",
            Kind::AtomicLong => "an atomic long",
            Kind::AtomicRef => "an atomic ref",
        }
    }

    pub(crate) fn default_value(self) -> Value {
        match self {
            Kind::Int => Value::Int(0),
            Kind::Double => Value::Double(0.0),
            Kind::Bool => Value::Bool(false),
            Kind::String => Value::Str(Box::from("")),
            Kind::Ref => Value::Ref(None),
            Kind::AtomicInt => Value::AtomicInt(AtomicI32::new(0)),
            Kind::AtomicLong => Value::AtomicLong(AtomicI64::new(0)),
            Kind::AtomicRef => Value::AtomicRef(AtomicU32::new(NO_TARGET)),
        }
    }
}

/// An object index inside the heap (a slot number).
pub(crate) type ObjIndex = u32;

/// An empty atomic reference.
pub(crate) const NO_TARGET: u32 = u32::MAX;

/// A stored value. References hold slot indices and are counted by the heap. Atomics change through
/// shared references, so they stay changeable inside frozen objects.
#[derive(Debug)]
pub(crate) enum Value {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(Box<str>),
    Ref(Option<ObjIndex>),
    AtomicInt(AtomicI32),
    AtomicLong(AtomicI64),
    /// The target's index, or `NO_TARGET`.
    AtomicRef(AtomicU32),
}

impl Value {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Value::Int(_) => Kind::Int,
            Value::Double(_) => Kind::Double,
            Value::Bool(_) => Kind::Bool,
            Value::Str(_) => Kind::String,
            Value::Ref(_) => Kind::Ref,
            Value::AtomicInt(_) => Kind::AtomicInt,
            Value::AtomicLong(_) => Kind::AtomicLong,
            Value::AtomicRef(_) => Kind::AtomicRef,
        }
    }

    /// The int; 0 for another kind (callers check kinds first).
    pub(crate) fn as_int(&self) -> i64 {
        if let Value::Int(x) = self {
            *x
        } else {
            0
        }
    }

    /// The double; 0.0 for another kind.
    pub(crate) fn as_double(&self) -> f64 {
        if let Value::Double(x) = self {
            *x
        } else {
            0.0
        }
    }

    /// The bool; false for another kind.
    pub(crate) fn as_bool(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    /// The string; empty for another kind.
    pub(crate) fn as_str(&self) -> &str {
        if let Value::Str(s) = self {
            s
        } else {
            ""
        }
    }

    /// The object this value refers to, atomic references included.
    pub(crate) fn as_ref_target(&self) -> Option<ObjIndex> {
        match self {
            Value::Ref(target) => *target,
            Value::AtomicRef(target) => Some(target.load(Ordering::Acquire)).filter(|&t| t != NO_TARGET),
            _ => None,
        }
    }
}
