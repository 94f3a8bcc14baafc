//! Kotlin/Native's SharedData-in-a-C-global recipe, from Rust. `global.def` is the Kotlin `.def`
//! line for line; floe-cinterop compiles its C code with the C library `quotes.c`, and gives
//! `global::shared_data()`, floe's SharedData over the C global `sharedData`:
//!
//! 1. a C thread publishes 2000 frozen `Quote`s into `sharedData` while this thread reads it
//!    through the accessor: versions never go back, and each version's quote is its own (the pair
//!    is never torn);
//! 2. Rust publishes, a C thread reads; Rust puts a mutable list, a C thread takes it;
//! 3. `orders.def`: detached graphs in a C struct's `void *` field, in a `void *` global and in a
//!    global struct's field, attached by the generated `take_*` and stored by `set_*`.
//!
//! Then nothing is left (`Runtime::shutdown`). Any failure panics, and the process exits non-zero.
//!
//! ```sh
//! cargo run -p floe-cinterop-global
//! ```

use floe::{Object, Runtime, Status, TransferMode};

// `mod global` (global.def) and `mod orders` (orders.def), written by build.rs.
include!(concat!(env!("OUT_DIR"), "/global.rs"));
include!(concat!(env!("OUT_DIR"), "/orders.rs"));

const ROUNDS: i32 = 2000;

fn status(code: i32) -> Status {
    Status::from_code(code).expect("a floe status")
}

fn main() -> floe::Result<()> {
    Runtime::init()?;
    let shared = global::shared_data();
    assert!(matches!(shared.read()?, (0, None)), "a zeroed C global is an empty SharedData");

    // 1. A C thread publishes; this thread reads through the accessor.
    // SAFETY: quotes_start takes a count and starts a thread that uses only floe and sharedData.
    assert_eq!(status(unsafe { global::sys::quotes_start(ROUNDS) }), Status::Ok);
    let (mut last, mut reads, mut quote_type) = (0, 0u64, None);
    while last < ROUNDS {
        let (version, quote) = shared.read()?;
        assert!(version >= last, "version {version} after {last}: a version went back");
        if let Some(quote) = quote {
            assert!(quote.is_frozen()?);
            assert_eq!(quote.get_string(0)?, "FLOE");
            assert_eq!(
                quote.get_int(1)?,
                i64::from(version) * 100,
                "version {version} came with another version's quote"
            );
            quote_type = Some(quote.object_type()?);
            reads += 1;
        }
        last = version;
    }
    // SAFETY: joins the thread quotes_start started.
    assert_eq!(status(unsafe { global::sys::quotes_join() }), Status::Ok);
    println!("read sharedData {reads} times while a C thread published {ROUNDS} versions: never torn, never back");

    // 2. Rust publishes, a C thread reads.
    let quote = Object::new(quote_type.expect("quotes were read"))?;
    quote.set_string(0, "RUST")?;
    quote.set_int(1, 4242)?;
    quote.freeze(Some("rust quote"))?;
    shared.publish(Some(&quote))?;
    let (mut cents, mut version) = (0i64, 0i32);
    // SAFETY: both out-pointers are writable for the call.
    assert_eq!(status(unsafe { global::sys::quotes_read(&mut cents, &mut version) }), Status::Ok);
    assert_eq!((cents, version), (4242, ROUNDS + 1));
    println!("a C thread read the quote Rust published: version {version}, {cents} cents");

    // Rust puts a mutable graph; a C thread takes it, and then owns it.
    shared.publish(None)?;
    let list = Object::new_list()?;
    for i in 1..=4 {
        list.push_int(i)?;
    }
    shared.put(list, TransferMode::Safe).map_err(floe::Error::from)?;
    let mut sum = 0i64;
    // SAFETY: the out-pointer is writable for the call.
    assert_eq!(status(unsafe { global::sys::quotes_take_sum(&mut sum) }), Status::Ok);
    assert_eq!(sum, 10);
    assert_eq!(shared.take().unwrap_err().status(), Status::ErrConsumed, "taken once");
    println!("a C thread took the list Rust put: sum {sum}");

    // 3. Detached graphs in C's `void *`s.
    let mut order = orders::sys::Order { id: 0, lines: std::ptr::null_mut() };
    // SAFETY: `order` is a valid Order for the call.
    assert_eq!(status(unsafe { orders::sys::orders_build(&mut order, 7, 5) }), Status::Ok);
    let lines = order.take_lines()?.expect("a C thread detached a list into order.lines");
    assert!(order.lines.is_null() && order.take_lines()?.is_none(), "taken once");
    assert_eq!((lines.len()?, lines.get_int(4)?), (5, 5));
    lines.push_int(6)?; // attached here: this thread owns it, mutable
    assert!(order.set_lines(Some(lines.detach(TransferMode::Safe).map_err(floe::Error::from)?))?.is_none());
    let mut len = 0usize;
    // SAFETY: `order` and the out-pointer are valid for the call.
    assert_eq!(status(unsafe { orders::sys::orders_count_lines(&mut order, &mut len) }), Status::Ok);
    assert_eq!(len, 6);
    println!("order {}: its lines went from a C thread to Rust and back as a detached graph", order.id);

    // SAFETY: no arguments but a value.
    assert_eq!(status(unsafe { orders::sys::orders_post_pending(99) }), Status::Ok);
    let pending = orders::take_pending_order()?.expect("a C thread posted a graph");
    assert_eq!(pending.get_int(0)?, 99);
    assert!(orders::take_pending_order()?.is_none());
    // SAFETY: the C global is a valid Order; no other thread uses it meanwhile.
    assert_eq!(status(unsafe { orders::sys::orders_build(&raw mut orders::sys::currentOrder, 8, 3) }), Status::Ok);
    let current = orders::take_current_order_lines()?.expect("a C thread detached a list into currentOrder.lines");
    assert_eq!(current.len()?, 3);
    assert!(orders::take_current_order_lines()?.is_none());
    // A pointer floe never issued is refused by status, never followed.
    order.lines = 0x5eed0 as *mut std::ffi::c_void;
    assert_eq!(order.take_lines().unwrap_err().status(), Status::ErrInvalidHandle);
    println!("pendingOrder: attached {}, then empty; a made-up pointer refused", pending.get_int(0)?);

    drop((quote, pending, current));
    shared.publish(None)?;
    let report = Runtime::shutdown(true, None);
    assert!(report.is_clean(), "{report:?}");
    println!("nothing left: 0 objects, 0 handles, 0 detached graphs");
    Ok(())
}
