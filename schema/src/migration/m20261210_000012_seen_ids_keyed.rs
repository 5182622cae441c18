//! The compact layout, fourth step (issue 18): `seen_ids` keyed by the message id's binary key
//! (`crate::message_keys`), the channel as its id, `WITHOUT ROWID` on SQLite (see
//! `crate::layout::create_seen_ids_sql`). Before it, each id was a text primary key of a rowid
//! table: three b-trees per line on SQLite (the rows, the key's own index, the (epoch,
//! channel) index), compared under the database collation on PostgreSQL; now two, compared
//! as bytes.
//!
//! `seen_ids` only holds the ids of hours not sealed yet (a seal deletes its own), so the rows
//! are moved here, inside the migrations' one transaction: a kill at any point leaves the old
//! table as it was, and the next open runs this step again.

use crate::layout;
use crate::message_keys::SeenKey;
use crate::migration::compact;
use crate::queries::channel_ids::ensure_channel_id;
use crate::queries::{rows_per_chunk, stmt, values_list};
use sea_orm::{ConnectionTrait, DbBackend, Value};
use sea_orm_migration::prelude::*;
use std::collections::HashMap;

/// The old table's name while its rows are moved.
const OLD: &str = "seen_ids_text";
/// Rows read per statement from the old table.
const PAGE: u64 = 5_000;

/// The migration.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = compact::backend_of(db);
        // The old index first: index names are the schema's, not the table's.
        db.execute_unprepared(&format!("DROP INDEX IF EXISTS {}", layout::SEEN_IDS_INDEX)).await?;
        db.execute_unprepared(&format!("ALTER TABLE seen_ids RENAME TO {OLD}")).await?;
        if backend == crate::backend::Backend::Postgres {
            // Its primary key's index keeps its name through the rename; the new table's
            // would take the same one.
            db.execute_unprepared(&format!("ALTER INDEX IF EXISTS seen_ids_pkey RENAME TO {OLD}_pkey")).await?;
        }
        db.execute_unprepared(&layout::create_seen_ids_sql(backend, "seen_ids")).await?;
        db.execute_unprepared(&layout::create_seen_ids_index_sql()).await?;
        move_rows(db).await?;
        db.execute_unprepared(&format!("DROP TABLE {OLD}")).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(compact::cannot_undo())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// Moves every row of the old table into the new one, a page of ids at a time.
async fn move_rows(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend: DbBackend = db.get_database_backend();
    let mut channels: HashMap<String, i32> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let (filter, values) = match &after {
            Some(a) => (" WHERE id > $1", vec![Value::from(a.clone())]),
            None => ("", vec![]),
        };
        let sql = format!("SELECT id, epoch, channel FROM {OLD}{filter} ORDER BY id LIMIT {PAGE}");
        let rows = db.query_all_raw(stmt(backend, sql, values)).await?;
        let Some(last) = rows.last() else { return Ok(()) };
        after = Some(last.try_get_by_index::<String>(0)?);
        let mut out: Vec<Value> = Vec::with_capacity(rows.len() * 3);
        for r in &rows {
            let id: String = r.try_get_by_index(0)?;
            let epoch: i64 = r.try_get_by_index(1)?;
            let channel: String = r.try_get_by_index(2)?;
            let cid = match channels.get(&channel) {
                Some(c) => *c,
                None => {
                    let c = ensure_channel_id(db, &channel).await?;
                    channels.insert(channel, c);
                    c
                }
            };
            out.extend([Value::Bytes(Some(SeenKey::of_text(&id).into_bytes())), epoch.into(), cid.into()]);
        }
        let per = rows_per_chunk(3);
        for chunk in out.chunks(per * 3) {
            let n = chunk.len() / 3;
            let sql = format!(
                "INSERT INTO seen_ids (id, epoch, channel_id) VALUES {} ON CONFLICT (id) DO NOTHING",
                values_list(backend, n, 3)
            );
            db.execute_raw(stmt(backend, sql, chunk.to_vec())).await?;
        }
    }
}
