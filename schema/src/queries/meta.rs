//! The `meta` key/value table: small facts the daemon keeps between runs.

use super::stmt;
use crate::entity::meta;
use crate::error::StoreError;
use crate::open::Store;
use sea_orm::{ConnectionTrait, EntityTrait};

impl Store {
    /// The value of `key` in `meta`, if set.
    pub async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row =
            meta::Entity::find_by_id(key.to_owned()).one(&self.reader).await.map_err(self.ctx.at("reading meta"))?;
        Ok(row.map(|m| m.value))
    }

    /// Sets `key` to `value`, replacing what was there.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.writer
            .execute_raw(stmt(
                self.writer.get_database_backend(),
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![key.into(), value.into()],
            ))
            .await
            .map_err(self.ctx.at("writing meta"))?;
        Ok(())
    }
}

/// The meta key holding the length, in seconds, of the epochs this store's lines are recorded
/// and sealed in. Written once, by the first daemon (or replay) on the store; never changed.
pub const EPOCH_LENGTH_KEY: &str = "epoch_length_s";

impl Store {
    /// The recorded epoch length in seconds, if any (a store older than the record has none);
    /// an error when the value is not a positive integer.
    pub async fn recorded_epoch_length(&self) -> Result<Option<i64>, StoreError> {
        match self.get_meta(EPOCH_LENGTH_KEY).await? {
            None => Ok(None),
            Some(v) => match v.trim().parse::<i64>() {
                Ok(len) if len > 0 => Ok(Some(len)),
                _ => Err(StoreError::Invalid {
                    what: "meta epoch_length_s",
                    detail: format!("{v:?} is not a positive number of seconds; set it to the epoch length the store was recorded with"),
                }),
            },
        }
    }

    /// Records `len` (seconds) as the store's epoch length.
    pub async fn record_epoch_length(&self, len: i64) -> Result<(), StoreError> {
        self.set_meta(EPOCH_LENGTH_KEY, &len.to_string()).await
    }

    /// An epoch (of participation or of a seal) that is not a multiple of `len` seconds, if
    /// any: for a store without a recorded length, the sign that it was recorded with another.
    /// Scans both tables; called once per store, before the length is recorded.
    pub async fn epoch_not_aligned_to(&self, len: i64) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT epoch FROM participation WHERE epoch % $1 <> 0 \
                   UNION ALL SELECT epoch FROM sealed_epochs WHERE epoch % $1 <> 0 LIMIT 1";
        let rows = self
            .reader
            .query_all_raw(stmt(self.reader.get_database_backend(), sql, vec![len.into()]))
            .await
            .map_err(self.ctx.at("looking for epochs of another length"))?;
        rows.first()
            .map(|r| r.try_get_by_index::<i64>(0).map_err(self.ctx.at("looking for epochs of another length")))
            .transpose()
    }
}
