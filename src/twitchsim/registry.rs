//! The fake server's shared state: one entry per live connection (its outbox, its cancel
//! token, what it told us: nick, PASS, caps, joined channels), the log of every JOIN, and the
//! runtime switches (answer pings, silent). Delivery to a connection never blocks: a full
//! outbox means the client stopped reading, and that client is dropped instead of letting
//! memory grow. The lock is a plain mutex held for short, await-free sections only.

use super::command::Secret;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Lines (or batches of bytes) a connection may have queued before it counts as not reading.
pub(crate) const OUTBOX_CAPACITY: usize = 8192;

/// Messages queued to and written by one connection, for [`super::FakeTwitch::wait_drained`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) written: AtomicU64,
}

/// One live connection.
pub(crate) struct Conn {
    pub(crate) outbox: mpsc::Sender<Bytes>,
    pub(crate) cancel: CancellationToken,
    pub(crate) counters: Arc<Counters>,
    pub(crate) nick: Option<String>,
    pub(crate) pass: Option<Secret>,
    pub(crate) caps: Vec<String>,
    pub(crate) channels: BTreeSet<String>,
    pub(crate) pongs: u64,
}

impl Conn {
    pub(crate) fn live(&self) -> bool {
        !self.cancel.is_cancelled()
    }
}

/// Everything behind the lock.
#[derive(Default)]
pub(crate) struct Registry {
    pub(crate) conns: HashMap<u64, Conn>,
    pub(crate) join_log: Vec<(Instant, String, u64)>,
}

/// State shared by the accept loop, the sessions and every [`super::FakeTwitch`] handle.
pub(crate) struct Shared {
    pub(crate) refuse: HashSet<String>,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) answer_pings: AtomicBool,
    pub(crate) silent: AtomicBool,
    pub(crate) accepted: AtomicU64,
    pub(crate) pongs: AtomicU64,
    /// Accepted connections whose TLS handshake failed (TLS servers only).
    pub(crate) tls_failures: AtomicU64,
    pub(crate) state: Mutex<Registry>,
    /// Signalled when a connection joins a channel.
    pub(crate) joined: Notify,
    /// Signalled when a writer has written something or a connection went away.
    pub(crate) progress: Notify,
    /// Cancelled on shutdown; every connection's token is a child of it.
    pub(crate) stop: CancellationToken,
}

impl Shared {
    pub(crate) fn new(refuse: HashSet<String>, ping_interval: Option<Duration>, answer_pings: bool) -> Shared {
        Shared {
            refuse,
            ping_interval,
            answer_pings: AtomicBool::new(answer_pings),
            silent: AtomicBool::new(false),
            accepted: AtomicU64::new(0),
            pongs: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            state: Mutex::new(Registry::default()),
            joined: Notify::new(),
            progress: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    /// The registry; a poisoned lock (a panic elsewhere while holding it) is still usable,
    /// since every update leaves it consistent.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn is_silent(&self) -> bool {
        self.silent.load(Ordering::Relaxed)
    }

    /// Queues `bytes` on every live connection `pick` selects; returns how many got it.
    pub(crate) fn deliver(&self, bytes: Bytes, pick: impl Fn(&Conn) -> bool) -> usize {
        if self.is_silent() {
            return 0;
        }
        let reg = self.lock();
        reg.conns
            .iter()
            .filter(|(_, conn)| conn.live() && pick(conn))
            .filter(|(id, conn)| push(**id, conn, bytes.clone()))
            .count()
    }

    /// Queues `bytes` on one connection; false when it is gone, dropped, or the server is silent.
    pub(crate) fn deliver_to(&self, id: u64, bytes: Bytes) -> bool {
        if self.is_silent() {
            return false;
        }
        let reg = self.lock();
        match reg.conns.get(&id) {
            Some(conn) if conn.live() => push(id, conn, bytes),
            _ => false,
        }
    }

    /// Queues text lines (each gets `\r\n`) on one connection, as one write.
    pub(crate) fn reply(&self, id: u64, lines: &[String]) -> bool {
        let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
        for line in lines {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.deliver_to(id, Bytes::from(out))
    }

    /// Runs `f` on the connection `id` while holding the lock (no-op when it is gone).
    pub(crate) fn with_conn<T>(&self, id: u64, f: impl FnOnce(&mut Conn) -> T) -> Option<T> {
        self.lock().conns.get_mut(&id).map(f)
    }
}

/// Tries to queue on one connection; a full outbox drops that client.
fn push(id: u64, conn: &Conn, bytes: Bytes) -> bool {
    // Counted before the send so that `written` can never get ahead of `queued`.
    conn.counters.queued.fetch_add(1, Ordering::SeqCst);
    let sent = conn.outbox.try_send(bytes);
    if sent.is_err() {
        conn.counters.queued.fetch_sub(1, Ordering::SeqCst);
    }
    match sent {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            debug!(
                connection = id,
                capacity = OUTBOX_CAPACITY,
                "twitchsim: client not reading, outbox full; dropping it"
            );
            conn.cancel.cancel();
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}
