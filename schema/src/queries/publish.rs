//! The publication record: that a sealed root was posted on chain, with the operator's
//! transaction id. Written once per (epoch, channel) with its audit row in one transaction;
//! recording the same root and tx again changes nothing, another tx is refused (the stored
//! record comes back). Seals with a root and no record are the unpublished backlog.

use super::stmt;
use crate::backend::write_txn_options;
use crate::entity::{publications, sealed_epochs};
use crate::error::StoreError;
use crate::open::Store;
use crate::rows::{check_hash, SealedEpoch};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};

/// A publication record as stored (`root` without `0x`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publication {
    /// The sealed epoch.
    pub epoch: i64,
    /// The channel login.
    pub channel: String,
    /// The root as sealed (64 lowercase hex).
    pub root: String,
    /// The operator's transaction id.
    pub tx: String,
    /// Unix seconds.
    pub published_at: i64,
}

impl From<publications::Model> for Publication {
    fn from(m: publications::Model) -> Self {
        Publication { epoch: m.epoch, channel: m.channel, root: m.root, tx: m.tx, published_at: m.published_at }
    }
}

/// What recording a publication did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishWrite {
    /// Recorded now.
    Recorded(Publication),
    /// The same root and tx were recorded before; nothing changed.
    AlreadyRecorded(Publication),
    /// Another record exists (a different tx or root); nothing changed. Holds the stored one.
    Conflict(Publication),
}

/// How many sealed, non-empty channel-epochs have no publication record, and the `sealed_at`
/// of the oldest of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Backlog {
    /// How many seals with a root have no publication.
    pub count: i64,
    /// When the oldest of them was sealed (Unix seconds), if any.
    pub oldest_sealed_at: Option<i64>,
}

const UNPUBLISHED_WHERE: &str = "s.root IS NOT NULL AND NOT EXISTS \
     (SELECT 1 FROM publications p WHERE p.epoch = s.epoch AND p.channel = s.channel)";

impl Store {
    /// Records that the root of (epoch, channel) was published in `tx`, with an audit row
    /// (`published`) in the same transaction. The caller has checked `root` against the seal.
    pub async fn record_publication(&self, p: &Publication) -> Result<PublishWrite, StoreError> {
        check_hash("publication root", &p.root)?;
        let backend = self.writer.get_database_backend();
        let at = |what: &'static str| self.ctx.at(what);
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(at("starting a publication record"))?;
        let done = txn
            .execute_raw(stmt(
                backend,
                "INSERT INTO publications (epoch, channel, root, tx, published_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (epoch, channel) DO NOTHING",
                vec![
                    p.epoch.into(),
                    p.channel.clone().into(),
                    p.root.clone().into(),
                    p.tx.clone().into(),
                    p.published_at.into(),
                ],
            ))
            .await
            .map_err(at("recording a publication"))?;
        let outcome = if done.rows_affected() == 1 {
            PublishWrite::Recorded(p.clone())
        } else {
            let existing = publications::Entity::find_by_id((p.epoch, p.channel.clone()))
                .one(&txn)
                .await
                .map_err(at("reading a publication record"))?
                .map(Publication::from)
                .ok_or_else(|| {
                    self.ctx.corrupt(
                        "recording a publication",
                        format!("epoch {} #{} conflicts with a record that cannot be read back", p.epoch, p.channel),
                    )
                })?;
            if existing.root == p.root && existing.tx == p.tx {
                PublishWrite::AlreadyRecorded(existing)
            } else {
                PublishWrite::Conflict(existing)
            }
        };
        let detail = match &outcome {
            PublishWrite::Recorded(_) => format!("root={} tx={} recorded", p.root, p.tx),
            PublishWrite::AlreadyRecorded(_) => format!("root={} tx={} already recorded, unchanged", p.root, p.tx),
            PublishWrite::Conflict(e) => {
                format!("root={} tx={} refused: recorded before with root={} tx={}", p.root, p.tx, e.root, e.tx)
            }
        };
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO audit_log (at, action, subject, detail) VALUES ($1, $2, $3, $4)",
            vec![
                p.published_at.into(),
                "published".into(),
                format!("{} #{}", p.epoch, p.channel).into(),
                detail.into(),
            ],
        ))
        .await
        .map_err(at("auditing a publication record"))?;
        txn.commit().await.map_err(at("committing a publication record"))?;
        Ok(outcome)
    }

    /// The publication record of (epoch, channel), if any.
    pub async fn publication(&self, epoch: i64, channel: &str) -> Result<Option<Publication>, StoreError> {
        let m = publications::Entity::find_by_id((epoch, channel.to_owned()))
            .one(&self.reader)
            .await
            .map_err(self.ctx.at("reading a publication record"))?;
        Ok(m.map(Into::into))
    }

    /// The publication records of epochs `from..=to` (of one channel or all).
    pub async fn publications_between(
        &self,
        from: i64,
        to: i64,
        channel: Option<&str>,
    ) -> Result<Vec<Publication>, StoreError> {
        let mut q = publications::Entity::find().filter(publications::Column::Epoch.between(from, to));
        if let Some(c) = channel {
            q = q.filter(publications::Column::Channel.eq(c));
        }
        let rows = q.all(&self.reader).await.map_err(self.ctx.at("reading publication records"))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Sealed, non-empty channel-epochs without a publication record, oldest first (epoch,
    /// then channel), at most `limit`.
    pub async fn unpublished_seals(&self, limit: u64) -> Result<Vec<SealedEpoch>, StoreError> {
        let sql = format!(
            "SELECT s.* FROM sealed_epochs s WHERE {UNPUBLISHED_WHERE} ORDER BY s.epoch, s.channel LIMIT {limit}"
        );
        let rows = sealed_epochs::Entity::find()
            .from_raw_sql(stmt(self.reader.get_database_backend(), sql, vec![]))
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("listing unpublished seals"))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The unpublished backlog: its size and the `sealed_at` of its oldest seal.
    pub async fn unpublished_backlog(&self) -> Result<Backlog, StoreError> {
        let what = "counting unpublished seals";
        let sql = format!("SELECT COUNT(*), MIN(s.sealed_at) FROM sealed_epochs s WHERE {UNPUBLISHED_WHERE}");
        let row = self
            .reader
            .query_one_raw(stmt(self.reader.get_database_backend(), sql, vec![]))
            .await
            .map_err(self.ctx.at(what))?;
        match row {
            Some(r) => Ok(Backlog {
                count: r.try_get_by_index(0).map_err(self.ctx.at(what))?,
                oldest_sealed_at: r.try_get_by_index(1).map_err(self.ctx.at(what))?,
            }),
            None => Ok(Backlog::default()),
        }
    }
}
