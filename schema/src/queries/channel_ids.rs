//! Channel ids (table `channel_ids`): the integer that stands for a channel login in the
//! compact tables. An id is given on first use, inside the caller's transaction, and never
//! changes. Looked up before inserting, so that PostgreSQL's identity sequence does not grow
//! with every seal.

use super::stmt;
use crate::error::StoreError;
use crate::open::Store;
use sea_orm::{ConnectionTrait, DbErr};
use std::collections::{BTreeSet, HashMap};

/// The id of channel `name`, if it has one.
pub(crate) async fn channel_id<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<i32>, DbErr> {
    let row = db
        .query_one_raw(stmt(db.get_database_backend(), "SELECT id FROM channel_ids WHERE name = $1", vec![name.into()]))
        .await?;
    row.map(|r| r.try_get_by_index::<i32>(0)).transpose()
}

/// The id of channel `name`, given now if it has none (call inside a write transaction).
pub(crate) async fn ensure_channel_id<C: ConnectionTrait>(db: &C, name: &str) -> Result<i32, DbErr> {
    if let Some(id) = channel_id(db, name).await? {
        return Ok(id);
    }
    db.execute_raw(stmt(
        db.get_database_backend(),
        "INSERT INTO channel_ids (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        vec![name.into()],
    ))
    .await?;
    channel_id(db, name)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("channel {name:?} has no id right after it was given one")))
}

/// The ids of `names`, given now to those that have none (call inside a write transaction).
pub(crate) async fn ensure_channel_ids<C: ConnectionTrait>(
    db: &C,
    names: BTreeSet<String>,
) -> Result<HashMap<String, i32>, DbErr> {
    let mut out = HashMap::with_capacity(names.len());
    for name in names {
        let id = ensure_channel_id(db, &name).await?;
        out.insert(name, id);
    }
    Ok(out)
}

/// Every channel id with its name.
pub(crate) async fn channel_names<C: ConnectionTrait>(db: &C) -> Result<HashMap<i32, String>, DbErr> {
    let rows = db.query_all_raw(stmt(db.get_database_backend(), "SELECT id, name FROM channel_ids", vec![])).await?;
    rows.into_iter().map(|r| Ok((r.try_get_by_index::<i32>(0)?, r.try_get_by_index::<String>(1)?))).collect()
}

impl Store {
    /// Every channel that has an id (every channel with a seal in the compact layout), by id.
    pub async fn channel_ids(&self) -> Result<HashMap<i32, String>, StoreError> {
        channel_names(&self.reader).await.map_err(self.ctx.at("reading channel ids"))
    }
}
