//! The compact layout, third step (issue 18): `sealed_participants` keyed by (epoch,
//! channel_id, user_hash), idx an ordinary column, the leaves NULL where they are the ones the
//! format computes from the row (see `crate::layout::create_keyed_table_sql` and
//! `crate::leaves`). Like m20261207_000009, this migration only creates the new table (as
//! [`layout::KEYED_STAGING_TABLE`]) and the meta key [`compact::KEYED_PROGRESS_KEY`] that marks
//! the conversion as pending, inside the migrations' one transaction; the rows are moved by
//! `compact::convert` a batch of whole seals at a time, each checked against its digest before
//! and after, right after the migrations, at every open until it is done.

use crate::layout;
use crate::migration::compact;
use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(&layout::create_keyed_table_sql(compact::backend_of(db), layout::KEYED_STAGING_TABLE))
            .await?;
        compact::mark_pending(db, compact::KEYED_PROGRESS_KEY).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(compact::cannot_undo())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
