//! Line parsing benchmark: a realistic mix of tagged Twitch lines (~300 bytes each, like
//! twitch.md's examples, many distinct users) through `parse_line`, which parses with irc-proto
//! and maps to an `Event`; and the same bytes through `LineDecoder` first. Throughput in
//! lines/s; the bar in performance.md is >= 300,000 lines/s on one core.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::collections::HashSet;
use std::hint::black_box;

use bytes::BytesMut;
use chatseal_actors::channel::framing::LineDecoder;
use chatseal_actors::channel::parse::{parse_frame, parse_line, Line, ParseCtx};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio_util::codec::Decoder;

const LINES: usize = 1000;
const TS_MS: i64 = 1_717_000_000_123;

/// Line `i` of the mix: 80% PRIVMSG (1 in 20 with bits), 20% USERNOTICE of various kinds.
fn line(i: usize) -> String {
    let user = format!("viewer_{:05}", (i * 7919) % 50_000);
    let display = user.to_uppercase();
    let ts = TS_MS + (i as i64) * 37;
    let uid = 100_000_000 + (i * 7919) % 50_000;
    if !i.is_multiple_of(5) {
        let bits = if i % 20 == 1 { "bits=100;" } else { "" };
        format!(
            "@badge-info=subscriber/14;badges=subscriber/12,premium/1;{bits}color=#1E90FF;\
             display-name={display};emotes=25:6-10;first-msg=0;flags=;\
             id=3f6c2a9e-8b1d-4f7a-9c2e-{i:012};mod=0;returning-chatter=0;room-id=123456789;\
             subscriber=1;tmi-sent-ts={ts};turbo=0;user-id={uid};user-type= \
             :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #examplechannel :hello Kappa number {i}\r\n"
        )
    } else {
        let kind = ["resub", "sub", "subgift", "raid", "announcement"][(i / 5) % 5];
        format!(
            "@badge-info=subscriber/7;badges=subscriber/6;color=#FF4500;display-name={display};\
             emotes=;flags=;id=0a1b2c3d-4e5f-4a6b-8c7d-{i:012};login={user};mod=0;msg-id={kind};\
             msg-param-cumulative-months=7;msg-param-months=0;msg-param-sub-plan=1000;\
             room-id=123456789;subscriber=1;system-msg={display}\\ssubscribed\\sat\\sTier\\s1.;\
             tmi-sent-ts={ts};user-id={uid};user-type=;vip=0 \
             :tmi.twitch.tv USERNOTICE #examplechannel :still here\r\n"
        )
    }
}

fn parse(c: &mut Criterion) {
    let lines: Vec<String> = (0..LINES).map(line).collect();
    let stream: Vec<u8> = lines.concat().into_bytes();
    let excluded: HashSet<String> = ["nightbot", "streamelements"].map(String::from).into();
    let opted_out: HashSet<String> = ["viewer_00001"].map(String::from).into();
    let ctx = ParseCtx {
        recv_ms: TS_MS + 20_000,
        epoch_len: 3600,
        max_skew_ms: 300_000,
        excluded: &excluded,
        opted_out: &opted_out,
        own_nick: "justinfan12345",
    };
    // The mix must really be participants, or the benchmark measures the wrong path.
    let participants =
        lines.iter().filter(|l| matches!(parse_line(l.as_bytes(), &ctx), Line::Participant { .. })).count();
    assert!(participants >= LINES * 9 / 10, "only {participants} participants");

    let mut group = c.benchmark_group("parse_line");
    group.throughput(Throughput::Elements(LINES as u64));
    group.bench_function("tagged_mix", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(parse_line(black_box(l.as_bytes()), &ctx));
            }
        })
    });
    group.bench_function("framed_tagged_mix", |b| {
        b.iter(|| {
            let mut dec = LineDecoder::new(8704);
            let mut buf = BytesMut::from(&stream[..]);
            while let Ok(Some(frame)) = dec.decode(&mut buf) {
                black_box(parse_frame(&frame, &ctx));
            }
        })
    });
    // The peer, side by side in the same run: the `twitch-irc` crate parses the same lines
    // into its typed server messages (IRC parse + mapping, as ours does).
    group.bench_function("peer_twitch_irc_crate", |b| {
        b.iter(|| {
            for l in &lines {
                let msg = twitch_irc::message::IRCMessage::parse(black_box(l.trim_end()));
                if let Ok(m) = msg {
                    black_box(twitch_irc::message::ServerMessage::try_from(m).ok());
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
