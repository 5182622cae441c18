//! "Which sealed hours am I in?" at scale: one page of `GET /v1/users/{login}/epochs` for a
//! user with 10,000 sealed hours in a SQLite store of 10 million sealed participants. Times
//! `chatseal::viewer::hours::user_hours`, the function the route and the page call (the HTTP
//! layer around it is measured by the `proof_latency` bench), on the default page of 50: the
//! first page, pages from random positions, and pages of one channel. Prints p50, p90, p99 and
//! max in ms. Issue 20's bar: a few milliseconds.
//!
//! The store is built once with direct SQL (a recursive CTE inserts the rows; the user index is
//! dropped during the load and created after it, which also times the migration's index build
//! on a store this size) and reused: `CHATSEAL_BENCH_USER_STORE` (a file path; default under the
//! target directory), `<path>.done` marks a finished build. `CHATSEAL_BENCH_PARTICIPANTS`
//! (default 10,000,000) sets the size; the user's 10,000 hours are 2,500 epochs x 4 channels of
//! `participants / 10,000` participants each, users drawn from a pool of 200,000.
//! `cargo bench --bench user_epochs`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

use std::path::{Path, PathBuf};
use std::time::Instant;

use chatseal::viewer::hours::{user_hours, DEFAULT_LIMIT};
use chatseal_actors::format::{to_hex, user_hash};
use chatseal_schema::migration::m20261206_000007_user_epochs_index::USER_EPOCHS_INDEX;
use chatseal_schema::{OpenOptions, Store};
use rand::{Rng, SeedableRng};
use sea_orm::ConnectionTrait;

const LOGIN: &str = "bench_viewer";
const CHANNELS: i64 = 4;
const EPOCHS: i64 = 2_500;
/// 2020-01-01T00:00:00Z.
const FIRST: i64 = 1_577_836_800;
const HOUR: i64 = 3600;
const POOL: i64 = 200_000;
const WARM_UP: usize = 200;
const MEASURED: usize = 2_000;

fn quantile(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn participants() -> i64 {
    match std::env::var("CHATSEAL_BENCH_PARTICIPANTS") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("CHATSEAL_BENCH_PARTICIPANTS={v:?} is not a number")),
        Err(_) => 10_000_000,
    }
}

fn store_path(total: i64) -> PathBuf {
    match std::env::var("CHATSEAL_BENCH_USER_STORE") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chatseal-bench-user-epochs-compact-{total}.db")),
    }
}

async fn exec(store: &Store, sql: &str) {
    store.db().execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{}: {e}", &sql[..sql.len().min(200)]));
}

/// Builds the store: sealed_epochs rows, then every sealed participant by one INSERT per
/// chunk of epochs, then the user index.
async fn build(path: &Path, total: i64) {
    for p in [path.to_path_buf(), path.with_extension("db-wal"), path.with_extension("db-shm")] {
        let _ = std::fs::remove_file(p);
    }
    let per_seal = (total / (EPOCHS * CHANNELS)).max(1);
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.expect("create the bench store");
    let started = Instant::now();
    exec(&store, &format!("DROP INDEX {USER_EPOCHS_INDEX}")).await;
    exec(&store, "PRAGMA cache_size = -1000000").await;
    let me = to_hex(&user_hash(LOGIN));
    exec(
        &store,
        &format!(
            "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < {seals}) \
             INSERT INTO sealed_epochs (epoch, channel, root, claim_root, participants, coverage, digest, sealed_at, format_version, claim_cut) \
             SELECT {FIRST} + (n / {CHANNELS}) * {HOUR}, 'chan' || (n % {CHANNELS}), printf('%064x', n), printf('%064x', n + 1), {per_seal}, 1.0, printf('%064x', n + 2), \
                    {FIRST} + (n / {CHANNELS}) * {HOUR} + {HOUR} + 120, 1, NULL FROM k",
            seals = EPOCHS * CHANNELS
        ),
    )
    .await;
    // Channel chanK has id K + 1; hashes are stored as bytes (the compact layout).
    exec(
        &store,
        &format!(
            "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < {CHANNELS}) \
             INSERT INTO channel_ids (id, name) SELECT n + 1, 'chan' || n FROM k"
        ),
    )
    .await;
    // The user is at index 0 of every seal; the others are pool users, distinct within a seal.
    let chunk = 100;
    for first in (0..EPOCHS * CHANNELS).step_by(chunk) {
        let last = (first + chunk as i64).min(EPOCHS * CHANNELS);
        exec(
            &store,
            &format!(
                "WITH RECURSIVE k(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM k WHERE n + 1 < {last}), \
                 i(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM i WHERE i + 1 < {per_seal}) \
                 INSERT INTO sealed_participants (epoch, channel_id, idx, user_hash, login, leaf, amount, claim_leaf) \
                 SELECT {FIRST} + (n / {CHANNELS}) * {HOUR}, (n % {CHANNELS}) + 1, i, \
                        unhex(CASE WHEN i = 0 THEN '{me}' ELSE printf('%08x%056x', ((n * 7919 + i) % {POOL}) * 2654435761 % 4294967296, (n * 7919 + i) % {POOL}) END), \
                        CASE WHEN i = 0 THEN '{LOGIN}' ELSE 'user' || ((n * 7919 + i) % {POOL}) END, \
                        unhex(printf('%064x', n * 1000003 + i)), '80000000000', unhex(printf('%064x', n * 1000033 + i)) \
                 FROM k, i"
            ),
        )
        .await;
        if first % 2_000 == 0 {
            eprintln!("  {} of {} seals written, {:.0} s", last, EPOCHS * CHANNELS, started.elapsed().as_secs_f64());
        }
    }
    let loaded = started.elapsed();
    store.checkpoint().await.expect("checkpoint");
    let size_without_index = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let index_started = Instant::now();
    exec(&store, &format!("CREATE INDEX {USER_EPOCHS_INDEX} ON sealed_participants (user_hash, epoch, channel_id)"))
        .await;
    let index = index_started.elapsed();
    store.checkpoint().await.expect("checkpoint");
    let rows = store.seal_count().await.expect("count");
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let done = format!(
        "{{\"participants\": {}, \"seals\": {rows}, \"load_seconds\": {:.1}, \"index_seconds\": {:.1}, \"size_bytes\": {size}, \"size_without_index_bytes\": {size_without_index}}}",
        per_seal * EPOCHS * CHANNELS,
        loaded.as_secs_f64(),
        index.as_secs_f64()
    );
    std::fs::write(path.with_extension("done"), &done).expect("write the done marker");
    eprintln!("built {}: {done}", path.display());
}

async fn time_pages(store: &Store, label: &str, mut args: impl FnMut(usize) -> (Option<String>, Option<i64>)) {
    let mut samples = Vec::with_capacity(MEASURED);
    for n in 0..WARM_UP + MEASURED {
        let (channel, before) = args(n);
        let started = Instant::now();
        let page = user_hours(store, LOGIN, channel.as_deref(), before, DEFAULT_LIMIT).await.expect("a page");
        let took = started.elapsed();
        assert!(!page.items.is_empty(), "{label}: empty page at {before:?}");
        if n >= WARM_UP {
            samples.push(took.as_secs_f64() * 1000.0);
        }
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "user_epochs {label}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} pages of {})",
        quantile(&samples, 0.5),
        quantile(&samples, 0.9),
        quantile(&samples, 0.99),
        samples.last().copied().unwrap_or(0.0),
        samples.len(),
        DEFAULT_LIMIT
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let total = participants();
        let path = store_path(total);
        match std::fs::read_to_string(path.with_extension("done")) {
            Ok(done) => eprintln!("reusing {}: {done}", path.display()),
            Err(_) => build(&path, total).await,
        }
        let opts = OpenOptions { quick_check: false, ..OpenOptions::default() };
        let store =
            Store::open_with(&format!("sqlite://{}", path.display()), &opts).await.expect("open the bench store");
        let hours = user_hours(&store, LOGIN, None, None, 1000).await.expect("first page");
        assert_eq!(hours.items.len(), 1000, "the user has hours");
        let mut rng = rand::rngs::StdRng::seed_from_u64(20);
        time_pages(&store, "first page", |_| (None, None)).await;
        time_pages(&store, "random page", |_| (None, Some(FIRST + rng.random_range(1..=EPOCHS) * HOUR))).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        time_pages(&store, "random page of one channel", |n| {
            (Some(format!("chan{}", n as i64 % CHANNELS)), Some(FIRST + rng.random_range(1..=EPOCHS) * HOUR))
        })
        .await;
    });
}
