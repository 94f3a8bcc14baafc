//! Reading a block in place: `BlockView` over bytes that may change under it.
//!
//! The bytes may live in memory another process maps and can write (a segment), so the view never
//! hands out or keeps a Rust reference into them: every access copies the words it needs into
//! locals (each read once), checks them against the header's layout, which `open` copied and
//! checked, and only then uses them. Bounds are computed in `u64` integers, never as pointers.
//! Nothing here walks the graph, so data with cycles costs nothing special and every call is O(1)
//! but the string copies.

use super::{corrupt, object_size, Header, FIELD_ENTRY, HEADER_LEN, LIST, TABLE_ENTRY, TYPE_ENTRY, WORD};
use crate::core::base::error::{Error, Result, Status};
use crate::core::heap::types::TypeDef;
use crate::core::heap::value::Kind;
use parking_lot::Mutex;
use std::sync::Arc;

/// Each block type's heap type: its stored number and definition.
pub(crate) type HeapTypes = Arc<[(u32, Arc<TypeDef>)]>;

/// One block, read in place.
pub(crate) struct BlockView {
    base: *const u8,
    header: Header,
    /// The heap types of the block's types, once an import matched them (`import`).
    pub(super) heap_types: Mutex<Option<HeapTypes>>,
}

// SAFETY: the view reads its bytes only by copying them out through the raw pointer, which any
// thread may do; `open`'s caller keeps the bytes mapped for the view's life.
unsafe impl Send for BlockView {}
// SAFETY: as for `Send`; the only state that changes is behind a mutex.
unsafe impl Sync for BlockView {}

/// A value read from a block, checked: a string as its (offset, length) in the strings section,
/// a reference as an object index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Field {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str { at: u32, len: u32 },
    Ref(Option<u32>),
    AtomicInt(i32),
    AtomicLong(i64),
    AtomicRef(Option<u32>),
}

impl Field {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Field::Int(_) => Kind::Int,
            Field::Double(_) => Kind::Double,
            Field::Bool(_) => Kind::Bool,
            Field::Str { .. } => Kind::String,
            Field::Ref(_) => Kind::Ref,
            Field::AtomicInt(_) => Kind::AtomicInt,
            Field::AtomicLong(_) => Kind::AtomicLong,
            Field::AtomicRef(_) => Kind::AtomicRef,
        }
    }
}

/// An object's place and header, checked: its bytes `at..at + object_size` lie in the objects
/// section.
#[derive(Clone, Copy)]
pub(super) struct Obj {
    pub(super) index: u32,
    /// Absolute offset of the object's header in the block.
    pub(super) at: u64,
    pub(super) ty: u32,
    pub(super) count: u32,
}

/// A type table entry, checked: its fields lie in the field table.
#[derive(Clone, Copy)]
pub(super) struct TypeEntry {
    pub(super) name: (u32, u32),
    pub(super) first_field: u32,
    pub(super) field_count: u32,
}

impl BlockView {
    /// Opens the block at `base`, checking its header (magic, format, checksum, layout within
    /// `len` bytes) and, if given, its version id. O(1): the body is checked access by access, or
    /// all at once by `verify`.
    ///
    /// # Safety
    /// `base` is valid for reads of `len` bytes for the life of the view. Other processes may
    /// write those bytes meanwhile: every access checks what it reads.
    pub(crate) unsafe fn open(base: *const u8, len: usize, expected_version_id: Option<u64>) -> Result<BlockView> {
        if len < HEADER_LEN as usize {
            return Err(corrupt(format!(
                "the version block is {len} bytes, shorter than its {HEADER_LEN}-byte header"
            )));
        }
        let mut bytes = [0u8; HEADER_LEN as usize];
        // SAFETY: `len >= HEADER_LEN`, and the caller guarantees `len` readable bytes at `base`.
        unsafe { std::ptr::copy_nonoverlapping(base, bytes.as_mut_ptr(), bytes.len()) };
        let header = Header::parse(&bytes, len)?;
        if let Some(expected) = expected_version_id {
            if header.version_id != expected {
                return Err(corrupt(format!(
                    "the version block holds version {}, where version {expected} was expected",
                    header.version_id
                )));
            }
        }
        Ok(BlockView { base, header, heap_types: Mutex::new(None) })
    }

    /// Object `index`, located and checked: (its header's offset in the block, its type index,
    /// its value count). Its bytes, list kinds included, lie within the objects section.
    pub(crate) fn locate(&self, index: u32) -> Result<(u64, u32, u32)> {
        self.object(index).map(|obj| (obj.at, obj.ty, obj.count))
    }

    /// The block's first byte (for offsets `locate` checked).
    pub(crate) fn base(&self) -> *const u8 {
        self.base
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    pub(crate) fn root(&self) -> u32 {
        self.header.root
    }

    pub(crate) fn object_count(&self) -> u32 {
        self.header.layout.object_count
    }

    pub(crate) fn type_count(&self) -> u32 {
        self.header.layout.type_count
    }

    pub(crate) fn version_id(&self) -> u64 {
        self.header.version_id
    }

    pub(crate) fn kn_version(&self) -> i32 {
        self.header.kn_version
    }

    pub(crate) fn block_len(&self) -> usize {
        self.header.layout.block_len as usize
    }

    /// `N` bytes at block offset `at`, copied out.
    #[inline]
    pub(super) fn read<const N: usize>(&self, at: u64) -> Result<[u8; N]> {
        let fits = at.checked_add(N as u64).is_some_and(|end| end <= self.header.layout.block_len);
        if !fits {
            return Err(self.beyond(at, N as u64));
        }
        let mut out = [0u8; N];
        // SAFETY: `at + N <= block_len <= len` (checked just above and by `open`): readable bytes
        // of the block, copied, never referenced.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(at as usize), out.as_mut_ptr(), N) };
        Ok(out)
    }

    #[inline]
    pub(super) fn u32_at(&self, at: u64) -> Result<u32> {
        self.read::<4>(at).map(u32::from_le_bytes)
    }

    #[inline]
    pub(super) fn u64_at(&self, at: u64) -> Result<u64> {
        self.read::<8>(at).map(u64::from_le_bytes)
    }

    /// `len` bytes at block offset `at`, copied out.
    pub(super) fn bytes(&self, at: u64, len: u64) -> Result<Vec<u8>> {
        if at.checked_add(len).is_none_or(|end| end > self.header.layout.block_len) {
            return Err(self.beyond(at, len));
        }
        let mut out = vec![0u8; len as usize];
        self.copy_to(at, &mut out)?;
        Ok(out)
    }

    /// Fills `out` with the bytes at block offset `at`.
    pub(super) fn copy_to(&self, at: u64, out: &mut [u8]) -> Result<()> {
        let len = out.len() as u64;
        if at.checked_add(len).is_none_or(|end| end > self.header.layout.block_len) {
            return Err(self.beyond(at, len));
        }
        // SAFETY: as in `read`.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(at as usize), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Only reached when a section check above it is wrong: floe's bug, reported, not a panic.
    #[cold]
    fn beyond(&self, at: u64, len: u64) -> Error {
        self.corrupt(format!("a read of {len} bytes at byte {at} is beyond the block ({} bytes)", self.block_len()))
    }

    /// `ErrCorrupt`, saying which block.
    #[cold]
    pub(super) fn corrupt(&self, message: String) -> Error {
        corrupt(format!("version block {}: {message}", self.header.version_id))
    }

    /// Object `index`, located and checked.
    pub(super) fn object(&self, index: u32) -> Result<Obj> {
        let l = &self.header.layout;
        if index >= l.object_count {
            return Err(Error::new(
                Status::ErrOutOfRange,
                format!(
                    "version block {} has {} objects; there is no object {index}",
                    self.header.version_id, l.object_count
                ),
            ));
        }
        self.located(index)
    }

    /// Object `index`, known to be below the object count, located and checked.
    pub(super) fn located(&self, index: u32) -> Result<Obj> {
        let l = &self.header.layout;
        let units = self.u32_at(l.table_off + u64::from(index) * TABLE_ENTRY)?;
        let rel = u64::from(units) * WORD;
        if rel + WORD > l.objects_len {
            return Err(self.corrupt(format!(
                "object {index} starts at byte {rel} of the objects section, which is {} bytes",
                l.objects_len
            )));
        }
        let at = l.objects_off + rel;
        let head = self.u64_at(at)?;
        let (ty, count) = (head as u32, (head >> 32) as u32);
        if ty >= l.type_count {
            return Err(self.corrupt(format!("object {index} has type {ty}, but the block has {} types", l.type_count)));
        }
        let size = object_size(ty == LIST, count);
        if rel + size > l.objects_len {
            return Err(self.corrupt(format!(
                "object {index} ({count} values at byte {rel}) ends at byte {} of the objects section, which is {} bytes",
                rel + size,
                l.objects_len
            )));
        }
        Ok(Obj { index, at, ty, count })
    }

    /// Type `t`'s entry, checked.
    pub(super) fn type_entry(&self, t: u32) -> Result<TypeEntry> {
        let l = &self.header.layout;
        if t >= l.type_count {
            return Err(Error::new(
                Status::ErrOutOfRange,
                format!("version block {} has {} types; there is no type {t}", self.header.version_id, l.type_count),
            ));
        }
        let at = l.types_off + u64::from(t) * TYPE_ENTRY;
        let name = self.u64_at(at)?;
        let fields = self.u64_at(at + 8)?;
        let (first_field, field_count) = (fields as u32, (fields >> 32) as u32);
        if u64::from(first_field) + u64::from(field_count) > u64::from(l.field_count) {
            return Err(self.corrupt(format!(
                "type {t}'s fields {first_field}..{} are beyond the field table ({} fields)",
                u64::from(first_field) + u64::from(field_count),
                l.field_count
            )));
        }
        if t == LIST && field_count != 0 {
            return Err(self.corrupt(format!("type 0, the list, has {field_count} fields")));
        }
        Ok(TypeEntry { name: (name as u32, (name >> 32) as u32), first_field, field_count })
    }

    /// A kind code as the block stores it, checked.
    fn kind_of_code(&self, code: u32, what: impl FnOnce() -> String) -> Result<Kind> {
        Kind::from_code(code).ok_or_else(|| self.corrupt(format!("{} has kind {code}, which is no kind", what())))
    }

    /// "object 12's field 3", "object 12's element 3".
    fn slot_name(obj: &Obj, slot: u32) -> String {
        let noun = if obj.ty == LIST { "element" } else { "field" };
        format!("object {}'s {noun} {slot}", obj.index)
    }

    /// The kind of slot `slot` of `obj` (which the caller checked is in range).
    pub(super) fn slot_kind(&self, obj: &Obj, slot: u32) -> Result<Kind> {
        if obj.ty == LIST {
            let at = obj.at + WORD + u64::from(obj.count) * WORD + u64::from(slot);
            let code = self.read::<1>(at)?[0];
            return self.kind_of_code(u32::from(code), || Self::slot_name(obj, slot));
        }
        let entry = self.type_entry(obj.ty)?;
        if entry.field_count != obj.count {
            return Err(self.corrupt(format!(
                "object {} has {} values, but its type {} has {} fields",
                obj.index, obj.count, obj.ty, entry.field_count
            )));
        }
        let code =
            self.u32_at(self.header.layout.fields_off + u64::from(entry.first_field + slot) * FIELD_ENTRY + 8)?;
        self.kind_of_code(code, || format!("field {slot} of type {}", obj.ty))
    }

    /// Slot `slot` of `obj`, read and checked: its kind and value.
    pub(super) fn slot_value(&self, obj: &Obj, slot: u32) -> Result<Field> {
        let kind = self.slot_kind(obj, slot)?;
        let word = self.u64_at(obj.at + WORD + u64::from(slot) * WORD)?;
        let l = &self.header.layout;
        let field = match kind {
            Kind::Int => Field::Int(word as i64),
            Kind::Double => Field::Double(f64::from_bits(word)),
            Kind::AtomicLong => Field::AtomicLong(word as i64),
            Kind::Bool => match word {
                0 | 1 => Field::Bool(word == 1),
                _ => {
                    return Err(self.corrupt(format!(
                        "{} is a bool stored as {word} (a bool is 0 or 1)",
                        Self::slot_name(obj, slot)
                    )))
                }
            },
            Kind::AtomicInt => match i32::try_from(word as i64) {
                Ok(v) => Field::AtomicInt(v),
                Err(_) => {
                    return Err(self.corrupt(format!(
                        "{} is an atomic int stored as {}, which does not fit 32 bits",
                        Self::slot_name(obj, slot),
                        word as i64
                    )))
                }
            },
            Kind::String => {
                let (at, len) = (word as u32, (word >> 32) as u32);
                let end = u64::from(at) + u64::from(len);
                if end > l.strings_len {
                    return Err(self.corrupt(format!(
                        "{} names string bytes {at}..{end} beyond the strings section ({} bytes)",
                        Self::slot_name(obj, slot),
                        l.strings_len
                    )));
                }
                Field::Str { at, len }
            }
            Kind::Ref | Kind::AtomicRef => {
                let target = match word {
                    0 => None,
                    n if n <= u64::from(l.object_count) => Some(n as u32 - 1),
                    n => {
                        return Err(self.corrupt(format!(
                            "{} refers to object {}, but the block has {} objects",
                            Self::slot_name(obj, slot),
                            n - 1,
                            l.object_count
                        )))
                    }
                };
                if kind == Kind::Ref {
                    Field::Ref(target)
                } else {
                    Field::AtomicRef(target)
                }
            }
        };
        Ok(field)
    }

    /// `Point#12`: how messages about the caller's own mistakes name a block object (the type
    /// name as the block has it, if it can be read).
    fn name(&self, obj: &Obj) -> String {
        let ty = self.type_name(obj.ty).unwrap_or_else(|_| format!("type{}", obj.ty));
        format!("{ty}#{}", obj.index)
    }

    /// `.y` or `[3]`.
    fn step(&self, obj: &Obj, slot: u32) -> String {
        if obj.ty != LIST {
            if let Ok(fields) = self.type_fields(obj.ty) {
                if let Some((field, _)) = fields.get(slot as usize) {
                    return format!(".{field}");
                }
            }
        }
        format!("[{slot}]")
    }

    #[cold]
    fn out_of_range(&self, verb: &str, obj: &Obj, slot: usize) -> Error {
        let noun = if obj.ty == LIST { "element" } else { "field" };
        let plural = if obj.count == 1 { "" } else { "s" };
        Error::new(
            Status::ErrOutOfRange,
            format!(
                "cannot {verb} {name}[{slot}] in version {v}: index out of range; {name} has {} {noun}{plural}",
                obj.count,
                name = self.name(obj),
                v = self.header.version_id
            ),
        )
    }

    #[cold]
    fn wrong_kind(&self, verb: &str, obj: &Obj, slot: u32, stored: Kind, wanted: &str) -> Error {
        Error::new(
            Status::ErrWrongKind,
            format!(
                "cannot {verb} {}{} in version {}: it holds {}, not {wanted}",
                self.name(obj),
                self.step(obj, slot),
                self.header.version_id,
                stored.with_article()
            ),
        )
    }

    /// Object `index` and slot `slot` of it, checked in range.
    fn at_slot(&self, verb: &str, index: u32, slot: usize) -> Result<(Obj, u32)> {
        let obj = self.object(index)?;
        match u32::try_from(slot) {
            Ok(s) if s < obj.count => Ok((obj, s)),
            _ => Err(self.out_of_range(verb, &obj, slot)),
        }
    }

    /// The type index of object `index`.
    pub(crate) fn type_of(&self, index: u32) -> Result<u32> {
        self.object(index).map(|obj| obj.ty)
    }

    /// The number of fields, or of list elements, of object `index`.
    pub(crate) fn len_of(&self, index: u32) -> Result<usize> {
        self.object(index).map(|obj| obj.count as usize)
    }

    /// The kind of slot `slot` of object `index`.
    pub(crate) fn kind_at(&self, index: u32, slot: usize) -> Result<Kind> {
        let (obj, slot) = self.at_slot("inspect", index, slot)?;
        self.slot_kind(&obj, slot)
    }

    /// The value in slot `slot` of object `index`, whatever its kind.
    pub(crate) fn field(&self, index: u32, slot: usize) -> Result<Field> {
        let (obj, slot) = self.at_slot("get", index, slot)?;
        self.slot_value(&obj, slot)
    }

    /// The value in slot `slot`, which must be of `wanted` (a kind with its article, for messages).
    fn typed<R>(&self, index: u32, slot: usize, wanted: &str, pick: impl FnOnce(Field) -> Option<R>) -> Result<R> {
        let (obj, s) = self.at_slot("get", index, slot)?;
        let field = self.slot_value(&obj, s)?;
        pick(field).ok_or_else(|| self.wrong_kind("get", &obj, s, field.kind(), wanted))
    }

    pub(crate) fn get_int(&self, index: u32, slot: usize) -> Result<i64> {
        self.typed(index, slot, "an int", |f| if let Field::Int(v) = f { Some(v) } else { None })
    }

    pub(crate) fn get_double(&self, index: u32, slot: usize) -> Result<f64> {
        self.typed(index, slot, "a double", |f| if let Field::Double(v) = f { Some(v) } else { None })
    }

    pub(crate) fn get_bool(&self, index: u32, slot: usize) -> Result<bool> {
        self.typed(index, slot, "a bool", |f| if let Field::Bool(v) = f { Some(v) } else { None })
    }

    /// The object a reference refers to, `None` for null.
    pub(crate) fn get_ref(&self, index: u32, slot: usize) -> Result<Option<u32>> {
        self.typed(index, slot, "a ref", |f| if let Field::Ref(v) = f { Some(v) } else { None })
    }

    /// An atomic int's or long's value when the block was written.
    pub(crate) fn get_atomic(&self, index: u32, slot: usize) -> Result<i64> {
        self.typed(index, slot, "an atomic int or long", |f| match f {
            Field::AtomicInt(v) => Some(i64::from(v)),
            Field::AtomicLong(v) => Some(v),
            _ => None,
        })
    }

    /// The object an atomic reference referred to when the block was written, `None` for null.
    pub(crate) fn get_atomic_ref(&self, index: u32, slot: usize) -> Result<Option<u32>> {
        self.typed(index, slot, "an atomic ref", |f| if let Field::AtomicRef(v) = f { Some(v) } else { None })
    }

    /// A string's place in the block: (offset from the block's start, length), within the strings
    /// section; its bytes are not checked (they may change after any check: a caller that hands
    /// them on as text copies and checks them, as `get_string` does).
    pub(crate) fn string_span(&self, index: u32, slot: usize) -> Result<(usize, usize)> {
        let (at, len) = self.typed(index, slot, "a string", |f| match f {
            Field::Str { at, len } => Some((at, len)),
            _ => None,
        })?;
        Ok(((self.header.layout.strings_off + u64::from(at)) as usize, len as usize))
    }

    /// A string, copied out and checked to be UTF-8.
    pub(crate) fn get_string(&self, index: u32, slot: usize) -> Result<String> {
        let (at, len) = self.string_span(index, slot)?;
        self.text(at as u64, len as u64, || format!("object {index}'s string in slot {slot}"))
    }

    /// `len` bytes at block offset `at` as text.
    pub(super) fn text(&self, at: u64, len: u64, what: impl FnOnce() -> String) -> Result<String> {
        String::from_utf8(self.bytes(at, len)?).map_err(|e| {
            let bad = e.utf8_error().valid_up_to();
            self.corrupt(format!("{} (bytes {at}..{}) is not UTF-8 from its byte {bad} on", what(), at + len))
        })
    }

    /// A name (offset, length) in the strings section, checked and read.
    fn name_text(&self, (at, len): (u32, u32), what: impl Fn() -> String) -> Result<String> {
        let l = &self.header.layout;
        let end = u64::from(at) + u64::from(len);
        if end > l.strings_len {
            return Err(self.corrupt(format!(
                "{} names string bytes {at}..{end} beyond the strings section ({} bytes)",
                what(),
                l.strings_len
            )));
        }
        self.text(l.strings_off + u64::from(at), u64::from(len), what)
    }

    /// Type `t`'s name.
    pub(crate) fn type_name(&self, t: u32) -> Result<String> {
        let entry = self.type_entry(t)?;
        self.name_text(entry.name, || format!("type {t}'s name"))
    }

    /// Type `t`'s fields: names and kinds.
    pub(crate) fn type_fields(&self, t: u32) -> Result<Vec<(String, Kind)>> {
        let entry = self.type_entry(t)?;
        let fields_off = self.header.layout.fields_off;
        (0..entry.field_count)
            .map(|i| {
                let at = fields_off + u64::from(entry.first_field + i) * FIELD_ENTRY;
                let name = self.u64_at(at)?;
                let what = || format!("field {i} of type {t}");
                let kind = self.kind_of_code(self.u32_at(at + 8)?, what)?;
                Ok((self.name_text((name as u32, (name >> 32) as u32), what)?, kind))
            })
            .collect()
    }
}
