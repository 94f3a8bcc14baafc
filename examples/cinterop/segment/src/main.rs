//! One C header, two processes, one segment. `app_shared.h` declares
//! `typedef struct { floe_shared_data config; floe_shared_data prices; } AppShared;`, and
//! floe-cinterop (`app.def`) makes `app::AppShared` of it: a segment with one slot per field,
//! named by field. This Rust process creates the segment, starts the C process `c_process.c`
//! (built from the same header, finding the slots with `FLOE_SLOT(AppShared, field)`), reads the
//! prices it publishes through `app.prices()`, and replies in `app.config()` with their total,
//! which the C process checks. A layout that disagrees with a segment's slot names is refused.
//!
//! ```sh
//! cc -Iinclude -Icinterop/include -Iexamples/cinterop/segment examples/cinterop/segment/c_process.c \
//!     target/debug/libfloe.a -lpthread -ldl -lm -o target/debug/cinterop-c-process
//! cargo run -p floe-cinterop-segment -- target/debug/cinterop-c-process
//! ```
//!
//! Any failure, in either process, exits non-zero with a message.

use floe::{Object, Runtime, Segment};
use std::process::Command;
use std::time::Duration;

// `mod app` (app.def), written by build.rs.
include!(concat!(env!("OUT_DIR"), "/app.rs"));

use app::AppShared;

/// Removes the segment's name however the process ends.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

fn main() -> floe::Result<()> {
    let Some(c_process) = std::env::args().nth(1) else {
        eprintln!("usage: floe-cinterop-segment C-PROCESS (the program built from c_process.c)");
        std::process::exit(2);
    };
    Runtime::init()?;
    assert_eq!((AppShared::SLOTS, AppShared::FIELDS), (2, ["config", "prices"]));
    assert_eq!(
        (AppShared::slot_of("config"), AppShared::slot_of("prices"), AppShared::slot_of("orders")),
        (Some(0), Some(1), None)
    );

    let name = format!("cinterop-app-{}", std::process::id());
    let app = AppShared::create(&name, 1 << 20, 8)?; // two slots, named "config" and "prices"
    let _unlink = Unlink(name.clone());
    let prices_slot = app.prices().slot();
    let seen = app.segment().change_count(prices_slot)?;
    let mut child =
        Command::new(&c_process).arg(&name).spawn().map_err(|e| floe::Error::host(format!("{c_process}: {e}")))?;

    app.segment().wait_for_change(prices_slot, seen, Duration::from_secs(10))?;
    let (version, prices) = app.prices().read()?;
    let prices = prices.expect("the C process published prices");
    let mut total = 0;
    for i in 0..prices.len()? {
        let price = prices.get_ref(i)?.expect("a Price");
        assert_eq!(price.object_type()?.name(), "Price");
        assert_eq!(price.get_string(0)?, format!("sku-{i}"));
        total += price.get_int(1)?;
    }
    assert_eq!((version, prices.len()?, total), (1, 3, 2256));
    println!("rust: read version {version} of slot {prices_slot} `prices`: {} prices, total {total}", prices.len()?);

    // Another opening, as a third process would: the same slots, by field.
    let again = AppShared::open(&name)?;
    assert_eq!(again.prices().read()?.0, 1);

    let config = Object::new_list()?;
    config.push_string("EUR")?;
    config.push_int(total)?;
    config.freeze(Some("config"))?;
    app.config().publish(Some(&config))?;
    let status = child.wait().map_err(|e| floe::Error::host(e.to_string()))?;
    assert!(status.success(), "the C process failed: {status}");
    println!("rust: the C process read the config it was sent and checked its total");

    // A segment whose names disagree with the layout is refused, naming both.
    let other = format!("cinterop-other-{}", std::process::id());
    let segment = Segment::create(&other, 1 << 16, 2, 2)?;
    let _unlink_other = Unlink(other.clone());
    segment.name_slot(0, "prices")?;
    let refused = AppShared::over(segment).unwrap_err();
    assert!(refused.message().contains("puts prices at slot 1"), "{refused}");
    println!("rust: a segment naming slot 0 `prices` is refused: {}", refused.message());

    drop((prices, config, again, app));
    assert!(Runtime::shutdown(true, None).is_clean());
    Ok(())
}
