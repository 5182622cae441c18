//! Writing and reading seals. `write_seal` is write-once and idempotent: the sealed_epochs row
//! is claimed with `ON CONFLICT DO NOTHING`, so a second seal of the same (epoch, channel),
//! even a concurrent one from another process, changes nothing and returns the stored one.
//! Failpoints: `seal.mid` (participants written, not committed) and `seal.after_commit`.

use super::channel_ids::{channel_id, ensure_channel_id};
use super::sealed_rows::{insert_participants, participant_of, raw_participants, LEAF_COLUMNS};
use super::stmt;
use crate::backend::write_txn_options;
use crate::entity::sealed_epochs;
use crate::error::StoreError;
use crate::keys::hash_to_bytes;
use crate::layout;
use crate::open::Store;
use crate::rows::{check_seal, NewSeal, SealWrite, SealedEpoch, SealedParticipant};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait, Value,
};

impl From<sealed_epochs::Model> for SealedEpoch {
    fn from(m: sealed_epochs::Model) -> Self {
        SealedEpoch {
            epoch: m.epoch,
            channel: m.channel,
            root: m.root,
            claim_root: m.claim_root,
            participants: m.participants,
            coverage: m.coverage,
            digest: m.digest,
            sealed_at: m.sealed_at,
            format_version: m.format_version,
            claim_cut: m.claim_cut.unwrap_or(0),
        }
    }
}

const INSERT_EPOCH: &str = "INSERT INTO sealed_epochs \
     (epoch, channel, root, claim_root, participants, coverage, digest, sealed_at, format_version, claim_cut) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (epoch, channel) DO NOTHING";

impl Store {
    /// Seals (epoch, channel) in ONE transaction: the sealed_epochs row with its digest, every
    /// participant, and the deletion of the epoch's dedup ids. Already sealed: nothing is
    /// written and the stored seal comes back as `AlreadySealed`.
    pub async fn write_seal(&self, seal: &NewSeal) -> Result<SealWrite, StoreError> {
        self.write_seal_fenced(seal, None).await
    }

    /// [`Store::write_seal`] by the holder of the sealer role: `fence` is checked in the seal's
    /// own transaction, and a stale one is refused (`StoreError::Fenced`) with nothing written.
    pub async fn write_seal_fenced(
        &self,
        seal: &NewSeal,
        fence: Option<&crate::ownership::roles::Fence>,
    ) -> Result<SealWrite, StoreError> {
        check_seal(seal)?;
        let digest = seal.digest();
        let row = SealedEpoch {
            epoch: seal.epoch,
            channel: seal.channel.clone(),
            root: seal.root.clone(),
            claim_root: seal.claim_root.clone(),
            participants: seal.participants.len() as i64,
            coverage: seal.coverage,
            digest,
            sealed_at: seal.sealed_at,
            format_version: seal.format_version,
            claim_cut: seal.claim_cut,
        };
        let at = |what: &'static str| self.ctx.at(what);
        let backend = self.writer.get_database_backend();
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(at("starting a seal transaction"))?;
        if let Some(f) = fence {
            crate::ownership::roles::check_fence(&txn, self, f).await?;
            // Holding the role's row lock: the cluster tests cut a member off here.
            crate::error::stall_point("seal.stall_in_txn").await;
        }
        let values: Vec<Value> = vec![
            row.epoch.into(),
            row.channel.clone().into(),
            row.root.clone().into(),
            row.claim_root.clone().into(),
            row.participants.into(),
            row.coverage.into(),
            row.digest.clone().into(),
            row.sealed_at.into(),
            row.format_version.into(),
            // NULL when nothing was cut, like every seal written before the column existed.
            (row.claim_cut > 0).then_some(row.claim_cut).into(),
        ];
        let claimed =
            txn.execute_raw(stmt(backend, INSERT_EPOCH, values)).await.map_err(at("writing a sealed epoch"))?;
        if claimed.rows_affected() == 0 {
            let existing = sealed_epochs::Entity::find_by_id((seal.epoch, seal.channel.clone()))
                .one(&txn)
                .await
                .map_err(at("reading an existing seal"))?;
            txn.rollback().await.map_err(at("ending a seal transaction"))?;
            return match existing {
                Some(m) => Ok(SealWrite::AlreadySealed(m.into())),
                None => Err(self.ctx.corrupt(
                    "writing a seal",
                    format!(
                        "epoch {} channel {} conflicts with a sealed_epochs row that cannot be read back",
                        seal.epoch, seal.channel
                    ),
                )),
            };
        }
        let channel = if seal.participants.is_empty() {
            0
        } else {
            ensure_channel_id(&txn, &seal.channel).await.map_err(at("giving a channel its id"))?
        };
        let written = insert_participants(
            &txn,
            self.backend,
            layout::TABLE,
            seal.epoch,
            (&seal.channel, channel),
            &seal.participants,
        )
        .await
        .map_err(at("writing sealed participants"))?;
        if written != seal.participants.len() as u64 {
            return Err(self.ctx.corrupt(
                "writing sealed participants",
                format!("{written} of {} frozen leaves were written", seal.participants.len()),
            ));
        }
        fail::fail_point!("seal.mid", |arg| Err(crate::error::fail_action("seal.mid", arg)));
        // A channel without an id has no ids recorded (the flush gives it one first).
        let recorded = if seal.participants.is_empty() {
            channel_id(&txn, &seal.channel).await.map_err(at("pruning dedup ids of a sealed epoch"))?
        } else {
            Some(channel)
        };
        if let Some(c) = recorded {
            txn.execute_raw(stmt(
                backend,
                "DELETE FROM seen_ids WHERE epoch = $1 AND channel_id = $2",
                vec![seal.epoch.into(), c.into()],
            ))
            .await
            .map_err(at("pruning dedup ids of a sealed epoch"))?;
        }
        txn.commit().await.map_err(at("committing a seal"))?;
        fail::fail_point!("seal.after_commit", |arg| Err(crate::error::fail_action("seal.after_commit", arg)));
        Ok(SealWrite::Sealed(row))
    }

    /// The seal of (epoch, channel), if sealed.
    pub async fn sealed_epoch(&self, epoch: i64, channel: &str) -> Result<Option<SealedEpoch>, StoreError> {
        let m = sealed_epochs::Entity::find_by_id((epoch, channel.to_owned()))
            .one(&self.reader)
            .await
            .map_err(self.ctx.at("reading a sealed epoch"))?;
        Ok(m.map(Into::into))
    }

    /// Seals, newest epoch first (then channel), optionally of one channel, at most `limit`.
    pub async fn sealed_epochs(&self, channel: Option<&str>, limit: u64) -> Result<Vec<SealedEpoch>, StoreError> {
        let mut q = sealed_epochs::Entity::find();
        if let Some(c) = channel {
            q = q.filter(sealed_epochs::Column::Channel.eq(c));
        }
        let rows = q
            .order_by_desc(sealed_epochs::Column::Epoch)
            .order_by_asc(sealed_epochs::Column::Channel)
            .limit(limit)
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("listing sealed epochs"))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The frozen participants of a seal, in index order.
    pub async fn sealed_participants(&self, epoch: i64, channel: &str) -> Result<Vec<SealedParticipant>, StoreError> {
        let what = "reading sealed participants";
        let Some(id) = channel_id(&self.reader, channel).await.map_err(self.ctx.at(what))? else {
            return Ok(Vec::new());
        };
        if self.backend == crate::backend::Backend::Sqlite {
            let conn = self.raw_read_connection(what).await?;
            let channel = channel.to_owned();
            let read = crate::sqlite_raw::with_raw(conn, move |db| raw_participants(db, epoch, &channel, id));
            return read.await.and_then(|r| r).map_err(|e| self.ctx.raw(what, e));
        }
        let rows = self
            .reader
            .query_all_raw(stmt(
                self.reader.get_database_backend(),
                format!(
                    "SELECT {LEAF_COLUMNS} FROM sealed_participants WHERE epoch = $1 AND channel_id = $2 ORDER BY idx"
                ),
                vec![epoch.into(), id.into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        rows.iter().map(|r| participant_of(epoch, channel, r, 0).map_err(self.ctx.at(what))).collect()
    }

    /// One user's frozen leaf in a seal (`user_hash`: 64 lowercase hex; anything else is in
    /// no seal).
    pub async fn sealed_participant(
        &self,
        epoch: i64,
        channel: &str,
        user_hash: &str,
    ) -> Result<Option<SealedParticipant>, StoreError> {
        let what = "reading a sealed participant";
        let Ok(user) = hash_to_bytes("user_hash", user_hash) else { return Ok(None) };
        let Some(id) = channel_id(&self.reader, channel).await.map_err(self.ctx.at(what))? else {
            return Ok(None);
        };
        let row = self
            .reader
            .query_one_raw(stmt(
                self.reader.get_database_backend(),
                format!(
                    "SELECT {LEAF_COLUMNS} FROM sealed_participants WHERE epoch = $1 AND channel_id = $2 AND user_hash = $3"
                ),
                vec![epoch.into(), id.into(), user.into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        row.map(|r| participant_of(epoch, channel, &r, 0)).transpose().map_err(self.ctx.at(what))
    }

    /// The newest sealed epoch of any channel.
    pub async fn last_sealed_epoch(&self) -> Result<Option<i64>, StoreError> {
        let row = self
            .reader
            .query_one_raw(stmt(self.reader.get_database_backend(), "SELECT MAX(epoch) FROM sealed_epochs", vec![]))
            .await
            .map_err(self.ctx.at("reading the last sealed epoch"))?;
        match row {
            Some(r) => r.try_get_by_index::<Option<i64>>(0).map_err(self.ctx.at("decoding the last sealed epoch")),
            None => Ok(None),
        }
    }
}
