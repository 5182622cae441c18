//! chatseal's store: SeaORM entities and migrations for SQLite and PostgreSQL, opening a store
//! with its durability settings and start-up checks, and the typed queries the actors use
//! (flush, seal, reads, opt-outs, meta). Hashes cross the API as 64 lowercase hex characters
//! without `0x`; `sealed_participants` stores them as 32 raw bytes (`keys`, `layout`); times are Unix seconds, or Unix milliseconds where a name ends in `_ms`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), chatseal_schema::StoreError> {
//! let store = chatseal_schema::Store::open("sqlite://data/chatseal.db").await?;
//! let tx = store.begin_flush().await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```

mod backend;
pub mod backup;
pub mod checks;
pub mod copy;
pub mod digest;
pub mod entity;
pub mod error;
pub mod flush_phases;
pub mod inspect;
pub mod keys;
pub mod layout;
pub mod leaves;
mod maintenance;
pub mod message_keys;
pub mod migration;
mod open;
pub mod ownership;
pub mod pg_snapshot;
pub mod queries;
mod quick_check;
pub mod redact;
pub mod rows;
pub mod salvage;
pub mod signals;
mod sqlite_raw;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "testing")]
pub mod v1_fixture;
mod warm;

pub use backend::Backend;
pub use backup::sqlite_path;
pub use digest::{seal_digest, seal_digest_of, seal_digest_with_cut, seal_rows_match, LeafFields};
pub use error::StoreError;
pub use open::{pg_session_settings, OpenOptions, Store, MIN_PG_STALE_SESSION, SQLITE_BUSY_TIMEOUT};
pub use pg_snapshot::PgSnapshot;
pub use queries::flush::FlushTx;
pub use queries::verify::{DigestCheck, DigestPage, SealKey};
pub use redact::redact_url;
pub use rows::{
    is_hash_hex, CoverageSpan, NewSeal, ParticipantRow, ParticipationDelta, SealWrite, SealedEpoch, SealedParticipant,
    SeenId,
};
pub use salvage::SalvageReport;
pub use signals::{SignalKind, Signals};
