//! The third step of the conversion (migration m20261209_000011): `sealed_participants` from
//! the compact layout into the keyed one (`crate::layout::create_keyed_table_sql`). Each batch
//! of whole seals (chosen as in the first step, `batch::next_seals`), in the caller's one
//! transaction:
//! 1. reads the seals' rows from the compact table by their keys and checks every seal's
//!    digest over them (`batch::check`): a seal that fails stops the conversion before
//!    anything of it is written, naming it;
//! 2. writes them into the keyed table the way `write_seal` does (`queries::sealed_rows`: each
//!    leaf NULL where it is the computed one, decided by computing and comparing);
//! 3. reads them back from the keyed table, leaves filled in, checks every digest again and
//!    compares every field with the old rows.
//!
//! The last step copies the rows that belong to no seal (none in a store chatseal wrote) with
//! their leaves as they are, then swaps the table in (`super::swap_in`).

use super::batch::{check, Seal};
use crate::backend::Backend;
use crate::error::{ErrCtx, StoreError};
use crate::keys::hash_from_bytes;
use crate::layout::{create_keyed_indexes_sql, KEYED_STAGING_TABLE, TABLE};
use crate::queries::channel_ids::channel_names;
use crate::queries::sealed_rows::{insert_participants, participant_of, LEAF_COLUMNS};
use crate::queries::stmt;
use crate::queries::verify::keys_filter;
use crate::rows::SealedParticipant;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Value};
use std::collections::{BTreeMap, HashMap};

type Rows = BTreeMap<(i64, String), Vec<SealedParticipant>>;

/// The rows of `seals` (channel ids in `ids`) from the compact table (`keyed` false) or the
/// keyed one, by seal, each in idx order.
async fn read_rows(
    txn: &DatabaseTransaction,
    ctx: &ErrCtx,
    keyed: bool,
    seals: &[(i64, &str, i32)],
) -> Result<Rows, StoreError> {
    let what = if keyed { "reading converted rows back" } else { "reading rows to convert" };
    let mut out = Rows::new();
    if seals.is_empty() {
        return Ok(out);
    }
    let b = txn.get_database_backend();
    let (table, columns) = if keyed {
        (KEYED_STAGING_TABLE, LEAF_COLUMNS)
    } else {
        (TABLE, "idx, user_hash, login, amount, leaf, claim_leaf")
    };
    let values: Vec<Value> = seals.iter().flat_map(|(e, _, id)| [Value::from(*e), Value::from(*id)]).collect();
    let sql = format!("SELECT epoch, channel_id, {columns} FROM {table} WHERE {}", keys_filter(b, seals.len()));
    let names: HashMap<(i64, i32), &str> = seals.iter().map(|(e, c, id)| ((*e, *id), *c)).collect();
    for r in txn.query_all_raw(stmt(b, sql, values)).await.map_err(ctx.at(what))? {
        let epoch: i64 = r.try_get_by_index(0).map_err(ctx.at(what))?;
        let id: i32 = r.try_get_by_index(1).map_err(ctx.at(what))?;
        let channel = names.get(&(epoch, id)).copied().unwrap_or_default();
        let p = if keyed {
            participant_of(epoch, channel, &r, 2).map_err(ctx.at(what))?
        } else {
            // The compact layout holds every leaf as bytes.
            let hash = |i| r.try_get_by_index::<Vec<u8>>(i).map(|b| hash_from_bytes(&b));
            SealedParticipant {
                idx: r.try_get_by_index(2).map_err(ctx.at(what))?,
                user_hash: hash(3).map_err(ctx.at(what))?,
                login: r.try_get_by_index(4).map_err(ctx.at(what))?,
                amount: r.try_get_by_index(5).map_err(ctx.at(what))?,
                leaf: hash(6).map_err(ctx.at(what))?,
                claim_leaf: hash(7).map_err(ctx.at(what))?,
            }
        };
        out.entry((epoch, channel.to_owned())).or_default().push(p);
    }
    for ps in out.values_mut() {
        ps.sort_unstable_by_key(|p| p.idx);
    }
    Ok(out)
}

/// Converts the seals of one batch (see the module doc); returns the rows copied.
pub(super) async fn convert_seals(
    txn: &DatabaseTransaction,
    backend: Backend,
    ctx: &ErrCtx,
    seals: &[Seal],
) -> Result<u64, StoreError> {
    let ids: HashMap<String, i32> = channel_names(txn)
        .await
        .map_err(ctx.at("reading channel ids to convert"))?
        .into_iter()
        .map(|(id, name)| (name, id))
        .collect();
    // A seal of a channel without an id has no rows (only empty seals do that).
    let keys: Vec<(i64, &str, i32)> =
        seals.iter().filter_map(|s| ids.get(&s.channel).map(|id| (s.epoch, s.channel.as_str(), *id))).collect();
    let old = read_rows(txn, ctx, false, &keys).await?;
    check(ctx, "before the conversion", seals, &old, true)?;
    let mut copied = 0;
    for (epoch, channel, id) in &keys {
        let Some(ps) = old.get(&(*epoch, (*channel).to_owned())) else { continue };
        copied += insert_participants(txn, backend, KEYED_STAGING_TABLE, *epoch, (channel, *id), ps)
            .await
            .map_err(ctx.at("copying rows into the keyed table"))?;
    }
    let want: usize = old.values().map(Vec::len).sum();
    let new = read_rows(txn, ctx, true, &keys).await?;
    if copied != want as u64 {
        return Err(ctx.corrupt(
            "converting sealed_participants",
            format!("{copied} of {want} rows of {} seals were copied", seals.len()),
        ));
    }
    check(ctx, "after the conversion", seals, &new, false)?;
    if new != old {
        return Err(ctx.corrupt(
            "converting sealed_participants",
            format!("the rows of {} seals read back differ from the old ones", seals.len()),
        ));
    }
    Ok(copied)
}

/// The end of the step (see the module doc), inside the caller's transaction.
pub(super) async fn finish(txn: &DatabaseTransaction, backend: Backend, ctx: &ErrCtx) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {KEYED_STAGING_TABLE} (epoch, channel_id, user_hash, idx, login, amount, leaf, claim_leaf) \
         SELECT p.epoch, p.channel_id, p.user_hash, p.idx, p.login, p.amount, p.leaf, p.claim_leaf FROM {TABLE} p \
         WHERE NOT EXISTS (SELECT 1 FROM sealed_epochs e JOIN channel_ids c ON c.name = e.channel \
         WHERE e.epoch = p.epoch AND c.id = p.channel_id)"
    );
    txn.execute_raw(stmt(txn.get_database_backend(), sql, vec![]))
        .await
        .map_err(ctx.at("copying the rows of no seal into the keyed table"))?;
    super::swap_in(txn, backend, ctx, KEYED_STAGING_TABLE, super::KEYED_PROGRESS_KEY, &create_keyed_indexes_sql()).await
}
