//! What the viewer's side reads: the sealed rows of one user, newest first (one range of the
//! index `idx_sealed_participants_user_epoch` on (user_hash, epoch, channel_id), scanned
//! backwards), the seals those rows belong
//! to (primary-key lookups), whether a user was ever seen, and the latest seal of each channel
//! (a loose index scan over `idx_sealed_epochs_channel_epoch`: a few index steps per channel,
//! never a scan of every seal). Each read is bounded by a limit given by the caller. Every
//! statement is a separate, simple one rather than a join: the plans cannot depend on the
//! planner's statistics (a fresh PostgreSQL table is never analyzed). All on the read
//! connections; nothing is written.

use super::stmt;
use crate::entity::{sealed_epochs, users};
use crate::error::StoreError;
use crate::keys::hash_to_bytes;
use crate::open::Store;
use crate::rows::SealedEpoch;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Value};

/// One sealed (epoch, channel) where a user took part: their frozen index and stored amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSealedRow {
    /// The sealed epoch.
    pub epoch: i64,
    /// The channel login.
    pub channel: String,
    /// The user's frozen leaf index in that seal.
    pub idx: i64,
    /// u64 base units as a decimal string, as sealed (also for a participant the claim cap left
    /// out of the claim tree: see `SealedEpoch::claim_cut`).
    pub amount: String,
}

/// Keys per read in [`Store::seals_of`].
pub const SEAL_KEYS_PER_READ: usize = 100;

/// The columns of a [`UserSealedRow`]: the channel's name by a lookup of its id (a subquery,
/// not a join, so that the plan is the index range whatever the planner thinks of the tables).
const ROW_COLUMNS: &str = "SELECT p.epoch, (SELECT c.name FROM channel_ids c WHERE c.id = p.channel_id), \
     p.idx, p.amount FROM sealed_participants p";
/// The id of channel `$n`.
const CHANNEL_ID: &str = "(SELECT c.id FROM channel_ids c WHERE c.name = $";

fn page_sql(channel: bool) -> String {
    let filter = if channel { format!(" AND p.channel_id = {CHANNEL_ID}4)") } else { String::new() };
    format!(
        "{ROW_COLUMNS} WHERE p.user_hash = $1 AND p.epoch < $2{filter} ORDER BY p.epoch DESC, p.channel_id DESC LIMIT $3"
    )
}

// Each channel in turn by MIN(channel) > previous (index steps, not a scan), at most $1 of them,
// then the newest seal of each by MAX(epoch) within the channel.
const LATEST_SQL: &str = "WITH RECURSIVE c(channel, n) AS ( \
       SELECT (SELECT MIN(channel) FROM sealed_epochs), 1 \
       UNION ALL \
       SELECT (SELECT MIN(s.channel) FROM sealed_epochs s WHERE s.channel > c.channel), c.n + 1 \
         FROM c WHERE c.channel IS NOT NULL AND c.n < $1) \
     SELECT e.epoch, e.channel, e.root, e.claim_root, e.participants, e.coverage, e.digest, \
            e.sealed_at, e.format_version, e.claim_cut \
       FROM c JOIN sealed_epochs e ON e.channel = c.channel \
        AND e.epoch = (SELECT MAX(m.epoch) FROM sealed_epochs m WHERE m.channel = c.channel) \
      WHERE c.channel IS NOT NULL ORDER BY e.channel";

impl Store {
    /// The sealed rows of `user_hash` (64 hex) in epochs before `before` (exclusive), of one
    /// channel or all, newest epoch first (then channel id, descending: the index's order), at
    /// most `limit`.
    pub async fn user_sealed_rows(
        &self,
        user_hash: &str,
        channel: Option<&str>,
        before: i64,
        limit: u64,
    ) -> Result<Vec<UserSealedRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let Ok(user) = hash_to_bytes("user_hash", user_hash) else { return Ok(Vec::new()) };
        let mut values: Vec<Value> = vec![user.into(), before.into(), limit.into()];
        if let Some(c) = channel {
            values.push(c.into());
        }
        self.user_rows("reading a user's sealed hours", &page_sql(channel.is_some()), values).await
    }

    /// Every sealed row of `user_hash` in `epoch` (one per channel they took part in), of one
    /// channel or all, by channel id descending. Bounded by the number of channels.
    pub async fn user_sealed_rows_in_epoch(
        &self,
        user_hash: &str,
        channel: Option<&str>,
        epoch: i64,
    ) -> Result<Vec<UserSealedRow>, StoreError> {
        let Ok(user) = hash_to_bytes("user_hash", user_hash) else { return Ok(Vec::new()) };
        let mut values: Vec<Value> = vec![user.into(), epoch.into()];
        let mut sql = format!("{ROW_COLUMNS} WHERE p.user_hash = $1 AND p.epoch = $2");
        if let Some(c) = channel {
            values.push(c.into());
            sql.push_str(&format!(" AND p.channel_id = {CHANNEL_ID}3)"));
        }
        sql.push_str(" ORDER BY p.channel_id DESC");
        self.user_rows("reading a user's sealed hours of one epoch", &sql, values).await
    }

    async fn user_rows(&self, what: &str, sql: &str, values: Vec<Value>) -> Result<Vec<UserSealedRow>, StoreError> {
        let rows = self
            .reader
            .query_all_raw(stmt(self.reader.get_database_backend(), sql, values))
            .await
            .map_err(self.ctx.at(what))?;
        rows.into_iter()
            .map(|r| {
                Ok(UserSealedRow {
                    epoch: r.try_get_by_index(0).map_err(self.ctx.at(what))?,
                    channel: r.try_get_by_index(1).map_err(self.ctx.at(what))?,
                    idx: r.try_get_by_index(2).map_err(self.ctx.at(what))?,
                    amount: r.try_get_by_index(3).map_err(self.ctx.at(what))?,
                })
            })
            .collect()
    }

    /// The seals of the given (epoch, channel)s, in no particular order; keys without a seal
    /// are absent. Callers pass one page's keys; they are read [`SEAL_KEYS_PER_READ`] at a time
    /// (SQLite refuses an expression deeper than 1,000 terms).
    pub async fn seals_of(&self, keys: &[(i64, String)]) -> Result<Vec<SealedEpoch>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(SEAL_KEYS_PER_READ) {
            let mut any = Condition::any();
            for (epoch, channel) in chunk {
                any = any.add(
                    Condition::all()
                        .add(sealed_epochs::Column::Epoch.eq(*epoch))
                        .add(sealed_epochs::Column::Channel.eq(channel.as_str())),
                );
            }
            let rows = sealed_epochs::Entity::find()
                .filter(any)
                .all(&self.reader)
                .await
                .map_err(self.ctx.at("reading the seals of a page of hours"))?;
            out.extend(rows.into_iter().map(SealedEpoch::from));
        }
        Ok(out)
    }

    /// Whether `user_hash` has a users row (was ever seen in any channel).
    pub async fn user_known(&self, user_hash: &str) -> Result<bool, StoreError> {
        // A text that is not a hash names no stored user.
        let Ok(key) = crate::keys::hash_to_bytes("user_hash", user_hash) else { return Ok(false) };
        let row = users::Entity::find_by_id(key).one(&self.reader).await.map_err(self.ctx.at("looking a user up"))?;
        Ok(row.is_some())
    }

    /// The newest seal of each channel that has one, by channel name, for at most `limit`
    /// channels (the first ones by name).
    pub async fn latest_seal_per_channel(&self, limit: u64) -> Result<Vec<SealedEpoch>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sealed_epochs::Entity::find()
            .from_raw_sql(stmt(self.reader.get_database_backend(), LATEST_SQL, vec![limit.into()]))
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("reading the latest seal of each channel"))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
