//! Cluster roles (`sealer`, `backup`): each is a lease on the `cluster_role` row carrying a
//! fencing number that grows by one at every change of holder. A member takes a role when
//! nobody holds it or its holder's membership is gone or past its lease (database clock); the
//! holder's writes carry the number ([`Fence`]) and are checked in the SAME transaction as the
//! write ([`check_fence`]), so a member that was paused or cut off and comes back after the
//! role moved can never write. Both engines (the store tests show the fence on each).

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, TransactionTrait};

use crate::backend::{write_txn_options, Backend};
use crate::error::StoreError;
use crate::open::Store;
use crate::queries::stmt;

/// The role that writes seals.
pub const SEALER: &str = "sealer";
/// The role that takes backups.
pub const BACKUP: &str = "backup";
/// Every role, for listings and metrics.
pub const ROLES: [&str; 2] = [SEALER, BACKUP];

/// A held role: its name, the holder and the fencing number of this tenure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The role's name ([`SEALER`] or [`BACKUP`]).
    pub role: String,
    /// The holding member's instance name.
    pub holder: String,
    /// The holder's incarnation token (a restart of the same instance gets another).
    pub holder_token: i64,
    /// The fencing number of this tenure; grows by one at every change of holder.
    pub number: i64,
}

/// A role as listed (`/v1/cluster`, metrics).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RoleHolder {
    /// The role's name.
    pub role: String,
    /// The holding member's instance name; None while nobody holds it.
    pub holder: Option<String>,
    /// The current (or last) fencing number.
    pub fence: i64,
    /// When the current (or last) holder took it, Unix ms on the database's clock.
    pub since_ms: Option<i64>,
}

/// The database clock in Unix milliseconds, per engine.
pub(crate) fn now_ms_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "(extract(epoch from clock_timestamp()) * 1000)::bigint",
        _ => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

impl Store {
    /// Takes `role` for the member (`instance`, `token`) when it is free (no holder, or the
    /// holder's membership row is gone, of another incarnation, or past its lease), and
    /// returns the fence this member holds now; None when another live member holds it.
    pub async fn claim_role(&self, role: &str, instance: &str, token: i64) -> Result<Option<Fence>, StoreError> {
        let what = "claiming a cluster role";
        let b = self.writer.get_database_backend();
        let now = now_ms_sql(b);
        let txn = self.writer.begin_with_options(write_txn_options(self.backend)).await.map_err(self.ctx.at(what))?;
        txn.execute_raw(stmt(
            b,
            "INSERT INTO cluster_role (role, fence) VALUES ($1, 0) ON CONFLICT (role) DO NOTHING",
            vec![role.into()],
        ))
        .await
        .map_err(self.ctx.at(what))?;
        // PostgreSQL: the role's row is locked while its holder writes under the fence (a
        // seal) or another member claims it. Never wait for that lock: the loop that claims
        // also plans the channel slots, and a holder cut off inside its transaction keeps the
        // lock until the server ends its session. A locked row is answered from its committed
        // state, and a free role is taken at a later round.
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let locked = txn
            .query_one_raw(stmt(
                b,
                format!("SELECT holder, holder_token, fence FROM cluster_role WHERE role = $1{lock}"),
                vec![role.into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        let busy = locked.is_none();
        let row = match locked {
            Some(row) => row,
            None => txn
                .query_one_raw(stmt(
                    b,
                    "SELECT holder, holder_token, fence FROM cluster_role WHERE role = $1",
                    vec![role.into()],
                ))
                .await
                .map_err(self.ctx.at(what))?
                .ok_or_else(|| StoreError::Invalid {
                    what: "cluster_role",
                    detail: format!("role {role} vanished inside its own transaction"),
                })?,
        };
        let holder: Option<String> = row.try_get_by_index(0).map_err(self.ctx.at(what))?;
        let holder_token: Option<i64> = row.try_get_by_index(1).map_err(self.ctx.at(what))?;
        let fence: i64 = row.try_get_by_index(2).map_err(self.ctx.at(what))?;
        let mine = holder.as_deref() == Some(instance) && holder_token == Some(token);
        if busy {
            txn.commit().await.map_err(self.ctx.at(what))?;
            return Ok(mine.then(|| Fence {
                role: role.into(),
                holder: instance.into(),
                holder_token: token,
                number: fence,
            }));
        }
        if mine {
            txn.commit().await.map_err(self.ctx.at(what))?;
            return Ok(Some(Fence { role: role.into(), holder: instance.into(), holder_token: token, number: fence }));
        }
        if let (Some(h), Some(t)) = (&holder, holder_token) {
            let alive = txn
                .query_one_raw(stmt(
                    b,
                    format!("SELECT 1 FROM store_member WHERE instance = $1 AND token = $2 AND {now} - heartbeat_ms <= lease_ttl_ms"),
                    vec![h.clone().into(), t.into()],
                ))
                .await
                .map_err(self.ctx.at(what))?
                .is_some();
            if alive {
                txn.commit().await.map_err(self.ctx.at(what))?;
                return Ok(None);
            }
        }
        txn.execute_raw(stmt(
            b,
            format!("UPDATE cluster_role SET holder = $2, holder_token = $3, fence = fence + 1, since_ms = {now} WHERE role = $1"),
            vec![role.into(), instance.into(), token.into()],
        ))
        .await
        .map_err(self.ctx.at(what))?;
        txn.commit().await.map_err(self.ctx.at(what))?;
        tracing::info!(role, instance, fence = fence + 1, previous = ?holder, "cluster role taken");
        Ok(Some(Fence { role: role.into(), holder: instance.into(), holder_token: token, number: fence + 1 }))
    }

    /// Gives `role` up (graceful stop) if this member still holds it; the fence stays, so the
    /// next holder's number is higher.
    pub async fn release_role(&self, fence: &Fence) -> Result<(), StoreError> {
        self.writer
            .execute_raw(stmt(
                self.writer.get_database_backend(),
                "UPDATE cluster_role SET holder = NULL, holder_token = NULL WHERE role = $1 AND holder = $2 AND fence = $3",
                vec![fence.role.clone().into(), fence.holder.clone().into(), fence.number.into()],
            ))
            .await
            .map_err(self.ctx.at("releasing a cluster role"))?;
        Ok(())
    }

    /// Every role with its holder and fencing number.
    pub async fn role_holders(&self) -> Result<Vec<RoleHolder>, StoreError> {
        let what = "listing cluster roles";
        let rows = self
            .writer
            .query_all_raw(stmt(
                self.writer.get_database_backend(),
                "SELECT role, holder, fence, since_ms FROM cluster_role ORDER BY role",
                vec![],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        rows.iter()
            .map(|r| {
                Ok(RoleHolder {
                    role: r.try_get_by_index(0).map_err(self.ctx.at(what))?,
                    holder: r.try_get_by_index(1).map_err(self.ctx.at(what))?,
                    fence: r.try_get_by_index(2).map_err(self.ctx.at(what))?,
                    since_ms: r.try_get_by_index(3).map_err(self.ctx.at(what))?,
                })
            })
            .collect()
    }

    /// Records this member's watermark: every line of epochs <= `epoch` it received is
    /// durable. Never moves back.
    pub async fn publish_ack(&self, instance: &str, token: i64, epoch: i64) -> Result<(), StoreError> {
        self.writer
            .execute_raw(stmt(
                self.writer.get_database_backend(),
                "UPDATE store_member SET ack_epoch = $3 WHERE instance = $1 AND token = $2 AND (ack_epoch IS NULL OR ack_epoch < $3)",
                vec![instance.into(), token.into(), epoch.into()],
            ))
            .await
            .map_err(self.ctx.at("publishing the member's sealing watermark"))?;
        Ok(())
    }

    /// Live members (lease running, database clock) that have not acknowledged `epoch` yet:
    /// the sealer waits for them before it seals that epoch.
    pub async fn members_behind(&self, epoch: i64) -> Result<Vec<String>, StoreError> {
        let what = "reading the members' sealing watermarks";
        let b = self.writer.get_database_backend();
        let rows = self
            .writer
            .query_all_raw(stmt(
                b,
                format!("SELECT instance FROM store_member WHERE {} - heartbeat_ms <= lease_ttl_ms AND (ack_epoch IS NULL OR ack_epoch < $1) ORDER BY instance", now_ms_sql(b)),
                vec![epoch.into()],
            ))
            .await
            .map_err(self.ctx.at(what))?;
        rows.iter().map(|r| r.try_get_by_index::<String>(0).map_err(self.ctx.at(what))).collect()
    }
}

impl Store {
    /// Writes an audit record (a backup's, in a cluster) with the role's fence checked in the
    /// same transaction: a holder whose role moved writes nothing (`StoreError::Fenced`).
    pub async fn audit_fenced(
        &self,
        at: i64,
        action: &str,
        subject: &str,
        detail: &str,
        fence: &Fence,
    ) -> Result<(), StoreError> {
        let what = "writing a fenced audit record";
        let txn = self.writer.begin_with_options(write_txn_options(self.backend)).await.map_err(self.ctx.at(what))?;
        check_fence(&txn, self, fence).await?;
        txn.execute_raw(stmt(
            txn.get_database_backend(),
            crate::queries::optout::INSERT_AUDIT,
            vec![at.into(), action.into(), subject.into(), format!("{detail} (fence {})", fence.number).into()],
        ))
        .await
        .map_err(self.ctx.at(what))?;
        txn.commit().await.map_err(self.ctx.at(what))
    }
}

/// Inside a write transaction: refuses (`Fenced`) unless `fence` is still the role's current
/// holder and number. On PostgreSQL the UPDATE takes the role row's lock, so a concurrent
/// takeover waits for this transaction or this one sees the new number.
pub(crate) async fn check_fence(txn: &DatabaseTransaction, store: &Store, fence: &Fence) -> Result<(), StoreError> {
    let done = txn
        .execute_raw(stmt(
            txn.get_database_backend(),
            "UPDATE cluster_role SET fence = fence WHERE role = $1 AND holder = $2 AND holder_token = $3 AND fence = $4",
            vec![fence.role.clone().into(), fence.holder.clone().into(), fence.holder_token.into(), fence.number.into()],
        ))
        .await
        .map_err(store.ctx.at("checking the role's fencing number"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Fenced { url: store.ctx.url.clone(), role: fence.role.clone(), fence: fence.number });
    }
    Ok(())
}

/// Test support: writes or renews a member row with a lease on the database clock on either
/// engine (production members join through `Store::join`, PostgreSQL only).
#[cfg(feature = "testing")]
impl Store {
    /// Inserts or renews the clustered member row of `instance` (incarnation `token`), heartbeat
    /// now on the database clock, lease `lease_ttl_ms` ms.
    pub async fn put_member_row(&self, instance: &str, token: i64, lease_ttl_ms: i64) -> Result<(), StoreError> {
        let b = self.writer.get_database_backend();
        let now = now_ms_sql(b);
        self.writer
            .execute_raw(stmt(
                b,
                format!(
                    "INSERT INTO store_member (instance, token, clustered, host, pid, http, since_ms, heartbeat_ms, lease_ttl_ms) \
                     VALUES ($1, $2, TRUE, 'test', 0, '', {now}, {now}, $3) \
                     ON CONFLICT (instance) DO UPDATE SET token = excluded.token, heartbeat_ms = excluded.heartbeat_ms, lease_ttl_ms = excluded.lease_ttl_ms"
                ),
                vec![instance.into(), token.into(), lease_ttl_ms.into()],
            ))
            .await
            .map_err(self.ctx.at("writing a member row"))?;
        Ok(())
    }
}
