//! One client connection of the fake server: a reader that splits the socket into bounded
//! lines and answers each command (CAP, PASS, NICK, JOIN, PART, PING, PONG, QUIT), a writer
//! task fed by the connection's bounded outbox, and the server's own periodic PING. The
//! connection ends on EOF, a read or write error, QUIT, a full outbox, `drop_all` or shutdown;
//! its registry entry goes with it. Client input never panics it; the PASS value is recorded
//! and never logged.

use super::command::{parse, ClientCommand};
use super::lines::channel_key;
use super::registry::{Conn, Counters, Shared, OUTBOX_CAPACITY};
use super::replies;
use bytes::{Bytes, BytesMut};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{interval_at, Interval};
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, Decoder};
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Longest client line accepted (tags included); longer lines are skipped.
pub const MAX_LINE_BYTES: usize = 8192;

/// Most bytes the writer gathers from the outbox into one socket write.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Serves one accepted connection until it ends, given its two halves: a TCP stream's owned
/// halves (no lock between them), or the halves of `tokio::io::split` over a TLS stream.
pub(crate) async fn run<R, W>(shared: Arc<Shared>, reader: R, writer: W, id: u64)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (outbox, rx) = mpsc::channel(OUTBOX_CAPACITY);
    let cancel = shared.stop.child_token();
    let counters = Arc::new(Counters::default());
    shared.lock().conns.insert(
        id,
        Conn {
            outbox,
            cancel: cancel.clone(),
            counters: Arc::clone(&counters),
            nick: None,
            pass: None,
            caps: Vec::new(),
            channels: BTreeSet::new(),
            pongs: 0,
        },
    );
    let write_task = tokio::spawn(write_loop(Arc::clone(&shared), writer, rx, cancel.clone(), counters));
    read_loop(&shared, reader, id, &cancel).await;
    cancel.cancel();
    shared.lock().conns.remove(&id);
    shared.progress.notify_waiters();
    if let Err(e) = write_task.await {
        debug!(connection = id, error = %e, "twitchsim: writer task ended abnormally");
    }
    debug!(connection = id, "twitchsim: connection closed");
}

/// Writes queued bytes in order until cancelled, the outbox closes, or a write fails.
async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut writer: W,
    mut rx: mpsc::Receiver<Bytes>,
    cancel: CancellationToken,
    counters: Arc<Counters>,
) {
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => break,
            next = rx.recv() => match next {
                Some(bytes) => bytes,
                None => break,
            },
        };
        let (bytes, count) = coalesce(first, &mut rx);
        if !shared.is_silent() {
            let written = tokio::select! {
                _ = cancel.cancelled() => break,
                r = writer.write_all(&bytes) => r,
            };
            if let Err(e) = written {
                debug!(error = %e, "twitchsim: write failed; closing connection");
                break;
            }
        }
        counters.written.fetch_add(count, Ordering::SeqCst);
        if rx.is_empty() {
            shared.progress.notify_waiters();
        }
    }
    cancel.cancel();
}

/// `first` plus whatever else is already queued, up to [`WRITE_BATCH_BYTES`], as one buffer
/// (one write instead of one per line under load), with the number of messages it holds.
fn coalesce(first: Bytes, rx: &mut mpsc::Receiver<Bytes>) -> (Bytes, u64) {
    if rx.is_empty() || first.len() >= WRITE_BATCH_BYTES {
        return (first, 1);
    }
    let mut batch = BytesMut::with_capacity(WRITE_BATCH_BYTES);
    batch.extend_from_slice(&first);
    let mut count = 1;
    while batch.len() < WRITE_BATCH_BYTES {
        match rx.try_recv() {
            Ok(more) => {
                batch.extend_from_slice(&more);
                count += 1;
            }
            Err(_) => break,
        }
    }
    (batch.freeze(), count)
}

/// Reads lines and answers them until EOF, error, QUIT or cancellation.
async fn read_loop<R: AsyncRead + Unpin>(shared: &Shared, mut reader: R, id: u64, cancel: &CancellationToken) {
    let mut codec = AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), Vec::new(), MAX_LINE_BYTES);
    let mut buf = BytesMut::with_capacity(4096);
    let mut pinger =
        shared.ping_interval.filter(|d| !d.is_zero()).map(|d| interval_at(tokio::time::Instant::now() + d, d));
    loop {
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(line)) => {
                    if !handle_line(shared, id, &String::from_utf8_lossy(&line)) {
                        return;
                    }
                }
                Ok(None) => break,
                Err(AnyDelimiterCodecError::MaxChunkLengthExceeded) => {
                    debug!(connection = id, max = MAX_LINE_BYTES, "twitchsim: client line too long; skipped");
                }
                Err(AnyDelimiterCodecError::Io(e)) => {
                    debug!(connection = id, error = %e, "twitchsim: line decoding failed");
                    return;
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    debug!(connection = id, error = %e, "twitchsim: read failed");
                    return;
                }
            },
            _ = tick(&mut pinger) => {
                shared.reply(id, &[replies::ping()]);
            }
        }
    }
}

async fn tick(pinger: &mut Option<Interval>) {
    match pinger {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Answers one client line; false when the connection should end (QUIT).
fn handle_line(shared: &Shared, id: u64, line: &str) -> bool {
    let command = parse(line);
    debug!(connection = id, ?command, "twitchsim: client command");
    match command {
        ClientCommand::CapReq(caps) => {
            shared.with_conn(id, |c| c.caps.extend(caps.split_whitespace().map(str::to_owned)));
            shared.reply(id, &[replies::cap_answer(&caps)]);
        }
        ClientCommand::CapLs => {
            shared.reply(id, &[replies::cap_ls()]);
        }
        ClientCommand::Pass(secret) => {
            shared.with_conn(id, |c| c.pass = Some(secret));
        }
        ClientCommand::Nick(nick) => {
            let nick = replies::clean(&nick).to_ascii_lowercase();
            let first = shared.with_conn(id, |c| c.nick.replace(nick.clone()).is_none());
            if first == Some(true) {
                shared.reply(id, &replies::welcome(&nick));
            }
        }
        ClientCommand::Join(targets) => join(shared, id, &targets),
        ClientCommand::Part(targets) => part(shared, id, &targets),
        ClientCommand::Ping(token) => {
            if shared.answer_pings.load(Ordering::Relaxed) {
                shared.reply(id, &[replies::pong(token.as_deref())]);
            }
        }
        ClientCommand::Pong(_) => {
            shared.pongs.fetch_add(1, Ordering::Relaxed);
            shared.with_conn(id, |c| c.pongs += 1);
        }
        ClientCommand::Quit => return false,
        ClientCommand::User | ClientCommand::CapOther | ClientCommand::Privmsg | ClientCommand::Empty => {}
        ClientCommand::Unknown(word) => {
            let nick = shared.with_conn(id, |c| c.nick.clone()).flatten();
            shared.reply(id, &[replies::unknown_command(nick.as_deref(), &word)]);
        }
    }
    true
}

/// The channel key of a JOIN/PART target, or None when it is not a `#channel`.
fn target_key(target: &str) -> Option<String> {
    let key = channel_key(&replies::clean(target));
    let valid =
        target.starts_with('#') && !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(key)
}

fn join(shared: &Shared, id: u64, targets: &[String]) {
    let Some(nick) = shared.with_conn(id, |c| c.nick.clone()).flatten() else {
        shared.reply(id, &[replies::not_registered("JOIN")]);
        return;
    };
    for target in targets {
        let Some(channel) = target_key(target) else {
            debug!(connection = id, target = %replies::clean(target), "twitchsim: JOIN target is not a #channel; ignored");
            continue;
        };
        let refused = shared.refuse.contains(&channel);
        {
            let mut reg = shared.lock();
            reg.join_log.push((Instant::now(), channel.clone(), id));
            if !refused {
                if let Some(conn) = reg.conns.get_mut(&id) {
                    conn.channels.insert(channel.clone());
                }
            }
        }
        if refused {
            shared.reply(id, &[replies::join_suspended(&channel)]);
        } else {
            shared.reply(id, &replies::join_accepted(&nick, &channel));
            shared.joined.notify_waiters();
        }
    }
}

fn part(shared: &Shared, id: u64, targets: &[String]) {
    let Some(nick) = shared.with_conn(id, |c| c.nick.clone()).flatten() else {
        shared.reply(id, &[replies::not_registered("PART")]);
        return;
    };
    for channel in targets.iter().filter_map(|t| target_key(t)) {
        let was_joined = shared.with_conn(id, |c| c.channels.remove(&channel)).unwrap_or(false);
        if was_joined {
            shared.reply(id, &[replies::part(&nick, &channel)]);
        }
    }
}
