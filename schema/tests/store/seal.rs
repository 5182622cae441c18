//! Seals: written once (a second write is AlreadySealed and changes nothing), dedup ids of the
//! sealed epoch pruned, lookups, digests that catch rows changed behind the store's back.

use crate::common::{blob_sql, channel_id_sql, exec, hash, scalar_i64, seal, stores, FAILPOINTS};
use chatseal_schema::{seal_digest, seal_digest_with_cut, SealWrite, SeenId, StoreError};

#[tokio::test]
async fn write_seal_is_write_once() {
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        let tx = store.begin_flush().await.unwrap();
        let ids: Vec<SeenId> =
            ["a", "b"].iter().map(|i| SeenId { id: (*i).into(), epoch: 5, channel: "lacy".into() }).collect();
        tx.insert_seen_ids(&ids).await.unwrap();
        tx.insert_seen_ids(&[SeenId { id: "other".into(), epoch: 6, channel: "lacy".into() }]).await.unwrap();
        tx.commit().await.unwrap();

        let first = seal(5, "lacy", 3);
        let written = store.write_seal(&first).await.unwrap();
        let SealWrite::Sealed(stored) = &written else { panic!("{backend:?}: expected Sealed, got {written:?}") };
        assert_eq!(stored.participants, 3);
        assert_eq!(
            stored.digest,
            seal_digest(5, "lacy", first.root.as_deref(), first.claim_root.as_deref(), &first.participants)
        );
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM seen_ids WHERE epoch = 5").await, 0, "{backend:?}: pruned");
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM seen_ids WHERE epoch = 6").await, 1, "other epochs kept");

        // A different seal of the same (epoch, channel) changes nothing.
        let mut second = seal(5, "lacy", 4);
        second.sealed_at += 10;
        let again = store.write_seal(&second).await.unwrap();
        assert_eq!(again, SealWrite::AlreadySealed(stored.clone()), "{backend:?}");
        assert_eq!(store.sealed_participants(5, "lacy").await.unwrap(), first.participants);
        assert_eq!(store.sealed_epoch(5, "lacy").await.unwrap().as_ref(), Some(stored));
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM sealed_participants").await, 3);

        // The flush sees it as sealed.
        let tx = store.begin_flush().await.unwrap();
        let sealed = tx.sealed_among(&[(5, "lacy".into()), (5, "other".into()), (6, "lacy".into())]).await.unwrap();
        assert_eq!(sealed.into_iter().collect::<Vec<_>>(), vec![(5, "lacy".to_owned())]);
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn empty_and_large_seals_and_lookups() {
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        let empty = seal(1, "quiet", 0);
        let e = store.write_seal(&empty).await.unwrap();
        assert_eq!((e.epoch().participants, e.epoch().root.as_deref()), (0, None), "{backend:?}");

        // 2,500 participants: three chunks of participant rows.
        let big = seal(2, "busy", 2_500);
        store.write_seal(&big).await.unwrap();
        let back = store.sealed_participants(2, "busy").await.unwrap();
        assert_eq!(back, big.participants, "{backend:?}: idx order, every field");
        let one = store.sealed_participant(2, "busy", &hash(42)).await.unwrap().unwrap();
        assert_eq!((one.idx, one.login.as_str()), (41, "user42"));
        assert!(store.sealed_participant(2, "busy", &hash(999_999)).await.unwrap().is_none());
        store.write_seal(&seal(2, "quiet", 1)).await.unwrap();

        let newest = store.sealed_epochs(None, 10).await.unwrap();
        let keys: Vec<(i64, &str)> = newest.iter().map(|e| (e.epoch, e.channel.as_str())).collect();
        assert_eq!(keys, vec![(2, "busy"), (2, "quiet"), (1, "quiet")], "{backend:?}: newest first");
        let quiet = store.sealed_epochs(Some("quiet"), 1).await.unwrap();
        assert_eq!(quiet.iter().map(|e| e.epoch).collect::<Vec<_>>(), vec![2]);
        assert_eq!(store.last_sealed_epoch().await.unwrap(), Some(2));
        assert!(store.sealed_epoch(3, "busy").await.unwrap().is_none());
        assert!((quiet[0].coverage - 0.75).abs() < 1e-12);
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
    }
}

#[tokio::test]
async fn malformed_seals_are_refused() {
    for (backend, store, _guard) in stores().await {
        let mut bad = seal(1, "c", 2);
        bad.participants[1].leaf = format!("0x{}", &hash(1)[2..]);
        let err = store.write_seal(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{backend:?}: {err}");
        assert!(store.sealed_epoch(1, "c").await.unwrap().is_none());
        assert_eq!(store.last_sealed_epoch().await.unwrap(), None);
    }
}

#[tokio::test]
async fn verify_digests_catches_changed_rows() {
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        for (epoch, channel) in [(7, "a"), (7, "b"), (8, "a"), (9, "z")] {
            store.write_seal(&seal(epoch, channel, 5)).await.unwrap();
        }
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
        let tampered = hash(0xdead);
        exec(
            &store,
            &format!(
                "UPDATE sealed_participants SET leaf = {} WHERE epoch = 7 AND channel_id = {} AND idx = 3",
                blob_sql(backend, &tampered),
                channel_id_sql("b")
            ),
        )
        .await;
        exec(
            &store,
            &format!(
                "DELETE FROM sealed_participants WHERE epoch = 9 AND channel_id = {} AND idx = 4",
                channel_id_sql("z")
            ),
        )
        .await;
        exec(&store, "UPDATE sealed_epochs SET root = NULL WHERE epoch = 8 AND channel = 'a'").await;
        let bad = store.verify_digests().await.unwrap();
        assert_eq!(bad, vec![(7, "b".to_owned()), (8, "a".to_owned()), (9, "z".to_owned())], "{backend:?}");
        // The same check a page at a time (as the daemon spreads it over start-up and the
        // background): every seal once, in key order, the same damage, then an empty page.
        let mut check = chatseal_schema::DigestCheck::default();
        let (mut seen, mut paged_bad, mut leaves) = (Vec::new(), Vec::new(), 0);
        loop {
            let page = store.verify_digest_page(&mut check, 3).await.unwrap();
            let Some(last) = page.last.clone() else {
                assert_eq!(page, chatseal_schema::DigestPage::default(), "{backend:?}");
                break;
            };
            assert!(page.seals >= 1 && page.seals <= 3, "{backend:?}");
            assert_eq!(check.after(), Some(&last), "{backend:?}");
            seen.push(page.seals);
            leaves += page.leaves;
            paged_bad.extend(page.bad);
        }
        assert_eq!((seen, leaves), (vec![3, 1], 20), "{backend:?}");
        assert_eq!(paged_bad, bad, "{backend:?}");
        // A few seals by key, the exact way: the damaged one among them, and a key never sealed.
        let keys = [(7, "a".to_owned()), (7, "b".to_owned()), (99, "nope".to_owned())];
        assert_eq!(store.verify_seals(&keys).await.unwrap(), vec![(7, "b".to_owned())], "{backend:?}");
        assert!(store.verify_seals(&[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn frozen_leaves_round_trip_byte_for_byte_through_the_json_insert() {
    // The leaves are written as one JSON array per chunk; every text must come back exactly.
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        let mut odd = seal(12, "j", 6);
        let logins = ["quote\"d", "back\\slash", "ünïcødé", "emoji😀", "tab\tand\nnewline", "[1,\"x\"]"];
        for (p, l) in odd.participants.iter_mut().zip(logins) {
            p.login = l.into();
        }
        odd.participants[2].amount = u64::MAX.to_string();
        store.write_seal(&odd).await.unwrap();
        let back = store.sealed_participants(12, "j").await.unwrap();
        assert_eq!(back, odd.participants, "{backend:?}");
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
    }
}

#[tokio::test]
async fn a_login_holding_the_aggregation_separators_is_not_called_damaged() {
    // The check reads each seal as one aggregated text split on ASCII US/RS; a field holding
    // those bytes must send it to the exact row-by-row read, not to a false alarm.
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        let mut odd = seal(11, "q", 4);
        odd.participants[1].login = "we\u{1f}ird\u{1e}name".into();
        store.write_seal(&odd).await.unwrap();
        store.write_seal(&seal(11, "r", 3)).await.unwrap();
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
        // And the exact read still catches a change in that seal.
        let q = channel_id_sql("q");
        exec(
            &store,
            &format!("UPDATE sealed_participants SET amount = '1' WHERE epoch = 11 AND channel_id = {q} AND idx = 2"),
        )
        .await;
        assert_eq!(store.verify_digests().await.unwrap(), vec![(11, "q".to_owned())], "{backend:?}");
    }
}

#[tokio::test]
async fn a_claim_cut_is_stored_read_back_and_covered_by_the_digest() {
    let _fp = FAILPOINTS.read().await;
    for (backend, store, _guard) in stores().await {
        let mut capped = seal(4, "cap", 5);
        capped.claim_cut = 2;
        let SealWrite::Sealed(stored) = store.write_seal(&capped).await.unwrap() else {
            panic!("{backend:?}: expected Sealed")
        };
        assert_eq!(stored.claim_cut, 2);
        assert_eq!(
            stored.digest,
            seal_digest_with_cut(
                4,
                "cap",
                capped.root.as_deref(),
                capped.claim_root.as_deref(),
                2,
                &capped.participants
            )
        );
        let read = store.sealed_epoch(4, "cap").await.unwrap().unwrap();
        assert_eq!(read, stored, "{backend:?}");
        // A seal without a cut stores NULL and reads back as 0.
        store.write_seal(&seal(4, "plain", 2)).await.unwrap();
        assert_eq!(
            scalar_i64(&store, "SELECT COUNT(*) FROM sealed_epochs WHERE claim_cut IS NULL AND channel = 'plain'")
                .await,
            1
        );
        assert_eq!(store.sealed_epoch(4, "plain").await.unwrap().unwrap().claim_cut, 0);
        assert!(store.verify_digests().await.unwrap().is_empty(), "{backend:?}");
        // Erasing or changing the recorded cut is caught.
        exec(&store, "UPDATE sealed_epochs SET claim_cut = NULL WHERE channel = 'cap'").await;
        exec(&store, "UPDATE sealed_epochs SET claim_cut = 1 WHERE channel = 'plain'").await;
        assert_eq!(
            store.verify_digests().await.unwrap(),
            vec![(4, "cap".to_owned()), (4, "plain".to_owned())],
            "{backend:?}"
        );
    }
}

#[cfg(feature = "failpoints")]
#[tokio::test]
async fn a_seal_interrupted_mid_way_leaves_nothing() {
    let _fp = FAILPOINTS.write().await;
    for (backend, store, _guard) in stores().await {
        fail::cfg("seal.mid", "return").unwrap();
        let err = store.write_seal(&seal(3, "c", 10)).await.unwrap_err();
        fail::remove("seal.mid");
        assert!(matches!(err, StoreError::FailPoint("seal.mid")), "{backend:?}: {err}");
        assert!(store.sealed_epoch(3, "c").await.unwrap().is_none());
        assert_eq!(scalar_i64(&store, "SELECT COUNT(*) FROM sealed_participants").await, 0);
        assert!(matches!(store.write_seal(&seal(3, "c", 10)).await.unwrap(), SealWrite::Sealed(_)));
    }
}
