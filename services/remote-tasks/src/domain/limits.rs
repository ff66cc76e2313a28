//! The limits in force ([`Limits`]): how many operations may run at once globally, per
//! host, per category and per host within a category; how many may wait; how long they
//! may run. Built from the validated configuration; read by the scheduler and Metrics.

use std::time::Duration;

use super::category::{Category, PerCategory};

/// Limits of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryLimit {
    /// Operations of the category running at once, all hosts.
    pub in_flight: u32,
    /// Operations of the category running at once on one host (1 for io by default).
    pub per_host_in_flight: u32,
    /// Waiting tasks of the category beyond which Run is refused.
    pub queue_capacity: u32,
    /// The run timeout when a request names none.
    pub default_timeout: Duration,
    /// The longest run timeout a request may ask for.
    pub max_timeout: Duration,
}

/// Every limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations running at once across all hosts and categories.
    pub global_in_flight: u32,
    /// Operations running at once on one host, all categories.
    pub per_host_in_flight: u32,
    /// Tasks waiting for one host, all categories, beyond which Run is refused (so one
    /// host's backlog cannot fill a category's queue for everyone).
    pub per_host_queue_capacity: u32,
    /// Per category.
    pub categories: PerCategory<CategoryLimit>,
}

impl Limits {
    /// The limits of `category`.
    pub fn category(&self, category: Category) -> &CategoryLimit {
        self.categories.get(category)
    }

    /// The run timeout for a request in `category` that asked for `requested` (zero or
    /// absent: the category's default); `Err` with the maximum when it asks for more.
    pub fn run_timeout(
        &self,
        category: Category,
        requested: Option<Duration>,
    ) -> Result<Duration, Duration> {
        let limit = self.category(category);
        match requested {
            None => Ok(limit.default_timeout),
            Some(requested) if requested.is_zero() => Ok(limit.default_timeout),
            Some(requested) if requested > limit.max_timeout => Err(limit.max_timeout),
            Some(requested) => Ok(requested),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        let category = CategoryLimit {
            in_flight: 2,
            per_host_in_flight: 1,
            queue_capacity: 4,
            default_timeout: Duration::from_secs(60),
            max_timeout: Duration::from_secs(300),
        };
        Limits {
            global_in_flight: 4,
            per_host_in_flight: 2,
            per_host_queue_capacity: 8,
            categories: PerCategory([category; 5]),
        }
    }

    #[test]
    fn run_timeout_defaults_and_caps() {
        let limits = limits();
        let io = Category::Io;
        assert_eq!(limits.run_timeout(io, None), Ok(Duration::from_secs(60)));
        assert_eq!(
            limits.run_timeout(io, Some(Duration::ZERO)),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            limits.run_timeout(io, Some(Duration::from_secs(5))),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            limits.run_timeout(io, Some(Duration::from_secs(300))),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            limits.run_timeout(io, Some(Duration::from_secs(301))),
            Err(Duration::from_secs(300))
        );
    }
}
