//! `chatseal run`: the daemon, stopped by SIGTERM/SIGINT; a second signal exits at once.

use std::path::Path;

use tokio::net::TcpListener;

use crate::daemon::{run, RunOptions};
use crate::exit;
use crate::settings;

/// Resolves on the first SIGTERM or SIGINT; a second one exits the process immediately.
pub async fn shutdown_signal() {
    wait_signal().await;
    tracing::info!("signal received: stopping gracefully (a second signal exits at once)");
    tokio::spawn(async {
        wait_signal().await;
        eprintln!("second signal: exiting now");
        std::process::exit(130);
    });
}

async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub async fn main(config: Option<&Path>) -> i32 {
    let s = match settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit::CONFIG;
        }
    };
    let listener = match TcpListener::bind(s.http.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on http.listen = {}: {e}", s.http.listen);
            return exit::UNAVAILABLE;
        }
    };
    match run(s, listener, shutdown_signal(), RunOptions::default()).await {
        Ok(()) => exit::OK,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("chatseal: {e}");
            e.exit_code()
        }
    }
}
