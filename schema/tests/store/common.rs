//! Shared helpers: fresh stores on both backends, hashes, deltas, seals.

use chatseal_schema::testing::{fresh_urls, TestDbGuard};
use chatseal_schema::{Backend, NewSeal, ParticipationDelta, SealedParticipant, SignalKind, Signals, Store};
use sea_orm::{ConnectionTrait, Statement};

/// Tests that configure failpoints take this for writing; tests that seal take it for reading,
/// so a configured failpoint never hits another test's seal.
pub static FAILPOINTS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// A fresh, open store per backend (keep the guard alive while using the store).
pub async fn stores() -> Vec<(Backend, Store, TestDbGuard)> {
    let mut out = Vec::new();
    for (backend, url, guard) in fresh_urls().await {
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("opening {backend:?} store: {e}"));
        assert_eq!(store.backend(), backend);
        out.push((backend, store, guard));
    }
    out
}

/// A well-formed user hash made from a number.
pub fn hash(n: u64) -> String {
    format!("{n:064x}")
}

/// The bytes of [`hash`]`(n)`.
pub fn hash_bytes(n: u64) -> [u8; 32] {
    let mut b = [0; 32];
    b[24..].copy_from_slice(&n.to_be_bytes());
    b
}

pub fn delta(
    epoch: i64,
    channel: &str,
    user: u64,
    first: i64,
    last: i64,
    signals: Vec<(SignalKind, i64)>,
) -> ParticipationDelta<'static> {
    ParticipationDelta {
        epoch,
        channel: channel.to_owned().into(),
        user_hash: hash_bytes(user),
        login: format!("user{user}").into(),
        user_id: Some(format!("{}", 1000 + user).into()),
        display_name: None,
        first_seen: first,
        last_seen: last,
        signals: signals.into_iter().fold(Signals::default(), |mut s, (k, v)| {
            s[k] += v;
            s
        }),
    }
}

/// A seal of `n` participants with distinct users and leaves.
pub fn seal(epoch: i64, channel: &str, n: usize) -> NewSeal {
    NewSeal {
        epoch,
        channel: channel.into(),
        root: (n > 0).then(|| hash(0xaaaa)),
        claim_root: (n > 0).then(|| hash(0xbbbb)),
        coverage: 0.75,
        sealed_at: 1_700_000_000,
        format_version: 1,
        claim_cut: 0,
        participants: (0..n)
            .map(|i| SealedParticipant {
                idx: i as i64,
                user_hash: hash(i as u64 + 1),
                login: format!("user{}", i + 1),
                leaf: hash(0x1_0000 + i as u64),
                amount: format!("{}", 8_000_000_000_000u64 + i as u64),
                claim_leaf: hash(0x2_0000 + i as u64),
            })
            .collect(),
    }
}

/// Runs `sql` on the writer and returns the first column of the first row.
pub async fn scalar_i64(store: &Store, sql: &str) -> i64 {
    let db = store.db();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get_by_index::<i64>(0).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub async fn exec(store: &Store, sql: &str) {
    let db = store.db();
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A SQL literal of the bytes of `hex` on `backend` (the compact layout's hashes).
pub fn blob_sql(backend: Backend, hex: &str) -> String {
    match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("decode('{hex}', 'hex')"),
    }
}

/// A SQL expression of the id of channel `name` (the compact layout's `channel_id`).
pub fn channel_id_sql(name: &str) -> String {
    format!("(SELECT id FROM channel_ids WHERE name = '{name}')")
}
