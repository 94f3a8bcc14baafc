//! A scribbler process rewrites random bytes of a live segment's data pages while reader
//! processes attach its slots in place and walk every object, copy them into the heap and verify
//! them, and the writer (this process) keeps publishing. Built by `scripts/fuzz-bytes` with
//! AddressSanitizer over floe's Rust code: a read outside the mapping, a crash, a panic or a hang
//! fails the run; statuses (`ErrCorrupt`, `ErrWrongKind`, ...) are the expected outcome.
//!
//!   scribbler [--seconds N] [--readers R]
//!
//! The last line is "N passed, M failed" (one check per reader, the scribbler and the writer).

use floe::{Kind, Object, ObjectType, Segment, Status};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SLOTS: u32 = 4;
const SIZE: u64 = 4 << 20;
const CONTROL_PAGES: u64 = 8; // left alone: the scribbler writes the data pages only

fn graph(v: i64) -> Object {
    let ty = ObjectType::define("Scribbled", &[("label", Kind::String), ("n", Kind::Int), ("next", Kind::Ref), ("items", Kind::Ref)]).unwrap();
    let items = Object::new_list().unwrap();
    for k in 0..(v % 50) {
        items.push_int(k).unwrap();
        items.push_string(&format!("item {k}")).unwrap();
        items.push_double(k as f64).unwrap();
    }
    let (a, b) = (Object::new(ty).unwrap(), Object::new(ty).unwrap());
    for (node, other) in [(&a, &b), (&b, &a)] {
        node.set_string(0, &format!("version {v}")).unwrap();
        node.set_int(1, v).unwrap();
        node.set_ref(2, Some(other)).unwrap();
        node.set_ref(3, Some(&items)).unwrap();
    }
    a.freeze(None).unwrap();
    a
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn reader(name: &str, until: Instant) -> i32 {
    let segment = Segment::open(name).expect("the reader opens the segment");
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut walked = 0u64;
    while Instant::now() < until {
        for slot in 0..SLOTS {
            match segment.read(slot) {
                Ok(Some((_, root))) => walked += floe_fuzz_bytes::walk(&root, 2_000) as u64,
                Ok(None) => {}
                Err(e) => *outcomes.entry(format!("{:?}", e.status())).or_default() += 1,
            }
            if let Err(e) = segment.read_copy(slot) {
                *outcomes.entry(format!("{:?}", e.status())).or_default() += 1;
            }
            if let Err(e) = segment.verify(slot) {
                // A damaged magic reads as another format's block.
                let expected = [Status::ErrCorrupt, Status::ErrIncompatible, Status::ErrTypeMismatch];
                assert!(expected.contains(&e.status()), "verify: {e}");
            }
        }
    }
    println!("reader {}: {walked} objects walked; refusals {outcomes:?}", std::process::id());
    0
}

fn scribble(path: &str, until: Instant, seed: u64) -> i32 {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).expect("the scribbler opens the segment's file");
    let len = file.metadata().unwrap().len();
    let mut rng = Rng(seed | 1);
    let mut writes = 0u64;
    while Instant::now() < until {
        let start = CONTROL_PAGES * 4096 + rng.next() % (len - CONTROL_PAGES * 4096);
        let n = (1 + rng.next() % 64).min(len - start);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        file.write_at(&bytes, start).unwrap();
        writes += 1;
        std::thread::sleep(Duration::from_micros(50));
    }
    println!("scribbler: {writes} random writes");
    0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 5 && (args[1] == "reader" || args[1] == "scribble") {
        let until = Instant::now() + Duration::from_secs_f64(args[3].parse().unwrap());
        std::process::exit(if args[1] == "reader" { reader(&args[2], until) } else { scribble(&args[2], until, args[4].parse().unwrap()) });
    }
    let (mut seconds, mut readers) = (20.0f64, 3usize);
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => seconds = rest.next().and_then(|s| s.parse().ok()).expect("--seconds N"),
            "--readers" => readers = rest.next().and_then(|s| s.parse().ok()).expect("--readers R"),
            other => panic!("unknown argument {other}"),
        }
    }
    let name = format!("scribbled-{}", std::process::id());
    let segment = Segment::create(&name, SIZE, SLOTS, 16).expect("the segment");
    for slot in 0..SLOTS {
        segment.publish(slot, &graph(i64::from(slot))).unwrap();
    }
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    println!("scribbler: segment /floe.{name}, {readers} readers, {seconds} s, seed {seed}");
    let me = std::env::current_exe().unwrap();
    let spawn = |role: &str, arg: &str| -> Child {
        Command::new(&me).args([role, arg, &seconds.to_string(), &seed.to_string()]).stdout(Stdio::inherit()).spawn().unwrap()
    };
    let mut children: Vec<(String, Child)> = (0..readers).map(|i| (format!("reader {i}"), spawn("reader", &name))).collect();
    children.push(("scribbler".into(), spawn("scribble", &format!("/dev/shm/floe.{name}"))));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let (mut published, mut refused) = (0u64, 0u64);
    let mut v = 100;
    while Instant::now() < until {
        v += 1;
        match segment.publish((v % i64::from(SLOTS)) as u32, &graph(v)) {
            Ok(_) => published += 1,
            Err(_) => refused += 1,
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let (mut passed, mut failed) = (1, 0);
    println!("writer: {published} versions published, {refused} publishes refused");
    let limit = Instant::now() + Duration::from_secs(120);
    for (who, mut child) in children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > limit {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match status {
            Some(s) if s.success() => passed += 1,
            Some(s) => {
                println!("FAILED: {who} ended with {s}");
                failed += 1;
            }
            None => {
                println!("FAILED: {who} still ran two minutes after its time: a hang");
                failed += 1;
            }
        }
    }
    drop(segment);
    let _ = Segment::unlink(&name);
    println!("seed {seed}");
    println!("{passed} passed, {failed} failed");
    std::process::exit(i32::from(failed > 0));
}
