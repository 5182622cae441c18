//! The in-place conversion to the compact layout (migration m20261207_000009), timed, and the
//! size of the sealed participants before and after: builds a store in the old layout (v1,
//! `chatseal_schema::v1_fixture`: the old migrations, seals written as the old code wrote them)
//! with `CHATSEAL_BENCH_COMPACT_PARTICIPANTS` sealed participants (default 500,000) in seals of
//! 10,000, then opens it with today's `Store::open`, which converts it in batches, checking every
//! digest before and after, and (SQLite) vacuums the file. Prints the time of the open and the
//! bytes per sealed participant before and after: the SQLite file after a checkpoint, or with
//! `CHATSEAL_BENCH_PG_URL` (an EMPTY database) the sum of `pg_total_relation_size` of every
//! table. Only sealed participants are in the store, so the figure is the cost of that table
//! with its indexes alone. No timed assertions: numbers are printed.
//! `cargo bench --bench compact`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use chatseal_actors::format::{claim_id, claim_leaf, keccak256, participation_leaf, to_hex, user_hash};
use chatseal_schema::v1_fixture::{create_v1_store, write_v1_seal};
use chatseal_schema::{NewSeal, SealedParticipant, Store};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use std::time::Instant;

const PER_SEAL: usize = 10_000;
const CHANNELS: [&str; 10] = [
    "jasontheween",
    "lacy",
    "stableronaldo",
    "xqc",
    "kaicenat",
    "hasanabi",
    "zackrawrr",
    "pokimane",
    "shroud",
    "summit1g",
];

fn keccak(data: &[u8]) -> String {
    to_hex(&keccak256(data))
}

/// Seal `n` of the bench store: distinct users, real leaves (the roots are not folded: the
/// conversion checks digests, which cover them).
fn seal(n: usize, size: usize) -> NewSeal {
    let channel = CHANNELS[n % CHANNELS.len()];
    let epoch = 1_761_753_600 + (n / CHANNELS.len()) as i64 * 3600;
    let participants = (0..size)
        .map(|i| {
            let login = format!("viewer_{}", n * PER_SEAL + i);
            let uh = user_hash(&login);
            let amount = 8_000_000_000u64 * (1 + (i as u64 % 7));
            SealedParticipant {
                idx: i as i64,
                user_hash: to_hex(&uh),
                leaf: to_hex(&participation_leaf(&uh, channel, epoch as u64)),
                claim_leaf: to_hex(&claim_leaf(i as u32, amount, &claim_id(channel, &login))),
                amount: amount.to_string(),
                login,
            }
        })
        .collect::<Vec<_>>();
    NewSeal {
        epoch,
        channel: channel.into(),
        root: Some(keccak(b"root")),
        claim_root: Some(keccak(b"claim root")),
        coverage: 1.0,
        sealed_at: epoch + 3720,
        format_version: 1,
        claim_cut: 0,
        participants,
    }
}

async fn bytes(url: &str, db: &DatabaseConnection) -> u64 {
    match chatseal_schema::sqlite_path(url) {
        Some(file) => {
            let _ = db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await;
            let size = |suffix: &str| {
                let mut p = file.as_os_str().to_owned();
                p.push(suffix);
                std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
            };
            size("") + size("-wal")
        }
        None => {
            let sql = "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c \
                       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') \
                       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";
            let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap() as u64
        }
    }
}

fn main() {
    let total: usize =
        std::env::var("CHATSEAL_BENCH_COMPACT_PARTICIPANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(500_000);
    let dir = tempfile::tempdir().unwrap();
    let url = match std::env::var("CHATSEAL_BENCH_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => format!("sqlite://{}", dir.path().join("compact.db").display()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let started = Instant::now();
        let db = create_v1_store(&url).await.unwrap();
        let (mut n, mut written) = (0, 0);
        while written < total {
            let size = PER_SEAL.min(total - written);
            let txn = db.begin().await.unwrap();
            write_v1_seal(&txn, &seal(n, size)).await.unwrap();
            txn.commit().await.unwrap();
            written += size;
            n += 1;
        }
        let before = bytes(&url, &db).await;
        db.close().await.unwrap();
        eprintln!("v1 store: {written} sealed participants in {n} seals, built in {:.1} s", started.elapsed().as_secs_f64());
        let opened = Instant::now();
        let store = Store::open(&url).await.unwrap();
        let took = opened.elapsed().as_secs_f64();
        let after = bytes(&url, store.db()).await;
        let w = written as f64;
        println!(
            "compact conversion of {written} sealed participants ({n} seals): open {took:.1} s ({:.0} participants/s, \
             digests checked before and after{}); bytes per sealed participant {:.0} before, {:.0} after ({} -> {} bytes)",
            w / took,
            if chatseal_schema::sqlite_path(&url).is_some() { ", VACUUM included" } else { "" },
            before as f64 / w,
            after as f64 / w,
            before,
            after
        );
        assert!(store.verify_digests().await.unwrap().is_empty());
        store.close().await.unwrap();
    });
}
