//! Opt-outs and the audit log. An opt-out and its audit row are written in one transaction;
//! asking twice keeps the first opt-out and audits the repeat.

use super::stmt;
use crate::backend::write_txn_options;
use crate::entity::{audit_log, opt_outs};
use crate::error::StoreError;
use crate::open::Store;
use crate::rows::check_hash;
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QuerySelect, TransactionTrait};

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, action, subject, detail) VALUES ($1, $2, $3, $4)";

impl Store {
    /// Records that `user_hash` (login `login`) opted out; true when this is new. The audit
    /// log gets an `opt_out` row either way, in the same transaction.
    pub async fn opt_out(&self, user_hash: &str, login: &str, reason: &str, at: i64) -> Result<bool, StoreError> {
        check_hash("opt-out user_hash", user_hash)?;
        let backend = self.writer.get_database_backend();
        let err = |what: &'static str| self.ctx.at(what);
        let txn = self
            .writer
            .begin_with_options(write_txn_options(self.backend))
            .await
            .map_err(err("starting an opt-out"))?;
        let res = txn
            .execute_raw(stmt(
                backend,
                "INSERT INTO opt_outs (user_hash, login, created_at, reason) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_hash) DO NOTHING",
                vec![user_hash.into(), login.into(), at.into(), reason.into()],
            ))
            .await
            .map_err(err("recording an opt-out"))?;
        let new = res.rows_affected() == 1;
        let detail = format!("login={login} new={new} reason={reason}");
        txn.execute_raw(stmt(
            backend,
            INSERT_AUDIT,
            vec![at.into(), "opt_out".into(), user_hash.into(), detail.into()],
        ))
        .await
        .map_err(err("auditing an opt-out"))?;
        txn.commit().await.map_err(err("committing an opt-out"))?;
        Ok(new)
    }

    /// Whether `user_hash` (64 lowercase hex) opted out.
    pub async fn is_opted_out(&self, user_hash: &str) -> Result<bool, StoreError> {
        let row = opt_outs::Entity::find_by_id(user_hash.to_owned())
            .one(&self.reader)
            .await
            .map_err(self.ctx.at("reading an opt-out"))?;
        Ok(row.is_some())
    }

    /// How many opt-outs the store holds (they are never deleted, so a change in this count is
    /// how the daemon learns of opt-outs another process wrote).
    pub async fn opt_out_count(&self) -> Result<u64, StoreError> {
        let what = "counting opt-outs";
        let row = self
            .reader
            .query_one_raw(stmt(self.reader.get_database_backend(), "SELECT COUNT(*) FROM opt_outs", vec![]))
            .await
            .map_err(self.ctx.at(what))?;
        let n = row.map(|r| r.try_get_by_index::<i64>(0)).transpose().map_err(self.ctx.at(what))?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every opted-out login, sorted.
    pub async fn opted_out_logins(&self) -> Result<Vec<String>, StoreError> {
        let rows = opt_outs::Entity::find()
            .order_by_asc(opt_outs::Column::Login)
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("listing opt-outs"))?;
        Ok(rows.into_iter().map(|m| m.login).collect())
    }

    /// Appends an administrative action (manual seal, restore, ...) to the audit log.
    pub async fn audit(&self, at: i64, action: &str, subject: &str, detail: &str) -> Result<(), StoreError> {
        self.writer
            .execute_raw(stmt(
                self.writer.get_database_backend(),
                INSERT_AUDIT,
                vec![at.into(), action.into(), subject.into(), detail.into()],
            ))
            .await
            .map_err(self.ctx.at("writing the audit log"))?;
        Ok(())
    }

    /// The newest `limit` audit rows, newest first.
    pub async fn audit_log(&self, limit: u64) -> Result<Vec<audit_log::Model>, StoreError> {
        audit_log::Entity::find()
            .order_by_desc(audit_log::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("reading the audit log"))
    }
}
