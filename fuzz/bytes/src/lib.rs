//! What the targets share: a bounded walk over a graph read through floe's public API.

use floe::{Kind, Object};

/// Reads every field of every object reachable from `root` once (up to `budget` objects), through
/// every getter, following references; results are ignored — only a crash, a hang or a panic
/// would be a finding. Returns the number of objects visited.
pub fn walk(root: &Object, budget: usize) -> usize {
    // Once, from the root: a heap object's count walks a bitmap of the whole heap.
    let _ = root.reachable_count();
    let mut stack = vec![root.try_clone().ok()];
    let mut seen = std::collections::HashSet::new();
    let mut visited = 0;
    while let Some(entry) = stack.pop() {
        let Some(object) = entry else { continue };
        // Cycles and shared objects are legal: each object once (an id names one object of the
        // graph, whether it was copied into the heap or is read in place).
        if visited == budget || !seen.insert(object.id().unwrap_or(u32::MAX)) {
            continue;
        }
        visited += 1;
        let _ = (object.object_type(), object.is_frozen(), object.id());
        let n = object.len().unwrap_or(0).min(64);
        for slot in 0..n + 1 {
            let _ = object.get_int(slot);
            let _ = object.get_double(slot);
            let _ = object.get_bool(slot);
            let _ = object.get_string(slot);
            let _ = object.atomic_get(slot);
            let _ = object.set_int(slot, 1);
            match object.kind_at(slot) {
                Ok(Kind::Ref) => stack.push(object.get_ref(slot).ok().flatten()),
                Ok(Kind::AtomicRef) => stack.push(object.atomic_ref_get(slot).ok().flatten()),
                _ => {}
            }
        }
    }
    visited
}
