//! The daemon: open the store, start the supervision tree and the HTTP server, run until the
//! shutdown future resolves (or the supervisor gives up), then stop gracefully. Like
//! mini-redis, `run` takes its listener and its shutdown future as arguments, so `main` and the
//! tests run the very same path.

pub mod wiring;

use std::future::Future;
use std::time::Duration;

use chatseal_actors::clock::SharedClock;
use chatseal_actors::supervisor::{Supervisor, SupervisorMsg};
use chatseal_actors::Routes;
use chatseal_schema::{Store, StoreError};
use ractor::Actor;
use tokio::net::TcpListener;

use crate::exit;
use crate::http::{self, AppState};
use crate::settings::Settings;

/// Why the daemon stopped other than cleanly; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the supervision tree gave up: {0}")]
    Escalated(String),
    #[error("could not start the actor tree: {0}")]
    Start(String),
    #[error("graceful shutdown did not finish within {0:?}; the last flush interval may be lost")]
    ShutdownTimeout(Duration),
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
    #[error("sealed epochs no longer match their digests (the store's rows were changed behind its back): {0}; the daemon does not write to this store: move its files aside and restore the latest verified backup")]
    SealsDamaged(String),
    #[error("twitch.tls_ca_file / TLS setup: {0}")]
    Tls(#[from] chatseal_actors::channel::TlsSetupError),
}

impl DaemonError {
    pub fn exit_code(&self) -> i32 {
        match self {
            DaemonError::Store(e) if e.is_unavailable() => exit::UNAVAILABLE,
            DaemonError::Tls(_) => exit::CONFIG,
            _ => exit::INTERNAL,
        }
    }
}

/// Options that differ between production and tests (never a "test mode": only injected parts).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub clock: SharedClock,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { clock: chatseal_actors::clock::source::system() }
    }
}

/// Runs the daemon until `shutdown` resolves, then stops gracefully within the configured deadline.
pub async fn run(settings: Settings, listener: TcpListener, shutdown: impl Future<Output = ()> + Send, opts: RunOptions) -> Result<(), DaemonError> {
    let prom = crate::telemetry::prometheus();
    let store = Store::open(&settings.store.url).await?;
    for w in store.durability_warnings() {
        tracing::warn!("{w}");
    }
    tracing::info!(store = %store.redacted_url(), channels = settings.twitch.channels.len(), "store open");
    // Every seal is re-checked against its digest before anything is written (SQLite's own
    // checks cannot see a flipped byte inside a row). All of them, at start: a budgeted check
    // with the rest in the background is the plan once stores grow past the start-up bar.
    let started = std::time::Instant::now();
    let damaged = store.verify_digests().await?;
    if !damaged.is_empty() {
        let list: Vec<String> = damaged.iter().take(10).map(|(e, c)| format!("{e} #{c}")).collect();
        let err = DaemonError::SealsDamaged(format!("{} damaged, e.g. {}", damaged.len(), list.join(", ")));
        tracing::error!("{err}");
        return Err(err);
    }
    tracing::info!(elapsed = ?started.elapsed(), "sealed epochs verified against their digests");
    let opted_out = store.opted_out_logins().await?;
    let routes = Routes::unique();
    let wired = wiring::wire(&settings, store.clone(), opts.clock.clone(), routes.clone(), opted_out)?;
    let (sup, sup_handle) = Actor::spawn(Some(routes.name("supervisor")), Supervisor, wired.args)
        .await
        .map_err(|e| DaemonError::Start(e.to_string()))?;

    let state = AppState::new(store.clone(), wired.board.clone(), routes.clone(), sup.clone(), prom, &settings, wired.opted_out.clone(), opts.clock.clone());
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(http::serve(listener, state, async move {
        let _ = http_stop_rx.await;
    }));
    tracing::info!("chatseal running");

    let mut fatal = wired.fatal.clone();
    let escalated = tokio::select! {
        _ = shutdown => None,
        r = fatal.wait_for(|f| f.is_some()) => r.ok().and_then(|v| v.clone()),
    };
    if let Some(reason) = escalated {
        let _ = http_stop_tx.send(());
        let _ = store.checkpoint().await;
        return Err(DaemonError::Escalated(reason));
    }

    tracing::info!("shutting down: stop reading chat, drain, flush, checkpoint");
    let deadline = settings.daemon.shutdown_timeout;
    let graceful = async {
        let problems = match sup.call(SupervisorMsg::Shutdown, Some(deadline)).await {
            Ok(ractor::rpc::CallResult::Success(p)) => p,
            _ => vec!["the supervisor did not answer the shutdown".to_string()],
        };
        sup.stop(Some("shutdown".into()));
        let _ = sup_handle.await;
        let _ = http_stop_tx.send(());
        let _ = http_task.await;
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed; the WAL is replayed at the next start");
        }
        problems
    };
    match tokio::time::timeout(deadline, graceful).await {
        Ok(problems) => {
            for p in &problems {
                tracing::error!("shutdown: {p}");
            }
            tracing::info!("stopped");
            Ok(())
        }
        Err(_) => Err(DaemonError::ShutdownTimeout(deadline)),
    }
}
