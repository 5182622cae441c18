//! Why a line produced no participant (discarded or rejected), and why its timestamp was not
//! trusted. Each has a stable snake_case `as_str()`, used as a metric label.

/// A well-formed participant line that is dropped on purpose: counted, no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscardReason {
    /// The login is on the exclusion list (bots, and always `ananonymousgifter`).
    Excluded,
    /// The user opted out of being recorded.
    OptedOut,
    /// An anonymous gift (`anonsubgift`, `anonsubmysterygift`, or from `ananonymousgifter`).
    AnonymousGift,
    /// A Shared Chat copy: `source-room-id` differs from `room-id`, so the user took part in
    /// another room (where the original line counts); the copy counts nobody here.
    SharedChatCopy,
}

impl DiscardReason {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::Excluded => "excluded",
            DiscardReason::OptedOut => "opted_out",
            DiscardReason::AnonymousGift => "anonymous_gift",
            DiscardReason::SharedChatCopy => "shared_chat_copy",
        }
    }
}

/// A line that could not be understood; counted as rejected, never fatal to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// Longer than the framing bound; produced from `Frame::Overlong` by `parse_frame`.
    Overlong,
    /// Not an IRC message: NUL/CR/LF inside, empty prefix, no command, bad command word, or a
    /// known command with the wrong arguments.
    Malformed,
    /// A well-formed command that Twitch chat is not known to send.
    UnknownCommand,
    /// A participant line without a sender (PRIVMSG without nick prefix, USERNOTICE without
    /// `login` tag, JOIN without prefix).
    MissingSender,
    /// A participant line whose sender login has characters other than `[A-Za-z0-9_]` or is
    /// longer than 64 bytes.
    InvalidLogin,
    /// No `#channel` target.
    MissingChannel,
    /// A `#channel` target whose name has characters other than `[A-Za-z0-9_]` or is too long.
    InvalidChannel,
    /// A tag value that cannot be right (a `bits` value that is not a non-negative integer).
    BadTag,
    /// A `tmi-sent-ts` outside the sane window (see `participant::SANE_TS_MS`): negative,
    /// before Twitch existed, or past 2100. Such a line is forged or corrupt; it is never
    /// placed in an epoch (not even by the receive-time fallback, which is for skew).
    BadTimestamp,
}

impl RejectReason {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::Overlong => "overlong",
            RejectReason::Malformed => "malformed",
            RejectReason::UnknownCommand => "unknown_command",
            RejectReason::MissingSender => "missing_sender",
            RejectReason::InvalidLogin => "invalid_login",
            RejectReason::MissingChannel => "missing_channel",
            RejectReason::InvalidChannel => "invalid_channel",
            RejectReason::BadTag => "bad_tag",
            RejectReason::BadTimestamp => "bad_timestamp",
        }
    }

    /// Every reason, for pre-registering metric label values.
    pub const ALL: [RejectReason; 10] = [
        RejectReason::InvalidUtf8,
        RejectReason::Overlong,
        RejectReason::Malformed,
        RejectReason::UnknownCommand,
        RejectReason::MissingSender,
        RejectReason::InvalidLogin,
        RejectReason::MissingChannel,
        RejectReason::InvalidChannel,
        RejectReason::BadTag,
        RejectReason::BadTimestamp,
    ];
}

impl DiscardReason {
    /// Every reason, for pre-registering metric label values.
    pub const ALL: [DiscardReason; 4] =
        [DiscardReason::Excluded, DiscardReason::OptedOut, DiscardReason::AnonymousGift, DiscardReason::SharedChatCopy];
}

/// Why a participant line's `tmi-sent-ts` was replaced by the local receive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsFallback {
    /// The tag is absent or not an integer.
    Missing,
    /// The tag is further than `max_skew_ms` from the receive time.
    Skewed,
}

impl TsFallback {
    /// Every reason, for pre-registering metric label values.
    pub const ALL: [TsFallback; 2] = [TsFallback::Missing, TsFallback::Skewed];

    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            TsFallback::Missing => "missing",
            TsFallback::Skewed => "skewed",
        }
    }
}
