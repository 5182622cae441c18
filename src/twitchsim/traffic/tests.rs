//! Tests of the traffic generator: the same seed gives the same lines, a run holds every kind
//! and exactly one RECONNECT, the crowd has a few talkers and many one-line lurkers, and every
//! line means to the daemon's own parser exactly the participant the generator says it makes.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chatseal_actors::channel::parse::{parse_line, Line, ParseCtx};
use chatseal_schema::SignalKind as Signal;

use super::*;

const T0: i64 = 1_717_000_000_000;

fn channels() -> Vec<String> {
    vec!["lacy".into(), "#JasonTheWeen".into(), "stableronaldo".into()]
}

fn run(cfg: TrafficConfig, beats: u64) -> Vec<TrafficLine> {
    let mut t = Traffic::new(cfg);
    (0..beats).flat_map(|b| t.next_beat(T0 + b as i64 * 50)).collect()
}

/// Enough beats for two full rounds of the rarer kinds on three channels.
const ROUND_TRIP: u64 = 2 * 3 * SPECIALS.len() as u64 * 12;

#[test]
fn the_same_seed_gives_the_same_lines_and_another_seed_others() {
    let a = run(TrafficConfig::new(7, &channels()), 400);
    let b = run(TrafficConfig::new(7, &channels()), 400);
    let c = run(TrafficConfig::new(8, &channels()), 400);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_run_holds_every_kind_and_one_reconnect() {
    let mut cfg = TrafficConfig::new(1, &channels());
    cfg.reconnect_at = Some(100);
    let lines = run(cfg, ROUND_TRIP);
    let kinds: BTreeSet<Kind> = lines.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, Kind::ALL.into_iter().collect::<BTreeSet<_>>());
    let reconnects: Vec<&TrafficLine> = lines.iter().filter(|l| l.kind == Kind::Reconnect).collect();
    assert_eq!(reconnects.len(), 1);
    assert_eq!(reconnects[0].target, Target::Everyone);
    assert_eq!(reconnects[0].line, ":tmi.twitch.tv RECONNECT");
    // Every channel gets each rarer kind in every round.
    for channel in ["lacy", "jasontheween", "stableronaldo"] {
        let here: BTreeSet<Kind> =
            lines.iter().filter(|l| l.target == Target::Channel(channel.into())).map(|l| l.kind).collect();
        for k in SPECIALS {
            assert!(here.contains(&k), "{k:?} missing on #{channel}");
        }
    }
}

#[test]
fn without_reconnect_at_there_is_none() {
    let lines = run(TrafficConfig::new(1, &channels()), ROUND_TRIP);
    assert!(lines.iter().all(|l| l.kind != Kind::Reconnect));
}

#[test]
fn a_few_chatters_talk_a_lot_and_most_say_one_thing() {
    let lines = run(TrafficConfig::new(3, &channels()), 2000);
    let mut per_login: BTreeMap<&str, usize> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.kind == Kind::Message) {
        *per_login.entry(l.participant.as_deref().unwrap_or_default()).or_default() += 1;
    }
    let once = per_login.values().filter(|n| **n == 1).count();
    let busy = per_login.values().filter(|n| **n >= 20).count();
    assert!(once * 2 > per_login.len(), "most chatters say one thing: {once} of {}", per_login.len());
    assert!((3..=18).contains(&busy), "a few regulars talk a lot: {busy}");
    // The busiest channel is the first one.
    let count = |c: &str| lines.iter().filter(|l| l.target == Target::Channel(c.into())).count();
    assert!(count("lacy") > count("stableronaldo"));
}

#[test]
fn a_mystery_gift_is_followed_by_its_subgifts() {
    let lines = run(TrafficConfig::new(5, &channels()), ROUND_TRIP);
    let at = lines.iter().position(|l| l.kind == Kind::SubMysteryGift).expect("a mystery gift");
    let count: usize = lines[at]
        .line
        .split(';')
        .find_map(|t| t.strip_prefix("msg-param-mass-gift-count="))
        .and_then(|n| n.parse().ok())
        .expect("mass gift count");
    let gifts = &lines[at + 1..at + 1 + count];
    assert!(gifts.iter().all(|g| g.kind == Kind::SubGift && g.participant == lines[at].participant));
    assert!(gifts.iter().all(|g| g.line.contains("msg-id=subgift")));
}

#[test]
fn every_line_means_to_the_parser_what_the_generator_says() {
    let excluded: HashSet<String> = ["nightbot".to_string()].into();
    let opted_out = HashSet::new();
    let mut cfg = TrafficConfig::new(11, &channels());
    cfg.reconnect_at = Some(3);
    let mut traffic = Traffic::new(cfg);
    let mut ids = HashSet::new();
    for b in 0..ROUND_TRIP {
        let ts = T0 + b as i64 * 50;
        let ctx = ParseCtx {
            recv_ms: ts,
            epoch_len: 20,
            max_skew_ms: 2000,
            excluded: &excluded,
            opted_out: &opted_out,
            own_nick: "justinfan12345",
        };
        for l in traffic.next_beat(ts) {
            assert!(l.line.len() < crate::twitchsim::MAX_LINE_BYTES, "{}", l.line);
            let parsed = parse_line(l.line.as_bytes(), &ctx);
            match (&l.participant, parsed) {
                (Some(login), Line::Participant { event, ts_fallback: None }) => {
                    assert_eq!(&event.login, login, "{}", l.line);
                    assert_eq!(Target::Channel(event.channel.to_string()), l.target);
                    assert_eq!(event.epoch, ts / 1000 / 20 * 20);
                    let id = event.id.expect("every chat line has an id");
                    assert!(ids.insert(id.clone()), "id {id} repeated");
                    let c = event.counts;
                    match l.kind {
                        Kind::Message => assert_eq!(c[Signal::Message], 1),
                        Kind::Bits => assert!(c[Signal::Bits] >= 1 && c[Signal::Message] == 1, "{c:?}"),
                        Kind::Sub => assert_eq!(c[Signal::Sub], 1),
                        Kind::Resub => assert_eq!(c[Signal::Resub], 1),
                        Kind::SubGift => assert_eq!(c[Signal::Gift], 1),
                        Kind::Raid => assert_eq!(c[Signal::Raid], 1),
                        Kind::SubMysteryGift => assert_eq!(c, Default::default()),
                        other => panic!("{other:?} should make no participant: {}", l.line),
                    }
                }
                (None, Line::Discarded(_)) => assert!(matches!(l.kind, Kind::Bot | Kind::AnonGift), "{}", l.line),
                (None, Line::Ignored("clearchat")) => assert_eq!(l.kind, Kind::ClearChat),
                (None, Line::Reconnect) => assert_eq!(l.kind, Kind::Reconnect),
                (expected, got) => {
                    panic!("{:?} line {} expected participant {expected:?}, parser says {got:?}", l.kind, l.line)
                }
            }
        }
    }
}

#[test]
fn no_channels_gives_only_the_reconnect() {
    let mut cfg = TrafficConfig::new(1, &[]);
    cfg.reconnect_at = Some(0);
    let lines = run(cfg, 50);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].kind, Kind::Reconnect);
}
