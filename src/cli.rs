//! The command line (clap): global flags and one subcommand per file in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(name = "chatseal", version, about = "Records Twitch chat participation per hour and seals it into keccak-256 merkle roots")]
pub struct Cli {
    /// Configuration file (TOML). Defaults < file < env CHATSEAL__SECTION__KEY.
    #[arg(long, global = true, env = "CHATSEAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

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
        #[arg(long)]
        epoch: i64,
        #[arg(long)]
        channel: String,
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
    /// Check a proof offline with the on-chain fold: exit 0 valid, 1 invalid, 64 malformed input.
    Verify {
        #[arg(long)]
        root: String,
        #[arg(long)]
        leaf: String,
        /// Comma-separated sibling hashes, bottom-up; "" is the empty proof of a one-leaf tree.
        #[arg(long, allow_hyphen_values = true)]
        proof: String,
    },
}
