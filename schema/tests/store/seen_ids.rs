//! `seen_ids` keyed by the message id's binary key (migration m20261210_000012): the ids of an
//! old store are moved in place inside the migrations' transaction and still deduplicate, the
//! binary form is used only where it gives back the exact text, and a seal still prunes its own
//! ids, on both engines.

use crate::common::FAILPOINTS;
use crate::compact::scalar_text;
use crate::keyed::spec_seal;
use chatseal_schema::message_keys::SeenKey;
use chatseal_schema::testing::fresh_urls;
use chatseal_schema::v1_fixture::create_v1_store;
use chatseal_schema::{Backend, SealWrite, SeenId, Store};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// Ids of an unsealed hour on two channels: Twitch's UUIDs, content keys, and texts that must
/// stay text (upper case, no hyphens, a quote).
fn old_ids() -> Vec<(String, i64, &'static str)> {
    let mut out = Vec::new();
    for i in 0..40u32 {
        let channel = if i % 3 == 0 { "zulu" } else { "alpha" };
        let id = match i % 5 {
            0 | 1 => format!("{:08x}-8b1d-4f7a-9c2e-{:012x}", i.wrapping_mul(2_654_435_761), i),
            2 => format!("k:{:032x}", u128::from(i) * 0x0123_4567_89ab_cdef),
            3 => format!("{:08X}-8B1D-4F7A-9C2E-{:012X}", i, i),
            _ => format!("it's-{i}"),
        };
        out.push((id, 144_000, channel));
    }
    out
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let r = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    r.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn message_ids_of_an_old_store_are_keyed_in_place_and_still_deduplicate() {
    let _fp = FAILPOINTS.read().await;
    for (backend, url, _guard) in fresh_urls().await {
        let db = create_v1_store(&url).await.unwrap();
        for (id, epoch, channel) in old_ids() {
            db.execute_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "INSERT INTO seen_ids (id, epoch, channel) VALUES ($1, $2, $3)",
                vec![id.into(), epoch.into(), channel.into()],
            ))
            .await
            .unwrap();
        }
        db.close().await.unwrap();

        let store = Store::open(&url).await.unwrap();
        let db = store.db();
        assert_eq!(count(db, "SELECT COUNT(*) FROM seen_ids").await, 40, "{backend:?}");
        // 16 UUIDs and 8 content keys in 17 bytes; the 16 others as tag + text.
        assert_eq!(count(db, "SELECT COUNT(*) FROM seen_ids WHERE length(id) = 17").await, 24, "{backend:?}");
        if backend == Backend::Sqlite {
            let ddl = scalar_text(db, "SELECT sql FROM sqlite_master WHERE name = 'seen_ids'").await.unwrap();
            assert!(ddl.contains("WITHOUT ROWID") && ddl.contains("id BLOB NOT NULL"), "{ddl}");
            assert_eq!(scalar_text(db, "SELECT name FROM sqlite_master WHERE name = 'seen_ids_text'").await, None);
        }

        // Every old id is a duplicate now, under its text or its key; a new one is new.
        let mut again: Vec<SeenId> = old_ids()
            .into_iter()
            .map(|(id, epoch, channel)| SeenId { id: id.into(), epoch, channel: channel.into() })
            .collect();
        again.push(SeenId {
            id: "4a1b2c3d-0000-4000-8000-000000000001".into(),
            epoch: 144_000,
            channel: "alpha".into(),
        });
        let tx = store.begin_flush().await.unwrap();
        let fresh = tx.insert_seen_ids(&again).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(fresh.iter().filter(|n| **n).count(), 1, "{backend:?}: {fresh:?}");
        assert!(fresh[40], "{backend:?}");

        // A seal prunes its own (epoch, channel) only.
        let written = store.write_seal(&spec_seal(144_000, "alpha", 3)).await.unwrap();
        assert!(matches!(written, SealWrite::Sealed(_)), "{backend:?}");
        assert_eq!(count(db, "SELECT COUNT(*) FROM seen_ids").await, 14, "{backend:?}: zulu's 14 are left");
        store.close().await.unwrap();
    }
}

#[test]
fn the_key_of_an_id_is_its_text_behind_a_tag_unless_it_round_trips() {
    let upper = SeenKey::of_text("3F6C2A9E-8B1D-4F7A-9C2E-5D4B3A2F1E0D");
    let lower = SeenKey::of_text("3f6c2a9e-8b1d-4f7a-9c2e-5d4b3a2f1e0d");
    assert_ne!(upper, lower);
    assert_eq!((upper.as_bytes().len(), lower.as_bytes().len()), (37, 17));
}
