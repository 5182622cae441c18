//! The database engine behind a store and the one rule every write transaction follows on it
//! (IMMEDIATE on SQLite). Below `open`, `migration` and the queries, so each of them depends on
//! this module and none on another for it.

use sea_orm::TransactionOptions;

/// The database engine behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A `sqlite://` store: one file, WAL journal.
    Sqlite,
    /// A `postgres://` store.
    Postgres,
}

/// Options for a write transaction: IMMEDIATE on SQLite (take the write lock up front).
pub(crate) fn write_txn_options(backend: Backend) -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: (backend == Backend::Sqlite).then_some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    }
}
