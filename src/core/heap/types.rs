//! Object types: a name and named, kinded fields. Types are immutable and live as long as the
//! process. Id 1 is the built-in growable `List` (`FLOE_TYPE_LIST`); defined types' ids count up
//! from `FIRST_TYPE_ID`, a range no other kind of id uses, so that a worker's id given where a
//! type's is expected is refused (but for the main queue's 1, which the ABI fixed before). An
//! object's header keeps its type densely numbered instead (`stored`): 1 for the list, then 2, 3…

use crate::core::base::error::{Error, Result, Status};
use crate::core::base::ids::ranges::{elsewhere, IdRange, FIRST_GLOBAL_ID, FIRST_TYPE_ID};
use crate::core::heap::header::TYPE_SHIFT;
use crate::core::heap::value::Kind;
use parking_lot::RwLock;
use std::sync::{Arc, LazyLock};

/// Stored type numbers fit the bits the object header keeps for them, above its flags.
const MAX_TYPES: usize = (1 << (32 - TYPE_SHIFT)) - 1;
const _: () = assert!(MAX_TYPES as u32 - 2 + FIRST_TYPE_ID < FIRST_GLOBAL_ID, "type ids stay in their range");

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
    let def = checked(name, fields)?;
    let mut types = TYPES.write();
    add(&mut types, def).map(id_of)
}

/// The types named `name`, oldest first, as their stored numbers and definitions; when there is
/// none, `fields` defined under that name first, in one step, so that two threads looking up a
/// name they both lack define it once (a version block's types, `shared::segment`).
pub(crate) fn named_or_define(name: &str, fields: &[(&str, Kind)]) -> Result<Vec<(u32, Arc<TypeDef>)>> {
    let named = |types: &[Arc<TypeDef>]| -> Vec<(u32, Arc<TypeDef>)> {
        let same_name = types.iter().enumerate().filter(|(_, def)| &*def.name == name);
        same_name.map(|(i, def)| (i as u32 + 1, def.clone())).collect()
    };
    let found = named(&TYPES.read());
    if !found.is_empty() {
        return Ok(found);
    }
    let def = checked(name, fields)?;
    let mut types = TYPES.write();
    let found = named(&types);
    if !found.is_empty() {
        return Ok(found);
    }
    let stored = add(&mut types, def)?;
    Ok(vec![(stored, types[stored as usize - 1].clone())])
}

/// The definition of `name` with `fields`, if they are valid.
fn checked(name: &str, fields: &[(&str, Kind)]) -> Result<TypeDef> {
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
    Ok(TypeDef {
        name: name.into(),
        fields: fields.iter().map(|(field, kind)| (Box::from(*field), *kind)).collect(),
        has_atomic_ref: fields.iter().any(|(_, kind)| *kind == Kind::AtomicRef),
    })
}

/// Adds `def` to the table; its stored number.
fn add(types: &mut Vec<Arc<TypeDef>>, def: TypeDef) -> Result<u32> {
    if types.len() >= MAX_TYPES {
        let name = &def.name;
        return Err(Error::new(Status::ErrLimit, format!("cannot define type {name}: {MAX_TYPES} types exist")));
    }
    types.push(Arc::new(def));
    Ok(types.len() as u32)
}

/// The id of the type an object header numbers `stored`.
#[inline]
pub(crate) fn id_of(stored: u32) -> u32 {
    if stored == LIST_TYPE {
        LIST_TYPE
    } else {
        stored - 2 + FIRST_TYPE_ID
    }
}

/// The definition of the type an object header numbers `stored`.
pub(crate) fn of_stored(stored: u32) -> Option<Arc<TypeDef>> {
    TYPES.read().get((stored as usize).checked_sub(1)?).cloned()
}

/// How an object header numbers type `id`: `None` for an id outside the types' range.
#[inline]
fn stored(id: u32) -> Option<u32> {
    match id {
        LIST_TYPE => Some(LIST_TYPE),
        FIRST_TYPE_ID..FIRST_GLOBAL_ID => Some(id - FIRST_TYPE_ID + 2),
        _ => None,
    }
}

/// The definition of type `id`.
pub fn get(id: u32) -> Result<Arc<TypeDef>> {
    lookup(id).map(|(_, def)| def)
}

/// The index of the field called `name` of type `id`; `ErrUnknownField` names the fields there are.
pub(crate) fn field(id: u32, name: &str) -> Result<usize> {
    let def = get(id)?;
    def.field_index(name).ok_or_else(|| {
        let known: Vec<&str> = def.fields.iter().map(|(f, _)| &**f).collect();
        Error::new(
            Status::ErrUnknownField,
            format!("type {} has no field {name:?} (fields: {})", def.name, known.join(", ")),
        )
    })
}

/// How an object header numbers type `id`, and its definition.
pub(crate) fn lookup(id: u32) -> Result<(u32, Arc<TypeDef>)> {
    let types = TYPES.read();
    let found = stored(id).and_then(|stored| Some((stored, types.get(stored as usize - 1)?.clone())));
    found.ok_or_else(|| {
        let defined = match types.len() {
            1 => "the list is 1 and no other is defined".to_string(),
            n => format!("the list is 1, defined types {FIRST_TYPE_ID}..={}", id_of(n as u32)),
        };
        let other = elsewhere(id, IdRange::Types).map(|other| format!("; {other}")).unwrap_or_default();
        Error::new(Status::ErrUnknownType, format!("type id {id} was never defined ({defined}{other})"))
    })
}
