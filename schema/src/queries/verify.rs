//! Re-checking every seal against its digest (at start-up and with every backup). Seals are
//! read in key order, a page at a time, and their participants in ranges of about
//! `PARTICIPANTS_PER_READ` rows, so memory stays bounded on a store of any size.
//!
//! Speed: the participants of each seal come back as ONE aggregated text (`group_concat` /
//! `string_agg` of the six fields in idx order, separated by ASCII unit and record separators),
//! not as a row per participant: the per-row cost of the driver was most of the check (about
//! 10 us per leaf, 9 s for a 1 GB store). A seal whose text does not parse or whose digest does
//! not match is read again row by row, the exact way, before it is called damaged, so a field
//! that happens to hold a separator can never be reported as corruption.

use super::channel_ids::channel_names;
use super::sealed_rows::{participant_of, LEAF_COLUMNS};
use super::verify_index::{disagreeing, index_fingerprints, Fingerprint, Fingerprints};
use super::{stmt, values_list};
use crate::digest::{seal_digest_of, seal_digest_with_cut, LeafFields, SealHasher, SealHead};
use crate::entity::sealed_epochs;
use crate::error::StoreError;
use crate::leaves::{filled, RowFields};
use crate::open::Store;
use crate::rows::SealedParticipant;
use crate::sqlite_raw::{with_raw, RawDb, RawError};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};
use std::collections::HashMap;

const EPOCHS_PER_PAGE: u64 = 500;
const PARTICIPANTS_PER_READ: i64 = 20_000;

/// Field and record separators of the aggregated participants (ASCII US and RS).
const FIELD_SEP: char = '\u{1f}';
const RECORD_SEP: char = '\u{1e}';

/// One text per seal of the run: every participant's fields in the digest's order (idx,
/// user_hash, login, leaf, amount, claim_leaf), hashes as lowercase hex, a leaf the row holds
/// as NULL (the computed one) as [`COMPUTED`] (see [`parse_agg`]). `{keys}`: the run's
/// (epoch, channel_id) list, see [`keys_filter`].
const AGG_SQL_SQLITE: &str =
    "SELECT epoch, channel_id, COUNT(*), group_concat(CAST(idx AS TEXT) || char(31) || lower(hex(user_hash)) \
     || char(31) || login || char(31) || CASE WHEN leaf IS NULL THEN '*' ELSE lower(hex(leaf)) END || char(31) \
     || amount || char(31) || CASE WHEN claim_leaf IS NULL THEN '*' ELSE lower(hex(claim_leaf)) END, \
     char(30)) FROM sealed_participants WHERE {keys} GROUP BY epoch, channel_id";
const AGG_SQL_PG: &str = "SELECT epoch, channel_id, COUNT(*), string_agg(CAST(idx AS TEXT) || chr(31) \
     || encode(user_hash, 'hex') || chr(31) || login || chr(31) \
     || CASE WHEN leaf IS NULL THEN '*' ELSE encode(leaf, 'hex') END || chr(31) || amount \
     || chr(31) || CASE WHEN claim_leaf IS NULL THEN '*' ELSE encode(claim_leaf, 'hex') END, chr(30)) \
     FROM sealed_participants WHERE {keys} GROUP BY epoch, channel_id";

/// The aggregated text of a leaf the row holds as NULL (no hex is `*`).
const COMPUTED: &str = "*";

/// The hex of the leaves of `ps` that their rows hold as NULL, filled in (`crate::leaves`);
/// None where the text holds the leaf itself.
fn fill_agg(epoch: i64, channel: &str, ps: &[LeafFields<'_>]) -> Vec<(Option<String>, Option<String>)> {
    let mut user = [0u8; 32];
    ps.iter()
        .map(|p| {
            if p.leaf != COMPUTED && p.claim_leaf != COMPUTED {
                return (None, None);
            }
            let user: &[u8] = if hex::decode_to_slice(p.user_hash, &mut user).is_ok() { &user } else { &[] };
            let row = RowFields {
                epoch,
                channel,
                idx: p.idx,
                user_hash: user,
                login: p.login.as_bytes(),
                amount: p.amount.as_bytes(),
            };
            let (leaf, claim) = filled(&row, None, None);
            let hex = |computed: bool, l: crate::leaves::Leaf<'_>| computed.then(|| hex::encode(l.bytes()));
            (hex(p.leaf == COMPUTED, leaf), hex(p.claim_leaf == COMPUTED, claim))
        })
        .collect()
}

/// The participants of an aggregated text, borrowed from it and put in idx order (the SQL
/// does not have to keep any order), or None when it does not split into `count` records of
/// six fields with a numeric idx (only a damaged row, or a field holding a separator, does
/// that; the caller then reads the seal row by row).
fn parse_agg(text: Option<&str>, count: i64) -> Option<Vec<LeafFields<'_>>> {
    let Some(text) = text else { return (count == 0).then(Vec::new) };
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?);
    for rec in text.split(RECORD_SEP) {
        let mut f = rec.split(FIELD_SEP);
        let p = LeafFields {
            idx: f.next()?.parse().ok()?,
            user_hash: f.next()?,
            login: f.next()?,
            leaf: f.next()?,
            amount: f.next()?,
            claim_leaf: f.next()?,
        };
        if f.next().is_some() {
            return None;
        }
        out.push(p);
    }
    if !out.is_sorted_by_key(|p| p.idx) {
        out.sort_unstable_by_key(|p| p.idx);
    }
    (out.len() as i64 == count).then_some(out)
}

/// `(epoch, channel_id) IN (...)` over `n` bound pairs, as each engine takes it.
pub(crate) fn keys_filter(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Sqlite => format!("(epoch, channel_id) IN (VALUES {})", values_list(backend, n, 2)),
        _ => format!("(epoch, channel_id) IN ({})", values_list(backend, n, 2)),
    }
}

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

/// A sealed (epoch, channel): the key the digest check goes through the seals in.
pub type SealKey = (i64, String);

/// One step of a resumable digest check ([`Store::verify_digest_page`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestPage {
    /// The seals of this page whose rows no longer match their digest, in key order; on the
    /// last step (`last` None) also those whose index entries disagree with their rows.
    pub bad: Vec<SealKey>,
    /// The last seal of this page: where the next page starts after. None: there were no
    /// seals after the check's position, so the check is complete.
    pub last: Option<SealKey>,
    /// Seals checked in this page.
    pub seals: u64,
    /// Frozen leaves those seals hold (by their stored participant counts).
    pub leaves: i64,
}

/// Where a digest check spread over several calls stands: the last seal checked and, on
/// SQLite, the fingerprints of the rows read so far, compared with the index when the check
/// completes (see `verify_index`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestCheck {
    after: Option<SealKey>,
    fingerprints: Fingerprints,
}

impl DigestCheck {
    /// The last seal checked (None: none yet).
    pub fn after(&self) -> Option<&SealKey> {
        self.after.as_ref()
    }
}

impl Store {
    /// The sealed (epoch, channel)s whose rows no longer match their digest (or whose stored
    /// participant count differs from the rows, or, on SQLite, whose index entries disagree
    /// with the rows), oldest first. Empty: every seal is intact.
    pub async fn verify_digests(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut check = DigestCheck::default();
        let mut bad = Vec::new();
        loop {
            let page = self.verify_digest_page(&mut check, EPOCHS_PER_PAGE).await?;
            bad.extend(page.bad);
            if page.last.is_none() {
                break;
            }
        }
        bad.sort_unstable();
        bad.dedup();
        Ok(bad)
    }

    /// Checks the next `max_seals` seals (at least one) after `check`'s position in key order
    /// (epoch, then channel) against their digests and moves the position on: one step of
    /// [`Store::verify_digests`], so a caller can spread the check over time (the daemon checks
    /// for a budget at start-up and the rest in the background). The step that finds no seal
    /// left completes the check (on SQLite: the index compared with the rows read).
    pub async fn verify_digest_page(&self, check: &mut DigestCheck, max_seals: u64) -> Result<DigestPage, StoreError> {
        self.check_compact_layout().await?;
        let ids = self.channel_ids_by_name().await?;
        let mut q = sealed_epochs::Entity::find();
        if let Some((e, c)) = &check.after {
            q = q.filter(
                Condition::any().add(sealed_epochs::Column::Epoch.gt(*e)).add(
                    Condition::all()
                        .add(sealed_epochs::Column::Epoch.eq(*e))
                        .add(sealed_epochs::Column::Channel.gt(c.as_str())),
                ),
            );
        }
        let page = q
            .order_by_asc(sealed_epochs::Column::Epoch)
            .order_by_asc(sealed_epochs::Column::Channel)
            .limit(max_seals.max(1))
            .all(&self.reader)
            .await
            .map_err(self.ctx.at("reading seals to verify"))?;
        let Some(last) = page.last() else {
            let mut out = DigestPage::default();
            if self.backend == crate::backend::Backend::Sqlite {
                self.check_index(&check.fingerprints, &ids, &mut out.bad).await?;
            }
            return Ok(out);
        };
        let last = (last.epoch, last.channel.clone());
        let mut out = DigestPage {
            bad: Vec::new(),
            last: Some(last.clone()),
            seals: page.len() as u64,
            leaves: page.iter().map(|e| e.participants.max(0)).sum(),
        };
        let suspects = match self.backend {
            crate::backend::Backend::Sqlite => self.raw_check_page(&page, &ids, &mut check.fingerprints).await?,
            _ => self.agg_check_page(&page, &ids).await?,
        };
        for run in suspects {
            self.exact_check(&run, 0, &ids, &mut out.bad).await?;
        }
        check.after = Some(last);
        Ok(out)
    }

    /// The seals among `keys` whose rows no longer match their digest, each checked the exact
    /// way (row by row); a key that is not sealed is skipped. For a few seals (those found
    /// damaged before, one asked for publishing).
    pub async fn verify_seals(&self, keys: &[SealKey]) -> Result<Vec<SealKey>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.check_compact_layout().await?;
        let ids = self.channel_ids_by_name().await?;
        let mut bad = Vec::new();
        for (epoch, channel) in keys {
            let Some(e) = sealed_epochs::Entity::find_by_id((*epoch, channel.clone()))
                .one(&self.reader)
                .await
                .map_err(self.ctx.at("reading a seal to verify"))?
            else {
                continue;
            };
            let fetched = self.fetch_run(std::slice::from_ref(&e), &ids).await?;
            self.exact_check(&fetched, 0, &ids, &mut bad).await?;
        }
        Ok(bad)
    }

    /// Channel ids by channel name, for the per-seal queries.
    async fn channel_ids_by_name(&self) -> Result<HashMap<String, i32>, StoreError> {
        Ok(channel_names(&self.reader)
            .await
            .map_err(self.ctx.at("reading channel ids to verify"))?
            .into_iter()
            .map(|(id, name)| (name, id))
            .collect())
    }

    /// SQLite: compares the index with the rows (see `verify_index`), adding the seals where
    /// they disagree to `bad` (then sorted, each once).
    async fn check_index(
        &self,
        rows: &Fingerprints,
        ids: &HashMap<String, i32>,
        bad: &mut Vec<(i64, String)>,
    ) -> Result<(), StoreError> {
        let what = "reading the sealed participants' index to verify";
        let conn = self.raw_read_connection(what).await?;
        let index = with_raw(conn, index_fingerprints).await.and_then(|r| r).map_err(|e| self.ctx.raw(what, e))?;
        let names: HashMap<i64, &str> = ids.iter().map(|(n, id)| (i64::from(*id), n.as_str())).collect();
        for (epoch, id) in disagreeing(rows, &index) {
            let channel = names.get(&id).map_or_else(|| format!("#{id}"), |n| (*n).to_owned());
            tracing::error!(epoch, channel = %channel, "sealed epoch's index ({}) disagrees with its rows: the digest check reports it", crate::layout::USER_EPOCHS_INDEX);
            bad.push((epoch, channel));
        }
        bad.sort_unstable();
        bad.dedup();
        Ok(())
    }

    /// The aggregated check of a page of seals (PostgreSQL): one run is read while the one
    /// before is hashed on a blocking thread. The seals it does not confirm, each as a fetched
    /// run of one for [`Store::exact_check`].
    async fn agg_check_page(
        &self,
        page: &[sealed_epochs::Model],
        ids: &HashMap<String, i32>,
    ) -> Result<Vec<Fetched>, StoreError> {
        let mut out = Vec::new();
        let runs = runs(page, PARTICIPANTS_PER_READ);
        let mut next = match runs.first() {
            Some(r) => Some(self.fetch_run(r, ids).await?),
            None => None,
        };
        for i in 0..runs.len() {
            let Some(cur) = next.take() else { break };
            let hashed = tokio::task::spawn_blocking(move || {
                let suspects = fast_check(&cur);
                (cur, suspects)
            });
            let prefetch = async {
                match runs.get(i + 1) {
                    Some(r) => self.fetch_run(r, ids).await.map(Some),
                    None => Ok(None),
                }
            };
            let (fetched, hashed) = tokio::join!(prefetch, hashed);
            next = fetched?;
            let (cur, suspects) =
                hashed.map_err(|e| self.ctx.corrupt("verifying seals", format!("the digest check stopped: {e}")))?;
            for at in suspects {
                out.push(self.fetch_run(&cur.run[at..=at], ids).await?);
            }
        }
        Ok(out)
    }

    /// The direct check of a page of seals (SQLite, `sqlite_raw`): the page split in two
    /// halves of about equal participants, each read and hashed on its own read connection
    /// and blocking thread, so both cores work. The seals it does not confirm, each as a
    /// fetched run of one for [`Store::exact_check`]; the fingerprints of the rows read go
    /// into `fingerprints` (for [`Store::check_index`]).
    async fn raw_check_page(
        &self,
        page: &[sealed_epochs::Model],
        ids: &HashMap<String, i32>,
        fingerprints: &mut Fingerprints,
    ) -> Result<Vec<Fetched>, StoreError> {
        let what = "reading sealed participants to verify";
        let jobs: Vec<RawJob> = page
            .iter()
            .enumerate()
            .map(|(at, e)| RawJob { at, seal: e.clone(), channel_id: ids.get(&e.channel).copied() })
            .collect();
        let first = self.raw_read_connection(what).await?;
        // A second connection if one is free (an in-memory store has only the one).
        let second = self.reader.get_sqlite_connection_pool().try_acquire();
        let mut halves = vec![jobs];
        if second.is_some() {
            let total: i64 = halves[0].iter().map(|j| j.seal.participants.max(0)).sum();
            let mut sum = 0;
            let split = halves[0]
                .iter()
                .position(|j| {
                    sum += j.seal.participants.max(0);
                    2 * sum >= total
                })
                .map_or(0, |p| p + 1);
            let split = split.min(halves[0].len());
            let rest = halves[0].split_off(split);
            halves.push(rest);
        }
        let mut tasks = Vec::new();
        for (conn, half) in std::iter::once(first).chain(second).zip(halves) {
            tasks.push(with_raw(conn, move |db| raw_check(db, &half)));
        }
        let mut suspects = Vec::new();
        for task in tasks {
            let (s, f) = task.await.and_then(|r| r).map_err(|e| self.ctx.raw(what, e))?;
            suspects.extend(s);
            for (k, v) in f {
                fingerprints.entry(k).or_default().merge(&v);
            }
        }
        suspects.sort_unstable();
        let mut out = Vec::new();
        for at in suspects {
            out.push(self.fetch_run(&page[at..=at], ids).await?);
        }
        Ok(out)
    }

    /// Reads one run of seals: each seal's participants as one aggregated text.
    async fn fetch_run(&self, run: &[sealed_epochs::Model], ids: &HashMap<String, i32>) -> Result<Fetched, StoreError> {
        let what = "reading sealed participants to verify";
        let agg_sql = match self.backend {
            crate::backend::Backend::Sqlite => AGG_SQL_SQLITE,
            _ => AGG_SQL_PG,
        };
        let mut agg = HashMap::new();
        for r in self.run_rows(agg_sql, run, ids, what).await? {
            let count = r.try_get_by_index::<i64>(2).map_err(self.ctx.at(what))?;
            agg.insert(r.key, (count, r.row.try_get_by_index::<Option<String>>(3).map_err(self.ctx.at(what))?));
        }
        Ok(Fetched { run: run.to_vec(), agg })
    }

    /// Decides seal `at` of a fetched run by the exact, row-by-row read (it failed the fast check).
    async fn exact_check(
        &self,
        f: &Fetched,
        at: usize,
        ids: &HashMap<String, i32>,
        bad: &mut Vec<(i64, String)>,
    ) -> Result<(), StoreError> {
        let e = &f.run[at];
        let ps = self.seal_rows(e, ids, "reading sealed participants to verify").await?;
        let digest = seal_digest_with_cut(
            e.epoch,
            &e.channel,
            e.root.as_deref(),
            e.claim_root.as_deref(),
            e.claim_cut.unwrap_or(0),
            &ps,
        );
        if digest != e.digest || ps.len() as i64 != e.participants {
            tracing::error!(epoch = e.epoch, channel = %e.channel, "sealed epoch does not match its digest");
            bad.push((e.epoch, e.channel.clone()));
        }
        Ok(())
    }
}

/// One run of seals as read for the check.
struct Fetched {
    run: Vec<sealed_epochs::Model>,
    /// Per seal: the row count and the aggregated text.
    agg: HashMap<(i64, String), (i64, Option<String>)>,
}

/// The positions in `f.run` of the seals the aggregated text does not confirm (unparsable,
/// another digest or count): the exact read decides those. Pure CPU (keccak): run on a
/// blocking thread.
fn fast_check(f: &Fetched) -> Vec<usize> {
    let mut suspects = Vec::new();
    for (at, e) in f.run.iter().enumerate() {
        let (count, text) = f.agg.get(&(e.epoch, e.channel.clone())).map_or((0, None), |(c, t)| (*c, t.as_deref()));
        let ok = parse_agg(text, count).is_some_and(|ps| {
            let computed = fill_agg(e.epoch, &e.channel, &ps);
            let leaves = ps.iter().zip(&computed).map(|(p, (leaf, claim))| LeafFields {
                leaf: leaf.as_deref().unwrap_or(p.leaf),
                claim_leaf: claim.as_deref().unwrap_or(p.claim_leaf),
                ..*p
            });
            ps.len() as i64 == e.participants
                && seal_digest_of(
                    e.epoch,
                    &e.channel,
                    e.root.as_deref(),
                    e.claim_root.as_deref(),
                    e.claim_cut.unwrap_or(0),
                    ps.len(),
                    leaves,
                ) == e.digest
        });
        if !ok {
            suspects.push(at);
        }
    }
    suspects
}

/// One seal for [`raw_check`]: its place in the page, its stored row and channel id.
struct RawJob {
    at: usize,
    seal: sealed_epochs::Model,
    channel_id: Option<i32>,
}

/// A seal's frozen leaves in idx order (the seal's rows of the primary key's b-tree, sorted).
const RAW_ROWS_SQL: &str = "SELECT idx, user_hash, login, amount, leaf, claim_leaf FROM sealed_participants \
     WHERE epoch = ?1 AND channel_id = ?2 ORDER BY idx";

/// The places in the page of the seals that the direct read does not confirm (another digest
/// or count, a value of an unexpected type or size), and the fingerprints of the rows read.
/// Runs on a blocking thread; each leaf's bytes are hashed where SQLite holds them, a leaf
/// held as NULL is computed (`crate::leaves`).
fn raw_check(db: &mut RawDb, jobs: &[RawJob]) -> Result<(Vec<usize>, Fingerprints), RawError> {
    use crate::sqlite_raw::Kind::{Blob, Integer, Null, Text};
    let mut rows = db.prepare(RAW_ROWS_SQL)?;
    let mut suspects = Vec::new();
    let mut fingerprints = Fingerprints::new();
    for job in jobs {
        let e = &job.seal;
        let head = SealHead {
            epoch: e.epoch,
            channel: &e.channel,
            root: e.root.as_deref(),
            claim_root: e.claim_root.as_deref(),
            claim_cut: e.claim_cut.unwrap_or(0),
        };
        let mut h = SealHasher::new(head, usize::try_from(e.participants).unwrap_or(0));
        let mut ok = true;
        let mut count = 0i64;
        if let Some(id) = job.channel_id {
            let mut fp = Fingerprint::default();
            rows.reset_with(&[e.epoch, i64::from(id)])?;
            while let Some(r) = rows.next()? {
                let kinds = [Integer, Blob, Text, Text];
                let leaf_kind = |i| matches!(r.kind(i), Blob | Null);
                if (0..4).any(|i| r.kind(i) != kinds[i as usize]) || !leaf_kind(4) || !leaf_kind(5) {
                    ok = false;
                    break;
                }
                let user = r.bytes(1);
                fp.add(user);
                count += 1;
                let nullable = |i| (r.kind(i) == Blob).then(|| r.bytes(i));
                let row = RowFields {
                    epoch: e.epoch,
                    channel: &e.channel,
                    idx: r.i64(0),
                    user_hash: user,
                    login: r.bytes(2),
                    amount: r.bytes(3),
                };
                let (leaf, claim) = filled(&row, nullable(4), nullable(5));
                h.push_stored(row.idx, user, row.login, leaf.bytes(), row.amount, claim.bytes());
            }
            fingerprints.insert((e.epoch, i64::from(id)), fp);
        }
        ok = ok && count == e.participants && h.finish() == e.digest;
        if !ok {
            suspects.push(job.at);
        }
    }
    Ok((suspects, fingerprints))
}

impl Store {
    /// Refuses a store still in the layout of an older release (a read-only open, as
    /// `chatseal doctor` does, runs no migration): its rows cannot be read by these queries.
    async fn check_compact_layout(&self) -> Result<(), StoreError> {
        let what = "checking the store's layout";
        let sql = match self.backend {
            crate::backend::Backend::Sqlite => {
                "SELECT COUNT(*) FROM pragma_table_info('sealed_participants') WHERE name = 'channel_id'"
            }
            _ => {
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name = 'sealed_participants' AND column_name = 'channel_id'"
            }
        };
        let row = self
            .reader
            .query_one_raw(stmt(self.reader.get_database_backend(), sql, vec![]))
            .await
            .map_err(self.ctx.at(what))?;
        let n = row.map(|r| r.try_get_by_index::<i64>(0)).transpose().map_err(self.ctx.at(what))?.unwrap_or(0);
        if n == 0 {
            return Err(StoreError::Invalid {
                what: "store layout",
                detail: "sealed_participants is in the layout of an older release: the next start of the daemon (or any command that opens the store for writing) converts it in place; see docs/operations.md".into(),
            });
        }
        Ok(())
    }
}

/// A result row of a per-run query with its seal's key (channel by name).
struct RunRow {
    key: (i64, String),
    row: sea_orm::QueryResult,
}

impl RunRow {
    fn try_get_by_index<T: sea_orm::TryGetable>(&self, i: usize) -> Result<T, sea_orm::DbErr> {
        self.row.try_get_by_index(i)
    }
}

impl Store {
    /// Runs a per-run query (`{keys}` = the run's seals; rows start with epoch, channel_id) on
    /// the reader. Seals of a channel without an id have no rows (only empty seals do that).
    async fn run_rows(
        &self,
        sql: &str,
        run: &[sealed_epochs::Model],
        ids: &HashMap<String, i32>,
        what: &'static str,
    ) -> Result<Vec<RunRow>, StoreError> {
        let mut values: Vec<Value> = Vec::with_capacity(run.len() * 2);
        let mut names: HashMap<i32, &str> = HashMap::new();
        for e in run {
            if let Some(id) = ids.get(&e.channel) {
                values.extend([Value::from(e.epoch), Value::from(*id)]);
                names.insert(*id, e.channel.as_str());
            }
        }
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.reader.get_database_backend();
        let sql = sql.replace("{keys}", &keys_filter(backend, values.len() / 2));
        let rows = self.reader.query_all_raw(stmt(backend, sql, values)).await.map_err(self.ctx.at(what))?;
        rows.into_iter()
            .map(|row| {
                let epoch = row.try_get_by_index::<i64>(0).map_err(self.ctx.at(what))?;
                let id = row.try_get_by_index::<i32>(1).map_err(self.ctx.at(what))?;
                let name = names.get(&id).copied().unwrap_or_default().to_owned();
                Ok(RunRow { key: (epoch, name), row })
            })
            .collect()
    }

    /// The participants of one seal, row by row in idx order (the exact read).
    async fn seal_rows(
        &self,
        e: &sealed_epochs::Model,
        ids: &HashMap<String, i32>,
        what: &'static str,
    ) -> Result<Vec<SealedParticipant>, StoreError> {
        let Some(id) = ids.get(&e.channel) else { return Ok(Vec::new()) };
        let rows = self
            .reader
            .query_all_raw(stmt(
                self.reader.get_database_backend(),
                format!(
                    "SELECT {LEAF_COLUMNS} FROM sealed_participants WHERE epoch = $1 AND channel_id = $2 ORDER BY idx"
                ),
                vec![e.epoch.into(), (*id).into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        rows.iter().map(|r| participant_of(e.epoch, &e.channel, r, 0).map_err(self.ctx.at(what))).collect()
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
    fn aggregated_participants_parse_or_ask_for_the_exact_read() {
        let rec = |i: i64, u: &str| {
            format!("{i}\u{1f}{u}\u{1f}login{i}\u{1f}{}\u{1f}{}\u{1f}{}", "a".repeat(64), 100 * i, "b".repeat(64))
        };
        let text = format!("{}\u{1e}{}", rec(0, "h0"), rec(1, "h1"));
        let ps = parse_agg(Some(&text), 2).unwrap();
        assert_eq!((ps[1].idx, ps[1].user_hash, ps[1].login, ps[1].amount), (1, "h1", "login1", "100"));
        // Records in any order come back in idx order.
        let swapped = format!("{}\u{1e}{}", rec(1, "h1"), rec(0, "h0"));
        assert_eq!(parse_agg(Some(&swapped), 2).unwrap(), ps);
        assert_eq!(parse_agg(None, 0), Some(vec![]));
        assert_eq!(parse_agg(None, 3), None, "rows counted but no text: NULL fields");
        assert_eq!(parse_agg(Some(&text), 3), None, "fewer records than rows");
        let separator_in_a_field = format!("{}\u{1f}extra\u{1e}{}", rec(0, "h0"), rec(1, "h1"));
        assert_eq!(parse_agg(Some(&separator_in_a_field), 2), None);
        assert_eq!(parse_agg(Some(&text.replacen('0', "x", 1)), 2), None, "idx not a number");
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
