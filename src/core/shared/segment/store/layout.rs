//! The segment's bytes: the header (page 0), the slots, the writer record, the reader table, the
//! page map and the data pages; the words each holds and how they are encoded. Pure functions of
//! bytes and numbers (no mapping, no system call), so that Miri runs their tests.
//!
//! Every section starts on a 64-byte boundary and the data on a page boundary. All integers are
//! little-endian. The header is written once, last, at creation, and never changes: a process
//! copies it out once at open, checks it, and from then on uses its own copy of the offsets.

use crate::core::base::error::{Error, Result, Status};

pub(crate) const MAGIC: [u8; 8] = *b"FLOESEG1";
pub(crate) const FORMAT_MAJOR: u16 = 1;
pub(crate) const FORMAT_MINOR: u16 = 0;
/// The header's length; its crc32 covers the bytes before its last four.
pub(crate) const HEADER_LEN: usize = 128;
/// Where the slots start: the header's 128 bytes and 128 reserved for later minor versions.
pub(crate) const SLOTS_OFFSET: u64 = 256;
pub(crate) const SLOT_LEN: u64 = 64;
pub(crate) const WRITER_LEN: u64 = 128;
pub(crate) const READER_LEN: u64 = 64;
/// The store's record of a version, in front of its block in the version's first page.
pub(crate) const RECORD_LEN: usize = 64;
pub(crate) const RECORD_MAGIC: [u8; 8] = *b"FLOEVREC";
pub(crate) const SLOT_NAME_MAX: usize = 40;
pub(crate) const PINS_PER_READER: usize = 5;
pub(crate) const MAX_SLOTS: u32 = 1 << 16;
pub(crate) const MAX_READERS: u32 = 1 << 16;
pub(crate) const MIN_PAGE_SIZE: u32 = 4096;
pub(crate) const MAX_PAGE_SIZE: u32 = 1 << 20;
/// Page indices are 32-bit in version references; the largest is kept below `u32::MAX`.
pub(crate) const MAX_PAGES: u64 = u32::MAX as u64 - 1;

// Slot (64 bytes). Its first 16 bytes are a `floe_shared_data` on a 64-bit target: the K/N version,
// then the 4 bytes C leaves as padding (here the futex word), then the object word.
pub(crate) const SLOT_VERSION: u64 = 0; // i32: mirror of the K/N version of the committed block
pub(crate) const SLOT_SEQ: u64 = 4; // u32: +1 per change; the futex word waiters sleep on
pub(crate) const SLOT_OBJECT: u64 = 8; // u64: the version reference, 0 = empty
pub(crate) const SLOT_WAITERS: u64 = 16; // u32: processes in futex_wait on `seq`
pub(crate) const SLOT_NAME: u64 = 24; // [u8; 40]: UTF-8, NUL-padded; empty = unnamed

// Writer record (128 bytes).
pub(crate) const WRITER_LOCK_BYTE: u64 = 0; // the byte the writer's OFD lock covers
pub(crate) const WRITER_PID: u64 = 8; // u32
pub(crate) const WRITER_START: u64 = 16; // u64: the owner's start time (clock ticks since boot)
pub(crate) const WRITER_NONCE: u64 = 24; // u64
pub(crate) const WRITER_EPOCH: u64 = 32; // u64: +1 each time the lock is taken
pub(crate) const WRITER_NEXT_VERSION: u64 = 40; // u64: the next version id (0 is read as 1)
pub(crate) const INFLIGHT_STATE: u64 = 48; // u32: 0 none, 1 writing, 2 committed
pub(crate) const INFLIGHT_SLOT: u64 = 52; // u32
pub(crate) const INFLIGHT_FIRST_PAGE: u64 = 56; // u32
pub(crate) const INFLIGHT_PAGE_COUNT: u64 = 60; // u32
pub(crate) const INFLIGHT_VERSION: u64 = 64; // u64
pub(crate) const INFLIGHT_PREVIOUS: u64 = 72; // u64: the slot's reference before this publish
pub(crate) const INFLIGHT_NONE: u32 = 0;
pub(crate) const INFLIGHT_WRITING: u32 = 1;
pub(crate) const INFLIGHT_COMMITTED: u32 = 2;

// Reader entry (64 bytes). Its first byte is the target of the owner's OFD lock.
pub(crate) const READER_PID: u64 = 0; // u32: 0 = unclaimed
pub(crate) const READER_GENERATION: u64 = 4; // u32: +1 per claim
pub(crate) const READER_START: u64 = 8; // u64
pub(crate) const READER_NONCE: u64 = 16; // u64
pub(crate) const READER_PINS: u64 = 24; // [u64; 5]: version references, 0 = unused

/// One page's state in the page map: the state in the top two bits, its value in the other 62.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageState {
    Free,
    /// Being written by the writer that took the lock in this epoch.
    Writing(u64),
    /// Part of the version with this id, which a slot references (or did until a crash).
    Live(u64),
    /// Part of the version with this id, replaced in its slot, kept while a reader pins it.
    Retired(u64),
}

const STATE_SHIFT: u32 = 62;
const VALUE_MASK: u64 = (1 << STATE_SHIFT) - 1;

impl PageState {
    pub(crate) fn decode(word: u64) -> PageState {
        let value = word & VALUE_MASK;
        match word >> STATE_SHIFT {
            0 if value == 0 => PageState::Free,
            // A free state with a value is not written by floe; treat it as a dead writer's page,
            // which recovery frees.
            0 | 1 => PageState::Writing(value),
            2 => PageState::Live(value),
            _ => PageState::Retired(value),
        }
    }

    pub(crate) fn encode(self) -> u64 {
        match self {
            PageState::Free => 0,
            PageState::Writing(epoch) => (1 << STATE_SHIFT) | (epoch & VALUE_MASK),
            PageState::Live(id) => (2 << STATE_SHIFT) | (id & VALUE_MASK),
            PageState::Retired(id) => (3 << STATE_SHIFT) | (id & VALUE_MASK),
        }
    }
}

/// Version ids are 62-bit (they fit a page-map word); they start at 1 and only grow.
pub(crate) const VERSION_ID_MASK: u64 = VALUE_MASK;

/// A version reference, the word a slot holds and a reader pins: the low 32 bits of the version
/// id above the first page + 1 (so that no reference is 0).
pub(crate) fn version_ref(version_id: u64, first_page: u32) -> u64 {
    ((version_id & 0xFFFF_FFFF) << 32) | (first_page as u64 + 1)
}

/// The first page and the version id's low 32 bits of a non-zero reference; `None` for a page
/// part of 0 (never written by floe).
pub(crate) fn split_ref(reference: u64) -> Option<(u32, u32)> {
    let page_plus_one = (reference & 0xFFFF_FFFF) as u32;
    page_plus_one.checked_sub(1).map(|page| (page, (reference >> 32) as u32))
}

fn get_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}
fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}
fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// The header's fields. Offsets are absolute from the segment's first byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) format_major: u16,
    pub(crate) format_minor: u16,
    pub(crate) layout: Layout,
    pub(crate) creator_uid: u32,
    pub(crate) nonce: [u8; 16],
    pub(crate) created_unix_secs: u64,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        let l = &self.layout;
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&self.format_major.to_le_bytes());
        b[10..12].copy_from_slice(&self.format_minor.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..24].copy_from_slice(&l.segment_len.to_le_bytes());
        b[24..28].copy_from_slice(&l.page_size.to_le_bytes());
        b[28..32].copy_from_slice(&l.slot_count.to_le_bytes());
        b[32..36].copy_from_slice(&l.reader_capacity.to_le_bytes());
        b[36..40].copy_from_slice(&l.page_count.to_le_bytes());
        b[40..48].copy_from_slice(&l.slots_off.to_le_bytes());
        b[48..56].copy_from_slice(&l.writer_off.to_le_bytes());
        b[56..64].copy_from_slice(&l.readers_off.to_le_bytes());
        b[64..72].copy_from_slice(&l.pagemap_off.to_le_bytes());
        b[72..80].copy_from_slice(&l.data_off.to_le_bytes());
        b[80..84].copy_from_slice(&self.creator_uid.to_le_bytes());
        // 84..88: flags, none yet.
        b[88..104].copy_from_slice(&self.nonce);
        b[104..112].copy_from_slice(&self.created_unix_secs.to_le_bytes());
        let crc = crc32fast::hash(&b[..HEADER_LEN - 4]);
        b[HEADER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks and decodes a header copied out of a segment `file_len` bytes long, in the order
    /// that makes each refusal say the most: magic and format (another program's file, a later
    /// floe's) before the checksum (damage), the size and the section offsets last.
    pub(crate) fn decode(b: &[u8; HEADER_LEN], file_len: u64, system_page: u32, what: &str) -> Result<Header> {
        if b[0..8] != MAGIC {
            let blank = if b.iter().all(|&x| x == 0) {
                " (all zero: its creator has not finished writing it, or died before it did)"
            } else {
                ""
            };
            return Err(Error::new(
                Status::ErrIncompatible,
                format!("{what} is not a floe segment: magic {} instead of \"FLOESEG1\"{blank}", show_bytes(&b[0..8])),
            ));
        }
        let format_major = get_u16(b, 8);
        let format_minor = get_u16(b, 10);
        if format_major != FORMAT_MAJOR {
            let which = if format_major > FORMAT_MAJOR { "a later" } else { "an earlier" };
            return Err(Error::new(
                Status::ErrIncompatible,
                format!(
                    "{what} has format {format_major}.{format_minor}, {which} major version than this floe reads ({FORMAT_MAJOR}.x)"
                ),
            ));
        }
        let stored = get_u32(b, HEADER_LEN - 4);
        let computed = crc32fast::hash(&b[..HEADER_LEN - 4]);
        if stored != computed {
            return Err(Error::new(
                Status::ErrCorrupt,
                format!("{what}'s header checksum is {stored:#010x}, its bytes give {computed:#010x}"),
            ));
        }
        let header_len = get_u32(b, 12);
        if header_len as usize != HEADER_LEN {
            return Err(corrupt(what, format!("header length {header_len}, not {HEADER_LEN}")));
        }
        let segment_len = get_u64(b, 16);
        if segment_len != file_len {
            return Err(corrupt(what, format!("the file is {file_len} bytes, its header says {segment_len}")));
        }
        let page_size = get_u32(b, 24);
        if !page_size.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(corrupt(what, format!("page size {page_size} (a power of two from 4096 to 1 MiB expected)")));
        }
        if page_size % system_page != 0 {
            return Err(Error::new(
                Status::ErrIncompatible,
                format!("{what} has {page_size}-byte pages, not a multiple of this system's {system_page}-byte pages"),
            ));
        }
        let slot_count = get_u32(b, 28);
        let reader_capacity = get_u32(b, 32);
        let expected = Layout::compute(segment_len, page_size, slot_count, reader_capacity)
            .map_err(|e| corrupt(what, e.message().to_string()))?;
        let stored = Layout {
            segment_len,
            page_size,
            slot_count,
            reader_capacity,
            page_count: get_u32(b, 36),
            slots_off: get_u64(b, 40),
            writer_off: get_u64(b, 48),
            readers_off: get_u64(b, 56),
            pagemap_off: get_u64(b, 64),
            data_off: get_u64(b, 72),
        };
        if stored != expected {
            return Err(corrupt(
                what,
                format!(
                    "section offsets {} differ from the layout its sizes give, {}",
                    stored.describe(),
                    expected.describe()
                ),
            ));
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&b[88..104]);
        Ok(Header {
            format_major,
            format_minor,
            layout: stored,
            creator_uid: get_u32(b, 80),
            nonce,
            created_unix_secs: get_u64(b, 104),
        })
    }
}

fn corrupt(what: &str, detail: String) -> Error {
    Error::new(Status::ErrCorrupt, format!("{what}'s header is damaged: {detail}"))
}

fn show_bytes(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

/// Where each section is. A function of (segment length, page size, slot count, reader capacity):
/// creation computes it, open recomputes it and requires the header to agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) segment_len: u64,
    pub(crate) page_size: u32,
    pub(crate) slot_count: u32,
    pub(crate) reader_capacity: u32,
    pub(crate) page_count: u32,
    pub(crate) slots_off: u64,
    pub(crate) writer_off: u64,
    pub(crate) readers_off: u64,
    pub(crate) pagemap_off: u64,
    pub(crate) data_off: u64,
}

impl Layout {
    /// The layout of a segment of `segment_len` bytes (a multiple of `page_size`): control
    /// sections first, then as many data pages as fit with their page-map words.
    pub(crate) fn compute(segment_len: u64, page_size: u32, slot_count: u32, reader_capacity: u32) -> Result<Layout> {
        let invalid = |m: String| Error::new(Status::ErrInvalidArgument, m);
        if !(1..=MAX_SLOTS).contains(&slot_count) {
            return Err(invalid(format!("slot count {slot_count}: from 1 to {MAX_SLOTS} allowed")));
        }
        if !(1..=MAX_READERS).contains(&reader_capacity) {
            return Err(invalid(format!("reader capacity {reader_capacity}: from 1 to {MAX_READERS} allowed")));
        }
        let ps = page_size as u64;
        if segment_len % ps != 0 {
            return Err(invalid(format!("segment length {segment_len} is not a multiple of the page size {ps}")));
        }
        let slots_off = SLOTS_OFFSET;
        let writer_off = slots_off + slot_count as u64 * SLOT_LEN;
        let readers_off = writer_off + WRITER_LEN;
        let pagemap_off = readers_off + reader_capacity as u64 * READER_LEN;
        let control = pagemap_off.next_multiple_of(ps);
        // Each data page costs its page plus an 8-byte page-map word: start from that estimate and
        // step to the largest count that fits.
        let mut pages = segment_len.saturating_sub(control) / (ps + 8);
        pages = pages.min(MAX_PAGES);
        let data_off_for = |p: u64| (pagemap_off + 8 * p).next_multiple_of(ps);
        let fits = |p: u64| data_off_for(p) + p * ps <= segment_len;
        while pages > 0 && !fits(pages) {
            pages -= 1;
        }
        // The estimate charges each page its word in full; the words may fit in the last control
        // page's slack, leaving room for a page or two more.
        while pages < MAX_PAGES && fits(pages + 1) {
            pages += 1;
        }
        if pages == 0 {
            return Err(invalid(format!(
                "size {segment_len} leaves no data page: {slot_count} slots and {reader_capacity} readers need {} bytes of control, plus {} per page",
                control,
                ps + 8
            )));
        }
        Ok(Layout {
            segment_len,
            page_size,
            slot_count,
            reader_capacity,
            page_count: pages as u32,
            slots_off,
            writer_off,
            readers_off,
            pagemap_off,
            data_off: data_off_for(pages),
        })
    }

    fn describe(&self) -> String {
        format!(
            "(pages {}, slots {}, writer {}, readers {}, page map {}, data {})",
            self.page_count, self.slots_off, self.writer_off, self.readers_off, self.pagemap_off, self.data_off
        )
    }

    pub(crate) fn slot(&self, index: u32) -> u64 {
        self.slots_off + index as u64 * SLOT_LEN
    }
    pub(crate) fn reader(&self, index: u32) -> u64 {
        self.readers_off + index as u64 * READER_LEN
    }
    pub(crate) fn page_word(&self, page: u32) -> u64 {
        self.pagemap_off + page as u64 * 8
    }
    pub(crate) fn page(&self, page: u32) -> u64 {
        self.data_off + page as u64 * self.page_size as u64
    }
    /// Pages a version of `block_len` bytes takes: its record and its block.
    pub(crate) fn pages_for(&self, block_len: usize) -> Option<u64> {
        (block_len as u64).checked_add(RECORD_LEN as u64).map(|n| n.div_ceil(self.page_size as u64))
    }
}

/// The store's record in front of each block: what the reader needs to hand out the block, checked
/// on every attach (O(1)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) version_id: u64,
    pub(crate) block_len: u64,
    pub(crate) kn_version: i32,
    pub(crate) slot: u32,
    pub(crate) page_count: u32,
    pub(crate) epoch: u64,
}

impl Record {
    pub(crate) fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..8].copy_from_slice(&RECORD_MAGIC);
        b[8..16].copy_from_slice(&self.version_id.to_le_bytes());
        b[16..24].copy_from_slice(&self.block_len.to_le_bytes());
        b[24..28].copy_from_slice(&self.kn_version.to_le_bytes());
        b[28..32].copy_from_slice(&self.slot.to_le_bytes());
        b[32..36].copy_from_slice(&self.page_count.to_le_bytes());
        b[40..48].copy_from_slice(&self.epoch.to_le_bytes());
        let crc = crc32fast::hash(&b[..RECORD_LEN - 4]);
        b[RECORD_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a record copied out of `first_page` and checks it against the reference that led
    /// there and the layout: its checksum, the id's low bits, the pages inside the data section,
    /// the block inside the pages.
    pub(crate) fn decode(
        b: &[u8; RECORD_LEN],
        reference: u64,
        first_page: u32,
        layout: &Layout,
    ) -> std::result::Result<Record, String> {
        if b[0..8] != RECORD_MAGIC {
            return Err(format!("page {first_page} holds no version record (magic {})", show_bytes(&b[0..8])));
        }
        let stored = get_u32(b, RECORD_LEN - 4);
        if stored != crc32fast::hash(&b[..RECORD_LEN - 4]) {
            return Err(format!("the version record at page {first_page} fails its checksum"));
        }
        let record = Record {
            version_id: get_u64(b, 8),
            block_len: get_u64(b, 16),
            kn_version: get_u32(b, 24) as i32,
            slot: get_u32(b, 28),
            page_count: get_u32(b, 32),
            epoch: get_u64(b, 40),
        };
        if (record.version_id & 0xFFFF_FFFF) != reference >> 32 {
            return Err(format!(
                "the version record at page {first_page} is version {}, the reference names generation {}",
                record.version_id,
                reference >> 32
            ));
        }
        let end = first_page as u64 + record.page_count as u64;
        if record.page_count == 0 || end > layout.page_count as u64 {
            return Err(format!(
                "version {} claims pages {first_page}..{end}, the segment has {}",
                record.version_id, layout.page_count
            ));
        }
        let room = record.page_count as u64 * layout.page_size as u64 - RECORD_LEN as u64;
        if record.block_len > room {
            return Err(format!(
                "version {}'s block is {} bytes, its {} pages hold {room}",
                record.version_id, record.block_len, record.page_count
            ));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            format_major: FORMAT_MAJOR,
            format_minor: FORMAT_MINOR,
            layout: Layout::compute(1 << 20, 4096, 8, 16).unwrap(),
            creator_uid: 1000,
            nonce: [7; 16],
            created_unix_secs: 1_700_000_000,
        }
    }

    #[test]
    fn header_round_trips() {
        let h = sample();
        let back = Header::decode(&h.encode(), 1 << 20, 4096, "segment x").unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn header_refusals_name_what_is_wrong() {
        let h = sample();
        let mut b = h.encode();
        b[0] = b'X';
        let e = Header::decode(&b, 1 << 20, 4096, "s").unwrap_err();
        assert_eq!(e.status(), Status::ErrIncompatible);
        assert!(e.message().contains("not a floe segment"), "{e}");

        let e = Header::decode(&[0; HEADER_LEN], 1 << 20, 4096, "s").unwrap_err();
        assert!(e.message().contains("all zero"), "{e}");

        let mut later = h.clone();
        later.format_major = 2;
        let e = Header::decode(&later.encode(), 1 << 20, 4096, "s").unwrap_err();
        assert_eq!(e.status(), Status::ErrIncompatible);
        assert!(e.message().contains("format 2.0, a later major"), "{e}");

        let mut b = h.encode();
        b[100] ^= 1;
        let e = Header::decode(&b, 1 << 20, 4096, "s").unwrap_err();
        assert_eq!(e.status(), Status::ErrCorrupt);
        assert!(e.message().contains("checksum"), "{e}");

        let e = Header::decode(&h.encode(), 2 << 20, 4096, "s").unwrap_err();
        assert_eq!(e.status(), Status::ErrCorrupt);
        assert!(e.message().contains("the file is 2097152 bytes, its header says 1048576"), "{e}");

        let mut moved = h.clone();
        moved.layout.data_off += 4096;
        let e = Header::decode(&moved.encode(), 1 << 20, 4096, "s").unwrap_err();
        assert_eq!(e.status(), Status::ErrCorrupt);
        assert!(e.message().contains("section offsets"), "{e}");
    }

    #[test]
    fn layouts_fit_their_length() {
        for (len, slots, readers) in [(8192u64, 1, 1), (1 << 20, 64, 64), (1 << 24, 65536, 1024), (4096 * 3, 2, 2)] {
            if let Ok(l) = Layout::compute(len, 4096, slots, readers) {
                assert!(l.data_off % 4096 == 0 && l.pagemap_off + 8 * l.page_count as u64 <= l.data_off);
                assert!(l.data_off + l.page_count as u64 * 4096 <= len);
                // One more page would not fit.
                let more = l.page_count as u64 + 1;
                assert!((l.pagemap_off + 8 * more).next_multiple_of(4096) + more * 4096 > len);
            }
        }
        assert_eq!(Layout::compute(4096, 4096, 1, 1).unwrap_err().status(), Status::ErrInvalidArgument);
    }

    #[test]
    fn page_states_and_references_round_trip() {
        for s in [PageState::Free, PageState::Writing(5), PageState::Live(1 << 40), PageState::Retired(VERSION_ID_MASK)]
        {
            assert_eq!(PageState::decode(s.encode()), s);
        }
        let r = version_ref(0x1_2345_6789, 77);
        assert_eq!(split_ref(r), Some((77, 0x2345_6789)));
        assert_eq!(split_ref(0), None);
        assert_ne!(version_ref(1 << 32, 0), 0);
    }

    #[test]
    fn records_check_their_reference_and_bounds() {
        let layout = Layout::compute(1 << 20, 4096, 4, 4).unwrap();
        let r = Record { version_id: 9, block_len: 5000, kn_version: 3, slot: 1, page_count: 2, epoch: 4 };
        let reference = version_ref(9, 10);
        assert_eq!(Record::decode(&r.encode(), reference, 10, &layout), Ok(r));
        assert!(Record::decode(&r.encode(), version_ref(8, 10), 10, &layout).unwrap_err().contains("generation 8"));
        let big = Record { block_len: 9000, ..r };
        assert!(Record::decode(&big.encode(), reference, 10, &layout).unwrap_err().contains("hold"));
        let far = Record { page_count: layout.page_count, ..r };
        assert!(Record::decode(&far.encode(), reference, 10, &layout).unwrap_err().contains("claims pages"));
        let mut bytes = r.encode();
        bytes[20] ^= 1;
        assert!(Record::decode(&bytes, reference, 10, &layout).unwrap_err().contains("checksum"));
    }
}
