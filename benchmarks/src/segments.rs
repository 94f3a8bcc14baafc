//! What the segment benchmarks share: segments named per process and unlinked whatever happens,
//! the reader's attach, the flip payload (a frozen list of strings, and the same bytes flat), its
//! length-prefixed encoding for the Unix-socket baseline, the graphs whose block size is reported,
//! and the clock both processes of a flip read.

use floe::{Kind, Object, ObjectType, Result, Segment};
use std::sync::OnceLock;

/// Attaches the slot's current version in this process: its version number and root, `None` when
/// the slot is empty. Every segment benchmark's reader attaches through this function.
pub fn attach(segment: &Segment, slot: u32) -> Result<Option<(i32, Object)>> {
    // In place: O(1) whatever the graph's size, the objects read from the segment's bytes.
    segment.read(slot)
}

/// A segment this process created, unlinked when dropped (a panic included); the segment's memory
/// goes when the last process that opened it closes it.
pub struct OwnedSegment {
    pub name: String,
    pub segment: Segment,
}

impl OwnedSegment {
    /// Creates `bench-<what>-<pid>` in shared memory: `size` bytes, `slots` slots, room for 8
    /// reading processes. A segment of that name left by a run that was killed is unlinked first
    /// (the pid makes it this process's name).
    pub fn create(what: &str, size: u64, slots: u32) -> Result<OwnedSegment> {
        let name = format!("bench-{what}-{}", std::process::id());
        let _ = Segment::unlink(&name);
        let segment = Segment::create(&name, size, slots, 8)?;
        Ok(OwnedSegment { name, segment })
    }
}

impl Drop for OwnedSegment {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.name);
    }
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so a timestamp
/// taken by the writer and one taken by the reader give the one-way latency between them.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a writable timespec; CLOCK_MONOTONIC is always available on Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_MONOTONIC)");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The bytes of each string of a flip payload.
pub const STRING_BYTES: usize = 64;

/// A flip payload of `bytes` bytes: `bytes / 64` strings of 64 ASCII bytes, frozen in one floe list,
/// and the same bytes one after the other (what iceoryx2 carries).
pub struct Payload {
    /// The frozen list of strings.
    pub list: Object,
    /// The strings' bytes, concatenated.
    pub flat: Vec<u8>,
}

impl Payload {
    pub fn build(bytes: usize) -> Payload {
        let list = Object::new_list().expect("allocate");
        let mut flat = Vec::with_capacity(bytes);
        for i in 0..bytes / STRING_BYTES {
            let text = format!("{i:0>width$}", width = STRING_BYTES);
            list.push_string(&text).expect("push");
            flat.extend_from_slice(text.as_bytes());
        }
        list.freeze(Some("flip payload")).expect("freeze");
        Payload { list, flat }
    }

    /// The graph one flip publishes: a list whose first element is the message's sequence number and
    /// whose second is the payload list, frozen (the payload already is: one more object).
    pub fn message(&self, seq: u64) -> Object {
        let root = Object::new_list().expect("allocate");
        root.push_int(seq as i64).expect("push");
        root.push_ref(Some(&self.list)).expect("push");
        root.freeze(None).expect("freeze");
        root
    }
}

/// The Unix-socket baseline's serialization of a message graph (`Payload::message`), after `out`
/// is cleared: the length of the rest (u64), the sequence number (i64), the number of strings
/// (u32), then each string as its length (u32) and its bytes; little-endian.
pub fn encode(message: &Object, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&message.get_int(0).expect("seq").to_le_bytes());
    let list = message.get_ref(1).expect("read").expect("the payload list");
    let count = list.len().expect("len");
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for i in 0..count {
        let text = list.get_string(i).expect("string");
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    let rest = (out.len() - 8) as u64;
    out[..8].copy_from_slice(&rest.to_le_bytes());
}

/// Decodes what `encode` wrote (without its leading length) into the same graph of floe heap
/// objects, frozen, each string checked as UTF-8.
pub fn decode(bytes: &[u8]) -> Object {
    let word = |at: usize, len: usize| &bytes[at..at + len];
    let seq = i64::from_le_bytes(word(0, 8).try_into().expect("8 bytes"));
    let count = u32::from_le_bytes(word(8, 4).try_into().expect("4 bytes"));
    let (root, list) = (Object::new_list().expect("allocate"), Object::new_list().expect("allocate"));
    root.push_int(seq).expect("push");
    let mut at = 12;
    for _ in 0..count {
        let len = u32::from_le_bytes(word(at, 4).try_into().expect("4 bytes")) as usize;
        let text = std::str::from_utf8(word(at + 4, len)).expect("UTF-8");
        list.push_string(text).expect("push");
        at += 4 + len;
    }
    assert_eq!(at, bytes.len(), "the message ends with its last string");
    root.push_ref(Some(&list)).expect("push");
    root.freeze(None).expect("freeze");
    root
}

/// The graphs whose published size is reported: each a root list of `n` members.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// `n` objects of a type with two int fields.
    Structs,
    /// `n` lists of 16 ints each.
    IntLists,
    /// `n` objects of a type with one string field of 16 bytes.
    Strings,
    /// A chain of `n` `BenchNode`s (three reference fields, the first to the next node, and an int).
    Chain,
}

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::Structs, Layout::IntLists, Layout::Strings, Layout::Chain];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Structs => "structs",
            Layout::IntLists => "int-lists",
            Layout::Strings => "strings",
            Layout::Chain => "chain",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Layout::Structs => "a list of n structs (2 int fields)",
            Layout::IntLists => "a list of n lists of 16 ints",
            Layout::Strings => "a list of n objects with a 16-byte string field",
            Layout::Chain => "a chain of n nodes (3 refs, one used, and an int)",
        }
    }

    pub fn from_name(name: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|layout| layout.name() == name)
    }

    /// The graph, frozen; its object count. Built holding one or two handles at a time, so that
    /// the heap grows by the graph alone.
    pub fn build(self, n: usize) -> (Object, usize) {
        if let Layout::Chain = self {
            let mut next: Option<Object> = None;
            for i in (0..n).rev() {
                let node = Object::new(crate::graph::Graph::node_type()).expect("allocate");
                node.set_ref(0, next.as_ref()).expect("set_ref");
                node.set_int(crate::graph::Graph::VALUE_FIELD, i as i64).expect("set");
                next = Some(node);
            }
            let root = next.expect("n > 0");
            root.freeze(None).expect("freeze");
            return (root, n);
        }
        let root = Object::new_list().expect("allocate");
        for i in 0..n {
            let member = match self {
                Layout::Structs => {
                    let point = Object::new(types().0).expect("allocate");
                    point.set_int(0, i as i64).expect("set");
                    point.set_int(1, -(i as i64)).expect("set");
                    point
                }
                Layout::IntLists => {
                    let ints = Object::new_list().expect("allocate");
                    (0..16).for_each(|k| ints.push_int((i * 16 + k) as i64).expect("push"));
                    ints
                }
                Layout::Strings => {
                    let named = Object::new(types().1).expect("allocate");
                    named.set_string(0, &format!("{i:0>16}")).expect("set");
                    named
                }
                Layout::Chain => unreachable!("built above"),
            };
            root.push_ref(Some(&member)).expect("push");
        }
        root.freeze(None).expect("freeze");
        (root, n + 1)
    }
}

/// `BenchPoint { x: int, y: int }` and `BenchName { text: string }`.
fn types() -> (ObjectType, ObjectType) {
    static TYPES: OnceLock<(ObjectType, ObjectType)> = OnceLock::new();
    *TYPES.get_or_init(|| {
        let point = ObjectType::define("BenchPoint", &[("x", Kind::Int), ("y", Kind::Int)]).expect("define");
        let name = ObjectType::define("BenchName", &[("text", Kind::String)]).expect("define");
        (point, name)
    })
}

/// The resident set size in bytes, from the second field of `/proc/self/statm` (in pages).
pub fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * usize::try_from(page).ok()?)
}

/// The heap's side of the resident-size figure, in a process of its own so that the heap is fresh:
/// `floe-bench --peer heap LAYOUT N` builds the graph and prints the growth of its resident set per
/// object. Returns the process's exit status.
pub fn heap_main(args: &[String]) -> i32 {
    let [layout, n] = args else {
        eprintln!("floe-bench --peer heap: expected LAYOUT N");
        return 2;
    };
    let (Some(layout), Ok(n)) = (Layout::from_name(layout), n.parse::<usize>()) else {
        eprintln!("floe-bench --peer heap: no layout {layout}, or N is not a number");
        return 2;
    };
    if let Err(error) = floe::Runtime::init() {
        eprintln!("floe-bench --peer heap: {error}");
        return 1;
    }
    let (Some(before), (root, objects), Some(after)) = (resident_bytes(), layout.build(n), resident_bytes()) else {
        eprintln!("floe-bench --peer heap: /proc/self/statm unreadable");
        return 1;
    };
    println!("{:.1}", after.saturating_sub(before) as f64 / objects as f64);
    drop(root);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_its_encoding() {
        floe::Runtime::init().ok();
        let payload = Payload::build(1024);
        assert_eq!(payload.flat.len(), 1024);
        let message = payload.message(7);
        let mut bytes = Vec::new();
        encode(&message, &mut bytes);
        let rest = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(rest, bytes.len() - 8);
        let copy = decode(&bytes[8..]);
        assert_eq!(copy.get_int(0).unwrap(), 7);
        let list = copy.get_ref(1).unwrap().unwrap();
        assert_eq!(list.len().unwrap(), 16);
        assert_eq!(list.get_string(3).unwrap().as_bytes(), &payload.flat[3 * 64..4 * 64]);
    }

    #[test]
    fn a_published_message_attaches() {
        floe::Runtime::init().ok();
        let owned = OwnedSegment::create("unit-attach", 1 << 20, 1).unwrap();
        let payload = Payload::build(4096);
        owned.segment.publish(0, &payload.message(3)).unwrap();
        let reader = Segment::open(&owned.name).unwrap();
        let (version, root) = attach(&reader, 0).unwrap().unwrap();
        assert_eq!((version, root.get_int(0).unwrap()), (1, 3));
        for layout in Layout::ALL {
            let (graph, objects) = layout.build(100);
            assert_eq!(graph.reachable_count().unwrap(), objects, "{layout:?}");
        }
    }
}
