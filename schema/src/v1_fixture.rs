//! Test support (cargo feature `testing`): a store in the layout before the compact one (v1:
//! `sealed_participants` with hashes as 64-char hex text and the channel name in every row),
//! built by the old migrations themselves (every migration up to m20261206_000008), with seals
//! written as the old `write_seal` wrote them: the digest over the hex texts. The conversion
//! tests open such a store with today's `Store::open` and compare before and after.

use crate::migration::Migrator;
use crate::rows::NewSeal;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value};
use sea_orm_migration::MigratorTrait;

/// How many migrations make the v1 layout (m20260501_000001 to m20261206_000008).
pub const V1_MIGRATIONS: u32 = 7;

/// A seal as the v1 layout stores it: the `sealed_epochs` row's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct V1Seal {
    /// The epoch.
    pub epoch: i64,
    /// The channel.
    pub channel: String,
    /// The participation root (hex).
    pub root: Option<String>,
    /// The claim root (hex).
    pub claim_root: Option<String>,
    /// The stored participant count.
    pub participants: i64,
    /// The stored digest.
    pub digest: String,
}

/// Creates the v1 layout at `url` (a new SQLite file or an empty PostgreSQL database) and
/// returns a connection to it.
pub async fn create_v1_store(url: &str) -> Result<DatabaseConnection, String> {
    let connect_url =
        if url.starts_with("sqlite:") && !url.contains('?') { format!("{url}?mode=rwc") } else { url.to_owned() };
    let db = Database::connect(connect_url).await.map_err(|e| format!("connecting to {url}: {e}"))?;
    Migrator::up(&db, Some(V1_MIGRATIONS)).await.map_err(|e| format!("the v1 migrations: {e}"))?;
    Ok(db)
}

async fn exec<C: ConnectionTrait>(db: &C, sql: &str, values: Vec<Value>) -> Result<(), String> {
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values))
        .await
        .map(|_| ())
        .map_err(|e| format!("{sql}: {e}"))
}

/// Writes `seal` as the v1 `write_seal` did (sealed_epochs row with its digest, one text row
/// per participant); no checks, so a test can also write what today's checks refuse.
pub async fn write_v1_seal<C: ConnectionTrait>(db: &C, seal: &NewSeal) -> Result<(), String> {
    let digest = seal.digest();
    exec(
        db,
        "INSERT INTO sealed_epochs (epoch, channel, root, claim_root, participants, coverage, digest, sealed_at, \
         format_version, claim_cut) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        vec![
            seal.epoch.into(),
            seal.channel.clone().into(),
            seal.root.clone().into(),
            seal.claim_root.clone().into(),
            (seal.participants.len() as i64).into(),
            seal.coverage.into(),
            digest.into(),
            seal.sealed_at.into(),
            seal.format_version.into(),
            (seal.claim_cut > 0).then_some(seal.claim_cut).into(),
        ],
    )
    .await?;
    for p in &seal.participants {
        exec(
            db,
            "INSERT INTO sealed_participants (epoch, channel, idx, user_hash, login, leaf, amount, claim_leaf) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                seal.epoch.into(),
                seal.channel.clone().into(),
                p.idx.into(),
                p.user_hash.clone().into(),
                p.login.clone().into(),
                p.leaf.clone().into(),
                p.amount.clone().into(),
                p.claim_leaf.clone().into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Every seal of a v1 store as stored, in key order.
pub async fn v1_seals(db: &DatabaseConnection) -> Result<Vec<V1Seal>, String> {
    let sql =
        "SELECT epoch, channel, root, claim_root, participants, digest FROM sealed_epochs ORDER BY epoch, channel";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    rows.iter()
        .map(|r| {
            Ok(V1Seal {
                epoch: r.try_get_by_index(0)?,
                channel: r.try_get_by_index(1)?,
                root: r.try_get_by_index(2)?,
                claim_root: r.try_get_by_index(3)?,
                participants: r.try_get_by_index(4)?,
                digest: r.try_get_by_index(5)?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(|e| format!("{sql}: {e}"))
}

/// A `users` row of the v1 layout: (user_hash, login, user_id, display_name, first_seen,
/// last_seen).
pub type V1User = (String, String, Option<String>, Option<String>, i64, i64);

/// Rows of `users`, `participation` and `signals` in the layout before m20261208_000010 (hashes
/// as hex text, the channel by name, the kind by name), each table in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct V1Rows {
    /// (user_hash, login, user_id, display_name, first_seen, last_seen).
    pub users: Vec<V1User>,
    /// (epoch, channel, user_hash, first_seen, last_seen).
    pub participation: Vec<(i64, String, String, i64, i64)>,
    /// (epoch, channel, user_hash, kind, value).
    pub signals: Vec<(i64, String, String, String, i64)>,
}

/// Writes `rows` into a v1 store as the old flush stored them; no checks.
pub async fn write_v1_rows<C: ConnectionTrait>(db: &C, rows: &V1Rows) -> Result<(), String> {
    for u in &rows.users {
        let sql = "INSERT INTO users (user_hash, login, user_id, display_name, first_seen, last_seen) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        let v = vec![
            u.0.clone().into(),
            u.1.clone().into(),
            u.2.clone().into(),
            u.3.clone().into(),
            u.4.into(),
            u.5.into(),
        ];
        exec(db, sql, v).await?;
    }
    for p in &rows.participation {
        let sql =
            "INSERT INTO participation (epoch, channel, user_hash, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5)";
        exec(db, sql, vec![p.0.into(), p.1.clone().into(), p.2.clone().into(), p.3.into(), p.4.into()]).await?;
    }
    for s in &rows.signals {
        let sql = "INSERT INTO signals (epoch, channel, user_hash, kind, value) VALUES ($1, $2, $3, $4, $5)";
        exec(db, sql, vec![s.0.into(), s.1.clone().into(), s.2.clone().into(), s.3.clone().into(), s.4.into()]).await?;
    }
    Ok(())
}

/// The three tables of `db` in the old text form, each sorted: read from the old layout
/// (`compact` false) or, converted back in SQL, from the compact one.
pub async fn read_v1_rows(db: &DatabaseConnection, compact: bool) -> Result<V1Rows, String> {
    let b = db.get_database_backend();
    let (hash, kind) = match (compact, b) {
        (false, _) => ("t.user_hash".to_owned(), "t.kind".to_owned()),
        (true, sea_orm::DbBackend::Postgres) => {
            ("encode(t.user_hash, 'hex')".to_owned(), crate::layout::kind_name_sql("t.kind"))
        }
        (true, _) => ("lower(hex(t.user_hash))".to_owned(), crate::layout::kind_name_sql("t.kind")),
    };
    let (channel, join) =
        if compact { ("c.name", " JOIN channel_ids c ON c.id = t.channel_id") } else { ("t.channel", "") };
    let all = |sql: String| async move {
        db.query_all_raw(Statement::from_string(b, sql.clone())).await.map_err(|e| format!("{sql}: {e}"))
    };
    let err = |e: sea_orm::DbErr| e.to_string();
    let mut out = V1Rows::default();
    let sql = format!("SELECT {hash}, t.login, t.user_id, t.display_name, t.first_seen, t.last_seen FROM users t");
    for r in all(sql).await? {
        out.users.push((
            r.try_get_by_index(0).map_err(err)?,
            r.try_get_by_index(1).map_err(err)?,
            r.try_get_by_index(2).map_err(err)?,
            r.try_get_by_index(3).map_err(err)?,
            r.try_get_by_index(4).map_err(err)?,
            r.try_get_by_index(5).map_err(err)?,
        ));
    }
    let sql = format!("SELECT t.epoch, {channel}, {hash}, t.first_seen, t.last_seen FROM participation t{join}");
    for r in all(sql).await? {
        out.participation.push((
            r.try_get_by_index(0).map_err(err)?,
            r.try_get_by_index(1).map_err(err)?,
            r.try_get_by_index(2).map_err(err)?,
            r.try_get_by_index(3).map_err(err)?,
            r.try_get_by_index(4).map_err(err)?,
        ));
    }
    let sql = format!("SELECT t.epoch, {channel}, {hash}, {kind}, t.value FROM signals t{join}");
    for r in all(sql).await? {
        out.signals.push((
            r.try_get_by_index(0).map_err(err)?,
            r.try_get_by_index(1).map_err(err)?,
            r.try_get_by_index(2).map_err(err)?,
            r.try_get_by_index(3).map_err(err)?,
            r.try_get_by_index(4).map_err(err)?,
        ));
    }
    out.users.sort();
    out.participation.sort();
    out.signals.sort();
    Ok(out)
}
