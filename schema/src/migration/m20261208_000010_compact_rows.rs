//! The compact layout, second step (issue 18): `users`, `participation` and `signals` with the
//! user hash as 32 raw bytes, the channel as its `channel_ids` id, the signal kind as its code,
//! the conflict key as the PRIMARY KEY and `WITHOUT ROWID` on SQLite (see
//! `crate::layout::create_row_table_sql`). Like m20261207_000009, this migration only creates
//! the new tables (as [`layout::row_staging`]) and the meta key [`compact::ROWS_PROGRESS_KEY`]
//! that marks the conversion as pending, inside the migrations' one transaction; the rows are
//! moved by `compact::convert` in batches right after the migrations, at every open until it
//! is done, and each table is swapped in when its last row has moved.

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
        let backend = compact::backend_of(db);
        for table in layout::ROW_TABLES {
            let sql = layout::create_row_table_sql(backend, table, &layout::row_staging(table))
                .ok_or_else(|| DbErr::Migration(format!("no compact layout for {table}")))?;
            db.execute_unprepared(&sql).await?;
        }
        compact::mark_pending(db, compact::ROWS_PROGRESS_KEY).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(compact::cannot_undo())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
