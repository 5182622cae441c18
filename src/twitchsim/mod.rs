//! A fake Twitch IRC server (irc.chat.twitch.tv, plain or with TLS) speaking real IRC bytes over
//! TCP on loopback, for the end-to-end tests and the offline `chatseal demo`. It answers the
//! handshake as Twitch does (CAP ACK, welcome numerics, JOIN echo + NAMES + ROOMSTATE with a
//! stable room id per channel, PONG), refuses configured channels as suspended, and is driven
//! through a cheap-to-clone [`FakeTwitch`] handle: send lines to the connections joined to a
//! channel, broadcast RECONNECT, drop every connection, stall (no PONG, or total silence),
//! and observe joins, connections and logins. [`lines`] composes the tagged chat lines to send;
//! [`traffic`] generates seeded, realistic traffic of many chatters from them (the demo's chat).

mod command;
mod control;
mod crowd;
pub mod lines;
mod registry;
mod replies;
mod server;
mod session;
mod tls;
pub mod traffic;

#[cfg(test)]
mod tests;

pub use command::Secret;
pub use control::{FakeTwitch, SessionInfo};
pub use lines::{clearchat, privmsg, reconnect, room_id, roomstate, usernotice, usernotice_with_message, Chatter};
pub use session::MAX_LINE_BYTES;
pub use tls::{FakeTls, FakeTlsError};

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How a [`FakeTwitch`] listens and behaves at start.
#[derive(Debug, Clone)]
pub struct FakeTwitchConfig {
    /// Where to listen; default `127.0.0.1:0` (a free port, read back with [`FakeTwitch::addr`]).
    pub addr: SocketAddr,
    /// Channels (with or without `#`, any case) whose JOIN is answered with
    /// `NOTICE ... msg_channel_suspended` and no echo.
    pub refuse_channels: HashSet<String>,
    /// Answer client PINGs with PONG (default true); false simulates a stalled server.
    pub answer_pings: bool,
    /// Send `PING :tmi.twitch.tv` to every connection at this interval (default: never).
    pub server_ping_interval: Option<Duration>,
    /// Speak TLS with this certificate and key (default: plain IRC, as on port 6667).
    pub tls: Option<FakeTls>,
}

impl Default for FakeTwitchConfig {
    fn default() -> Self {
        FakeTwitchConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            refuse_channels: HashSet::new(),
            answer_pings: true,
            server_ping_interval: None,
            tls: None,
        }
    }
}
