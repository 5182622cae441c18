//! The command line (clap): global flags and one subcommand per file in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// The parsed command line: global flags, then one subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "chatseal",
    version,
    about = "Records Twitch chat participation per hour and seals it into keccak-256 merkle roots"
)]
pub struct Cli {
    /// Configuration file (TOML). Defaults < file < env CHATSEAL__SECTION__KEY.
    #[arg(long, global = true, env = "CHATSEAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `chatseal`; each runs from its own file in `commands/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: connect, record, seal, serve HTTP. SIGTERM/SIGINT stop it gracefully.
    Run,
    /// Load and validate the configuration; print it with secrets redacted (exit 78 listing every problem).
    CheckConfig,
    /// Seal an epoch now (idempotent: a sealed channel-epoch is reported, never changed).
    Seal {
        /// Epoch start, Unix seconds.
        #[arg(long)]
        epoch: i64,
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Print the proof JSON of a user in a sealed epoch, as the HTTP API does.
    Proof {
        /// Epoch start, Unix seconds.
        #[arg(long)]
        epoch: i64,
        /// Channel login ('#' and case are normalised).
        #[arg(long)]
        channel: String,
        /// The user's Twitch login (any case).
        #[arg(long)]
        user: String,
        /// The claim proof (amount) instead of the participation proof.
        #[arg(long)]
        claim: bool,
    },
    /// Record an opt-out (with an audit entry) in the store: no proofs for any epoch from now
    /// on, left out of every seal not yet made. For a stopped daemon or a shared PostgreSQL;
    /// a running daemon takes `POST /v1/admin/opt-out`.
    OptOut {
        /// The user's Twitch login (any case).
        #[arg(long)]
        user: String,
        /// Why, kept in the store and the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Offline showcase: the daemon against an in-process simulated Twitch chat with short
    /// epochs; prints each sealed root and a checked sample proof, serves /metrics. No network.
    Demo {
        /// How long to run, e.g. 60s, 2m (humantime).
        #[arg(long = "for", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
        duration: std::time::Duration,
    },
    /// Copy every table between stores (SQLite <-> PostgreSQL, either way), then compare row
    /// counts and sealed roots: exit 0 only when equal, 70 when they differ, 64 when the target
    /// is neither empty nor a partial copy of the source. Safe to run again. Stop the daemon first.
    Migrate {
        /// Source store URL (with --legacy: the old system's database). Env CHATSEAL_MIGRATE_FROM.
        #[arg(long, env = "CHATSEAL_MIGRATE_FROM", hide_env_values = true)]
        from: String,
        /// Target store URL (created and migrated if needed). Env CHATSEAL_MIGRATE_TO.
        #[arg(long, env = "CHATSEAL_MIGRATE_TO", hide_env_values = true)]
        to: String,
        /// --from is a database of the old system: import it, keeping its sealed roots as they were.
        #[arg(long)]
        legacy: bool,
        /// Rows per read and per target transaction.
        #[arg(long, default_value_t = chatseal_schema::copy::CHUNK_ROWS)]
        chunk_rows: usize,
    },
    /// Feed a chat log (raw IRC lines with tags, optionally after "[YYYY-MM-DD HH:MM:SS] ", UTC)
    /// into the store through the live parse + flush path: sealed epochs never change, message
    /// ids count once. For a stopped daemon (SQLite) or a shared PostgreSQL.
    Replay {
        /// The log file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Take, list or verify backups of the store (in backup.dir).
    Backup {
        /// Which backup action.
        #[command(subcommand)]
        action: BackupAction,
    },
    /// Restore a verified backup into a store: refuses a backup that fails verification, and
    /// an existing store without --force (whose files are then moved aside, never deleted).
    /// Stop the daemon first. Exit 0 restored, 1 refused, 64 when the backup cannot go there.
    Restore {
        /// Backup id (a folder of backup.dir) or the path of a backup folder.
        #[arg(long)]
        from: String,
        /// Target store URL. Default: store.url.
        #[arg(long)]
        to: Option<String>,
        /// Replace an existing store: its files are renamed to <name>.replaced-<time> first.
        #[arg(long)]
        force: bool,
    },
    /// Check the store, sealing, coverage and backups without writing anything: the store opens
    /// read-only (quick_check, every seal's digest, durability settings), past epochs left
    /// unsealed, coverage gaps, the newest backup's age. Exit 0 ok (warnings are printed), 1
    /// when a check failed (an operator is needed), 69 store unreachable, 78 bad config.
    Doctor {
        /// Coverage gaps are looked for in this many of the newest closed epochs.
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        epochs: u32,
        /// One JSON object instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Check a proof offline with the on-chain fold: exit 0 valid, 1 invalid, 64 malformed input.
    Verify {
        /// The root to fold to, 64 hex digits with or without 0x.
        #[arg(long)]
        root: String,
        /// The leaf being proven, 64 hex digits with or without 0x.
        #[arg(long)]
        leaf: String,
        /// Comma-separated sibling hashes, bottom-up; "" is the empty proof of a one-leaf tree.
        #[arg(long, allow_hyphen_values = true)]
        proof: String,
    },
    /// The store's channel set (every daemon on the store reads it): list, add or remove
    /// channels. Changes are audited and reach running daemons within about a second.
    Channels {
        /// Which channel-set action.
        #[command(subcommand)]
        action: ChannelsAction,
    },
    /// The publish bundle of a sealed channel-epoch (every proof of both trees, counts, total,
    /// dataset hash), streamed to --out or stdout; or, with --unpublished, the sealed
    /// channel-epochs still waiting for a publication record, oldest first, one JSON per line.
    /// Exit 0, 1 not sealed (or empty, or imported from the old system), 64 usage.
    Export {
        /// Epoch start, Unix seconds.
        #[arg(long, conflicts_with = "unpublished")]
        epoch: Option<i64>,
        /// Channel login.
        #[arg(long, conflicts_with = "unpublished")]
        channel: Option<String>,
        /// Write the bundle here (through FILE.tmp, renamed when complete) instead of stdout.
        #[arg(long, conflicts_with = "unpublished")]
        out: Option<PathBuf>,
        /// List what still waits for `POST /v1/admin/published` instead.
        #[arg(long)]
        unpublished: bool,
        /// With --unpublished: list at most this many, the oldest.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
    /// Check a publish bundle offline: rebuild both trees from its entries, fold every proof,
    /// recompute counts, total, dataset hash and channel key, check the program's limits.
    /// Exit 0 valid, 1 invalid (naming the first bad entry), 64 malformed.
    VerifyExport {
        /// The bundle (JSON) written by `chatseal export` or GET /v1/epochs/{epoch}/{channel}/export.
        file: PathBuf,
        /// Most claims the target program accepts in one claim tree (e.g. 1024).
        #[arg(long)]
        max_claims: Option<u64>,
        /// Longest proof the target program accepts, nodes (e.g. 20).
        #[arg(long)]
        max_proof_len: Option<u64>,
    },
}

/// `chatseal backup ...`
#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Take a backup now (works beside a running daemon on SQLite), then apply retention.
    Now,
    /// List the backups: id, age, size, sealed epochs, whether verified.
    List,
    /// Re-check one backup (or all): sha256 of every file, quick_check, every seal's digest,
    /// row counts. Exit 1 when one is bad.
    Verify {
        /// Backup id or folder; all backups when absent.
        id: Option<String>,
    },
}

/// `chatseal channels ...`
#[derive(Debug, Subcommand)]
pub enum ChannelsAction {
    /// The channels of the set: name, when and by whom (config, cli, admin) each was added.
    List,
    /// Add channels (logins; '#' and case are normalised).
    Add {
        /// Channel logins to add.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Remove channels: running daemons part them, after making what they read durable.
    Remove {
        /// Channel logins to remove.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
}
