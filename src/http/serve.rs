//! The accept loop (hyper-util under axum's router) with the connection limits of `[http]`:
//! hyper's header-read timeout (`header_timeout`), the idle timeout (`idle.rs`), and a cap on
//! open connections taken BEFORE `accept`, so clients past it wait in the kernel's listen queue
//! and hold none of the process's file descriptors. The cap is lowered to a quarter of the
//! open-file limit (RLIMIT_NOFILE): whatever HTTP clients do, the store and the IRC connections
//! keep the rest. A failed accept (out of descriptors, EMFILE) pauses accepting with a growing
//! delay instead of spinning, logged once per streak.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use chatseal_actors::telemetry::names as m;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

use super::idle::{Busy, IdleIo};
use super::limits::Limits;

/// Share of the open-file limit the HTTP server may hold at most: 1/N.
const FD_SHARE_DIVISOR: u64 = 4;
/// First pause after a failed accept; doubled per failure in a row up to [`ACCEPT_PAUSE_MAX`].
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(10);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// The connection cap in effect: the configured one, at most a quarter of the soft open-file
/// limit (and at least 1).
pub fn connection_cap(configured: usize, nofile_soft: Option<u64>) -> usize {
    let share = nofile_soft.map_or(usize::MAX, |n| usize::try_from(n / FD_SHARE_DIVISOR).unwrap_or(usize::MAX));
    configured.min(share).max(1)
}

/// The soft RLIMIT_NOFILE of this process (None: unlimited or unknown).
pub fn nofile_soft_limit() -> Option<u64> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// Errors that concern one client only (it left before we accepted): accept again at once.
fn is_client_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// The pause after a failed accept, given the one before it in the same streak.
pub fn next_pause(previous: Option<Duration>) -> Duration {
    previous.map_or(ACCEPT_PAUSE_MIN, |p| (p * 2).min(ACCEPT_PAUSE_MAX))
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets the open
/// connections finish their request (idle ones close at once).
pub async fn serve_limited(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let cap = connection_cap(limits.max_connections, nofile_soft_limit());
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            effective = cap,
            "http.max_connections lowered to a quarter of the open-file limit (RLIMIT_NOFILE) so HTTP clients cannot starve the store and IRC of descriptors; raise LimitNOFILE to allow more"
        );
    }
    tracing::info!(
        max_connections = cap,
        header_timeout = %humantime::format_duration(limits.header_timeout),
        idle_timeout = %humantime::format_duration(limits.idle_timeout),
        body_timeout = %humantime::format_duration(limits.body_timeout),
        max_body_bytes = limits.max_body_bytes,
        store_timeout = %humantime::format_duration(limits.store_timeout),
        "HTTP limits"
    );
    let slots = Arc::new(Semaphore::new(cap));
    let graceful = GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    let mut pause: Option<Duration> = None;
    let mut failures: u64 = 0;
    loop {
        let slot = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) if is_client_gone(&e) => continue,
            Err(e) => {
                drop(slot);
                metrics::counter!(m::HTTP_ACCEPT_ERRORS_TOTAL).increment(1);
                failures += 1;
                let p = next_pause(pause);
                if pause.is_none() {
                    tracing::warn!(error = %e, "HTTP accept failed; pausing accepts with a backoff up to {ACCEPT_PAUSE_MAX:?} until it succeeds (out of file descriptors? see chatseal_process_open_fds)");
                }
                pause = Some(p);
                tokio::time::sleep(p).await;
                continue;
            }
        };
        if pause.take().is_some() {
            tracing::info!(failures, "HTTP accepts work again");
            failures = 0;
        }
        let _ = stream.set_nodelay(true);
        let busy = Busy::default();
        let io = TokioIo::new(IdleIo::new(stream, limits.idle_timeout, busy.clone()));
        let router = app.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let guard = busy.enter();
            let mut router = router.clone();
            async move {
                let resp = router.call(req).await;
                drop(guard);
                resp
            }
        });
        let conn = graceful.watch(http1.serve_connection(io, service));
        metrics::gauge!(m::HTTP_CONNECTIONS).increment(1.0);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP connection closed with an error");
            }
            metrics::gauge!(m::HTTP_CONNECTIONS).decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_a_quarter_of_the_open_file_limit_at_most() {
        assert_eq!(connection_cap(256, Some(128)), 32);
        assert_eq!(connection_cap(256, Some(1024)), 256);
        assert_eq!(connection_cap(256, Some(65_536)), 256);
        assert_eq!(connection_cap(256, None), 256);
        assert_eq!(connection_cap(256, Some(3)), 1, "never zero");
    }

    #[test]
    fn accept_pauses_grow_and_stay_bounded() {
        let mut p = None;
        let mut seen = Vec::new();
        for _ in 0..12 {
            let next = next_pause(p);
            seen.push(next);
            p = Some(next);
        }
        assert_eq!(seen[0], ACCEPT_PAUSE_MIN);
        assert!(seen.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*seen.last().unwrap(), ACCEPT_PAUSE_MAX);
    }
}
