//! Field kinds and the values stored in object slots.
//!
//! A reference is stored as the referent's slot index, not a pointer, so a frozen graph can later be
//! written position-independently (offsets in a shared segment) without rewriting the heap.

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
}

impl Kind {
    /// The kind with the C number `code`, if there is one.
    pub fn from_code(code: u32) -> Option<Kind> {
        [Kind::Int, Kind::Double, Kind::Bool, Kind::String, Kind::Ref]
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
        }
    }

    pub(crate) fn default_value(self) -> Value {
        match self {
            Kind::Int => Value::Int(0),
            Kind::Double => Value::Double(0.0),
            Kind::Bool => Value::Bool(false),
            Kind::String => Value::Str(Box::from("")),
            Kind::Ref => Value::Ref(None),
        }
    }
}

/// An object index inside the heap (a slot number).
pub(crate) type ObjIndex = u32;

/// A stored value. References hold slot indices and are counted by the heap.
#[derive(Debug)]
pub(crate) enum Value {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(Box<str>),
    Ref(Option<ObjIndex>),
}

impl Value {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Value::Int(_) => Kind::Int,
            Value::Double(_) => Kind::Double,
            Value::Bool(_) => Kind::Bool,
            Value::Str(_) => Kind::String,
            Value::Ref(_) => Kind::Ref,
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

    pub(crate) fn as_ref_target(&self) -> Option<ObjIndex> {
        match self {
            Value::Ref(target) => *target,
            _ => None,
        }
    }
}
