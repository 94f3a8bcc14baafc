//! Timing, the statistics the report gives (best, median, paired ratios), and pinning threads to
//! CPUs.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Rounds of samples in every comparison whose contenders take turns (workers, SharedData).
pub const ROUNDS: usize = 7;

/// `ROUNDS` samples of each contender, taken in turns: each round samples every contender once, in
/// order. This VM's speed drifts by 2.5× from one second to the next (crossbeam's ping-pong takes
/// 130 ns in some runs, 330 in others), so contenders sampled one after the other in a round meet
/// the same machine, where a block of one contender's samples and then a block of the next's may not.
pub fn interleaved(contenders: &mut [&mut dyn FnMut() -> f64]) -> Vec<Vec<f64>> {
    interleaved_rounds(ROUNDS, contenders)
}

/// `interleaved` with `rounds` rounds, for contenders too slow for `ROUNDS`.
pub fn interleaved_rounds(rounds: usize, contenders: &mut [&mut dyn FnMut() -> f64]) -> Vec<Vec<f64>> {
    let mut samples = vec![Vec::with_capacity(rounds); contenders.len()];
    for _ in 0..rounds {
        for (contender, samples) in contenders.iter_mut().zip(&mut samples) {
            samples.push(contender());
        }
    }
    samples
}

/// The ratio of the best (smallest) samples to the baseline's, and the median, over rounds, of
/// `samples[r] / baseline[r]`.
pub fn ratios(samples: &[f64], baseline: &[f64]) -> (f64, f64) {
    let best = |samples: &[f64]| samples.iter().copied().fold(f64::INFINITY, f64::min);
    let mut paired: Vec<f64> = samples.iter().zip(baseline).map(|(s, b)| s / b).collect();
    paired.sort_by(f64::total_cmp);
    (best(samples) / best(baseline), paired[paired.len() / 2])
}

/// ns per call of `calls` calls of `call`.
pub fn per_call<R>(calls: u32, mut call: impl FnMut(u32) -> R) -> f64 {
    let ((), elapsed) = timed(|| (0..calls).for_each(|i| drop(black_box(call(i)))));
    elapsed.as_nanos() as f64 / f64::from(calls)
}

/// Runs `f` once; its result and how long it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let result = black_box(f());
    (result, start.elapsed())
}

/// The best and the median of a set of samples.
#[derive(Clone, Copy)]
pub struct Summary {
    pub best: f64,
    pub median: f64,
}

impl Summary {
    pub fn of(samples: &mut [f64]) -> Summary {
        samples.sort_by(f64::total_cmp);
        Summary { best: samples[0], median: samples[samples.len() / 2] }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ({:.2})", self.best, self.median)
    }
}

/// Pins the calling thread to one CPU, or with `None` lets it run on any (Linux; elsewhere a
/// no-op). The worker benchmarks pin both threads, so that the placement is known: whether the
/// other thread runs on another CPU changes a round trip's cost tenfold or more.
pub fn pin_current_thread(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes within it; sched_setaffinity
        // reads `size_of::<cpu_set_t>()` bytes of it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let cpus = cpu.map_or(0..cpu_count(), |cpu| cpu..cpu + 1);
            cpus.for_each(|cpu| libc::CPU_SET(cpu, &mut set));
            let status = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            assert_eq!(status, 0, "sched_setaffinity to {cpu:?}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// The number of CPUs online (not the calling thread's affinity mask, which pinning narrows).
pub fn cpu_count() -> usize {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).unwrap_or(1).max(1)
}
