//! What the sealer and the status pages read about unsealed data: the participants of an
//! (epoch, channel) with their signal sums, which channels took part in an epoch, which past
//! (epoch, channel)s are still unsealed, and the coverage spans. All on the read connections.

use super::stmt;
use crate::error::StoreError;
use crate::open::Store;
use crate::rows::{CoverageSpan, ParticipantRow, SIGNAL_KINDS};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use std::collections::HashMap;

// Participants with their login, in leaf order. Signals are read by a second index range scan
// and summed in Rust: a join would leave the plan to the planner's statistics, and on a fresh
// PostgreSQL table (never analyzed) it picks a nested loop that takes minutes for 10,000 rows.
const PARTICIPANTS_SQL: &str = "SELECT p.user_hash, u.login, p.first_seen, p.last_seen \
     FROM participation p LEFT JOIN users u ON u.user_hash = p.user_hash \
     WHERE p.epoch = $1 AND p.channel = $2 \
     ORDER BY p.first_seen ASC, p.user_hash ASC";

const SIGNALS_SQL: &str =
    "SELECT user_hash, kind, value FROM signals WHERE epoch = $1 AND channel = $2";

// Distinct (epoch, channel) below $1 by a loose index scan over participation's primary key
// (each step is a few index seeks, not a scan of every participant), minus the sealed ones.
const UNSEALED_SQL: &str = "WITH RECURSIVE k(epoch, channel) AS ( \
       SELECT m, (SELECT MIN(q.channel) FROM participation q WHERE q.epoch = m) \
         FROM (SELECT MIN(epoch) AS m FROM participation WHERE epoch < $1) AS first_key WHERE m IS NOT NULL \
       UNION ALL \
       SELECT COALESCE( \
                (SELECT MIN(q.epoch) FROM participation q WHERE q.epoch = k.epoch AND q.channel > k.channel), \
                (SELECT MIN(q.epoch) FROM participation q WHERE q.epoch > k.epoch AND q.epoch < $1)), \
              COALESCE( \
                (SELECT MIN(q.channel) FROM participation q WHERE q.epoch = k.epoch AND q.channel > k.channel), \
                (SELECT MIN(q.channel) FROM participation q WHERE q.epoch = \
                   (SELECT MIN(r.epoch) FROM participation r WHERE r.epoch > k.epoch AND r.epoch < $1))) \
         FROM k WHERE k.epoch IS NOT NULL) \
     SELECT k.epoch, k.channel FROM k \
     WHERE k.epoch IS NOT NULL AND NOT EXISTS \
       (SELECT 1 FROM sealed_epochs s WHERE s.epoch = k.epoch AND s.channel = k.channel) \
     ORDER BY k.epoch, k.channel";

impl Store {
    async fn read_all(
        &self,
        what: &str,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, StoreError> {
        self.reader
            .query_all_raw(stmt(self.reader.get_database_backend(), sql, values))
            .await
            .map_err(self.ctx.at(what))
    }

    /// The participants of an unsealed (epoch, channel) in leaf order (first_seen, then
    /// user_hash), each with its login and signal sums. A participant without a users row
    /// means the store lost part of a flush: reported as corrupt, never sealed without a name.
    pub async fn participants_for_seal(
        &self,
        epoch: i64,
        channel: &str,
    ) -> Result<Vec<ParticipantRow>, StoreError> {
        let what = "reading participants to seal";
        let mut sums: HashMap<String, [i64; 6]> = HashMap::new();
        for r in self
            .read_all(what, SIGNALS_SQL, vec![epoch.into(), channel.into()])
            .await?
        {
            let user: String = r.try_get_by_index(0).map_err(self.ctx.at(what))?;
            let kind: String = r.try_get_by_index(1).map_err(self.ctx.at(what))?;
            let value: i64 = r.try_get_by_index(2).map_err(self.ctx.at(what))?;
            match SIGNAL_KINDS.iter().position(|k| *k == kind) {
                Some(i) => sums.entry(user).or_default()[i] += value,
                None => {
                    tracing::warn!(epoch, channel, kind = %kind, "ignoring a signal of unknown kind")
                }
            }
        }
        let rows = self
            .read_all(what, PARTICIPANTS_SQL, vec![epoch.into(), channel.into()])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let num = |i| r.try_get_by_index::<i64>(i).map_err(self.ctx.at(what));
            let user_hash: String = r.try_get_by_index(0).map_err(self.ctx.at(what))?;
            let login: Option<String> = r.try_get_by_index(1).map_err(self.ctx.at(what))?;
            let Some(login) = login else {
                return Err(self.ctx.corrupt(
                    what,
                    format!(
                    "participant {user_hash} of epoch {epoch} channel {channel} has no users row"
                ),
                ));
            };
            let [message, bits, sub, resub, gift, raid] =
                sums.remove(&user_hash).unwrap_or_default();
            out.push(ParticipantRow {
                user_hash,
                login,
                first_seen: num(2)?,
                last_seen: num(3)?,
                message,
                bits,
                sub,
                resub,
                gift,
                raid,
            });
        }
        Ok(out)
    }

    /// The channels with at least one participant in `epoch`, sorted.
    pub async fn channels_with_participation(&self, epoch: i64) -> Result<Vec<String>, StoreError> {
        let what = "listing channels of an epoch";
        let sql = "SELECT DISTINCT channel FROM participation WHERE epoch = $1 ORDER BY channel";
        self.read_all(what, sql, vec![epoch.into()])
            .await?
            .into_iter()
            .map(|r| r.try_get_by_index::<String>(0).map_err(self.ctx.at(what)))
            .collect()
    }

    /// (epoch, channel)s before `before_epoch` that have participation but no seal, oldest
    /// first: what a restart must still seal.
    pub async fn unsealed_participation_epochs(
        &self,
        before_epoch: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let what = "listing unsealed epochs";
        self.read_all(what, UNSEALED_SQL, vec![before_epoch.into()])
            .await?
            .into_iter()
            .map(|r| {
                Ok((
                    r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
                    r.try_get_by_index::<String>(1).map_err(self.ctx.at(what))?,
                ))
            })
            .collect()
    }

    /// Joined intervals overlapping `[from_ms, to_ms)`, of one channel or all, ordered by
    /// channel then start.
    pub async fn coverage_spans(
        &self,
        channel: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CoverageSpan>, StoreError> {
        let what = "reading coverage";
        let (sql, values): (&str, Vec<Value>) = match channel {
            Some(c) => (
                "SELECT channel, started_ms, until_ms FROM coverage \
                 WHERE channel = $3 AND started_ms < $2 AND until_ms > $1 ORDER BY channel, started_ms",
                vec![from_ms.into(), to_ms.into(), c.into()],
            ),
            None => (
                "SELECT channel, started_ms, until_ms FROM coverage \
                 WHERE started_ms < $2 AND until_ms > $1 ORDER BY channel, started_ms",
                vec![from_ms.into(), to_ms.into()],
            ),
        };
        self.read_all(what, sql, values)
            .await?
            .into_iter()
            .map(|r| {
                Ok(CoverageSpan {
                    channel: r.try_get_by_index(0).map_err(self.ctx.at(what))?,
                    started_ms: r.try_get_by_index(1).map_err(self.ctx.at(what))?,
                    until_ms: r.try_get_by_index(2).map_err(self.ctx.at(what))?,
                })
            })
            .collect()
    }
}
