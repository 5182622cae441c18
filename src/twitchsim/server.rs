//! The fake server's accept loop: takes connections on its listener, numbers them, and runs a
//! session for each until shutdown; on shutdown it closes the listener, then waits for every
//! session to end so that no socket outlives [`super::FakeTwitch::shutdown`].

use super::registry::Shared;
use super::session;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::debug;

/// Pause after a failed accept (out of file descriptors, ...) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

/// Accepts until `shared.stop` is cancelled, then drains the sessions.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Err(e) = stream.set_nodelay(true) {
                        debug!(connection = id, error = %e, "twitchsim: set_nodelay failed");
                    }
                    debug!(connection = id, %peer, "twitchsim: connection accepted");
                    sessions.spawn(session::run(Arc::clone(&shared), stream, id));
                }
                Err(e) => {
                    debug!(error = %e, "twitchsim: accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            Some(ended) = sessions.join_next(), if !sessions.is_empty() => {
                if let Err(e) = ended {
                    debug!(error = %e, "twitchsim: session task ended abnormally");
                }
            }
        }
    }
    drop(listener);
    while let Some(ended) = sessions.join_next().await {
        if let Err(e) = ended {
            debug!(error = %e, "twitchsim: session task ended abnormally");
        }
    }
    debug!("twitchsim: server stopped");
}
