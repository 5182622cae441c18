//! The sealer's reads: participants in leaf order with signal sums, channels of an epoch,
//! past (epoch, channel)s left unsealed.

use crate::common::{blob_sql, delta, exec, hash, seal, stores, FAILPOINTS};
use chatseal_schema::SignalKind::{Bits, Gift, Message, Raid, Resub, Sub};
use chatseal_schema::{ParticipantRow, Signals};

#[tokio::test]
async fn participants_come_in_leaf_order_with_signal_sums() {
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_participation(&[
            delta(3, "c", 9, 50, 60, vec![(Raid, 1)]),
            delta(3, "c", 2, 50, 55, vec![(Gift, 5), (Resub, 1)]),
            delta(3, "c", 5, 10, 99, vec![(Message, 7), (Bits, 100), (Sub, 1)]),
            delta(3, "other", 1, 1, 1, vec![]),
            delta(4, "c", 1, 1, 1, vec![]),
        ])
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let rows = store.participants_for_seal(3, "c").await.unwrap();
        let order: Vec<String> = rows.iter().map(|r| r.user_hash.clone()).collect();
        assert_eq!(order, vec![hash(5), hash(2), hash(9)], "{backend:?}: first_seen, then user_hash");
        assert_eq!(
            rows[0],
            ParticipantRow {
                user_hash: hash(5),
                login: "user5".into(),
                first_seen: 10,
                last_seen: 99,
                signals: Signals::default().with(Message, 7).with(Bits, 100).with(Sub, 1),
            }
        );
        assert_eq!((rows[1].signals[Gift], rows[1].signals[Resub], rows[2].signals[Raid]), (5, 1, 1));
        assert!(store.participants_for_seal(3, "nobody").await.unwrap().is_empty());
        assert_eq!(store.channels_with_participation(3).await.unwrap(), vec!["c".to_owned(), "other".to_owned()]);
        assert!(store.channels_with_participation(99).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_participant_without_its_users_row_is_reported_not_sealed_nameless() {
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_participation(&[delta(3, "c", 1, 5, 6, vec![(Message, 2)]), delta(3, "c", 2, 7, 8, vec![])])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        exec(&store, &format!("DELETE FROM users WHERE user_hash = {}", blob_sql(backend, &hash(2)))).await;
        let err = store.participants_for_seal(3, "c").await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&hash(2)) && text.contains("no users row"), "{backend:?}: {text}");
    }
}

#[tokio::test]
async fn unsealed_epochs_are_listed_oldest_first() {
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        assert!(store.unsealed_participation_epochs(100).await.unwrap().is_empty());
        let tx = store.begin_flush().await.unwrap();
        let mut deltas = Vec::new();
        for (epoch, channel) in [(1, "b"), (1, "a"), (2, "a"), (3, "c"), (5, "a"), (9, "a")] {
            for user in 0..3 {
                deltas.push(delta(epoch, channel, user, 1, 2, vec![]));
            }
        }
        tx.upsert_participation(&deltas).await.unwrap();
        tx.commit().await.unwrap();
        store.write_seal(&seal(1, "a", 1)).await.unwrap();
        store.write_seal(&seal(3, "c", 0)).await.unwrap();
        let got = store.unsealed_participation_epochs(9).await.unwrap();
        let want: Vec<(i64, String)> = vec![(1, "b".into()), (2, "a".into()), (5, "a".into())];
        assert_eq!(got, want, "{backend:?}");
        assert_eq!(store.unsealed_participation_epochs(1).await.unwrap(), vec![]);
        assert_eq!(store.unsealed_participation_epochs(10).await.unwrap().len(), 4);
    }
}
