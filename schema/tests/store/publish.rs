//! The publication record: written once with its audit row, the same record again changes
//! nothing, another tx is refused; the unpublished backlog counts sealed, non-empty seals
//! without a record, oldest first.

use chatseal_schema::queries::publish::{Backlog, Publication, PublishWrite};

use crate::common::{hash, seal, stores};

fn record(epoch: i64, channel: &str, tx: &str, at: i64) -> Publication {
    Publication { epoch, channel: channel.into(), root: hash(0xaaaa), tx: tx.into(), published_at: at }
}

#[tokio::test]
async fn publication_records_and_the_unpublished_backlog() {
    for (backend, store, _guard) in stores().await {
        assert_eq!(store.unpublished_backlog().await.unwrap(), Backlog::default(), "{backend:?}");
        // Three non-empty seals (sealed_at 1_700_000_000 each) and an empty one.
        for (epoch, channel, n) in [(7200, "lacy", 3), (3600, "lacy", 2), (3600, "alpha", 1), (10800, "lacy", 0)] {
            let mut s = seal(epoch, channel, n);
            s.sealed_at += epoch;
            store.write_seal(&s).await.unwrap();
        }
        let backlog = store.unpublished_backlog().await.unwrap();
        assert_eq!(
            backlog,
            Backlog { count: 3, oldest_sealed_at: Some(1_700_003_600) },
            "{backend:?}: the empty seal has nothing to publish"
        );
        let waiting: Vec<(i64, String)> =
            store.unpublished_seals(10).await.unwrap().into_iter().map(|e| (e.epoch, e.channel)).collect();
        assert_eq!(waiting, [(3600, "alpha".to_string()), (3600, "lacy".into()), (7200, "lacy".into())], "{backend:?}");
        assert_eq!(store.unpublished_seals(1).await.unwrap().len(), 1);

        let first = record(
            3600,
            "alpha",
            "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW",
            1_800_000_000,
        );
        assert_eq!(
            store.record_publication(&first).await.unwrap(),
            PublishWrite::Recorded(first.clone()),
            "{backend:?}"
        );
        assert_eq!(store.record_publication(&first).await.unwrap(), PublishWrite::AlreadyRecorded(first.clone()));
        let other = record(3600, "alpha", "another-tx", 1_800_000_100);
        assert_eq!(store.record_publication(&other).await.unwrap(), PublishWrite::Conflict(first.clone()));
        assert_eq!(store.publication(3600, "alpha").await.unwrap(), Some(first.clone()), "the first record is kept");
        assert_eq!(store.publication(3600, "lacy").await.unwrap(), None);
        let log = store.audit_log(10).await.unwrap();
        assert_eq!(log.iter().filter(|r| r.action == "published").count(), 3, "{backend:?}: every attempt is audited");
        assert!(log[0].detail.contains("refused") && log[0].subject == "3600 #alpha", "{:?}", log[0]);

        assert_eq!(
            store.unpublished_backlog().await.unwrap(),
            Backlog { count: 2, oldest_sealed_at: Some(1_700_003_600) }
        );
        store.record_publication(&record(3600, "lacy", "tx2", 1_800_000_200)).await.unwrap();
        assert_eq!(
            store.unpublished_backlog().await.unwrap(),
            Backlog { count: 1, oldest_sealed_at: Some(1_700_007_200) }
        );
        let between = store.publications_between(0, 5000, Some("lacy")).await.unwrap();
        assert_eq!(between.len(), 1);
        assert_eq!(store.publications_between(0, 5000, None).await.unwrap().len(), 2);
        // A root that is not a stored hash is refused before anything is written.
        let mut bad = record(7200, "lacy", "tx3", 1);
        bad.root = format!("0x{}", &hash(1)[2..]);
        assert!(store.record_publication(&bad).await.is_err());
        assert_eq!(store.unpublished_backlog().await.unwrap().count, 1, "{backend:?}");
        let counts = store.row_counts().await.unwrap();
        assert_eq!(counts.get("publications"), Some(&2), "{backend:?}: backups and copies count the table");
    }
}
