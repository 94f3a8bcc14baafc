//! A block copied into the heap: ordinary objects on the calling thread, one per block object
//! reached from the root (shared objects and cycles stay shared and cyclic), then frozen, so that
//! the result is a frozen graph like the one published.
//!
//! Types are matched by name, then field names and kinds, once per view (the match is cached):
//! a name this process lacks is defined; a name it has with other fields is `ErrTypeMismatch`
//! naming the type and the first field that differs. Each value's kind is still read from the
//! block and compared with the matched type's, since the bytes may have changed since the match.
//!
//! Objects are made as the walk reaches them (breadth first, the made list its own queue), so
//! the import allocates nothing for objects of the block that the root does not reach. A failure
//! part way takes every value out of what was made and drops the references they held, which
//! frees it all, cycles included: nothing is left behind.

use super::view::{BlockView, Field, HeapTypes};
use super::{FIELD_ENTRY, LIST, TYPE_ENTRY};
use crate::core::base::error::{Error, Result, Status};
use crate::core::graph::freeze;
use crate::core::heap::handle;
use crate::core::heap::header::{MAY_REACH_ATOMIC_REF, MAY_REFER};
use crate::core::heap::slots::HEAP;
use crate::core::heap::types::{self, TypeDef, LIST_TYPE};
use crate::core::heap::value::{Kind, ObjIndex, Value, NO_TARGET};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32};
use std::sync::Arc;

/// Type sections matched lately: their signatures and the heap types they matched, the most
/// recent last.
static MATCHED: Mutex<Vec<(Box<[u8]>, HeapTypes)>> = Mutex::new(Vec::new());
const MATCHED_KEPT: usize = 16;

impl BlockView {
    /// Copies the graph into the heap, frozen; a handle to its root (one reference, the
    /// caller's).
    pub(crate) fn import(&self) -> Result<u64> {
        let heap_types = self.heap_types()?;
        let mut made: Vec<ObjIndex> = Vec::new();
        let result = self.build(&heap_types, &mut made);
        let root = match result {
            Ok(()) => made[0],
            Err(e) => {
                unmake(&made);
                return Err(e);
            }
        };
        let label = format!("import of version {}", self.version_id());
        if let Err(e) = freeze::freeze(root, Some(&label)) {
            unmake(&made);
            return Err(e);
        }
        handle::issue(root)
    }

    /// The heap types of the block's types, matched (or defined) once per view, and once per
    /// process for blocks whose type sections are the same bytes (`MATCHED`).
    pub(crate) fn heap_types(&self) -> Result<HeapTypes> {
        let mut cached = self.heap_types.lock();
        if let Some(types) = &*cached {
            return Ok(types.clone());
        }
        let signature = self.type_signature()?;
        let known = MATCHED.lock().iter().rev().find(|(s, _)| **s == *signature).map(|(_, types)| types.clone());
        let matched: HeapTypes = match known {
            Some(types) => types,
            None => {
                let matched: HeapTypes = (0..self.type_count()).map(|t| self.heap_type(t)).collect::<Result<_>>()?;
                let mut all = MATCHED.lock();
                if all.len() == MATCHED_KEPT {
                    all.remove(0);
                }
                all.push((signature.into_boxed_slice(), matched.clone()));
                matched
            }
        };
        *cached = Some(matched.clone());
        Ok(matched)
    }

    /// Everything a type match reads, as bytes: the type and field tables, then the strings
    /// section up to the end of the last type or field name. Two blocks with equal signatures
    /// match the same heap types (a process's types only grow, and a name matches its oldest type
    /// with those fields). The encoder writes the names first in the strings section, so the
    /// versions of one graph's types share a signature, and it is two copies long.
    fn type_signature(&self) -> Result<Vec<u8>> {
        let l = self.header().layout;
        let tables = l.objects_off - l.types_off;
        let mut signature = self.bytes(l.types_off, tables)?;
        // Every name's (offset, length) sits in the low 8 bytes of its type or field entry.
        let word = |at: u64| u64::from_le_bytes(signature[at as usize..at as usize + 8].try_into().expect("8 bytes"));
        let type_names = (0..u64::from(l.type_count)).map(|t| word(t * TYPE_ENTRY));
        let fields_at = l.fields_off - l.types_off;
        let field_names = (0..u64::from(l.field_count)).map(|f| word(fields_at + f * FIELD_ENTRY));
        let names_end = type_names
            .chain(field_names)
            .map(|name| u64::from(name as u32) + u64::from((name >> 32) as u32))
            .max()
            .unwrap_or(0);
        if names_end > l.strings_len {
            return Err(self.corrupt(format!(
                "a type or field name ends at byte {names_end} of the strings section, which is {} bytes",
                l.strings_len
            )));
        }
        signature.resize((tables + names_end) as usize, 0);
        self.copy_to(l.strings_off, &mut signature[tables as usize..])?;
        Ok(signature)
    }

    fn heap_type(&self, t: u32) -> Result<(u32, Arc<TypeDef>)> {
        let name = self.type_name(t)?;
        let fields = self.type_fields(t)?;
        if t == LIST {
            // `type_entry` checked that the list has no fields; `verify` checks its name.
            return Ok((LIST_TYPE, types::of_stored(LIST_TYPE).expect("the list type always exists")));
        }
        let wanted: Vec<(&str, Kind)> = fields.iter().map(|(f, k)| (f.as_str(), *k)).collect();
        let candidates = types::named_or_define(&name, &wanted).map_err(|e| {
            let why = e.message().to_string();
            self.corrupt(format!("type {t} cannot be defined here: {why}"))
        })?;
        let same = |def: &TypeDef| {
            def.fields.len() == wanted.len()
                && def.fields.iter().zip(&wanted).all(|((f, k), (w, wk))| &**f == *w && k == wk)
        };
        if let Some(found) = candidates.iter().find(|(_, def)| same(def)) {
            return Ok(found.clone());
        }
        let (stored, here) = &candidates[0];
        Err(self.mismatch(&name, &wanted, *stored, here))
    }

    #[cold]
    fn mismatch(&self, name: &str, block: &[(&str, Kind)], stored: u32, here: &TypeDef) -> Error {
        let show = |f: Option<(&str, Kind)>| match f {
            Some((field, kind)) => format!("{field}: {}", kind.name()),
            None => "no field".into(),
        };
        let at = (0..block.len().max(here.fields.len()))
            .find(|&i| block.get(i).copied() != here.fields.get(i).map(|(f, k)| (&**f, *k)))
            .unwrap_or(0);
        let list = |fields: Vec<String>| format!("({})", fields.join(", "));
        Error::new(
            Status::ErrTypeMismatch,
            format!(
                "type {name} in version block {} has fields {}, but this process's type {name} (id {}) has {}: \
                 field {at} is {} in the block and {} here",
                self.version_id(),
                list(block.iter().map(|&f| show(Some(f))).collect()),
                types::id_of(stored),
                list(here.fields.iter().map(|(f, k)| show(Some((f, *k)))).collect()),
                show(block.get(at).copied()),
                show(here.fields.get(at).map(|(f, k)| (&**f, *k))),
            ),
        )
    }

    /// Makes the objects reached from the root, in `made` (the root first, with one reference for
    /// the handle), with their values.
    fn build(&self, heap_types: &[(u32, Arc<TypeDef>)], made: &mut Vec<ObjIndex>) -> Result<()> {
        // Each block object's heap object, plus one (0: not made yet).
        let mut heap_of = vec![0u32; self.object_count() as usize];
        let mut order: Vec<u32> = Vec::new();
        let root = self.make(self.root(), heap_types, &mut heap_of, &mut order, made)?;
        HEAP.retain(root);
        let mut next = 0;
        while let Some(&index) = order.get(next) {
            let node = made[next];
            next += 1;
            let obj = self.located(index)?;
            let def = &heap_types[obj.ty as usize].1;
            if obj.ty != LIST && def.fields.len() != obj.count as usize {
                return Err(self.corrupt(format!(
                    "object {index} has {} values, but its type {} has {} fields",
                    obj.count,
                    def.name,
                    def.fields.len()
                )));
            }
            // SAFETY: the calling thread made this object and owns it; no other borrow of its
            // values is live (`make` below touches only other, new, objects).
            let values = unsafe { HEAP.slot(node).values_mut() };
            values.reserve_exact(obj.count as usize);
            let mut flags = 0;
            for slot in 0..obj.count {
                let field = self.slot_value(&obj, slot)?;
                if let Some((_, kind)) = def.fields.get(slot as usize).filter(|_| obj.ty != LIST) {
                    if *kind != field.kind() {
                        return Err(self.corrupt(format!(
                            "object {index}'s field {slot} holds {}, but its type {} says {}",
                            field.kind().with_article(),
                            def.name,
                            kind.with_article()
                        )));
                    }
                }
                let mut target = |t: u32| -> Result<ObjIndex> {
                    let made_target = match heap_of[t as usize] {
                        0 => self.make(t, heap_types, &mut heap_of, &mut order, made)?,
                        n => n - 1,
                    };
                    HEAP.retain(made_target);
                    Ok(made_target)
                };
                let value = match field {
                    Field::Int(v) => Value::Int(v),
                    Field::Double(v) => Value::Double(v),
                    Field::Bool(v) => Value::Bool(v),
                    Field::Str { at, len } => {
                        let at = self.header().layout.strings_off + u64::from(at);
                        let text =
                            self.text(at, u64::from(len), || format!("object {index}'s string in slot {slot}"))?;
                        Value::Str(text.into_boxed_str())
                    }
                    Field::Ref(t) => Value::Ref(t.map(&mut target).transpose()?),
                    Field::AtomicInt(v) => Value::AtomicInt(AtomicI32::new(v)),
                    Field::AtomicLong(v) => Value::AtomicLong(AtomicI64::new(v)),
                    Field::AtomicRef(t) => {
                        Value::AtomicRef(AtomicU32::new(t.map(&mut target).transpose()?.unwrap_or(NO_TARGET)))
                    }
                };
                flags |= match value {
                    Value::Ref(Some(_)) => MAY_REFER,
                    Value::AtomicRef(_) => MAY_REFER | MAY_REACH_ATOMIC_REF,
                    _ => 0,
                };
                values.push(value);
            }
            if flags != 0 {
                HEAP.slot(node).set_flags(flags, 0);
            }
        }
        Ok(())
    }

    /// Makes the (empty) heap object for block object `index`.
    fn make(
        &self,
        index: u32,
        heap_types: &[(u32, Arc<TypeDef>)],
        heap_of: &mut [u32],
        order: &mut Vec<u32>,
        made: &mut Vec<ObjIndex>,
    ) -> Result<ObjIndex> {
        let obj = self.located(index)?;
        let (stored, def) = &heap_types[obj.ty as usize];
        let node = HEAP
            .alloc(*stored, Vec::new(), def.has_atomic_ref)
            .ok_or_else(|| Error::new(Status::ErrLimit, "cannot import a version block: the heap is full"))?;
        heap_of[index as usize] = node + 1;
        order.push(index);
        made.push(node);
        Ok(node)
    }
}

/// Undoes a part-built import: takes every value out of the objects made and drops the
/// references they held, and the root's own; everything made is then freed.
fn unmake(made: &[ObjIndex]) {
    let Some(&root) = made.first() else {
        return;
    };
    let mut held = Vec::new();
    for &node in made {
        // SAFETY: the calling thread made these objects and still owns them (not frozen: a
        // failed freeze leaves the graph as it was); no borrow of their values is live.
        let values = std::mem::take(unsafe { HEAP.slot(node).values_mut() });
        held.extend(values.iter().filter_map(Value::as_ref_target));
    }
    // The root's reference for the handle, taken right after it was made.
    held.push(root);
    for target in held {
        HEAP.release(target);
    }
}
