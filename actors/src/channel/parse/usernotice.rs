//! USERNOTICE: the `msg-id` kind decides the signal, the `login` tag names the participant
//! (for gifts the gifter, for raids the raiding broadcaster). Anonymous gifts count for nobody.

use super::participant::{admit, channel_name, is_shared_chat_copy, login_name, Tags, ANONYMOUS_GIFTER};
use super::{DiscardReason, Line, ParseCtx, RejectReason};
use crate::event::Counts;
use chatseal_schema::SignalKind;

/// The USERNOTICE kinds that matter (twitch.md's table); everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sub,
    Resub,
    SubGift,
    MysteryGift,
    AnonGift,
    Raid,
    Other,
}

impl Kind {
    fn of(msg_id: Option<&str>) -> Kind {
        let Some(id) = msg_id else { return Kind::Other };
        let is = |name: &str| id.eq_ignore_ascii_case(name);
        if is("sub") {
            Kind::Sub
        } else if is("resub") {
            Kind::Resub
        } else if is("subgift") {
            Kind::SubGift
        } else if is("submysterygift") {
            Kind::MysteryGift
        } else if is("anonsubgift") || is("anonsubmysterygift") {
            Kind::AnonGift
        } else if is("raid") {
            Kind::Raid
        } else {
            Kind::Other
        }
    }

    /// The signal one line of this kind carries. A mystery gift carries none: its gifts
    /// arrive as individual `subgift` lines. Unknown kinds (announcement, viewermilestone, a
    /// USERNOTICE without `msg-id`, ...) make a participant with no signal.
    fn counts(self) -> Counts {
        let signal = match self {
            Kind::Sub => SignalKind::Sub,
            Kind::Resub => SignalKind::Resub,
            Kind::SubGift => SignalKind::Gift,
            Kind::Raid => SignalKind::Raid,
            Kind::MysteryGift | Kind::AnonGift | Kind::Other => return Counts::default(),
        };
        Counts::default().with(signal, 1)
    }
}

/// Maps a USERNOTICE (`args[0]` is the `#channel`) to a line.
pub(super) fn usernotice(args: &[String], tags: Tags, ctx: &ParseCtx) -> Line {
    let channel = match args.first().map(|t| channel_name(t)) {
        Some(Ok(c)) => c,
        Some(Err(r)) => return Line::Rejected(r),
        None => return Line::Rejected(RejectReason::MissingChannel),
    };
    if is_shared_chat_copy(&tags) {
        return Line::Discarded(DiscardReason::SharedChatCopy);
    }
    let kind = Kind::of(tags.msg_id.as_deref());
    if kind == Kind::AnonGift {
        return Line::Discarded(DiscardReason::AnonymousGift);
    }
    let login = match tags.login.as_deref().map(login_name) {
        Some(Ok(l)) => l,
        Some(Err(r)) => return Line::Rejected(r),
        None => return Line::Rejected(RejectReason::MissingSender),
    };
    if login == ANONYMOUS_GIFTER {
        // Twitch's placeholder only ever appears on gifts; whatever the kind, nobody took part.
        return Line::Discarded(DiscardReason::AnonymousGift);
    }
    let text = args.get(1).map(String::as_str).unwrap_or("");
    admit(login, channel, tags, kind.counts(), text, ctx)
}
