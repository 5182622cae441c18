//! Control lines the channel actor acts on: PING/PONG, RECONNECT, join confirmation,
//! ROOMSTATE, NOTICE, welcome, CAP.

use super::*;

#[test]
fn ping_payload_is_kept_for_the_pong() {
    assert_eq!(parse("PING :tmi.twitch.tv"), Line::Ping("tmi.twitch.tv".into()));
    assert_eq!(parse("PING tmi.twitch.tv"), Line::Ping("tmi.twitch.tv".into()));
    assert_eq!(parse("PING :with spaces"), Line::Ping("with spaces".into()));
    assert_eq!(parse("PING"), Line::Ping(String::new()));
    assert_eq!(parse("ping :lower"), Line::Ping("lower".into()));
}

#[test]
fn pong() {
    assert_eq!(parse(":tmi.twitch.tv PONG tmi.twitch.tv :tmi.twitch.tv"), Line::Pong);
    assert_eq!(parse("PONG :x"), Line::Pong);
}

#[test]
fn own_join_echo_confirms_other_joins_do_not() {
    let own = ":justinfan12345!justinfan12345@justinfan12345.tmi.twitch.tv JOIN #ExampleChannel";
    assert_eq!(parse(own), Line::JoinConfirmed { channel: "examplechannel".into() });
    // Our nick compared case-insensitively.
    assert_eq!(parse(":JustinFan12345!a@b JOIN #c"), Line::JoinConfirmed { channel: "c".into() });
    assert_eq!(
        parse(":justinfan99999!justinfan99999@justinfan99999.tmi.twitch.tv JOIN #examplechannel"),
        Line::Ignored("join")
    );
    assert_eq!(parse("JOIN #examplechannel"), Line::Rejected(RejectReason::MissingSender));
    assert_eq!(parse(":justinfan12345!a@b JOIN #bad-channel"), Line::Rejected(RejectReason::InvalidChannel));
}

#[test]
fn roomstate_carries_room_id() {
    let full = "@emote-only=0;followers-only=-1;r9k=0;room-id=123456789;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #ExampleChannel";
    assert_eq!(parse(full), Line::RoomState { channel: "examplechannel".into(), room_id: Some("123456789".into()) });
    // Partial ROOMSTATE (a setting changed) without room-id, and an empty room-id.
    for line in [
        "@slow=10 :tmi.twitch.tv ROOMSTATE #examplechannel",
        "@room-id= :tmi.twitch.tv ROOMSTATE #examplechannel",
        ":tmi.twitch.tv ROOMSTATE #examplechannel",
    ] {
        assert_eq!(parse(line), Line::RoomState { channel: "examplechannel".into(), room_id: None }, "{line}");
    }
    assert_eq!(parse(":tmi.twitch.tv ROOMSTATE"), Line::Rejected(RejectReason::MissingChannel));
}

#[test]
fn notice_with_msg_id() {
    assert_eq!(
        parse("@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #examplechannel :This channel does not exist or has been suspended."),
        Line::Notice {
            channel: Some("examplechannel".into()),
            msg_id: Some("msg_channel_suspended".into()),
            text: "This channel does not exist or has been suspended.".into(),
        }
    );
    assert_eq!(
        parse(":tmi.twitch.tv NOTICE * :Login authentication failed"),
        Line::Notice { channel: None, msg_id: None, text: "Login authentication failed".into() }
    );
}

#[test]
fn welcome_and_cap_ack() {
    assert_eq!(parse(":tmi.twitch.tv 001 justinfan12345 :Welcome, GLHF!"), Line::Welcome);
    assert_eq!(parse(":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands"), Line::CapAck);
}

#[test]
fn kind_labels() {
    assert_eq!(parse("PING :x").kind(), "ping");
    assert_eq!(parse(":tmi.twitch.tv 001 me :hi").kind(), "welcome");
    assert_eq!(parse("NOPE").kind(), "rejected");
}
