//! The fake server's accept loop: takes connections on its listener, numbers them, and runs a
//! session for each (after a TLS handshake when the server speaks TLS) until shutdown; on
//! shutdown it closes the listener, then waits for every session to end so that no socket
//! outlives [`super::FakeTwitch::shutdown`].

use super::registry::Shared;
use super::{session, tls};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

/// Pause after a failed accept (out of file descriptors, ...) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(20);

/// Accepts until `shared.stop` is cancelled, then drains the sessions; with `tls`, each
/// stream is wrapped by the acceptor first.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: Option<TlsAcceptor>) {
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
                    match &tls {
                        None => {
                            let (reader, writer) = stream.into_split();
                            sessions.spawn(session::run(Arc::clone(&shared), reader, writer, id))
                        }
                        Some(acceptor) => sessions.spawn(serve_tls(Arc::clone(&shared), acceptor.clone(), stream, id)),
                    };
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

/// The TLS handshake, then the session; a failed handshake is counted and ends this
/// connection only.
async fn serve_tls(shared: Arc<Shared>, acceptor: TlsAcceptor, stream: TcpStream, id: u64) {
    let handshake = tokio::select! {
        _ = shared.stop.cancelled() => return,
        r = tls::handshake(&acceptor, stream) => r,
    };
    match handshake {
        Ok(stream) => {
            let (reader, writer) = tokio::io::split(stream);
            session::run(shared, reader, writer, id).await
        }
        Err(e) => {
            shared.tls_failures.fetch_add(1, Ordering::SeqCst);
            shared.progress.notify_waiters();
            debug!(connection = id, error = %e, "twitchsim: TLS handshake failed; connection closed");
        }
    }
}
