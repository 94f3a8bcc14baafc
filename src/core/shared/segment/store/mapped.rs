//! The segments this process maps, by address: what lets `floe_shared_data_*` take a pointer to a
//! slot, the way Kotlin/Native's recipe keeps a `SharedData *` in a C global.
//!
//! A `floe_shared_data *` is either host memory, whose two words floe itself reads and writes
//! (`shared::shared_data`), or the first 16 bytes of a slot in a mapped segment, which only the
//! segment's publish protocol changes. The C functions tell the two apart by the address alone:
//!
//! - Each open segment's mapping is registered when its `Segment` is made shared
//!   (`slot::create` and `slot::open` call `register`, before any pointer into it exists) and is
//!   retired by `Mapping`'s drop (`unmap`).
//! - `place` first compares the address with the envelope of every registered range: two relaxed
//!   loads. With no segment registered the envelope is empty (low bound `usize::MAX`), so the
//!   in-process path pays one load and one compare. Only an address inside the envelope takes the
//!   read lock and a binary search of the ranges, which are sorted and disjoint.
//! - A closed segment's slot section is not given back to the system: its pages are replaced by an
//!   inaccessible anonymous mapping (no memory, no commit charge, one kernel mapping per closed
//!   segment) and its range stays here, closed. A pointer a host kept into a closed segment thus
//!   still finds its record and is refused; it is never taken for host memory, which the
//!   in-process path would write (unmapped memory then, or an unrelated mapping that reused the
//!   addresses). The rest of the segment (writer record, reader table, page map, data) is unmapped
//!   as usual: no `floe_shared_data *` points there legitimately. Should the system refuse the
//!   replacement (its limit of mappings per process reached), the section is unmapped too and its
//!   record dropped: a pointer kept into it is then unknown memory, like any dangling pointer.
//!
//! Relaxed loads suffice for the envelope: a pointer into a segment exists only after the
//! segment's registration, and a host that hands such a pointer to another thread orders that
//! thread after it. The envelope always covers every registered range (a live segment's whole
//! mapping, a closed one's slot section), so a later, shrunk envelope still covers any slot pointer.
//!
//! `RANGES` is a leaf lock: nothing is taken under it (a `Segment` found here is upgraded under it
//! and dropped, if ever, after it is released).

use super::layout::{Layout, HEADER_LEN, SLOT_LEN};
use super::map::system_page_size;
use super::segment::Segment;
use crate::core::base::error::{Error, Result, Status};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

/// One registered range of this process's address space.
struct Range {
    base: usize,
    /// The whole mapping while the segment is open; its kept slot section once it is closed.
    len: usize,
    layout: Layout,
    shown: String,
    /// The open segment; `None` once its mapping went.
    segment: Option<Weak<Segment>>,
}

impl Range {
    fn end(&self) -> usize {
        self.base + self.len
    }
}

/// Sorted by `base`, disjoint.
static RANGES: RwLock<Vec<Range>> = RwLock::new(Vec::new());
/// The envelope of `RANGES`: `LOW..HIGH`; empty (`usize::MAX..0`) when there is none.
static LOW: AtomicUsize = AtomicUsize::new(usize::MAX);
static HIGH: AtomicUsize = AtomicUsize::new(0);

fn set_envelope(ranges: &[Range]) {
    LOW.store(ranges.first().map_or(usize::MAX, |r| r.base), Ordering::Relaxed);
    HIGH.store(ranges.last().map_or(0, Range::end), Ordering::Relaxed);
}

/// Registers the mapping of `segment`, which is now shared and so can be found again by address.
pub(crate) fn register(segment: &Arc<Segment>) {
    let (base, len) = (segment.map.base() as usize, segment.map.len());
    let mut ranges = RANGES.write();
    let at = ranges.partition_point(|r| r.base < base);
    debug_assert!(ranges.get(at).is_none_or(|r| base + len <= r.base), "mappings do not overlap");
    let range = Range {
        base,
        len,
        layout: segment.layout,
        shown: segment.shown.clone(),
        segment: Some(Arc::downgrade(segment)),
    };
    ranges.insert(at, range);
    set_envelope(&ranges);
}

/// Unmaps the mapping at `base` (`len` bytes). A registered one keeps its slot section reserved
/// and its record, closed (see the module's comment); any other is simply unmapped.
pub(crate) fn unmap(base: *mut u8, len: usize) {
    let mut ranges = RANGES.write();
    let found = ranges.iter().position(|r| r.base == base as usize && r.segment.is_some());
    let Some(index) = found else {
        // SAFETY: the caller's mapping, which nothing uses after its drop.
        unsafe { libc::munmap(base.cast(), len) };
        return;
    };
    let keep = (ranges[index].layout.writer_off as usize).next_multiple_of(system_page_size() as usize).min(len);
    // The rest goes first: shrinking a kernel mapping never splits it, so the replacement below
    // replaces exactly one mapping and needs no new one.
    if keep < len {
        // SAFETY: the tail of the caller's mapping, which nothing uses after its drop.
        unsafe { libc::munmap(base.add(keep).cast(), len - keep) };
    }
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE;
    // SAFETY: `MAP_FIXED` over the caller's own mapping, which nothing uses after its drop: the
    // pages are replaced in one step, with no moment at which another mapping could take them.
    let reserved = unsafe { libc::mmap(base.cast(), keep, libc::PROT_NONE, flags, -1, 0) };
    if reserved == libc::MAP_FAILED {
        // SAFETY: as above; whatever is left of the section goes back to the system.
        unsafe { libc::munmap(base.cast(), keep) };
        ranges.remove(index);
    } else {
        ranges[index].len = keep;
        ranges[index].segment = None;
    }
    set_envelope(&ranges);
}

/// The slot of an open segment that `addr` names, or `None` for an address outside every
/// segment this process maps or has mapped (host memory). An address inside one but not at a
/// slot's start is `ErrInvalidArgument`; one into a closed segment `ErrReleasedHandle`. `size` is
/// the length of the struct the address is taken for: one that straddles a segment's edge is
/// inside it.
#[inline(always)]
pub(crate) fn place(addr: usize, size: usize) -> Result<Option<(Arc<Segment>, u32)>> {
    if addr.saturating_add(size) <= LOW.load(Ordering::Relaxed) || addr >= HIGH.load(Ordering::Relaxed) {
        return Ok(None);
    }
    find(addr, size)
}

#[inline(never)]
fn find(addr: usize, size: usize) -> Result<Option<(Arc<Segment>, u32)>> {
    let end = addr.saturating_add(size);
    let found = {
        let ranges = RANGES.read();
        let at = ranges.partition_point(|r| r.end() <= addr);
        let Some(range) = ranges.get(at).filter(|r| r.base < end) else { return Ok(None) };
        let offset = addr.checked_sub(range.base);
        let slot = offset.and_then(|offset| slot_at(&range.layout, offset as u64));
        match (slot, &range.segment) {
            (None, segment) => return Err(not_a_slot(addr, range, offset, segment.is_none())),
            (Some(slot), None) => return Err(closed(addr, slot, &range.shown)),
            (Some(slot), Some(segment)) => (segment.upgrade(), slot, range.shown.clone()),
        }
    };
    match found {
        (Some(segment), slot, _) => Ok(Some((segment, slot))),
        // The last owner is dropping it: the mapping goes in a moment.
        (None, slot, shown) => Err(closed(addr, slot, &shown)),
    }
}

/// The slot starting at `offset`, if one does.
fn slot_at(layout: &Layout, offset: u64) -> Option<u32> {
    let within = offset.checked_sub(layout.slots_off)?;
    let index = within / SLOT_LEN;
    (within % SLOT_LEN == 0 && index < layout.slot_count as u64).then_some(index as u32)
}

/// Where `offset` falls in a segment of this layout, for a message.
fn part(layout: &Layout, offset: u64) -> String {
    let l = layout;
    if offset < HEADER_LEN as u64 {
        format!("byte {offset} of the header")
    } else if offset < l.slots_off {
        format!("byte {offset}, reserved after the header")
    } else if offset < l.writer_off {
        let within = offset - l.slots_off;
        format!("byte {} of slot {}", within % SLOT_LEN, within / SLOT_LEN)
    } else if offset < l.readers_off {
        "the writer record".to_string()
    } else if offset < l.pagemap_off {
        "the reader table".to_string()
    } else if offset < l.data_off {
        "the page map".to_string()
    } else {
        format!("data page {}", (offset - l.data_off) / l.page_size as u64)
    }
}

fn not_a_slot(addr: usize, range: &Range, offset: Option<usize>, closed: bool) -> Error {
    let place = match offset {
        Some(offset) => part(&range.layout, offset as u64),
        None => format!("{} bytes before the start", range.base - addr),
    };
    let was = if closed { ", closed since," } else { "" };
    Error::new(
        Status::ErrInvalidArgument,
        format!(
            "{addr:#x} is {place} of segment {}{was} not the start of a slot: the floe_shared_data of a slot is \
             the pointer floe_segment_slot gives",
            range.shown
        ),
    )
}

fn closed(addr: usize, slot: u32, shown: &str) -> Error {
    Error::new(
        Status::ErrReleasedHandle,
        format!(
            "{addr:#x} was slot {slot} of segment {shown}, which this process has closed: open the segment again and \
             take the slot's new floe_shared_data from floe_segment_slot"
        ),
    )
}

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;
    use crate::core::shared::segment::store::map::Location;

    fn open_segment(tag: &str, slots: u32) -> (String, Arc<Segment>) {
        let name = format!("mapped-{tag}-{}", std::process::id());
        let segment = Arc::new(Segment::create(&name, &Location::SharedMemory, 1 << 16, slots, 2).unwrap());
        register(&segment);
        (name, segment)
    }

    #[test]
    fn host_memory_is_elsewhere_and_slots_are_found_by_their_start() {
        let host = [0u64; 2];
        let (name, segment) = open_segment("find", 3);
        let base = segment.map.base() as usize;
        assert!(place(host.as_ptr() as usize, 16).unwrap().is_none());
        for slot in 0..3 {
            let (found, index) = place(base + segment.layout.slot(slot) as usize, 16).unwrap().expect("a slot");
            assert!(Arc::ptr_eq(&found, &segment) && index == slot);
        }
        for (addr, part) in [
            (base, "byte 0 of the header"),
            (base + segment.layout.slot(1) as usize + 8, "byte 8 of slot 1"),
            (base + segment.layout.readers_off as usize, "the reader table"),
            (base + segment.layout.data_off as usize, "data page 0"),
        ] {
            let Err(error) = place(addr, 16) else { panic!("{addr:#x} is not a slot") };
            assert_eq!(error.status(), Status::ErrInvalidArgument, "{error}");
            assert!(error.message().contains(part) && error.message().contains(&name), "{error}");
        }
        drop(segment);
        Segment::unlink(&name, &Location::SharedMemory).unwrap();
    }

    #[test]
    fn a_closed_segment_keeps_its_slot_section_reserved_and_refuses_it() {
        let (name, segment) = open_segment("closed", 2);
        let slot = segment.map.base() as usize + segment.layout.slot(1) as usize;
        drop(segment);
        let Err(error) = place(slot, 16) else { panic!("a closed slot is refused") };
        assert_eq!(error.status(), Status::ErrReleasedHandle, "{error}");
        assert!(error.message().contains("was slot 1") && error.message().contains("closed"), "{error}");
        let mut pages = [0u8; 1];
        let page = slot & !(system_page_size() as usize - 1);
        // SAFETY: mincore only reports whether the page is mapped; it reads nothing there.
        let mapped = unsafe { libc::mincore(page as *mut libc::c_void, 1, pages.as_mut_ptr()) } == 0;
        assert!(mapped, "the slot section stays reserved");
        Segment::unlink(&name, &Location::SharedMemory).unwrap();
    }
}
