//! The keyed layout of `sealed_participants` (migration m20261209_000011): a store of the
//! previous (compact) layout converted in place with every digest and root unchanged, a
//! conversion interrupted between batches or by a failed commit that continues, leaves stored
//! only where they differ from the computed ones, and the table's size on disk, on both
//! engines (sizes: SQLite).

use crate::common::{hash, FAILPOINTS};
use crate::compact::{assert_same, build_v1_of, fixture, opts, scalar_text};
use chatseal_schema::leaves::{claim_id, claim_leaf, participation_leaf};
use chatseal_schema::migration::compact::{KEYED_PROGRESS_KEY, PROGRESS_KEY};
use chatseal_schema::testing::fresh_urls;
use chatseal_schema::v1_fixture::create_v1_store;
use chatseal_schema::{Backend, NewSeal, SealedParticipant, Store, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sha3::{Digest, Keccak256};

/// A seal whose leaves are the ones the format computes (what the sealer writes), with a root
/// that is the fold of them.
pub(crate) fn spec_seal(epoch: i64, channel: &str, n: usize) -> NewSeal {
    let participants: Vec<SealedParticipant> = (0..n)
        .map(|i| {
            // Users in no particular order of their hashes, as real ones.
            let user: [u8; 32] = Keccak256::digest(format!("viewer{i}")).into();
            let login = format!("viewer{i}");
            let amount = 80_000_000_000 + 1_000_000_000 * (i as u64 % 7);
            SealedParticipant {
                idx: i as i64,
                user_hash: hex::encode(user),
                leaf: hex::encode(participation_leaf(&user, channel, epoch as u64)),
                claim_leaf: hex::encode(claim_leaf(i as u32, amount, &claim_id(channel, &login))),
                amount: amount.to_string(),
                login,
            }
        })
        .collect();
    let root = crate::compact::fold(&participants.iter().map(|p| p.leaf.clone()).collect::<Vec<_>>());
    NewSeal {
        epoch,
        channel: channel.into(),
        claim_root: root.clone(),
        root,
        coverage: 1.0,
        sealed_at: epoch + 3700,
        format_version: 1,
        claim_cut: 0,
        participants,
    }
}

/// [`fixture`] (leaves that are not the computed ones, a legacy seal, a claim cut, odd
/// logins) and seals whose leaves are computed: plain, one with a claim cut (empty claim
/// leaves past it), one with a wallet-bound claim leaf and an upper-case login.
fn keyed_fixture() -> Vec<NewSeal> {
    let mut out = fixture();
    out.push(spec_seal(3600 * 40, "alpha", 30));
    out.push(spec_seal(3600 * 40, "bravo", 1));
    let mut cut = spec_seal(3600 * 41, "alpha", 9);
    cut.claim_cut = 3;
    for p in &mut cut.participants[6..] {
        p.claim_leaf = String::new();
    }
    out.push(cut);
    let mut mixed = spec_seal(3600 * 41, "charlie", 5);
    mixed.participants[2].claim_leaf = hash(0xdead);
    mixed.participants[3].login = "Viewer3".into();
    out.push(mixed);
    out
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let r = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    r.try_get_by_index::<i64>(0).unwrap()
}

/// The state of the "previous release": the first two steps done, the third pending.
async fn to_previous_layout(backend: Backend, url: &str) {
    // One batch of the first step, then the end of it, the second (no rows) and no more.
    assert!(Store::open_with(url, &opts(100_000, Some(1))).await.is_err(), "{backend:?}");
    let db = create_v1_store(url).await.unwrap();
    assert!(scalar_text(&db, &format!("SELECT value FROM meta WHERE key = '{PROGRESS_KEY}'")).await.is_some());
    db.close().await.unwrap();
}

#[tokio::test]
async fn the_previous_layout_is_converted_with_every_digest_and_root_unchanged_and_resumes() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (seals, rows) = build_v1_of(&url, keyed_fixture()).await;
        to_previous_layout(backend, &url).await;
        // The first step's end, then two batches of the third: stopped as a kill would.
        let stopped = Store::open_with(&url, &opts(10, Some(2))).await;
        assert!(matches!(stopped, Err(StoreError::Migration { .. })), "{backend:?}: {stopped:?}");
        let db = create_v1_store(&url).await.unwrap();
        let progress = scalar_text(&db, &format!("SELECT value FROM meta WHERE key = '{KEYED_PROGRESS_KEY}'")).await;
        let (epoch, channel): (i64, String) = serde_json::from_str(&progress.unwrap()).unwrap();
        let done: i64 = seals
            .iter()
            .filter(|s| (s.epoch, s.channel.clone()) <= (epoch, channel.clone()))
            .map(|s| s.participants)
            .sum();
        let all: i64 = seals.iter().map(|s| s.participants).sum();
        assert!(done > 0 && done < all, "{backend:?}: two batches, not all");
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM sealed_participants_keyed").await, done, "{backend:?}");
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM sealed_participants").await, all, "{backend:?}: old table whole");
        db.close().await.unwrap();
        // The rest.
        let store = Store::open_with(&url, &opts(10, None)).await.unwrap();
        assert_same(backend, &store, &seals, &rows).await;
        let db = store.db();
        assert_eq!(scalar_text(db, &format!("SELECT value FROM meta WHERE key = '{KEYED_PROGRESS_KEY}'")).await, None);
        // Leaves are stored only where they differ from the computed ones: every leaf of the
        // old fixture (made up), the wallet-bound claim leaf, the login in upper case (its
        // claim id is lowercased: computed), the empty claim leaves past the cut.
        let stored_leaves = scalar(db, "SELECT COUNT(*) FROM sealed_participants WHERE leaf IS NOT NULL").await;
        let stored_claims = scalar(db, "SELECT COUNT(*) FROM sealed_participants WHERE claim_leaf IS NOT NULL").await;
        let made_up: i64 = seals.iter().filter(|s| s.epoch < 3600 * 40).map(|s| s.participants).sum();
        assert_eq!(stored_leaves, made_up, "{backend:?}");
        assert_eq!(stored_claims, made_up + 1 + 3, "{backend:?}");
        if backend == Backend::Sqlite {
            let ddl =
                scalar_text(db, "SELECT sql FROM sqlite_master WHERE name = 'sealed_participants'").await.unwrap();
            assert!(ddl.contains("PRIMARY KEY (epoch, channel_id, user_hash)) WITHOUT ROWID"), "{ddl}");
            let indexes = scalar(
                db,
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sealed_participants' \
                 AND name = 'uq_sealed_participants_user'",
            )
            .await;
            assert_eq!(indexes, 0, "the unique index is gone");
        }
        store.close().await.unwrap();
    }
}

#[cfg(feature = "failpoints")]
#[tokio::test]
async fn a_batch_that_fails_before_its_commit_leaves_nothing_and_the_next_open_continues() {
    let _fp = FAILPOINTS.write().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (seals, rows) = build_v1_of(&url, keyed_fixture()).await;
        to_previous_layout(backend, &url).await;
        let stopped = Store::open_with(&url, &opts(10, Some(1))).await;
        assert!(stopped.is_err(), "{backend:?}");
        let db = create_v1_store(&url).await.unwrap();
        let key = format!("SELECT value FROM meta WHERE key = '{KEYED_PROGRESS_KEY}'");
        let before = scalar_text(&db, &key).await;
        let staged = scalar(&db, "SELECT COUNT(*) FROM sealed_participants_keyed").await;
        assert!(before.as_deref().is_some_and(|p| !p.is_empty()) && staged > 0, "{backend:?}: one batch");
        fail::cfg("compact.before_commit", "return").unwrap();
        let failed = Store::open_with(&url, &opts(10, None)).await;
        fail::remove("compact.before_commit");
        assert!(failed.err().is_some_and(|e| e.to_string().contains("compact.before_commit")), "{backend:?}");
        assert_eq!(scalar_text(&db, &key).await, before, "{backend:?}: the failed batch recorded nothing");
        assert_eq!(scalar(&db, "SELECT COUNT(*) FROM sealed_participants_keyed").await, staged, "{backend:?}");
        db.close().await.unwrap();
        let store = Store::open_with(&url, &opts(10, None)).await.unwrap();
        assert_same(backend, &store, &seals, &rows).await;
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn new_seals_store_only_the_leaves_that_differ_and_the_table_is_small() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let store = Store::open(&url).await.unwrap();
        const N: usize = 2_000;
        // Ten channels of one hour sealed in no particular order, then the next hour.
        let channels = ["c3", "c7", "c0", "c9", "c1", "c5", "c8", "c2", "c6", "c4"];
        let keys: Vec<(i64, &str)> =
            [3600, 7200].into_iter().flat_map(|e| channels.iter().map(move |c| (e, *c))).collect();
        for (epoch, channel) in &keys {
            store.write_seal(&spec_seal(*epoch, channel, N)).await.unwrap();
        }
        for (epoch, channel) in [keys[0], keys[15]] {
            let s = spec_seal(epoch, channel, N);
            assert_eq!(store.sealed_participants(epoch, channel).await.unwrap(), s.participants, "{backend:?}");
            let one = &s.participants[N / 2];
            let got = store.sealed_participant(epoch, channel, &one.user_hash).await.unwrap();
            assert_eq!(got.as_ref(), Some(one), "{backend:?}");
        }
        let db = store.db();
        let stored =
            scalar(db, "SELECT COUNT(*) FROM sealed_participants WHERE leaf IS NOT NULL OR claim_leaf IS NOT NULL");
        assert_eq!(stored.await, 0, "{backend:?}");
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
        if backend == Backend::Sqlite {
            store.checkpoint().await.unwrap();
            let size = |name: &'static str| async move {
                scalar(db, &format!("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = '{name}'")).await
            };
            let rows = (keys.len() * N) as i64;
            let table = size("sealed_participants").await;
            let index = size("idx_sealed_participants_user_epoch").await;
            println!(
                "keyed layout, SQLite: sealed_participants {} B, its index {} B per row",
                table / rows,
                index / rows
            );
            // 32-byte user hash, epoch, channel id, idx, login, amount and record overhead.
            assert!(table <= 100 * rows, "{table} bytes for {rows} rows");
            assert!(index <= 60 * rows, "{index} bytes for {rows} rows");
            assert_eq!(size("uq_sealed_participants_user").await, 0);
        }
        store.close().await.unwrap();
    }
}
