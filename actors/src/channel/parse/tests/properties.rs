//! Properties over arbitrary input: `parse_line` and the framing never panic, and whatever
//! becomes a participant satisfies the event's invariants.

use irc::proto::Message;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

use super::super::{classify, syntax};
use super::*;
use crate::channel::framing::LineDecoder;
use chatseal_schema::SignalKind;

/// `parse_line` without the `slim` step: irc-proto sees every tag.
fn parse_all_tags(bytes: &[u8], ctx: &ParseCtx) -> Line {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Line::Rejected(RejectReason::InvalidUtf8);
    };
    match syntax::check(text).map(str::parse::<Message>) {
        Ok(Ok(message)) => classify::classify(message, ctx),
        Ok(Err(_)) => Line::Rejected(RejectReason::Malformed),
        Err(reason) => Line::Rejected(reason),
    }
}

/// Checks the invariants of a participant event, if `line` is one.
fn check_line(line: &Line) -> Result<(), TestCaseError> {
    if let Line::Participant { event, .. } = line {
        let name_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        prop_assert!(name_ok(&event.login), "login {:?}", event.login);
        prop_assert!(name_ok(&event.channel), "channel {:?}", event.channel);
        prop_assert!(event.epoch <= event.ts && event.ts < event.epoch + EPOCH_LEN);
        prop_assert!(event.counts[SignalKind::Bits] >= 0);
        prop_assert!(event.login != ANONYMOUS_GIFTER);
    }
    Ok(())
}

/// Bytes drawn mostly from IRC's punctuation, so that the parser's branches are reached.
fn irc_ish() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> =
        b"@:;= !#.\\-_\r\n\0 aAbsZ019PRIVMSGUSERNOTICEJOINPINGlogin=msg-id=tmi-sent-ts=bits=\xff\xc3".to_vec();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..200)
}

/// One of twitch.md's example lines with a few bytes overwritten and maybe truncated.
fn mutated_example() -> impl Strategy<Value = Vec<u8>> {
    let base = usernotice("subgift", Some("someone")).into_bytes();
    let len = base.len();
    (proptest::collection::vec((0..len, any::<u8>()), 0..8), 0..=len).prop_map(move |(edits, cut)| {
        let mut b = base.clone();
        for (i, v) in edits {
            b[i] = v;
        }
        b.truncate(cut);
        b
    })
}

proptest! {
    #[test]
    fn parse_line_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let f = Fixture::new();
        check_line(&parse_line(&bytes, &f.ctx()))?;
    }

    #[test]
    fn parse_line_never_panics_on_irc_ish_bytes(bytes in irc_ish()) {
        let f = Fixture::new();
        check_line(&parse_line(&bytes, &f.ctx()))?;
    }

    #[test]
    fn parse_line_never_panics_on_mutated_lines(bytes in mutated_example(), recv_ms in any::<i64>(), epoch_len in -10i64..100_000) {
        let mut f = Fixture::new();
        f.recv_ms = recv_ms;
        let mut ctx = f.ctx();
        ctx.epoch_len = epoch_len;
        let line = parse_line(&bytes, &ctx);
        if epoch_len == EPOCH_LEN {
            check_line(&line)?;
        }
    }

    #[test]
    fn dropping_unread_tags_changes_nothing(
        bytes in prop_oneof![irc_ish(), mutated_example()],
        extra in "(;[a-z-]{0,6}(=[a-zA-Z0-9\\\\:]{0,6})?){0,4}",
    ) {
        let f = Fixture::new();
        // Also with unread tags spliced in after the first tag, when there is a tag section.
        let mut spliced = bytes.clone();
        if let Some(at) = spliced.iter().position(|&b| b == b';') {
            spliced.splice(at..at, extra.bytes());
        }
        for input in [&bytes, &spliced] {
            prop_assert_eq!(parse_line(input, &f.ctx()), parse_all_tags(input, &f.ctx()));
        }
    }

    #[test]
    fn framing_then_parsing_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        read in 1usize..512,
    ) {
        let f = Fixture::new();
        let ctx = f.ctx();
        let mut dec = LineDecoder::new(256);
        let mut buf = bytes::BytesMut::new();
        for chunk in bytes.chunks(read) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = dec.decode(&mut buf).expect("never errs") {
                check_line(&parse_frame(&frame, &ctx))?;
            }
            prop_assert!(buf.len() < 256);
        }
        while let Some(frame) = dec.decode_eof(&mut buf).expect("never errs") {
            check_line(&parse_frame(&frame, &ctx))?;
        }
    }
}
