//! Lines that are not understood: each rejected with the right reason, none fatal.

use super::*;
use crate::channel::framing::Frame;

fn rejected(line: &[u8]) -> RejectReason {
    match parse_line(line, &Fixture::new().ctx()) {
        Line::Rejected(reason) => reason,
        other => panic!("expected a rejection of {line:?}, got {other:?}"),
    }
}

#[test]
fn malformed_shapes() {
    for line in [
        &b""[..],
        b"\r\n",
        b"@",
        b"@ ",
        b"@id=1;login=x",
        b"@id=1;login=x ",
        b"@id=1 :nick!nick@host",
        b": PRIVMSG #c :x",
        b"@id=1 : PRIVMSG #c :x",
        b":",
        b"\x01\x02garbage!!",
        b"#examplechannel :hello",
        b":a!a@a PRIV\0MSG #c :x",
        b":a!a@a PRIVMSG #c :nul\0inside",
        b"\0",
        b":a!a@a PRIVMSG #c :cr\rinside",
        b"1234 :x",
        // Known commands with the wrong arguments.
        b":a!a@a PRIVMSG #c",
        b":a!a@a PRIVMSG",
        b":tmi.twitch.tv NOTICE",
    ] {
        assert_eq!(rejected(line), RejectReason::Malformed, "{:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn unknown_commands() {
    for line in ["hello world", ":tmi.twitch.tv SOMETHINGNEW #c :x", "QUIT :bye", "KICK #c someone"] {
        assert_eq!(rejected(line.as_bytes()), RejectReason::UnknownCommand, "{line}");
    }
}

#[test]
fn invalid_utf8() {
    assert_eq!(rejected(b"\xff\xfe"), RejectReason::InvalidUtf8);
    assert_eq!(rejected(b":a!a@a PRIVMSG #c :caf\xe9"), RejectReason::InvalidUtf8);
    // Invalid UTF-8 is checked before anything else.
    assert_eq!(rejected(b"\0\xff"), RejectReason::InvalidUtf8);
}

#[test]
fn senders_and_channels() {
    for (line, reason) in [
        (":tmi.twitch.tv PRIVMSG #c :server has no nick", RejectReason::MissingSender),
        ("PRIVMSG #c :no prefix", RejectReason::MissingSender),
        (":!user@host PRIVMSG #c :empty nick", RejectReason::MissingSender),
        (":bad.nick!u@h PRIVMSG #c :dot in nick", RejectReason::InvalidLogin),
        (":a!a@a PRIVMSG someone :not a channel", RejectReason::MissingChannel),
        (":a!a@a PRIVMSG # :empty channel", RejectReason::MissingChannel),
        (":a!a@a PRIVMSG #bad-chan :x", RejectReason::InvalidChannel),
        (":tmi.twitch.tv USERNOTICE", RejectReason::MissingChannel),
        ("@login=a\\:b;msg-id=sub :tmi.twitch.tv USERNOTICE #c", RejectReason::InvalidLogin),
        ("@login=;msg-id=sub :tmi.twitch.tv USERNOTICE #c", RejectReason::MissingSender),
    ] {
        assert_eq!(rejected(line.as_bytes()), reason, "{line}");
    }
    let long = format!(":{0}!{0}@h PRIVMSG #c :x", "a".repeat(65));
    assert_eq!(rejected(long.as_bytes()), RejectReason::InvalidLogin);
    let ok = format!(":{0}!{0}@h PRIVMSG #c :x", "a".repeat(64));
    assert!(matches!(Fixture::new().parse(&ok), Line::Participant { .. }));
}

#[test]
fn overlong_frame() {
    let ctx_owner = Fixture::new();
    assert_eq!(parse_frame(&Frame::Overlong { len: 10_000 }, &ctx_owner.ctx()), Line::Rejected(RejectReason::Overlong));
    let frame = Frame::Line(bytes::BytesMut::from(&b"PING :x"[..]));
    assert_eq!(parse_frame(&frame, &ctx_owner.ctx()), Line::Ping("x".into()));
}
