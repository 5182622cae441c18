//! The channel slots in the store (`cluster_slot`): one planning round ([`slots_plan::plan`])
//! in one transaction under a lock on the table, so members ticking at the same time take
//! turns; a member's report that it now reads the channels it is taking over; the hand-over of
//! a stopping member's slots (make before break); the listing.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, TransactionTrait};

use super::roles::now_ms_sql;
use super::slots_plan::{hand_over, plan, PlanNotes, Slot};
use crate::backend::{write_txn_options, Backend};
use crate::error::StoreError;
use crate::open::Store;
use crate::queries::stmt;

/// A slot as listed, with how long it has had no live holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRow {
    /// The slot and its holders.
    pub slot: Slot,
    /// Since when (Unix ms, database clock) the slot has had no holder; None while held.
    pub unowned_since_ms: Option<i64>,
}

/// What one planning round saw and decided.
#[derive(Clone, Debug)]
pub struct SlotRound {
    /// Every slot as the round wrote it.
    pub slots: Vec<SlotRow>,
    /// What the round changed (take-overs).
    pub notes: PlanNotes,
    /// Instance names of the live cluster members the plan used.
    pub live_members: Vec<String>,
    /// The database clock at the round.
    pub now_ms: i64,
}

impl Store {
    /// Plans the slots of `channels` with `replicas` per channel among the live cluster
    /// members and writes the plan, in one transaction.
    pub async fn plan_slots(&self, channels: &BTreeSet<String>, replicas: u32) -> Result<SlotRound, StoreError> {
        let what = "planning the cluster's channel slots";
        let b = self.writer.get_database_backend();
        let now = now_ms_sql(b);
        let txn = self.writer.begin_with_options(write_txn_options(self.backend)).await.map_err(self.ctx.at(what))?;
        if self.backend == Backend::Postgres {
            txn.execute_raw(stmt(b, "LOCK TABLE cluster_slot IN EXCLUSIVE MODE", vec![]))
                .await
                .map_err(self.ctx.at(what))?;
        }
        let now_ms: i64 = txn
            .query_one_raw(stmt(b, format!("SELECT {now}"), vec![]))
            .await
            .map_err(self.ctx.at(what))?
            .map(|r| r.try_get_by_index(0))
            .transpose()
            .map_err(self.ctx.at(what))?
            .unwrap_or(0);
        let live = live_members(&txn, self, now_ms, what).await?;
        let current = read_slots(&txn, self).await?;
        let since: BTreeMap<(String, u32), Option<i64>> =
            current.iter().map(|r| ((r.slot.channel.clone(), r.slot.slot), r.unowned_since_ms)).collect();
        let plain: Vec<Slot> = current.into_iter().map(|r| r.slot).collect();
        let (planned, notes) = plan(&plain, channels, replicas, &live);
        txn.execute_raw(stmt(b, "DELETE FROM cluster_slot", vec![])).await.map_err(self.ctx.at(what))?;
        let mut rows = Vec::with_capacity(planned.len());
        for s in planned {
            let unowned_since_ms = match &s.holder {
                Some(_) => None,
                None => Some(since.get(&(s.channel.clone(), s.slot)).copied().flatten().unwrap_or(now_ms)),
            };
            txn.execute_raw(stmt(
                b,
                "INSERT INTO cluster_slot (channel, slot, holder, next_holder, next_ready, unowned_since_ms) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![s.channel.clone().into(), (s.slot as i32).into(), s.holder.clone().into(), s.next.clone().into(), s.next_ready.into(), unowned_since_ms.into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
            rows.push(SlotRow { slot: s, unowned_since_ms });
        }
        txn.commit().await.map_err(self.ctx.at(what))?;
        Ok(SlotRound { slots: rows, notes, live_members: live.into_iter().collect(), now_ms })
    }

    /// A graceful stop of `me`, make before break ([`hand_over`]): names a live member as the
    /// next holder of each slot `me` holds, in one transaction under the planning lock. Returns
    /// how many of `me`'s slots are still on their way to another member (0: `me` may stop
    /// reading; slots nobody else can take are not counted).
    pub async fn hand_over_slots(&self, me: &str) -> Result<usize, StoreError> {
        let what = "handing this member's channel slots over";
        let b = self.writer.get_database_backend();
        let now = now_ms_sql(b);
        let txn = self.writer.begin_with_options(write_txn_options(self.backend)).await.map_err(self.ctx.at(what))?;
        if self.backend == Backend::Postgres {
            txn.execute_raw(stmt(b, "LOCK TABLE cluster_slot IN EXCLUSIVE MODE", vec![]))
                .await
                .map_err(self.ctx.at(what))?;
        }
        let now_ms: i64 = txn
            .query_one_raw(stmt(b, format!("SELECT {now}"), vec![]))
            .await
            .map_err(self.ctx.at(what))?
            .map(|r| r.try_get_by_index(0))
            .transpose()
            .map_err(self.ctx.at(what))?
            .unwrap_or(0);
        let live = live_members(&txn, self, now_ms, what).await?;
        let current: Vec<Slot> = read_slots(&txn, self).await?.into_iter().map(|r| r.slot).collect();
        let (handed, moving) = hand_over(&current, me, &live);
        for (old, new) in current.iter().zip(&handed) {
            if old != new {
                txn.execute_raw(stmt(
                    b,
                    "UPDATE cluster_slot SET next_holder = $1, next_ready = $2 WHERE channel = $3 AND slot = $4",
                    vec![
                        new.next.clone().into(),
                        new.next_ready.into(),
                        new.channel.clone().into(),
                        (new.slot as i32).into(),
                    ],
                ))
                .await
                .map_err(self.ctx.at(what))?;
            }
        }
        txn.commit().await.map_err(self.ctx.at(what))?;
        Ok(moving)
    }

    /// `me` now reads `channels`: the hand-overs to it of those channels can complete.
    pub async fn mark_slots_ready(&self, me: &str, channels: &BTreeSet<String>) -> Result<(), StoreError> {
        for c in channels {
            self.writer
                .execute_raw(stmt(
                    self.writer.get_database_backend(),
                    "UPDATE cluster_slot SET next_ready = TRUE WHERE next_holder = $1 AND channel = $2 AND NOT next_ready",
                    vec![me.into(), c.clone().into()],
                ))
                .await
                .map_err(self.ctx.at("marking taken-over slots ready"))?;
        }
        Ok(())
    }

    /// Every slot, by channel and slot.
    pub async fn slot_rows(&self) -> Result<Vec<SlotRow>, StoreError> {
        read_slots(&self.writer, self).await
    }
}

/// Cluster members whose lease runs at `now_ms` (the database clock).
async fn live_members(
    conn: &impl ConnectionTrait,
    store: &Store,
    now_ms: i64,
    what: &'static str,
) -> Result<BTreeSet<String>, StoreError> {
    conn.query_all_raw(stmt(
        conn.get_database_backend(),
        "SELECT instance FROM store_member WHERE clustered AND $1 - heartbeat_ms <= lease_ttl_ms",
        vec![now_ms.into()],
    ))
    .await
    .map_err(store.ctx.at(what))?
    .iter()
    .map(|r| r.try_get_by_index::<String>(0))
    .collect::<Result<_, _>>()
    .map_err(store.ctx.at(what))
}

async fn read_slots(conn: &impl ConnectionTrait, store: &Store) -> Result<Vec<SlotRow>, StoreError> {
    let what = "reading the cluster's channel slots";
    let rows = conn
        .query_all_raw(stmt(conn.get_database_backend(), "SELECT channel, slot, holder, next_holder, next_ready, unowned_since_ms FROM cluster_slot ORDER BY channel, slot", vec![]))
        .await
        .map_err(store.ctx.at(what))?;
    rows.iter()
        .map(|r| {
            let g = |e| store.ctx.db(what, e);
            Ok(SlotRow {
                slot: Slot {
                    channel: r.try_get_by_index(0).map_err(g)?,
                    slot: r.try_get_by_index::<i32>(1).map_err(g)?.max(0) as u32,
                    holder: r.try_get_by_index(2).map_err(g)?,
                    next: r.try_get_by_index(3).map_err(g)?,
                    next_ready: r.try_get_by_index(4).map_err(g)?,
                },
                unowned_since_ms: r.try_get_by_index(5).map_err(g)?,
            })
        })
        .collect()
}
