//! chatseal: records who took part in each Twitch channel in each hour and seals every finished
//! hour into keccak-256 merkle roots. This library is the binary's body: CLI, settings, the
//! daemon's wiring, HTTP, one module per command, and the simulated Twitch server used by the
//! demo and the end-to-end tests.

pub mod cli;
pub mod commands;
pub mod daemon;
pub mod exit;
pub mod http;
pub mod proofs;
pub mod proofs_cache;
pub mod settings;
pub mod telemetry;
pub mod twitchsim;

use clap::Parser;

use cli::{Cli, Command};

/// Parses the command line, runs the command, exits with its code.
pub fn main_entry() {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format);
    // Test builds only: named failpoints configured by the FAILPOINTS environment variable.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let code = match &cli.command {
        Command::Verify { root, leaf, proof } => commands::verify::run(root, leaf, proof),
        Command::CheckConfig => commands::check_config::run(cli.config.as_deref()),
        cmd => {
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    std::process::exit(exit::INTERNAL);
                }
            };
            let config = cli.config.as_deref();
            rt.block_on(async {
                match cmd {
                    Command::Run => commands::run::main(config).await,
                    Command::Seal { epoch, channel } => commands::seal::main(config, *epoch, channel.clone()).await,
                    Command::Proof { epoch, channel, user, claim } => commands::proof::main(config, *epoch, channel, user, *claim).await,
                    Command::OptOut { user, reason } => commands::opt_out::main(config, user, reason.as_deref()).await,
                    Command::Verify { .. } | Command::CheckConfig => unreachable!("handled without a runtime"),
                }
            })
        }
    };
    std::process::exit(code);
}
