//! Simulated time. The model measures everything (transitions, uptime, copy times) on a
//! simulated clock so that one factor shortens every duration: with `--time-scale 0.1`
//! simulated time runs ten times faster than real time. Tests that want explicit steps use
//! a manual clock that only moves when told ([`SimClock::advance`]).

use std::ops::Add;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// A point on the simulated clock: milliseconds since the fleet started (negative for
/// things that happened before, such as a generated VM's last boot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimInstant(i64);

impl SimInstant {
    /// The moment the fleet started.
    pub const ZERO: SimInstant = SimInstant(0);

    /// The instant `ms` milliseconds after the start (before it when negative).
    pub fn from_millis(ms: i64) -> SimInstant {
        SimInstant(ms)
    }

    /// Milliseconds since the start.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Time from `earlier` to `self`; zero when `earlier` is later.
    pub fn saturating_since(self, earlier: SimInstant) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// The instant `d` before this one.
    pub fn minus(self, d: Duration) -> SimInstant {
        SimInstant(self.0.saturating_sub(duration_ms(d)))
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Add<Duration> for SimInstant {
    type Output = SimInstant;
    fn add(self, d: Duration) -> SimInstant {
        SimInstant(self.0.saturating_add(duration_ms(d)))
    }
}

/// A time scale outside the accepted range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("time_scale must be a number above 0 and at most 100, got {0}")]
pub struct InvalidTimeScale(pub f64);

#[derive(Debug)]
enum Kind {
    Scaled { start: Instant, scale: f64 },
    Manual { now: watch::Sender<i64> },
}

/// The fleet's clock.
#[derive(Debug)]
pub struct SimClock {
    kind: Kind,
}

impl SimClock {
    /// A clock running `1 / scale` times as fast as real time (scale 0.1: a simulated
    /// 10-second start takes one real second). Starts now.
    pub fn scaled(scale: f64) -> Result<SimClock, InvalidTimeScale> {
        if !scale.is_finite() || scale <= 0.0 || scale > 100.0 {
            return Err(InvalidTimeScale(scale));
        }
        Ok(SimClock {
            kind: Kind::Scaled {
                start: Instant::now(),
                scale,
            },
        })
    }

    /// A clock that stands still until [`SimClock::advance`] moves it.
    pub fn manual() -> SimClock {
        SimClock {
            kind: Kind::Manual {
                now: watch::Sender::new(0),
            },
        }
    }

    /// The scale factor, or None for a manual clock.
    pub fn scale(&self) -> Option<f64> {
        match &self.kind {
            Kind::Scaled { scale, .. } => Some(*scale),
            Kind::Manual { .. } => None,
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> SimInstant {
        match &self.kind {
            Kind::Scaled { start, scale } => {
                let ms = start.elapsed().as_secs_f64() / scale * 1000.0;
                SimInstant(ms as i64)
            }
            Kind::Manual { now } => SimInstant(*now.borrow()),
        }
    }

    /// Moves a manual clock forward by `d` (waking everything waiting up to then).
    /// Returns false, and does nothing, on a scaled clock.
    pub fn advance(&self, d: Duration) -> bool {
        match &self.kind {
            Kind::Scaled { .. } => false,
            Kind::Manual { now } => {
                now.send_modify(|n| *n = n.saturating_add(duration_ms(d)));
                true
            }
        }
    }

    /// The real time a simulated duration takes (zero on a manual clock).
    pub fn real(&self, d: Duration) -> Duration {
        match &self.kind {
            Kind::Scaled { scale, .. } => d.mul_f64(*scale),
            Kind::Manual { .. } => Duration::ZERO,
        }
    }

    /// Waits until the simulated time is at least `t`.
    pub async fn sleep_until(&self, t: SimInstant) {
        match &self.kind {
            Kind::Scaled { start, scale } => loop {
                if self.now() >= t {
                    return;
                }
                let target_secs = (t.0 as f64 / 1000.0) * scale;
                let target = if target_secs <= 0.0 {
                    *start
                } else {
                    *start + Duration::from_secs_f64(target_secs)
                };
                tokio::time::sleep_until(target.max(Instant::now()) + Duration::from_micros(200))
                    .await;
            },
            Kind::Manual { now } => {
                let mut rx = now.subscribe();
                // The sender lives as long as the clock, which outlives this borrow.
                let _ = rx.wait_for(|n| *n >= t.0).await;
            }
        }
    }

    /// Waits for a simulated duration.
    pub async fn sleep(&self, d: Duration) {
        self.sleep_until(self.now() + d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_validated() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 101.0] {
            assert!(SimClock::scaled(bad).is_err(), "{bad} accepted");
        }
        assert!(SimClock::scaled(0.001).is_ok());
    }

    #[test]
    fn instants_add_and_subtract() {
        let t = SimInstant::from_millis(1500);
        assert_eq!((t + Duration::from_secs(2)).millis(), 3500);
        assert_eq!(t.minus(Duration::from_secs(2)).millis(), -500);
        assert_eq!(
            t.saturating_since(SimInstant::ZERO),
            Duration::from_millis(1500)
        );
        assert_eq!(SimInstant::ZERO.saturating_since(t), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_manual_clock_moves_only_when_advanced() {
        let clock = std::sync::Arc::new(SimClock::manual());
        assert_eq!(clock.now(), SimInstant::ZERO);
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert!(clock.advance(Duration::from_secs(4)));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.advance(Duration::from_secs(1));
        assert!(waiter.await.is_ok());
        assert_eq!(clock.now().millis(), 5000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_scaled_clock_runs_faster_than_real_time() {
        let clock = SimClock::scaled(0.1).expect("valid scale");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(clock.now().millis() >= 10_000);
        let before = Instant::now();
        clock.sleep(Duration::from_secs(20)).await;
        assert!(before.elapsed() >= Duration::from_secs(2));
        assert!(!clock.advance(Duration::from_secs(1)));
    }
}
