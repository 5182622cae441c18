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
/// one exits the process immediately. The SIGTERM and SIGINT handlers are installed when this
/// is called, not when the future is first polled: call it first thing, so a stop signal that
/// arrives while the daemon starts (its HTTP server already answering) stops it gracefully
/// instead of ending the process with the signal's default action.
pub fn shutdown_signal(quit: std::sync::Arc<tokio::sync::Notify>) -> impl std::future::Future<Output = ()> {
    let mut stops = StopSignals::install();
    async move {
        stops.wait(&quit).await;
        tracing::info!("signal received: stopping gracefully (a second signal exits at once)");
        tokio::spawn(async move {
            stops.wait(&quit).await;
            eprintln!("second signal: exiting now");
            std::process::exit(Exit::Interrupted.code());
        });
    }
}

/// The SIGTERM and SIGINT streams (None where a handler could not be installed: that signal
/// keeps its default action).
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals { term: signal(SignalKind::terminate()).ok(), int: signal(SignalKind::interrupt()).ok() }
        }
        #[cfg(not(unix))]
        {
            StopSignals {}
        }
    }

    /// The next SIGTERM, SIGINT or `quit` notification.
    async fn wait(&mut self, quit: &tokio::sync::Notify) {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.term) => {}
                _ = next(&mut self.int) => {}
                _ = quit.notified() => {}
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = quit.notified() => {}
            }
        }
    }
}

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
