//! The compact layout (migration m20261207_000009) and the in-place conversion of a store in
//! the old layout (`chatseal_schema::v1_fixture`): digests and roots equal before and after,
//! batches that resume after an interruption, a damaged seal that stops the conversion before
//! it, on both engines.

use crate::common::{hash, seal, FAILPOINTS};
use chatseal_schema::migration::compact::{CompactOptions, PROGRESS_KEY, ROWS_PROGRESS_KEY, VACUUM_KEY};
use chatseal_schema::testing::fresh_urls;
use chatseal_schema::v1_fixture::{
    create_v1_store, read_v1_rows, v1_seals, write_v1_rows, write_v1_seal, V1Rows, V1Seal,
};
use chatseal_schema::{Backend, NewSeal, OpenOptions, SealedParticipant, Store, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sha3::{Digest, Keccak256};
use std::collections::BTreeMap;

fn keccak(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

/// The root of `leaves` by the node rule of the merkle spec (sorted pairs, odd end paired with
/// itself), written again here so that the test does not trust the code under test.
pub(crate) fn fold(leaves: &[String]) -> Option<String> {
    let mut level: Vec<[u8; 32]> =
        leaves.iter().map(|l| hex::decode(l).unwrap().try_into().unwrap()).collect::<Vec<[u8; 32]>>();
    if level.is_empty() {
        return None;
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| {
                let (a, b) = (p[0], *p.get(1).unwrap_or(&p[0]));
                if a <= b {
                    keccak(&a, &b)
                } else {
                    keccak(&b, &a)
                }
            })
            .collect();
    }
    Some(hex::encode(level[0]))
}

/// A seal whose root is the real fold of its leaves.
pub(crate) fn real_seal(epoch: i64, channel: &str, n: usize) -> NewSeal {
    let mut s = seal(epoch, channel, n);
    for p in &mut s.participants {
        p.leaf = hex::encode(keccak(p.user_hash.as_bytes(), channel.as_bytes()));
    }
    s.root = fold(&s.participants.iter().map(|p| p.leaf.clone()).collect::<Vec<_>>());
    s
}

/// The seals of the fixture: sizes from 0 to 40, three channels, a claim cut, a legacy seal
/// (no claim tree, empty claim leaves, amounts 0) and logins that need care in SQL and JSON.
pub(crate) fn fixture() -> Vec<NewSeal> {
    let mut out = Vec::new();
    for (i, n) in [1usize, 5, 0, 12, 3, 40, 7, 2].into_iter().enumerate() {
        for (j, channel) in ["alpha", "bravo", "charlie"].into_iter().enumerate() {
            if (i + j) % 3 != 2 {
                out.push(real_seal(3600 * (i as i64 + 1), channel, n + j));
            }
        }
    }
    let mut cut = real_seal(3600 * 20, "alpha", 6);
    cut.claim_cut = 2;
    out.push(cut);
    let mut legacy = real_seal(3600 * 20, "bravo", 4);
    legacy.claim_root = None;
    legacy.format_version = 0;
    for p in &mut legacy.participants {
        p.claim_leaf = String::new();
        p.amount = "0".into();
    }
    out.push(legacy);
    let mut odd = real_seal(3600 * 21, "delta", 3);
    odd.participants[0].login = "quote'd \"x\"".into();
    odd.participants[1].login = "we\u{1f}ird\u{1e}ünï😀".into();
    out.push(odd);
    out
}

/// Every old row of a v1 store, by seal, in idx order.
async fn v1_rows(db: &DatabaseConnection) -> BTreeMap<(i64, String), Vec<SealedParticipant>> {
    let sql = "SELECT epoch, channel, idx, user_hash, login, leaf, amount, claim_leaf FROM sealed_participants \
               ORDER BY epoch, channel, idx";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let mut out: BTreeMap<(i64, String), Vec<SealedParticipant>> = BTreeMap::new();
    for r in rows {
        let key = (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap());
        out.entry(key).or_default().push(SealedParticipant {
            idx: r.try_get_by_index(2).unwrap(),
            user_hash: r.try_get_by_index(3).unwrap(),
            login: r.try_get_by_index(4).unwrap(),
            leaf: r.try_get_by_index(5).unwrap(),
            amount: r.try_get_by_index(6).unwrap(),
            claim_leaf: r.try_get_by_index(7).unwrap(),
        });
    }
    out
}

/// Builds a v1 store with [`fixture`] at `url`; returns its seals and rows as stored.
pub(crate) async fn build_v1(url: &str) -> (Vec<V1Seal>, BTreeMap<(i64, String), Vec<SealedParticipant>>) {
    build_v1_of(url, fixture()).await
}

/// Builds a v1 store with `seals` at `url`; returns its seals and rows as stored.
pub(crate) async fn build_v1_of(
    url: &str,
    seals: Vec<NewSeal>,
) -> (Vec<V1Seal>, BTreeMap<(i64, String), Vec<SealedParticipant>>) {
    let db = create_v1_store(url).await.unwrap();
    for s in seals {
        write_v1_seal(&db, &s).await.unwrap();
    }
    let out = (v1_seals(&db).await.unwrap(), v1_rows(&db).await);
    db.close().await.unwrap();
    out
}

pub(crate) fn opts(batch: i64, stop: Option<u64>) -> OpenOptions {
    OpenOptions {
        compact: CompactOptions { batch_participants: batch, stop_after_batches: stop },
        ..Default::default()
    }
}

pub(crate) async fn scalar_text(db: &DatabaseConnection, sql: &str) -> Option<String> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    row.and_then(|r| r.try_get_by_index::<Option<String>>(0).unwrap())
}

/// The store holds exactly the seals and rows of before, every digest verifies and every root
/// is the fold of the leaves read back (legacy seals: as stored).
pub(crate) async fn assert_same(
    backend: Backend,
    store: &Store,
    seals: &[V1Seal],
    rows: &BTreeMap<(i64, String), Vec<SealedParticipant>>,
) {
    for s in seals {
        let now = store.sealed_epoch(s.epoch, &s.channel).await.unwrap().unwrap();
        assert_eq!(
            (&now.root, &now.claim_root, now.participants, &now.digest),
            (&s.root, &s.claim_root, s.participants, &s.digest),
            "{backend:?}"
        );
        let back = store.sealed_participants(s.epoch, &s.channel).await.unwrap();
        assert_eq!(&back, rows.get(&(s.epoch, s.channel.clone())).unwrap_or(&Vec::new()), "{backend:?}");
        let leaves: Vec<String> = back.iter().map(|p| p.leaf.clone()).collect();
        assert_eq!(fold(&leaves), s.root, "{backend:?}: the root is the fold of the converted leaves");
        for p in &back {
            let one = store.sealed_participant(s.epoch, &s.channel, &p.user_hash).await.unwrap();
            assert_eq!(one.as_ref(), Some(p), "{backend:?}");
        }
    }
    assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
}

#[tokio::test]
async fn an_old_store_is_converted_in_place_with_every_digest_and_root_unchanged() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (seals, rows) = build_v1(&url).await;
        let file = chatseal_schema::sqlite_path(&url);
        let size = || file.as_ref().map(|f| std::fs::metadata(f).unwrap().len());
        let before = size();
        assert!(seals.len() > 15 && rows.values().map(Vec::len).sum::<usize>() > 80, "{} seals", seals.len());
        let store = Store::open_with(&url, &opts(25, None)).await.unwrap();
        assert_same(backend, &store, &seals, &rows).await;
        if let Some(before) = before {
            store.checkpoint().await.unwrap();
            let after = size().unwrap();
            assert!(
                after < before,
                "{backend:?}: the file shrank ({before} -> {after} bytes): the conversion vacuumed it"
            );
        }
        let db = store.db();
        let vacuum = format!("SELECT value FROM meta WHERE key = '{VACUUM_KEY}'");
        assert_eq!(scalar_text(db, &vacuum).await, None, "{backend:?}: no vacuum pending");
        let progress = format!("SELECT value FROM meta WHERE key = '{PROGRESS_KEY}'");
        assert_eq!(scalar_text(db, &progress).await, None, "{backend:?}: no conversion pending");
        let hashes = match backend {
            Backend::Sqlite => {
                let ddl = scalar_text(db, "SELECT sql FROM sqlite_master WHERE name = 'sealed_participants'").await;
                assert!(ddl.unwrap().contains("WITHOUT ROWID"), "{backend:?}");
                "SELECT COUNT(*) FROM sealed_participants WHERE typeof(user_hash) = 'blob' AND length(user_hash) = 32 \
                 AND length(leaf) = 32"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM sealed_participants WHERE length(user_hash) = 32 AND length(leaf) = 32"
            }
        };
        let n = db.query_one_raw(Statement::from_string(db.get_database_backend(), hashes)).await.unwrap().unwrap();
        assert_eq!(n.try_get_by_index::<i64>(0).unwrap() as usize, rows.values().map(Vec::len).sum::<usize>());
        // The viewer's reads and new seals work on the converted store.
        let hours = store.user_sealed_rows(&hash(1), None, i64::MAX, 100).await.unwrap();
        assert!(hours.len() > 10 && hours.windows(2).all(|w| w[0].epoch >= w[1].epoch), "{backend:?}: {hours:?}");
        store.write_seal(&real_seal(3600 * 30, "alpha", 9)).await.unwrap();
        store.write_seal(&real_seal(3600 * 30, "echo", 2)).await.unwrap();
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
        store.close().await.unwrap();
        // Opening again converts nothing and changes nothing.
        let again = Store::open(&url).await.unwrap();
        assert_same(backend, &again, &seals, &rows).await;
        again.close().await.unwrap();
    }
}

#[tokio::test]
async fn an_interrupted_conversion_continues_after_the_last_batch_committed() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (seals, rows) = build_v1(&url).await;
        // Stop after 2 batches, as a kill between two batches would.
        let stopped = Store::open_with(&url, &opts(10, Some(2))).await;
        assert!(matches!(stopped, Err(StoreError::Migration { .. })), "{backend:?}: {stopped:?}");
        let db = create_v1_store(&url).await.unwrap(); // no migration left to run: only connects
        let progress = scalar_text(&db, &format!("SELECT value FROM meta WHERE key = '{PROGRESS_KEY}'")).await;
        let (epoch, channel): (i64, String) = serde_json::from_str(&progress.unwrap()).unwrap();
        let done: Vec<&V1Seal> =
            seals.iter().take_while(|s| (s.epoch, s.channel.clone()) <= (epoch, channel.clone())).collect();
        assert!(!done.is_empty() && done.len() < seals.len(), "{backend:?}: two batches, not all");
        let staged = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FROM sealed_participants_compact",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(
            staged,
            done.iter().map(|s| s.participants).sum::<i64>(),
            "{backend:?}: exactly the committed seals"
        );
        db.close().await.unwrap();
        // One more batch, then the rest.
        assert!(Store::open_with(&url, &opts(10, Some(1))).await.is_err());
        let store = Store::open_with(&url, &opts(10, None)).await.unwrap();
        assert_same(backend, &store, &seals, &rows).await;
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_seal_that_fails_its_digest_stops_the_conversion_before_it() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (seals, rows) = build_v1(&url).await;
        let victim = &seals[seals.len() / 2];
        let db = create_v1_store(&url).await.unwrap();
        let sql = format!(
            "UPDATE sealed_participants SET login = 'mallory' WHERE epoch = {} AND channel = '{}' AND idx = 0",
            victim.epoch, victim.channel
        );
        db.execute_unprepared(&sql).await.unwrap();
        let refused = Store::open_with(&url, &opts(10, None)).await;
        let msg = match refused {
            Err(e @ StoreError::Corrupt { .. }) => e.to_string(),
            other => panic!("{backend:?}: {other:?}"),
        };
        assert!(msg.contains(&format!("epoch {} channel {}", victim.epoch, victim.channel)), "{msg}");
        let progress = scalar_text(&db, &format!("SELECT value FROM meta WHERE key = '{PROGRESS_KEY}'")).await.unwrap();
        if let Ok((epoch, channel)) = serde_json::from_str::<(i64, String)>(&progress) {
            assert!(
                (epoch, channel) < (victim.epoch, victim.channel.clone()),
                "{backend:?}: stopped before the victim"
            );
        }
        // Put the row back: the conversion continues and ends with everything as before.
        let login = &rows[&(victim.epoch, victim.channel.clone())][0].login;
        let sql = format!(
            "UPDATE sealed_participants SET login = '{login}' WHERE epoch = {} AND channel = '{}' AND idx = 0",
            victim.epoch, victim.channel
        );
        db.execute_unprepared(&sql).await.unwrap();
        db.close().await.unwrap();
        let store = Store::open_with(&url, &opts(10, None)).await.unwrap();
        assert_same(backend, &store, &seals, &rows).await;
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_hash_the_binary_form_cannot_hold_is_refused_not_changed() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let db = create_v1_store(&url).await.unwrap();
        let mut s = real_seal(3600, "alpha", 3);
        s.participants[1].user_hash = s.participants[1].user_hash.to_uppercase().replace("0X", "0x");
        s.participants[1].user_hash = format!("{}A", &s.participants[1].user_hash[..63]);
        write_v1_seal(&db, &s).await.unwrap();
        db.close().await.unwrap();
        let refused = Store::open_with(&url, &opts(10, None)).await;
        let msg = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("cannot hold") && msg.contains("epoch 3600 channel alpha"), "{backend:?}: {msg}");
    }
}

/// Unsealed and sealed rows of users, participation and signals in the old layout: the
/// participants of some seals of [`fixture`] (epochs 3600 and 7200 alpha) and of epochs never sealed, on
/// two channels, every kind, a NULL user id, logins that need care in SQL, and a user with no
/// users row.
fn fixture_rows() -> V1Rows {
    let mut r = V1Rows::default();
    let kinds = ["message", "bits", "sub", "resub", "gift", "raid"];
    for u in 0..30u64 {
        let login = if u == 7 { "quote'd".to_owned() } else { format!("user{u}") };
        let id = (!u.is_multiple_of(3)).then(|| format!("{}", 1000 + u));
        let shown = u.is_multiple_of(4).then(|| format!("User {u} ünï"));
        if u != 29 {
            r.users.push((hash(u), login, id, shown, 3600 + u as i64, 9000 + u as i64));
        }
    }
    for (epoch, channel, n) in
        [(3600i64, "alpha", 1u64), (7200, "alpha", 12), (144_000, "alpha", 30), (144_000, "zulu", 9)]
    {
        for u in 0..n {
            let u = if channel == "zulu" { 29 - u } else { u };
            r.participation.push((epoch, channel.into(), hash(u), epoch + u as i64, epoch + 2 * u as i64));
            for (k, kind) in kinds.iter().enumerate().filter(|(k, _)| (u as usize + k).is_multiple_of(3)) {
                r.signals.push((epoch, channel.into(), hash(u), (*kind).into(), 1 + (u as i64) * (k as i64 + 1)));
            }
        }
    }
    r.users.sort();
    r.participation.sort();
    r.signals.sort();
    r
}

/// Builds a v1 store with [`fixture`] and [`fixture_rows`]; returns its seals and rows.
async fn build_v1_with_rows(url: &str) -> (Vec<V1Seal>, BTreeMap<(i64, String), Vec<SealedParticipant>>, V1Rows) {
    let (seals, rows) = build_v1(url).await;
    let db = create_v1_store(url).await.unwrap();
    write_v1_rows(&db, &fixture_rows()).await.unwrap();
    let text = read_v1_rows(&db, false).await.unwrap();
    db.close().await.unwrap();
    assert_eq!(text, fixture_rows());
    (seals, rows, text)
}

/// The converted store holds the rows of before, field for field, in the compact form.
async fn assert_rows_same(backend: Backend, store: &Store, want: &V1Rows) {
    let db = store.db();
    assert_eq!(&read_v1_rows(db, true).await.unwrap(), want, "{backend:?}");
    if backend == Backend::Sqlite {
        for t in ["users", "participation", "signals"] {
            let ddl = scalar_text(db, &format!("SELECT sql FROM sqlite_master WHERE name = '{t}'")).await.unwrap();
            assert!(ddl.contains("WITHOUT ROWID") && ddl.contains("user_hash BLOB"), "{ddl}");
        }
    }
    // The store's reads see them: an unsealed epoch's participants with their sums and logins.
    let parts = store.participants_for_seal(144_000, "zulu").await.unwrap_err();
    assert!(parts.to_string().contains("has no users row"), "{backend:?}: user 29 has none: {parts}");
    let parts = store.participants_for_seal(7200, "alpha").await.unwrap();
    assert_eq!(parts.len(), 12, "{backend:?}");
    for p in &parts {
        let u = (0..30u64).find(|u| hash(*u) == p.user_hash).unwrap();
        let sums: i64 = p.signals.iter().map(|(_, v)| *v).sum();
        let want_sums: i64 =
            want.signals.iter().filter(|s| s.0 == 7200 && s.1 == "alpha" && s.2 == p.user_hash).map(|s| s.4).sum();
        assert_eq!((sums, p.first_seen), (want_sums, 7200 + u as i64), "{backend:?}");
    }
    let unsealed = store.unsealed_participation_epochs(i64::MAX).await.unwrap();
    assert_eq!(
        unsealed,
        [(144_000, "alpha".to_string()), (144_000, "zulu".into())],
        "{backend:?}: 7200 alpha is sealed"
    );
    assert_eq!(store.channels_with_participation(144_000).await.unwrap(), ["alpha", "zulu"]);
}

#[tokio::test]
async fn users_participation_and_signals_are_converted_with_equal_content_after_an_interruption() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (seals, rows, text) = build_v1_with_rows(&url).await;
        // The sealed_participants step in one batch, stopped before its end.
        assert!(Store::open_with(&url, &opts(1000, Some(1))).await.is_err(), "{backend:?}");
        // Batches of 7 rows: users in 5 (29 rows), then 2 of participation.
        let stopped = Store::open_with(&url, &opts(7, Some(7))).await;
        assert!(matches!(stopped, Err(StoreError::Migration { .. })), "{backend:?}: {stopped:?}");
        let db = create_v1_store(&url).await.unwrap();
        let progress = scalar_text(&db, &format!("SELECT value FROM meta WHERE key = '{ROWS_PROGRESS_KEY}'")).await;
        let progress: serde_json::Value = serde_json::from_str(&progress.unwrap()).unwrap();
        assert_eq!(progress["table"], "participation", "{backend:?}: users done, participation begun");
        let sealed_done = scalar_text(&db, &format!("SELECT value FROM meta WHERE key = '{PROGRESS_KEY}'")).await;
        assert_eq!(sealed_done, None, "{backend:?}: the first step is over");
        // users was swapped in; participation is half way, the old table still whole.
        let count = |sql: &'static str| {
            let db = &db;
            async move {
                let r =
                    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
                r.try_get_by_index::<i64>(0).unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM participation").await as usize, text.participation.len());
        assert_eq!(count("SELECT COUNT(*) FROM participation_compact").await, 14, "{backend:?}: two batches of 7");
        assert_eq!(count("SELECT COUNT(*) FROM users WHERE length(user_hash) = 32").await as usize, text.users.len());
        db.close().await.unwrap();
        // Resume to the end.
        let store = Store::open_with(&url, &opts(7, None)).await.unwrap();
        assert_same(backend, &store, &seals, &rows).await;
        assert_rows_same(backend, &store, &text).await;
        let db = store.db();
        assert_eq!(scalar_text(db, &format!("SELECT value FROM meta WHERE key = '{ROWS_PROGRESS_KEY}'")).await, None);
        assert_eq!(scalar_text(db, &format!("SELECT value FROM meta WHERE key = '{VACUUM_KEY}'")).await, None);
        // The flush writes into the converted tables: sums add up, a new channel gets an id.
        let tx = store.begin_flush().await.unwrap();
        let mut d = crate::common::delta(
            144_000,
            "zulu",
            29,
            144_000,
            144_100,
            vec![(chatseal_schema::SignalKind::Message, 4)],
        );
        d.login = "late".into();
        tx.upsert_participation(&[d, crate::common::delta(144_000, "yankee", 1, 144_001, 144_001, vec![])])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let zulu = store.participants_for_seal(144_000, "zulu").await.unwrap();
        let late = zulu.iter().find(|p| p.user_hash == hash(29)).unwrap();
        assert_eq!(late.login, "late", "{backend:?}");
        let before: i64 = text
            .signals
            .iter()
            .filter(|s| s.0 == 144_000 && s.1 == "zulu" && s.2 == hash(29) && s.3 == "message")
            .map(|s| s.4)
            .sum();
        assert_eq!(late.signals[chatseal_schema::SignalKind::Message], before + 4, "{backend:?}");
        assert_eq!(store.channels_with_participation(144_000).await.unwrap(), ["alpha", "yankee", "zulu"]);
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_row_the_compact_form_cannot_hold_stops_its_table_before_it() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let db = create_v1_store(&url).await.unwrap();
        let mut r = fixture_rows();
        r.signals.push((7200, "alpha".into(), hash(3), "follow".into(), 1));
        write_v1_rows(&db, &r).await.unwrap();
        db.close().await.unwrap();
        let refused = Store::open_with(&url, &opts(1000, None)).await;
        let msg = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("signal kind \"follow\"") && msg.contains("signals"), "{backend:?}: {msg}");
        // Nothing of signals was swapped in: the old table is whole and still the one read.
        let db = create_v1_store(&url).await.unwrap();
        let n = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FROM signals WHERE kind = 'follow'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(n, 1, "{backend:?}");
        db.close().await.unwrap();
    }
}
