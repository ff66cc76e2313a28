//! The tasks Cancel can reach: live ones (with their cancellation token and a watch of how
//! they ended) and, for [`RETENTION`] after they end, finished ones (so a late Cancel answers
//! "already finished" rather than "not found").

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::category::TaskId;
use super::task::Ending;

/// How long a finished task stays known to Cancel.
pub const RETENTION: Duration = Duration::from_secs(300);

/// At most this many finished tasks are remembered (the oldest are forgotten first).
pub const MAX_FINISHED: usize = 100_000;

/// What Cancel found.
#[derive(Debug)]
pub enum Lookup {
    /// Still queued or running: its token was cancelled; the watch says how it ends.
    Live(watch::Receiver<Option<Ending>>),
    /// It ended already.
    Finished,
    /// Never existed, or ended longer ago than [`RETENTION`].
    Unknown,
}

struct Live {
    cancel: CancellationToken,
    ended: watch::Receiver<Option<Ending>>,
}

#[derive(Default)]
struct State {
    live: HashMap<TaskId, Live>,
    finished: HashMap<TaskId, Instant>,
    order: VecDeque<(Instant, TaskId)>,
}

impl State {
    fn forget_old(&mut self, now: Instant) {
        while let Some((at, id)) = self.order.front() {
            if now.duration_since(*at) < RETENTION && self.order.len() <= MAX_FINISHED {
                break;
            }
            self.finished.remove(id);
            self.order.pop_front();
        }
    }
}

/// The registry. Shared by the service and every task.
#[derive(Default)]
pub struct Registry {
    state: Mutex<State>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new task; the returned sender reports how it ended.
    pub fn insert(&self, id: TaskId, cancel: CancellationToken) -> watch::Sender<Option<Ending>> {
        let (sender, ended) = watch::channel(None);
        let mut state = self.lock();
        state.forget_old(Instant::now());
        state.live.insert(id, Live { cancel, ended });
        sender
    }

    /// Marks a task finished.
    pub fn finish(&self, id: &TaskId) {
        let now = Instant::now();
        let mut state = self.lock();
        if state.live.remove(id).is_some() {
            state.finished.insert(id.clone(), now);
            state.order.push_back((now, id.clone()));
        }
        state.forget_old(now);
    }

    /// Cancels a live task (its runner stops it) and says what was found.
    pub fn cancel(&self, id: &TaskId) -> Lookup {
        let mut state = self.lock();
        state.forget_old(Instant::now());
        if let Some(live) = state.live.get(id) {
            live.cancel.cancel();
            return Lookup::Live(live.ended.clone());
        }
        if state.finished.contains_key(id) {
            Lookup::Finished
        } else {
            Lookup::Unknown
        }
    }

    /// Cancels every live task (shutdown).
    pub fn cancel_all(&self) {
        for live in self.lock().live.values() {
            live.cancel.cancel();
        }
    }

    /// Live tasks.
    pub fn live(&self) -> usize {
        self.lock().live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn finished_tasks_are_remembered_for_the_retention_only() {
        let registry = Registry::default();
        let id = TaskId::random();
        let token = CancellationToken::new();
        let ended = registry.insert(id.clone(), token.clone());
        let Lookup::Live(mut watch) = registry.cancel(&id) else {
            panic!("a live task was not found");
        };
        assert!(token.is_cancelled());
        ended.send_replace(Some(Ending::Dequeued));
        registry.finish(&id);
        assert_eq!(
            watch.wait_for(Option::is_some).await.ok().map(|e| *e),
            Some(Some(Ending::Dequeued))
        );
        assert!(matches!(registry.cancel(&id), Lookup::Finished));
        tokio::time::advance(RETENTION).await;
        assert!(matches!(registry.cancel(&id), Lookup::Unknown));
        assert!(matches!(
            registry.cancel(&TaskId::random()),
            Lookup::Unknown
        ));
        assert_eq!(registry.live(), 0);
    }
}
