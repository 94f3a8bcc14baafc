//! The segments section of the report: flip latency between two processes (against iceoryx2 and
//! against a Unix socket), attach time against the graph's size, publish against a traversal and
//! a memcpy, and the published bytes per object.

use crate::bounds::Bound;
use crate::table::{Table, Verdict};
use crate::times;
use floe::ffi::object::floe_object_get_int;
use floe::{Object, Segment};
use floe_bench::flip::{Flip, Transport, Writer};
use floe_bench::graph::{Graph, Shape};
use floe_bench::measure::{cpu_count, interleaved_rounds, per_call, pin_current_thread, ratios, timed, Summary};
use floe_bench::segments::{attach, Layout, OwnedSegment};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::Duration;

const FLIP_TARGET: f64 = 1.5;
const SOCKET_TARGET: f64 = 10.0;
/// The socket target applies from this payload size up.
const SOCKET_FROM: usize = 64 << 10;
const ATTACH_TARGET: f64 = 1.5;
const PUBLISH_TARGET: f64 = 2.0;
/// Rounds of the attach and publish comparisons.
const ROUNDS: usize = 5;
/// Block bytes per `BenchNode` (8 of header, 4 values of 8, 4 of table), with room to spare.
const NODE_BLOCK_BYTES: u64 = 48;

/// The section's tables; `quick` leaves out the 16 MiB flips and the 10^6-object graphs.
pub fn tables(quick: bool) -> Vec<Table> {
    let (against_iceoryx2, against_socket) = flip_tables(quick);
    // Publish before attach: attaching by a copy leaves the heap a million slots larger, which
    // every later traversal's bitmap pays for.
    let publish = publish_table(quick);
    vec![against_iceoryx2, against_socket, attach_table(quick), field_read_table(), publish, resident_table()]
}

/// Payload sizes: bytes, messages per round, rounds.
fn flip_sizes(quick: bool) -> Vec<(usize, u32, usize)> {
    let all = [(1 << 10, 200, 7), (64 << 10, 100, 7), (1 << 20, 20, 7), (16 << 20, 4, 5)];
    all.into_iter().filter(|&(bytes, _, _)| !quick || bytes <= 1 << 20).collect()
}

fn size_name(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// The flips of every payload size, all transports taking turns in each round; one table against
/// iceoryx2 and one against the Unix socket, from the same rounds.
fn flip_tables(quick: bool) -> (Table, Table) {
    let placement = if cpu_count() > 1 {
        "writer pinned to CPU 0, reader process to CPU 1"
    } else {
        "writer and reader on the one CPU"
    };
    let payload = "the payload of N bytes is N/64 strings of 64 ASCII bytes in one frozen floe list (iceoryx2: the \
                   same N bytes as a `[u8]` sample)";
    let mut iceoryx2 = Table::new(
        "Segment flip latency against iceoryx2",
        format!(
            "One-way latency from a writer process to a reader process ({placement}), µs, best (median) of the \
             rounds' medians; {payload}. The writer builds the message graph (a list of its sequence number and \
             the payload list), reads CLOCK_MONOTONIC and publishes it to a slot (`Segment::publish`: the whole \
             block written into the segment); the reader, once it sees the slot change, attaches the version \
             and reads the root's first element, then reads CLOCK_MONOTONIC: the difference is one sample. \
             floe spin: the reader polls `change_count`; floe wait: it sleeps in `wait_for_change` (the writer \
             leaves it 50 µs after each message, so it is asleep on the futex when the next comes). iceoryx2: \
             the writer reads the clock, loans a sample, copies the N bytes into it and sends it; the reader \
             polls `receive` and reads the first 8 bytes. Messages go one at a time (the reader acknowledges each \
             through a pipe, outside the timed span); rounds of M messages, contenders taking turns in each \
             round. Send: the writer's clock from before to after its send (publish; loan, copy and send), \
             attach: the reader's from the moment the message arrived (the slot changed, `receive` gave a \
             sample) to holding its first element, both µs, the median of the rounds' medians. Ratio to \
             iceoryx2 of the bests and paired; target floe spin ≤ {FLIP_TARGET}× paired. Floe block: the \
             version's size in the segment."
        ),
        vec!["payload", "contender", "floe block", "M × rounds", "µs one-way", "send", "attach", "bests", "paired"],
        2,
    );
    let mut socket = Table::new(
        "Segment flip latency against a Unix socket",
        format!(
            "The same rounds: the writer reads the clock, encodes the message graph (sequence number, string \
             count, each string length-prefixed; read from the same frozen floe list) and writes it to a Unix \
             domain stream socket; the reader reads all of it, decodes it into floe heap objects (the same list, \
             frozen) and reads the root's first element, then reads the clock. Send: encode and write; attach: \
             the decode, from the last byte read. How many times floe spin is faster \
             (socket ÷ floe), of the bests and paired; target ≥ {SOCKET_TARGET}× paired from {} up.",
            size_name(SOCKET_FROM)
        ),
        vec!["payload", "contender", "µs one-way", "send", "attach", "floe faster, bests", "paired"],
        2,
    );
    pin_current_thread(Some(0));
    for (bytes, messages, rounds) in flip_sizes(quick) {
        let mut writer = Writer::start(bytes).unwrap_or_else(|e| panic!("flip writer for {bytes} bytes: {e}"));
        for transport in Transport::ALL {
            writer.round(transport, 3).unwrap_or_else(|e| panic!("warm-up {transport:?}: {e}"));
        }
        let block = writer.block_bytes().expect("verify the slot");
        let writer = RefCell::new(writer);
        // The medians of each round's sends and attaches, by transport (in `Transport::ALL`'s order).
        let parts = RefCell::new([(); 4].map(|()| (Vec::new(), Vec::new())));
        let round = |transport: Transport| {
            let flips = writer
                .borrow_mut()
                .round(transport, messages)
                .unwrap_or_else(|e| panic!("{} {transport:?}: {e}", size_name(bytes)));
            let median =
                |part: fn(&Flip) -> f64| Summary::of(&mut flips.iter().map(part).collect::<Vec<_>>()).median / 1e3;
            let index = Transport::ALL.iter().position(|&t| t == transport).expect("a transport");
            let (sends, attaches) = &mut parts.borrow_mut()[index];
            sends.push(median(|f| f.send));
            attaches.push(median(|f| f.attach));
            median(|f| f.latency)
        };
        let samples = interleaved_rounds(
            rounds,
            &mut [
                &mut || round(Transport::Iceoryx2),
                &mut || round(Transport::FloeSpin),
                &mut || round(Transport::FloeWait),
                &mut || round(Transport::Socket),
            ],
        );
        drop(writer);
        let [ice, spin, wait, sock]: [Vec<f64>; 4] = samples.try_into().expect("four contenders");
        let (name, runs) = (size_name(bytes), format!("{messages} × {rounds}"));
        let block = match block {
            b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
            b => format!("{:.1} KiB", b as f64 / 1024.0),
        };
        let parts = parts.into_inner();
        let part = |transport: Transport, attach: bool| {
            let (sends, attaches) = &parts[Transport::ALL.iter().position(|&t| t == transport).expect("a transport")];
            let mut samples = if attach { attaches.clone() } else { sends.clone() };
            format!("{:.2}", Summary::of(&mut samples).median)
        };
        for (contender, transport, samples, verdict) in [
            ("iceoryx2", Transport::Iceoryx2, &ice, None),
            ("floe spin", Transport::FloeSpin, &spin, Some(true)),
            ("floe wait", Transport::FloeWait, &wait, Some(false)),
        ] {
            let (bests, paired) = ratios(samples, &ice);
            let verdict = match verdict {
                None => Verdict::None,
                Some(true) => Verdict::of(paired <= FLIP_TARGET, Bound::Flip),
                Some(false) => Verdict::Reference("asleep on the futex when the slot changes"),
            };
            let block = if contender == "iceoryx2" { String::new() } else { block.clone() };
            let summary = Summary::of(&mut samples.clone());
            iceoryx2.row(
                vec![
                    name.clone(),
                    contender.into(),
                    block,
                    runs.clone(),
                    summary.to_string(),
                    part(transport, false),
                    part(transport, true),
                    times(bests),
                    times(paired),
                ],
                verdict,
            );
        }
        let (bests, paired) = ratios(&sock, &spin);
        let verdict = if bytes >= SOCKET_FROM {
            Verdict::of(paired >= SOCKET_TARGET, Bound::FlipSocket)
        } else {
            Verdict::Reference("no target below 64 KiB")
        };
        socket.row(
            vec![
                name.clone(),
                "floe spin".into(),
                Summary::of(&mut spin.clone()).to_string(),
                part(Transport::FloeSpin, false),
                part(Transport::FloeSpin, true),
                String::new(),
                String::new(),
            ],
            Verdict::None,
        );
        socket.row(
            vec![
                name,
                "Unix socket + decode".into(),
                Summary::of(&mut sock.clone()).to_string(),
                part(Transport::Socket, false),
                part(Transport::Socket, true),
                times(bests),
                times(paired),
            ],
            verdict,
        );
    }
    pin_current_thread(None);
    (iceoryx2, socket)
}

/// How many calls make a sample of about `span`, given one call's time; between 1 and `most`.
fn calls_for(span: Duration, once: Duration, most: u32) -> u32 {
    let calls = span.as_nanos() / once.as_nanos().max(1);
    u32::try_from(calls).unwrap_or(u32::MAX).clamp(1, most)
}

/// Attach of a slot holding 10^3 objects against one holding 10^6 (10^5 with `quick`), in one
/// process through a second opening of the segment.
fn attach_table(quick: bool) -> Table {
    let (small, large) = (1_000usize, if quick { 100_000usize } else { 1_000_000 });
    let mut table = Table::new(
        "Segment attach against the graph's size",
        format!(
            "ns per attach, best (median) of {ROUNDS} rounds: `segments::attach` of a slot (the version and its \
             root) and a read of the root's int field, through a second opening of the segment in the same \
             process; each slot holds a frozen tree of `BenchNode`s. Samples of up to 1000 attaches (about 2 ms), \
             the roots dropped after the timed span; the two slots take turns. Ratio to the {small}-object slot, \
             of the bests and paired; target ≤ {ATTACH_TARGET}× paired (the same time whatever the size)."
        ),
        vec!["objects", "attaches per sample", "ns per attach", "bests", "paired"],
        1,
    );
    let size = NODE_BLOCK_BYTES * (small + large) as u64 * 2 + (4 << 20);
    let owned = OwnedSegment::create("attach", size, 2).expect("create the attach segment");
    for (slot, n) in [(0, small), (1, large)] {
        let graph = Graph::build(Shape::Tree, n);
        graph.root().freeze(Some("attach")).expect("freeze");
        owned.segment.publish(slot, graph.root()).expect("publish");
    }
    let reader = Segment::open(&owned.name).expect("open the attach segment");
    let attach_once = |slot: u32| {
        let (_, root) = attach(&reader, slot).expect("attach").expect("a version");
        black_box(root.get_int(Graph::VALUE_FIELD).expect("read"));
        root
    };
    let calls: Vec<u32> = [0, 1]
        .into_iter()
        .map(|slot| {
            attach_once(slot); // untimed: the first attach maps and checks the segment's pages
            let (roots, ten) = timed(|| (0..10).map(|_| attach_once(slot)).collect::<Vec<_>>());
            drop(roots);
            calls_for(Duration::from_millis(2), ten / 10, 1000)
        })
        .collect();
    let sample = |slot: u32| {
        let calls = calls[slot as usize];
        let mut roots = Vec::with_capacity(calls as usize);
        let ((), elapsed) = timed(|| (0..calls).for_each(|_| roots.push(attach_once(slot))));
        drop(roots);
        elapsed.as_nanos() as f64 / f64::from(calls)
    };
    let samples = interleaved_rounds(ROUNDS, &mut [&mut || sample(0), &mut || sample(1)]);
    let small_samples = samples[0].clone();
    for (i, n) in [small, large].into_iter().enumerate() {
        let (bests, paired) = ratios(&samples[i], &small_samples);
        let verdict = if i == 0 { Verdict::None } else { Verdict::of(paired <= ATTACH_TARGET, Bound::Attach) };
        table.row(
            vec![
                n.to_string(),
                calls[i].to_string(),
                Summary::of(&mut samples[i].clone()).to_string(),
                times(bests),
                times(paired),
            ],
            verdict,
        );
    }
    drop(reader);
    table
}

/// Calls per field-read sample.
const READ_CALLS: u32 = 2_000_000;
/// Rounds of the field-read comparison.
const READ_ROUNDS: usize = 9;
const FIELD_READ_TARGET: f64 = 1.5;
const FIELD_READ_NS: f64 = 5.0;

/// One int field read on an object read in place from a segment against the same read on a heap
/// object, through the C ABI and through the Rust API, paired rounds.
fn field_read_table() -> Table {
    let mut table = Table::new(
        "Field read: an object read in place against a heap object",
        format!(
            "ns per call, best (median) of {READ_ROUNDS} paired rounds of {READ_CALLS} calls: one int field of one \
             frozen `BenchNode`, on the heap and read in place from a segment (`Segment::read`, the same node \
             published). Ratio in place ÷ heap, of the bests and paired; targets ≤ {FIELD_READ_TARGET}× paired \
             and ≤ {FIELD_READ_NS} ns (median) through the C ABI."
        ),
        vec!["call", "heap ns", "in place ns", "bests", "paired"],
        1,
    );
    let heap = Object::new(Graph::node_type()).expect("allocate");
    heap.set_int(Graph::VALUE_FIELD, 42).expect("set");
    heap.freeze(Some("field read")).expect("freeze");
    let owned = OwnedSegment::create("field-read", 1 << 20, 1).expect("create the field-read segment");
    owned.segment.publish(0, &heap).expect("publish");
    let (_, in_place) = owned.segment.read(0).expect("read").expect("a version");
    let field = Graph::VALUE_FIELD;
    let c_get = |object: &Object| {
        let handle = object.handle();
        let mut out = 0i64;
        let ns = per_call(READ_CALLS, |_| {
            // SAFETY: `out` is a writable i64; `handle` is live for the call.
            unsafe { floe_object_get_int(black_box(handle), black_box(field), &raw mut out) }
        });
        assert_eq!(out, 42, "the reads happened");
        ns
    };
    let rust_get = |object: &Object| per_call(READ_CALLS, |_| object.get_int(black_box(field)).expect("get"));
    for (name, c_abi) in [("floe_object_get_int", true), ("Object::get_int (Rust)", false)] {
        let read = |object: &Object| if c_abi { c_get(object) } else { rust_get(object) };
        let samples = interleaved_rounds(READ_ROUNDS, &mut [&mut || read(&heap), &mut || read(&in_place)]);
        let (bests, paired) = ratios(&samples[1], &samples[0]);
        let in_place_ns = Summary::of(&mut samples[1].clone());
        let verdict = if c_abi {
            Verdict::of(paired <= FIELD_READ_TARGET && in_place_ns.median <= FIELD_READ_NS, Bound::FieldRead)
        } else {
            Verdict::of(paired <= FIELD_READ_TARGET, Bound::FieldRead)
        };
        table.row(
            vec![
                name.into(),
                Summary::of(&mut samples[0].clone()).to_string(),
                in_place_ns.to_string(),
                times(bests),
                times(paired),
            ],
            verdict,
        );
    }
    table
}

/// Publish of a graph against a plain traversal of it (`Object::reachable_count`) plus a memcpy of
/// as many bytes as its block has.
fn publish_table(quick: bool) -> Table {
    let largest = if quick { 100_000 } else { 1_000_000 };
    let mut table = Table::new(
        "Segment publish against a traversal and a memcpy",
        format!(
            "ns per object, best (median) of {ROUNDS} rounds: `Segment::publish` of a frozen graph to a slot (the \
             writer lock, the plan, the block written into the segment with its checksums, the commit, the \
             reclaim of the version before) against `Object::reachable_count` of the same graph plus a memcpy \
             of the block's bytes between two buffers of this process. Samples of about 5 ms (at least one \
             call); the pair takes turns. Ratio of the bests and paired; target ≤ {PUBLISH_TARGET}× paired."
        ),
        vec!["shape", "objects", "block B/object", "publish", "traversal", "memcpy", "bests", "paired"],
        2,
    );
    let size = NODE_BLOCK_BYTES * largest as u64 * 3 + (4 << 20);
    let owned = OwnedSegment::create("publish", size, 1).expect("create the publish segment");
    let segment = &owned.segment;
    for shape in Shape::ALL {
        for n in [1_000, 100_000, 1_000_000].into_iter().filter(|&n| n <= largest) {
            let graph = Graph::build(shape, n);
            let root = graph.root();
            root.freeze(Some("publish")).expect("freeze");
            // Untimed: the first publishes fault in the pages the later ones reuse.
            (0..3).for_each(|_| {
                segment.publish(0, root).expect("publish");
            });
            let bytes = segment.verify(0).expect("verify").expect("a version").bytes;
            let (source, mut target) = (vec![1u8; bytes], vec![0u8; bytes]);
            let (_, once) = timed(|| segment.publish(0, root).expect("publish"));
            let calls = calls_for(Duration::from_millis(5), once, 1000);
            let per_object = |ns_per_call: f64| ns_per_call / n as f64;
            let (traversal, memcpy) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
            let samples = interleaved_rounds(
                ROUNDS,
                &mut [&mut || per_object(per_call(calls, |_| segment.publish(0, root).expect("publish"))), &mut || {
                    let t = per_object(per_call(calls, |_| root.reachable_count().expect("traverse")));
                    let c = per_object(per_call(calls, |_| target.copy_from_slice(black_box(&source))));
                    traversal.borrow_mut().push(t);
                    memcpy.borrow_mut().push(c);
                    t + c
                }],
            );
            let (bests, paired) = ratios(&samples[0], &samples[1]);
            let summary = |samples: &[f64]| Summary::of(&mut samples.to_vec()).to_string();
            table.row(
                vec![
                    shape.name().into(),
                    n.to_string(),
                    format!("{:.1}", bytes as f64 / n as f64),
                    summary(&samples[0]),
                    summary(&traversal.borrow()),
                    summary(&memcpy.borrow()),
                    times(bests),
                    times(paired),
                ],
                Verdict::of(paired <= PUBLISH_TARGET, Bound::Publish),
            );
        }
    }
    table
}

/// Objects in each graph of the resident-size table.
const RESIDENT_OBJECTS: usize = 100_000;

/// Block bytes per published object for a few graphs, beside what the same graph takes in a fresh
/// process's heap.
fn resident_table() -> Table {
    let mut table = Table::new(
        "Segment bytes per published object",
        format!(
            "Each graph is a root list of n = {RESIDENT_OBJECTS} members (the chain: n nodes), frozen and published; \
             block: the version's bytes (`Segment::verify`) per object, root included — what the segment keeps \
             resident for it. Heap: the growth of the resident set of a fresh process (`floe-bench --peer heap`) \
             that builds the same graph, per object. No target."
        ),
        vec!["graph", "objects", "block bytes", "block B/object", "heap B/object"],
        1,
    );
    let owned = OwnedSegment::create("resident", 256 << 20, 1).expect("create the resident segment");
    for layout in Layout::ALL {
        let (root, objects) = layout.build(RESIDENT_OBJECTS);
        owned.segment.publish(0, &root).expect("publish");
        drop(root);
        let seen = owned.segment.verify(0).expect("verify").expect("a version");
        assert_eq!(seen.objects as usize, objects, "{}: every object published", layout.name());
        let heap = heap_bytes_per_object(layout).unwrap_or_else(|why| format!("not measured: {why}"));
        table.row(
            vec![
                layout.what().into(),
                objects.to_string(),
                seen.bytes.to_string(),
                format!("{:.1}", seen.bytes as f64 / objects as f64),
                heap,
            ],
            Verdict::None,
        );
    }
    table
}

/// What `floe-bench --peer heap LAYOUT n` prints.
fn heap_bytes_per_object(layout: Layout) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .args(["--peer", "heap", layout.name(), &RESIDENT_OBJECTS.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
