//! Arbitrary bytes as a version block: `VersionBlock::decode` checks them once and copies the graph
//! into the heap; the copy is walked. Only statuses may come out.
#![no_main]

use floe::VersionBlock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = VersionBlock::decode(data) {
        floe_fuzz_bytes::walk(&root, 10_000);
        // What decodes encodes again, to the same graph.
        let again = VersionBlock::encode(&root).expect("a decoded graph is frozen and encodes");
        let copy = VersionBlock::decode(&again).expect("an encoded graph decodes");
        assert_eq!(copy.reachable_count().ok(), root.reachable_count().ok());
    }
});
