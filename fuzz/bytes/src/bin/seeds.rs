//! Writes the seed inputs of both targets into `fuzz/corpus/{block,segment_image}`: blocks and
//! segment images of graphs with every kind of value, cycles and shared objects.

use floe::{Kind, Object, ObjectType, Segment, VersionBlock};

fn graphs() -> Vec<Object> {
    let ty = ObjectType::define(
        "Seed",
        &[("s", Kind::String), ("i", Kind::Int), ("d", Kind::Double), ("b", Kind::Bool), ("r", Kind::Ref), ("a", Kind::AtomicInt), ("l", Kind::AtomicLong), ("ar", Kind::AtomicRef)],
    )
    .unwrap();
    let mut out = Vec::new();
    for n in [0usize, 1, 3, 20] {
        let list = Object::new_list().unwrap();
        let leaf = Object::new_list().unwrap(); // atomic references hold frozen values
        leaf.push_int(99).unwrap();
        leaf.freeze(None).unwrap();
        let mut previous: Option<Object> = None;
        for k in 0..n {
            let o = Object::new(ty).unwrap();
            o.set_string(0, &format!("object {k}")).unwrap();
            o.set_int(1, k as i64 * 7).unwrap();
            o.set_double(2, k as f64 / 3.0).unwrap();
            o.set_bool(3, k % 2 == 0).unwrap();
            o.set_ref(4, previous.as_ref().or(Some(&list))).unwrap();
            o.atomic_set(5, k as i64).unwrap();
            o.atomic_set(6, -(k as i64)).unwrap();
            o.atomic_ref_set(7, Some(&leaf)).unwrap();
            list.push_ref(Some(&o)).unwrap();
            list.push_int(k as i64).unwrap();
            list.push_string("x").unwrap();
            previous = Some(o);
        }
        list.push_ref(Some(&list)).unwrap();
        list.freeze(None).unwrap();
        out.push(list);
    }
    out
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let (blocks, images) = (root.join("block"), root.join("segment_image"));
    std::fs::create_dir_all(&blocks).unwrap();
    std::fs::create_dir_all(&images).unwrap();
    let graphs = graphs();
    for (i, g) in graphs.iter().enumerate() {
        std::fs::write(blocks.join(format!("seed-{i}")), VersionBlock::encode(g).unwrap()).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("floe-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for (i, (slots, size)) in [(1u32, 3 * 4096u64), (2, 4 * 4096), (4, 8 * 4096)].into_iter().enumerate() {
        let segment = Segment::create_in(&dir, "seed", size, slots, 2).unwrap();
        for slot in 0..slots {
            if let Some(g) = graphs.get((i + slot as usize) % graphs.len()) {
                let _ = segment.publish(slot, g);
            }
        }
        drop(segment);
        std::fs::copy(dir.join("floe.seed"), images.join(format!("seed-{i}"))).unwrap();
        Segment::unlink_in(&dir, "seed").unwrap();
    }
    std::fs::remove_dir(&dir).unwrap();
    println!("seeds written to {}", root.display());
}
