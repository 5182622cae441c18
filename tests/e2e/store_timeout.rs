//! Routes that need the store answer 503 `store_timeout` within `http.store_timeout` while the
//! store hangs, instead of hanging with it. PostgreSQL: the test holds ACCESS EXCLUSIVE locks on
//! every table, so each of the daemon's queries waits (as behind a hung server). SQLite: reads
//! run beside a held write lock in WAL, so what hangs is a write: the opt-out waits behind a
//! `BEGIN IMMEDIATE` the test holds.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::harness::{fake_twitch, sqlite_url};
use crate::http_limits::start;

const ENV: &[(&str, &str)] =
    &[("CHATSEAL__HTTP__STORE_TIMEOUT", "1s"), ("CHATSEAL__HTTP__ADMIN_TOKEN", "e2e-admin-token-0123456789abcdef")];

/// Sends `req` and checks it answers 503 `store_timeout` (JSON) well before a hung store would
/// let it (the client gives up after 10 s).
async fn answers_store_timeout(what: &str, req: reqwest::RequestBuilder) {
    let started = Instant::now();
    let resp = req
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer while the store hangs: {e}"));
    let took = started.elapsed();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    assert_eq!((status, body["error"].as_str()), (503, Some("store_timeout")), "{what}: {body}");
    assert!(took < Duration::from_secs(3), "{what} took {took:?} with http.store_timeout = 1s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_routes_answer_503_while_postgresql_hangs() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let fake = fake_twitch().await;
    let d = start(&fake, &url, ENV, |_| {}).await;
    let base = d.base();
    let (code, _) = crate::harness::get_json(&format!("{base}/v1/status")).await;
    assert_eq!(code, 200, "answers while the store is fine");

    let mut locker = sqlx::PgConnection::connect(&url).await.expect("connect to lock");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()")
            .fetch_all(&mut locker)
            .await
            .unwrap();
    assert!(tables.len() > 3, "{tables:?}");
    let list = tables.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("LOCK TABLE {list} IN ACCESS EXCLUSIVE MODE")))
        .execute(&mut locker)
        .await
        .unwrap();

    let c = reqwest::Client::new();
    answers_store_timeout("GET /v1/status", c.get(format!("{base}/v1/status"))).await;
    answers_store_timeout("GET /v1/epochs", c.get(format!("{base}/v1/epochs?channel=alpha"))).await;
    answers_store_timeout("GET /v1/epochs/E/C", c.get(format!("{base}/v1/epochs/0/alpha"))).await;
    answers_store_timeout("GET proof", c.get(format!("{base}/v1/epochs/0/alpha/proof/bob"))).await;
    answers_store_timeout("GET claim", c.get(format!("{base}/v1/epochs/0/alpha/claim/bob"))).await;
    answers_store_timeout(
        "POST /v1/admin/opt-out",
        c.post(format!("{base}/v1/admin/opt-out")).bearer_auth(ENV[1].1).json(&serde_json::json!({"login": "bob"})),
    )
    .await;
    // Routes added after the limits: the publish bundle and the publication record.
    answers_store_timeout("GET export", c.get(format!("{base}/v1/epochs/0/alpha/export"))).await;
    answers_store_timeout(
        "POST /v1/admin/published",
        c.post(format!("{base}/v1/admin/published")).bearer_auth(ENV[1].1).json(&serde_json::json!({
            "epoch": 0, "channel": "alpha", "root": format!("0x{}", "ab".repeat(32)), "tx": "5VfYmGBjvxKjKjuxV7XFQTdLX2L"
        })),
    )
    .await;
    // Routes without the store still answer.
    let (code, _) = crate::harness::get_json(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    crate::harness::wait_for("/v1/status to answer 200 once the store is back", Duration::from_secs(20), || {
        let url = format!("{base}/v1/status");
        async move { (crate::harness::get_json(&url).await.0 == 200).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_route_answers_503_while_sqlite_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let d = start(&fake, &url, ENV, |_| {}).await;
    let base = d.base();

    let mut locker = sqlx::SqliteConnection::connect(&url).await.expect("open the store file");
    sqlx::query("BEGIN IMMEDIATE").execute(&mut locker).await.expect("take the write lock");

    let c = reqwest::Client::new();
    answers_store_timeout(
        "POST /v1/admin/opt-out",
        c.post(format!("{base}/v1/admin/opt-out")).bearer_auth(ENV[1].1).json(&serde_json::json!({"login": "bob"})),
    )
    .await;
    // Reads run beside the held write lock (WAL) and answer as usual.
    let (code, body) = crate::harness::get_json(&format!("{base}/v1/status")).await;
    assert_eq!(code, 200, "{body}");

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    let resp = c
        .post(format!("{base}/v1/admin/opt-out"))
        .bearer_auth(ENV[1].1)
        .json(&serde_json::json!({"login": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the write works once the lock is gone");
}
