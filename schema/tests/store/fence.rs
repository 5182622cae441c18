//! The fence (cluster.md, "Roles"): a member that held the sealer role, lost it while paused
//! or cut off (its lease ran out and another member took the role, so the fencing number
//! grew), and comes back can never write a seal: the store refuses its stale number in the
//! seal's own transaction, and the seal the new holder writes is the one that stays. Both
//! engines; a backup's fenced record likewise.

use std::time::Duration;

use chatseal_schema::ownership::roles::{BACKUP, SEALER};
use chatseal_schema::testing::fresh_pg_url;
use chatseal_schema::{OpenOptions, SealWrite, Store, StoreError};
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::common::{seal, stores};

#[tokio::test]
async fn a_stale_sealer_is_refused_by_the_fence_and_the_new_holders_seal_stays() {
    for (backend, store, _guard) in stores().await {
        // Member a holds the role (fence 1) on a lease of 60 s.
        store.put_member_row("a", 11, 60_000).await.unwrap();
        let a = store.claim_role(SEALER, "a", 11).await.unwrap().expect("a free role is taken");
        assert_eq!(a.number, 1, "{backend:?}");
        // b cannot take it while a's lease runs.
        store.put_member_row("b", 22, 60_000).await.unwrap();
        assert_eq!(store.claim_role(SEALER, "b", 22).await.unwrap(), None, "{backend:?}");
        // a renews: same tenure, same number.
        assert_eq!(store.claim_role(SEALER, "a", 11).await.unwrap().map(|f| f.number), Some(1));

        // a goes silent past its lease (a lease of 0 ms is over at once); b takes over.
        store.put_member_row("a", 11, 0).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let b = store.claim_role(SEALER, "b", 22).await.unwrap().expect("b takes the role over");
        assert_eq!(b.number, 2, "{backend:?}: the number grows at every change of holder");

        // a comes back and tries to seal with its old number: refused, nothing written.
        let err = store.write_seal_fenced(&seal(7_200, "alpha", 3), Some(&a)).await.unwrap_err();
        assert!(matches!(err, StoreError::Fenced { fence: 1, .. }), "{backend:?}: {err}");
        assert!(
            store.sealed_epoch(7_200, "alpha").await.unwrap().is_none(),
            "{backend:?}: no seal from a stale sealer"
        );

        // b seals; a's retry is refused again and the seal does not change.
        let SealWrite::Sealed(sealed) = store.write_seal_fenced(&seal(7_200, "alpha", 5), Some(&b)).await.unwrap()
        else {
            panic!("{backend:?}: b's seal is new");
        };
        assert!(store.write_seal_fenced(&seal(7_200, "alpha", 3), Some(&a)).await.is_err());
        assert_eq!(store.sealed_epoch(7_200, "alpha").await.unwrap().unwrap().digest, sealed.digest, "{backend:?}");

        // The same for a backup's record.
        let ab = store.claim_role(BACKUP, "b", 22).await.unwrap().expect("b takes the free backup role");
        store.audit_fenced(1, "backup", "id1", "by b", &ab).await.unwrap();
        let mut stale = ab.clone();
        stale.number -= 1;
        assert!(matches!(
            store.audit_fenced(2, "backup", "id2", "stale", &stale).await,
            Err(StoreError::Fenced { .. })
        ));
        let log = store.audit_log(10).await.unwrap();
        assert!(log.iter().any(|r| r.subject == "id1") && !log.iter().any(|r| r.subject == "id2"), "{backend:?}");
    }
}

#[tokio::test]
async fn watermarks_say_which_live_members_are_behind() {
    for (backend, store, _guard) in stores().await {
        store.put_member_row("a", 1, 60_000).await.unwrap();
        store.put_member_row("b", 2, 60_000).await.unwrap();
        assert_eq!(store.members_behind(3_600).await.unwrap(), ["a", "b"], "{backend:?}");
        store.publish_ack("a", 1, 3_600).await.unwrap();
        store.publish_ack("b", 99, 3_600).await.unwrap(); // another incarnation's ack is ignored
        assert_eq!(store.members_behind(3_600).await.unwrap(), ["b"], "{backend:?}");
        store.publish_ack("b", 2, 7_200).await.unwrap();
        store.publish_ack("b", 2, 3_600).await.unwrap(); // never moves back
        assert!(store.members_behind(7_200).await.unwrap() == ["a"], "{backend:?}");
        // a member whose lease ran out no longer holds sealing up
        store.put_member_row("a", 1, 0).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(store.members_behind(7_200).await.unwrap().is_empty(), "{backend:?}");
    }
}

/// A member cut off INSIDE a transaction that holds the sealer role's row lock (its seal's
/// fence check takes it) must not block the takeover. Its socket stays open and silent, so
/// without help PostgreSQL keeps the session, and the lock, until TCP gives up on the peer:
/// hours. The store's sessions start with `pg_session_settings`, so the server ends a session
/// idle inside a transaction after `pg_stale_session` and the lock goes with it. PostgreSQL
/// only (a SQLite store has one writing process).
#[tokio::test]
async fn a_member_silent_inside_a_transaction_does_not_block_the_takeover() {
    let Some((url, _db)) = fresh_pg_url().await else { return };
    let quick = OpenOptions { pg_stale_session: Duration::from_secs(1), ..OpenOptions::default() };
    let a_store = Store::open_with(&url, &quick).await.unwrap();
    let b_store = Store::open(&url).await.unwrap();

    a_store.put_member_row("a", 11, 60_000).await.unwrap();
    let a = a_store.claim_role(SEALER, "a", 11).await.unwrap().expect("a free role is taken");
    // a opens a transaction holding the role's row lock, then goes silent.
    let silent = a_store.db().begin().await.unwrap();
    silent.execute_unprepared("UPDATE cluster_role SET fence = fence WHERE role = 'sealer'").await.unwrap();
    // a's lease runs out; b takes the role, once the server has ended a's session.
    b_store.put_member_row("a", 11, 0).await.unwrap();
    b_store.put_member_row("b", 22, 60_000).await.unwrap();
    let b = tokio::time::timeout(Duration::from_secs(30), b_store.claim_role(SEALER, "b", 22))
        .await
        .expect("b's claim is not held up by a's silent transaction for 30 s")
        .unwrap()
        .expect("b takes the role over");
    assert_eq!(b.number, a.number + 1);
    // a's transaction was ended by the server: nothing it did there commits.
    assert!(silent.commit().await.is_err(), "the server ended a's idle transaction");
    let shown: String = a_store
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SHOW idle_in_transaction_session_timeout",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(shown, "1s", "the session starts with the store's settings");
}
