//! What bounds each target's figure: the paragraph BENCHMARKS.md prints under a table for every kind
//! of row that misses its target, and only then. The longer story, with the measurements behind
//! it, is in docs/performance.md.

/// A target's limiting cost, one per kind of row that can miss.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Bound {
    FreezeAcyclic,
    FreezeRandom,
    Transfer,
    FieldAccess,
    RoundTrip,
    RoundTripObject,
    RoundTripOneCpu,
    Throughput,
    Header,
    Flip,
    FlipSocket,
    Attach,
    FieldRead,
    Publish,
}

impl Bound {
    pub fn paragraph(self) -> &'static str {
        match self {
            Bound::FreezeAcyclic => {
                "**Freeze of a tree or a list.** No member is reached twice, so freeze takes its plain walk: \
                 it marks each member in its header as it reaches it and publishes it in a second pass, a read \
                 and two writes of each header where the traversal reads it and sets one bit. That is 0.9–1.4× \
                 of the traversal on the benchmark VM; a row above 1.5× is usually a slow stretch of a shared \
                 machine, so rerun before looking for a regression in the tree walk \
                 ([freeze](docs/performance.md#freeze))."
            }
            Bound::FreezeRandom => {
                "**Freeze of a random graph.** Nearly the whole graph is one strongly connected component, and \
                 freeze must give each component one count (frozen cycles are freed by counting), so it runs \
                 Tarjan's walk. Per edge it loads the target's mark from a per-thread table of 4 bytes per heap \
                 slot, where the traversal tests one bit: the same random edges reach 32 times as many bytes, \
                 and from 10^5 objects on the table outgrows L2. Those loads and the first field of each node \
                 (which the traversal loads too) take two thirds of the walk's time. A smaller mark cannot hold \
                 a discovery position, and marks kept in the headers make every edge read its target's slot \
                 line, which is slower still ([random graphs](docs/performance.md#random-graphs-are-bound-by-mark-loads))."
            }
            Bound::Transfer => {
                "**SAFE transfer.** The detach walk reads each member's header and fields, as the traversal \
                 does, and writes each header once to put the member in transit; the attach writes each header \
                 again to give it its new owner. Those two writes per member are what the target's margin pays \
                 for; a graph whose slots the heap handed out of order reaches more lines \
                 ([SAFE transfer](docs/performance.md#safe-transfer))."
            }
            Bound::FieldAccess => {
                "**Checked field access.** Every call checks the handle's generation, the owner, the field's \
                 index and kind in one predicate, with no error built on the way, and the C boundary adds a \
                 panic guard: about 4 ns on the benchmark VM, so the 5 ns target leaves one, which a slow \
                 stretch of a shared machine can take ([field access](docs/performance.md#checked-field-access))."
            }
            Bound::RoundTrip => {
                "**Round trip, no input.** A trip moves about three cache lines between the CPUs (the queue \
                 slot, then the future's cell each way); crossbeam's ping-pong moves its two channel slots. \
                 The paired median misses when floe's own rounds are slow, that is when a waiter parks: a parked \
                 thread takes about 30 µs to run again on the benchmark VM, a hundred times the trip \
                 ([waiting](docs/performance.md#waiting-after-a-wake-up))."
            }
            Bound::RoundTripObject => {
                "**Round trip with a one-object graph.** On top of the no-input trip, each side detaches the \
                 object (its handle released, its owner word set in transit) and attaches it (the owner word, \
                 a new handle), and the job's get and set check it: the object's header line crosses the CPUs \
                 twice per trip, and the handle and owner checks cost about 630 instructions per trip even when \
                 the header never moves. That is the floor of a design that checks every handle; against a \
                 ping-pong whose threads never park (90–140 ns), 1.25× is out of its reach \
                 ([the one-object floor](docs/performance.md#the-one-object-round-trips-floor))."
            }
            Bound::RoundTripOneCpu => {
                "**Round trip on one CPU.** Both threads share CPU 0, so every hand-over is a switch between \
                 them; floe's waiters yield rather than park, which usually puts floe at about half crossbeam's \
                 time. A miss means the scheduler ran other work between the two threads \
                 ([waiting](docs/performance.md#waiting-after-a-wake-up))."
            }
            Bound::Throughput => {
                "**A stream of tiny jobs.** The producer sets the pace: per job it makes a future (a half-line \
                 cell) and writes a queue slot (a line of its own), and the worker completes the cell by one \
                 swap. In the stream's slow mode the worker keeps right behind the producer, and its locked \
                 operations (the completion's swap, the task's count, the job's own increment) wait for its \
                 earlier stores to lines the producer is writing too: 75–86 ns per job instead of 27–49. \
                 Neither consumer back-off nor future cells on lines of their own removes it; a job without a \
                 future, or jobs submitted in batches, would \
                 ([the slow mode](docs/performance.md#the-streams-slow-mode))."
            }
            Bound::Header => {
                "**Header size.** The header is four 32-bit words (owner, count, type and flags, aux); a miss \
                 means a field was added to `core::heap`'s slot without this report's constant following."
            }
            Bound::Flip => {
                "**Flip latency against iceoryx2.** Both writers copy the payload into shared memory before the \
                 reader can see it, but floe's publish does more per message: it takes the segment's writer lock \
                 (two `fcntl` calls), makes the version's pages writable and read-only again (two `mprotect` \
                 calls, each a vma split or merge and a TLB flush: about half of a small publish), plans the \
                 graph, writes the block with a CRC over every byte, commits, retires and reclaims the version \
                 before; iceoryx2 copies bytes into a loaned \
                 sample and links it into the subscriber's queue. On the reader's side an attach through \
                 `Segment::read` is O(1) (a slot load, a pin, the version record's check); through `read_copy` it \
                 imports the whole graph into the heap, which dominates from a few KiB up \
                 ([segments](docs/performance.md#segments))."
            }
            Bound::FlipSocket => {
                "**Flip latency against a Unix socket.** The socket's reader pays two kernel copies and a decode \
                 into heap objects; floe's pays one copy at publish and, attaching through `Segment::read`, \
                 nothing that grows with the payload. An attach through `read_copy` imports the graph into the \
                 heap, as the socket's decode does, which leaves floe the kernel copies only \
                 ([segments](docs/performance.md#segments))."
            }
            Bound::Attach => {
                "**Attach.** `Segment::read` touches the slot word, this process's reader entry and the version \
                 record whatever the graph's size; `read_copy` imports every object into the heap, O(N). The row \
                 measures whichever `segments::attach` calls ([segments](docs/performance.md#segments))."
            }
            Bound::FieldRead => {
                "**Field read in place.** An in-place handle keeps, from when it was issued and checked, the \
                 address of its object's values, their count and this process's copy of the type's field \
                 kinds; a read checks the slot against the count, takes the kind from that copy and loads one \
                 word of the segment. The heap read checks the owner word against the calling thread as well, \
                 so the two cost about the same ([segments](docs/performance.md#segments))."
            }
            Bound::Publish => {
                "**Publish.** On top of what the traversal and the memcpy do, publish plans the graph (a \
                 breadth-first numbering with a table of object indices), writes each object's values through \
                 the heap's checked reads, computes a CRC-32 over the block, and takes and drops the writer \
                 lock and changes the pages' protection (four system calls, which dominate small graphs). In a \
                 random graph every edge's target is a random heap slot: the walk loads and stores its 4-byte \
                 number in a table per heap slot where the traversal tests one bit, and the write pass reads \
                 the objects again in breadth-first order, so from 10^5 objects on both miss the cache per \
                 object and per edge ([segments](docs/performance.md#segments))."
            }
        }
    }
}
