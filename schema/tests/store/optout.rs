//! Opt-outs with their audit rows, and the meta table.

use crate::common::{hash, scalar_i64, stores};

#[tokio::test]
async fn opt_out_is_recorded_once_and_audited_every_time() {
    for (backend, store, _guard) in stores().await {
        assert!(!store.is_opted_out(&hash(1)).await.unwrap());
        assert!(store.opt_out(&hash(1), "alice", "asked on stream", 1_000).await.unwrap(), "{backend:?}");
        assert!(!store.opt_out(&hash(1), "alice", "again", 2_000).await.unwrap(), "{backend:?}: not new");
        assert!(store.opt_out(&hash(2), "bob", "", 3_000).await.unwrap());
        assert!(store.is_opted_out(&hash(1)).await.unwrap());
        assert_eq!(store.opted_out_logins().await.unwrap(), vec!["alice".to_owned(), "bob".to_owned()]);
        let reason = format!("SELECT created_at FROM opt_outs WHERE user_hash = '{}'", hash(1));
        assert_eq!(scalar_i64(&store, &reason).await, 1_000, "the first opt-out is kept");

        let log = store.audit_log(10).await.unwrap();
        assert_eq!(log.len(), 3, "{backend:?}");
        assert!(log.iter().all(|r| r.action == "opt_out"));
        assert_eq!((log[0].subject.as_str(), log[0].at), (hash(2).as_str(), 3_000), "newest first");
        assert!(log[1].detail.contains("new=false"));
        store.audit(4_000, "seal", "5/lacy", "manual").await.unwrap();
        assert_eq!(store.audit_log(1).await.unwrap()[0].action, "seal");
        assert!(store.opt_out("not-a-hash", "x", "", 1).await.is_err());
    }
}

#[tokio::test]
async fn meta_values_are_replaced() {
    for (backend, store, _guard) in stores().await {
        assert_eq!(store.get_meta("k").await.unwrap(), None);
        store.set_meta("k", "1").await.unwrap();
        store.set_meta("k", "2").await.unwrap();
        assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("2"), "{backend:?}");
    }
}
