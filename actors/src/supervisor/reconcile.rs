//! The channel supervisor's decisions (pure). `reconcile` compares the channels it has (each
//! running, or waiting for a restart after a failure) with the desired set and says which to
//! start, which to stop (a hand-over: stop reading, make what was read durable, close the
//! coverage span) and which pending restarts to forget. `ChannelRestarts` is the per-channel
//! restart budget: each channel has its own history, so one failing channel never spends
//! another's budget, nor the pipeline's; past its budget a channel is not given up on (that
//! would need an operator for what may be a transient fault) but waits the longer `penalty`
//! before its next start, and the process goes on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::policy::{Decision, RestartPolicy, RestartTracker};

/// What the supervisor has for one channel name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// An actor runs for it.
    Running,
    /// Its actor failed; a restart is scheduled.
    Waiting,
}

/// What to change so that what runs matches the desired set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Desired and not there: start an actor.
    pub start: Vec<String>,
    /// Running and no longer desired: hand over and stop.
    pub stop: Vec<String>,
    /// Waiting for a restart and no longer desired: cancel the restart.
    pub forget: Vec<String>,
}

impl Plan {
    /// True when nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.stop.is_empty() && self.forget.is_empty()
    }
}

/// Running set x desired set -> starts, stops, forgotten restarts (each sorted by name).
pub fn reconcile(have: &BTreeMap<String, Slot>, desired: &BTreeSet<String>) -> Plan {
    let mut plan =
        Plan { start: desired.iter().filter(|n| !have.contains_key(*n)).cloned().collect(), ..Plan::default() };
    for (name, slot) in have {
        if !desired.contains(name) {
            match slot {
                Slot::Running => plan.stop.push(name.clone()),
                Slot::Waiting => plan.forget.push(name.clone()),
            }
        }
    }
    plan
}

/// The channel actors' restart policy.
#[derive(Debug, Clone)]
pub struct ChannelRestartPolicy {
    /// Per channel: restarts allowed within the window, and their backoff.
    pub restart: RestartPolicy,
    /// The wait before the next start of a channel past its budget.
    pub penalty: Duration,
}

/// When a failed channel actor starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelDecision {
    /// Within its budget: after this backoff.
    Restart(Duration),
    /// Past its budget (`restarts` within the window): after the penalty (jittered).
    Penalty {
        /// The penalty, jittered down by up to a quarter.
        after: Duration,
        /// Restarts counted within the window.
        restarts: usize,
    },
}

impl ChannelDecision {
    /// How long to wait before the next start, whichever the decision.
    pub fn delay(self) -> Duration {
        match self {
            ChannelDecision::Restart(d) | ChannelDecision::Penalty { after: d, .. } => d,
        }
    }
}

/// Restart histories, one per channel name.
#[derive(Debug, Clone)]
pub struct ChannelRestarts {
    policy: ChannelRestartPolicy,
    trackers: HashMap<String, RestartTracker>,
}

impl ChannelRestarts {
    /// No history yet for any channel.
    pub fn new(policy: ChannelRestartPolicy) -> Self {
        Self { policy, trackers: HashMap::new() }
    }

    /// The policy given at creation.
    pub fn policy(&self) -> &ChannelRestartPolicy {
        &self.policy
    }

    /// Records a failure of `name` at `now`; `unit` is a random draw in [0, 1) for the jitter.
    pub fn on_failure(&mut self, name: &str, now: Instant, unit: f64) -> ChannelDecision {
        let policy = &self.policy;
        let tracker =
            self.trackers.entry(name.to_string()).or_insert_with(|| RestartTracker::new(policy.restart.clone()));
        match tracker.on_failure(now, unit) {
            Decision::Restart(d) => ChannelDecision::Restart(d),
            Decision::Escalate { restarts } => {
                ChannelDecision::Penalty { after: policy.penalty.mul_f64(0.75 + 0.25 * unit.clamp(0.0, 1.0)), restarts }
            }
        }
    }

    /// A channel removed from the set starts with a clean history if it comes back.
    pub fn forget(&mut self, name: &str) {
        self.trackers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn have(slots: &[(&str, Slot)]) -> BTreeMap<String, Slot> {
        slots.iter().map(|(n, s)| (n.to_string(), *s)).collect()
    }

    #[test]
    fn starts_what_appears_and_stops_what_disappears() {
        let plan = reconcile(&have(&[("a", Slot::Running), ("b", Slot::Running)]), &set(&["b", "c", "d"]));
        assert_eq!(plan, Plan { start: vec!["c".into(), "d".into()], stop: vec!["a".into()], forget: vec![] });
    }

    #[test]
    fn nothing_to_do_when_they_match() {
        let plan = reconcile(&have(&[("a", Slot::Running), ("b", Slot::Waiting)]), &set(&["a", "b"]));
        assert!(plan.is_empty(), "{plan:?}");
        assert!(reconcile(&BTreeMap::new(), &BTreeSet::new()).is_empty());
    }

    #[test]
    fn a_waiting_channel_is_neither_started_twice_nor_stopped_but_forgotten() {
        let plan = reconcile(&have(&[("a", Slot::Waiting), ("b", Slot::Waiting)]), &set(&["a"]));
        assert_eq!(plan, Plan { start: vec![], stop: vec![], forget: vec!["b".into()] });
    }

    #[test]
    fn an_empty_desired_set_stops_everything() {
        let plan = reconcile(&have(&[("a", Slot::Running), ("b", Slot::Waiting)]), &BTreeSet::new());
        assert_eq!(plan, Plan { start: vec![], stop: vec!["a".into()], forget: vec!["b".into()] });
    }

    fn policy() -> ChannelRestartPolicy {
        ChannelRestartPolicy {
            restart: RestartPolicy {
                limit: 2,
                window: Duration::from_secs(60),
                min_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
            },
            penalty: Duration::from_secs(300),
        }
    }

    #[test]
    fn each_channel_has_its_own_budget_and_past_it_waits_the_penalty() {
        let mut r = ChannelRestarts::new(policy());
        let t0 = Instant::now();
        assert_eq!(r.on_failure("a", t0, 1.0), ChannelDecision::Restart(Duration::from_millis(100)));
        assert_eq!(r.on_failure("a", t0, 1.0), ChannelDecision::Restart(Duration::from_millis(200)));
        assert_eq!(
            r.on_failure("a", t0, 1.0),
            ChannelDecision::Penalty { after: Duration::from_secs(300), restarts: 2 }
        );
        assert_eq!(
            r.on_failure("a", t0, 0.0),
            ChannelDecision::Penalty { after: Duration::from_secs(225), restarts: 2 }
        );
        // Another channel's budget is untouched.
        assert_eq!(r.on_failure("b", t0, 1.0), ChannelDecision::Restart(Duration::from_millis(100)));
        // Once the window has passed, the channel is back within its budget.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(r.on_failure("a", later, 1.0), ChannelDecision::Restart(Duration::from_millis(100)));
    }

    #[test]
    fn a_forgotten_channel_starts_with_a_clean_history() {
        let mut r = ChannelRestarts::new(policy());
        let t0 = Instant::now();
        for _ in 0..3 {
            r.on_failure("a", t0, 1.0);
        }
        r.forget("a");
        assert_eq!(r.on_failure("a", t0, 1.0), ChannelDecision::Restart(Duration::from_millis(100)));
    }
}
