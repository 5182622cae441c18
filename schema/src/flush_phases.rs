//! The phases of one flush and the time each took, in ONE place: the store's `FlushTx` times its
//! statements, the aggregator adds its own steps (the tally, the commit) and records them as
//! `chatseal_flush_phase_seconds{phase}`, whose label values are [`FlushPhase::ALL`]. What a
//! slow flush spends its time on, on a running daemon (docs/performance.md, "What limits the
//! flush"). Pure; no I/O.

use std::time::Duration;

/// One step of a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPhase {
    /// Which of the batch's channel-epochs are sealed already.
    Sealed,
    /// Recording the message ids (`seen_ids`), which decides the duplicates.
    Ids,
    /// Folding the new events into (epoch, channel, user) rows, in the daemon (no statement).
    Tally,
    /// The participation upsert.
    Participation,
    /// The signals upsert.
    Signals,
    /// The users upsert.
    Users,
    /// The coverage upsert.
    Coverage,
    /// The commit (the sync to disk).
    Commit,
}

impl FlushPhase {
    /// Every phase, in the order a flush runs them.
    pub const ALL: [FlushPhase; 8] = [
        FlushPhase::Sealed,
        FlushPhase::Ids,
        FlushPhase::Tally,
        FlushPhase::Participation,
        FlushPhase::Signals,
        FlushPhase::Users,
        FlushPhase::Coverage,
        FlushPhase::Commit,
    ];

    /// The label value of [`FlushPhase::ALL`]'s names, in the same order.
    pub const NAMES: [&'static str; 8] =
        ["sealed", "ids", "tally", "participation", "signals", "users", "coverage", "commit"];

    /// The phase's label value.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The time each phase of one flush took (zero for a phase it did not run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushTimings([Duration; 8]);

impl FlushTimings {
    /// Adds `d` to `phase`.
    pub fn add(&mut self, phase: FlushPhase, d: Duration) {
        self.0[phase as usize] += d;
    }

    /// The time of `phase`.
    pub fn get(&self, phase: FlushPhase) -> Duration {
        self.0[phase as usize]
    }

    /// Every phase that took any time, in [`FlushPhase::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (FlushPhase, Duration)> + '_ {
        FlushPhase::ALL.into_iter().map(|p| (p, self.get(p))).filter(|(_, d)| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_order() {
        for (i, p) in FlushPhase::ALL.into_iter().enumerate() {
            assert_eq!(p as usize, i);
            assert_eq!(p.as_str(), FlushPhase::NAMES[i]);
        }
        let mut t = FlushTimings::default();
        t.add(FlushPhase::Users, Duration::from_millis(3));
        t.add(FlushPhase::Users, Duration::from_millis(2));
        t.add(FlushPhase::Ids, Duration::from_millis(1));
        let got: Vec<_> = t.iter().map(|(p, d)| (p.as_str(), d.as_millis())).collect();
        assert_eq!(got, [("ids", 1), ("users", 5)]);
    }
}
