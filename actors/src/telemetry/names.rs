//! Every metric chatseal exports, in one place: name, kind, unit and HELP text. Code records
//! through these constants only, and `describe_all` registers every series at start-up so each
//! exists from the first scrape. Dashboards and alerts are checked against a real render.

/// The kind of a metric, for describing and for the zero-initialisation at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Samples in buckets, with their sum and count.
    Histogram,
}

/// One metric: its full name, kind, HELP text, and the labels it carries (with the values
/// registered at start-up, so series exist before the first event).
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// The full name, `chatseal_...`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The HELP text.
    pub help: &'static str,
}

macro_rules! defs {
    ($($ident:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        $(#[doc = concat!("`", $name, "`: ", $help)] pub const $ident: &str = $name;)*
        /// Every metric definition, in declaration order.
        pub const ALL: &[Def] = &[$(Def { name: $name, kind: Kind::$kind, help: $help }),*];
    };
}

defs! {
    BUILD_INFO = "chatseal_build_info", Gauge, "Always 1; labels carry the version.";
    // channels / ingest
    CHANNEL_STATE = "chatseal_channel_state", Gauge, "Channel connection state per channel: 0 disconnected, 1 connecting, 2 joined, 3 backing off, 4 refused, -1 no longer read by this process (removed from the channel set).";
    CHANNELS_JOINED = "chatseal_channels_joined", Gauge, "Channels whose join is confirmed right now.";
    LINES_TOTAL = "chatseal_irc_lines_total", Counter, "IRC lines received, by command kind.";
    LINES_REJECTED_TOTAL = "chatseal_irc_lines_rejected_total", Counter, "IRC lines rejected as malformed or unknown, by reason.";
    EVENTS_DISCARDED_TOTAL = "chatseal_events_discarded_total", Counter, "Participant lines dropped at ingest (excluded bot, opted-out user, anonymous gift, Shared Chat copy), by reason.";
    TS_FALLBACK_TOTAL = "chatseal_timestamp_fallback_total", Counter, "Lines whose tmi-sent-ts was missing or too skewed, so the receive time was used, by reason.";
    RECONNECTS_TOTAL = "chatseal_irc_reconnects_total", Counter, "Reconnects to Twitch chat, by reason.";
    JOINS_TOTAL = "chatseal_irc_joins_total", Counter, "JOIN commands sent.";
    JOIN_WAIT_SECONDS = "chatseal_irc_join_wait_seconds", Histogram, "Time a JOIN or login waited for the process-wide join limiter.";
    LAST_LINE_SECONDS = "chatseal_channel_last_line_timestamp_seconds", Gauge, "Unix time of the last line received, per channel.";
    // aggregator / store
    EVENTS_PENDING = "chatseal_events_pending", Gauge, "Events received and not yet durable (buffered plus in the flush in flight).";
    EVENTS_DROPPED_TOTAL = "chatseal_events_dropped_total", Counter, "Events dropped, by reason: buffer_full (what is not durable reached store.max_pending_events or store.max_pending_bytes), aggregator_away (a channel reader could not reach the aggregator for too long).";
    EVENTS_DUPLICATE_TOTAL = "chatseal_events_duplicate_total", Counter, "Events whose message id was already recorded (reconnect overlap, replay, restart).";
    EVENTS_DURABLE_TOTAL = "chatseal_events_durable_total", Counter, "Events committed to the store.";
    LATE_LINES_TOTAL = "chatseal_late_lines_total", Counter, "Lines whose epoch was already sealed or closing; counted, never changing a seal.";
    FLUSH_SECONDS = "chatseal_flush_duration_seconds", Histogram, "Duration of one aggregator flush transaction.";
    FLUSH_BATCH_EVENTS = "chatseal_flush_batch_events", Histogram, "Events in one flush transaction.";
    FLUSH_PHASE_SECONDS = "chatseal_flush_phase_seconds", Histogram, "Duration of each phase of a committed flush, by phase: sealed (which channel-epochs are sealed), ids (message ids), tally (in the daemon), participation, signals, users, coverage, commit.";
    STORE_ERRORS_TOTAL = "chatseal_store_errors_total", Counter, "Store operations that failed, by operation.";
    STORE_UP = "chatseal_store_up", Gauge, "1 while the last store operation succeeded, 0 while the store is unavailable.";
    // sealing
    EPOCHS_SEALED_TOTAL = "chatseal_epochs_sealed_total", Counter, "Channel-epochs sealed, by outcome (sealed, empty, already_sealed).";
    SEAL_SECONDS = "chatseal_seal_duration_seconds", Histogram, "Duration of sealing one channel-epoch (read, two trees, write).";
    SEAL_PARTICIPANTS = "chatseal_seal_participants", Histogram, "Participants per sealed channel-epoch.";
    UNSEALED_BACKLOG = "chatseal_unsealed_epochs", Gauge, "Closed epochs not sealed yet.";
    LAST_SEALED_EPOCH = "chatseal_last_sealed_epoch_timestamp_seconds", Gauge, "Start of the newest sealed epoch, Unix seconds.";
    SEAL_FAILURES_TOTAL = "chatseal_seal_failures_total", Counter, "Seal attempts that failed and will be retried.";
    COVERAGE_RATIO = "chatseal_coverage_ratio", Gauge, "Fraction of the last sealed epoch during which the channel was joined, per channel.";
    // backups and recovery
    BACKUP_LAST_SUCCESS = "chatseal_backup_last_success_timestamp_seconds", Gauge, "Creation time of the newest verified backup, Unix seconds (0: none yet).";
    BACKUP_SECONDS = "chatseal_backup_duration_seconds", Histogram, "Duration of one backup: copy, checks (quick_check, digests) and manifest.";
    BACKUP_SIZE_BYTES = "chatseal_backup_size_bytes", Gauge, "Size of the newest verified backup, bytes.";
    BACKUP_FAILURES_TOTAL = "chatseal_backup_failures_total", Counter, "Backups that failed (each is logged and retried).";
    RECOVERIES_TOTAL = "chatseal_recoveries_total", Counter, "Damaged stores found at start-up, by outcome (restored from a backup, refused by config, failed).";
    SEALS_DAMAGED = "chatseal_seals_damaged", Gauge, "Sealed channel-epochs this process found not to match their digest since it started (the background digest check, or a proof or bundle built from their rows); refused for proofs and publishing; the next start restores or refuses the store (backup.on_corruption).";
    DIGEST_CHECK_DONE = "chatseal_digest_check_done", Gauge, "1 once every seal present at start-up has been checked against its digest (a budget at start-up, the rest in the background after ready), 0 while the check runs.";
    // supervision
    ACTOR_RESTARTS_TOTAL = "chatseal_actor_restarts_total", Counter, "Actor restarts by the supervisor, by actor kind.";
    // http
    HTTP_REQUESTS_TOTAL = "chatseal_http_requests_total", Counter, "HTTP requests, by route and status.";
    HTTP_SECONDS = "chatseal_http_request_duration_seconds", Histogram, "HTTP request duration, by route.";
    HTTP_CONNECTIONS = "chatseal_http_connections", Gauge, "HTTP connections open right now (at most the effective http.max_connections).";
    HTTP_ACCEPT_ERRORS_TOTAL = "chatseal_http_accept_errors_total", Counter, "HTTP accepts that failed (e.g. out of file descriptors); accepting pauses with a backoff instead of spinning.";
    HTTP_STORE_TIMEOUTS_TOTAL = "chatseal_http_store_timeouts_total", Counter, "HTTP requests answered 503 store_timeout because the store did not answer within http.store_timeout.";
    // configuration the alerts and dashboards need
    EPOCH_LENGTH_SECONDS = "chatseal_epoch_length_seconds", Gauge, "Configured epoch length (epoch.length), seconds.";
    // cluster (cluster.md); single daemons report themselves as a one-member cluster
    CLUSTER_REPLICAS = "chatseal_cluster_replicas", Gauge, "Configured cluster.replicas: how many members should read each channel (1 outside a cluster).";
    CLUSTER_MEMBERS = "chatseal_cluster_members", Gauge, "Live members of the cluster (lease running, database clock), as this member last read them.";
    CLUSTER_SLOTS_HELD = "chatseal_cluster_slots_held", Gauge, "Channel slots this member holds (channels it reads).";
    CLUSTER_UNOWNED_SLOTS = "chatseal_cluster_unowned_slots", Gauge, "Channel slots of the cluster's channel set held by no live member.";
    CLUSTER_UNOWNED_SECONDS = "chatseal_cluster_unowned_slot_seconds", Gauge, "Age of the oldest channel slot held by no live member, seconds (0: none).";
    CLUSTER_CHANNEL_READERS = "chatseal_cluster_channel_readers", Gauge, "Live members reading each channel (its held slots), per channel.";
    CLUSTER_ROLE_HELD = "chatseal_cluster_role_held", Gauge, "1 while this member holds the role (sealer, backup), else 0.";
    CLUSTER_ROLE_FENCE = "chatseal_cluster_role_fence", Gauge, "Fencing number of the role's current tenure as this member last saw it, by role.";
    CLUSTER_TAKEOVERS_TOTAL = "chatseal_cluster_takeovers_total", Counter, "Channel slots or roles this member took over from a member whose lease ran out, by kind (slot, role).";
    // process (read from /proc/self every 5 s; Linux only)
    PROCESS_RESIDENT_MEMORY = "chatseal_process_resident_memory_bytes", Gauge, "Resident memory of the process, bytes.";
    PROCESS_CPU_SECONDS_TOTAL = "chatseal_process_cpu_seconds_total", Counter, "User plus system CPU time of the process, seconds (read from /proc at each scrape, to 10 ms).";
    PROCESS_OPEN_FDS = "chatseal_process_open_fds", Gauge, "File descriptors the process has open.";
    PROCESS_START_TIME = "chatseal_process_start_time_seconds", Gauge, "Start time of the process, Unix seconds.";
    // publishing (refreshed every 10 s and on each publication record)
    UNPUBLISHED_SEALS = "chatseal_unpublished_seals", Gauge, "Sealed, non-empty channel-epochs without a publication record (POST /v1/admin/published).";
    UNPUBLISHED_OLDEST_SECONDS = "chatseal_unpublished_oldest_seconds", Gauge, "Age of the oldest sealed, non-empty channel-epoch without a publication record, seconds since it was sealed (0 when none).";
}

/// Histogram buckets, in the metric's base unit, chosen from what was measured (issue 21):
/// - HTTP requests: most answers take 0.1 to 0.5 ms on loopback (proofs from a warm cache, the
///   /metrics render), so the buckets start at 50 us; a slow store read can take seconds.
/// - flush and seal durations: a few ms for a small flush or seal, up to seconds for a seal of
///   1,000,000 participants.
/// - join waits: the process-wide join limiter (18 per 12.5 s by default) makes the last of
///   1,000 channels wait about 700 s, so the buckets reach 20 minutes.
/// - seal sizes and flush batches: from 1 to 1,000,000 participants per seal and from 1 event
///   to the cap `store.max_flush_events` (default 50,000, at most `store.max_pending_events`,
///   default 1,000,000) per flush: powers of two up to 2^20, so a quantile read from them is
///   within a factor of two at every size (1, 10, 100, 1000 read 150 participants as 982).
pub fn buckets(name: &str) -> Option<&'static [f64]> {
    const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
    const HTTP: &[f64] = &[
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    const JOIN_WAIT: &[f64] = &[0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0];
    const COUNTS: &[f64] = &[
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
        128.0,
        256.0,
        512.0,
        1_024.0,
        2_048.0,
        4_096.0,
        8_192.0,
        16_384.0,
        32_768.0,
        65_536.0,
        131_072.0,
        262_144.0,
        524_288.0,
        1_048_576.0,
    ];
    match name {
        FLUSH_SECONDS | FLUSH_PHASE_SECONDS | SEAL_SECONDS => Some(SECONDS),
        HTTP_SECONDS => Some(HTTP),
        JOIN_WAIT_SECONDS => Some(JOIN_WAIT),
        FLUSH_BATCH_EVENTS | SEAL_PARTICIPANTS => Some(COUNTS),
        BACKUP_SECONDS => Some(&[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_rules() {
        let mut seen = std::collections::HashSet::new();
        for d in ALL {
            assert!(d.name.starts_with("chatseal_"), "{}", d.name);
            assert!(seen.insert(d.name), "duplicate {}", d.name);
            assert!(!d.help.is_empty());
            match d.kind {
                Kind::Counter => assert!(d.name.ends_with("_total"), "{}", d.name),
                Kind::Gauge | Kind::Histogram => assert!(!d.name.ends_with("_total"), "{}", d.name),
            }
            if d.kind == Kind::Histogram {
                let b = buckets(d.name).unwrap_or_else(|| panic!("{} has no buckets", d.name));
                assert!(b.windows(2).all(|w| w[0] < w[1]), "{} buckets must rise: {b:?}", d.name);
            }
        }
    }

    #[test]
    fn buckets_cover_the_measured_ranges() {
        let b = |name| buckets(name).unwrap_or_default();
        assert_eq!(b(HTTP_SECONDS).first(), Some(&0.00005), "HTTP latency from 50 us");
        for name in [SEAL_PARTICIPANTS, FLUSH_BATCH_EVENTS] {
            assert!(b(name).last().is_some_and(|top| *top >= 1_000_000.0), "{name} reaches 1 M");
            assert!(b(name).windows(2).all(|w| w[1] <= 2.0 * w[0]), "{name}: no bucket wider than x2");
        }
        assert!(b(JOIN_WAIT_SECONDS).last().is_some_and(|top| *top >= 700.0), "1,000 channels wait up to ~700 s");
    }
}
