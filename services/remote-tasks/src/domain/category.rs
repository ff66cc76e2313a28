//! The concurrency classes of work ([`Category`]) and the task identity ([`TaskId`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The concurrency class of an operation; each has its own queue, limits and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Read-only collection (`inventory.collect`, `agent.info`, `host.resources`).
    Inventory,
    /// Quick mutations (`vm.power`, `vm.update`, `nic.*`, `noop`).
    Control,
    /// Heavy disk work (image copy, `disk.create`/`resize`): one at a time per host.
    Io,
    /// Agent bundle installation.
    Deploy,
    /// Long-running watches of a host (`inventory.watch`): own per-host limit and
    /// timeout, outside the global and per-host in-flight limits the others share.
    Watch,
}

impl Category {
    /// Every category, in the proto enum's order.
    pub const ALL: [Category; 5] = [
        Category::Inventory,
        Category::Control,
        Category::Io,
        Category::Deploy,
        Category::Watch,
    ];

    /// Position in [`Category::ALL`] (for per-category arrays).
    pub fn index(self) -> usize {
        match self {
            Category::Inventory => 0,
            Category::Control => 1,
            Category::Io => 2,
            Category::Deploy => 3,
            Category::Watch => 4,
        }
    }

    /// The configuration and log name: `inventory`, `control`, `io`, `deploy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Inventory => "inventory",
            Category::Control => "control",
            Category::Io => "io",
            Category::Deploy => "deploy",
            Category::Watch => "watch",
        }
    }

    /// Whether the category counts against the global and per-host in-flight limits (all
    /// but `watch`: a watch runs for minutes on every host and would starve the rest).
    pub fn shares_host_limits(self) -> bool {
        self != Category::Watch
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerCategory<T>(pub [T; 5]);

impl<T> PerCategory<T> {
    /// The value of `category`.
    pub fn get(&self, category: Category) -> &T {
        &self.0[category.index()]
    }

    /// The value of `category`, mutably.
    pub fn get_mut(&mut self, category: Category) -> &mut T {
        &mut self.0[category.index()]
    }
}

/// A task's identity: `task-` and a lower-case UUIDv4.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(String);

/// A task id that does not have the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be \"task-\" followed by a lower-case uuid")]
pub struct TaskIdError;

impl TaskId {
    /// A fresh random id.
    pub fn random() -> TaskId {
        TaskId(format!("task-{}", Uuid::new_v4()))
    }

    /// Checks the shape (`task-<lower-case uuid>`).
    pub fn parse(text: &str) -> Result<TaskId, TaskIdError> {
        let uuid = text.strip_prefix("task-").ok_or(TaskIdError)?;
        let parsed = Uuid::try_parse(uuid).map_err(|_| TaskIdError)?;
        let canonical = parsed.hyphenated().to_string();
        if canonical != uuid {
            return Err(TaskIdError);
        }
        Ok(TaskId(text.to_string()))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_round_trip_and_refuse_other_shapes() {
        let id = TaskId::random();
        assert_eq!(TaskId::parse(id.as_str()), Ok(id.clone()));
        assert!(id.as_str().starts_with("task-"));
        for bad in [
            "",
            "task-",
            "job-0b4d2c1e-0b4d-4e8f-9a51-6c2d7e8f9a01",
            "task-0B4D2C1E-0B4D-4E8F-9A51-6C2D7E8F9A01",
            "task-0b4d2c1e0b4d4e8f9a516c2d7e8f9a01",
            "task-0b4d2c1e-0b4d-4e8f-9a51-6c2d7e8f9a01 ",
        ] {
            assert_eq!(TaskId::parse(bad), Err(TaskIdError), "{bad:?}");
        }
    }

    #[test]
    fn categories_index_in_proto_order() {
        for (index, category) in Category::ALL.iter().enumerate() {
            assert_eq!(category.index(), index);
        }
    }
}
