//! Tag values (escapes, empty values, bits), the timestamp and its fallbacks, exclusion and
//! opt-out.

use super::*;
use chatseal_schema::SignalKind;

fn privmsg(tags: &str, nick: &str) -> String {
    format!("@{tags} :{nick}!{nick}@{nick}.tmi.twitch.tv PRIVMSG #examplechannel :hi")
}

#[test]
fn tag_values_are_unescaped() {
    let line = privmsg(r"display-name=A\sB\:C\\D\rE\nF;id=x\sy", "viewer");
    let (event, _) = Fixture::new().event(&line);
    assert_eq!(event.display_name.as_deref(), Some("A B;C\\D\rE\nF"));
    assert_eq!(event.id.as_deref(), Some("x y"));
}

#[test]
fn empty_tag_values_are_absent() {
    let (event, _) = Fixture::new().event(&privmsg("display-name=;id=;user-id=", "viewer"));
    assert_eq!((event.display_name, event.id, event.user_id), (None, None, None));
    // A display name that differs from the login (other script) is kept as is.
    let (event, _) = Fixture::new().event(&privmsg("display-name=視聴者", "viewer"));
    assert_eq!(event.display_name.as_deref(), Some("視聴者"));
}

#[test]
fn bits_values() {
    let f = Fixture::new();
    let bits = |value: &str| f.parse(&privmsg(&format!("bits={value}"), "cheerer"));
    let Line::Participant { event, .. } = bits("100") else { panic!("bits=100") };
    assert_eq!((event.counts[SignalKind::Message], event.counts[SignalKind::Bits]), (1, 100));
    let Line::Participant { event, .. } = bits("") else { panic!("empty bits") };
    assert_eq!((event.counts[SignalKind::Message], event.counts[SignalKind::Bits]), (1, 0));
    for bad in ["abc", "-5", "1.5", "99999999999999999999", "1e3"] {
        assert_eq!(bits(bad), Line::Rejected(RejectReason::BadTag), "bits={bad}");
    }
}

#[test]
fn timestamp_fallbacks() {
    // recv time 500 ms into the epoch that starts at 1_717_002_000.
    let mut f = Fixture::new();
    f.recv_ms = 1_717_002_000_500;
    let at = |ts: &str| f.event(&privmsg(&format!("tmi-sent-ts={ts}"), "viewer"));

    // Trusted, 1.5 s earlier: counts in the previous epoch (the line's own timestamp).
    let (e, fb) = at("1717001999000");
    assert_eq!((e.ts, e.epoch, fb), (1_717_001_999, 1_716_998_400, None));
    // Exactly at the skew bound, both ways: still trusted.
    let (e, fb) = at(&(f.recv_ms - MAX_SKEW_MS).to_string());
    assert_eq!((e.ts, fb), ((f.recv_ms - MAX_SKEW_MS) / 1000, None));
    let (e, fb) = at(&(f.recv_ms + MAX_SKEW_MS).to_string());
    assert_eq!((e.ts, fb), ((f.recv_ms + MAX_SKEW_MS) / 1000, None));
    // One ms beyond, either way: receive time.
    for skewed in [f.recv_ms - MAX_SKEW_MS - 1, f.recv_ms + MAX_SKEW_MS + 1, SANE_TS_MS.start, SANE_TS_MS.end - 1] {
        let (e, fb) = at(&skewed.to_string());
        assert_eq!((e.ts, e.epoch, fb), (1_717_002_000, 1_717_002_000, Some(TsFallback::Skewed)), "{skewed}");
    }
    // Outside the sane window (negative, before Twitch existed, past 2100): not skew but a
    // forged or corrupt line, rejected, never placed in an epoch (1969's epoch -10 included).
    for insane in [-5, 0, SANE_TS_MS.start - 1, SANE_TS_MS.end, 99_999_999_999_999, i64::MAX, i64::MIN] {
        assert_eq!(
            f.parse(&privmsg(&format!("tmi-sent-ts={insane}"), "viewer")),
            Line::Rejected(RejectReason::BadTimestamp),
            "{insane}"
        );
    }
    for missing in ["", "abc", "1.7e12", "99999999999999999999"] {
        let (e, fb) = at(missing);
        assert_eq!((e.ts, fb), (1_717_002_000, Some(TsFallback::Missing)), "{missing:?}");
    }
    let (e, fb) = f.event(":viewer!v@v PRIVMSG #examplechannel :no tags at all");
    assert_eq!((e.ts, e.epoch, fb), (1_717_002_000, 1_717_002_000, Some(TsFallback::Missing)));
}

#[test]
fn exclusion_and_opt_out_on_lowercase_login() {
    let f = Fixture::new();
    let excluded = Line::Discarded(DiscardReason::Excluded);
    assert_eq!(f.parse(&privmsg("id=1", "Nightbot")), excluded);
    assert_eq!(f.parse(&privmsg("id=1", "STREAMELEMENTS")), excluded);
    assert_eq!(f.parse(&usernotice("raid", Some("NightBot"))), excluded);
    // Always excluded, even with an empty list.
    let mut empty = Fixture::new();
    empty.excluded.clear();
    assert_eq!(empty.parse(&privmsg("id=1", "ananonymousgifter")), excluded);
    assert!(matches!(empty.parse(&privmsg("id=1", "nightbot")), Line::Participant { .. }));

    let opted = Line::Discarded(DiscardReason::OptedOut);
    assert_eq!(f.parse(&privmsg("id=1", "ShyViewer")), opted);
    assert_eq!(f.parse(&usernotice("sub", Some("shyviewer"))), opted);
    // On both lists: exclusion wins.
    let mut both = Fixture::new();
    both.opted_out.insert("nightbot".into());
    assert_eq!(both.parse(&privmsg("id=1", "nightbot")), excluded);
}

#[test]
fn reason_labels_are_distinct_snake_case() {
    let mut labels: Vec<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
    labels.extend(DiscardReason::ALL.iter().map(|r| r.as_str()));
    labels.extend([TsFallback::Missing.as_str(), TsFallback::Skewed.as_str()]);
    for l in &labels {
        assert!(l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{l}");
    }
    let mut sorted = labels.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), labels.len());
}

/// cluster.md, "Exactly once": a participant line without an `id` tag gets a key from its
/// content, the same for every reader of the same bytes, different for another line.
#[test]
fn a_line_without_an_id_gets_a_content_key() {
    use crate::channel::parse::participant::content_key;
    let k = content_key("alpha", "bob", "1717000000123", "hello");
    assert!(k.starts_with("k:") && k.len() == 34, "{k}");
    assert_eq!(k, content_key("alpha", "bob", "1717000000123", "hello"));
    assert_ne!(k, content_key("alpha", "bob", "1717000000124", "hello"));
    assert_ne!(k, content_key("alpha", "bo", "b1717000000123", "hello"), "fields are delimited");
    assert_ne!(k, content_key("alpha", "bob", "1717000000123", "hello!"));
}
