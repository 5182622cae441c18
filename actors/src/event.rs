//! The one event type that flows from channel actors to the aggregator: who did what, in which
//! channel, in which epoch, with the line's id for deduplication. Also the coverage notices
//! (joined / left) that travel in the same ordered stream so a flush sees them in order.

use std::sync::Arc;

/// Signal counters carried by one line (all zero for a line that only marks presence, such as
/// an announcement). The claim weight is computed from the sums of these at sealing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub message: i64,
    pub bits: i64,
    pub sub: i64,
    pub resub: i64,
    pub gift: i64,
    pub raid: i64,
}

impl Counts {
    /// Adds `other` into `self`, saturating (hostile `bits` tags must not overflow).
    pub fn add(&mut self, other: &Counts) {
        self.message = self.message.saturating_add(other.message);
        self.bits = self.bits.saturating_add(other.bits);
        self.sub = self.sub.saturating_add(other.sub);
        self.resub = self.resub.saturating_add(other.resub);
        self.gift = self.gift.saturating_add(other.gift);
        self.raid = self.raid.saturating_add(other.raid);
    }

    /// The non-zero signals as (kind, value) pairs, with the kind names stored in the database.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, i64)> {
        [
            ("message", self.message),
            ("bits", self.bits),
            ("sub", self.sub),
            ("resub", self.resub),
            ("gift", self.gift),
            ("raid", self.raid),
        ]
        .into_iter()
        .filter(|(_, v)| *v != 0)
    }

    /// Sets one signal by its stored kind name; unknown kinds are ignored (returns false).
    pub fn set_kind(&mut self, kind: &str, value: i64) -> bool {
        let slot = match kind {
            "message" => &mut self.message,
            "bits" => &mut self.bits,
            "sub" => &mut self.sub,
            "resub" => &mut self.resub,
            "gift" => &mut self.gift,
            "raid" => &mut self.raid,
            _ => return false,
        };
        *slot = value;
        true
    }
}

/// One participant action, parsed from one IRC line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The Twitch message `id` tag (PRIVMSG/USERNOTICE); the dedup key. None when absent.
    pub id: Option<String>,
    /// Channel login, lowercase, without `#`.
    pub channel: Arc<str>,
    /// The participant's login, ASCII-lowercased.
    pub login: String,
    /// Numeric Twitch user id (`user-id` tag), when present.
    pub user_id: Option<String>,
    /// `display-name` tag, when present and non-empty.
    pub display_name: Option<String>,
    /// Unix seconds of the line on the epoch clock (tmi-sent-ts, or receive time when distrusted).
    pub ts: i64,
    /// Epoch start (Unix seconds) the line counts in.
    pub epoch: i64,
    /// Signals this line carries.
    pub counts: Counts,
}

/// What a channel actor sends to the aggregator, in order.
#[derive(Debug, Clone)]
pub enum Ingest {
    /// A participant action.
    Event(Event),
    /// The channel's join was confirmed at `at_ms` (Unix ms): a coverage span starts. Sent
    /// again as a heartbeat (same `at_ms`) while joined, so a restarted aggregator resumes it.
    Joined { channel: Arc<str>, at_ms: i64 },
    /// The span that started at `since_ms` stopped being covered at `at_ms` (disconnect,
    /// part, shutdown).
    Left { channel: Arc<str>, since_ms: i64, at_ms: i64 },
}
