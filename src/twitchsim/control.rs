//! [`FakeTwitch`], the handle that starts, drives, observes and stops the fake server. Cheap
//! to clone (two `Arc`s); the server stops when [`FakeTwitch::shutdown`] is called or the last
//! handle is dropped. Channel arguments are accepted with or without `#`, in any case, and
//! reported without `#`, lowercased.

use super::command::Secret;
use super::lines::channel_key;
use super::registry::{Conn, Shared};
use super::{server, FakeTwitchConfig};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::DropGuard;
use tracing::debug;

/// How often [`FakeTwitch::wait_for`] re-checks its condition.
const WAIT_POLL: Duration = Duration::from_millis(5);

/// What one live connection has told the server so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Connection id (1, 2, ... in accept order), as in [`FakeTwitch::join_log`].
    pub id: u64,
    /// NICK, lowercased, once given.
    pub nick: Option<String>,
    /// PASS, once given (redacted in Debug).
    pub pass: Option<Secret>,
    /// Capabilities requested with CAP REQ.
    pub caps: Vec<String>,
    /// Channels joined and not parted (keys without `#`).
    pub channels: Vec<String>,
    /// PONGs received on this connection.
    pub pongs: u64,
}

/// Handle on a running fake Twitch server.
#[derive(Clone)]
pub struct FakeTwitch {
    shared: Arc<Shared>,
    addr: SocketAddr,
    life: Arc<Life>,
}

/// Owned by all handles together: stops the server when the last one goes.
struct Life {
    _stop_on_drop: DropGuard,
    accept: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FakeTwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTwitch").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl FakeTwitch {
    /// Binds `cfg.addr` and starts serving; fails when the address cannot be bound or the TLS
    /// certificate and key cannot serve (`InvalidInput`).
    pub async fn start(cfg: FakeTwitchConfig) -> std::io::Result<FakeTwitch> {
        let acceptor = match &cfg.tls {
            Some(tls) => Some(tls.acceptor().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?),
            None => None,
        };
        let listener = TcpListener::bind(cfg.addr).await?;
        let addr = listener.local_addr()?;
        let refuse = cfg.refuse_channels.iter().map(|c| channel_key(c)).collect();
        let shared = Arc::new(Shared::new(refuse, cfg.server_ping_interval, cfg.answer_pings));
        let accept = tokio::spawn(server::accept_loop(Arc::clone(&shared), listener, acceptor));
        debug!(%addr, "twitchsim: fake Twitch server listening");
        let life =
            Life { _stop_on_drop: shared.stop.clone().drop_guard(), accept: tokio::sync::Mutex::new(Some(accept)) };
        Ok(FakeTwitch { shared, addr, life: Arc::new(life) })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True once some live connection has joined `channel` (false after `timeout`).
    pub async fn wait_joined(&self, channel: &str, timeout: Duration) -> bool {
        let key = channel_key(channel);
        wait_on(&self.shared.joined, timeout, || {
            self.shared.lock().conns.values().any(|c| c.live() && c.channels.contains(&key))
        })
        .await
    }

    /// Channels some live connection has joined, sorted, without `#`.
    pub fn joined_channels(&self) -> Vec<String> {
        let reg = self.shared.lock();
        let all: BTreeSet<&String> = reg.conns.values().filter(|c| c.live()).flat_map(|c| c.channels.iter()).collect();
        all.into_iter().cloned().collect()
    }

    /// Live connections that have joined `channel` (with or without `#`, any case).
    pub fn joined_connections(&self, channel: &str) -> usize {
        let key = channel_key(channel);
        let reg = self.shared.lock();
        reg.conns.values().filter(|c| c.live() && c.channels.contains(&key)).count()
    }

    /// Every JOIN received (refused ones included): when, which channel, which connection.
    pub fn join_log(&self) -> Vec<(Instant, String, u64)> {
        self.shared.lock().join_log.clone()
    }

    /// Live connections.
    pub fn connections(&self) -> usize {
        self.shared.lock().conns.values().filter(|c| c.live()).count()
    }

    /// Connections accepted since start.
    pub fn total_connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Accepted connections whose TLS handshake failed (a client that does not trust our
    /// certificate, or one speaking plain IRC to a TLS server); always 0 without TLS.
    pub fn tls_handshake_failures(&self) -> u64 {
        self.shared.tls_failures.load(Ordering::SeqCst)
    }

    /// PONGs received from clients since start (answers to server PINGs).
    pub fn pongs_received(&self) -> u64 {
        self.shared.pongs.load(Ordering::SeqCst)
    }

    /// What each live connection has told the server, by connection id.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let reg = self.shared.lock();
        let mut out: Vec<SessionInfo> =
            reg.conns.iter().filter(|(_, c)| c.live()).map(|(id, c)| session_info(*id, c)).collect();
        out.sort_by_key(|s| s.id);
        out
    }

    /// Sends `line` (without `\r\n`) to every connection joined to `channel`; returns how many
    /// got it. A client whose outbox is full is dropped instead.
    pub fn send_raw(&self, channel: &str, line: &str) -> usize {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.send_raw_bytes(channel, &bytes)
    }

    /// Sends `bytes` exactly as given (no line ending added) to every connection joined to
    /// `channel`; returns how many got them.
    pub fn send_raw_bytes(&self, channel: &str, bytes: &[u8]) -> usize {
        let key = channel_key(channel);
        self.shared.deliver(Bytes::copy_from_slice(bytes), |c| c.channels.contains(&key))
    }

    /// Like [`FakeTwitch::send_raw_bytes`], but waits while a joined client's outbox is full
    /// instead of dropping it, so a load generator runs at the pace of the slowest reader.
    pub async fn feed(&self, channel: &str, bytes: impl Into<Bytes>) -> usize {
        if self.shared.is_silent() {
            return 0;
        }
        let key = channel_key(channel);
        let bytes = bytes.into();
        let targets: Vec<_> = {
            let reg = self.shared.lock();
            reg.conns
                .values()
                .filter(|c| c.live() && c.channels.contains(&key))
                .map(|c| (c.outbox.clone(), c.cancel.clone(), Arc::clone(&c.counters)))
                .collect()
        };
        let mut delivered = 0;
        for (outbox, cancel, counters) in targets {
            counters.queued.fetch_add(1, Ordering::SeqCst);
            let sent = tokio::select! {
                _ = cancel.cancelled() => false,
                r = outbox.send(bytes.clone()) => r.is_ok(),
            };
            if sent {
                delivered += 1;
            } else {
                counters.queued.fetch_sub(1, Ordering::SeqCst);
            }
        }
        delivered
    }

    /// Sends `line` (without `\r\n`) to every connection, joined or not (RECONNECT, PING).
    pub fn broadcast_raw(&self, line: &str) {
        let bytes = Bytes::from(format!("{line}\r\n"));
        let n = self.shared.deliver(bytes, |_| true);
        debug!(connections = n, "twitchsim: broadcast");
    }

    /// Closes every connection abruptly (no QUIT, no notice).
    pub fn drop_all(&self) {
        for conn in self.shared.lock().conns.values() {
            conn.cancel.cancel();
        }
        debug!("twitchsim: dropped every connection");
    }

    /// Answer client PINGs (true) or ignore them (false: a stalled server).
    pub fn set_answer_pings(&self, on: bool) {
        self.shared.answer_pings.store(on, Ordering::SeqCst);
    }

    /// Send nothing at all (true) while keeping every socket open, or resume (false).
    /// Lines sent meanwhile are discarded, not delayed.
    pub fn set_silent(&self, on: bool) {
        self.shared.silent.store(on, Ordering::SeqCst);
    }

    /// True once everything queued to live connections has been written to their sockets.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        wait_on(&self.shared.progress, timeout, || {
            self.shared
                .lock()
                .conns
                .values()
                .filter(|c| c.live())
                .all(|c| c.counters.written.load(Ordering::SeqCst) >= c.counters.queued.load(Ordering::SeqCst))
        })
        .await
    }

    /// Polls `cond` every few milliseconds until it holds (true) or `timeout` passes (false).
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&FakeTwitch) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }

    /// Stops listening, closes every connection, and returns once all of them are closed
    /// (also when called from several handles at once).
    pub async fn shutdown(&self) {
        self.shared.stop.cancel();
        let mut accept = self.life.accept.lock().await;
        if let Some(accept) = accept.take() {
            if let Err(e) = accept.await {
                debug!(error = %e, "twitchsim: accept loop ended abnormally");
            }
        }
    }
}

fn session_info(id: u64, c: &Conn) -> SessionInfo {
    SessionInfo {
        id,
        nick: c.nick.clone(),
        pass: c.pass.clone(),
        caps: c.caps.clone(),
        channels: c.channels.iter().cloned().collect(),
        pongs: c.pongs,
    }
}

/// Waits until `cond` holds, re-checking whenever `notify` fires, for at most `timeout`.
async fn wait_on(notify: &Notify, timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if cond() {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return cond();
        }
    }
}
