//! The viewer's reads: a user's sealed rows newest first (paged by epoch, filtered by channel),
//! the seals of a page, users ever seen, the latest seal of each channel, and (SQLite) that the
//! user's rows come from the index and not from a scan.

use std::collections::BTreeMap;

use chatseal_schema::migration::m20261206_000007_user_epochs_index::USER_EPOCHS_INDEX;
use chatseal_schema::queries::user_epochs::UserSealedRow;
use chatseal_schema::SignalKind::Message;
use chatseal_schema::{Backend, Store};
use sea_orm::{ConnectionTrait, Statement};

use crate::common::{delta, hash, seal, stores};

const CHANNELS: [&str; 3] = ["alpha", "bravo", "charlie"];
const HOUR: i64 = 3600;
const EPOCHS: i64 = 30;

/// Participants of (epoch number, channel number): users 1..=n are in it.
fn size(e: i64, c: usize) -> usize {
    4 + ((e * 7 + c as i64 * 5) % 17) as usize
}

/// Seals every (epoch, channel) and returns, per user number, their rows newest first
/// (epoch descending, then channel descending), as the store should answer them.
async fn fill(store: &Store) -> BTreeMap<u64, Vec<UserSealedRow>> {
    let mut want: BTreeMap<u64, Vec<UserSealedRow>> = BTreeMap::new();
    for e in 0..EPOCHS {
        for (c, ch) in CHANNELS.iter().enumerate() {
            let s = seal(e * HOUR, ch, size(e, c));
            for p in &s.participants {
                let user = p.idx as u64 + 1;
                want.entry(user).or_default().push(UserSealedRow {
                    epoch: e * HOUR,
                    channel: ch.to_string(),
                    idx: p.idx,
                    amount: p.amount.clone(),
                });
            }
            store.write_seal(&s).await.expect("write seal");
        }
    }
    for rows in want.values_mut() {
        rows.sort_by(|a, b| b.epoch.cmp(&a.epoch).then_with(|| b.channel.cmp(&a.channel)));
    }
    want
}

#[tokio::test]
async fn a_users_rows_come_newest_first_paged_by_epoch_and_filtered_by_channel() {
    for (backend, store, _guard) in stores().await {
        let want = fill(&store).await;
        for (user, rows) in &want {
            let uh = hash(*user);
            let all = store.user_sealed_rows(&uh, None, i64::MAX, 10_000).await.unwrap();
            assert_eq!(&all, rows, "{backend:?}: every row of user {user}");
            // Pages of 7 walked by `before` = the oldest epoch of the page: each row once, when
            // no epoch is split (the rows of the page's oldest epoch are re-read in full).
            let mut walked = Vec::new();
            let mut before = i64::MAX;
            for _ in 0..200 {
                let page = store.user_sealed_rows(&uh, None, before, 7).await.unwrap();
                assert!(page.len() <= 7 && page.iter().all(|r| r.epoch < before), "{backend:?}: {page:?}");
                let Some(oldest) = page.last().map(|r| r.epoch) else { break };
                walked.extend(page.into_iter().filter(|r| r.epoch > oldest));
                walked.extend(store.user_sealed_rows_in_epoch(&uh, None, oldest).await.unwrap());
                before = oldest;
            }
            assert_eq!(&walked, rows, "{backend:?}: paging user {user}");
            for ch in CHANNELS {
                let only: Vec<UserSealedRow> = rows.iter().filter(|r| r.channel == ch).cloned().collect();
                assert_eq!(
                    store.user_sealed_rows(&uh, Some(ch), i64::MAX, 10_000).await.unwrap(),
                    only,
                    "{backend:?}: #{ch}"
                );
                let before = 12 * HOUR;
                let older: Vec<UserSealedRow> = only.iter().filter(|r| r.epoch < before).take(3).cloned().collect();
                assert_eq!(
                    store.user_sealed_rows(&uh, Some(ch), before, 3).await.unwrap(),
                    older,
                    "{backend:?}: #{ch} before {before}"
                );
            }
        }
        // A user in no seal, and an epoch with no seal.
        assert!(store.user_sealed_rows(&hash(999), None, i64::MAX, 10).await.unwrap().is_empty());
        assert!(store.user_sealed_rows_in_epoch(&hash(1), None, 5).await.unwrap().is_empty());
        let in_epoch = store.user_sealed_rows_in_epoch(&hash(1), Some("bravo"), 3 * HOUR).await.unwrap();
        assert_eq!(
            in_epoch.iter().map(|r| (r.epoch, r.channel.as_str())).collect::<Vec<_>>(),
            vec![(3 * HOUR, "bravo")]
        );
    }
}

#[tokio::test]
async fn seals_of_a_page_latest_per_channel_and_known_users() {
    for (backend, store, _guard) in stores().await {
        assert!(store.latest_seal_per_channel(10).await.unwrap().is_empty(), "{backend:?}: no seal yet");
        assert!(store.seals_of(&[]).await.unwrap().is_empty());
        fill(&store).await;
        // An empty seal, newer than every other seal of its channel.
        store.write_seal(&seal(EPOCHS * HOUR, "delta", 0)).await.unwrap();
        store.write_seal(&seal(2 * HOUR, "delta", 3)).await.unwrap();

        let keys =
            vec![(3 * HOUR, "alpha".to_string()), (4 * HOUR, "charlie".to_string()), (5 * HOUR, "nosuch".to_string())];
        let mut got: Vec<(i64, String, i64)> =
            store.seals_of(&keys).await.unwrap().into_iter().map(|s| (s.epoch, s.channel, s.participants)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![(3 * HOUR, "alpha".into(), size(3, 0) as i64), (4 * HOUR, "charlie".into(), size(4, 2) as i64)],
            "{backend:?}"
        );

        // More keys than one read takes (and than SQLite's expression depth allows at once).
        let many: Vec<(i64, String)> = (0..1_500)
            .map(|i| (i64::from(i % EPOCHS as i32) * HOUR, CHANNELS[(i as usize / 30) % 3].to_string()))
            .collect();
        let mut found: Vec<(i64, String)> =
            store.seals_of(&many).await.unwrap().into_iter().map(|s| (s.epoch, s.channel)).collect();
        found.sort();
        found.dedup();
        assert_eq!(found.len(), (EPOCHS * 3) as usize, "{backend:?}: every seal named among 1,500 keys");
        let latest: Vec<(String, i64, i64)> = store
            .latest_seal_per_channel(100)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.channel, s.epoch, s.participants))
            .collect();
        let last = (EPOCHS - 1) * HOUR;
        assert_eq!(
            latest,
            vec![
                ("alpha".into(), last, size(EPOCHS - 1, 0) as i64),
                ("bravo".into(), last, size(EPOCHS - 1, 1) as i64),
                ("charlie".into(), last, size(EPOCHS - 1, 2) as i64),
                ("delta".into(), EPOCHS * HOUR, 0),
            ],
            "{backend:?}"
        );
        let two: Vec<String> = store.latest_seal_per_channel(2).await.unwrap().into_iter().map(|s| s.channel).collect();
        assert_eq!(two, vec!["alpha".to_string(), "bravo".to_string()], "{backend:?}: the first channels by name");
        assert!(store.latest_seal_per_channel(0).await.unwrap().is_empty());

        assert!(!store.user_known(&hash(1)).await.unwrap(), "{backend:?}: seals alone do not make a users row");
        let tx = store.begin_flush().await.unwrap();
        tx.upsert_participation(&[delta(EPOCHS * HOUR + HOUR, "alpha", 1, 1, 2, vec![(Message, 1)])]).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.user_known(&hash(1)).await.unwrap(), "{backend:?}");
        assert!(!store.user_known(&hash(2)).await.unwrap(), "{backend:?}");
    }
}

#[tokio::test]
async fn sqlite_reads_a_users_rows_through_the_index() {
    for (backend, store, _guard) in stores().await {
        if backend != Backend::Sqlite {
            continue;
        }
        fill(&store).await;
        let db = store.db();
        for sql in [
            format!("EXPLAIN QUERY PLAN SELECT p.epoch, (SELECT c.name FROM channel_ids c WHERE c.id = p.channel_id), p.idx, p.amount FROM sealed_participants p WHERE p.user_hash = X'{}' AND p.epoch < 99999 ORDER BY p.epoch DESC, p.channel_id DESC LIMIT 10", hash(3)),
            format!("EXPLAIN QUERY PLAN SELECT p.epoch, (SELECT c.name FROM channel_ids c WHERE c.id = p.channel_id), p.idx, p.amount FROM sealed_participants p WHERE p.user_hash = X'{}' AND p.epoch < 99999 AND p.channel_id = (SELECT c.id FROM channel_ids c WHERE c.name = 'alpha') ORDER BY p.epoch DESC, p.channel_id DESC LIMIT 10", hash(3)),
        ] {
            let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.clone())).await.unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.try_get_by_index::<String>(3).unwrap()).collect();
            let plan = plan.join(" | ");
            assert!(plan.contains(USER_EPOCHS_INDEX), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "no sort of the user's rows: {plan}");
        }
    }
}
