//! Re-checking every seal against its digest (at start-up and with every backup). Seals are
//! read in key order, a page at a time, and their participants in ranges of about
//! `PARTICIPANTS_PER_READ` rows, so memory stays bounded on a store of any size.

use super::stmt;
use crate::digest::seal_digest_with_cut;
use crate::entity::sealed_epochs;
use crate::error::StoreError;
use crate::open::Store;
use crate::rows::SealedParticipant;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;

const EPOCHS_PER_PAGE: u64 = 500;
const PARTICIPANTS_PER_READ: i64 = 20_000;

const RANGE_SQL: &str = "SELECT epoch, channel, idx, user_hash, login, leaf, amount, claim_leaf \
     FROM sealed_participants WHERE (epoch, channel) >= ($1, $2) AND (epoch, channel) <= ($3, $4) \
     ORDER BY epoch, channel, idx";

/// The same range read through the unique (epoch, channel, user_hash) index alone (a covering
/// scan). Table rows and index entries are separate b-trees: `quick_check` checks each tree's
/// shape but not that they agree, and the digests read the table, so a flipped byte inside an
/// index page would go unseen. Comparing the two catches it. SQLite only: PostgreSQL checks
/// its own pages (checksums, full_page_writes).
const INDEX_RANGE_SQL: &str = "SELECT epoch, channel, user_hash FROM sealed_participants \
     INDEXED BY uq_sealed_participants_user \
     WHERE (epoch, channel) >= ($1, $2) AND (epoch, channel) <= ($3, $4) \
     ORDER BY epoch, channel, user_hash";

/// Splits a page of seals into runs whose stored participant counts add up to about `budget`.
fn runs(page: &[sealed_epochs::Model], budget: i64) -> Vec<&[sealed_epochs::Model]> {
    let mut out = Vec::new();
    let (mut start, mut sum) = (0, 0i64);
    for (i, e) in page.iter().enumerate() {
        if i > start && sum + e.participants.max(0) > budget {
            out.push(&page[start..i]);
            start = i;
            sum = 0;
        }
        sum += e.participants.max(0);
    }
    if start < page.len() {
        out.push(&page[start..]);
    }
    out
}

impl Store {
    /// The sealed (epoch, channel)s whose rows no longer match their digest (or whose stored
    /// participant count differs from the rows), oldest first. Empty: every seal is intact.
    pub async fn verify_digests(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut bad = Vec::new();
        let mut after: Option<(i64, String)> = None;
        loop {
            let mut q = sealed_epochs::Entity::find();
            if let Some((e, c)) = &after {
                q = q.filter(
                    Condition::any()
                        .add(sealed_epochs::Column::Epoch.gt(*e))
                        .add(
                            Condition::all()
                                .add(sealed_epochs::Column::Epoch.eq(*e))
                                .add(sealed_epochs::Column::Channel.gt(c.as_str())),
                        ),
                );
            }
            let page = q
                .order_by_asc(sealed_epochs::Column::Epoch)
                .order_by_asc(sealed_epochs::Column::Channel)
                .limit(EPOCHS_PER_PAGE)
                .all(&self.reader)
                .await
                .map_err(self.ctx.at("reading seals to verify"))?;
            let Some(last) = page.last() else { break };
            after = Some((last.epoch, last.channel.clone()));
            for run in runs(&page, PARTICIPANTS_PER_READ) {
                self.verify_run(run, &mut bad).await?;
            }
        }
        Ok(bad)
    }

    async fn verify_run(
        &self,
        run: &[sealed_epochs::Model],
        bad: &mut Vec<(i64, String)>,
    ) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Ok(());
        };
        let what = "reading sealed participants to verify";
        let rows = self.range_rows(RANGE_SQL, first, last, what).await?;
        let indexed = match self.backend {
            crate::open::Backend::Sqlite => Some(self.index_range(first, last).await?),
            _ => None,
        };
        let mut by_key: HashMap<(i64, String), Vec<SealedParticipant>> = HashMap::new();
        for r in rows {
            let get_s = |i| r.try_get_by_index::<String>(i).map_err(self.ctx.at(what));
            let key = (
                r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
                get_s(1)?,
            );
            by_key.entry(key).or_default().push(SealedParticipant {
                idx: r.try_get_by_index(2).map_err(self.ctx.at(what))?,
                user_hash: get_s(3)?,
                login: get_s(4)?,
                leaf: get_s(5)?,
                amount: get_s(6)?,
                claim_leaf: get_s(7)?,
            });
        }
        for e in run {
            let ps = by_key
                .remove(&(e.epoch, e.channel.clone()))
                .unwrap_or_default();
            let digest = seal_digest_with_cut(
                e.epoch,
                &e.channel,
                e.root.as_deref(),
                e.claim_root.as_deref(),
                e.claim_cut.unwrap_or(0),
                &ps,
            );
            let index_agrees = match &indexed {
                Some(index) => {
                    let mut from_rows: Vec<&str> = ps.iter().map(|p| p.user_hash.as_str()).collect();
                    from_rows.sort_unstable();
                    let from_index = index.get(&(e.epoch, e.channel.clone())).map(|v| v.iter().map(String::as_str).collect::<Vec<_>>()).unwrap_or_default();
                    from_rows == from_index
                }
                None => true,
            };
            if digest != e.digest || ps.len() as i64 != e.participants {
                tracing::error!(epoch = e.epoch, channel = %e.channel, "sealed epoch does not match its digest");
                bad.push((e.epoch, e.channel.clone()));
            } else if !index_agrees {
                tracing::error!(epoch = e.epoch, channel = %e.channel, "sealed epoch's index (uq_sealed_participants_user) disagrees with its rows: the digest check reports it");
                bad.push((e.epoch, e.channel.clone()));
            }
        }
        Ok(())
    }
}

impl Store {
    /// Runs a range query (`$1..$4` = first and last (epoch, channel) of the run) on the reader.
    async fn range_rows(
        &self,
        sql: &str,
        first: &sealed_epochs::Model,
        last: &sealed_epochs::Model,
        what: &'static str,
    ) -> Result<Vec<sea_orm::QueryResult>, StoreError> {
        let values = vec![
            first.epoch.into(),
            first.channel.clone().into(),
            last.epoch.into(),
            last.channel.clone().into(),
        ];
        self.reader
            .query_all_raw(stmt(self.reader.get_database_backend(), sql, values))
            .await
            .map_err(self.ctx.at(what))
    }

    /// User hashes per sealed (epoch, channel) of the range, read from the unique index only.
    async fn index_range(
        &self,
        first: &sealed_epochs::Model,
        last: &sealed_epochs::Model,
    ) -> Result<HashMap<(i64, String), Vec<String>>, StoreError> {
        let what = "reading the sealed participants' index to verify";
        let rows = self.range_rows(INDEX_RANGE_SQL, first, last, what).await?;
        let mut out: HashMap<(i64, String), Vec<String>> = HashMap::new();
        for r in rows {
            let key = (
                r.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?,
                r.try_get_by_index::<String>(1).map_err(self.ctx.at(what))?,
            );
            out.entry(key).or_default().push(r.try_get_by_index::<String>(2).map_err(self.ctx.at(what))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(participants: i64) -> sealed_epochs::Model {
        sealed_epochs::Model {
            epoch: 0,
            channel: String::new(),
            root: None,
            claim_root: None,
            participants,
            coverage: 0.0,
            digest: String::new(),
            sealed_at: 0,
            format_version: 1,
            claim_cut: None,
        }
    }

    #[test]
    fn runs_respect_the_budget_but_never_split_a_seal() {
        let page = vec![e(5), e(5), e(20), e(1), e(0), e(3)];
        let sizes: Vec<usize> = runs(&page, 10).iter().map(|r| r.len()).collect();
        assert_eq!(sizes, vec![2, 1, 3]);
        assert_eq!(sizes.iter().sum::<usize>(), page.len());
        assert!(runs(&[], 10).is_empty());
    }
}
