//! The graphs every freeze and transfer benchmark meets: three shapes of `BenchNode`s, built by one
//! builder so that the report and the criterion benches measure the same things.

use crate::measure::timed;
use floe::{Kind, Object, ObjectType, TransferMode};
use std::sync::OnceLock;
use std::time::Duration;

/// The graph shapes benchmarked. Every node is a `BenchNode` with three reference fields.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Node i points at 2i+1 and 2i+2: a complete binary tree.
    Tree,
    /// Node i points at i+1.
    List,
    /// Node i points at i+1 (so all are reachable), at a random node, and half the time at
    /// another: cycles everywhere, almost all of the graph one strongly connected component.
    Random,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::Tree, Shape::List, Shape::Random];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Tree => "tree",
            Shape::List => "list",
            Shape::Random => "random",
        }
    }

    /// The targets of node `i`'s three reference fields in a graph of `n` nodes.
    fn edges(self, i: usize, n: usize, rng: &mut XorShift) -> [Option<usize>; 3] {
        let within = |j: usize| (j < n).then_some(j);
        match self {
            Shape::Tree => [within(2 * i + 1), within(2 * i + 2), None],
            Shape::List => [within(i + 1), None, None],
            Shape::Random => [within(i + 1), Some(rng.below(n)), (rng.next() & 1 == 1).then(|| rng.below(n))],
        }
    }
}

/// xorshift64, seeded: the same random graph on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A graph whose node 0 is the root, with a handle to every node.
///
/// Keeping every handle until the graph is dropped means building it never releases a reference,
/// so the cycle collector never runs during construction. Dropping freezes the graph first (a no-op
/// when the benchmark already did): frozen, it is torn down by plain count decrements, whereas
/// releasing the handles of a large mutable graph one by one would feed the cycle collector.
pub struct Graph {
    nodes: Vec<Object>,
}

impl Graph {
    /// The int field of `BenchNode`, after its three references.
    pub const VALUE_FIELD: usize = 3;

    pub fn node_type() -> ObjectType {
        static TYPE: OnceLock<ObjectType> = OnceLock::new();
        *TYPE.get_or_init(|| {
            let fields = [("a", Kind::Ref), ("b", Kind::Ref), ("c", Kind::Ref), ("value", Kind::Int)];
            ObjectType::define("BenchNode", &fields).expect("define BenchNode")
        })
    }

    /// Builds the graph, then walks it once (untimed): a benchmark then finds the graph as warm
    /// in the caches as right after any full pass over it, whichever operation it times first.
    pub fn build(shape: Shape, n: usize) -> Graph {
        let ty = Graph::node_type();
        let nodes: Vec<Object> = (0..n).map(|_| Object::new(ty).expect("allocate")).collect();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ n as u64);
        for (i, node) in nodes.iter().enumerate() {
            for (field, target) in shape.edges(i, n, &mut rng).into_iter().enumerate() {
                if let Some(target) = target {
                    node.set_ref(field, Some(&nodes[target])).expect("set_ref");
                }
            }
        }
        let graph = Graph { nodes };
        let reached = graph.root().reachable_count().expect("traverse");
        assert_eq!(reached, n, "{} graph of {n}: all reachable", shape.name());
        graph
    }

    pub fn root(&self) -> &Object {
        &self.nodes[0]
    }
}

impl Graph {
    /// Releases the handle to every node but the root, last node first: nothing outside the graph
    /// then refers into it, as a SAFE transfer requires. Each release leaves a live object whose
    /// count dropped, a cycle-collector candidate; the collector runs once a quarter of the live
    /// objects are candidates (untimed).
    pub fn release_all_but_root(&mut self) {
        while self.nodes.len() > 1 {
            self.nodes.pop();
        }
    }

    /// One SAFE detach of the graph and the attach that gives it back to the calling thread, timed
    /// apart. The graph must hold only its root's handle (`release_all_but_root`).
    pub fn detach_attach(&mut self) -> (Duration, Duration) {
        assert_eq!(self.nodes.len(), 1, "release_all_but_root first");
        let root = self.nodes.pop().expect("the root");
        let (detached, detach) = timed(|| root.detach(TransferMode::Safe));
        let detached = detached.expect("SAFE detach of a graph with no outside reference");
        let (root, attach) = timed(|| detached.attach());
        self.nodes.push(root.expect("attach"));
        (detach, attach)
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        if let Some(root) = self.nodes.first() {
            let _ = root.freeze(None);
        }
    }
}
