//! Waiting for a condition with a bound. The bound is a limit on how long a test waits,
//! never a timing assertion: a loaded machine only makes it wait longer.

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// How often a condition is checked.
pub const POLL: Duration = Duration::from_millis(50);

/// Checks `check` every 50 ms until it gives `Ok(Outcome::Done(value))`; an `Err` ends the wait at
/// once. After `limit`, [`Error::Timeout`] naming `what` and the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Outcome<T>, Error>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let last = match check().await? {
            Outcome::Done(value) => return Ok(value),
            Outcome::NotYet(seen) => seen,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                limit,
                last,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One check's result.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The condition holds.
    Done(T),
    /// Not yet; what was seen instead.
    NotYet(String),
}
