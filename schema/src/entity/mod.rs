//! SeaORM entities, one module per table, named as the table. They describe the tables the
//! migrations create (see `crate::migration`), for queries written with sea-orm's builder and
//! for tools that copy tables between stores. Hashes are 64 lowercase hex characters without
//! `0x`, except in `sealed_participants`, `users`, `participation` and `signals`, which keep
//! them as 32 raw bytes and their channel as an id of `channel_ids` (the compact layout,
//! `crate::layout`); times are Unix seconds, or Unix milliseconds where a column name ends in
//! `_ms`.
//! There are no foreign keys: every multi-table write is one transaction, sealed data is
//! covered by digests, and tables can be copied (migrate, restore) in any order.

pub mod audit_log;
pub mod channel_ids;
pub mod channels;
pub mod coverage;
pub mod meta;
pub mod opt_outs;
pub mod participation;
pub mod publications;
pub mod sealed_epochs;
pub mod sealed_participants;
pub mod seen_ids;
pub mod signals;
pub mod users;

/// Every table, in the order a copy between stores can use.
pub const TABLES: [&str; 13] = [
    "meta",
    "channel_ids",
    "users",
    "participation",
    "signals",
    "seen_ids",
    "coverage",
    "sealed_epochs",
    "sealed_participants",
    "opt_outs",
    "audit_log",
    "channels",
    "publications",
];
