//! `floe demo`: builds a graph, freezes it, reads it from another thread and from another process
//! (through a segment), and shows one diagnostic of each kind — what a host meets when it breaks
//! the rules.

use floe::{Error, Kind, Object, ObjectType, Result, Runtime, Segment};
use std::process::{Command, Stdio};

/// The hidden argument that makes `floe demo` the second process of step 8.
pub const READ_SEGMENT: &str = "--read-segment";

pub const USAGE: &str = "\
usage: floe demo

Builds a graph on the main thread, freezes it and reads it from another thread, and shows one
diagnostic of each kind on the way: a mutable object touched by another thread, a write to a
frozen object (the message names the freeze), a freeze blocked by an object marked never-frozen,
a handle used after its release and released twice. Then publishes the frozen graph to a segment
(shared memory) and runs a second floe process that attaches it and prints what it read; the
segment is removed at the end. Exits 0 when nothing leaked, else 1.
";

fn show(what: &str, result: Result<impl std::fmt::Debug>) {
    match result {
        Ok(value) => println!("  {what}: unexpectedly succeeded ({value:?})"),
        Err(error) => println!("  {what}:\n    {error}"),
    }
}

fn tour() -> std::result::Result<(), Error> {
    Runtime::init()?;
    println!("floe demo — objects are owned by one thread, or frozen and shared\n");

    let scope_type = ObjectType::define("Scope", &[("name", Kind::String), ("job", Kind::Ref)])?;
    let job_type = ObjectType::define("Job", &[("state", Kind::String), ("children", Kind::Ref)])?;
    let (name, job_field) = (scope_type.field("name")?, scope_type.field("job")?);
    let (state, children_field) = (job_type.field("state")?, job_type.field("children")?);

    println!("1. Build a graph on the main thread: Scope → Job → children[0..4]");
    let scope = Object::new(scope_type)?;
    scope.set_string(name, "io")?;
    let job = Object::new(job_type)?;
    job.set_string(state, "active")?;
    scope.set_ref(job_field, Some(&job))?;
    let children = Object::new_list()?;
    job.set_ref(children_field, Some(&children))?;
    for i in 0..4 {
        let child = Object::new(job_type)?;
        child.set_string(state, &format!("child {i}"))?;
        children.push_ref(Some(&child))?;
    }
    println!("   {} objects reachable from Scope#{}", scope.reachable_count()?, scope.id()?);

    println!("\n2. A worker thread may not touch it while it is mutable:");
    let scope_handle = scope.handle();
    let job_handle = job.handle();
    std::thread::Builder::new()
        .name("worker-1".into())
        .spawn(move || {
            let scope = Object::borrowed(scope_handle);
            show("worker-1 reads Scope.name", scope.get_string(name));
        })
        .expect("spawn")
        .join()
        .expect("join");

    println!("\n3. Freeze it (label \"launch\"): deep, one way, O(N)");
    scope.freeze(Some("launch"))?;
    println!("   frozen: scope={} job={} children={}", scope.is_frozen()?, job.is_frozen()?, children.is_frozen()?);

    println!("\n4. Now any thread can read it:");
    let shared = scope.try_clone()?;
    std::thread::Builder::new()
        .name("worker-1".into())
        .spawn(move || -> Result<()> {
            let job = shared.get_ref(job_field)?.expect("a job");
            let children = job.get_ref(children_field)?.expect("children");
            let last = children.get_ref(3)?.expect("child 3");
            println!(
                "   worker-1 read Scope.name={:?}, Job.state={:?}, children[3].state={:?}",
                shared.get_string(name)?,
                job.get_string(state)?,
                last.get_string(state)?
            );
            Ok(())
        })
        .expect("spawn")
        .join()
        .expect("join")?;

    println!("\n5. But nobody can change it — and the error says who froze it:");
    let job_again = Object::borrowed(job_handle);
    show("main sets Job.state", job_again.set_string(state, "done"));

    println!("\n6. A freeze that reaches a never-frozen object freezes nothing:");
    let cache = Object::new(scope_type)?;
    let connection = Object::new(job_type)?;
    connection.ensure_never_frozen()?;
    cache.set_ref(job_field, Some(&connection))?;
    show("freeze a second Scope that holds a connection", cache.freeze(Some("cache")));
    println!("   cache still mutable: {}", !cache.is_frozen()?);

    println!("\n7. Handles are checked, never trusted:");
    let temporary = Object::new_list()?;
    let stale = temporary.handle();
    temporary.release()?;
    show("use after release", Object::borrowed(stale).len());
    show("second release", Object::from_raw(stale).release());
    show("made-up handle", Object::borrowed(0x1234_5678_9abc_def0).len());
    show("wrong kind", scope.get_int(name));

    println!("\n8. Another process can read it too: published to a segment, attached by a second floe process");
    another_process_reads(&scope)?;

    drop((scope, job, children, cache, connection));
    Runtime::collect_cycles();
    let stats = Runtime::stats();
    println!("\n9. Everything released: {} live objects, {} live handles", stats.live_objects, stats.live_handles);
    Ok(())
}

/// The segment's name, unlinked when this goes, on every path out of the step.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Err(error) = Segment::unlink(&self.0) {
            eprintln!("floe demo: removing segment {}: {error}", self.0);
        }
    }
}

/// Step 8: publishes the frozen graph of `scope` to slot 0 of a new segment and runs this program
/// again (`floe demo --read-segment NAME`), which attaches the segment and prints what it read.
fn another_process_reads(scope: &Object) -> Result<()> {
    let name = Unlink(format!("demo-{}", std::process::id()));
    let segment = Segment::create(&name.0, 1 << 20, 1, 4)?;
    segment.publish(0, scope)?;
    println!(
        "   main published Scope#{}'s graph ({} objects) to slot 0 of segment /floe.{}",
        scope.id()?,
        scope.reachable_count()?,
        name.0
    );
    let output = std::env::current_exe()
        .and_then(|floe| Command::new(floe).args(["demo", READ_SEGMENT, &name.0]).stderr(Stdio::inherit()).output())
        .map_err(|e| Error::host(format!("running a second floe process: {e}")))?;
    if !output.status.success() {
        return Err(Error::host(format!("the second floe process failed ({})", output.status)));
    }
    print!("{}", String::from_utf8_lossy(&output.stdout));
    Ok(())
}

/// Attaches the slot's current graph: its objects are read in place, from the segment's bytes.
fn read(segment: &Segment, slot: u32) -> Result<Option<(i32, Object)>> {
    segment.read(slot)
}

/// The second process of step 8: opens the segment `name`, reads the graph in slot 0 — its types
/// come with it, found here by name — and prints what it read. Exits 0 when nothing leaked.
pub fn read_segment(name: &str) -> i32 {
    let attach = || -> Result<()> {
        Runtime::init()?;
        let segment = Segment::open(name)?;
        let Some((version, scope)) = read(&segment, 0)? else {
            return Err(Error::host(format!("slot 0 of segment {name} is empty")));
        };
        let scope_type = scope.object_type()?;
        let missing = |what: &str| Error::host(format!("version {version} has no {what}"));
        let job = scope.get_ref(scope_type.field("job")?)?.ok_or_else(|| missing("Scope.job"))?;
        let job_type = job.object_type()?;
        let (state, children_field) = (job_type.field("state")?, job_type.field("children")?);
        let children = job.get_ref(children_field)?.ok_or_else(|| missing("Job.children"))?;
        let last = children.get_ref(3)?.ok_or_else(|| missing("children[3]"))?;
        println!(
            "   process {} read version {version}: Scope.name={:?}, Job.state={:?}, children[3].state={:?}; frozen: {}",
            std::process::id(),
            scope.get_string(scope_type.field("name")?)?,
            job.get_string(state)?,
            last.get_string(state)?,
            scope.is_frozen()?
        );
        Ok(())
    };
    match attach() {
        Ok(()) if Runtime::stats() == floe::Stats::default() => 0,
        Ok(()) => {
            eprintln!("floe demo --read-segment: something leaked: {:?}", Runtime::stats());
            1
        }
        Err(error) => {
            eprintln!("floe demo --read-segment {name}: {error}");
            1
        }
    }
}

pub fn run() -> i32 {
    match tour() {
        Ok(()) if Runtime::stats() == floe::Stats::default() => 0,
        Ok(()) => {
            eprintln!("floe demo: something leaked: {:?}", Runtime::stats());
            1
        }
        Err(error) => {
            eprintln!("floe demo failed: {error}");
            1
        }
    }
}
