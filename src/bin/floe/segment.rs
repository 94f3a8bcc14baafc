//! `floe segment create | inspect | verify | recover | rm NAME`: segments from the shell.

use floe::{Result, Segment};

pub const USAGE: &str = "\
usage: floe segment <create|inspect|verify|recover|rm> NAME [options]

Segments are named shared memory (/floe.NAME; on Linux in /dev/shm) whose slots hold versioned
frozen graphs that other processes read.

  create NAME [--size BYTES] [--slots N] [--readers N]
                   create the segment (0600, fails if the name exists); defaults: 1 MiB,
                   16 slots, 64 readers
  inspect NAME     the header, each slot (version, bytes), each reader (pid, alive, versions
                   pinned) and the pages; a snapshot taken without the writer lock
  verify NAME      check every byte of every slot's version; names the first problem
  recover NAME     take the writer lock and recover after a crashed writer or reader
  rm NAME          remove the name (processes that have it open keep it until they close it)

Exits 0 on success, 1 when the operation fails (the message says why), 2 for a usage mistake.
";

/// Runs `floe segment ARGS`; the exit code.
pub fn run(args: &[String]) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["create", name, options @ ..] => match create_options(options) {
            Ok((size, slots, readers)) => create(name, size, slots, readers),
            Err(mistake) => return super::usage_error(&mistake, USAGE),
        },
        ["inspect", name] => Segment::open(name).and_then(|s| s.inspect()).map(|text| print!("{text}")),
        ["verify", name] => verify(name),
        ["recover", name] => Segment::open(name).and_then(|s| s.recover()).map(|text| print!("{text}")),
        ["rm", name] => Segment::unlink(name).map(|()| println!("segment {name} removed")),
        [] => return super::usage_error("floe segment needs a subcommand", USAGE),
        [sub @ ("inspect" | "verify" | "recover" | "rm"), ..] => {
            return super::usage_error(&format!("floe segment {sub} takes one NAME"), USAGE)
        }
        [other, ..] => return super::usage_error(&format!("unknown segment subcommand `{other}`"), USAGE),
    };
    match outcome {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("floe segment: {error}");
            1
        }
    }
}

fn create_options(options: &[&str]) -> std::result::Result<(u64, u32, u32), String> {
    let (mut size, mut slots, mut readers) = (1u64 << 20, 16u32, 64u32);
    let mut rest = options.iter();
    while let Some(&option) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("option {option} needs a value"))?;
        let bad = |_| format!("option {option} takes a number, not `{value}`");
        match option {
            "--size" => size = value.parse().map_err(bad)?,
            "--slots" => slots = value.parse().map_err(bad)?,
            "--readers" => readers = value.parse().map_err(bad)?,
            other => return Err(format!("unknown option `{other}` for floe segment create")),
        }
    }
    Ok((size, slots, readers))
}

fn create(name: &str, size: u64, slots: u32, readers: u32) -> Result<()> {
    let segment = Segment::create(name, size, slots, readers)?;
    println!("segment {name} created: {size} bytes asked, {slots} slots, {readers} readers");
    drop(segment);
    Ok(())
}

fn verify(name: &str) -> Result<()> {
    let segment = Segment::open(name)?;
    let mut versions = 0;
    for slot in 0..segment.slot_count() {
        if let Some(v) = segment.verify(slot)? {
            println!(
                "slot {slot}: version {} (id {}), {} objects, {} bytes: ok",
                v.version, v.version_id, v.objects, v.bytes
            );
            versions += 1;
        }
    }
    println!("segment {name}: {versions} versions checked, every byte ok");
    Ok(())
}
