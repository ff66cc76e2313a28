//! Measuring: resident memory, wall-clock microseconds, a shared latency histogram and the
//! per-run state every client writes its receipts into.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A log-linear histogram of microseconds (64 buckets per power of two, ≤ 1.6 % error),
/// shared by every client through atomic counters so it costs no memory per client.
pub struct Histogram {
    pub buckets: Vec<AtomicU64>,
    pub max: AtomicU64,
}

const SUB: u32 = 64;

fn bucket(micros: u64) -> usize {
    if micros < u64::from(SUB) {
        return micros as usize;
    }
    let octave = 63 - micros.leading_zeros(); // ≥ 6
    let within = (micros >> (octave - 6)) & u64::from(SUB - 1);
    (SUB + (octave - 6) * SUB) as usize + within as usize
}

/// The middle of a bucket's range.
fn bucket_value(index: usize) -> u64 {
    let sub = SUB as usize;
    if index < sub {
        return index as u64;
    }
    let octave = (index - sub) / sub + 6;
    let within = ((index - sub) % sub) as u64;
    let low = (u64::from(SUB) + within) << (octave - 6);
    low + ((1u64 << (octave - 6)) / 2)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            buckets: (0..(SUB as usize) * 60)
                .map(|_| AtomicU64::new(0))
                .collect(),
            max: AtomicU64::new(0),
        }
    }

    pub fn record(&self, micros: u64) {
        if let Some(slot) = self.buckets.get(bucket(micros)) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// (p50, p99, max) in milliseconds.
    pub fn summary(&self) -> (f64, f64, f64) {
        let total = self.count();
        let pick = |q: f64| {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (index, slot) in self.buckets.iter().enumerate() {
                seen += slot.load(Ordering::Relaxed);
                if seen >= rank {
                    return bucket_value(index) as f64 / 1000.0;
                }
            }
            0.0
        };
        let max = self.max.load(Ordering::Relaxed) as f64 / 1000.0;
        (pick(0.50), pick(0.99).min(max), max)
    }
}

/// What one run's clients share.
pub struct Shared {
    /// Event ids above this one belong to the run.
    pub base: u64,
    /// Per event (id − base − 1): when the first client received it (µs since the epoch).
    pub first: Vec<AtomicU64>,
    /// Per event: its creation time as the jobs service stamped it (µs since the epoch).
    pub created: Vec<AtomicU64>,
    /// Jobs every client waits to see finish.
    pub expected: AtomicUsize,
    pub spread: Histogram,
    pub from_created: Histogram,
    pub outside: AtomicU64,
}

impl Shared {
    pub fn slot(&self, event_id: u64) -> Option<usize> {
        let index = event_id.checked_sub(self.base + 1)? as usize;
        (index < self.first.len()).then_some(index)
    }
}

pub fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * q).round().max(0.0) as usize;
    sorted
        .get(index.min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// CPU seconds (user + system) this process's threads have used so far, by thread name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// The simulated hosts' runtime (`hosts`).
    pub hosts: f64,
    /// The services' and the gateway's runtime (`suite`).
    pub suite: f64,
    /// The load generator's runtime (`load`): WebSocket clients, REST submitters.
    pub load: f64,
    /// Every other thread.
    pub other: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;

    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            hosts: self.hosts - earlier.hosts,
            suite: self.suite - earlier.suite,
            load: self.load - earlier.load,
            other: self.other - earlier.other,
        }
    }
}

/// The CPU time so far of each group of threads.
pub fn cpu_seconds() -> Cpu {
    let per_second = rustix::param::clock_ticks_per_second().max(1) as f64;
    let mut split = Cpu::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return split;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `tid (comm) state ppid …`: utime and stime are the 12th and 13th fields after
        // the closing parenthesis (comm may hold spaces or parentheses).
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        let seconds = ticks as f64 / per_second;
        if comm.starts_with("hosts") {
            split.hosts += seconds;
        } else if comm.starts_with("suite") {
            split.suite += seconds;
        } else if comm.starts_with("load") {
            split.load += seconds;
        } else {
            split.other += seconds;
        }
    }
    split
}
