//! From settings to the actor tree's arguments: the one place where configuration keys meet
//! the actors, so the actors never read settings themselves.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chatseal_actors::aggregator::AggregatorArgs;
use chatseal_actors::backup::{BackupArgs, BackupBoard};
use chatseal_actors::channel::tls::{client_config, read_ca_file};
use chatseal_actors::channel::{ChannelArgs, ChannelBoard, JoinLimiter, SessionCfg, TlsClientConfig, TlsSetupError};
use chatseal_actors::clock::{ClockArgs, SharedClock};
use chatseal_actors::sealer::limits::ProgramLimits;
use chatseal_actors::sealer::{SealConfig, SealerArgs, SealerSubscription};
use chatseal_actors::supervisor::{ChannelRestartPolicy, ChannelSupervisorArgs, RestartPolicy, SupervisorArgs};
use chatseal_actors::Routes;
use chatseal_schema::Store;
use tokio::sync::watch;

use crate::settings::Settings;

/// Whole seconds of a duration, at least 1.
pub fn secs(d: Duration) -> i64 {
    (d.as_secs() as i64).max(1)
}

/// Whole milliseconds of a duration.
pub fn millis(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// The sealing configuration of the settings.
pub fn seal_config(s: &Settings) -> SealConfig {
    SealConfig {
        weights: s.sealing.centiweights,
        reward_per_weight: s.sealing.reward_per_weight,
        decimals: s.sealing.decimals,
        excluded: excluded_users(s),
        // 0 = no cap; a cap beyond u32 (the claim format's index) cannot bind.
        max_claim_leaves: match s.sealing.max_claim_leaves {
            0 => None,
            n => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        },
        exclude_broadcaster: s.sealing.exclude_broadcaster,
    }
}

/// The target program's limits of the settings (0 = none), for the sealing warnings, the
/// epoch object and the publish bundle.
pub fn program_limits(s: &Settings) -> ProgramLimits {
    ProgramLimits {
        max_claim_leaves: Some(s.sealing.max_claim_leaves).filter(|n| *n > 0),
        max_proof_len: Some(s.sealing.max_proof_len).filter(|n| *n > 0),
    }
}

/// Lowercase logins dropped at ingest and at sealing.
pub fn excluded_users(s: &Settings) -> HashSet<String> {
    s.sealing.exclude_users.iter().map(|u| u.trim().to_ascii_lowercase()).collect()
}

/// The TLS client configuration of every chat connection, built once per process: None when
/// `twitch.tls` is off; else the webpki roots plus the certificates of `twitch.tls_ca_file`.
pub fn tls_client(s: &Settings) -> Result<Option<TlsClientConfig>, TlsSetupError> {
    if !s.twitch.tls {
        return Ok(None);
    }
    let extra =
        if s.twitch.tls_ca_file.as_os_str().is_empty() { Vec::new() } else { read_ca_file(&s.twitch.tls_ca_file)? };
    if !extra.is_empty() {
        tracing::info!(file = %s.twitch.tls_ca_file.display(), certificates = extra.len(), "trusting extra CA certificates for the chat connection");
    }
    client_config(&extra).map(Some)
}

/// Shared pieces the HTTP server also reads.
pub struct Wired {
    /// What the supervisor is started with.
    pub args: SupervisorArgs,
    /// Each channel's connection state, for `/v1/status` and the channel gauges.
    pub board: ChannelBoard,
    /// Lowercase logins whose chat lines are dropped at ingest; `POST /v1/admin/opt-out` adds to it.
    pub opted_out: Arc<RwLock<HashSet<String>>>,
    /// Set to the reason when the supervisor gives up: the daemon then exits.
    pub fatal: watch::Receiver<Option<String>>,
    /// Last backup, failures and the start-up recovery, for /v1/status.
    pub backups: BackupBoard,
    /// The channels that have an actor (a removed one leaves once its hand-over is done).
    pub held: watch::Receiver<BTreeSet<String>>,
}

/// Fails only when the TLS client configuration cannot be built (see [`tls_client`]). The
/// channel actors follow `desired` (see `channel_set`).
pub fn wire(
    s: &Settings,
    store: Store,
    clock: SharedClock,
    routes: Routes,
    opted_out_logins: Vec<String>,
    desired: watch::Receiver<BTreeSet<String>>,
) -> Result<Wired, TlsSetupError> {
    let tls = tls_client(s)?;
    let epoch_len = secs(s.epoch.length);
    let grace_ms = millis(s.epoch.grace);
    let board = ChannelBoard::default();
    let opted_out = Arc::new(RwLock::new(opted_out_logins.into_iter().collect::<HashSet<_>>()));
    let excluded = Arc::new(excluded_users(s));
    let join_limiter = JoinLimiter::new(s.twitch.joins_per_window as usize, s.twitch.join_window);
    let login_limiter = JoinLimiter::new(s.twitch.joins_per_window as usize, s.twitch.join_window);
    let credentials = if s.twitch.login.is_empty() || s.twitch.token.is_empty() {
        None
    } else {
        Some((s.twitch.login.clone(), s.twitch.token.expose().trim_start_matches("oauth:").to_string()))
    };
    // The template of every channel actor; the channel supervisor sets the name per channel.
    let template = ChannelArgs {
        session: Arc::new(SessionCfg {
            channel: Arc::from(""),
            server: s.twitch.server.clone(),
            port: s.twitch.port,
            tls,
            credentials,
            connect_timeout: s.twitch.connect_timeout,
            ping_interval: s.twitch.ping_interval,
            pong_timeout: s.twitch.pong_timeout,
            max_line_bytes: s.twitch.max_line_bytes,
            epoch_len,
            max_skew_ms: millis(s.epoch.max_skew),
            excluded,
            opted_out: opted_out.clone(),
            clock: clock.clone(),
            routes: routes.clone(),
            join_limiter,
            login_limiter,
        }),
        board: board.clone(),
        reconnect_min: s.twitch.reconnect_min,
        reconnect_max: s.twitch.reconnect_max,
        overlap: s.twitch.reconnect_overlap,
    };
    let (held_tx, held_rx) = watch::channel(BTreeSet::new());
    let channels = ChannelSupervisorArgs {
        routes: routes.clone(),
        template,
        desired,
        held: held_tx,
        policy: ChannelRestartPolicy {
            restart: RestartPolicy {
                limit: s.daemon.channel_restart_limit,
                window: s.daemon.channel_restart_window,
                min_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
            },
            penalty: s.daemon.channel_restart_penalty,
        },
    };
    let backups = BackupBoard::default();
    let backup = BackupArgs {
        store: store.clone(),
        source_url: s.store.url.clone(),
        dir: s.backup.dir.clone(),
        interval: s.backup.interval,
        retention: s.backup.retention(),
        pg_dump: s.backup.pg_dump_choice(),
        clock: clock.clone(),
        board: backups.clone(),
        // Set by the daemon once it has joined a cluster (daemon/cluster.rs).
        role: None,
    };
    let (fatal_tx, fatal_rx) = watch::channel(None);
    let tick = Duration::from_millis(250).min(s.epoch.grace.max(Duration::from_millis(50)));
    let args = SupervisorArgs {
        routes: routes.clone(),
        clock: ClockArgs {
            clock: clock.clone(),
            epoch_len,
            grace_ms,
            tick,
            subscribers: vec![Arc::new(SealerSubscription(routes.clone()))],
        },
        aggregator: AggregatorArgs {
            store: store.clone(),
            clock: clock.clone(),
            flush_interval: s.store.flush_interval,
            max_pending: s.store.max_pending_events,
            max_pending_bytes: usize::try_from(s.store.max_pending_bytes).unwrap_or(usize::MAX),
            max_flush_events: s.store.max_flush_events,
            gate: routes.gate().clone(),
        },
        sealer: SealerArgs {
            store,
            clock,
            routes,
            cfg: seal_config(s),
            epoch_len,
            grace_ms,
            flush_timeout: Duration::from_secs(30),
            // Set by the daemon once it has joined a cluster (daemon/cluster.rs).
            cluster: None,
            limits: program_limits(s),
        },
        backup,
        channels,
        policy: RestartPolicy {
            limit: s.daemon.restart_limit,
            window: s.daemon.restart_window,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        },
        fatal: fatal_tx,
    };
    Ok(Wired { args, board, opted_out, fatal: fatal_rx, backups, held: held_rx })
}
