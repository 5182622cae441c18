//! The schema's history as sea-orm-migration migrations. `Migrator` lists them in order; the
//! store runs the pending ones at open, all inside one transaction (PostgreSQL and SQLite
//! both have transactional DDL), so a crash mid-migration leaves the previous schema intact.
//! A migration, once released, is never edited: change the schema with a new one.

use crate::backend::{write_txn_options, Backend};
use crate::error::{ErrCtx, StoreError};
use sea_orm::{DatabaseConnection, DbBackend, Statement, TransactionTrait};
use sea_orm_migration::prelude::*;

/// Advisory lock key that serializes migrations of one PostgreSQL database.
pub(crate) const PG_MIGRATION_LOCK: i64 = 0x6368_6174_7365_616c; // "chatseal"

pub mod compact;
mod m20260501_000001_initial;
mod m20260601_000002_claim_cut;
mod m20261206_000003_members_and_roles;
mod m20261206_000005_channels;
mod m20261206_000006_publications;
pub mod m20261206_000007_user_epochs_index;
mod m20261206_000008_cluster_slots;
mod m20261207_000009_compact;
mod m20261208_000010_compact_rows;
mod m20261209_000011_compact_keyed;
mod m20261210_000012_seen_ids_keyed;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260501_000001_initial::Migration),
            Box::new(m20260601_000002_claim_cut::Migration),
            Box::new(m20261206_000003_members_and_roles::Migration),
            Box::new(m20261206_000005_channels::Migration),
            Box::new(m20261206_000006_publications::Migration),
            Box::new(m20261206_000007_user_epochs_index::Migration),
            Box::new(m20261206_000008_cluster_slots::Migration),
            Box::new(m20261207_000009_compact::Migration),
            Box::new(m20261208_000010_compact_rows::Migration),
            Box::new(m20261209_000011_compact_keyed::Migration),
            Box::new(m20261210_000012_seen_ids_keyed::Migration),
        ]
    }
}

/// The name of the newest migration this build knows (what a current store reports as
/// `MAX(version)`): the greatest name, not the last of the list, since branches append their
/// migrations in the order they land, not in the order of their numbers.
pub fn latest_migration() -> String {
    Migrator::migrations().iter().map(|m| m.name().to_owned()).max().unwrap_or_default()
}

/// Runs every pending migration inside ONE transaction (BEGIN IMMEDIATE on SQLite; under an
/// advisory lock on PostgreSQL so two processes opening at once do not race).
pub(crate) async fn run_pending(db: &DatabaseConnection, backend: Backend, ctx: &ErrCtx) -> Result<(), StoreError> {
    let mig = |e: sea_orm::DbErr| match ctx.db("migrating", e) {
        StoreError::Query { url, detail, .. } => StoreError::Migration { url, detail },
        other => other,
    };
    let txn = db.begin_with_options(write_txn_options(backend)).await.map_err(mig)?;
    if backend == Backend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [PG_MIGRATION_LOCK.into()],
        ))
        .await
        .map_err(mig)?;
    }
    Migrator::up(&txn, None).await.map_err(mig)?;
    txn.commit().await.map_err(mig)
}
