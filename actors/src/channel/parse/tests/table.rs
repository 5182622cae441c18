//! Every row of twitch.md's "What each line means" table, and its example lines.

use super::*;
use crate::event::Counts;
use chatseal_schema::SignalKind;

const EXAMPLE_PRIVMSG: &str = "@badge-info=subscriber/14;badges=subscriber/12,premium/1;color=#1E90FF;display-name=ExampleViewer;emotes=25:6-10;first-msg=0;flags=;id=3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0d;mod=0;returning-chatter=0;room-id=123456789;subscriber=1;tmi-sent-ts=1717000000123;turbo=0;user-id=987654321;user-type= :exampleviewer!exampleviewer@exampleviewer.tmi.twitch.tv PRIVMSG #examplechannel :hello Kappa";
const EXAMPLE_RESUB: &str = "@badge-info=subscriber/7;badges=subscriber/6;color=#FF4500;display-name=AnotherViewer;emotes=;flags=;id=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d;login=anotherviewer;mod=0;msg-id=resub;msg-param-cumulative-months=7;msg-param-months=0;msg-param-should-share-streak=0;msg-param-sub-plan-name=Channel\\sSubscription\\s(examplechannel);msg-param-sub-plan=1000;room-id=123456789;subscriber=1;system-msg=AnotherViewer\\ssubscribed\\sat\\sTier\\s1.\\sThey've\\ssubscribed\\sfor\\s7\\smonths!;tmi-sent-ts=1717000012345;user-id=192837465;user-type=;vip=0 :tmi.twitch.tv USERNOTICE #examplechannel :still here";
const EXAMPLE_CLEARCHAT: &str = "@ban-duration=600;room-id=123456789;target-user-id=555000111;tmi-sent-ts=1717000020000 :tmi.twitch.tv CLEARCHAT #examplechannel :spammer42";
const EXAMPLE_RECONNECT: &str = ":tmi.twitch.tv RECONNECT";

/// Epoch (L = 3600) holding the example timestamps.
const EXAMPLE_EPOCH: i64 = 1_716_998_400;

fn counts(f: impl FnOnce(&mut Counts)) -> Counts {
    let mut c = Counts::default();
    f(&mut c);
    c
}

#[test]
fn example_privmsg_maps_to_full_event() {
    let (event, fallback) = Fixture::new().event(EXAMPLE_PRIVMSG);
    assert_eq!(fallback, None);
    assert_eq!(
        event,
        Event {
            id: Some("3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0d".into()),
            channel: "examplechannel".into(),
            login: "exampleviewer".into(),
            user_id: Some("987654321".into()),
            display_name: Some("ExampleViewer".into()),
            ts: 1_717_000_000,
            epoch: EXAMPLE_EPOCH,
            counts: counts(|c| c[SignalKind::Message] = 1),
        }
    );
}

#[test]
fn example_resub_maps_to_full_event() {
    let (event, fallback) = Fixture::new().event(EXAMPLE_RESUB);
    assert_eq!(fallback, None);
    assert_eq!(
        event,
        Event {
            id: Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into()),
            channel: "examplechannel".into(),
            login: "anotherviewer".into(),
            user_id: Some("192837465".into()),
            display_name: Some("AnotherViewer".into()),
            ts: 1_717_000_012,
            epoch: EXAMPLE_EPOCH,
            counts: counts(|c| c[SignalKind::Resub] = 1),
        }
    );
}

#[test]
fn example_clearchat_and_reconnect() {
    assert_eq!(parse(EXAMPLE_CLEARCHAT), Line::Ignored("clearchat"));
    assert_eq!(parse(EXAMPLE_RECONNECT), Line::Reconnect);
    assert_eq!(parse("RECONNECT"), Line::Reconnect);
}

#[test]
fn privmsg_sender_is_lowercased_prefix_nick() {
    let line =
        "@id=x;tmi-sent-ts=1717000000123 :MixedCase!mixedcase@mixedcase.tmi.twitch.tv PRIVMSG #ExampleChannel :hi";
    let (event, _) = Fixture::new().event(line);
    assert_eq!(event.login, "mixedcase");
    assert_eq!(&*event.channel, "examplechannel");
    assert_eq!(event.counts, counts(|c| c[SignalKind::Message] = 1));
}

#[test]
fn privmsg_with_bits() {
    let line = EXAMPLE_PRIVMSG.replace("@badge-info", "@bits=250;badge-info");
    let (event, _) = Fixture::new().event(&line);
    assert_eq!(
        event.counts,
        counts(|c| {
            c[SignalKind::Message] = 1;
            c[SignalKind::Bits] = 250
        })
    );
}

#[test]
fn usernotice_kinds_and_signals() {
    let f = Fixture::new();
    for (kind, expected) in [
        ("sub", counts(|c| c[SignalKind::Sub] = 1)),
        ("resub", counts(|c| c[SignalKind::Resub] = 1)),
        ("subgift", counts(|c| c[SignalKind::Gift] = 1)),
        ("submysterygift", Counts::default()),
        ("raid", counts(|c| c[SignalKind::Raid] = 1)),
        ("announcement", Counts::default()),
        ("viewermilestone", Counts::default()),
        ("giftpaidupgrade", Counts::default()),
    ] {
        let (event, fallback) = f.event(&usernotice(kind, Some("SomeUser")));
        assert_eq!(event.counts, expected, "{kind}");
        assert_eq!(event.login, "someuser", "{kind}: participant is the login tag");
        assert_eq!(&*event.channel, "examplechannel");
        assert_eq!(event.id.as_deref(), Some("11111111-2222-4333-8444-555555555555"));
        assert_eq!(event.user_id.as_deref(), Some("424242"));
        assert_eq!(event.display_name.as_deref(), Some("Gifter"));
        assert_eq!((event.ts, event.epoch), (1_717_000_000, EXAMPLE_EPOCH));
        assert_eq!(fallback, None);
    }
}

#[test]
fn usernotice_without_msg_id_is_a_participant_without_signal() {
    let line = usernotice("x", Some("someone")).replace("msg-id=x;", "");
    let (event, _) = Fixture::new().event(&line);
    assert_eq!((event.login.as_str(), event.counts), ("someone", Counts::default()));
}

#[test]
fn anonymous_gifts_count_for_nobody() {
    let anon = Line::Discarded(DiscardReason::AnonymousGift);
    assert_eq!(parse(&usernotice("anonsubgift", Some("ananonymousgifter"))), anon);
    assert_eq!(parse(&usernotice("anonsubmysterygift", Some("ananonymousgifter"))), anon);
    // Anonymous kinds need no login at all.
    assert_eq!(parse(&usernotice("anonsubgift", None)), anon);
    // Today's anonymous gifts: ordinary kinds from the placeholder login, any case.
    assert_eq!(parse(&usernotice("subgift", Some("ananonymousgifter"))), anon);
    assert_eq!(parse(&usernotice("submysterygift", Some("AnAnonymousGifter"))), anon);
}

#[test]
fn usernotice_without_login_is_missing_sender() {
    assert_eq!(parse(&usernotice("sub", None)), Line::Rejected(RejectReason::MissingSender));
    assert_eq!(parse(":tmi.twitch.tv USERNOTICE #examplechannel :x"), Line::Rejected(RejectReason::MissingSender));
}

#[test]
fn lines_without_participant() {
    for (line, label) in [
        ("@login=spammer42;room-id=1;target-msg-id=abc;tmi-sent-ts=1 :tmi.twitch.tv CLEARMSG #examplechannel :bad words", "clearmsg"),
        ("@badge-info=;badges=;color=;display-name=justinfan12345;emote-sets=0;mod=0;subscriber=0;user-type= :tmi.twitch.tv USERSTATE #examplechannel", "userstate"),
        ("@badge-info=;badges=;color=;display-name=Me;emote-sets=0;user-id=1;user-type= :tmi.twitch.tv GLOBALUSERSTATE", "globaluserstate"),
        (":someone!someone@someone.tmi.twitch.tv JOIN #examplechannel", "join"),
        (":someone!someone@someone.tmi.twitch.tv PART #examplechannel", "part"),
        (":tmi.twitch.tv 002 justinfan12345 :Your host is tmi.twitch.tv", "numeric"),
        (":tmi.twitch.tv 372 justinfan12345 :You are in a maze of twisty passages.", "numeric"),
        (":justinfan12345.tmi.twitch.tv 353 justinfan12345 = #examplechannel :justinfan12345", "numeric"),
        (":justinfan12345.tmi.twitch.tv 366 justinfan12345 #examplechannel :End of /NAMES list", "numeric"),
        (":tmi.twitch.tv 421 justinfan12345 WHO :Unknown command", "numeric"),
        (":tmi.twitch.tv 999 justinfan12345 :a numeric irc-proto does not know", "numeric"),
        (":tmi.twitch.tv HOSTTARGET #examplechannel :- 0", "hosttarget"),
        (":jtv MODE #examplechannel +o someone", "mode"),
        (":tmi.twitch.tv CAP * NAK :twitch.tv/unknown", "cap_nak"),
        (":tmi.twitch.tv CAP * LS :twitch.tv/tags", "cap"),
    ] {
        assert_eq!(parse(line), Line::Ignored(label), "{line}");
    }
}

#[test]
fn roomstate_and_notice_carry_no_participant() {
    assert!(matches!(parse("@room-id=1 :tmi.twitch.tv ROOMSTATE #examplechannel"), Line::RoomState { .. }));
    assert!(matches!(parse("@msg-id=x :tmi.twitch.tv NOTICE #examplechannel :text"), Line::Notice { .. }));
}
