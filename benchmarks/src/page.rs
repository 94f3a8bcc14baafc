//! BENCHMARKS.md, written whole by `floe-bench --markdown PATH`: a fixed introduction, then the
//! results of this run (machine, rustc, commit, command, one table per target).

use crate::table::Table;
use std::path::Path;
use std::process::Command;

/// Where and on what the figures were taken; read before the run, so that the commit's `-dirty`
/// mark describes the code that ran.
pub struct Setting {
    machine: String,
    rustc: String,
    commit: String,
    command: String,
}

impl Setting {
    /// `args` are the binary's arguments; `page` is the Markdown output, whose own changes do not
    /// make the tree dirty.
    pub fn now(args: &[String], page: Option<&Path>) -> Setting {
        Setting {
            machine: machine(),
            rustc: output("rustc", &["-V"]).unwrap_or_else(|| "rustc (unknown: `rustc -V` failed)".into()),
            commit: commit(page),
            command: format!("cargo run --release -p floe-bench -- {}", args.join(" ")).trim_end().to_string(),
        }
    }
}

const INTRO: &str = "# Benchmarks

floe against the plain traversal of the same graph, and against crossbeam-channel, arc-swap,
iceoryx2 and a Unix domain socket.
Every figure below comes from one run of `floe-bench`, which writes this page whole; how floe
reaches these figures, and what bounds them, is in [docs/performance.md](docs/performance.md).

## What is measured

- **Graphs**: every node has three reference fields and one int. A *tree* (node i points at 2i+1
  and 2i+2), a *list* (i points at i+1) and a *random* graph (i points at i+1, at a random node and
  half the time at another: nearly all one strongly connected component), 10^3 to 10^6 objects.
  Building and teardown are never timed.
- **Freeze** of a freshly built graph against the plain traversal (`Object::reachable_count`: a
  bitmap and an explicit stack) of the same graph. Target: ≤ 1.5×.
- **SAFE transfer**: `Object::detach(Safe)`, then `DetachedGraph::attach`, against the traversal.
  Target: ≤ 2× for the detach and for both.
- **Checked field access** through the C ABI (`floe_object_get_int`, `floe_object_set_int`).
  Target: ≤ 5 ns per call.
- **Workers**, both threads pinned: an `execute` + result round trip against a crossbeam-channel
  ping-pong (target ≤ 1.25×), from Rust and from C, the other thread on the other CPU or on the
  same one; a stream of tiny jobs against as many messages to a consumer (target ≥ 0.8× in jobs/s).
- **SharedData reads** under a writer publishing all the while, against arc-swap's `load_full`
  under a writer storing new `Arc`s. No target.
- **Segments** (between processes; the reader is a second process, pinned to the other CPU):
  publish → observed flip latency against iceoryx2's publish-subscribe with the same payload bytes
  (target ≤ 1.5×) and against a Unix domain socket carrying the encoded graph, the reader's decode
  into heap objects included (target: floe ≥ 10× faster from 64 KiB up), 1 KiB to 16 MiB, one-way
  from CLOCK_MONOTONIC stamps; the attach of a slot holding 10^3 against 10^6 objects (target
  ≤ 1.5×: the same time); publish against a traversal plus a memcpy of the block's bytes (target
  ≤ 2×); the block's bytes per published object, beside the heap's. The reader attaches through
  one function, `segments::attach` in `benchmarks/src/segments.rs`.
- **Memory per object**: the header, and the resident memory of 10^6 two-field objects.

Each figure is the best of several samples, with the median in parentheses. Where contenders take
turns round after round (workers, SharedData, segments), the ratio is given of the bests and as the median
of the rounds' paired ratios, and the **paired median decides** PASS or MISS: a shared VM's speed
drifts within seconds, and one fast round of the baseline is noise, not a result.

## How to run

```sh
cargo run --release -p floe-bench                            # the report on stdout (--quick: up to 10^5 objects, fewer jobs)
cargo run --release -p floe-bench -- --markdown BENCHMARKS.md  # the same, and this page rewritten
cargo run --release -p floe-bench -- --only segments           # one section (freeze, transfer, access, round-trip, throughput, shared-data, segments, memory)
cargo bench -p floe-bench -- --warm-up-time 1 --measurement-time 3  # criterion: freeze, workers, shared_data
```

Run them on an otherwise idle machine: the worker figures move tenfold with the machine's load.
";

/// The whole page: the introduction, the setting, the tally and every table.
pub fn markdown(setting: &Setting, tables: &[Table]) -> String {
    let judged: usize = tables.iter().map(Table::judged).sum();
    let missed: usize = tables.iter().map(Table::missed).sum();
    let mut page = format!(
        "{INTRO}\n## Results\n\n- Machine: {}\n- Rust: `{}`\n- Commit: `{}`\n- Command: `{}`\n\n\
         {missed} of {judged} judged rows missed their target.\n",
        setting.machine, setting.rustc, setting.commit, setting.command
    );
    for table in tables {
        page.push('\n');
        page += &table.markdown();
    }
    page
}

/// The CPU's model name, the CPUs online and the memory, from /proc (Linux).
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, name)| name.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
        .map_or_else(|| "unknown memory".into(), |kib| format!("{:.0} GiB", kib / (1024.0 * 1024.0)));
    format!("{model}, {} CPUs online, {memory}", floe_bench::measure::cpu_count())
}

/// `git rev-parse --short HEAD` of the workspace, with `-dirty` when the tree differs from it
/// (untracked files included; the page being written excluded).
fn commit(page: Option<&Path>) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let Some(hash) = output("git", &["-C", root, "rev-parse", "--short", "HEAD"]) else {
        return "unknown (not a git checkout)".into();
    };
    let mut status =
        vec!["-C".to_string(), root.into(), "status".into(), "--porcelain".into(), "--".into(), ".".into()];
    if let Some(page) = page.and_then(|page| std::path::absolute(page).ok()) {
        status.push(format!(":(exclude){}", page.display()));
    }
    let status: Vec<&str> = status.iter().map(String::as_str).collect();
    match output("git", &status) {
        Some(changes) if changes.is_empty() => hash,
        _ => format!("{hash}-dirty"),
    }
}

/// A command's standard output, trimmed, if it ran and succeeded.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
