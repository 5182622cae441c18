//! systemd integration through sd_notify (every call is a no-op without `NOTIFY_SOCKET`):
//! READY=1 once the daemon serves, WATCHDOG=1 at half of `WATCHDOG_USEC` from a task that first
//! checks that the supervisor and the aggregator answer (a wedged actor tree stops the pings
//! and systemd restarts the service), and STOPPING=1 when a stop begins.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatseal_actors::aggregator::AggregatorMsg;
use chatseal_actors::supervisor::SupervisorMsg;
use chatseal_actors::Routes;
use ractor::rpc::CallResult;
use ractor::ActorRef;
use sd_notify::NotifyState;
use tokio::task::JoinHandle;

/// Longest wait for an actor's answer before a watchdog round counts as failed.
const MAX_ASK: Duration = Duration::from_secs(5);

fn notify(state: NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "could not notify systemd (NOTIFY_SOCKET); the unit may time out or restart the service");
    }
}

/// READY=1: the store is open, the actor tree runs and HTTP serves.
pub fn ready() {
    notify(NotifyState::Ready);
}

/// STOPPING=1: a graceful stop (or an escalation) has begun.
pub fn stopping() {
    notify(NotifyState::Stopping);
}

/// The watchdog's ping period and the longest wait for each actor's answer, from systemd's
/// `WATCHDOG_USEC`: half of it, and half of that (capped) so a round finishes within its period.
pub fn watchdog_timing(watchdog_usec: Duration) -> Option<(Duration, Duration)> {
    if watchdog_usec.is_zero() {
        return None;
    }
    let period = watchdog_usec / 2;
    Some((period, (period / 2).min(MAX_ASK)))
}

/// Asks the supervisor for its children and the aggregator for its status; Err names what
/// did not answer within `ask`.
pub async fn tree_answers(sup: &ActorRef<SupervisorMsg>, routes: &Routes, ask: Duration) -> Result<(), String> {
    match sup.call(SupervisorMsg::Children, Some(ask)).await {
        Ok(CallResult::Success(_)) => {}
        _ => return Err(format!("the supervisor did not answer within {ask:?}")),
    }
    let Some(agg) = routes.aggregator() else {
        return Err("the aggregator is not running (restarting?)".into());
    };
    match agg.call(AggregatorMsg::Status, Some(ask)).await {
        Ok(CallResult::Success(_)) => Ok(()),
        _ => Err(format!("the aggregator did not answer within {ask:?}")),
    }
}

/// The running watchdog task. [`Watchdog::stop`] guarantees no ping follows it, so STOPPING=1
/// sent afterwards is the last word; dropping it aborts the task too.
pub struct Watchdog {
    stopped: Arc<Mutex<bool>>,
    task: JoinHandle<()>,
}

impl Watchdog {
    /// Waits for a ping being sent right now, then stops the task.
    pub fn stop(self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.task.abort();
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the watchdog task when systemd asked for one (`WATCHDOG_USEC`, and `WATCHDOG_PID`
/// naming this process if set); stop it when the stop begins.
pub fn spawn_watchdog(sup: ActorRef<SupervisorMsg>, routes: Routes) -> Option<Watchdog> {
    let (period, ask) = watchdog_timing(sd_notify::watchdog_enabled()?)?;
    tracing::info!(period = ?period, "systemd watchdog enabled: pinging while the actor tree answers");
    let stopped = Arc::new(Mutex::new(false));
    let flag = stopped.clone();
    let task = tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match tree_answers(&sup, &routes, ask).await {
                Ok(()) => {
                    let stopped = flag.lock().unwrap_or_else(|p| p.into_inner());
                    if *stopped {
                        return;
                    }
                    notify(NotifyState::Watchdog);
                }
                Err(why) => tracing::warn!("watchdog: {why}; not pinging systemd, which restarts the service once WatchdogSec passes without a ping"),
            }
        }
    });
    Some(Watchdog { stopped, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_watchdog_and_asks_within_the_period() {
        assert_eq!(watchdog_timing(Duration::from_secs(30)), Some((Duration::from_secs(15), Duration::from_secs(5))));
        assert_eq!(watchdog_timing(Duration::from_secs(2)), Some((Duration::from_secs(1), Duration::from_millis(500))));
        assert_eq!(watchdog_timing(Duration::ZERO), None);
    }
}
