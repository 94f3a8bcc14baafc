//! Random kills: two writer processes (each publishing to two slots of its own, as fast as it can,
//! now and then emptying one) and three reader processes (each reading random slots, checking every version whole, holding
//! up to four pinned versions for a while) run while the parent SIGKILLs one of them at a random
//! moment, over and over. The parent first stops every other process (SIGSTOP), so that it sees
//! what the victim left as it left it; after the kill the writers go on, while the readers stay
//! stopped (their pins hold still) until the parent has audited the segment under the writer lock
//! — recovery, then every check of `super::audit`; then a new process takes the dead one's place.
//! One new writer in four is started with a crash point it passes (`FLOE_CRASH_AT`, at a pass from
//! 1 to 20) and dies there by itself while the others run; that death is audited the same way.
//! Readers check that no version they read is torn or older than one they read before, and exit
//! with an error if one is: a reader that ended by itself fails the run. At the end every process
//! is killed, and recovery must leave no version retired: the space of readers killed while
//! pinning came back.
//!
//! `FLOE_KILLS` sets the number of kills (100 by default; `scripts/kill-stress` runs 1,000), and
//! `FLOE_KILL_SEED` the seed of the random choices (printed first). The last line gives the
//! counts: `kills: writers W readers R; versions V; recoveries C; checks K; failures F` — the
//! writers and readers killed at random; the versions the writers published (a publish cut short
//! by its writer's death is not counted, even when it committed); the audits whose recovery found
//! something to repair (a publish cut short, unreferenced versions, dead readers' entries — the
//! surviving writers repair most deaths before the audit does, and those are not counted); the
//! audits passed, one after each kill and one at the end; the failures (0, or 1 and the test
//! fails). The line before it says how many writers died with a publish unfinished and how many
//! readers died holding pins.

use super::*;
use crate::core::shared::segment::store::read::Pinned;
use std::collections::VecDeque;

const SLOTS: u32 = 4;
const WRITERS: [&[&str]; 2] = [&["0", "1"], &["2", "3"]];
const READERS: usize = 3;

/// xorshift64*: the random choices, reproducible from the seed (the timing is not).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A writer: publishes the next version of one of `slots` after another (now and then empties
/// one instead), until killed. Each version published is a line `published SLOT ID KN` (the
/// parent counts them).
pub(super) fn writer(name: &str, slots: &[u32]) -> Result<(), String> {
    let seg = open(name);
    let mut rng = Rng::new(lock::random_u64());
    loop {
        let slot = slots[rng.below(slots.len() as u64) as usize];
        if rng.below(64) == 0 {
            seg.unpublish(slot).map_err(|e| format!("emptying slot {slot}: {e}"))?;
            continue;
        }
        let kn = slot::current_kn_version(&seg, slot).map(|v| v.wrapping_add(1)).map_err(|e| e.to_string())?;
        match publish(&seg, slot, kn) {
            Ok(id) => println!("published {slot} {id} {kn}"),
            // Readers pin much: wait for them to let go.
            Err(e) if e.status() == Status::ErrLimit => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(format!("publishing version {kn} of slot {slot}: {e}")),
        }
    }
}

/// A reader: reads random slots until killed — in place (pinned, verified, its graph checked,
/// kept pinned a while) or as a heap copy — and fails if a version is torn or goes back.
pub(super) fn reader(name: &str, slots: u32) -> Result<(), String> {
    let text = |e: Error| e.to_string();
    let seg = open(name);
    let mut rng = Rng::new(lock::random_u64());
    let mut last: Vec<(u64, i32)> = vec![(0, i32::MIN); slots as usize];
    let mut held: VecDeque<Pinned> = VecDeque::new();
    let mut keep = 2;
    loop {
        let slot = rng.below(slots as u64) as u32;
        if rng.below(8) == 0 {
            if let Some((kn, root)) = slot::read_copy(&seg, slot).map_err(text)? {
                check_copy(root, slot, kn)?;
                object::release(root).map_err(text)?;
                if kn < last[slot as usize].1 {
                    return Err(format!(
                        "slot {slot} went back from version {} to {kn} (a copy)",
                        last[slot as usize].1
                    ));
                }
            }
        } else if let Some(p) = seg.read(slot).map_err(text)? {
            // SAFETY: pinned until unpinned below (or at the process's death).
            let view = unsafe { BlockView::open(p.base, p.len, Some(p.version_id)) }.map_err(text)?;
            check_block(&view, slot, p.kn_version)
                .map_err(|e| format!("slot {slot}, version id {}: {e}", p.version_id))?;
            let (id, kn) = last[slot as usize];
            if p.version_id < id || p.kn_version < kn {
                return Err(format!(
                    "slot {slot} went back from version id {id} ({kn}) to {} ({})",
                    p.version_id, p.kn_version
                ));
            }
            last[slot as usize] = (p.version_id, p.kn_version);
            held.push_back(p);
        }
        while held.len() > keep {
            seg.unpin(&held.pop_front().unwrap()).map_err(text)?;
        }
        if rng.below(16) == 0 {
            keep = rng.below(5) as usize;
        }
        if rng.below(4) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(2000)));
        }
    }
}

/// Stops (SIGSTOP) each process but `except` and waits until it has stopped; `Err` names one that
/// had ended by itself (but for a writer that died at its crash point, which the next round
/// handles).
fn stop(kids: &mut [Kid], except: Option<usize>) -> Result<(), String> {
    for (k, kid) in kids.iter_mut().enumerate() {
        if Some(k) == except {
            continue;
        }
        if !kid.running() {
            if kid.crash.is_some() && kid.wait(Duration::ZERO).signal() == Some(libc::SIGKILL) {
                continue; // died at its crash point just now: the next round sees to it
            }
            return Err(kid.ended());
        }
        let pid = kid.pid() as libc::pid_t;
        // SAFETY: a signal to our own running child.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut status = 0;
            // SAFETY: asks about our own child without blocking; WUNTRACED reports its stop.
            let rc = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED | libc::WNOHANG) };
            if rc == pid && libc::WIFSTOPPED(status) {
                break;
            }
            if rc == pid {
                kid.reaped = Some(ExitStatus::from_raw(status));
                if kid.crash.is_some() && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL {
                    break; // died at its crash point just now: the next round sees to it
                }
                return Err(kid.ended());
            }
            if Instant::now() > deadline {
                return Err(format!("`{}` did not stop within 10 s of SIGSTOP: {}", kid.what, kid.output()));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    Ok(())
}

fn resume(kids: &[Kid], except: Option<usize>) {
    for (k, kid) in kids.iter().enumerate() {
        if Some(k) == except || kid.reaped.is_some() {
            continue;
        }
        // SAFETY: a signal to our own stopped child.
        unsafe { libc::kill(kid.pid() as libc::pid_t, libc::SIGCONT) };
    }
}

#[derive(Default)]
struct Counts {
    writer_kills: u32,
    reader_kills: u32,
    readers_killed_pinning: u32,
    writers_killed_mid_publish: u32,
    recoveries: u32,
    interrupted_publishes: u32,
    dead_readers_cleared: u32,
    checks: u32,
    pinned_versions_checked: u32,
    stale_pins: u32,
    point_deaths: u32,
    points_met: std::collections::BTreeSet<String>,
}

/// A crash point for a new writer now and then (one in four): one a writer passes, at a pass
/// from 1 to 20, so that it dies there on its own while the others run.
fn writer_crash(rng: &mut Rng) -> Option<String> {
    const WRITERS_PASS: [&str; 8] =
        ["writer.", "publish.", "change.", "reclaim.", "dead_reader.", "recover.", "claim.", "unpublish."];
    if rng.below(4) != 0 {
        return None;
    }
    let points: Vec<&str> =
        crash::POINTS.iter().copied().filter(|p| WRITERS_PASS.iter().any(|w| p.starts_with(w))).collect();
    Some(format!("{}:{}", points[rng.below(points.len() as u64) as usize], 1 + rng.below(20)))
}

#[test]
fn random_kills_of_writers_and_readers() {
    let target: u32 = std::env::var("FLOE_KILLS").map_or(100, |n| n.parse().expect("FLOE_KILLS is a number"));
    let seed: u64 = std::env::var("FLOE_KILL_SEED")
        .map_or_else(|_| lock::random_u64(), |s| s.parse().expect("FLOE_KILL_SEED is a number"));
    println!("random kills: {target} kills, seed {seed} (FLOE_KILL_SEED={seed} repeats the choices, not the timing)");
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let name = Name::new("stress");
    let scratch = Scratch::new("stress");
    let seg = create(&name.0, 1 << 20, SLOTS, 32);
    let start_writer = |w: usize, crash: Option<String>| {
        spawn(&scratch, "writer", &[&[name.0.as_str()][..], WRITERS[w]].concat(), crash.as_deref())
    };
    let start_reader = || spawn(&scratch, "reader", &[name.0.as_str(), &SLOTS.to_string()], None);
    let mut writers: Vec<Kid> = (0..WRITERS.len()).map(|w| start_writer(w, None)).collect();
    let mut readers: Vec<Kid> = (0..READERS).map(|_| start_reader()).collect();
    let mut writer_logs: Vec<PathBuf> = writers.iter().map(|k| k.log.clone()).collect();
    let mut last = vec![0u64; SLOTS as usize];
    let mut counts = Counts::default();

    let mut failure: Option<String> = None;
    while counts.writer_kills + counts.reader_kills < target {
        std::thread::sleep(Duration::from_micros(1000 + rng.below(60_000)));
        // A writer started with a crash point may have died there (by SIGKILL, nothing else):
        // that death is handled as a kill. Any other end is a failure.
        let mut at_point = None;
        for (k, kid) in writers.iter_mut().enumerate() {
            if !kid.running() {
                let signal = kid.wait(Duration::ZERO).signal();
                match (&kid.crash, signal) {
                    (Some(point), Some(libc::SIGKILL)) if at_point.is_none() => {
                        counts.point_deaths += 1;
                        counts.points_met.insert(point.split(':').next().unwrap().to_string());
                        at_point = Some(k);
                    }
                    (Some(_), Some(libc::SIGKILL)) => {}
                    _ => failure = Some(kid.ended()),
                }
            }
        }
        for kid in readers.iter_mut() {
            if !kid.running() {
                failure = Some(kid.ended());
            }
        }
        if failure.is_some() {
            break;
        }
        let writer = at_point.is_some() || rng.below(2) == 0;
        let i = match at_point {
            Some(k) => k,
            None => rng.below(if writer { WRITERS.len() } else { READERS } as u64) as usize,
        };
        let (w_victim, r_victim) = if writer { (Some(i), None) } else { (None, Some(i)) };
        // Every other process stops (SIGSTOP), so that what the victim leaves is seen as it left
        // it; then the victim dies.
        if let Err(e) = stop(&mut writers, w_victim).and_then(|()| stop(&mut readers, r_victim)) {
            failure = Some(e);
            break;
        }
        let victim = if writer { &mut writers[i] } else { &mut readers[i] };
        let pid = victim.pid();
        let mut at_point = at_point;
        if at_point.is_none() && !victim.running() {
            // The writer chosen died at its crash point since the round began.
            let signal = victim.wait(Duration::ZERO).signal();
            match &victim.crash {
                Some(point) if signal == Some(libc::SIGKILL) => {
                    counts.point_deaths += 1;
                    counts.points_met.insert(point.split(':').next().unwrap().to_string());
                    at_point = Some(i);
                }
                _ => {
                    failure = Some(victim.ended());
                    break;
                }
            }
        }
        if at_point.is_none() {
            victim.kill();
        }
        let left = seg.inspect().unwrap();
        if at_point.is_some() {
            // Died by itself, earlier: the others ran since.
        } else if writer {
            counts.writer_kills += 1;
            let unfinished = left.writer.pid == pid && left.writer.in_flight.is_some();
            counts.writers_killed_mid_publish += u32::from(unfinished);
        } else {
            counts.reader_kills += 1;
            let pinning = left.readers.iter().any(|r| r.pid == pid && !r.pins.is_empty());
            counts.readers_killed_pinning += u32::from(pinning);
        }
        // The writers go on (one may hold the writer lock, which the audit takes); the readers
        // stay stopped until the audit is done, so that their pins hold still.
        resume(&writers, w_victim);
        let audited = Some(audit(&seg, &mut last, true));
        resume(&readers, r_victim);
        match audited {
            Some(Ok(a)) => {
                counts.checks += 1;
                counts.recoveries += u32::from(!is_empty(&a.report));
                counts.interrupted_publishes += u32::from(a.report.interrupted.is_some());
                counts.dead_readers_cleared += a.report.dead_readers.len() as u32;
                counts.pinned_versions_checked += a.pinned_versions_checked;
                counts.stale_pins += a.stale_pins;
                if seg.inspect().unwrap().readers.iter().any(|r| r.pid == pid) {
                    failure = Some(format!("the entry of killed process {pid} is still there after recovery"));
                }
            }
            Some(Err(e)) => failure = Some(format!("after kill {}: {e}", counts.writer_kills + counts.reader_kills)),
            None => {}
        }
        if failure.is_some() {
            break;
        }
        if writer {
            writers[i] = start_writer(i, writer_crash(&mut rng));
            writer_logs.push(writers[i].log.clone());
        } else {
            readers[i] = start_reader();
        }
    }

    // The end: every process killed; nothing may stay retired, nothing leaks.
    for kid in writers.iter_mut().chain(readers.iter_mut()) {
        if kid.running() {
            // SAFETY: a signal to our own running child.
            unsafe { libc::kill(kid.pid() as libc::pid_t, libc::SIGKILL) };
        }
        kid.wait(Duration::from_secs(10));
    }
    if failure.is_none() {
        match audit(&seg, &mut last, false) {
            Ok(a) if a.retired_pages == 0 && a.pinned_versions_checked == 0 => {
                let referenced: u32 = a.slots.iter().filter(|s| s.version.is_some()).count() as u32;
                assert!(referenced > 0 && a.free_pages + a.live_pages == seg.layout.page_count, "{a:?}");
                counts.checks += 1;
            }
            Ok(a) => {
                failure =
                    Some(format!("with every process dead, recovery left {} pages retired: {a:?}", a.retired_pages))
            }
            Err(e) => failure = Some(format!("the final audit: {e}")),
        }
    }
    let versions: usize = writer_logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| l.contains("published ")).count()
        })
        .sum();
    let c = &counts;
    println!(
        "random kills: {} kills in {:.1?}; {} writers killed with a publish unfinished, {} readers killed while pinning \
         versions; {} more writers died at crash points ({} different points); the parent's recoveries found {} \
         interrupted publishes and {} dead readers; {} pinned versions checked whole, {} stale pins of stopped readers",
        c.writer_kills + c.reader_kills,
        started.elapsed(),
        c.writers_killed_mid_publish,
        c.readers_killed_pinning,
        c.point_deaths,
        c.points_met.len(),
        c.interrupted_publishes,
        c.dead_readers_cleared,
        c.pinned_versions_checked,
        c.stale_pins
    );
    println!(
        "kills: writers {} readers {}; versions {versions}; recoveries {}; checks {}; failures {}",
        c.writer_kills,
        c.reader_kills,
        c.recoveries,
        c.checks,
        u32::from(failure.is_some())
    );
    if let Some(f) = failure {
        panic!("{f}");
    }
}
