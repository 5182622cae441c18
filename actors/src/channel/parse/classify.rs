//! Dispatch on the command of a parsed message. irc-proto knows PRIVMSG, NOTICE, JOIN, PART,
//! PING, PONG, CAP and MODE as typed `Command`s and the RFC numerics as `Command::Response`;
//! Twitch's own commands (USERNOTICE, ROOMSTATE, RECONNECT, CLEARCHAT, ...), numerics it does
//! not know, and known commands with an unexpected argument count all arrive as
//! `Command::Raw(name, args)` with the name as received.

use irc::proto::{CapSubCommand, Command, Message, Response};

use super::participant::{channel_name, prefix_nick, privmsg, Tags};
use super::usernotice::usernotice;
use super::{Line, ParseCtx, RejectReason};

/// Twitch commands that carry no participant, with their metric label.
const IGNORED_RAW: [(&str, &str); 6] = [
    ("CLEARCHAT", "clearchat"),
    ("CLEARMSG", "clearmsg"),
    ("USERSTATE", "userstate"),
    ("GLOBALUSERSTATE", "globaluserstate"),
    ("HOSTTARGET", "hosttarget"),
    ("WHISPER", "whisper"),
];

pub(super) fn classify(message: Message, ctx: &ParseCtx) -> Line {
    let Message { tags, prefix, command } = message;
    match command {
        Command::PRIVMSG(target, text) => privmsg(prefix, &target, &text, Tags::take(tags), ctx),
        Command::Raw(name, args) => raw(&name, &args, Tags::take(tags), ctx),
        Command::PING(payload, _) => Line::Ping(payload),
        Command::PONG(..) => Line::Pong,
        Command::JOIN(channels, _, _) => {
            let Some(nick) = prefix_nick(prefix) else {
                return Line::Rejected(RejectReason::MissingSender);
            };
            if !nick.eq_ignore_ascii_case(ctx.own_nick) {
                return Line::Ignored("join");
            }
            match channel_name(&channels) {
                Ok(channel) => Line::JoinConfirmed { channel },
                Err(r) => Line::Rejected(r),
            }
        }
        Command::NOTICE(target, text) => Line::Notice {
            // `NOTICE * :Login authentication failed` has no channel.
            channel: channel_name(&target).ok(),
            msg_id: Tags::take(tags).msg_id,
            text,
        },
        Command::Response(Response::RPL_WELCOME, _) => Line::Welcome,
        Command::Response(..) => Line::Ignored("numeric"),
        Command::CAP(_, CapSubCommand::ACK, _, _) => Line::CapAck,
        Command::CAP(_, CapSubCommand::NAK, _, _) => Line::Ignored("cap_nak"),
        Command::CAP(..) => Line::Ignored("cap"),
        Command::PART(..) => Line::Ignored("part"),
        Command::ChannelMODE(..) | Command::UserMODE(..) => Line::Ignored("mode"),
        _ => Line::Rejected(RejectReason::UnknownCommand),
    }
}

/// Commands irc-proto leaves raw.
fn raw(name: &str, args: &[String], tags: Tags, ctx: &ParseCtx) -> Line {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("USERNOTICE") {
        usernotice(args, tags, ctx)
    } else if is("ROOMSTATE") {
        match args.first().map(|t| channel_name(t)) {
            Some(Ok(channel)) => Line::RoomState { channel, room_id: tags.room_id },
            Some(Err(r)) => Line::Rejected(r),
            None => Line::Rejected(RejectReason::MissingChannel),
        }
    } else if is("RECONNECT") {
        Line::Reconnect
    } else if is("PING") {
        // irc-proto only types PING with one or two arguments; answer the others too.
        Line::Ping(args.first().cloned().unwrap_or_default())
    } else if is("PONG") {
        Line::Pong
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        // The syntax check only lets three-digit numerics through.
        Line::Ignored("numeric")
    } else if let Some((_, label)) = IGNORED_RAW.iter().find(|(n, _)| is(n)) {
        Line::Ignored(label)
    } else if ["PRIVMSG", "NOTICE", "JOIN", "PART", "CAP"].iter().any(|n| is(n)) {
        // A known command with the wrong number of arguments.
        Line::Rejected(RejectReason::Malformed)
    } else {
        Line::Rejected(RejectReason::UnknownCommand)
    }
}
