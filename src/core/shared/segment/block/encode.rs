//! Writing a block: `plan` walks the frozen graph once, numbers its objects in the order it
//! reaches them (breadth first: the order list is its own queue, so a graph of any depth is walked
//! without recursion), collects the types, and sizes every section exactly; `Plan::write` then
//! writes the block straight into its destination in one pass, through four sequential streams
//! (types and fields, objects, object table, strings), each staged through a small buffer that
//! feeds the checksum, and writes the header last.
//!
//! What the walk learns that the write needs again and the frozen graph cannot tell it is kept in
//! the plan: the numbering, as each reference's encoded target in the order the write meets them
//! (`refs`), and the atomic references' targets as read once by the walk, each retained until the
//! plan is dropped, so that a replacement meanwhile frees nothing the block is about to name.

use super::{corrupt, object_size, padded, Header, Layout, FORMAT_MAJOR, FORMAT_MINOR, HEADER_LEN, LIST, LIST_NAME};
use crate::core::base::error::{Error, Result, Status};
use crate::core::base::scratch;
use crate::core::graph::atomic;
use crate::core::graph::ownership::name;
use crate::core::heap::slots::HEAP;
use crate::core::heap::thread;
use crate::core::heap::types::{self, TypeDef, LIST_TYPE};
use crate::core::heap::value::{ObjIndex, Value};
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Objects a block may hold: a reference is the index plus one in a `u32`.
const MAX_OBJECTS: usize = u32::MAX as usize - 1;
/// Bytes of objects a block may hold: the object table counts in 8-byte units in a `u32`.
const MAX_OBJECTS_LEN: u64 = (u32::MAX as u64) * 8;
/// Bytes of strings: a string's offset is a `u32`.
const MAX_STRINGS_LEN: u64 = u32::MAX as u64;

/// A frozen graph, walked and sized, ready to be written.
pub(crate) struct Plan {
    /// The root, then every atomic reference's target: each with a reference the plan holds.
    held: Vec<ObjIndex>,
    /// Block object `i` is heap object `order[i]`; `order[0]` is the root.
    order: Vec<ObjIndex>,
    /// Each reference's encoded value (target's block index + 1, 0 for null), in write order.
    refs: Vec<u32>,
    /// Block type `i`'s definition; type 0 is the list.
    types: Vec<Arc<TypeDef>>,
    /// A heap type's block index, by the number the object header stores (`u32::MAX`: none).
    block_type: Vec<u32>,
    layout: Layout,
}

impl Drop for Plan {
    fn drop(&mut self) {
        for &held in &self.held {
            HEAP.release(held);
        }
    }
}

/// Each heap object's block index plus one while a walk runs (0: not reached); all zero between
/// walks, kept per thread (`base::scratch`).
#[derive(Default)]
struct Numbers(Vec<u32>);

thread_local! {
    static NUMBERS: RefCell<Numbers> = RefCell::new(Numbers::default());
}

/// Walks the frozen graph of `root` and sizes its block.
pub(crate) fn plan(root: ObjIndex) -> Result<Plan> {
    let owner = HEAP.slot(root).owner();
    if !HEAP.slot(root).is_frozen() {
        return Err(not_frozen(root, owner, root));
    }
    HEAP.retain(root);
    let list = types::of_stored(LIST_TYPE).expect("the list type always exists");
    let mut plan = Plan {
        held: vec![root],
        order: Vec::new(),
        refs: Vec::new(),
        types: vec![list],
        block_type: vec![u32::MAX, LIST],
        layout: Layout::default(),
    };
    scratch::with(&NUMBERS, |numbers| {
        let result = plan.walk(root, numbers);
        for &node in &plan.order {
            if let Some(mark) = numbers.0.get_mut(node as usize) {
                *mark = 0;
            }
        }
        result
    })?;
    Ok(plan)
}

/// A block of the graph of `root`, in a vector: for tests, files and the network.
pub(crate) fn encode(root: ObjIndex, version_id: u64, kn_version: i32) -> Result<Vec<u8>> {
    let plan = plan(root)?;
    let mut bytes = vec![0u8; plan.len()];
    // SAFETY: `bytes` is ours, `plan.len()` bytes long, and nothing else refers to it.
    unsafe { plan.write(bytes.as_mut_ptr(), bytes.len(), version_id, kn_version)? };
    Ok(bytes)
}

#[cold]
fn not_frozen(index: ObjIndex, owner: u32, root: ObjIndex) -> Error {
    let reached = if index == root { String::new() } else { format!(" (reached from {})", name(root)) };
    Error::new(
        Status::ErrNotFrozen,
        format!(
            "cannot write {}{reached} into a version block: it is mutable (owned by thread {}); only frozen \
             graphs are published — freeze it first",
            name(index),
            thread::name_of(owner)
        ),
    )
}

#[cold]
fn too_large(what: String) -> Error {
    Error::new(Status::ErrLimit, format!("cannot write the graph into a version block: {what}"))
}

impl Plan {
    fn walk(&mut self, root: ObjIndex, numbers: &mut Numbers) -> Result<()> {
        let heap = &HEAP;
        let mut objects_len: u64 = 0;
        let mut strings_len: u64 = 0;
        number(numbers, root, &mut self.order)?;
        let mut next = 0;
        while let Some(&node) = self.order.get(next) {
            next += 1;
            let slot = heap.slot(node);
            let owner = slot.owner();
            if !slot.is_frozen() {
                // A frozen object refers only to frozen ones: this would be the heap's own bug.
                return Err(not_frozen(node, owner, root));
            }
            let stored = slot.stored_type();
            self.type_of(stored)?;
            // SAFETY: the object is frozen (owner read with Acquire above): its values never change
            // but for atomics, which change through shared references.
            let values = unsafe { slot.values() };
            let count = u32::try_from(values.len())
                .map_err(|_| too_large(format!("{} has more than 2^32 elements", name(node))))?;
            objects_len += object_size(stored == LIST_TYPE, count);
            for (index, value) in values.iter().enumerate() {
                match value {
                    Value::Str(s) => strings_len += s.len() as u64 + 1,
                    Value::Ref(target) => {
                        let encoded = target.map(|t| number(numbers, t, &mut self.order)).transpose()?;
                        self.refs.push(encoded.unwrap_or(0));
                    }
                    Value::AtomicRef(cell) => {
                        let target = atomic::load_retained(node, index, cell);
                        self.held.extend(target);
                        let encoded = target.map(|t| number(numbers, t, &mut self.order)).transpose()?;
                        self.refs.push(encoded.unwrap_or(0));
                    }
                    _ => {}
                }
            }
            if objects_len > MAX_OBJECTS_LEN {
                return Err(too_large(format!("its objects take more than {MAX_OBJECTS_LEN} bytes")));
            }
        }
        let mut field_count: u64 = 0;
        for def in &self.types {
            strings_len += def.name.len() as u64 + 1;
            field_count += def.fields.len() as u64;
            strings_len += def.fields.iter().map(|(field, _)| field.len() as u64 + 1).sum::<u64>();
        }
        if strings_len > MAX_STRINGS_LEN {
            return Err(too_large(format!("its strings take {strings_len} bytes, more than {MAX_STRINGS_LEN}")));
        }
        let field_count =
            u32::try_from(field_count).map_err(|_| too_large(format!("its types have {field_count} fields")))?;
        let layout =
            Layout::of(self.types.len() as u32, field_count, self.order.len() as u32, objects_len, strings_len)
                .filter(|l| usize::try_from(l.block_len).is_ok())
                .ok_or_else(|| too_large("it would not fit this machine's address space".into()))?;
        self.layout = layout;
        Ok(())
    }

    /// The block index of heap type `stored`, added when first met.
    fn type_of(&mut self, stored: u32) -> Result<u32> {
        let at = stored as usize;
        if at >= self.block_type.len() {
            self.block_type.resize(at + 1, u32::MAX);
        }
        if self.block_type[at] == u32::MAX {
            let def = types::of_stored(stored).expect("an object's type exists");
            self.block_type[at] = self.types.len() as u32;
            self.types.push(def);
        }
        Ok(self.block_type[at])
    }

    /// The block's exact length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.layout.block_len as usize
    }

    /// How many objects the block holds.
    pub(crate) fn object_count(&self) -> u32 {
        self.layout.object_count
    }

    /// Writes the block into `dst`.
    ///
    /// # Safety
    /// `dst` is valid for writes of `len` bytes, which nothing else writes or holds a reference to
    /// until this returns. `len` must be `self.len()` (checked).
    pub(crate) unsafe fn write(&self, dst: *mut u8, len: usize, version_id: u64, kn_version: i32) -> Result<()> {
        if len != self.len() {
            return Err(Error::new(
                Status::ErrInvalidArgument,
                format!("cannot write a version block of {} bytes into {len}", self.len()),
            ));
        }
        let l = &self.layout;
        let stream = |from: u64, to: u64| Stream::new(dst, from as usize, to as usize);
        let mut types = stream(l.types_off, l.objects_off);
        let mut objects = stream(l.objects_off, l.table_off);
        let mut table = stream(l.table_off, l.strings_off);
        let mut strings = stream(l.strings_off, l.block_len);
        let mut first_field = 0u32;
        for def in &self.types {
            let name = string(&mut strings, &def.name);
            types.put(&name);
            types.put(&first_field.to_le_bytes());
            types.put(&(def.fields.len() as u32).to_le_bytes());
            first_field += def.fields.len() as u32;
        }
        for def in &self.types {
            for (field, kind) in def.fields.iter() {
                let name = string(&mut strings, field);
                types.put(&name);
                types.put(&(*kind as u32).to_le_bytes());
            }
        }
        types.pad();
        let mut refs = self.refs.iter();
        let mut kinds = Vec::new();
        for &node in &self.order {
            table.put(&((objects.written() / 8) as u32).to_le_bytes());
            let slot = HEAP.slot(node);
            let stored = slot.stored_type();
            // SAFETY: frozen, checked by `plan`, and kept alive by the references the plan holds.
            let values = unsafe { slot.values() };
            objects.put(&self.block_type[stored as usize].to_le_bytes());
            objects.put(&(values.len() as u32).to_le_bytes());
            kinds.clear();
            for value in values {
                let word = match value {
                    Value::Int(v) => v.to_le_bytes(),
                    Value::Double(v) => v.to_bits().to_le_bytes(),
                    Value::Bool(v) => u64::from(*v).to_le_bytes(),
                    Value::Str(s) => string(&mut strings, s),
                    Value::Ref(_) | Value::AtomicRef(_) => u64::from(*refs.next().unwrap_or(&0)).to_le_bytes(),
                    Value::AtomicInt(v) => i64::from(v.load(Ordering::SeqCst)).to_le_bytes(),
                    Value::AtomicLong(v) => v.load(Ordering::SeqCst).to_le_bytes(),
                };
                objects.put(&word);
                kinds.push(value.kind() as u8);
            }
            if stored == LIST_TYPE {
                objects.put(&kinds);
                objects.pad();
            }
        }
        table.pad();
        strings.pad();
        let mut body = types.finish("types")?;
        body.combine(&objects.finish("objects")?);
        body.combine(&table.finish("object table")?);
        body.combine(&strings.finish("strings")?);
        let header = Header {
            major: FORMAT_MAJOR,
            minor: FORMAT_MINOR,
            version_id,
            kn_version,
            flags: 0,
            root: 0,
            layout: self.layout,
            body_crc: body.finalize(),
        };
        let bytes = header.to_bytes();
        // SAFETY: the header's 128 bytes are the first of the `len` the caller gave us.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, HEADER_LEN as usize) };
        debug_assert_eq!(&*self.types[0].name, LIST_NAME);
        Ok(())
    }
}

/// A heap object's encoded reference (block index + 1), numbering it if the walk had not reached it.
#[inline]
fn number(numbers: &mut Numbers, node: ObjIndex, order: &mut Vec<ObjIndex>) -> Result<u32> {
    let at = node as usize;
    if at >= numbers.0.len() {
        let heap = (HEAP.capacity() as usize).max(at + 1);
        numbers.0.resize(heap.next_power_of_two(), 0);
    }
    if numbers.0[at] == 0 {
        if order.len() >= MAX_OBJECTS {
            return Err(too_large(format!("it has more than {MAX_OBJECTS} objects")));
        }
        order.push(node);
        numbers.0[at] = order.len() as u32;
    }
    Ok(numbers.0[at])
}

/// Appends `s` and its NUL to the strings; its (offset, length) as one 8-byte value.
fn string(strings: &mut Stream, s: &str) -> [u8; 8] {
    let at = strings.written() as u64;
    strings.put(s.as_bytes());
    strings.put(&[0]);
    (at | (s.len() as u64) << 32).to_le_bytes()
}

/// One section written front to back through a staging buffer, which feeds the checksum and is
/// copied out when full: the checksum never reads the destination back.
struct Stream {
    dst: *mut u8,
    start: usize,
    /// Bytes copied out so far (from `start`).
    copied: usize,
    end: usize,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    /// A put would have gone past `end`: nothing more is copied; `finish` reports it.
    overflow: bool,
}

const STAGE: usize = 16 * 1024;

impl Stream {
    fn new(dst: *mut u8, start: usize, end: usize) -> Stream {
        Stream {
            dst,
            start,
            copied: 0,
            end,
            buf: Vec::with_capacity(STAGE),
            crc: crc32fast::Hasher::new(),
            overflow: false,
        }
    }

    /// Bytes written into the section so far.
    fn written(&self) -> usize {
        self.copied + self.buf.len()
    }

    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() >= STAGE {
            self.flush();
            self.copy_out(bytes);
        } else {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() >= STAGE {
                self.flush();
            }
        }
    }

    /// Zeros up to the next multiple of 8 (sections are 8-aligned and so is every length in them).
    fn pad(&mut self) {
        let written = self.written() as u64;
        let to = padded(written).unwrap_or(written);
        self.put(&[0; 8][..(to - written) as usize]);
    }

    fn flush(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.copy_out(&buf);
        self.buf = buf;
        self.buf.clear();
    }

    fn copy_out(&mut self, bytes: &[u8]) {
        let at = self.start + self.copied;
        if self.overflow || at + bytes.len() > self.end {
            self.overflow = true;
            return;
        }
        self.crc.update(bytes);
        // SAFETY: `at + bytes.len() <= end <= len`, the destination's length (`Plan::write`).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.dst.add(at), bytes.len()) };
        self.copied += bytes.len();
    }

    /// The section's checksum, once every byte of it is written.
    fn finish(mut self, section: &str) -> Result<crc32fast::Hasher> {
        self.flush();
        if self.overflow || self.start + self.copied != self.end {
            // The plan sized a frozen graph, which cannot change: this is floe's own bug.
            return Err(corrupt(format!(
                "floe wrote the {section} section of a version block with {} bytes where it planned {}",
                if self.overflow { "more".to_string() } else { self.copied.to_string() },
                self.end - self.start
            )));
        }
        Ok(self.crc)
    }
}
