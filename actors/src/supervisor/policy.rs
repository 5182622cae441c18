//! The restart policy (ractor 0.16 has none built in): restart a failed child after a jittered
//! backoff that grows with recent restarts, and escalate (give up, so the process exits non-zero
//! and systemd restarts it) once more than `limit` restarts happened within `window`. Pure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How often and how fast failed children are restarted before the supervisor gives up.
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    /// Most restarts allowed within `window`.
    pub limit: u32,
    /// The sliding window over which restarts are counted.
    pub window: Duration,
    /// Delay before the first restart of a window; doubles with each recent restart.
    pub min_backoff: Duration,
    /// Cap of the restart delay (before jitter, which takes it down to half at most).
    pub max_backoff: Duration,
}

/// What to do about one failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Restart after this delay.
    Restart(Duration),
    /// Too many restarts: give up and escalate.
    Escalate {
        /// Restarts already counted in the window.
        restarts: usize,
    },
}

/// Restart history across all children of a supervisor.
#[derive(Debug, Clone)]
pub struct RestartTracker {
    policy: RestartPolicy,
    history: VecDeque<Instant>,
}

impl RestartTracker {
    /// A tracker with no restart recorded yet.
    pub fn new(policy: RestartPolicy) -> Self {
        Self { policy, history: VecDeque::new() }
    }

    /// Records a failure at `now`; `unit` is a random draw in [0, 1) for the jitter.
    pub fn on_failure(&mut self, now: Instant, unit: f64) -> Decision {
        while self.history.front().is_some_and(|t| now.duration_since(*t) > self.policy.window) {
            self.history.pop_front();
        }
        if self.history.len() >= self.policy.limit as usize {
            return Decision::Escalate { restarts: self.history.len() };
        }
        let recent = self.history.len() as u32;
        self.history.push_back(now);
        let base = self.policy.min_backoff.saturating_mul(1u32 << recent.min(16)).min(self.policy.max_backoff);
        Decision::Restart(base.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0)))
    }

    /// Restarts counted in the current window.
    pub fn recent(&self) -> usize {
        self.history.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            limit: 3,
            window: Duration::from_secs(10),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }

    #[test]
    fn restarts_then_escalates_within_window() {
        let mut t = RestartTracker::new(policy());
        let t0 = Instant::now();
        assert_eq!(t.on_failure(t0, 1.0), Decision::Restart(Duration::from_millis(100)));
        assert_eq!(t.on_failure(t0, 1.0), Decision::Restart(Duration::from_millis(200)));
        assert_eq!(t.on_failure(t0, 0.0), Decision::Restart(Duration::from_millis(200)));
        assert_eq!(t.on_failure(t0, 1.0), Decision::Escalate { restarts: 3 });
    }

    #[test]
    fn window_forgets_old_failures() {
        let mut t = RestartTracker::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(matches!(t.on_failure(t0, 0.5), Decision::Restart(_)));
        }
        let later = t0 + Duration::from_secs(11);
        assert_eq!(t.on_failure(later, 1.0), Decision::Restart(Duration::from_millis(100)));
        assert_eq!(t.recent(), 1);
    }
}
