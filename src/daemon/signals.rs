//! Every signal `chatseal run` handles, installed as soon as it starts so that none of them can
//! end the process with its default action (SIGHUP's default is to terminate: exit 129, losing
//! the last flush interval; a SIGTERM during start-up would kill it the same way). SIGTERM,
//! SIGINT and SIGQUIT stop gracefully (`quit`; a signal that comes before the daemon waits for
//! one is kept as a permit, and a second one exits at once); SIGHUP reloads the channel set
//! from the configuration (`channel_set`); SIGUSR1 logs one status line (channels joined,
//! events not yet durable); SIGUSR2 is logged and ignored (reserved).

use std::sync::Arc;

use chatseal_actors::aggregator::AggregatorMsg;
use chatseal_actors::channel::{ChannelBoard, ChannelState};
use chatseal_actors::Routes;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Where the signals go.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// SIGHUP: read twitch.channels again.
    pub reload: Arc<Notify>,
    /// SIGUSR1: log a status line.
    pub status: Arc<Notify>,
    /// SIGTERM, SIGINT, SIGQUIT: stop gracefully (the second one: exit at once).
    pub quit: Arc<Notify>,
}

/// Installs the handlers now (call first thing in `chatseal run`).
pub fn install() -> Signals {
    let s = Signals::default();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let forward = |kind: SignalKind, name: &'static str, to: Option<Arc<Notify>>| match signal(kind) {
            Ok(mut stream) => {
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        match &to {
                            Some(n) => {
                                tracing::info!(signal = name, "signal received");
                                n.notify_one();
                            }
                            None => tracing::info!(signal = name, "signal received and ignored (reserved)"),
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(signal = name, error = %e, "cannot install the handler of this signal; it keeps its default action")
            }
        };
        forward(SignalKind::hangup(), "SIGHUP", Some(s.reload.clone()));
        forward(SignalKind::user_defined1(), "SIGUSR1", Some(s.status.clone()));
        forward(SignalKind::user_defined2(), "SIGUSR2", None);
        forward(SignalKind::quit(), "SIGQUIT", Some(s.quit.clone()));
        forward(SignalKind::terminate(), "SIGTERM", Some(s.quit.clone()));
        forward(SignalKind::interrupt(), "SIGINT", Some(s.quit.clone()));
    }
    s
}

/// Logs a status line each time `status` is notified, until the task is aborted.
pub fn spawn_status(status: Arc<Notify>, board: ChannelBoard, routes: Routes) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            status.notified().await;
            let channels = board.snapshot();
            let joined = channels.iter().filter(|c| c.state == ChannelState::Joined).count();
            let not_joined: Vec<String> = channels
                .iter()
                .filter(|c| c.state != ChannelState::Joined)
                .map(|c| {
                    format!(
                        "#{} {}",
                        c.channel,
                        serde_json::to_value(c.state)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let agg = match routes.aggregator() {
                Some(a) => match a.call(AggregatorMsg::Status, Some(std::time::Duration::from_secs(2))).await {
                    Ok(ractor::rpc::CallResult::Success(s)) => Some(s),
                    _ => None,
                },
                None => None,
            };
            tracing::info!(
                channels = channels.len(),
                joined,
                not_joined = ?not_joined,
                events_pending = agg.as_ref().map(|a| a.pending + a.in_flight),
                store_up = agg.as_ref().map(|a| a.store_up),
                "status (SIGUSR1)"
            );
        }
    })
}
