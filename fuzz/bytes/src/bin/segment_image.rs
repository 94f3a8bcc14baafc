//! Arbitrary bytes as a segment file: written to a file of a private directory (mode 0600), opened
//! through the public API; every slot is read in place and walked, copied into the heap, verified,
//! and the segment recovered and inspected. Only statuses may come out: no crash, no hang, no read
//! outside the mapping.
#![no_main]

use floe::Segment;
use libfuzzer_sys::fuzz_target;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::sync::OnceLock;

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("floe-fuzz-images-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("a private directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("floe.image");
    let _ = std::fs::remove_file(&path);
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).expect("the image file");
        file.write_all(data).expect("written");
    }
    let Ok(segment) = Segment::open_in(dir(), "image") else { return };
    for slot in 0..segment.slot_count().min(8) {
        if let Ok(Some((_, root))) = segment.read(slot) {
            floe_fuzz_bytes::walk(&root, 1_000);
        }
        if let Ok(Some((_, copy))) = segment.read_copy(slot) {
            floe_fuzz_bytes::walk(&copy, 1_000);
        }
        let _ = segment.verify(slot);
        let _ = segment.change_count(slot);
    }
    let _ = segment.inspect();
    let _ = segment.recover();
    if let Ok(Some((_, root))) = segment.read(0) {
        floe_fuzz_bytes::walk(&root, 1_000);
    }
});
