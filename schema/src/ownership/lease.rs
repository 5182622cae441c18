//! PostgreSQL's owners: one `store_member` row per daemon, joined in one transaction under a
//! table lock (so two daemons starting together are judged one after the other), heartbeated
//! on the database's clock (never this host's), expired after its lease (`cluster.lease_ttl`).
//! The row keeps the daemon's database session (pid and start time of a dedicated connection)
//! only so that the same instance's restart after a kill -9 is admitted at once (`admit`);
//! the lease alone decides for everyone else, so a transaction-pooling proxy (PgBouncer
//! `pool_mode=transaction`) that swaps sessions can delay a restart by one lease, never let a
//! second daemon in beside a live one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult, TransactionTrait, Value,
};

use super::admit::{admit, Admission, MemberRow};
use super::{OwnerInfo, OwnershipError};
use crate::backend::Backend;
use crate::error::{ErrCtx, StoreError};
use crate::open::Store;
use crate::queries::stmt;
use crate::redact::Scrubber;

/// The database's clock in Unix milliseconds.
pub(crate) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
/// This session's start in Unix milliseconds.
const SESSION_START_MS: &str = "(SELECT (extract(epoch from a.backend_start) * 1000)::bigint FROM pg_stat_activity a WHERE a.pid = pg_backend_pid())";
/// How often a blocked join looks again.
const RETRY: Duration = Duration::from_millis(250);

/// A held membership of a PostgreSQL store; `heartbeat` keeps it, `leave` gives it up.
#[derive(Debug)]
pub struct Lease {
    conn: DatabaseConnection,
    me: OwnerInfo,
    token: i64,
    ttl: Duration,
    ctx: Arc<ErrCtx>,
}

fn pg(sql: impl Into<String>, values: Vec<Value>) -> sea_orm::Statement {
    stmt(DbBackend::Postgres, sql, values)
}

/// A member row as listed for operators (`chatseal` commands, `/v1/cluster`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Who the member is (instance, host, pid, since, HTTP address).
    pub owner: OwnerInfo,
    /// Its last heartbeat, Unix ms on the database's clock.
    pub heartbeat_ms: i64,
    /// Its lease (`cluster.lease_ttl`) in ms: silent longer than this, it is dead.
    pub lease_ttl_ms: i64,
    /// The database's clock when the row was read.
    pub read_at_ms: i64,
}

impl Member {
    /// True when its last heartbeat is at most one lease older than `read_at_ms`.
    pub fn alive(&self) -> bool {
        self.read_at_ms.saturating_sub(self.heartbeat_ms) <= self.lease_ttl_ms
    }
}

const SELECT_MEMBERS: &str = "SELECT m.instance, m.clustered, m.host, m.pid, m.http, m.since_ms, m.heartbeat_ms, m.lease_ttl_ms, \
     EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend_pid AND (extract(epoch from a.backend_start) * 1000)::bigint = m.backend_start_ms) AS alive, \
     (extract(epoch from clock_timestamp()) * 1000)::bigint AS now_ms \
     FROM store_member m ORDER BY m.since_ms, m.instance";

fn member_of(r: &QueryResult, ctx: &ErrCtx) -> Result<(Member, bool), StoreError> {
    let what = "reading store_member";
    let g = |e| ctx.db(what, e);
    let owner = OwnerInfo {
        instance: r.try_get_by_index::<String>(0).map_err(g)?,
        clustered: r.try_get_by_index::<bool>(1).map_err(g)?,
        host: r.try_get_by_index::<String>(2).map_err(g)?,
        pid: r.try_get_by_index::<i64>(3).map_err(g)?.clamp(0, u32::MAX as i64) as u32,
        http: r.try_get_by_index::<String>(4).map_err(g)?,
        since_ms: r.try_get_by_index::<i64>(5).map_err(g)?,
    };
    let member = Member {
        owner,
        heartbeat_ms: r.try_get_by_index::<i64>(6).map_err(g)?,
        lease_ttl_ms: r.try_get_by_index::<i64>(7).map_err(g)?,
        read_at_ms: r.try_get_by_index::<i64>(9).map_err(g)?,
    };
    Ok((member, r.try_get_by_index::<bool>(8).map_err(g)?))
}

impl Store {
    /// Every member row of a PostgreSQL store with whether its lease still runs (empty on
    /// SQLite, whose owner is a lock file, and on a store without the table yet).
    pub async fn members(&self) -> Result<Vec<Member>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let rows = self
            .writer
            .query_all_raw(pg(SELECT_MEMBERS, vec![]))
            .await
            .map_err(self.ctx.at("listing store members"))?;
        rows.iter().map(|r| member_of(r, &self.ctx).map(|(m, _)| m)).collect()
    }

    /// Refuses (`Owned`) when a live daemon holds this PostgreSQL store: for commands that
    /// replace or rewrite a store. A no-op on SQLite (take its `StoreLock` instead).
    pub async fn refuse_if_owned(&self) -> Result<(), OwnershipError> {
        if let Some(m) = self.members().await?.into_iter().find(Member::alive) {
            return Err(OwnershipError::Owned {
                store: self.ctx.url.clone(),
                check: check_hint(m.lease_ttl_ms),
                owner: Box::new(m.owner),
            });
        }
        Ok(())
    }

    /// Joins this PostgreSQL store as `me`, waiting at most one lease (`ttl`, plus a second)
    /// for a dead owner's lease to run out; a live owner (its heartbeat moves) is refused at
    /// once. `url` is the store's URL: the lease keeps its own connection, so its session
    /// lives exactly as long as this daemon.
    pub async fn join(&self, url: &str, mut me: OwnerInfo, ttl: Duration) -> Result<Lease, OwnershipError> {
        let ctx = Arc::new(ErrCtx { url: self.ctx.url.clone(), scrubber: Scrubber::for_url(url), sqlite: false });
        let mut opt = ConnectOptions::new(url.to_owned());
        opt.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let conn = Database::connect(opt).await.map_err(|e| ctx.db("connecting for the store lease", e))?;
        let token: i64 = rand_token();
        let ttl_ms = ttl.as_millis().min(i64::MAX as u128) as i64;
        let deadline = Instant::now() + ttl + Duration::from_secs(1);
        let mut first_seen: Option<(String, i64)> = None;
        loop {
            match try_join(&conn, &ctx, &me, token, ttl_ms).await? {
                Ok(since_ms) => {
                    me.since_ms = since_ms;
                    return Ok(Lease { conn, me, token, ttl, ctx });
                }
                Err((blocker, owners)) => {
                    let moved = match &first_seen {
                        Some((inst, hb)) => *inst == blocker.owner.instance && *hb != blocker.heartbeat_ms,
                        None => {
                            first_seen = Some((blocker.owner.instance.clone(), blocker.heartbeat_ms));
                            false
                        }
                    };
                    if moved || Instant::now() >= deadline {
                        let check = check_hint(blocker.lease_ttl_ms);
                        let store = ctx.url.clone();
                        return Err(if !me.clustered && blocker.owner.clustered {
                            OwnershipError::ClusterOwned { store, owners, first: Box::new(blocker.owner), check }
                        } else {
                            OwnershipError::Owned { store, owner: Box::new(blocker.owner), check }
                        });
                    }
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

fn check_hint(ttl_ms: i64) -> String {
    format!(
        "check with `SELECT * FROM store_member` in the database (a row whose heartbeat_ms stops moving is released {} s after it stopped)",
        (ttl_ms + 999) / 1000
    )
}

/// One join attempt in one transaction: Ok(since_ms) joined, Err((blocker, live rows)) not.
async fn try_join(
    conn: &DatabaseConnection,
    ctx: &ErrCtx,
    me: &OwnerInfo,
    token: i64,
    ttl_ms: i64,
) -> Result<Result<i64, (Member, usize)>, StoreError> {
    let what = "joining the store's members";
    let txn = conn.begin().await.map_err(ctx.at(what))?;
    txn.execute_raw(pg("LOCK TABLE store_member IN EXCLUSIVE MODE", vec![])).await.map_err(ctx.at(what))?;
    let rows = txn.query_all_raw(pg(SELECT_MEMBERS, vec![])).await.map_err(ctx.at(what))?;
    let members: Vec<(Member, bool)> = rows.iter().map(|r| member_of(r, ctx)).collect::<Result<_, _>>()?;
    let now_ms = match members.first() {
        Some((m, _)) => m.read_at_ms,
        None => {
            let r = txn.query_one_raw(pg(format!("SELECT {NOW_MS}"), vec![])).await.map_err(ctx.at(what))?;
            r.map(|r| r.try_get_by_index::<i64>(0)).transpose().map_err(ctx.at(what))?.unwrap_or(0)
        }
    };
    let judged: Vec<MemberRow> = members
        .iter()
        .map(|(m, alive)| MemberRow {
            instance: m.owner.instance.clone(),
            clustered: m.owner.clustered,
            heartbeat_ms: m.heartbeat_ms,
            lease_ttl_ms: m.lease_ttl_ms,
            session_alive: *alive,
        })
        .collect();
    match admit(&me.instance, me.clustered, &judged, now_ms) {
        Admission::Blocked { by } => {
            let live = members.iter().filter(|(m, _)| m.alive()).count();
            txn.rollback().await.map_err(ctx.at(what))?;
            Ok(Err((members[by].0.clone(), live)))
        }
        Admission::Admit { expire } => {
            for inst in &expire {
                tracing::warn!(instance = %inst, "a dead store member's lease was released (its heartbeat stopped or its process is gone)");
                txn.execute_raw(pg("DELETE FROM store_member WHERE instance = $1", vec![inst.clone().into()]))
                    .await
                    .map_err(ctx.at(what))?;
            }
            let sql = format!(
                "INSERT INTO store_member (instance, token, clustered, host, pid, http, since_ms, heartbeat_ms, lease_ttl_ms, backend_pid, backend_start_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, {NOW_MS}, {NOW_MS}, $7, pg_backend_pid(), {SESSION_START_MS}) RETURNING since_ms"
            );
            let r = txn
                .query_one_raw(pg(
                    sql,
                    vec![
                        me.instance.clone().into(),
                        token.into(),
                        me.clustered.into(),
                        me.host.clone().into(),
                        i64::from(me.pid).into(),
                        me.http.clone().into(),
                        ttl_ms.into(),
                    ],
                ))
                .await
                .map_err(ctx.at(what))?;
            let since = r.map(|r| r.try_get_by_index::<i64>(0)).transpose().map_err(ctx.at(what))?.unwrap_or(now_ms);
            txn.commit().await.map_err(ctx.at(what))?;
            Ok(Ok(since))
        }
    }
}

fn rand_token() -> i64 {
    // Unique per incarnation, not secret: nanoseconds mixed with the pid.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0);
    (nanos ^ (i64::from(std::process::id()) << 40)) & i64::MAX
}

impl Lease {
    /// The member this lease is held for (this daemon).
    pub fn me(&self) -> &OwnerInfo {
        &self.me
    }

    /// The incarnation token of this membership (a restart gets another).
    pub fn token(&self) -> i64 {
        self.token
    }

    /// How often to call [`Lease::heartbeat`]: a third of the lease.
    pub fn interval(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(100))
    }

    /// The connection the lease keeps (cluster queries that must run in this member's session).
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Renews the lease on the database's clock. `Lost` when the row is gone or another
    /// incarnation holds it (the lease ran out while this daemon was paused or cut off).
    pub async fn heartbeat(&self) -> Result<(), OwnershipError> {
        let sql = format!(
            "UPDATE store_member SET heartbeat_ms = {NOW_MS}, backend_pid = pg_backend_pid(), backend_start_ms = {SESSION_START_MS} \
             WHERE instance = $1 AND token = $2"
        );
        let done = self
            .conn
            .execute_raw(pg(sql, vec![self.me.instance.clone().into(), self.token.into()]))
            .await
            .map_err(self.ctx.at("renewing the store lease"))?;
        if done.rows_affected() == 0 {
            return Err(OwnershipError::Lost {
                store: self.ctx.url.clone(),
                detail: format!("its member row {:?} was released (no heartbeat for longer than the lease) or taken by another daemon", self.me.instance),
            });
        }
        Ok(())
    }

    /// Leaves at once (graceful stop), so a successor need not wait for the lease.
    pub async fn leave(&self) -> Result<(), StoreError> {
        self.conn
            .execute_raw(pg(
                "DELETE FROM store_member WHERE instance = $1 AND token = $2",
                vec![self.me.instance.clone().into(), self.token.into()],
            ))
            .await
            .map_err(self.ctx.at("leaving the store's members"))?;
        Ok(())
    }
}

/// The live owner of the PostgreSQL database at `url`, if any, read WITHOUT migrating it (a
/// restore needs an empty database to stay empty): None when the database has no
/// `store_member` table or no row whose lease still runs.
pub async fn live_owner_at(url: &str) -> Result<Option<Member>, StoreError> {
    let ctx = ErrCtx { url: crate::redact::redact_url(url), scrubber: Scrubber::for_url(url), sqlite: false };
    let mut opt = ConnectOptions::new(url.to_owned());
    opt.max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let conn = Database::connect(opt).await.map_err(|e| ctx.db("connecting to check the store's owner", e))?;
    let what = "checking the store's owner";
    let has = conn
        .query_one_raw(pg("SELECT to_regclass('store_member') IS NOT NULL", vec![]))
        .await
        .map_err(ctx.at(what))?
        .map(|r| r.try_get_by_index::<bool>(0))
        .transpose()
        .map_err(ctx.at(what))?
        .unwrap_or(false);
    let mut found = None;
    if has {
        let rows = conn.query_all_raw(pg(SELECT_MEMBERS, vec![])).await.map_err(ctx.at(what))?;
        for r in &rows {
            let (m, _) = member_of(r, &ctx)?;
            if m.alive() {
                found = Some(m);
                break;
            }
        }
    }
    let _ = conn.close().await;
    Ok(found)
}
