//! Tests of the line composers: every composed line parses with the `irc` crate, and every tag
//! value comes back unescaped to exactly what was composed.

use super::*;
use irc::proto::{Command, Message};
use std::str::FromStr;

fn parse(line: &str) -> Message {
    assert!(!line.contains('\r') && !line.contains('\n'), "one line: {line:?}");
    match Message::from_str(line) {
        Ok(m) => m,
        Err(e) => panic!("irc failed to parse {line:?}: {e}"),
    }
}

fn tag(msg: &Message, key: &str) -> Option<String> {
    msg.tags.as_ref()?.iter().find(|t| t.0 == key).map(|t| t.1.clone().unwrap_or_default())
}

const HOSTILE: &str = "a b;c\\d\re\nf\\s=;;";

#[test]
fn escape_covers_every_ircv3_escape() {
    assert_eq!(escape_tag_value("a b;c\\d\re\nf"), "a\\sb\\:c\\\\d\\re\\nf");
    assert_eq!(escape_tag_value("plain"), "plain");
}

#[test]
fn privmsg_round_trips_through_irc() {
    let who = Chatter::new("viewer_one", "987654321", HOSTILE);
    let line = privmsg("#Example", &who, "3f6c2a9e-8b1d", 1_717_000_000_123, "hello :) Kappa", None);
    let msg = parse(&line);
    assert_eq!(tag(&msg, "display-name").as_deref(), Some(HOSTILE));
    assert_eq!(tag(&msg, "id").as_deref(), Some("3f6c2a9e-8b1d"));
    assert_eq!(tag(&msg, "tmi-sent-ts").as_deref(), Some("1717000000123"));
    assert_eq!(tag(&msg, "user-id").as_deref(), Some("987654321"));
    assert_eq!(tag(&msg, "room-id"), Some(room_id("example").to_string()));
    assert_eq!(tag(&msg, "bits"), None);
    assert_eq!(msg.source_nickname(), Some("viewer_one"));
    match msg.command {
        Command::PRIVMSG(target, text) => {
            assert_eq!(target, "#example");
            assert_eq!(text, "hello :) Kappa");
        }
        other => panic!("expected PRIVMSG, got {other:?}"),
    }
}

#[test]
fn privmsg_with_tags_replaces_defaults_and_adds_the_rest_in_order() {
    let who = Chatter::new("viewer_two", "42", "Viewer_Two");
    let extra = [("badges", "subscriber/12,premium/1"), ("client-nonce", "ab;cd"), ("color", "#1E90FF")];
    let line = privmsg_with_tags("c", &who, "x", 5, "hi", None, &extra);
    let msg = parse(&line);
    assert_eq!(tag(&msg, "badges").as_deref(), Some("subscriber/12,premium/1"));
    assert_eq!(tag(&msg, "client-nonce").as_deref(), Some("ab;cd"));
    assert_eq!(tag(&msg, "color").as_deref(), Some("#1E90FF"));
    assert_eq!(tag(&msg, "display-name").as_deref(), Some("Viewer_Two"));
    let keys: Vec<String> = msg.tags.iter().flatten().map(|t| t.0.clone()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "tags in Twitch's alphabetical order");
    assert_eq!(keys.iter().filter(|k| *k == "badges").count(), 1, "a default tag is replaced, not repeated");
}

#[test]
fn privmsg_carries_bits_and_flattens_line_breaks() {
    let who = Chatter::new("cheerer", "1", "Cheerer");
    let line = privmsg("c", &who, "x", 5, "Cheer100\r\nPRIVMSG #c :injected", Some(100));
    let msg = parse(&line);
    assert_eq!(tag(&msg, "bits").as_deref(), Some("100"));
    match msg.command {
        Command::PRIVMSG(_, text) => assert_eq!(text, "Cheer100  PRIVMSG #c :injected"),
        other => panic!("expected PRIVMSG, got {other:?}"),
    }
}

#[test]
fn usernotice_round_trips_with_params_and_overrides() {
    let who = Chatter::new("gifter", "192837465", "Gifter");
    let extra = [
        ("msg-param-recipient-display-name", "Some One"),
        ("msg-param-sub-plan-name", HOSTILE),
        ("msg-param-months", "7"),
    ];
    let line = usernotice("#chan", &who, "id-1", 1_717_000_012_345, "subgift", &extra);
    let msg = parse(&line);
    assert_eq!(tag(&msg, "msg-id").as_deref(), Some("subgift"));
    assert_eq!(tag(&msg, "login").as_deref(), Some("gifter"));
    assert_eq!(tag(&msg, "user-id").as_deref(), Some("192837465"));
    assert_eq!(tag(&msg, "id").as_deref(), Some("id-1"));
    assert_eq!(tag(&msg, "tmi-sent-ts").as_deref(), Some("1717000012345"));
    assert_eq!(tag(&msg, "msg-param-sub-plan-name").as_deref(), Some(HOSTILE));
    assert_eq!(tag(&msg, "msg-param-months").as_deref(), Some("7"));
    assert_eq!(tag(&msg, "system-msg").as_deref(), Some("Gifter gifted a Tier 1 sub to Some One!"));
    match &msg.command {
        Command::Raw(cmd, args) => {
            assert_eq!(cmd, "USERNOTICE");
            assert_eq!(args, &vec!["#chan".to_owned()]);
        }
        other => panic!("expected USERNOTICE, got {other:?}"),
    }

    let replaced = usernotice("chan", &who, "id-2", 1, "raid", &[("system-msg", "custom; text")]);
    assert_eq!(tag(&parse(&replaced), "system-msg").as_deref(), Some("custom; text"));
}

#[test]
fn usernotice_with_message_has_the_trailing_text() {
    let who = Chatter::new("fan", "2", "");
    let line = usernotice_with_message("chan", &who, "i", 1, "announcement", &[], "big news: hi");
    match parse(&line).command {
        Command::Raw(cmd, args) => {
            assert_eq!(cmd, "USERNOTICE");
            assert_eq!(args, vec!["#chan".to_owned(), "big news: hi".to_owned()]);
        }
        other => panic!("expected USERNOTICE, got {other:?}"),
    }
}

#[test]
fn clearchat_roomstate_and_reconnect_parse() {
    let ban = parse(&clearchat("#Chan", "spammer42", 1_717_000_020_000));
    assert_eq!(tag(&ban, "tmi-sent-ts").as_deref(), Some("1717000020000"));
    assert_eq!(tag(&ban, "room-id"), Some(room_id("chan").to_string()));
    match ban.command {
        Command::Raw(cmd, args) => {
            assert_eq!(cmd, "CLEARCHAT");
            assert_eq!(args, vec!["#chan".to_owned(), "spammer42".to_owned()]);
        }
        other => panic!("expected CLEARCHAT, got {other:?}"),
    }
    match parse(&clearchat("chan", "", 1)).command {
        Command::Raw(cmd, args) => assert_eq!((cmd.as_str(), args.len()), ("CLEARCHAT", 1)),
        other => panic!("expected CLEARCHAT, got {other:?}"),
    }
    let room = parse(&roomstate("chan"));
    assert_eq!(tag(&room, "room-id"), Some(room_id("#CHAN").to_string()));
    match parse(&reconnect()).command {
        Command::Raw(cmd, args) => assert_eq!((cmd.as_str(), args.len()), ("RECONNECT", 0)),
        other => panic!("expected RECONNECT, got {other:?}"),
    }
}

#[test]
fn room_ids_are_stable_per_channel_and_differ_between_channels() {
    assert_eq!(room_id("#Lacy"), room_id("lacy"));
    let ids: std::collections::HashSet<u64> =
        ["lacy", "jasontheween", "a", "b", "example"].iter().map(|c| room_id(c)).collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|id| (100_000_000..1_000_000_000).contains(id)));
}
