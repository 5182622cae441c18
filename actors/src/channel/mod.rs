//! One actor per Twitch channel: connection, line framing and parsing, join pacing, reconnects.
pub mod actor;
pub mod backoff;
pub mod conn;
pub mod connection;
pub mod forward;
pub mod framing;
pub mod limiter;
pub mod parse;
pub mod session;
pub mod status;
pub mod tls;
pub mod wire;

pub use actor::{ChannelActor, ChannelArgs, ChannelMsg};
pub use limiter::JoinLimiter;
pub use session::SessionCfg;
pub use status::{ChannelBoard, ChannelState, ChannelStatus};
pub use tls::{TlsClientConfig, TlsSetupError};
