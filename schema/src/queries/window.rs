//! Reads over a span of epochs, for health checks (`chatseal doctor`): the seals of the epochs
//! in a range, and the first sealed epoch of each channel (before which a channel has no
//! history, so a missing seal there is no gap). All on the read connections; nothing written.

use super::stmt;
use crate::entity::sealed_epochs;
use crate::error::StoreError;
use crate::open::Store;
use crate::rows::SealedEpoch;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;

impl Store {
    /// The seals of the epochs `from..=to`, oldest epoch first, then by channel.
    pub async fn seals_between(&self, from: i64, to: i64) -> Result<Vec<SealedEpoch>, StoreError> {
        let rows = sealed_epochs::Entity::find()
            .filter(sealed_epochs::Column::Epoch.gte(from))
            .filter(sealed_epochs::Column::Epoch.lte(to))
            .order_by_asc(sealed_epochs::Column::Epoch)
            .order_by_asc(sealed_epochs::Column::Channel)
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("listing the seals of a range of epochs"))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The oldest sealed epoch of every channel that has a seal.
    pub async fn first_sealed_epochs(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        let what = "reading each channel's first sealed epoch";
        let rows = self
            .reader
            .query_all_raw(stmt(
                self.reader.get_database_backend(),
                "SELECT channel, MIN(epoch) FROM sealed_epochs GROUP BY channel",
                vec![],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get_by_index::<String>(0).map_err(self.ctx.at(what))?,
                    r.try_get_by_index::<i64>(1).map_err(self.ctx.at(what))?,
                ))
            })
            .collect()
    }
}

impl Store {
    /// How many seals (sealed channel-epochs) the store holds.
    pub async fn seal_count(&self) -> Result<i64, StoreError> {
        let what = "counting seals";
        let row = self
            .reader
            .query_one_raw(stmt(self.reader.get_database_backend(), "SELECT COUNT(*) FROM sealed_epochs", vec![]))
            .await
            .map_err(self.ctx.at(what))?;
        match row {
            Some(r) => r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what)),
            None => Ok(0),
        }
    }
}
