//! A flip of each transport between this process and a `floe-bench --peer flip` reader: the
//! protocol, the segment, iceoryx2 and the socket all carry messages, and everything is cleaned up.

use floe_bench::flip::{Transport, Writer};

#[test]
fn every_transport_carries_messages_to_a_reader_process() {
    floe::Runtime::init().ok();
    let mut writer = Writer::start_with(env!("CARGO_BIN_EXE_floe-bench").as_ref(), 4096).expect("start");
    for transport in Transport::ALL {
        let flips = writer.round(transport, 5).unwrap_or_else(|e| panic!("{transport:?}: {e}"));
        assert_eq!(flips.len(), 5);
        assert!(flips.iter().all(|f| f.latency > 0.0 && f.attach <= f.latency), "{transport:?}: {flips:?}");
    }
    let block = writer.block_bytes().expect("verify");
    assert!(block > 4096, "the block holds the payload and more: {block}");
    let segment = format!("/dev/shm/floe.bench-flip4096-{}", std::process::id());
    assert!(std::path::Path::new(&segment).exists(), "{segment}");
    drop(writer);
    assert!(!std::path::Path::new(&segment).exists(), "{segment} unlinked");
}
