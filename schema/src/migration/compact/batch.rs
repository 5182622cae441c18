//! One batch of the conversion (see the parent module): which seals, the digest checks over
//! the old and the new rows, and the copy itself, done in SQL (`unhex` on SQLite, `decode` on
//! PostgreSQL; the channel by a join on `channel_ids`).

use crate::backend::Backend;
use crate::digest::seal_digest_with_cut;
use crate::error::{ErrCtx, StoreError};
use crate::keys::{hash_from_bytes, hash_to_bytes};
use crate::layout::{STAGING_TABLE, TABLE};
use crate::queries::channel_ids::ensure_channel_id;
use crate::queries::stmt;
use crate::rows::SealedParticipant;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Seals read per query when choosing a batch.
const SEALS_PER_READ: u64 = 500;

/// A seal as the checks need it.
pub(super) struct Seal {
    pub epoch: i64,
    pub channel: String,
    root: Option<String>,
    claim_root: Option<String>,
    participants: i64,
    digest: String,
    claim_cut: i64,
}

/// `(epoch, channel) > after` (and `<= upto`) on columns `e`, `c`, with the values to bind.
fn range(e: &str, c: &str, after: Option<&(i64, String)>, upto: Option<&(i64, String)>) -> (String, Vec<Value>) {
    let mut conds = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some((epoch, channel)) = after {
        values.extend([Value::from(*epoch), Value::from(channel.clone())]);
        conds.push(format!("({e}, {c}) > (${}, ${})", values.len() - 1, values.len()));
    }
    if let Some((epoch, channel)) = upto {
        values.extend([Value::from(*epoch), Value::from(channel.clone())]);
        conds.push(format!("({e}, {c}) <= (${}, ${})", values.len() - 1, values.len()));
    }
    let sql = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
    (sql, values)
}

/// The seals after `after` in key order, whole, adding up to about `budget` participants (at
/// least one seal when any is left).
pub(super) async fn next_seals(
    txn: &DatabaseTransaction,
    ctx: &ErrCtx,
    after: Option<&(i64, String)>,
    budget: i64,
) -> Result<Vec<Seal>, StoreError> {
    let what = "choosing the seals of a conversion batch";
    let (filter, values) = range("epoch", "channel", after, None);
    let sql = format!(
        "SELECT epoch, channel, root, claim_root, participants, digest, claim_cut FROM sealed_epochs{filter} \
         ORDER BY epoch, channel LIMIT {SEALS_PER_READ}"
    );
    let rows = txn.query_all_raw(stmt(txn.get_database_backend(), sql, values)).await.map_err(ctx.at(what))?;
    let mut out = Vec::new();
    let mut sum = 0i64;
    for r in rows {
        let s = Seal {
            epoch: r.try_get_by_index(0).map_err(ctx.at(what))?,
            channel: r.try_get_by_index(1).map_err(ctx.at(what))?,
            root: r.try_get_by_index(2).map_err(ctx.at(what))?,
            claim_root: r.try_get_by_index(3).map_err(ctx.at(what))?,
            participants: r.try_get_by_index(4).map_err(ctx.at(what))?,
            digest: r.try_get_by_index(5).map_err(ctx.at(what))?,
            claim_cut: r.try_get_by_index::<Option<i64>>(6).map_err(ctx.at(what))?.unwrap_or(0),
        };
        if !out.is_empty() && sum + s.participants.max(0) > budget {
            break;
        }
        sum += s.participants.max(0);
        out.push(s);
    }
    Ok(out)
}

/// A participant of a result row laid out as `epoch, channel, idx, user_hash, login, leaf,
/// amount, claim_leaf`, hashes as text (`binary` false) or bytes.
fn participant(r: &QueryResult, binary: bool) -> Result<((i64, String), SealedParticipant), sea_orm::DbErr> {
    let hash = |i| -> Result<String, sea_orm::DbErr> {
        if binary {
            Ok(hash_from_bytes(&r.try_get_by_index::<Vec<u8>>(i)?))
        } else {
            r.try_get_by_index::<String>(i)
        }
    };
    let key = (r.try_get_by_index(0)?, r.try_get_by_index(1)?);
    let p = SealedParticipant {
        idx: r.try_get_by_index(2)?,
        user_hash: hash(3)?,
        login: r.try_get_by_index(4)?,
        leaf: hash(5)?,
        amount: r.try_get_by_index(6)?,
        claim_leaf: hash(7)?,
    };
    Ok((key, p))
}

/// The rows of `(after, upto]` grouped by seal, read from the old table or the new one.
async fn read_rows(
    txn: &DatabaseTransaction,
    ctx: &ErrCtx,
    new: bool,
    after: Option<&(i64, String)>,
    upto: &(i64, String),
) -> Result<BTreeMap<(i64, String), Vec<SealedParticipant>>, StoreError> {
    let what = if new { "reading converted rows back" } else { "reading rows to convert" };
    let sql = if new {
        let (filter, values) = range("p.epoch", "c.name", after, Some(upto));
        (
            format!(
                "SELECT p.epoch, c.name, p.idx, p.user_hash, p.login, p.leaf, p.amount, p.claim_leaf \
                 FROM {STAGING_TABLE} p JOIN channel_ids c ON c.id = p.channel_id{filter} ORDER BY p.epoch, c.name, p.idx"
            ),
            values,
        )
    } else {
        let (filter, values) = range("epoch", "channel", after, Some(upto));
        (
            format!(
                "SELECT epoch, channel, idx, user_hash, login, leaf, amount, claim_leaf FROM {TABLE}{filter} \
                 ORDER BY epoch, channel, idx"
            ),
            values,
        )
    };
    let rows = txn.query_all_raw(stmt(txn.get_database_backend(), sql.0, sql.1)).await.map_err(ctx.at(what))?;
    let mut out: BTreeMap<(i64, String), Vec<SealedParticipant>> = BTreeMap::new();
    for r in &rows {
        let (key, p) = participant(r, new).map_err(ctx.at(what))?;
        out.entry(key).or_default().push(p);
    }
    Ok(out)
}

/// Checks every seal of `seals` against `rows`: the digest over the rows, the row count, and
/// (`storable`) that every hash has the one text the binary form can hold.
pub(super) fn check(
    ctx: &ErrCtx,
    when: &str,
    seals: &[Seal],
    rows: &BTreeMap<(i64, String), Vec<SealedParticipant>>,
    storable: bool,
) -> Result<(), StoreError> {
    let none = Vec::new();
    for s in seals {
        let ps = rows.get(&(s.epoch, s.channel.clone())).unwrap_or(&none);
        let bad = |detail: String| {
            ctx.corrupt(
                "converting sealed_participants",
                format!(
                    "{when}: the seal of epoch {} channel {} {detail}; nothing of it was converted: run chatseal doctor",
                    s.epoch, s.channel
                ),
            )
        };
        if storable {
            for p in ps {
                for (what, h) in [("user_hash", &p.user_hash), ("leaf", &p.leaf), ("claim_leaf", &p.claim_leaf)] {
                    hash_to_bytes(what, h)
                        .map_err(|e| bad(format!("has a {what} the compact layout cannot hold ({e})")))?;
                }
            }
        }
        let digest =
            seal_digest_with_cut(s.epoch, &s.channel, s.root.as_deref(), s.claim_root.as_deref(), s.claim_cut, ps);
        if ps.len() as i64 != s.participants || digest != s.digest {
            return Err(bad(format!(
                "does not match its digest ({} rows for {} participants)",
                ps.len(),
                s.participants
            )));
        }
    }
    Ok(())
}

/// Copies the old rows of `(after, upto]` (to the end when `upto` is None) into the new table;
/// returns how many.
pub(super) async fn copy_rows(
    txn: &DatabaseTransaction,
    backend: Backend,
    ctx: &ErrCtx,
    after: Option<&(i64, String)>,
    upto: Option<&(i64, String)>,
) -> Result<u64, StoreError> {
    let what = "copying rows into the compact table";
    // Channels of rows that belong to no seal get their ids here too.
    let (filter, values) = range("epoch", "channel", after, upto);
    let names = txn
        .query_all_raw(stmt(
            txn.get_database_backend(),
            format!("SELECT DISTINCT channel FROM {TABLE}{filter}"),
            values.clone(),
        ))
        .await
        .map_err(ctx.at(what))?;
    let mut channels = BTreeSet::new();
    for r in names {
        channels.insert(r.try_get_by_index::<String>(0).map_err(ctx.at(what))?);
    }
    for c in &channels {
        ensure_channel_id(txn, c).await.map_err(ctx.at("giving a channel its id"))?;
    }
    let (filter, values) = range("p.epoch", "p.channel", after, upto);
    let unhex = |col: &str| match backend {
        Backend::Sqlite => format!("unhex(p.{col})"),
        Backend::Postgres => format!("decode(p.{col}, 'hex')"),
    };
    let sql = format!(
        "INSERT INTO {STAGING_TABLE} (epoch, channel_id, idx, user_hash, login, leaf, amount, claim_leaf) \
         SELECT p.epoch, c.id, p.idx, {}, p.login, {}, p.amount, {} \
         FROM {TABLE} p JOIN channel_ids c ON c.name = p.channel{filter}",
        unhex("user_hash"),
        unhex("leaf"),
        unhex("claim_leaf")
    );
    let done = txn.execute_raw(stmt(txn.get_database_backend(), sql, values)).await.map_err(ctx.at(what))?;
    Ok(done.rows_affected())
}

/// Converts the seals of one batch (see the parent module's steps 2 to 4); returns the rows
/// copied.
pub(super) async fn convert_seals(
    txn: &DatabaseTransaction,
    backend: Backend,
    ctx: &ErrCtx,
    after: Option<&(i64, String)>,
    seals: &[Seal],
) -> Result<u64, StoreError> {
    let Some(last) = seals.last() else { return Ok(0) };
    let upto = (last.epoch, last.channel.clone());
    let old = read_rows(txn, ctx, false, after, &upto).await?;
    check(ctx, "before the conversion", seals, &old, true)?;
    let copied = copy_rows(txn, backend, ctx, after, Some(&upto)).await?;
    let want: usize = old.values().map(Vec::len).sum();
    if copied != want as u64 {
        return Err(ctx.corrupt(
            "converting sealed_participants",
            format!("{copied} of {want} rows up to epoch {} channel {} were copied", upto.0, upto.1),
        ));
    }
    let new = read_rows(txn, ctx, true, after, &upto).await?;
    check(ctx, "after the conversion", seals, &new, false)?;
    if new != old {
        return Err(ctx.corrupt(
            "converting sealed_participants",
            format!("the rows up to epoch {} channel {} read back differ from the old ones", upto.0, upto.1),
        ));
    }
    Ok(copied)
}
