//! The `meta` key/value table: small facts the daemon keeps between runs.

use super::stmt;
use crate::entity::meta;
use crate::error::StoreError;
use crate::open::Store;
use sea_orm::{ConnectionTrait, EntityTrait};

impl Store {
    pub async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = meta::Entity::find_by_id(key.to_owned())
            .one(&self.reader)
            .await
            .map_err(self.ctx.at("reading meta"))?;
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
