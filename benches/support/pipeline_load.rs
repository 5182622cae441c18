//! The load side of the `pipeline` bench: realistic tagged PRIVMSG lines composed once per
//! (channel, user) with `twitchsim::lines::privmsg` and split around the two values that change
//! per line (the message `id` and `tmi-sent-ts`), and one feeder task per channel that writes
//! lines from those templates into the fake server with `FakeTwitch::feed` at a target rate.
//!
//! A feeder never runs more than [`HEADROOM`] of its target ahead of what the daemon has
//! accepted (`chatseal_irc_lines_total`, read once a second by the sampler), so lines do not
//! pile up in the fake server's outboxes when the daemon reads slower than the target rate:
//! the sent rate then follows the daemon's reading pace instead of hiding a backlog.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;

/// How far (in seconds of the target rate) the feeders may run ahead of what was accepted.
pub const HEADROOM: f64 = 2.0;
/// Most lines in one `feed` call.
const MAX_CHUNK: u64 = 500;

const ID_MARK: &str = "chatsealbenchidmark";
const TS_MARK: i64 = 4_102_444_800_000;
const TEXTS: [&str; 6] = [
    "hello chat",
    "LUL that was close",
    "Kappa Kappa Kappa",
    "!points",
    "gg wp, that last fight was really something, see you all tomorrow",
    "PogChamp PogChamp",
];

/// One line with its `id` and `tmi-sent-ts` values cut out.
pub struct Template {
    head: Vec<u8>,
    mid: Vec<u8>,
    tail: Vec<u8>,
}

impl Template {
    /// The PRIVMSG of `who` in `channel`; panics if the composer changed so that the marker
    /// values cannot be found (the bench would then send something else than it claims).
    pub fn compose(channel: &str, who: &Chatter, text: &str, bits: Option<u64>) -> Template {
        let line = privmsg(channel, who, ID_MARK, TS_MARK, text, bits);
        let id_at = line.find(&format!("id={ID_MARK}")).map(|i| i + 3);
        let ts_at = line.find(&format!("tmi-sent-ts={TS_MARK}")).map(|i| i + 12);
        let (Some(id_at), Some(ts_at)) = (id_at, ts_at) else {
            panic!("no id or tmi-sent-ts marker in the composed line {line:?}");
        };
        assert!(id_at < ts_at, "tags out of the expected order in {line:?}");
        let b = line.as_bytes();
        let mut tail = b[ts_at + TS_MARK.to_string().len()..].to_vec();
        tail.extend_from_slice(b"\r\n");
        Template { head: b[..id_at].to_vec(), mid: b[id_at + ID_MARK.len()..ts_at].to_vec(), tail }
    }

    /// Appends the line with message id `id` sent at `ts_ms`.
    pub fn write(&self, out: &mut BytesMut, id: std::fmt::Arguments<'_>, ts_ms: i64) {
        out.extend_from_slice(&self.head);
        let _ = out.write_fmt(id);
        out.extend_from_slice(&self.mid);
        let _ = write!(out, "{ts_ms}");
        out.extend_from_slice(&self.tail);
    }
}

/// The templates of channel number `c` of `channels`: its share of a pool of `users` logins
/// (shares overlap, as viewers sit in several chats), 1 in 50 cheering bits.
pub fn channel_templates(channel: &str, c: usize, channels: usize, users: usize) -> Vec<Template> {
    let per_channel = (2 * users / channels.max(1)).clamp(1, users);
    (0..per_channel)
        .map(|k| {
            let u = (c * users / channels.max(1) + k) % users;
            let login = format!("viewer{u}");
            let who = Chatter::new(&login, &(100_000_000 + u).to_string(), &format!("Viewer{u}"));
            let bits = (k % 50 == 0).then_some(100);
            Template::compose(channel, &who, TEXTS[k % TEXTS.len()], bits)
        })
        .collect()
}

/// Shared between the feeders and the sampler.
#[derive(Default)]
pub struct Control {
    pub stop: AtomicBool,
    /// Lines handed to the fake server, all channels.
    pub sent: AtomicU64,
    /// The feeders pause while `sent` exceeds this (accepted + HEADROOM of the target).
    pub allowed: AtomicU64,
    /// Lines fed while no connection had joined their channel (the daemon's link was down).
    pub undelivered: AtomicU64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A step that visits every index of `0..len` once per `len` steps (coprime with `len`).
fn coprime_step(len: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    (7..).find(|s| gcd(*s, len.max(1)) == 1).unwrap_or(1)
}

/// Feeds `channel` at `rate` lines/s from `templates` until `ctl.stop`; ids are
/// `{run}-{c}-4000-8000-{n}` in hex, unique per run, channel and line.
pub async fn feeder(
    fake: FakeTwitch,
    channel: String,
    c: usize,
    run: u32,
    templates: Vec<Template>,
    rate: f64,
    ctl: Arc<Control>,
) {
    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut user = 0usize;
    let step = coprime_step(templates.len());
    let mut buf = BytesMut::with_capacity(256 * 1024);
    while !ctl.stop.load(Ordering::Relaxed) {
        let target = (started.elapsed().as_secs_f64() * rate) as u64;
        let due = target.saturating_sub(sent).min(MAX_CHUNK);
        if due == 0 || ctl.sent.load(Ordering::Relaxed) > ctl.allowed.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let ts = now_ms();
        for n in sent..sent + due {
            templates[user].write(&mut buf, format_args!("{run:08x}-{c:04x}-4000-8000-{n:012x}"), ts);
            user = (user + step) % templates.len();
        }
        if fake.feed(&channel, buf.split().freeze()).await == 0 {
            ctl.undelivered.fetch_add(due, Ordering::Relaxed);
        } else {
            ctl.sent.fetch_add(due, Ordering::Relaxed);
        }
        sent += due;
        tokio::task::yield_now().await;
    }
}
