//! Object types: a name and named, kinded fields. Types are immutable and live as long as the
//! process; type ids are dense, start at 1, and id 1 is the built-in growable `List`.

use super::error::{Error, Result, Status};
use super::heap::TYPE_SHIFT;
use super::value::Kind;
use parking_lot::RwLock;
use std::sync::{Arc, LazyLock};

/// Object type ids fit the bits the object header keeps for them, above its flags.
const MAX_TYPES: usize = (1 << (32 - TYPE_SHIFT)) - 1;

/// The id of the built-in list type.
pub(crate) const LIST_TYPE: u32 = 1;

/// A type definition.
#[derive(Debug)]
pub struct TypeDef {
    pub name: Box<str>,
    pub fields: Box<[(Box<str>, Kind)]>,
    /// Whether a field is an atomic reference (objects of the type start marked
    /// `MAY_REACH_ATOMIC_REF`), decided once here rather than per allocation.
    pub(crate) has_atomic_ref: bool,
}

impl TypeDef {
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|(field, _)| &**field == name)
    }
}

static TYPES: LazyLock<RwLock<Vec<Arc<TypeDef>>>> = LazyLock::new(|| {
    RwLock::new(vec![Arc::new(TypeDef { name: "List".into(), fields: Box::new([]), has_atomic_ref: false })])
});

/// Defines a type. Names must be non-empty; field names non-empty and distinct.
pub fn define(name: &str, fields: &[(&str, Kind)]) -> Result<u32> {
    let invalid = |why: String| Err(Error::new(Status::ErrInvalidArgument, format!("cannot define type: {why}")));
    if name.is_empty() {
        return invalid("the type name is empty".into());
    }
    for (i, (field, _)) in fields.iter().enumerate() {
        if field.is_empty() {
            return invalid(format!("field {i} of {name} has an empty name"));
        }
        if fields[..i].iter().any(|(earlier, _)| earlier == field) {
            return invalid(format!("{name} has two fields named {field}"));
        }
    }
    let def = TypeDef {
        name: name.into(),
        fields: fields.iter().map(|(field, kind)| (Box::from(*field), *kind)).collect(),
        has_atomic_ref: fields.iter().any(|(_, kind)| *kind == Kind::AtomicRef),
    };
    let mut types = TYPES.write();
    if types.len() >= MAX_TYPES {
        return Err(Error::new(Status::ErrLimit, format!("cannot define type {name}: {MAX_TYPES} types exist")));
    }
    types.push(Arc::new(def));
    Ok(types.len() as u32)
}

/// The definition of type `id`.
pub fn get(id: u32) -> Result<Arc<TypeDef>> {
    let types = TYPES.read();
    id.checked_sub(1).and_then(|i| types.get(i as usize)).cloned().ok_or_else(|| {
        Error::new(Status::ErrUnknownType, format!("type id {id} was never defined (defined ids: 1..={})", types.len()))
    })
}
