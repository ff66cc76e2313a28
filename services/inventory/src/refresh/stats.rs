//! How the schedule keeps up: recent host refresh durations, and the facts of the last
//! complete cycle.

use std::collections::VecDeque;
use std::time::Duration;

/// Host refresh durations kept for the average.
const SAMPLES: usize = 256;

/// The facts of one complete cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleReport {
    /// From the cycle's start to its last refresh's end.
    pub duration: Duration,
    /// Some host's refresh ended after the host was due again (its slot plus the
    /// interval): the schedule cannot keep up.
    pub overrun: bool,
    /// Longest wait of a refresh between its slot and its start (for a free slot of the
    /// concurrency limit, or a refresh of the host still running).
    pub max_start_delay: Duration,
    /// Hosts in the cycle.
    pub hosts: usize,
}

/// What the refresh status shows.
#[derive(Debug, Clone, Default)]
pub struct RefreshStats {
    samples: VecDeque<Duration>,
    /// The last complete cycle.
    pub last_cycle: Option<CycleReport>,
    /// Complete cycles since start.
    pub cycles_completed: u64,
    /// True once the host list has been read from remote-tasks.
    pub fleet_listed: bool,
}

impl RefreshStats {
    /// Records one host refresh.
    pub fn record_refresh(&mut self, took: Duration) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(took);
    }

    /// Records a complete cycle.
    pub fn record_cycle(&mut self, report: CycleReport) {
        self.last_cycle = Some(report);
        self.cycles_completed += 1;
    }

    /// Mean of the recent host refreshes; zero before the first.
    pub fn average_refresh(&self) -> Duration {
        let count = self.samples.len() as u32;
        if count == 0 {
            return Duration::ZERO;
        }
        self.samples.iter().sum::<Duration>() / count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_covers_the_recent_samples_only() {
        let mut stats = RefreshStats::default();
        assert_eq!(stats.average_refresh(), Duration::ZERO);
        for _ in 0..SAMPLES {
            stats.record_refresh(Duration::from_secs(10));
        }
        stats.record_refresh(Duration::from_secs(10 + SAMPLES as u64));
        assert_eq!(stats.average_refresh(), Duration::from_secs(11));
    }
}
