//! Shared Chat (twitch.md, "Shared Chat"): real-shaped lines of a session between two rooms.
//! The copy shown in the other room (`source-room-id` differs from `room-id`) is discarded as
//! `shared_chat_copy`, PRIVMSG and USERNOTICE alike, whatever `source-only` says; the line in the
//! origin room counts as usual.

use super::*;
use chatseal_schema::SignalKind;

/// Room ids of the two channels sharing chat: the message is written in #origin.
const ORIGIN_ROOM: &str = "11148817";
const OTHER_ROOM: &str = "40934651";

/// A Shared Chat PRIVMSG as Twitch sends it into the room `room` (#`channel`), written in the
/// origin room; `id` is the message id in that room.
fn shared_privmsg(channel: &str, room: &str, id: &str) -> String {
    format!(
        "@badge-info=;badges=glitchcon2020/1;client-nonce=7b1f6b2e0c;color=#0000FF;\
         display-name=SharedViewer;emotes=;first-msg=0;flags=;id={id};mod=0;\
         returning-chatter=0;room-id={room};source-badge-info=subscriber/3;\
         source-badges=subscriber/3;source-id=3b1c6a86-5ae3-4d7e-9e11-d5a3d1b8a0c2;\
         source-room-id={ORIGIN_ROOM};subscriber=0;tmi-sent-ts=1717000000123;turbo=0;\
         user-id=987123456;user-type= :sharedviewer!sharedviewer@sharedviewer.tmi.twitch.tv \
         PRIVMSG #{channel} :hello both rooms"
    )
}

/// A Shared Chat resub: in the origin room `msg-id=resub`; the copy in the other room is a
/// `sharedchatnotice` with `source-msg-id=resub` and the SAME `id` (as seen on real copies).
fn shared_resub(channel: &str, room: &str, msg_id: &str, source_only: u8) -> String {
    format!(
        "@badge-info=subscriber/7;badges=subscriber/6;color=#FF4500;display-name=Resubber;\
         emotes=;flags=;id=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d;login=resubber;mod=0;\
         msg-id={msg_id};msg-param-cumulative-months=7;msg-param-months=0;\
         msg-param-should-share-streak=0;msg-param-sub-plan=1000;room-id={room};\
         source-badge-info=subscriber/7;source-badges=subscriber/6;\
         source-id=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d;source-msg-id=resub;source-only={source_only};\
         source-room-id={ORIGIN_ROOM};subscriber=1;system-msg=Resubber\\ssubscribed\\sat\\sTier\\s1.;\
         tmi-sent-ts=1717000012345;user-id=192837465;user-type=;vip=0 \
         :tmi.twitch.tv USERNOTICE #{channel} :still here"
    )
}

#[test]
fn a_privmsg_copy_in_the_other_room_is_discarded_and_the_origin_counts() {
    let copy = shared_privmsg("otherroom", OTHER_ROOM, "c0ffee00-0000-4000-8000-000000000001");
    assert_eq!(parse(&copy), Line::Discarded(DiscardReason::SharedChatCopy));
    let origin = shared_privmsg("origin", ORIGIN_ROOM, "3b1c6a86-5ae3-4d7e-9e11-d5a3d1b8a0c2");
    match parse(&origin) {
        Line::Participant { event, .. } => {
            assert_eq!(
                (event.login.as_str(), &*event.channel, event.counts[SignalKind::Message]),
                ("sharedviewer", "origin", 1)
            );
        }
        other => panic!("the origin room's line must count, got {other:?}"),
    }
}

#[test]
fn a_usernotice_copy_is_discarded_whatever_source_only_says() {
    for source_only in [0, 1] {
        let copy = shared_resub("otherroom", OTHER_ROOM, "sharedchatnotice", source_only);
        assert_eq!(parse(&copy), Line::Discarded(DiscardReason::SharedChatCopy), "source-only={source_only}");
        let origin = shared_resub("origin", ORIGIN_ROOM, "resub", source_only);
        match parse(&origin) {
            Line::Participant { event, .. } => {
                assert_eq!(
                    (event.login.as_str(), event.counts[SignalKind::Resub]),
                    ("resubber", 1),
                    "source-only={source_only}"
                );
            }
            other => panic!("the origin resub must count (source-only={source_only}), got {other:?}"),
        }
    }
}

#[test]
fn a_copy_without_room_id_is_still_a_copy_and_lines_without_source_count() {
    let copy = shared_privmsg("otherroom", OTHER_ROOM, "x").replace(&format!("room-id={OTHER_ROOM};"), "");
    assert!(copy.contains("source-room-id=") && !copy.contains(";room-id="), "{copy}");
    assert_eq!(parse(&copy), Line::Discarded(DiscardReason::SharedChatCopy));
    // The example line of twitch.md has no source-room-id at all: counts.
    let plain = shared_privmsg("origin", ORIGIN_ROOM, "y").replace(&format!("source-room-id={ORIGIN_ROOM};"), "");
    assert!(matches!(parse(&plain), Line::Participant { .. }));
}
