//! The daemon: open the store, start the supervision tree and the HTTP server, run until the
//! shutdown future resolves (or the supervisor gives up), then stop gracefully. Like
//! mini-redis, `run` takes its listener and its shutdown future as arguments, so `main` and the
//! tests run the very same path.

pub mod channel_set;
pub mod cluster;
pub mod digest_check;
pub mod opt_out_sync;
pub mod ownership;
pub mod process_stats;
pub mod publish_backlog;
pub mod recovery;
pub mod signals;
pub mod systemd;
pub mod upkeep;
pub mod wiring;

use std::future::Future;
use std::time::Duration;

use chatseal_actors::clock::SharedClock;
use chatseal_actors::supervisor::{Supervisor, SupervisorMsg};
use chatseal_actors::Routes;
use chatseal_schema::StoreError;
use ractor::Actor;
use tokio::net::TcpListener;

use crate::exit::Exit;
use crate::http::{self, AppState};
use crate::settings::Settings;

/// Why the daemon stopped other than cleanly; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The store failed (exit 69 when unreachable, 78 when misconfigured, else 70).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The supervisor exhausted its restarts and stopped; holds its reason.
    #[error("the supervision tree gave up: {0}")]
    Escalated(String),
    /// The supervisor could not be spawned (the spawn error's text).
    #[error("could not start the actor tree: {0}")]
    Start(String),
    /// The graceful stop ran past `daemon.shutdown_timeout` with events still not durable.
    #[error("graceful shutdown did not finish within {deadline:?}: {not_durable} events received were not made durable (the store did not commit them) and are lost; check the store (doctor), and lengthen daemon.shutdown_timeout if it is only slow")]
    ShutdownTimeout {
        /// The `daemon.shutdown_timeout` that ran out.
        deadline: Duration,
        /// Events received but not committed to the store, lost.
        not_durable: usize,
    },
    /// The HTTP server failed (binding or serving).
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
    /// Seal digests do not match their rows; the daemon refuses to write this store. Holds the
    /// count and the first damaged seals.
    #[error("sealed epochs no longer match their digests (the store's rows were changed behind its back): {0}; the daemon does not write to this store: move its files aside and restore the latest verified backup")]
    SealsDamaged(String),
    /// The store is damaged and `backup.on_corruption = "restore"` could not restore a backup.
    #[error("{damage}; backup.on_corruption = \"restore\" could not restore it: {why}")]
    NotRecovered {
        /// What is wrong with the store.
        damage: String,
        /// Why no backup could be restored.
        why: String,
    },
    /// The configured `epoch.length` does not fit the store (exit 78, or 69/70 on a store error).
    #[error("{0}")]
    EpochLength(#[from] crate::epoch_length::EpochLengthError),
    /// The TLS client configuration cannot be built (exit 78).
    #[error("twitch.tls_ca_file / TLS setup: {0}")]
    Tls(#[from] chatseal_actors::channel::TlsSetupError),
    /// Store ownership could not be taken or was lost (exit 75 when another daemon owns it).
    #[error("{0}")]
    Ownership(#[from] chatseal_schema::ownership::OwnershipError),
}

impl DaemonError {
    /// The process exit code for this error (sysexits: 69 unavailable, 70 internal, 75 owned,
    /// 78 configuration).
    pub fn exit_code(&self) -> Exit {
        match self {
            DaemonError::Store(e) if e.is_unavailable() => Exit::Unavailable,
            DaemonError::Store(e) if e.is_config() => Exit::Config,
            DaemonError::Tls(_) => Exit::Config,
            DaemonError::Ownership(e) if e.is_owned() => Exit::Owned,
            DaemonError::Ownership(chatseal_schema::ownership::OwnershipError::Store(e)) if e.is_unavailable() => {
                Exit::Unavailable
            }
            DaemonError::EpochLength(crate::epoch_length::EpochLengthError::Store(e)) if e.is_unavailable() => {
                Exit::Unavailable
            }
            DaemonError::EpochLength(crate::epoch_length::EpochLengthError::Store(_)) => Exit::Internal,
            DaemonError::EpochLength(_) => Exit::Config,
            _ => Exit::Internal,
        }
    }
}

/// Options that differ between production and tests (never a "test mode": only injected parts).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The daemon's clock: the system clock in production, a simulated one in tests.
    pub clock: SharedClock,
    /// SIGHUP's notification and the configuration file it reads again.
    pub reload: channel_set::Reload,
    /// SIGUSR1's notification: log a status line.
    pub status: std::sync::Arc<tokio::sync::Notify>,
    /// How long the digest check may run at start-up before the daemon gets ready (the rest
    /// runs in the background): [`digest_check::START_BUDGET`]; zero leaves it all to the
    /// background (tests of that path).
    pub digest_budget: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            clock: chatseal_actors::clock::source::system(),
            reload: Default::default(),
            status: Default::default(),
            digest_budget: digest_check::START_BUDGET,
        }
    }
}

/// Runs the daemon until `shutdown` resolves, then stops gracefully within the configured deadline.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    opts: RunOptions,
) -> Result<(), DaemonError> {
    // The first lines: where it listens, which store, which channels, how long an epoch is.
    let http_addr = listener.local_addr().map_or_else(|_| settings.http.listen.to_string(), |a| a.to_string());
    tracing::info!(
        http = %http_addr,
        store = %crate::settings::redact_url(&settings.store.url),
        channels = %settings.twitch.channels.join(","),
        epoch_length = %humantime::format_duration(settings.epoch.length),
        "chatseal starting: HTTP on http://{http_addr}, {} channel(s)",
        settings.twitch.channels.len()
    );
    for w in settings.warnings() {
        tracing::warn!("{w}");
    }
    let prom = crate::telemetry::prometheus();
    cluster::register_series();
    // One owner per store: a second daemon is refused (75) before it opens anything.
    let _store_lock = ownership::lock_file(&settings)?;
    // quick_check at open, whole, before anything is written; then the seals a previous run
    // found damaged and as many others as `digest_budget` allows are checked against their
    // digests (SQLite's own checks cannot see a flipped byte inside a row); the rest are checked
    // in the background after ready (digest_check.rs). A damaged store is restored or refused
    // (backup.on_corruption).
    let (store, rest, marked, recovered) =
        match recovery::open_checked(&settings.store.url, &recovery::store_options(&settings), opts.digest_budget)
            .await?
        {
            Ok(c) => (c.store, c.rest, c.marked, None),
            Err(damage) => {
                let (store, record) = recovery::recover(&settings, damage, opts.clock.now_ms()).await?;
                (store, digest_check::Rest::Done, false, Some(record))
            }
        };
    let damaged = std::sync::Arc::new(crate::damaged_seals::DamagedSeals::marking());
    // One epoch length per store: refused (exit 78) when the configuration changed it.
    crate::epoch_length::check(&store, wiring::secs(settings.epoch.length), true).await?;
    for w in store.durability_warnings() {
        tracing::warn!("{w}");
    }
    let membership = ownership::join(&settings, &store).await?;
    let lost_rx = membership.as_ref().map(|m| m.lost.clone());
    tracing::info!(store = %store.redacted_url(), channels = settings.twitch.channels.len(), "store open");
    // The channel actors follow the store's channel set (config applied at start, SIGHUP).
    let (desired, follow_task) =
        channel_set::follow(store.clone(), &settings, opts.clock.clone(), opts.reload.clone()).await?;
    let _follow = AbortOnDrop(follow_task);
    upkeep::seed_gauges(&settings, &store).await?;
    let opted_out = store.opted_out_logins().await?;
    let routes = Routes::unique();
    // In a cluster the channel actors follow the slots this member holds (cluster.md); the
    // store's channel set is then the cluster's set, from which the slots are planned.
    let clustered = settings.cluster.enabled && membership.is_some();
    let (reading_tx, reading_rx) = tokio::sync::watch::channel(std::collections::BTreeSet::new());
    let cluster_set = desired.clone();
    let channel_feed = if clustered { reading_rx } else { desired };
    let mut wired =
        wiring::wire(&settings, store.clone(), opts.clock.clone(), routes.clone(), opted_out, channel_feed)?;
    // Cluster mode: the sealer and backup roles, fenced, and the channel slots.
    let roles = match (&membership, clustered) {
        (Some(m), true) => {
            let inputs = cluster::SlotInputs {
                channels: cluster_set,
                replicas: settings.cluster.replicas,
                board: wired.board.clone(),
            };
            let roles = cluster::start(&store, m.lease.clone(), inputs, reading_tx);
            wired.args.sealer.cluster = Some(roles.sealer_args(&m.lease, &settings));
            wired.args.backup.role = Some(roles.backup.clone());
            Some(roles)
        }
        _ => None,
    };
    if let Some(record) = recovered {
        wired.backups.recovered(record);
    }
    let (sup, sup_handle) = Actor::spawn(Some(routes.name("supervisor")), Supervisor, wired.args)
        .await
        .map_err(|e| DaemonError::Start(e.to_string()))?;

    let opt_outs = std::sync::Arc::new(crate::opt_outs::OptOuts::new(wired.opted_out.clone()));
    let _opt_out_sync = AbortOnDrop(opt_out_sync::spawn(store.clone(), opt_outs.clone()));
    let mut state = AppState::new(
        store.clone(),
        wired.board.clone(),
        routes.clone(),
        sup.clone(),
        prom.clone(),
        &settings,
        opt_outs,
        opts.clock.clone(),
    );
    state.damaged = damaged.clone();
    state.backups = wired.backups.clone();
    let me = ownership::me(&settings);
    state.cluster = crate::http::cluster::ClusterView {
        enabled: settings.cluster.enabled,
        instance: me.instance,
        replicas: settings.cluster.replicas,
        lease_ttl_ms: settings.cluster.lease_ttl.as_millis() as i64,
        http: me.http,
        host: me.host,
    };
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(http::serve(listener, state, async move {
        let _ = http_stop_rx.await;
    }));
    let _upkeep = AbortOnDrop(upkeep::spawn(prom, wired.board.clone()));
    let _status = AbortOnDrop(signals::spawn_status(opts.status.clone(), wired.board.clone(), routes.clone()));
    let _backlog =
        AbortOnDrop(publish_backlog::start(store.clone(), opts.clock.clone(), settings.http.store_timeout).await);
    systemd::ready();
    let _digests = match rest {
        digest_check::Rest::After(after) => {
            Some(AbortOnDrop(digest_check::spawn(store.clone(), damaged.clone(), after, marked)))
        }
        digest_check::Rest::Done => {
            digest_check::finished(&store, &damaged, marked).await;
            None
        }
    };
    let watchdog = systemd::spawn_watchdog(sup.clone(), routes.clone());
    tracing::info!("chatseal running");

    let mut fatal = wired.fatal.clone();
    let mut lost_reason = None;
    let escalated = tokio::select! {
        _ = shutdown => None,
        r = fatal.wait_for(|f| f.is_some()) => r.ok().and_then(|v| v.clone()),
        r = ownership::lost(lost_rx) => {
            lost_reason = Some(r);
            None
        }
    };
    if let Some(w) = watchdog {
        w.stop();
    }
    systemd::stopping();
    if let Some(reason) = escalated {
        let _ = http_stop_tx.send(());
        let _ = store.checkpoint().await;
        return Err(DaemonError::Escalated(reason));
    }

    // Cluster mode: another member reads each of this member's channels before it stops
    // reading them (bounded by one lease: its rounds run every third of one; the outer bound
    // covers a store that stops answering meanwhile).
    if let (Some(r), None) = (&roles, &lost_reason) {
        let within = settings.cluster.lease_ttl;
        if tokio::time::timeout(within + Duration::from_secs(2), r.hand_over(within)).await.is_err() {
            tracing::warn!("handing channel slots over did not finish; they move when this member has left");
        }
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
    let stopped = tokio::time::timeout(deadline, graceful).await;
    if let Some(r) = roles {
        if lost_reason.is_none() {
            r.release().await;
        }
    }
    if let Some(m) = membership {
        if lost_reason.is_none() {
            m.leave().await;
        }
    }
    match stopped {
        Ok(problems) => {
            for p in &problems {
                tracing::error!("shutdown: {p}");
            }
            tracing::info!("stopped");
            match lost_reason {
                Some(detail) => Err(DaemonError::Ownership(chatseal_schema::ownership::OwnershipError::Lost {
                    store: store.redacted_url().to_owned(),
                    detail,
                })),
                None => Ok(()),
            }
        }
        // Nothing moves any more: what the aggregator holds and its mailbox are what is lost.
        Err(_) => Err(DaemonError::ShutdownTimeout { deadline, not_durable: routes.gate().not_durable() }),
    }
}

/// Aborts a background task when the daemon's `run` returns, on every path.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
