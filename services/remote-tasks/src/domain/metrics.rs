//! Counters and latency windows since start: per category (completed, failed, rejected,
//! run latency), per (category, operation) run latency, and failures by (code, agent code).
//! Latency percentiles are over a sliding window of the most recent [`WINDOW`] samples.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aetherv_hyperv::Operation;
use aetherv_runtime::ErrorCode;

use super::category::{Category, PerCategory};

/// Samples each latency window keeps.
pub const WINDOW: usize = 1024;

/// Percentiles of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Samples in the window.
    pub samples: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest in the window.
    pub max: Duration,
}

/// The most recent samples.
#[derive(Debug, Default)]
struct Window {
    samples: VecDeque<Duration>,
}

impl Window {
    fn record(&mut self, sample: Duration) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    fn latency(&self) -> Latency {
        let mut sorted: Vec<Duration> = self.samples.iter().copied().collect();
        sorted.sort_unstable();
        // Nearest rank: the smallest sample with at least p% of the samples at or below.
        let rank = |p: usize| -> Duration {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let index = (p * sorted.len()).div_ceil(100).max(1) - 1;
            sorted[index.min(sorted.len() - 1)]
        };
        Latency {
            samples: sorted.len() as u64,
            p50: rank(50),
            p90: rank(90),
            p99: rank(99),
            max: sorted.last().copied().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default)]
struct CategoryCounters {
    completed: u64,
    failed: u64,
    rejected: u64,
    latency: Window,
}

#[derive(Debug, Default)]
struct State {
    categories: PerCategory<CategoryCounters>,
    operations: BTreeMap<(Category, Operation), Window>,
    failures: HashMap<(ErrorCode, String), u64>,
}

/// Figures of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryFigures {
    /// Finished since start.
    pub completed: u64,
    /// Finished with a failure since start.
    pub failed: u64,
    /// Refused because a queue was full.
    pub rejected: u64,
    /// Run latency.
    pub latency: Latency,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    /// Per category, in category order.
    pub categories: PerCategory<CategoryFigures>,
    /// Per (category, operation), sorted.
    pub operations: Vec<(Category, Operation, Latency)>,
    /// (code, agent code, count), by count descending, then code.
    pub failures: Vec<(ErrorCode, String, u64)>,
}

/// The counters. Shared by every task.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A task was refused because a queue was full.
    pub fn rejected(&self, category: Category) {
        self.lock().categories.get_mut(category).rejected += 1;
    }

    /// A task finished. `ran` is its run time when it started; `failure` its codes when it
    /// failed.
    pub fn finished(
        &self,
        category: Category,
        operation: Operation,
        ran: Option<Duration>,
        failure: Option<(ErrorCode, &str)>,
    ) {
        let mut state = self.lock();
        let counters = state.categories.get_mut(category);
        counters.completed += 1;
        if failure.is_some() {
            counters.failed += 1;
        }
        if let Some(ran) = ran {
            counters.latency.record(ran);
            state
                .operations
                .entry((category, operation))
                .or_default()
                .record(ran);
        }
        if let Some((code, agent_code)) = failure {
            *state
                .failures
                .entry((code, agent_code.to_string()))
                .or_default() += 1;
        }
    }

    /// The figures now.
    pub fn figures(&self) -> Figures {
        let state = self.lock();
        let category = |counters: &CategoryCounters| CategoryFigures {
            completed: counters.completed,
            failed: counters.failed,
            rejected: counters.rejected,
            latency: counters.latency.latency(),
        };
        let mut failures: Vec<(ErrorCode, String, u64)> = state
            .failures
            .iter()
            .map(|((code, agent), count)| (*code, agent.clone(), *count))
            .collect();
        failures.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        Figures {
            categories: PerCategory(state.categories.0.each_ref().map(category)),
            operations: state
                .operations
                .iter()
                .map(|((category, operation), window)| (*category, *operation, window.latency()))
                .collect(),
            failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_use_nearest_rank_over_the_window() {
        let mut window = Window::default();
        for n in 1..=100 {
            window.record(ms(n));
        }
        let latency = window.latency();
        assert_eq!(latency.samples, 100);
        assert_eq!(latency.p50, ms(50));
        assert_eq!(latency.p90, ms(90));
        assert_eq!(latency.p99, ms(99));
        assert_eq!(latency.max, ms(100));
        for _ in 0..WINDOW {
            window.record(ms(7));
        }
        let latency = window.latency();
        assert_eq!(latency.samples, WINDOW as u64);
        assert_eq!((latency.p50, latency.max), (ms(7), ms(7)));
        assert_eq!(Window::default().latency(), Latency::default());
    }

    #[test]
    fn failures_are_grouped_and_sorted_by_count() {
        let metrics = Metrics::default();
        let op = Operation::VmPower;
        metrics.finished(Category::Control, op, Some(ms(5)), None);
        metrics.finished(
            Category::Control,
            op,
            Some(ms(6)),
            Some((ErrorCode::NotFound, "VM_NOT_FOUND")),
        );
        metrics.finished(
            Category::Control,
            op,
            None,
            Some((ErrorCode::Cancelled, "CANCELLED")),
        );
        metrics.finished(
            Category::Control,
            op,
            None,
            Some((ErrorCode::Cancelled, "CANCELLED")),
        );
        metrics.rejected(Category::Io);
        let figures = metrics.figures();
        let control = figures.categories.get(Category::Control);
        assert_eq!((control.completed, control.failed), (4, 3));
        assert_eq!(control.latency.samples, 2);
        assert_eq!(figures.categories.get(Category::Io).rejected, 1);
        assert_eq!(
            figures.failures,
            vec![
                (ErrorCode::Cancelled, "CANCELLED".to_string(), 2),
                (ErrorCode::NotFound, "VM_NOT_FOUND".to_string(), 1),
            ]
        );
        assert_eq!(figures.operations.len(), 1);
    }
}
