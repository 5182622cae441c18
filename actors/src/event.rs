//! The one event type a channel actor parses a line into: who did what, in which channel, in
//! which epoch, with the line's id for deduplication. It travels to the aggregator in compact
//! form (`compact::Chunk`), together with the coverage notices (joined / left) in the same
//! ordered stream so a flush sees them in order.

use std::sync::Arc;

use chatseal_schema::Signals;

/// Signal counters carried by one line (all zero for a line that only marks presence, such as
/// an announcement); the same vector sums them per participant. The claim weight is computed
/// from the sums at sealing. The kinds live in `chatseal_schema::signals`.
pub type Counts = Signals<i64>;

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
    /// Participant actions, made compact by the reader (`compact::Chunk`).
    Events(crate::compact::Chunk),
    /// The channel's join was confirmed at `at_ms` (Unix ms): a coverage span starts. Sent
    /// again as a heartbeat (same `at_ms`) while joined, so a restarted aggregator resumes it.
    Joined {
        /// Channel login.
        channel: Arc<str>,
        /// When the join was confirmed (or the heartbeat's same start), Unix ms.
        at_ms: i64,
    },
    /// The span that started at `since_ms` stopped being covered at `at_ms` (disconnect,
    /// part, shutdown).
    Left {
        /// Channel login.
        channel: Arc<str>,
        /// Start of the span that ended, Unix ms (the `at_ms` of its `Joined`).
        since_ms: i64,
        /// When coverage stopped, Unix ms.
        at_ms: i64,
    },
}
