//! What the supervisor restarts when a child ends (pure). Each child has a restart type, as in
//! OTP: `Permanent` children are restarted whatever the reason they ended, `Transient` ones only
//! after a failure (a normal stop is final), `Temporary` ones never. The pipeline (clock,
//! aggregator, sealer, backup) is `rest_for_one` in that dependency order: when one of them ends
//! and is to be restarted, the running ones after it are stopped too (in reverse order, each
//! drained first) and the whole tail starts again in order, so no actor runs against the state
//! of a predecessor that was replaced under it. Channel actors are independent: `one_for_one`.

/// How a child's end is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartType {
    /// Always restarted.
    Permanent,
    /// Restarted only when it failed (panic, error, failed pre_start), not after a normal stop.
    Transient,
    /// Never restarted.
    Temporary,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It stopped by itself without an error.
    Normal,
    /// It panicked, returned an error, or failed to start.
    Failed,
}

impl RestartType {
    /// Whether a child of this type is restarted after ending with `exit`.
    pub fn restarts_after(self, exit: Exit) -> bool {
        match self {
            RestartType::Permanent => true,
            RestartType::Transient => exit == Exit::Failed,
            RestartType::Temporary => false,
        }
    }
}

/// The children to stop and start again when `failed` (an index into `order`) is restarted
/// under rest_for_one: `stop` lists the running ones after it, newest first; `start` lists
/// `failed` and everything after it that should run, in start order. `running[i]` says whether
/// `order[i]` runs now (the failed one does not).
pub fn rest_for_one<T: Clone>(order: &[T], running: &[bool], failed: usize) -> (Vec<T>, Vec<T>) {
    debug_assert_eq!(order.len(), running.len());
    let stop = (failed + 1..order.len()).rev().filter(|&i| running[i]).map(|i| order[i].clone()).collect();
    let start = order[failed..].to_vec();
    (stop, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_types() {
        assert!(RestartType::Permanent.restarts_after(Exit::Normal));
        assert!(RestartType::Permanent.restarts_after(Exit::Failed));
        assert!(!RestartType::Transient.restarts_after(Exit::Normal));
        assert!(RestartType::Transient.restarts_after(Exit::Failed));
        assert!(!RestartType::Temporary.restarts_after(Exit::Normal));
        assert!(!RestartType::Temporary.restarts_after(Exit::Failed));
    }

    #[test]
    fn rest_for_one_stops_the_tail_newest_first_and_starts_it_in_order() {
        let order = ["clock", "aggregator", "sealer", "backup"];
        let (stop, start) = rest_for_one(&order, &[true, false, true, true], 1);
        assert_eq!(stop, vec!["backup", "sealer"]);
        assert_eq!(start, vec!["aggregator", "sealer", "backup"]);
    }

    #[test]
    fn rest_for_one_of_the_first_restarts_everything_and_of_the_last_only_itself() {
        let order = ["clock", "aggregator", "sealer", "backup"];
        let (stop, start) = rest_for_one(&order, &[false, true, true, true], 0);
        assert_eq!(stop, vec!["backup", "sealer", "aggregator"]);
        assert_eq!(start, order.to_vec());
        let (stop, start) = rest_for_one(&order, &[true, true, true, false], 3);
        assert!(stop.is_empty());
        assert_eq!(start, vec!["backup"]);
    }

    #[test]
    fn a_tail_member_already_down_is_not_stopped_but_is_started() {
        let order = ["clock", "aggregator", "sealer", "backup"];
        let (stop, start) = rest_for_one(&order, &[true, false, false, true], 1);
        assert_eq!(stop, vec!["backup"]);
        assert_eq!(start, vec!["aggregator", "sealer", "backup"]);
    }
}
