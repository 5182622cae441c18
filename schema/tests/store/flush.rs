//! Flushes: upserts add up, first/last seen take min/max, the user mapping follows the newest
//! sighting, dedup ids report only what is new, big batches are chunked, a rolled-back flush
//! leaves nothing, coverage spans extend.

use crate::common::{blob_sql, channel_id_sql, delta, hash, scalar_i64, stores};
use chatseal_schema::SignalKind::{Bits, Message, Resub, Sub};
use chatseal_schema::{CoverageSpan, FlushTx, ParticipationDelta, SeenId, StoreError};

fn ids<'a>(list: &[&'a str]) -> Vec<SeenId<'a>> {
    list.iter().map(|i| SeenId { id: (*i).into(), epoch: 10, channel: "lacy".into() }).collect()
}

/// `insert_seen_ids` of `list`: the ids it reports new, each with its position in `list`.
async fn new_ids(tx: &FlushTx, list: &[&str]) -> Vec<(usize, String)> {
    let fresh = tx.insert_seen_ids(&ids(list)).await.unwrap();
    assert_eq!(fresh.len(), list.len());
    list.iter().zip(fresh).enumerate().filter(|(_, (_, new))| *new).map(|(i, (s, _))| (i, (*s).to_owned())).collect()
}

fn at(list: &[(usize, &str)]) -> Vec<(usize, String)> {
    list.iter().map(|(i, s)| (*i, (*s).to_owned())).collect()
}

#[tokio::test]
async fn upserts_add_up_across_flushes() {
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_participation(&[
            delta(10, "lacy", 1, 100, 200, vec![(Message, 2), (Bits, 50)]),
            delta(10, "lacy", 2, 150, 150, vec![(Message, 1)]),
        ])
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let tx = store.begin_flush().await.unwrap();
        let mut later = delta(10, "lacy", 1, 90, 300, vec![(Message, 3), (Sub, 1)]);
        later.login = "User1Renamed".into();
        later.user_id = None; // absent now: the stored id is kept
        later.display_name = Some("User One".into());
        tx.upsert_participation(&[later, delta(10, "lacy", 1, 120, 130, vec![(Bits, 25)])]).await.unwrap();
        tx.commit().await.unwrap();

        let rows = store.participants_for_seal(10, "lacy").await.unwrap();
        assert_eq!(rows.len(), 2, "{backend:?}");
        let u1 = rows.iter().find(|r| r.user_hash == hash(1)).unwrap();
        assert_eq!((u1.first_seen, u1.last_seen), (90, 300), "{backend:?}: min/max seen");
        assert_eq!(
            (u1.signals[Message], u1.signals[Bits], u1.signals[Sub], u1.signals[Resub]),
            (5, 75, 1, 0),
            "{backend:?}: sums"
        );
        assert_eq!(u1.login, "User1Renamed", "{backend:?}: newest login");
        let u2 = rows.iter().find(|r| r.user_hash == hash(2)).unwrap();
        assert_eq!((u2.signals[Message], u2.first_seen, u2.login.as_str()), (1, 150, "user2"));

        // Every participant has its users row, with the newest non-null fields.
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM users").await, 2);
        let missing = "SELECT COUNT(*) FROM participation p WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_hash = p.user_hash)";
        assert_eq!(scalar_i64(&store, missing).await, 0);
        let kept_id = format!("SELECT COUNT(*) FROM users WHERE user_hash = {} AND user_id = '1001' AND display_name = 'User One' AND first_seen = 90 AND last_seen = 300", blob_sql(backend, &hash(1)));
        assert_eq!(scalar_i64(&store, &kept_id).await, 1, "{backend:?}");

        // An older sighting arriving late does not overwrite the newer login.
        let tx = store.begin_flush().await.unwrap();
        let mut stale = delta(11, "lacy", 1, 50, 60, vec![]);
        stale.login = "ancient".into();
        tx.upsert_participation(&[stale]).await.unwrap();
        tx.commit().await.unwrap();
        let rows = store.participants_for_seal(11, "lacy").await.unwrap();
        assert_eq!(rows[0].login, "User1Renamed", "{backend:?}");
        let firsts = format!("SELECT first_seen FROM users WHERE user_hash = {}", blob_sql(backend, &hash(1)));
        assert_eq!(scalar_i64(&store, &firsts).await, 50);
    }
}

#[tokio::test]
async fn seen_ids_report_only_new_ids() {
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        let fresh = new_ids(&tx, &["a", "b", "a", "c", "b"]).await;
        assert_eq!(fresh, at(&[(0, "a"), (1, "b"), (3, "c")]), "{backend:?}: duplicates within a batch count once");
        let again = new_ids(&tx, &["c", "d"]).await;
        assert_eq!(again, at(&[(1, "d")]), "{backend:?}: within one transaction");
        tx.commit().await.unwrap();

        let tx = store.begin_flush().await.unwrap();
        let later = new_ids(&tx, &["a", "d", "e", "e"]).await;
        assert_eq!(later, at(&[(2, "e")]), "{backend:?}: across transactions");
        assert!(tx.insert_seen_ids(&[]).await.unwrap().is_empty());
        tx.commit().await.unwrap();
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM seen_ids").await, 5);
    }
}

#[tokio::test]
async fn a_ten_thousand_row_flush_is_chunked() {
    for (backend, store, _guard) in stores().await {
        let deltas: Vec<ParticipationDelta> = (0..10_000u64)
            .map(|u| delta(20, "big", u, 1_000 + (u as i64 % 97), 2_000, vec![(Message, 1), (Bits, u as i64 % 3)]))
            .collect();
        let seen: Vec<SeenId> =
            (0..10_000).map(|i| SeenId { id: format!("m{i}").into(), epoch: 20, channel: "big".into() }).collect();
        let tx = store.begin_flush().await.unwrap();
        assert!(tx.insert_seen_ids(&seen).await.unwrap().iter().all(|new| *new));
        tx.upsert_participation(&deltas).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM participation").await, 10_000, "{backend:?}");
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM users").await, 10_000);
        let messages = format!("SELECT COUNT(*) FROM signals WHERE kind = {}", Message.code());
        assert_eq!(scalar_i64(&store, &messages).await, 10_000);
        // The compact layout: binary keys, the channel by id, one id per channel.
        let binary = format!(
            "SELECT COUNT(*) FROM participation WHERE length(user_hash) = 32 AND channel_id = {}",
            channel_id_sql("big")
        );
        assert_eq!(scalar_i64(&store, &binary).await, 10_000, "{backend:?}");
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM channel_ids WHERE name = 'big'").await, 1);
        let rows = store.participants_for_seal(20, "big").await.unwrap();
        assert_eq!(rows.len(), 10_000);
        assert!(rows.windows(2).all(|w| (w[0].first_seen, &w[0].user_hash) < (w[1].first_seen, &w[1].user_hash)));
    }
}

#[tokio::test]
async fn a_rolled_back_flush_leaves_nothing() {
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        tx.insert_seen_ids(&ids(&["x"])).await.unwrap();
        tx.upsert_participation(&[delta(10, "lacy", 1, 1, 2, vec![(Message, 1)])]).await.unwrap();
        tx.upsert_coverage(&[CoverageSpan { channel: "lacy".into(), started_ms: 0, until_ms: 10 }]).await.unwrap();
        tx.rollback().await.unwrap();

        // Dropped without commit: rolled back as well.
        {
            let tx = store.begin_flush().await.unwrap();
            tx.upsert_participation(&[delta(10, "lacy", 2, 1, 2, vec![])]).await.unwrap();
        }
        for table in ["seen_ids", "participation", "signals", "users", "coverage"] {
            let n = scalar_i64(&store, &format!("SELECT COUNT(*) FROM {table}")).await;
            assert_eq!(n, 0, "{backend:?}: {table} must be empty");
        }
        // The store still works after both.
        let tx = store.begin_flush().await.unwrap();
        assert_eq!(new_ids(&tx, &["x"]).await, at(&[(0, "x")]));
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn bad_deltas_are_refused_before_writing() {
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        let good = delta(10, "lacy", 2, 1, 2, vec![(Message, 1)]);
        let bad = delta(10, "lacy", 1, 3, 2, vec![(Message, 1)]);
        let err = tx.upsert_participation(&[good, bad]).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{backend:?}: {err}");
        assert!(err.to_string().contains(&hash(1)), "{backend:?}: names the user: {err}");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn coverage_spans_extend_and_filter() {
    for (backend, store, _guard) in stores().await {
        let span = |c: &str, s, u| CoverageSpan { channel: c.into(), started_ms: s, until_ms: u };
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_coverage(&[span("lacy", 1_000, 2_000), span("other", 5_000, 6_000)]).await.unwrap();
        tx.commit().await.unwrap();
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_coverage(&[span("lacy", 1_000, 3_500), span("lacy", 1_000, 3_000)]).await.unwrap();
        tx.commit().await.unwrap();
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_coverage(&[span("lacy", 1_000, 2_500)]).await.unwrap(); // never shrinks
        tx.commit().await.unwrap();

        let lacy = store.coverage_spans(Some("lacy"), 0, 10_000).await.unwrap();
        assert_eq!(lacy, vec![span("lacy", 1_000, 3_500)], "{backend:?}");
        let all = store.coverage_spans(None, 3_000, 5_001).await.unwrap();
        assert_eq!(all, vec![span("lacy", 1_000, 3_500), span("other", 5_000, 6_000)]);
        assert!(store.coverage_spans(None, 3_500, 5_000).await.unwrap().is_empty(), "half-open bounds");
    }
}
