//! Round trips, refusals, and corrupt bytes: every corruption is an error, never a panic or a
//! hang. Blocks live in vectors and are read through the raw-pointer view, as in a segment, so
//! Miri runs these too (with smaller sizes). Tests check their own objects are freed (other tests
//! run in parallel in this process); `no_leaks_anywhere` reruns itself alone in a child process
//! to check the runtime's counters exactly.

use super::*;
use crate::core::base::error::Status;
use crate::core::base::stats;
use crate::core::graph::{atomic, object};
use crate::core::heap::handle;
use crate::core::heap::slots::HEAP;
use crate::core::heap::types;
use crate::core::heap::value::{Kind, ObjIndex, Value};
use std::collections::HashMap;

/// A value as both the heap and a block can show it; references as BFS numbers from the root.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Int(i64),
    Double(u64),
    Bool(bool),
    Str(String),
    Ref(Option<usize>),
    AtomicInt(i32),
    AtomicLong(i64),
    AtomicRef(Option<usize>),
}

/// A graph's shape: each object (in breadth-first order from the root, fields in order) as its
/// type's name and its values.
type Shape = Vec<(String, Vec<V>)>;

/// The shape of the frozen graph of `root`, and its heap objects.
fn heap_shape(root: ObjIndex) -> (Shape, Vec<ObjIndex>) {
    let mut number: HashMap<ObjIndex, usize> = HashMap::from([(root, 0)]);
    let mut order = vec![root];
    let mut shape = Vec::new();
    let mut next = 0;
    while let Some(&node) = order.get(next) {
        next += 1;
        let slot = HEAP.slot(node);
        assert!(slot.is_frozen(), "every object of the graph is frozen");
        let mut see = |t: Option<ObjIndex>| {
            t.map(|t| {
                *number.entry(t).or_insert_with(|| {
                    order.push(t);
                    order.len() - 1
                })
            })
        };
        // SAFETY: frozen (asserted above).
        let values = unsafe { slot.values() }
            .iter()
            .map(|v| match v {
                Value::Int(x) => V::Int(*x),
                Value::Double(x) => V::Double(x.to_bits()),
                Value::Bool(x) => V::Bool(*x),
                Value::Str(s) => V::Str(s.to_string()),
                Value::Ref(t) => V::Ref(see(*t)),
                Value::AtomicInt(x) => V::AtomicInt(x.load(std::sync::atomic::Ordering::SeqCst)),
                Value::AtomicLong(x) => V::AtomicLong(x.load(std::sync::atomic::Ordering::SeqCst)),
                Value::AtomicRef(_) => V::AtomicRef(see(v.as_ref_target())),
            })
            .collect();
        shape.push((types::of_stored(slot.stored_type()).unwrap().name.to_string(), values));
    }
    (shape, order)
}

/// The shape of a block's graph, read through the view's accessors.
fn block_shape(view: &BlockView) -> Result<Shape, crate::core::base::error::Error> {
    let mut number: HashMap<u32, usize> = HashMap::from([(view.root(), 0)]);
    let mut order = vec![view.root()];
    let mut shape = Vec::new();
    let mut next = 0;
    while let Some(&obj) = order.get(next) {
        next += 1;
        let mut see = |t: Option<u32>| {
            t.map(|t| {
                *number.entry(t).or_insert_with(|| {
                    order.push(t);
                    order.len() - 1
                })
            })
        };
        let mut values = Vec::new();
        for slot in 0..view.len_of(obj)? {
            values.push(match view.field(obj, slot)? {
                Field::Int(x) => V::Int(x),
                Field::Double(x) => V::Double(x.to_bits()),
                Field::Bool(x) => V::Bool(x),
                Field::Str { .. } => V::Str(view.get_string(obj, slot)?),
                Field::Ref(t) => V::Ref(see(t)),
                Field::AtomicInt(x) => V::AtomicInt(x),
                Field::AtomicLong(x) => V::AtomicLong(x),
                Field::AtomicRef(t) => V::AtomicRef(see(t)),
            });
        }
        shape.push((view.type_name(view.type_of(obj)?)?, values));
    }
    Ok(shape)
}

fn view_of(bytes: &[u8]) -> Result<BlockView, crate::core::base::error::Error> {
    // SAFETY: the vector outlives the view in every test, and nothing writes it meanwhile.
    unsafe { BlockView::open(bytes.as_ptr(), bytes.len(), None) }
}

fn index(handle: u64) -> ObjIndex {
    handle::resolve(handle).unwrap()
}

fn list_of(values: Vec<Value>) -> u64 {
    let list = object::new_list().unwrap();
    for value in values {
        object::push(list, value).unwrap();
    }
    list
}

/// Recomputes both checksums, as a hostile writer would, so that the view's own checks are what
/// stands between corrupt bytes and the caller.
fn reseal(bytes: &mut [u8]) {
    let block_len = u64::from_le_bytes(bytes[at::BLOCK_LEN..at::BLOCK_LEN + 8].try_into().unwrap()) as usize;
    if block_len <= bytes.len() && block_len >= HEADER_LEN as usize {
        let body = crc32fast::hash(&bytes[HEADER_LEN as usize..block_len]);
        bytes[at::BODY_CRC..at::BODY_CRC + 4].copy_from_slice(&body.to_le_bytes());
    }
    let header: &mut [u8; HEADER_LEN as usize] = (&mut bytes[..HEADER_LEN as usize]).try_into().unwrap();
    let crc = header_crc(header);
    header[at::HEADER_CRC..at::HEADER_CRC + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Round trip: the block's graph and an import of it have the shape of the original; the import
/// is frozen, and freed with its handle. Returns the block.
fn round_trip(root: u64, version: u64) -> Vec<u8> {
    let (original, originals) = heap_shape(index(root));
    let bytes = encode(index(root), version, -3).unwrap();
    let view = view_of(&bytes).unwrap();
    assert_eq!((view.version_id(), view.kn_version(), view.block_len()), (version, -3, bytes.len()));
    assert_eq!(view.object_count() as usize, original.len(), "one block object per heap object");
    view.verify().unwrap();
    assert_eq!(block_shape(&view).unwrap(), original);
    let imported = view.import().unwrap();
    let (copy, made) = heap_shape(index(imported));
    assert_eq!(copy, original);
    let originals: std::collections::HashSet<ObjIndex> = originals.into_iter().collect();
    assert!(made.iter().all(|m| !originals.contains(m)), "new objects");
    object::release(imported).unwrap();
    assert!(made.iter().all(|&m| HEAP.slot(m).owner() == 0), "the import is freed with its handle");
    bytes
}

fn every_kind_type() -> u32 {
    let fields = [
        ("i", Kind::Int),
        ("d", Kind::Double),
        ("b", Kind::Bool),
        ("s", Kind::String),
        ("r", Kind::Ref),
        ("ai", Kind::AtomicInt),
        ("al", Kind::AtomicLong),
        ("ar", Kind::AtomicRef),
    ];
    types::id_of(types::named_or_define("BlockEveryKind", &fields).unwrap()[0].0)
}

/// An object of every kind, a list of mixed kinds (empty and non-ASCII strings, a null), a
/// shared sublist, and an atomic reference to a frozen list.
fn every_kind_graph() -> u64 {
    let ty = every_kind_type();
    let root = object::new_object(ty).unwrap();
    let shared = list_of(vec![Value::Int(7)]);
    let mixed = list_of(vec![
        Value::Int(-1),
        Value::Double(f64::NAN),
        Value::Bool(true),
        Value::Str("".into()),
        Value::Str("grüße, 世界".into()),
        Value::Ref(None),
    ]);
    object::push_ref(mixed, Some(shared)).unwrap();
    object::set(root, 0, Value::Int(i64::MIN)).unwrap();
    object::set(root, 1, Value::Double(-0.5)).unwrap();
    object::set(root, 2, Value::Bool(true)).unwrap();
    object::set(root, 3, Value::Str("root".into())).unwrap();
    object::set_ref(root, 4, Some(mixed)).unwrap();
    object::push_ref(mixed, Some(shared)).unwrap();
    object::freeze(root, None).unwrap();
    atomic::set(root, 5, -42).unwrap();
    atomic::set(root, 6, i64::MAX).unwrap();
    let target = list_of(vec![Value::Str("atomic target".into())]);
    object::freeze(target, None).unwrap();
    atomic::set_ref(root, 7, Some(target)).unwrap();
    for h in [shared, mixed, target] {
        object::release(h).unwrap();
    }
    root
}

#[test]
fn every_kind_round_trips_and_reads_back_through_the_accessors() {
    let root = every_kind_graph();
    let bytes = round_trip(root, 7);
    let view = view_of(&bytes).unwrap();
    let r = view.root();
    assert_eq!(view.type_name(view.type_of(r).unwrap()).unwrap(), "BlockEveryKind");
    let fields = view.type_fields(view.type_of(r).unwrap()).unwrap();
    assert_eq!(fields.len(), 8);
    assert_eq!(fields[7], ("ar".to_string(), Kind::AtomicRef));
    assert_eq!(view.get_int(r, 0).unwrap(), i64::MIN);
    assert_eq!(view.get_double(r, 1).unwrap(), -0.5);
    assert!(view.get_bool(r, 2).unwrap());
    assert_eq!(view.get_string(r, 3).unwrap(), "root");
    let (at, len) = view.string_span(r, 3).unwrap();
    assert_eq!(&bytes[at..at + len], b"root");
    assert_eq!(bytes[at + len], 0, "a NUL follows each string");
    assert_eq!(view.get_atomic(r, 5).unwrap(), -42);
    assert_eq!(view.get_atomic(r, 6).unwrap(), i64::MAX);
    let mixed = view.get_ref(r, 4).unwrap().unwrap();
    assert_eq!(view.type_of(mixed).unwrap(), LIST);
    assert_eq!(view.kind_at(mixed, 3).unwrap(), Kind::String);
    assert_eq!(view.get_string(mixed, 3).unwrap(), "");
    assert_eq!(view.get_ref(mixed, 5).unwrap(), None);
    assert_eq!(view.get_ref(mixed, 6).unwrap(), view.get_ref(mixed, 7).unwrap(), "a shared object is one object");
    let target = view.get_atomic_ref(r, 7).unwrap().unwrap();
    assert_eq!(view.get_string(target, 0).unwrap(), "atomic target");

    let wrong = view.get_int(r, 1).unwrap_err();
    assert_eq!(wrong.status(), Status::ErrWrongKind);
    assert_eq!(wrong.message(), "cannot get BlockEveryKind#0.d in version 7: it holds a double, not an int");
    let beyond = view.get_int(mixed, 8).unwrap_err();
    assert_eq!(beyond.status(), Status::ErrOutOfRange);
    assert_eq!(
        beyond.message(),
        format!("cannot get List#{mixed}[8] in version 7: index out of range; List#{mixed} has 8 elements")
    );
    assert_eq!(view.type_of(view.object_count()).unwrap_err().status(), Status::ErrOutOfRange);
    assert_eq!(view.type_name(view.type_count()).unwrap_err().status(), Status::ErrOutOfRange);
    let root_index = index(root);
    object::release(root).unwrap();
    assert_eq!(HEAP.slot(root_index).owner(), 0);
}

#[test]
fn cycles_and_shared_subgraphs_stay_cycles_and_shared() {
    // a <-> b, both -> c, c -> c.
    let [a, b, c] = [(); 3].map(|()| list_of(vec![Value::Int(1)]));
    for (from, to) in [(a, b), (b, a), (a, c), (b, c), (c, c)] {
        object::push_ref(from, Some(to)).unwrap();
    }
    object::freeze(a, None).unwrap();
    let bytes = round_trip(a, 1);
    let view = view_of(&bytes).unwrap();
    assert_eq!(view.object_count(), 3);
    let nodes = [a, b, c].map(index);
    [a, b, c].into_iter().for_each(|h| object::release(h).unwrap());
    assert!(nodes.iter().all(|&n| HEAP.slot(n).owner() == 0));
}

#[test]
fn long_chains_and_long_lists_need_no_recursion() {
    let n = if cfg!(miri) { 50 } else { 100_000 };
    // A chain n deep: each list holds its number and the next list.
    let head = list_of(vec![Value::Int(0)]);
    let mut tail = object::retain(head).unwrap();
    for i in 1..n {
        let next = list_of(vec![Value::Int(i)]);
        object::push_ref(tail, Some(next)).unwrap();
        object::release(tail).unwrap();
        tail = next;
    }
    object::release(tail).unwrap();
    let flat = list_of((0..n).map(Value::Int).collect());
    object::push_ref(flat, Some(head)).unwrap();
    object::release(head).unwrap();
    object::freeze(flat, None).unwrap();
    let bytes = round_trip(flat, 2);
    assert_eq!(view_of(&bytes).unwrap().object_count() as usize, n as usize + 1);
    object::release(flat).unwrap();
}

#[test]
fn a_mutable_graph_is_refused_and_the_destination_must_fit() {
    let list = list_of(vec![Value::Int(1)]);
    let error = plan(index(list)).err().unwrap();
    assert_eq!(error.status(), Status::ErrNotFrozen);
    assert!(error.message().contains("it is mutable"), "{}", error.message());
    object::freeze(list, None).unwrap();
    let plan = plan(index(list)).unwrap();
    let mut small = vec![0u8; plan.len() - 8];
    // SAFETY: `small` is ours; the length given is its own.
    let error = unsafe { plan.write(small.as_mut_ptr(), small.len(), 1, 1) }.unwrap_err();
    assert_eq!(error.status(), Status::ErrInvalidArgument);
    drop(plan);
    object::release(list).unwrap();
}

/// A small block with a type, strings, lists and a cycle.
fn small_block() -> Vec<u8> {
    let root = every_kind_graph();
    let bytes = encode(index(root), 5, 1).unwrap();
    object::release(root).unwrap();
    bytes
}

#[test]
fn open_refuses_other_magic_later_formats_bad_checksums_truncations_and_other_versions() {
    let bytes = small_block();
    let status = |b: &[u8]| view_of(b).err().map(|e| (e.status(), e.message().to_string()));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(status(&magic).unwrap().0, Status::ErrIncompatible);
    let mut later = bytes.clone();
    later[at::MAJOR] = 2;
    reseal(&mut later);
    let (s, m) = status(&later).unwrap();
    assert_eq!(s, Status::ErrIncompatible);
    assert!(m.contains("format 2.0, newer than"), "{m}");
    let mut minor = bytes.clone();
    minor[at::MINOR] = 9;
    reseal(&mut minor);
    assert!(view_of(&minor).is_ok(), "a later minor version is read");
    let mut crc = bytes.clone();
    crc[at::OBJECT_COUNT] ^= 1;
    let (s, m) = status(&crc).unwrap();
    assert_eq!(s, Status::ErrCorrupt);
    assert!(m.contains("header checksum"), "{m}");
    for len in [0, 7, 127, 128, bytes.len() - 1] {
        assert_eq!(status(&bytes[..len]).unwrap().0, Status::ErrCorrupt, "truncated to {len}");
    }
    // SAFETY: as in `view_of`.
    let other = unsafe { BlockView::open(bytes.as_ptr(), bytes.len(), Some(6)) }.err().unwrap();
    assert_eq!(other.status(), Status::ErrCorrupt);
    assert_eq!(other.message(), "the version block holds version 5, where version 6 was expected");
    // SAFETY: as in `view_of`.
    assert!(unsafe { BlockView::open(bytes.as_ptr(), bytes.len(), Some(5)) }.is_ok());
}

/// Opens `bytes` and uses every accessor on every object and slot, `verify` and `import`. Only
/// errors are allowed, never a panic; on a block that verifies, nothing may fail (but an import
/// whose renamed type meets another of that name). Accessors asked about objects and slots in
/// range only ever report corruption.
fn exercise(bytes: &[u8]) {
    let Ok(view) = view_of(bytes) else {
        return;
    };
    let verified = view.verify();
    let mut failures = Vec::new();
    let mut note = |r: Result<(), crate::core::base::error::Error>| {
        if let Err(e) = r {
            assert_eq!(e.status(), Status::ErrCorrupt, "{}", e.message());
            failures.push(e);
        }
    };
    for obj in 0..view.object_count().min(64) {
        note(view.type_of(obj).map(drop));
        let len = view.len_of(obj);
        note(len.as_ref().map(drop).map_err(Clone::clone));
        for slot in 0..len.unwrap_or(0).min(64) {
            note(view.kind_at(obj, slot).map(drop));
            match view.field(obj, slot) {
                Ok(Field::Str { .. }) => note(view.get_string(obj, slot).map(drop)),
                other => note(other.map(drop)),
            }
        }
    }
    for t in 0..view.type_count().min(64) {
        note(view.type_name(t).map(drop));
        note(view.type_fields(t).map(drop));
    }
    let imported = view.import();
    if verified.is_ok() {
        assert!(failures.is_empty(), "a verified block reads without errors: {failures:?}");
        match &imported {
            Ok(_) => {}
            Err(e) => assert_eq!(e.status(), Status::ErrTypeMismatch, "{}", e.message()),
        }
    }
    if let Ok(handle) = imported {
        object::release(handle).unwrap();
    }
}

#[test]
fn every_flipped_byte_is_caught_by_the_checksums_and_resealed_ones_by_the_checks() {
    let bytes = small_block();
    let step = if cfg!(miri) { 37 } else { 1 };
    for i in (0..bytes.len()).step_by(step) {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let caught = view_of(&bad).and_then(|view| view.verify());
            assert!(caught.is_err(), "byte {i} ^ {flip:#x} went unnoticed");
            exercise(&bad);
            reseal(&mut bad);
            exercise(&bad);
        }
    }
}

#[test]
fn a_cycle_forged_in_the_data_ends_every_walk() {
    // The chain's last list made to point back at the root: a cycle the writer never wrote.
    let [a, b] = [(); 2].map(|()| list_of(vec![]));
    object::push_ref(a, Some(b)).unwrap();
    object::push_ref(b, None).unwrap();
    object::freeze(a, None).unwrap();
    let mut bytes = encode(index(a), 1, 0).unwrap();
    let view = view_of(&bytes).unwrap();
    let l = view.header().layout;
    // Object 1 is b; its one value is at objects_off + 16 (after a's header and value and kind
    // word, a is 24 bytes) + 8.
    let b_value = (l.objects_off + 24 + 8) as usize;
    assert_eq!(bytes[b_value..b_value + 8], [0; 8], "b's null");
    bytes[b_value] = 1; // object 0 + 1: the root
    reseal(&mut bytes);
    let view = view_of(&bytes).unwrap();
    view.verify().unwrap();
    let imported = view.import().unwrap();
    let (shape, made) = heap_shape(index(imported));
    assert_eq!(shape.len(), 2);
    assert_eq!(shape[1].1, vec![V::Ref(Some(0))]);
    object::release(imported).unwrap();
    assert!(made.iter().all(|&m| HEAP.slot(m).owner() == 0), "the forged cycle is freed as one SCC");
    [a, b].into_iter().for_each(|h| object::release(h).unwrap());
}

/// Renames the block's type `from` to `to` (same length) in place and reseals it.
fn renamed(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let at = out.windows(from.len()).position(|w| w == from.as_bytes()).expect("the name is in the block");
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    reseal(&mut out);
    out
}

#[test]
fn types_match_by_name_and_fields_an_unknown_one_is_defined_another_mismatches() {
    let ty = types::define("BlockMatchA", &[("x", Kind::Int), ("y", Kind::Int)]).unwrap();
    let point = object::new_object(ty).unwrap();
    object::freeze(point, None).unwrap();
    let bytes = encode(index(point), 3, 0).unwrap();
    object::release(point).unwrap();

    types::define("BlockMatchB", &[("x", Kind::Int), ("y", Kind::Double)]).unwrap();
    let error = view_of(&renamed(&bytes, "BlockMatchA", "BlockMatchB")).unwrap().import().unwrap_err();
    assert_eq!(error.status(), Status::ErrTypeMismatch);
    assert!(
        error.message().starts_with(
            "type BlockMatchB in version block 3 has fields (x: int, y: int), but this process's type BlockMatchB"
        ),
        "{}",
        error.message()
    );
    assert!(error.message().ends_with("field 1 is y: int in the block and y: double here"), "{}", error.message());

    let unknown = renamed(&bytes, "BlockMatchA", "BlockMatchC");
    let view = view_of(&unknown).unwrap();
    let first = view.import().unwrap();
    let second = view.import().unwrap();
    let c = types::named_or_define("BlockMatchC", &[]).unwrap();
    assert_eq!(c.len(), 1, "defined once");
    assert_eq!(object::type_of(first).unwrap(), types::id_of(c[0].0));
    assert_eq!(object::type_of(second).unwrap(), types::id_of(c[0].0));
    assert_eq!(&*c[0].1.fields, &[("x".into(), Kind::Int), ("y".into(), Kind::Int)]);
    [first, second].into_iter().for_each(|h| object::release(h).unwrap());
}

#[test]
fn a_failed_import_frees_what_it_made() {
    // A list of 20 lists, the last one's bool made 2: the import fails at the last object.
    let items: Vec<u64> = (0..20).map(|_| list_of(vec![Value::Bool(false)])).collect();
    let root = list_of(vec![]);
    for &item in &items {
        object::push_ref(root, Some(item)).unwrap();
        object::release(item).unwrap();
    }
    object::freeze(root, None).unwrap();
    let mut bytes = encode(index(root), 1, 0).unwrap();
    object::release(root).unwrap();
    let view = view_of(&bytes).unwrap();
    let l = view.header().layout;
    let table = l.table_off as usize + 20 * 4;
    let last = l.objects_off as usize + 8 * u32::from_le_bytes(bytes[table..table + 4].try_into().unwrap()) as usize;
    bytes[last + 8] = 2;
    reseal(&mut bytes);
    let view = view_of(&bytes).unwrap();
    let error = view.import().unwrap_err();
    assert_eq!(error.status(), Status::ErrCorrupt);
    assert_eq!(error.message(), "version block 1: object 20's element 0 is a bool stored as 2 (a bool is 0 or 1)");
    assert_eq!(view.verify().unwrap_err().message(), error.message(), "verify names the same problem");
}

/// Runs `body` alone in a child process (this test binary, this test only), where the runtime's
/// counters are this test's: they must be back where they started.
fn alone(test: &str, body: impl FnOnce()) {
    const CHILD: &str = "FLOE_BLOCK_TEST_ALONE";
    if std::env::var_os(CHILD).is_some() {
        let before = stats::snapshot();
        body();
        crate::core::heap::cycles::collect();
        assert_eq!(stats::snapshot(), before, "every object and handle is freed");
        return;
    }
    if cfg!(miri) {
        return body();
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && text.contains("1 passed"), "{text}");
}

#[test]
fn no_leaks_anywhere() {
    alone("core::shared::segment::block::tests::no_leaks_anywhere", || {
        let root = every_kind_graph();
        round_trip(root, 9);
        let plan = plan(index(root)).unwrap();
        object::release(root).unwrap();
        drop(plan); // the plan held the graph, and the atomic reference's target, until here
        let bytes = small_block();
        let mut bad = bytes.clone();
        let last = bad.len() - 16;
        bad[last] ^= 0x55;
        reseal(&mut bad);
        exercise(&bad);
        let mut mismatch = renamed(&bytes, "BlockEveryKind", "BlockEveryKinX");
        types::define("BlockEveryKinX", &[("i", Kind::Int)]).unwrap();
        reseal(&mut mismatch);
        assert_eq!(view_of(&mismatch).unwrap().import().unwrap_err().status(), Status::ErrTypeMismatch);
    });
}

#[cfg(not(miri))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Item {
        Int(i64),
        Double(f64),
        Bool(bool),
        Str(String),
        Ref(usize),
        Null,
    }

    #[derive(Clone, Debug)]
    enum Node {
        List(Vec<Item>),
        /// BlockPropPoint { x: int, label: string, next: ref }
        Point(i64, String, Option<usize>),
        /// BlockPropAtoms { a: atomic int, b: atomic long, r: atomic ref }, set after the freeze
        Atoms(i32, i64, Option<usize>),
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            any::<i64>().prop_map(Item::Int),
            any::<f64>().prop_map(Item::Double),
            any::<bool>().prop_map(Item::Bool),
            "\\PC{0,6}".prop_map(Item::Str),
            (0usize..64).prop_map(Item::Ref),
            Just(Item::Null),
        ]
    }

    fn node() -> impl Strategy<Value = Node> {
        prop_oneof![
            3 => prop::collection::vec(item(), 0..6).prop_map(Node::List),
            2 => (any::<i64>(), "\\PC{0,4}", prop::option::of(0usize..64)).prop_map(|(x, s, r)| Node::Point(x, s, r)),
            1 => (any::<i32>(), any::<i64>(), prop::option::of(0usize..64)).prop_map(|(a, b, r)| Node::Atoms(a, b, r)),
        ]
    }

    /// Builds the graph (references modulo the node count), freezes node 0, sets the atomics to
    /// frozen targets; the root's handle.
    fn build(nodes: &[Node]) -> u64 {
        let point =
            types::named_or_define("BlockPropPoint", &[("x", Kind::Int), ("label", Kind::String), ("next", Kind::Ref)])
                .unwrap()[0]
                .0;
        let atoms = types::named_or_define(
            "BlockPropAtoms",
            &[("a", Kind::AtomicInt), ("b", Kind::AtomicLong), ("r", Kind::AtomicRef)],
        )
        .unwrap()[0]
            .0;
        let n = nodes.len();
        let handles: Vec<u64> = nodes
            .iter()
            .map(|node| match node {
                Node::List(_) => object::new_list().unwrap(),
                Node::Point(..) => object::new_object(types::id_of(point)).unwrap(),
                Node::Atoms(..) => object::new_object(types::id_of(atoms)).unwrap(),
            })
            .collect();
        for (node, &h) in nodes.iter().zip(&handles) {
            match node {
                Node::List(items) => {
                    for item in items {
                        match item {
                            Item::Int(v) => object::push(h, Value::Int(*v)).unwrap(),
                            Item::Double(v) => object::push(h, Value::Double(*v)).unwrap(),
                            Item::Bool(v) => object::push(h, Value::Bool(*v)).unwrap(),
                            Item::Str(s) => object::push(h, Value::Str(s.as_str().into())).unwrap(),
                            Item::Ref(t) => object::push_ref(h, Some(handles[t % n])).unwrap(),
                            Item::Null => object::push_ref(h, None).unwrap(),
                        }
                    }
                }
                Node::Point(x, s, r) => {
                    object::set(h, 0, Value::Int(*x)).unwrap();
                    object::set(h, 1, Value::Str(s.as_str().into())).unwrap();
                    object::set_ref(h, 2, r.map(|t| handles[t % n])).unwrap();
                }
                Node::Atoms(a, b, _) => {
                    object::set(h, 0, Value::Int(0)).unwrap_err();
                    atomic::set(h, 0, i64::from(*a)).unwrap();
                    atomic::set(h, 1, *b).unwrap();
                }
            }
        }
        object::freeze(handles[0], None).unwrap();
        for (node, &h) in nodes.iter().zip(&handles) {
            if let Node::Atoms(_, _, Some(t)) = node {
                let target = handles[t % n];
                if object::is_frozen(h).unwrap() && object::is_frozen(target).unwrap() {
                    atomic::set_ref(h, 2, Some(target)).unwrap();
                }
            }
        }
        let root = object::retain(handles[0]).unwrap();
        handles.into_iter().for_each(|h| object::release(h).unwrap());
        crate::core::heap::cycles::collect();
        root
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn random_graphs_round_trip(nodes in prop::collection::vec(node(), 1..24), version in any::<u64>()) {
            let root = build(&nodes);
            round_trip(root, version);
            object::release(root).unwrap();
        }

        #[test]
        fn random_corruptions_are_errors(
            nodes in prop::collection::vec(node(), 1..12),
            hits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let root = build(&nodes);
            let mut bytes = encode(index(root), 1, 0).unwrap();
            object::release(root).unwrap();
            for (at, value) in hits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            exercise(&bytes);
            reseal(&mut bytes);
            exercise(&bytes);
        }
    }
}
