//! Exit codes of the binary (BSD sysexits), as documented in the interface: scripts and the
//! systemd unit (no restart on [`CONFIG`]) depend on them.

/// Success.
pub const OK: i32 = 0;
/// The command line was malformed (EX_USAGE).
pub const USAGE: i32 = 64;
/// A store or the network could not be reached (EX_UNAVAILABLE).
pub const UNAVAILABLE: i32 = 69;
/// An internal error: a bug or an invariant broken (EX_SOFTWARE).
pub const INTERNAL: i32 = 70;
/// The configuration is invalid (EX_CONFIG).
pub const CONFIG: i32 = 78;
/// The store is owned by another live daemon (EX_TEMPFAIL): see `chatseal_schema::ownership`.
pub const OWNED: i32 = 75;
