//! The version block: one frozen graph as position-independent, self-describing, little-endian
//! bytes — the same bytes in a segment, a file or a network payload. `docs/segment-format.md`
//! ("Version block") gives the layout byte by byte; this file is its one home in the code.
//!
//! 1. this file — the layout: the header's fields, the sections' sizes and where they start, both
//!    computed from the counts alone (`Layout`), so that a reader checks the whole layout in O(1).
//! 2. `encode` — `plan` walks a frozen graph once and sizes the block exactly; `Plan::write`
//!    writes it straight into its destination, checksums last.
//! 3. `view` — `BlockView`: opened in O(1), every access checked against the bytes, which another
//!    process may scribble on meanwhile (each word read once into a local, checked, then used).
//! 4. `verify` — the O(N) check of every byte: checksum, types, objects, values, strings.
//! 5. `import` — a block copied into the heap as ordinary objects, then frozen; types matched by
//!    name, field names and kinds.
//!
//! Sections, in this order, each starting at a multiple of 8: the header (128 bytes), the type
//! table (16 bytes a type; type 0 is the built-in list), the field table (12 bytes a field, every
//! type's fields in a row), the objects (an 8-byte object header `type, count`, then 8 bytes a
//! value; a list then has one kind byte per element, padded to 8), the object table (one `u32` an
//! object: its offset in the objects section, in 8-byte units), the strings (UTF-8, each followed
//! by a NUL that nothing relies on). References are object indices plus one (0 is null).
//!
//! Atomic fields (`AtomicInt`, `AtomicLong`, `AtomicRef`) are written as a snapshot of their value
//! when the block is written (an atomic reference's target as when the plan was made), and keep
//! their kind: a reader sees them as read-only values, an import makes them live atomics again.

mod encode;
mod import;
#[cfg(test)]
mod tests;
mod verify;
mod view;

// The store and the C ABI use these; until they are wired, only the tests do.
#[allow(unused_imports)]
pub(crate) use encode::{encode, plan, Plan};
#[allow(unused_imports)]
pub(crate) use view::{BlockView, Field, HeapTypes};

use crate::core::base::error::{Error, Status};

/// The first eight bytes of every block.
pub(crate) const MAGIC: [u8; 8] = *b"FLOEVER1";
/// The format this floe writes. A reader reads every minor version of its major one (a later
/// minor only gives meaning to bytes an earlier one leaves zero and does not read).
pub(crate) const FORMAT_MAJOR: u16 = 1;
pub(crate) const FORMAT_MINOR: u16 = 0;
/// The header's length; the type table starts right after it.
pub(crate) const HEADER_LEN: u64 = 128;
/// Bytes a type, a field, a value, an object table entry take.
pub(crate) const TYPE_ENTRY: u64 = 16;
pub(crate) const FIELD_ENTRY: u64 = 12;
pub(crate) const WORD: u64 = 8;
pub(crate) const TABLE_ENTRY: u64 = 4;
/// The block's type index of the built-in list: always type 0, named `List`, with no fields.
pub(crate) const LIST: u32 = 0;
pub(crate) const LIST_NAME: &str = "List";

/// Where each header field lives (byte offsets in the header).
pub(crate) mod at {
    pub(crate) const MAGIC: usize = 0;
    pub(crate) const MAJOR: usize = 8;
    pub(crate) const MINOR: usize = 10;
    pub(crate) const HEADER_LEN: usize = 12;
    pub(crate) const BLOCK_LEN: usize = 16;
    pub(crate) const VERSION_ID: usize = 24;
    pub(crate) const KN_VERSION: usize = 32;
    pub(crate) const FLAGS: usize = 36;
    pub(crate) const ROOT: usize = 40;
    pub(crate) const TYPE_COUNT: usize = 44;
    pub(crate) const FIELD_COUNT: usize = 48;
    pub(crate) const OBJECT_COUNT: usize = 52;
    pub(crate) const TYPES_OFF: usize = 56;
    pub(crate) const FIELDS_OFF: usize = 64;
    pub(crate) const OBJECTS_OFF: usize = 72;
    pub(crate) const OBJECTS_LEN: usize = 80;
    pub(crate) const TABLE_OFF: usize = 88;
    pub(crate) const STRINGS_OFF: usize = 96;
    pub(crate) const STRINGS_LEN: usize = 104;
    pub(crate) const BODY_CRC: usize = 112;
    pub(crate) const HEADER_CRC: usize = 116;
    // 120..128: reserved, written as zero.
}

/// Rounds up to a multiple of 8.
pub(crate) fn padded(n: u64) -> Option<u64> {
    n.checked_add(WORD - 1).map(|n| n & !(WORD - 1))
}

/// The bytes one object takes in the objects section: its header, its values, and for a list its
/// elements' kind bytes padded to 8.
pub(crate) fn object_size(list: bool, count: u32) -> u64 {
    let kinds = if list { u64::from(count).div_ceil(WORD) * WORD } else { 0 };
    WORD + u64::from(count) * WORD + kinds
}

/// Where the sections are, computed from the counts and the two variable lengths alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Layout {
    pub(crate) type_count: u32,
    pub(crate) field_count: u32,
    pub(crate) object_count: u32,
    pub(crate) types_off: u64,
    pub(crate) fields_off: u64,
    pub(crate) objects_off: u64,
    pub(crate) objects_len: u64,
    pub(crate) table_off: u64,
    pub(crate) strings_off: u64,
    pub(crate) strings_len: u64,
    pub(crate) block_len: u64,
}

impl Layout {
    /// The layout of a block with these counts and lengths; `None` if it would not fit 64 bits.
    pub(crate) fn of(
        type_count: u32,
        field_count: u32,
        object_count: u32,
        objects_len: u64,
        strings_len: u64,
    ) -> Option<Layout> {
        let types_off = HEADER_LEN;
        let fields_off = types_off + u64::from(type_count) * TYPE_ENTRY;
        let objects_off = padded(fields_off + u64::from(field_count) * FIELD_ENTRY)?;
        let table_off = objects_off.checked_add(objects_len)?;
        let strings_off = padded(table_off.checked_add(u64::from(object_count) * TABLE_ENTRY)?)?;
        let block_len = padded(strings_off.checked_add(strings_len)?)?;
        Some(Layout {
            type_count,
            field_count,
            object_count,
            types_off,
            fields_off,
            objects_off,
            objects_len,
            table_off,
            strings_off,
            strings_len,
            block_len,
        })
    }
}

/// The header, as written and as read back once by `BlockView::open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Header {
    pub(crate) major: u16,
    pub(crate) minor: u16,
    pub(crate) version_id: u64,
    pub(crate) kn_version: i32,
    pub(crate) flags: u32,
    pub(crate) root: u32,
    pub(crate) layout: Layout,
    pub(crate) body_crc: u32,
}

fn put<const N: usize>(bytes: &mut [u8; HEADER_LEN as usize], at: usize, value: [u8; N]) {
    bytes[at..at + N].copy_from_slice(&value);
}

fn get<const N: usize>(bytes: &[u8; HEADER_LEN as usize], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("N bytes")
}

impl Header {
    /// The header's bytes, its checksum included.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN as usize] {
        let mut b = [0u8; HEADER_LEN as usize];
        let l = &self.layout;
        put(&mut b, at::MAGIC, MAGIC);
        put(&mut b, at::MAJOR, self.major.to_le_bytes());
        put(&mut b, at::MINOR, self.minor.to_le_bytes());
        put(&mut b, at::HEADER_LEN, (HEADER_LEN as u32).to_le_bytes());
        put(&mut b, at::BLOCK_LEN, l.block_len.to_le_bytes());
        put(&mut b, at::VERSION_ID, self.version_id.to_le_bytes());
        put(&mut b, at::KN_VERSION, self.kn_version.to_le_bytes());
        put(&mut b, at::FLAGS, self.flags.to_le_bytes());
        put(&mut b, at::ROOT, self.root.to_le_bytes());
        put(&mut b, at::TYPE_COUNT, l.type_count.to_le_bytes());
        put(&mut b, at::FIELD_COUNT, l.field_count.to_le_bytes());
        put(&mut b, at::OBJECT_COUNT, l.object_count.to_le_bytes());
        put(&mut b, at::TYPES_OFF, l.types_off.to_le_bytes());
        put(&mut b, at::FIELDS_OFF, l.fields_off.to_le_bytes());
        put(&mut b, at::OBJECTS_OFF, l.objects_off.to_le_bytes());
        put(&mut b, at::OBJECTS_LEN, l.objects_len.to_le_bytes());
        put(&mut b, at::TABLE_OFF, l.table_off.to_le_bytes());
        put(&mut b, at::STRINGS_OFF, l.strings_off.to_le_bytes());
        put(&mut b, at::STRINGS_LEN, l.strings_len.to_le_bytes());
        put(&mut b, at::BODY_CRC, self.body_crc.to_le_bytes());
        let crc = header_crc(&b);
        put(&mut b, at::HEADER_CRC, crc.to_le_bytes());
        b
    }

    /// Reads a header back, checking everything that can be checked without the body: magic,
    /// format, checksum, and that the stored layout is exactly the one its counts give and fits
    /// `available` bytes. O(1).
    pub(crate) fn parse(b: &[u8; HEADER_LEN as usize], available: usize) -> Result<Header, Error> {
        let u16_at = |at| u16::from_le_bytes(get(b, at));
        let u32_at = |at| u32::from_le_bytes(get(b, at));
        let u64_at = |at| u64::from_le_bytes(get(b, at));
        let magic: [u8; 8] = get(b, at::MAGIC);
        if magic != MAGIC {
            return Err(Error::new(
                Status::ErrIncompatible,
                format!("not a floe version block: its first bytes are {}, not \"FLOEVER1\"", show_magic(&magic)),
            ));
        }
        let (major, minor) = (u16_at(at::MAJOR), u16_at(at::MINOR));
        if major != FORMAT_MAJOR {
            let newer = if major > FORMAT_MAJOR { "newer than" } else { "not" };
            return Err(Error::new(
                Status::ErrIncompatible,
                format!(
                    "the version block has format {major}.{minor}, {newer} the format this floe reads \
                     ({FORMAT_MAJOR}.x)"
                ),
            ));
        }
        let (stored, computed) = (u32_at(at::HEADER_CRC), header_crc(b));
        if stored != computed {
            return Err(corrupt(format!(
                "the version block's header checksum is {stored:#010x}, but its bytes give {computed:#010x}"
            )));
        }
        let header_len = u32_at(at::HEADER_LEN);
        if u64::from(header_len) != HEADER_LEN {
            return Err(corrupt(format!("the version block's header says it is {header_len} bytes, not {HEADER_LEN}")));
        }
        let (type_count, field_count, object_count) =
            (u32_at(at::TYPE_COUNT), u32_at(at::FIELD_COUNT), u32_at(at::OBJECT_COUNT));
        let (objects_len, strings_len) = (u64_at(at::OBJECTS_LEN), u64_at(at::STRINGS_LEN));
        let expected = Layout::of(type_count, field_count, object_count, objects_len, strings_len)
            .ok_or_else(|| corrupt("the version block's sections add up to more than 2^64 bytes"))?;
        let stored = Layout {
            type_count,
            field_count,
            object_count,
            types_off: u64_at(at::TYPES_OFF),
            fields_off: u64_at(at::FIELDS_OFF),
            objects_off: u64_at(at::OBJECTS_OFF),
            objects_len,
            table_off: u64_at(at::TABLE_OFF),
            strings_off: u64_at(at::STRINGS_OFF),
            strings_len,
            block_len: u64_at(at::BLOCK_LEN),
        };
        if stored != expected {
            return Err(corrupt(format!(
                "the version block's sections are not where its counts put them: {}",
                first_difference(&stored, &expected)
            )));
        }
        if stored.block_len > available as u64 {
            return Err(corrupt(format!(
                "the version block says it is {} bytes, but only {available} are there",
                stored.block_len
            )));
        }
        // Every object takes 4 bytes of table and at least 8 in the objects section.
        if objects_len / WORD < u64::from(object_count) {
            return Err(corrupt(format!(
                "the version block has {object_count} objects, more than its objects section ({objects_len} \
                 bytes) can hold"
            )));
        }
        if type_count == 0 {
            return Err(corrupt("the version block has no type table (type 0, the list, is always there)"));
        }
        let root = u32_at(at::ROOT);
        if root >= object_count {
            return Err(corrupt(format!(
                "the version block's root is object {root}, but it has {object_count} objects"
            )));
        }
        Ok(Header {
            major,
            minor,
            version_id: u64_at(at::VERSION_ID),
            kn_version: u32_at(at::KN_VERSION) as i32,
            flags: u32_at(at::FLAGS),
            root,
            layout: stored,
            body_crc: u32_at(at::BODY_CRC),
        })
    }
}

/// The checksum of a header's bytes, its own field read as zero.
pub(crate) fn header_crc(b: &[u8; HEADER_LEN as usize]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&b[..at::HEADER_CRC]);
    hasher.update(&[0; 4]);
    hasher.update(&b[at::HEADER_CRC + 4..]);
    hasher.finalize()
}

fn show_magic(magic: &[u8; 8]) -> String {
    if magic.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(magic))
    } else {
        magic.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }
}

fn first_difference(stored: &Layout, expected: &Layout) -> String {
    let pairs = [
        ("the type table starts", stored.types_off, expected.types_off),
        ("the field table starts", stored.fields_off, expected.fields_off),
        ("the objects start", stored.objects_off, expected.objects_off),
        ("the object table starts", stored.table_off, expected.table_off),
        ("the strings start", stored.strings_off, expected.strings_off),
        ("the block ends", stored.block_len, expected.block_len),
    ];
    pairs
        .iter()
        .find(|(_, s, e)| s != e)
        .map(|(what, s, e)| format!("{what} at byte {s}, where the counts put it at {e}"))
        .unwrap_or_else(|| "they differ".into())
}

#[cold]
pub(crate) fn corrupt(message: impl Into<String>) -> Error {
    Error::new(Status::ErrCorrupt, message)
}
