//! The C examples in `c-examples/` build warning-free against `include/floe.h`, link statically
//! against the `libfloe.a` that cargo built next to this test, and run clean: once plain and once
//! under AddressSanitizer (with LeakSanitizer) and UBSan. The header also compiles on its own, as C
//! and as C++.
//!
//! The compilers are `$CC` / `$CXX`, else `cc` / `c++`. Binaries go to a directory under
//! `CARGO_TARGET_TMPDIR`. No LSan suppressions are needed: floe's process-lifetime tables stay
//! reachable from its statics, so LeakSanitizer does not report them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Wpedantic", "-Werror"];
const SANITIZERS: &[&str] = &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"];

/// Each example and lines its output must contain.
const EXAMPLES: &[(&str, &[&str])] = &[
    (
        "tour",
        &[
            "[reader] scope.job.children[2].state = \"child 2\"",
            "FLOE_ERR_FROZEN",
            "is frozen — frozen by freeze(Scope#",
            ", \"launch\") on thread main, reached via Scope.job (calling thread: main)",
            "FLOE_ERR_WRONG_THREAD",
            "is mutable and owned by thread main, but the calling thread is intruder",
            "FLOE_ERR_FREEZE_BLOCKED",
            "at Scope.job.children[1], which is marked never-frozen",
            "FLOE_ERR_RELEASED_HANDLE",
            "live_objects 0, frozen_objects 0, live_handles 0",
            "tour: done, nothing leaked",
        ],
    ),
    (
        "misuse",
        &[
            "ok: NULL handle: floe_object_len(0) -> FLOE_ERR_NULL",
            "ok: 100000 random 64-bit handles",
            "ok: use after release: floe_object_get_int -> FLOE_ERR_RELEASED_HANDLE",
            "ok: double release -> FLOE_ERR_DOUBLE_RELEASE",
            "ok: the message names both threads (main, intruder)",
            "ok: write to a frozen object -> FLOE_ERR_FROZEN",
            "ok: nothing was frozen: floe_object_is_frozen false everywhere",
            "ok: SAFE detach of a graph that an outside object refers into -> FLOE_ERR_NOT_TRANSFERABLE",
            "ok: the message names the object referred to and its path Node.next.items[3], and says nothing moved",
            "ok: nothing moved: the graph is still main's and writable",
            "ok: floe_worker_execute SAFE of a root main still holds a handle to -> FLOE_ERR_NOT_TRANSFERABLE",
            "ok: main uses its left-behind handle while the graph is detached -> FLOE_ERR_WRONG_THREAD",
            "ok: the message says the object is in transit",
            "ok: the message says the receiver owns it now",
            "ok: receiver thread releases the left-behind handle and the root",
            "ok: second attach of a detached graph -> FLOE_ERR_ALREADY_ATTACHED",
            "ok: the first attached graph stays valid",
            "ok: attach of a disposed graph -> FLOE_ERR_DISPOSED",
            "ok: garbage void* 0x12345678 to floe_graph_attach -> FLOE_ERR_INVALID_HANDLE",
            "ok: floe_worker_execute on unknown worker id 999999 -> FLOE_ERR_UNKNOWN_WORKER",
            "ok: NULL job -> FLOE_ERR_NULL",
            "ok: wait on a job that failed with FLOE_ERR_OUT_OF_RANGE -> FLOE_ERR_OUT_OF_RANGE",
            "ok: the message says the job failed, and gives the job's own message",
            "ok: floe_future_wait(20 ms) on a 300 ms job -> FLOE_ERR_TIMEOUT",
            "ok: wait on a released future -> FLOE_ERR_RELEASED_HANDLE",
            "ok: floe_worker_execute on a worker asked to terminate -> FLOE_ERR_WORKER_TERMINATED",
            "ok: floe_worker_execute on a terminated worker -> FLOE_ERR_UNKNOWN_WORKER",
            "ok: floe_main_queue_drain on a non-main pthread -> FLOE_ERR_WRONG_THREAD",
            "ok: atomic_add on main's mutable Counter from another pthread -> FLOE_ERR_WRONG_THREAD",
            "ok: frozen Counter: floe_object_atomic_add from main and another pthread, 1000 each: hits 2000",
            "ok: atomic_ref_set of a frozen Counter to a mutable object -> FLOE_ERR_NOT_FROZEN",
            "ok: atomic int set to 2^32 -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: floe_object_get_int of an atomic int field -> FLOE_ERR_WRONG_KIND",
            "ok: releasing the handle frees the self-referring frozen Counter (stats back to zero)",
            "ok: a worker's job reads a main-thread-only global -> FLOE_ERR_WRONG_THREAD",
            "ok: the message names the global settings_main_only, its mode and the worker's thread",
            "ok: the same initialiser as a shared-immutable global: the job reads it, frozen",
            "ok: globals alpha and beta whose initialisers read each other -> FLOE_ERR_CYCLIC_INIT",
            "ok: the message names the cycle alpha → beta → alpha",
            "ok: after floe_global_reset of both settings globals, nothing is left",
            "ok: floe_shared_data_read of a corrupt struct (version 3, object 0xdeadbeef) -> FLOE_ERR_INVALID_HANDLE",
            "ok: the refused read wrote neither *out_version nor *out_root",
            "ok: floe_shared_data_read(NULL struct) -> FLOE_ERR_NULL",
            "ok: publishing a mutable object -> FLOE_ERR_NOT_FROZEN",
            "ok: floe_pool_limited_parallelism(pool, 0) -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: a job on a limited-parallelism view runs: its result is [1, 2]",
            "ok: floe_pool_execute on a terminated pool -> FLOE_ERR_UNKNOWN_WORKER",
            "ok: floe_runtime_shutdown(true, 5000): workers_unfinished 0",
            "ok: floe_runtime_stats are all zero at the end",
            " checks passed, 0 failed",
        ],
    ),
    (
        "execute_consume",
        &[
            "started 20 workers",
            "attempt 1: consumed 20 of 20 results, each \"attempt 1 result\"",
            "attempt 2: consumed 20 of 20 results, each \"attempt 2 result\"",
            "attempt 3: consumed 20 of 20 results, each \"attempt 3 result\"",
            "terminated 20 workers",
            "floe_runtime_stats: live_objects 0, frozen_objects 0, live_handles 0, detached_graphs 0",
            "execute_consume: done, 3 attempts of 20 jobs, nothing leaked",
        ],
    ),
    (
        "segment_pair",
        &[
            "parent: published versions 1..500",
            "child: the segment inherited across fork is refused: FLOE_ERR_INVALID_ARGUMENT",
            "child: read ",
            " versions in place, the last 500; every one whole, its cycle and shared list kept, writes refused; nothing leaked",
            "parent: slot \"prices\" is slot 0; verify: version 500, 3 objects",
            "parent: a graph as a 376-byte block decodes whole; a damaged byte is FLOE_ERR_CORRUPT",
            "parent: a mutable graph is refused: FLOE_ERR_NOT_FROZEN",
            "parent: unpublished: version 501, root 0",
            "parent: a made-up segment pointer: FLOE_ERR_INVALID_HANDLE",
            "parent: closing twice: FLOE_ERR_RELEASED_HANDLE",
            "parent: live_objects 0, live_handles 0",
        ],
    ),
    (
        "segment_shared_data",
        &[
            "ok: child: floe_shared_data_read(prices) through the mapping inherited across fork -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: child: the message says to open the segment in this process",
            "ok: child: floe_shared_data_read(prices) after closing that segment -> FLOE_ERR_RELEASED_HANDLE",
            "ok: child: the message names the closed segment's slot and says how to get a new one",
            "ok: child: every price list read whole, versions never going back",
            " versions through floe_shared_data_read(prices), the last 300\n",
            "ok: child: nothing leaked",
            "child: 6 checks passed, 0 failed",
            "ok: parent: published 300 price lists through prices",
            "ok: parent: the reader process read them all and exited 0",
            "ok: parent: floe_shared_data_put(prices, a mutable list) -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: parent: the message says why and to publish a frozen graph instead",
            "ok: parent: the refused draft is still the caller's, and mutable",
            "ok: parent: floe_shared_data_take(prices) -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: parent: floe_shared_data_publish(prices, a mutable list) -> FLOE_ERR_NOT_FROZEN",
            "ok: parent: floe_shared_data_read of a pointer 8 bytes into the slot -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: parent: the message says where it points",
            "ok: parent: floe_shared_data_read(NULL) -> FLOE_ERR_NULL",
            "ok: parent: put and take on g_local, in this process's memory",
            "ok: parent: publishing 0 empties the slot: version 301, root 0",
            "ok: parent: floe_shared_data_read(prices) after floe_segment_close -> FLOE_ERR_RELEASED_HANDLE",
            "ok: parent: the message names the closed segment",
            "ok: parent: floe_shared_data_publish(prices, 0) after floe_segment_close -> FLOE_ERR_RELEASED_HANDLE",
            "ok: parent: nothing leaked",
            "parent: 16 checks passed, 0 failed",
        ],
    ),
    (
        "shared_data",
        &[
            "writer: published versions 1..2000 into g_config",
            "the readers together saw 2000 of 2000 versions",
            "4 readers: every (version, root) pair consistent, every root frozen, versions never went backwards, \
             each ended at version 2000",
            "after the readers: live_objects 1, frozen_objects 1, live_handles 0 (only the published version)",
            "main: put a list of 3 Configs (version 1), detached_graphs 1",
            "take race: 1 winner, 3 got FLOE_ERR_CONSUMED\n",
            "the winner owned the whole graph: 3 items, versions summing to 6\n",
            "a late take: FLOE_ERR_CONSUMED",
            "g_config: version 2001, root 0, object NULL",
            "floe_runtime_stats: live_objects 0, frozen_objects 0, live_handles 0, detached_graphs 0",
            "shared_data: done: 2000 versions read whole and in order by 4 readers, 1 of 4 takers won, nothing leaked",
        ],
    ),
    (
        "lifecycle",
        &[
            "ok: a wait without timeout on each job queued behind a job that never returns -> FLOE_ERR_CANCELLED",
            "ok: their inputs are freed; only the stuck job's input is live",
            "ok: after floe_worker_request_termination(worker, true), main's floe_worker_execute -> \
             FLOE_ERR_WORKER_TERMINATED",
            "ok: a job queued before the request still queues floe_worker_execute_after and floe_worker_execute on \
             its own worker -> FLOE_OK",
            "ok: both ran before the worker's thread exited",
            "ok: right after the termination future: the worker's thread-local global value (20001 objects) is released",
            "ok: a cyclic job result whose future was released first is collected when its worker goes idle",
            "ok: a job parking on its worker while a termination cancels the queue: every job ran or was cancelled",
            "ok: floe_runtime_stats are all zero at the end",
            "lifecycle: 13 checks passed, 0 failed",
        ],
    ),
    (
        "pipeline",
        &[
            "stage 1: batch 0 parsed into 3 items",
            "stage 1: batch 3 parsed into 1 item\n",
            "[main, queue 1] batch 2 parsed; sending it to stage 2",
            "stage 2: batch 2 transformed, total 200",
            "[main] batch 1 done",
            "main loop: drained 8 tasks from the main queue",
            "after floe_object_detach: live_objects 19, frozen_objects 0, live_handles 0, detached_graphs 1",
            "[reporter] attached the report (floe_worker_current = 0: a plain pthread)",
            "[reporter] batch 0 \"apple:3 banana:5 cherry:7\" -> APPLE=30 BANANA=50 CHERRY=70, total 150",
            "[reporter] batch 2 \"fig:4 grape:6 honeydew:1 kiwi:9\" -> FIG=40 GRAPE=60 HONEYDEW=10 KIWI=90, total 200",
            "grand total 560",
            "floe_runtime_stats: live_objects 0, frozen_objects 0, live_handles 0, detached_graphs 0",
            "pipeline: done, nothing leaked",
        ],
    ),
    (
        "scheduling",
        &[
            "ok: a job of a 1-thread pool waits for a job of its own pool -> FLOE_ERR_WOULD_DEADLOCK",
            "ok: refused at once, not after the inner wait's 5 s",
            "ok: floe_worker_execute_after(UINT64_MAX ms) -> FLOE_ERR_INVALID_ARGUMENT",
            "ok: the message names the delay",
            "ok: a host that sleeps until the hook rings runs a delayed main-queue job",
            "ok: a hook that queues work for the main thread and sets the hook returns (it ran with no floe lock held)",
            "ok: floe_main_queue_park(process) wakes for a delayed job and runs it",
            "ok: a job left in the main queue is cancelled when the main thread exits",
            "ok: a delivery left in the main queue is called back once, with FLOE_ERR_WORKER_TERMINATED",
            "ok: floe_worker_execute(FLOE_WORKER_MAIN) after the main thread exited -> FLOE_ERR_WORKER_TERMINATED",
            "ok: floe_future_deliver(FLOE_WORKER_MAIN) after the main thread exited -> FLOE_ERR_WORKER_TERMINATED",
            "ok: shutdown: every worker stopped, nothing leaked",
            " checks passed, 0 failed",
        ],
    ),
];

/// `target/<profile>`: this test runs as `target/<profile>/deps/c_examples-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("the test executable is in a directory");
    let dir = if dir.ends_with("deps") { dir.parent().expect("deps has a parent") } else { dir };
    dir.to_path_buf()
}

fn static_library() -> PathBuf {
    let lib = profile_dir().join("libfloe.a");
    assert!(lib.is_file(), "{} is missing: run `cargo build` (or `cargo test`) first", lib.display());
    lib
}

fn tool(variable: &str, default: &str) -> String {
    std::env::var(variable).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string())
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-examples");
    std::fs::create_dir_all(&dir).expect("create the output directory");
    dir
}

/// Runs `command` and returns its output, or panics showing the command and everything it printed.
fn run(mut command: Command, what: &str) -> Output {
    let shown = format!("{command:?}");
    let output = command.output().unwrap_or_else(|e| panic!("{what}: cannot run {shown}: {e}"));
    if !output.status.success() {
        panic!("{what} failed ({}):\n$ {shown}\n{}", output.status, printed(&output));
    }
    output
}

/// How long one example may run (sanitized builds included) before it counts as hung: examples
/// with workers wait on futures and queues, and a lost wake-up must fail the test, not stall it.
const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// Reads a child's pipe to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Like [`run`] for an example binary, but kills it and panics if it outlives [`RUN_DEADLINE`].
fn run_with_deadline(mut command: Command, what: &str) -> Output {
    let shown = format!("{command:?}");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run {shown}: {e}"));
    // Drain both pipes on their own threads, so a chatty example never blocks on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let (status, hung) = loop {
        if let Some(status) = child.try_wait().expect("poll the example") {
            break (status, false);
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            break (child.wait().expect("reap the killed example"), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    };
    if hung {
        panic!("{what} hung: killed after {RUN_DEADLINE:?}:\n$ {shown}\n{}", printed(&output));
    }
    if !output.status.success() {
        panic!("{what} failed ({}):\n$ {shown}\n{}", output.status, printed(&output));
    }
    output
}

fn printed(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Compiles `c-examples/<name>.c` (with sanitizers or not) and returns the binary's path.
fn compile(name: &str, sanitize: bool) -> PathBuf {
    let manifest = Path::new(MANIFEST_DIR);
    let binary = out_dir().join(if sanitize { format!("{name}-sanitized") } else { name.to_string() });
    let mut cc = Command::new(tool("CC", "cc"));
    cc.arg("-std=c11").args(WARNINGS).arg("-g");
    if sanitize {
        cc.args(SANITIZERS);
    }
    cc.arg("-I")
        .arg(manifest.join("include"))
        .arg(manifest.join("c-examples").join(format!("{name}.c")))
        .arg(static_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&binary);
    run(cc, &format!("compiling {name}.c"));
    binary
}

/// Builds and runs one example, and checks its exit status and output.
fn check_example(name: &str, sanitize: bool) {
    let expected = EXAMPLES.iter().find(|(n, _)| *n == name).map(|(_, lines)| *lines).expect("a listed example");
    let mut command = Command::new(compile(name, sanitize));
    command.env("ASAN_OPTIONS", "detect_leaks=1").env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let output = run_with_deadline(command, &format!("running {name}{}", if sanitize { " (sanitized)" } else { "" }));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in expected {
        assert!(stdout.contains(line), "{name} did not print {line:?}\n{}", printed(&output));
    }
    assert!(
        !stderr.contains("Sanitizer") && !stderr.contains("runtime error:"),
        "{name} ran into a sanitizer report\n{}",
        printed(&output)
    );
    if name == "misuse" || name == "scheduling" {
        check_summary(name, &stdout, &output);
    }
}

/// The last line is `<name>: N checks passed, 0 failed`, N counts the `ok:` lines, no line failed.
fn check_summary(name: &str, stdout: &str, output: &Output) {
    let last = stdout.lines().last().unwrap_or_default();
    let passed: usize = last
        .strip_prefix(&format!("{name}: "))
        .and_then(|rest| rest.strip_suffix(" checks passed, 0 failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary line {last:?}\n{}", printed(output)));
    let ok_lines = stdout.lines().filter(|l| l.starts_with("ok: ")).count();
    assert!(passed > 0 && passed == ok_lines, "summary says {passed} passed, {ok_lines} ok lines\n{}", printed(output));
    assert!(!stdout.lines().any(|l| l.starts_with("FAIL")), "a check failed\n{}", printed(output));
}

#[test]
fn tour_runs() {
    check_example("tour", false);
}

#[test]
fn tour_runs_under_asan_and_ubsan() {
    check_example("tour", true);
}

#[test]
fn misuse_checks_pass() {
    check_example("misuse", false);
}

#[test]
fn misuse_checks_pass_under_asan_and_ubsan() {
    check_example("misuse", true);
}

#[test]
fn execute_consume_runs() {
    check_example("execute_consume", false);
}

#[test]
fn execute_consume_runs_under_asan_and_ubsan() {
    check_example("execute_consume", true);
}

#[test]
fn shared_data_runs() {
    check_example("shared_data", false);
}

#[test]
fn shared_data_runs_under_asan_and_ubsan() {
    check_example("shared_data", true);
}

#[test]
fn segment_pair_runs() {
    check_example("segment_pair", false);
}

#[test]
fn segment_pair_runs_under_asan_and_ubsan() {
    check_example("segment_pair", true);
}

#[test]
fn segment_shared_data_runs() {
    check_example("segment_shared_data", false);
}

#[test]
fn segment_shared_data_runs_under_asan_and_ubsan() {
    check_example("segment_shared_data", true);
}

#[test]
fn pipeline_runs() {
    check_example("pipeline", false);
}

#[test]
fn pipeline_runs_under_asan_and_ubsan() {
    check_example("pipeline", true);
}

#[test]
fn scheduling_checks_pass() {
    check_example("scheduling", false);
}

#[test]
fn scheduling_checks_pass_under_asan_and_ubsan() {
    check_example("scheduling", true);
}

#[test]
fn lifecycle_checks_pass() {
    check_example("lifecycle", false);
}

#[test]
fn lifecycle_checks_pass_under_asan_and_ubsan() {
    check_example("lifecycle", true);
}

/// A new example must be added to `EXAMPLES`, or it would never be built.
#[test]
fn every_c_example_is_tested() {
    let dir = Path::new(MANIFEST_DIR).join("c-examples");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .expect("c-examples/ exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .map(|path| path.file_stem().expect("a file name").to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|(name, _)| name.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "c-examples/*.c and EXAMPLES in tests/c_examples.rs differ");
}

fn check_header(compiler: &str, standard: &str, language: &str) {
    let mut command = Command::new(compiler);
    command
        .arg(standard)
        .args(WARNINGS)
        .args(["-fsyntax-only", "-x", language])
        .arg(Path::new(MANIFEST_DIR).join("include").join("floe.h"));
    run(command, &format!("compiling include/floe.h on its own as {language}"));
}

#[test]
fn header_compiles_alone_as_c11() {
    check_header(&tool("CC", "cc"), "-std=c11", "c");
}

#[test]
fn header_compiles_alone_as_cxx17() {
    check_header(&tool("CXX", "c++"), "-std=c++17", "c++");
}
