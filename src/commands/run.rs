//! `chatseal run`: the daemon, stopped by SIGTERM/SIGINT (or SIGQUIT); a second signal exits at
//! once. SIGHUP, SIGUSR1 and SIGUSR2 never stop it (`daemon::signals`).

use std::path::Path;

use tokio::net::TcpListener;

use crate::daemon::channel_set::Reload;
use crate::daemon::signals::{self, Signals};
use crate::daemon::{run, RunOptions};
use crate::exit::Exit;
use crate::settings;

/// Resolves on the first SIGTERM, SIGINT or SIGQUIT (`quit`, see `daemon::signals`); a second
/// one exits the process immediately.
pub async fn shutdown_signal(quit: std::sync::Arc<tokio::sync::Notify>) {
    wait_signal(&quit).await;
    tracing::info!("signal received: stopping gracefully (a second signal exits at once)");
    tokio::spawn(async move {
        wait_signal(&quit).await;
        eprintln!("second signal: exiting now");
        std::process::exit(Exit::Interrupted.code());
    });
}

/// The next stop signal: SIGTERM, SIGINT and SIGQUIT are all forwarded to `quit` by
/// `signals::install` (which stores one permit when nobody waits yet, so a signal during
/// start-up is not lost).
async fn wait_signal(quit: &tokio::sync::Notify) {
    #[cfg(unix)]
    quit.notified().await;
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = quit.notified() => {}
    }
}

/// Runs the daemon until it is stopped; the exit code says how it ended.
pub async fn main(config: Option<&Path>) -> Exit {
    // First: from here on no signal ends the process with its default action.
    let Signals { reload, status, quit } = signals::install();
    let shutdown = shutdown_signal(quit);
    let s = match settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Config;
        }
    };
    let listener = match TcpListener::bind(s.http.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on http.listen = {}: {e}", s.http.listen);
            return Exit::Unavailable;
        }
    };
    let opts = RunOptions {
        reload: Reload { signal: reload, config: config.map(Path::to_path_buf) },
        status,
        ..RunOptions::default()
    };
    match run(s, listener, shutdown, opts).await {
        Ok(()) => Exit::Ok,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("chatseal: {e}");
            e.exit_code()
        }
    }
}
