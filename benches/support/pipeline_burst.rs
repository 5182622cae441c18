//! The load side of the `pipeline` bench's high-cardinality burst (performance.md): 1,000,000
//! PRIVMSG lines with full real-world tags (badges, badge-info, client-nonce, color, emotes,
//! display names in several scripts and cases, a unique UUID `id`, room-id, user-id, tmi-sent-ts;
//! about 400 bytes each) to 10 channels from 200,000 distinct users: each user once, the rest
//! at random, every line to a random channel, in a shuffled order (so about 80% of the lines
//! make a new (epoch, channel, user)). Every line carries the same `tmi-sent-ts`, so they all
//! count in one epoch.
//!
//! The lines are composed before the daemon starts (the composing is not measured) into chunks
//! per channel; [`feed_all`] then writes them with `FakeTwitch::feed`, which waits while a
//! client's outbox is full: the burst goes exactly as fast as the daemon reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chatseal::twitchsim::lines::{privmsg_with_tags, Chatter};
use chatseal::twitchsim::FakeTwitch;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Bytes per chunk handed to the fake server (about 650 lines).
const CHUNK_BYTES: usize = 256 * 1024;

/// Display names in several scripts and cases (`{}` is the user number).
fn display_name(u: usize, login: &str) -> String {
    match u % 8 {
        0 => login.to_string(),
        1 => login.to_ascii_uppercase(),
        2 => {
            let mut c = login.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        }
        3 => format!("視聴者{u}"),
        4 => format!("Зритель{u}"),
        5 => format!("시청자{u}"),
        6 => format!("Ñandú_{u}"),
        _ => login.replace('_', "").to_ascii_uppercase(),
    }
}

/// The login of user `u`: lowercase, 1 to 25 of `[a-z0-9_]`, of several shapes and lengths.
fn login(u: usize) -> String {
    const STEMS: [&str; 6] = ["viewer", "xx_gamer", "night_owl_fan", "lurker", "pog_enjoyer", "k"];
    format!("{}{u}", STEMS[u % STEMS.len()])
}

const BADGES: [(&str, &str); 5] = [
    ("subscriber/14", "subscriber/12,premium/1"),
    ("", "premium/1"),
    ("subscriber/3", "moderator/1,subscriber/3"),
    ("", ""),
    ("subscriber/27", "vip/1,subscriber/24,bits/1000"),
];
const COLORS: [&str; 6] = ["#1E90FF", "#FF4500", "#9ACD32", "", "#DAA520", "#8A2BE2"];
const TEXTS: [(&str, &str); 8] = [
    ("hello chat, how is everyone doing tonight", ""),
    ("Kappa Kappa that was a close one", "25:0-4,6-10"),
    ("LUL LUL LUL", "425618:0-2,4-6,8-10"),
    ("!points", ""),
    ("gg wp, that last fight was really something, see you all tomorrow", ""),
    ("PogChamp PogChamp PogChamp what a play", "305954156:0-7,9-16,18-25"),
    ("does anyone know what song this is? it slaps", ""),
    ("first time here, love the stream", ""),
];

/// The burst, composed: per channel, the chunks to feed and the lines in them.
pub struct Burst {
    pub chunks: Vec<Vec<Bytes>>,
    pub lines_per_chunk: Vec<Vec<u64>>,
    pub lines: u64,
    pub bytes: u64,
    /// Distinct (channel, user) pairs among the lines: the participants the seal should hold.
    pub pairs: u64,
}

/// Composes `lines` lines from `users` users to `channels` (see the module doc); `ts_ms` is every
/// line's `tmi-sent-ts`, `run` makes the ids unique per run. Deterministic for a given seed.
pub fn compose(channels: &[String], users: usize, lines: usize, ts_ms: i64, run: u32, seed: u64) -> Burst {
    let mut rng = StdRng::seed_from_u64(seed);
    let users = users.max(1);
    let mut who: Vec<usize> = (0..users.min(lines)).collect();
    who.extend((who.len()..lines).map(|_| rng.random_range(0..users)));
    who.shuffle(&mut rng);
    let chatters: Vec<Chatter> = (0..users)
        .map(|u| {
            let l = login(u);
            Chatter::new(&l, &(100_000_000 + u).to_string(), &display_name(u, &l))
        })
        .collect();
    let mut bufs: Vec<BytesMut> = channels.iter().map(|_| BytesMut::with_capacity(CHUNK_BYTES + 1024)).collect();
    let mut in_buf = vec![0u64; channels.len()];
    let mut chunks: Vec<Vec<Bytes>> = vec![Vec::new(); channels.len()];
    let mut lines_per_chunk: Vec<Vec<u64>> = vec![Vec::new(); channels.len()];
    let mut pairs = std::collections::HashSet::with_capacity(lines);
    let mut bytes = 0u64;
    for (n, &u) in who.iter().enumerate() {
        let c = rng.random_range(0..channels.len());
        pairs.insert((c as u32, u as u32));
        let (badge_info, badges) = BADGES[u % BADGES.len()];
        let (text, emotes) = TEXTS[rng.random_range(0..TEXTS.len())];
        let nonce = format!("{:016x}{:016x}", rng.random::<u64>(), rng.random::<u64>());
        let id = format!("{run:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", c, (n >> 12) & 0xfff, n & 0xfff, n);
        let subscriber = if badges.contains("subscriber") { "1" } else { "0" };
        let tags = [
            ("badge-info", badge_info),
            ("badges", badges),
            ("client-nonce", nonce.as_str()),
            ("color", COLORS[u % COLORS.len()]),
            ("emotes", emotes),
            ("subscriber", subscriber),
        ];
        let line = privmsg_with_tags(&channels[c], &chatters[u], &id, ts_ms, text, None, &tags);
        bytes += line.len() as u64 + 2;
        let buf = &mut bufs[c];
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        in_buf[c] += 1;
        if buf.len() >= CHUNK_BYTES {
            chunks[c].push(buf.split().freeze());
            lines_per_chunk[c].push(std::mem::take(&mut in_buf[c]));
        }
    }
    for (c, buf) in bufs.iter_mut().enumerate() {
        if !buf.is_empty() {
            chunks[c].push(buf.split().freeze());
            lines_per_chunk[c].push(std::mem::take(&mut in_buf[c]));
        }
    }
    Burst { chunks, lines_per_chunk, lines: lines as u64, bytes, pairs: pairs.len() as u64 }
}

/// Feeds every channel's chunks, one task per channel, as fast as the daemon reads; adds the
/// lines handed over to `sent` and the lines no joined connection took to `undelivered`.
pub async fn feed_all(
    fake: &FakeTwitch,
    channels: &[String],
    burst: &Burst,
    sent: Arc<AtomicU64>,
    undelivered: Arc<AtomicU64>,
) {
    let mut tasks = Vec::new();
    for (c, ch) in channels.iter().enumerate() {
        let (fake, ch) = (fake.clone(), ch.clone());
        let work: Vec<(Bytes, u64)> =
            burst.chunks[c].iter().cloned().zip(burst.lines_per_chunk[c].iter().copied()).collect();
        let (sent, undelivered) = (sent.clone(), undelivered.clone());
        tasks.push(tokio::spawn(async move {
            for (chunk, n) in work {
                if fake.feed(&ch, chunk).await == 0 {
                    undelivered.fetch_add(n, Ordering::Relaxed);
                } else {
                    sent.fetch_add(n, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
