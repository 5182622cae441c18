//! The hand-off to the chain end to end (issue 19): a sealed hour's publish bundle over HTTP
//! and from `chatseal export` (the same bytes), checked by the real `chatseal verify-export`
//! (valid, tampered, malformed, over the program's limits), an opted-out user named nowhere in
//! it, the limit warnings in the epoch object and the bundle, 404 `not_sealed` / exit 1 for an
//! unsealed or unknown channel-epoch, the publication record (bearer, audited, a wrong root
//! refused) shown in the epoch object, the unpublished backlog gauges and
//! `chatseal export --unpublished`. On SQLite and PostgreSQL. And the warning at sealing: the
//! real binary logs a seal beyond the target program's limits when it seals it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;
use serde_json::{json, Value};

use crate::harness::*;

const LEN: i64 = 2;
const TOKEN: &str = "export-admin-7c1d";
const CH: &str = "pubalpha";
const OTHER: &str = "pubbeta";
const VIEWERS: [&str; 6] = ["ann", "bert", "cleo", "dan", "eve", "quietfox"];
const OPTED_OUT: &str = "quietfox";

fn chatseal(args: &[&str], store_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", store_url)
        .env("CHATSEAL__SEALING__MAX_CLAIM_LEAVES", "4")
        .env("CHATSEAL__SEALING__MAX_PROOF_LEN", "2")
        .output()
        .unwrap_or_else(|e| panic!("run chatseal {args:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `chatseal verify-export FILE extra...`: (exit code, stdout + stderr).
fn verify_export(file: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["verify-export", file.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let out = chatseal(&args, "sqlite://unused.db");
    (out.status.code().unwrap_or(-1), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

async fn post(base: &str, path: &str, auth: bool, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if auth {
        req = req.header("authorization", format!("Bearer {TOKEN}"));
    }
    let resp = req.send().await.expect("POST");
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

async fn get_text(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The value of an unlabelled gauge in a /metrics render.
async fn gauge(base: &str, name: &str) -> Option<f64> {
    let (_, body) = get_text(&format!("{base}/metrics")).await;
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

fn chat(fake: &FakeTwitch, channel: &str, epoch: i64, logins: &[&str]) {
    for (i, login) in logins.iter().enumerate() {
        let who = Chatter::new(login, &format!("{}", 9100 + i), login);
        let bits = (i % 2 == 1).then_some(100);
        let line =
            privmsg(channel, &who, &format!("ex-{channel}-{epoch}-{login}"), epoch * 1000 + 10 * i as i64, "hi", bits);
        assert_eq!(fake.send_raw(channel, &line), 1, "one connection to #{channel} gets the line");
    }
}

async fn scenario(store_url: String) {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let s = settings_for(
        &fake,
        &store_url,
        &[CH, OTHER],
        &[
            ("CHATSEAL__EPOCH__LENGTH", "2s"),
            ("CHATSEAL__EPOCH__GRACE", "1s"),
            ("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN),
            ("CHATSEAL__SEALING__MAX_CLAIM_LEAVES", "4"),
            ("CHATSEAL__SEALING__MAX_PROOF_LEN", "2"),
        ],
    );
    let daemon = Daemon::start(s).await;
    let base = daemon.base.clone();
    for c in [CH, OTHER] {
        assert!(fake.wait_joined(c, Duration::from_secs(20)).await, "joined #{c}");
    }
    let epoch = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    chat(&fake, CH, epoch, &VIEWERS);
    chat(&fake, OTHER, epoch, &["solo"]);
    let view = wait_for(&format!("seal of {epoch} #{CH}"), Duration::from_secs(60), || async {
        let (status, body) = get_json(&format!("{base}/v1/epochs/{epoch}/{CH}")).await;
        (status == 200).then_some(body)
    })
    .await;
    let other_sealed_at = wait_for("the second channel's seal", Duration::from_secs(60), || async {
        let (status, body) = get_json(&format!("{base}/v1/epochs/{epoch}/{OTHER}")).await;
        if status == 200 {
            body["sealed_at"].as_i64()
        } else {
            None
        }
    })
    .await;
    // The epoch object: 6 participants, 2 cut by the cap of 4, proofs of 3 nodes over the limit of 2.
    assert_eq!((view["participants"].as_i64(), view["claim_cut"].as_i64()), (Some(6), Some(2)), "{view}");
    assert!(view["published_at"].is_null() && view["tx"].is_null(), "{view}");
    let warnings: Vec<&str> = view["warnings"].as_array().expect("warnings").iter().filter_map(Value::as_str).collect();
    assert!(warnings.iter().any(|w| w.starts_with("claim_cut:")), "{view}");
    assert!(
        warnings.iter().any(|w| w.contains("participation proofs are 3 nodes") && w.contains("max_proof_len = 2")),
        "{view}"
    );

    // The user opts out after the seal: keeps the index, named nowhere in the bundle.
    let (status, r) = post(&base, "/v1/admin/opt-out", true, json!({"login": OPTED_OUT})).await;
    assert_eq!(status, 200, "{r}");
    let (status, body) = get_text(&format!("{base}/v1/epochs/{epoch}/{CH}/export")).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(OPTED_OUT), "the opted-out login appears in the bundle");
    let opted_hash = chatseal_actors::format::to_hex(&chatseal_actors::format::user_hash(OPTED_OUT));
    assert!(!body.contains(&opted_hash), "the opted-out user hash appears in the bundle");
    let bundle: Value = serde_json::from_str(&body).expect("bundle is JSON");
    assert_eq!(bundle["root"], view["root"]);
    assert_eq!(bundle["claim_root"], view["claim_root"]);
    assert_eq!(
        (bundle["participants"].as_u64(), bundle["claim_count"].as_u64(), bundle["claim_cut"].as_u64()),
        (Some(6), Some(4), Some(2))
    );
    assert_eq!(bundle["warnings"], view["warnings"]);
    let entries = bundle["entries"].as_array().expect("entries");
    assert_eq!(entries.iter().filter(|e| e.get("login").is_none()).count(), 1, "one entry carries only hashes");
    let http_file = dir.path().join("http.json");
    std::fs::write(&http_file, &body).unwrap();
    let (code, out) = verify_export(&http_file, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("valid") && out.contains("6 entries"), "{out}");
    // The program's limits: 4 claims and 3-node proofs.
    assert_eq!(verify_export(&http_file, &["--max-claims", "4", "--max-proof-len", "3"]).0, 0);
    let (code, out) = verify_export(&http_file, &["--max-claims", "3"]);
    assert!(code == 1 && out.contains("--max-claims 3"), "{code}: {out}");
    let (code, out) = verify_export(&http_file, &["--max-proof-len", "2"]);
    assert!(code == 1 && out.contains("entry 0") && out.contains("--max-proof-len 2"), "{code}: {out}");
    // Tampered: an amount raised by one names its entry; cut in half it is malformed.
    let mut doc = bundle.clone();
    let named = (0..4).find(|i| doc["entries"][*i]["amount"].is_string()).expect("a named claim entry");
    let amount: u64 = doc["entries"][named]["amount"].as_str().unwrap().parse().unwrap();
    doc["entries"][named]["amount"] = Value::from((amount + 1).to_string());
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, doc.to_string()).unwrap();
    let (code, out) = verify_export(&tampered, &[]);
    assert!(code == 1 && out.contains(&format!("entry {named}")), "{code}: {out}");
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &body[..body.len() / 2]).unwrap();
    assert_eq!(verify_export(&cut, &[]).0, 64);

    // Not sealed, unknown channel: 404 not_sealed.
    for url in [
        format!("{base}/v1/epochs/{}/{CH}/export", epoch + 1000 * LEN),
        format!("{base}/v1/epochs/{epoch}/nosuchchannel/export"),
    ] {
        let (status, err) = get_json(&url).await;
        assert_eq!((status, err["error"].as_str()), (404, Some("not_sealed")), "{url}: {err}");
    }

    // The backlog gauges are in the render (their values are checked below against a daemon
    // of its own: this process's recorder is shared by every test's daemon).
    for name in ["chatseal_unpublished_seals", "chatseal_unpublished_oldest_seconds"] {
        assert!(gauge(&base, name).await.is_some(), "{name} in /metrics");
    }

    // The publication record: bearer, a wrong root refused, then recorded once.
    let root = view["root"].as_str().unwrap().to_string();
    let record = json!({"epoch": epoch, "channel": CH, "root": root, "tx": "5VERv8NMvzbJMEkV8xnrLkEaW"});
    let (status, err) = post(&base, "/v1/admin/published", false, record.clone()).await;
    assert_eq!((status, err["error"].as_str()), (401, Some("unauthorized")), "{err}");
    let wrong = json!({"epoch": epoch, "channel": CH, "root": view["claim_root"], "tx": "5VERv8NMvzbJMEkV8xnrLkEaW"});
    let (status, err) = post(&base, "/v1/admin/published", true, wrong).await;
    assert_eq!((status, err["error"].as_str()), (409, Some("root_mismatch")), "{err}");
    let (status, err) = post(
        &base,
        "/v1/admin/published",
        true,
        json!({"epoch": epoch + 1000 * LEN, "channel": CH, "root": root, "tx": "t"}),
    )
    .await;
    assert_eq!((status, err["error"].as_str()), (404, Some("not_sealed")), "{err}");
    let (_, still) = get_json(&format!("{base}/v1/epochs/{epoch}/{CH}")).await;
    assert!(still["published_at"].is_null(), "a refused record changes nothing: {still}");
    let (status, ok) = post(&base, "/v1/admin/published", true, record.clone()).await;
    assert_eq!((status, &ok["new"]), (200, &json!(true)), "{ok}");
    let (status, again) = post(&base, "/v1/admin/published", true, record).await;
    assert_eq!((status, &again["new"]), (200, &json!(false)), "{again}");
    let (status, err) =
        post(&base, "/v1/admin/published", true, json!({"epoch": epoch, "channel": CH, "root": root, "tx": "another"}))
            .await;
    assert_eq!((status, err["error"].as_str()), (409, Some("already_published")), "{err}");
    let (_, shown) = get_json(&format!("{base}/v1/epochs/{epoch}/{CH}")).await;
    assert_eq!(shown["tx"], "5VERv8NMvzbJMEkV8xnrLkEaW", "{shown}");
    assert!(shown["published_at"].as_i64().is_some_and(|t| t >= epoch), "{shown}");
    let (_, list) = get_json(&format!("{base}/v1/epochs?channel={CH}&limit=50")).await;
    let listed = list["epochs"]
        .as_array()
        .expect("epochs")
        .iter()
        .find(|e| e["epoch"] == json!(epoch))
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed["tx"], shown["tx"], "{list}");
    daemon.stop().await.expect("graceful stop");

    // The gauges, from the real binary on the same store: one seal (#pubbeta) still waits.
    let port = free_port();
    let mut child = daemon_command(&fake, &store_url)
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATSEAL__EPOCH__LENGTH", "2s")
        .env("CHATSEAL__EPOCH__GRACE", "1s")
        .env("CHATSEAL__BACKUP__DIR", dir.path().join("backups"))
        .spawn()
        .expect("spawn chatseal run");
    let metrics = format!("http://127.0.0.1:{port}");
    let waiting = wait_for("the backlog gauges of the real binary", Duration::from_secs(60), || async {
        let up = reqwest::get(format!("{metrics}/healthz")).await.is_ok_and(|r| r.status().is_success());
        if !up {
            return None;
        }
        let count = gauge(&metrics, "chatseal_unpublished_seals").await?;
        let age = gauge(&metrics, "chatseal_unpublished_oldest_seconds").await?;
        Some((count, age))
    })
    .await;
    let (_, render) = get_text(&format!("{metrics}/metrics")).await;
    let _ = child.kill();
    let _ = child.wait();
    let shown: Vec<&str> = render.lines().filter(|l| l.contains("unpublished")).collect();

    assert_eq!(waiting.0, 1.0, "#{OTHER} waits, #{CH} is recorded: {shown:?}");
    // The age is now minus #pubbeta's sealed_at as of the last refresh (every 10 s).
    let since_sealed = (now_ms() / 1000 - other_sealed_at) as f64;
    assert!(
        waiting.1 <= since_sealed && waiting.1 >= since_sealed - 11.0,
        "age {} of the oldest unpublished seal, sealed {since_sealed} s ago ({shown:?})",
        waiting.1
    );
    fake.shutdown().await;

    // The CLI against the stopped daemon's store: the same bytes as over HTTP.
    let out_file = dir.path().join("cli.json");
    let out = chatseal(
        &["export", "--epoch", &epoch.to_string(), "--channel", CH, "--out", out_file.to_str().unwrap()],
        &store_url,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning: claim_cut:"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), body, "chatseal export writes what the route serves");
    let out = chatseal(&["export", "--epoch", &(epoch + 1000 * LEN).to_string(), "--channel", CH], &store_url);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not sealed"), "{}", text(&out.stderr));
    let out = chatseal(&["export", "--epoch", &epoch.to_string(), "--channel", "nosuchchannel"], &store_url);
    assert_eq!(out.status.code(), Some(1), "an unknown channel: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not sealed"), "{}", text(&out.stderr));
    let out = chatseal(&["export", "--epoch", "1"], &store_url);
    assert_eq!(out.status.code(), Some(64), "--epoch without --channel: {}", text(&out.stderr));
    let out = chatseal(&["export", "--unpublished"], &store_url);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one JSON per line")).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!((lines[0]["epoch"].as_i64(), lines[0]["channel"].as_str()), (Some(epoch), Some(OTHER)));
    let store = chatseal_schema::Store::open(&store_url).await.expect("open store");
    let audit = store.audit_log(50).await.unwrap();
    let published: Vec<_> = audit.iter().filter(|a| a.action == "published").collect();
    assert_eq!(published.len(), 4, "every attempt on a sealed root is audited: {published:?}");
    assert!(published.iter().any(|a| a.detail.contains("refused: the sealed root")), "{published:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_verify_and_publication_record_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_verify_and_publication_record_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    scenario(url).await;
}

/// The JSON log lines the binary wrote to `path` so far (a partly written last line is left out).
fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// A seal beyond the program's limits is a warning at sealing, in the log of the real binary
/// and on the stderr of `chatseal seal` (issue 19 item 4): before anyone exports or posts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_beyond_the_program_limits_warns_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let log = dir.path().join("chatseal.log");
    let env = [
        ("CHATSEAL__EPOCH__LENGTH", "2s"),
        ("CHATSEAL__EPOCH__GRACE", "1s"),
        ("CHATSEAL__SEALING__MAX_CLAIM_LEAVES", "4"),
        ("CHATSEAL__SEALING__MAX_PROOF_LEN", "2"),
    ];
    let file = std::fs::File::create(&log).unwrap();
    let running = crate::http_limits::start(&fake, &sqlite_url(dir.path()), &env, |cmd| {
        cmd.arg("--log-format").arg("json").stderr(file);
    })
    .await;
    let base = running.base();
    let epoch = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    chat(&fake, "alpha", epoch, &VIEWERS);
    let view = wait_for(&format!("seal of {epoch} #alpha"), Duration::from_secs(60), || async {
        let (status, body) = get_json(&format!("{base}/v1/epochs/{epoch}/alpha")).await;
        (status == 200).then_some(body)
    })
    .await;
    assert_eq!((view["participants"].as_i64(), view["claim_cut"].as_i64()), (Some(6), Some(2)), "{view}");
    // The sealer logs once per limit broken, right after the seal is written.
    let warned = wait_for("the sealing warnings in the log", Duration::from_secs(20), || async {
        let found: Vec<Value> = json_lines(&log)
            .into_iter()
            .filter(|l| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("sealed beyond the target program's limits"))
            })
            .collect();
        (found.len() >= 2).then_some(found)
    })
    .await;
    drop(running);
    fake.shutdown().await;

    // `chatseal seal` by hand says the same on stderr: an older hour of 6 chatters on the
    // stopped daemon's store.
    let url = sqlite_url(dir.path());
    let older = epoch - 100 * LEN;
    let store = chatseal_schema::Store::open(&url).await.expect("open store");
    write_chatters(&store, older, "alpha", 6).await;
    drop(store);
    let out = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(["seal", "--epoch", &older.to_string(), "--channel", "alpha"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CHATSEAL__STORE__URL", &url)
        .env("CHATSEAL__EPOCH__LENGTH", "2s")
        .env("CHATSEAL__SEALING__MAX_CLAIM_LEAVES", "4")
        .env("CHATSEAL__SEALING__MAX_PROOF_LEN", "2")
        .output()
        .expect("run chatseal seal");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && stdout.contains(&format!("sealed    epoch {older} #alpha")), "{stdout}{stderr}");
    assert!(stderr.contains(&format!("warning: epoch {older} #alpha: claim_cut:")), "{stderr}");
    assert!(stderr.contains("participation proofs are 3 nodes") && stderr.contains("max_proof_len = 2"), "{stderr}");

    for l in &warned {
        assert_eq!(l["level"], "WARN", "{l}");
        assert_eq!(
            (l["fields"]["epoch"].as_i64(), l["fields"]["channel"].as_str()),
            (Some(epoch), Some("alpha")),
            "{l}"
        );
        assert_eq!(l["fields"]["participants"].as_i64(), Some(6), "{l}");
    }
    let texts: Vec<&str> = warned.iter().filter_map(|l| l["fields"]["warning"].as_str()).collect();
    assert!(texts.iter().any(|w| w.starts_with("claim_cut:")), "{texts:?}");
    assert!(
        texts.iter().any(|w| w.contains("participation proofs are 3 nodes") && w.contains("max_proof_len = 2")),
        "{texts:?}"
    );
    // The same warnings the epoch object carries.
    let shown: Vec<&str> = view["warnings"].as_array().expect("warnings").iter().filter_map(Value::as_str).collect();
    for w in &texts {
        assert!(shown.contains(w), "{w} logged but not in the epoch object {shown:?}");
    }
}
