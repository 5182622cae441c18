//! chatseal: records who took part in each Twitch channel in each hour and seals every finished
//! hour into keccak-256 merkle roots. This library is the binary's body: CLI, settings, the
//! daemon's wiring, HTTP, one module per command, and the simulated Twitch server used by the
//! demo and the end-to-end tests.

pub mod cli;
pub mod commands;
pub mod daemon;
pub mod damaged_seals;
pub mod epoch_length;
pub mod exit;
pub mod export;
pub mod http;
pub mod legacy;
pub mod opt_outs;
pub mod proofs;
pub mod proofs_cache;
pub mod quote;
pub mod replay;
pub mod settings;
pub mod telemetry;
pub mod timefmt;
pub mod twitchsim;
pub mod viewer;

use clap::Parser;

use cli::{Cli, Command};
use exit::Exit;

/// Parses the command line, runs the command, exits with its code: the one place where an
/// [`Exit`] becomes the process's exit status.
pub fn main_entry() {
    std::process::exit(run_cli().code());
}

/// Parses the command line and runs the command.
fn run_cli() -> Exit {
    // Usage errors exit 64 (EX_USAGE), never clap's 2; --help and --version print and exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage } else { Exit::Ok };
        }
    };
    match cli.command {
        Command::Demo { .. } => commands::demo::init_logging(cli.log_format),
        _ => telemetry::init_logging(cli.log_format),
    }
    // Test builds only: named failpoints configured by the FAILPOINTS environment variable.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let code = match &cli.command {
        Command::Verify { root, leaf, proof } => commands::verify::run(root, leaf, proof),
        Command::CheckConfig => commands::check_config::run(cli.config.as_deref()),
        Command::VerifyExport { file, max_claims, max_proof_len } => {
            commands::verify_export::run(file, *max_claims, *max_proof_len)
        }
        cmd => {
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    return Exit::Internal;
                }
            };
            let config = cli.config.as_deref();
            rt.block_on(async {
                match cmd {
                    Command::Run => commands::run::main(config).await,
                    Command::Seal { epoch, channel } => commands::seal::main(config, *epoch, channel.clone()).await,
                    Command::Proof { epoch, channel, user, claim } => {
                        commands::proof::main(config, *epoch, channel, user, *claim).await
                    }
                    Command::OptOut { user, reason } => commands::opt_out::main(config, user, reason.as_deref()).await,
                    Command::Demo { duration } => commands::demo::main(config, *duration).await,
                    Command::Migrate { from, to, legacy, chunk_rows } => {
                        commands::migrate::main(from, to, *legacy, *chunk_rows).await
                    }
                    Command::Replay { from } => commands::replay::main(config, from).await,
                    Command::Backup { action } => commands::backup::main(config, action).await,
                    Command::Doctor { epochs, json } => commands::doctor::main(config, *epochs, *json).await,
                    Command::Restore { from, to, force } => {
                        commands::restore::main(config, from, to.as_deref(), *force).await
                    }
                    Command::Channels { action } => commands::channels::main(config, action).await,
                    Command::Export { epoch, channel, out, unpublished, limit } => {
                        let args = commands::export::ExportArgs {
                            epoch: *epoch,
                            channel: channel.clone(),
                            out: out.clone(),
                            unpublished: *unpublished,
                            limit: *limit,
                        };
                        commands::export::main(config, &args).await
                    }
                    Command::Verify { .. } | Command::CheckConfig | Command::VerifyExport { .. } => {
                        unreachable!("handled without a runtime")
                    }
                }
            })
        }
    };
    code
}
