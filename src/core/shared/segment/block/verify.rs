//! The O(N) check of a whole block: every byte, in one linear pass (no graph walk, so cycles in
//! the data cost nothing): the body's checksum, the type table and its names, every object in
//! table order (each where the one before it ends, filling the objects section exactly), every
//! value's kind and bounds, every string's UTF-8. The first problem is reported.
//!
//! For bytes that no other process can write any more (a file read in, a network payload), a
//! block that passed is sound to read without further surprises; in shared memory a peer can
//! still scribble on it later, so the views' checks on every access stay.

use super::view::{BlockView, Field};
use super::{HEADER_LEN, LIST, LIST_NAME, WORD};
use crate::core::base::error::Result;

/// Bytes the checksum reads at a time.
const CHUNK: usize = 64 * 1024;

impl BlockView {
    /// Checks every byte of the block; names the first problem (`ErrCorrupt`).
    pub(crate) fn verify(&self) -> Result<()> {
        self.verify_checksum()?;
        self.verify_types()?;
        self.verify_objects()
    }

    fn verify_checksum(&self) -> Result<()> {
        let end = self.block_len() as u64;
        let mut hasher = crc32fast::Hasher::new();
        let mut chunk = vec![0u8; CHUNK];
        let mut at = HEADER_LEN;
        while at < end {
            let n = (end - at).min(CHUNK as u64) as usize;
            self.copy_to(at, &mut chunk[..n])?;
            hasher.update(&chunk[..n]);
            at += n as u64;
        }
        let (stored, computed) = (self.header().body_crc, hasher.finalize());
        if stored != computed {
            return Err(
                self.corrupt(format!("the body's checksum is {stored:#010x}, but its bytes give {computed:#010x}"))
            );
        }
        Ok(())
    }

    fn verify_types(&self) -> Result<()> {
        let mut next_field = 0u32;
        for t in 0..self.type_count() {
            let entry = self.type_entry(t)?;
            if entry.first_field != next_field {
                return Err(self.corrupt(format!(
                    "type {t}'s fields start at field {}, where type {} left off at {next_field}",
                    entry.first_field,
                    t.saturating_sub(1)
                )));
            }
            next_field += entry.field_count;
            let name = self.type_name(t)?;
            if t == LIST && name != LIST_NAME {
                return Err(self.corrupt(format!("type 0 is named {name:?}, not {LIST_NAME:?} (the list)")));
            }
            if name.is_empty() {
                return Err(self.corrupt(format!("type {t}'s name is empty")));
            }
            let fields = self.type_fields(t)?;
            for (i, (field, _)) in fields.iter().enumerate() {
                if field.is_empty() {
                    return Err(self.corrupt(format!("field {i} of type {t} ({name}) has an empty name")));
                }
                if fields[..i].iter().any(|(earlier, _)| earlier == field) {
                    return Err(self.corrupt(format!("type {t} ({name}) has two fields named {field}")));
                }
            }
        }
        let field_count = self.header().layout.field_count;
        if next_field != field_count {
            return Err(
                self.corrupt(format!("the types use {next_field} fields, but the field table has {field_count}"))
            );
        }
        Ok(())
    }

    fn verify_objects(&self) -> Result<()> {
        let layout = self.header().layout;
        let mut expected = 0u64;
        let mut text = Vec::new();
        for index in 0..self.object_count() {
            let obj = self.located(index)?;
            let rel = obj.at - layout.objects_off;
            if rel != expected {
                return Err(self.corrupt(format!(
                    "object {index} starts at byte {rel} of the objects section, where the object before it \
                     ends at {expected}"
                )));
            }
            expected += super::object_size(obj.ty == LIST, obj.count);
            for slot in 0..obj.count {
                if let Field::Str { at, len } = self.slot_value(&obj, slot)? {
                    text.resize(len as usize, 0);
                    self.copy_to(layout.strings_off + u64::from(at), &mut text)?;
                    if let Err(e) = std::str::from_utf8(&text) {
                        return Err(self.corrupt(format!(
                            "object {index}'s string in slot {slot} (strings bytes {at}..{}) is not UTF-8 from its \
                             byte {} on",
                            u64::from(at) + u64::from(len),
                            e.valid_up_to()
                        )));
                    }
                }
            }
            if obj.ty == LIST {
                let kinds_end = obj.at + WORD + u64::from(obj.count) * WORD + u64::from(obj.count);
                let padding = (WORD - u64::from(obj.count) % WORD) % WORD;
                let tail = self.bytes(kinds_end, padding)?;
                if tail.iter().any(|&b| b != 0) {
                    return Err(self.corrupt(format!("object {index}'s kind bytes are followed by nonzero padding")));
                }
            }
        }
        if expected != layout.objects_len {
            return Err(self.corrupt(format!(
                "the objects end at byte {expected} of the objects section, which is {} bytes",
                layout.objects_len
            )));
        }
        Ok(())
    }
}
