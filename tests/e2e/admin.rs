//! The admin endpoints and the opt-out path end to end: bearer-token checks and JSON errors,
//! an opt-out over HTTP (dropped at ingest, refused proofs even for an epoch sealed before, the
//! root unchanged), manual seals (already sealed the second time), the claim cap with its
//! recorded cut, the broadcaster exclusion, and `chatseal opt-out` against a stopped daemon's
//! store.

use std::collections::BTreeMap;
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;
use chatseal_actors::format::{parse_hash, participation_leaf, to_hex, user_hash, Hash32};
use chatseal_actors::sealer::merkle::{verify, MerkleTree};
use serde_json::{json, Value};

use crate::harness::*;

const LEN: i64 = 2;
const TOKEN: &str = "admin-tok-1f9c";
const SHORT: [(&str, &str); 2] = [("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s")];

/// POST `body` (raw text, sent as JSON unless `content_type` says otherwise) with an optional
/// Authorization header; returns status and JSON body (Null when not JSON).
async fn post(url: &str, auth: Option<&str>, body: &str, content_type: &str) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).header("content-type", content_type).body(body.to_string());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

async fn admin(base: &str, path: &str, body: Value) -> (u16, Value) {
    post(&format!("{base}{path}"), Some(&format!("Bearer {TOKEN}")), &body.to_string(), "application/json").await
}

fn settings(fake: &FakeTwitch, url: &str, channels: &[&str], extra: &[(&str, &str)]) -> chatseal::settings::Settings {
    let mut env: Vec<(&str, &str)> = SHORT.to_vec();
    env.extend_from_slice(extra);
    settings_for(fake, url, channels, &env)
}

/// The start of the next epoch: lines stamped inside it count there (within max_skew).
fn next_epoch() -> i64 {
    (now_ms() / 1000).div_euclid(LEN) * LEN + LEN
}

/// Sends one line from each login, in order, 10 ms apart inside `epoch`.
fn chat(fake: &FakeTwitch, channel: &str, epoch: i64, logins: &[&str], tag: &str) {
    for (i, login) in logins.iter().enumerate() {
        let who = Chatter::new(login, &format!("{}", 5000 + i), login);
        let line = privmsg(
            channel,
            &who,
            &format!("{tag}-{channel}-{epoch}-{login}"),
            epoch * 1000 + 10 * i as i64,
            "hi",
            None,
        );
        assert_eq!(fake.send_raw(channel, &line), 1, "one connection to #{channel} gets the line");
    }
}

async fn wait_sealed(base: &str, epoch: i64, channel: &str) -> Value {
    let url = format!("{base}/v1/epochs/{epoch}/{channel}");
    wait_for(&format!("seal of {epoch} #{channel}"), Duration::from_secs(60), || async {
        let (status, body) = get_json(&url).await;
        (status == 200).then_some(body)
    })
    .await
}

fn root_of(leaves: Vec<Hash32>) -> String {
    format!("0x{}", to_hex(&MerkleTree::build(leaves).expect("non-empty").root()))
}

fn hashes(v: &Value) -> Vec<Hash32> {
    v.as_array().expect("array").iter().map(|h| parse_hash(h.as_str().expect("hex")).expect("hash")).collect()
}

fn folds(root: &Value, leaf: &Value, proof: &Value) -> bool {
    let (Some(root), Some(leaf)) = (root.as_str(), leaf.as_str()) else { return false };
    verify(&parse_hash(root).expect("root"), &parse_hash(leaf).expect("leaf"), &hashes(proof))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_bodies_and_methods() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let daemon =
        Daemon::start(settings(&fake, &sqlite_url(dir.path()), &["authc"], &[("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)]))
            .await;
    let url = format!("{}/v1/admin/opt-out", daemon.base);
    let body = r#"{"login": "someone"}"#;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some(&*format!("Basic {TOKEN}")),
        Some("Bearer"),
        Some(&*format!("Bearer {TOKEN}x")),
    ] {
        let (status, err) = post(&url, auth, body, "application/json").await;
        assert_eq!((status, err["error"].as_str()), (401, Some("unauthorized")), "{auth:?}: {err}");
        assert!(err["message"].as_str().is_some_and(|m| m.contains("Bearer")), "{err}");
    }
    let bearer = format!("Bearer {TOKEN}");
    // Bodies: every rejection in the JSON error shape.
    for (bad, ct, want) in [
        ("{", "application/json", (400, "bad_request")),
        (r#"{"user": "x"}"#, "application/json", (400, "bad_request")),
        (r#"{"login": 7}"#, "application/json", (400, "bad_request")),
        (r#"{"login": "two words"}"#, "application/json", (400, "bad_request")),
        (body, "text/plain", (415, "unsupported_media_type")),
    ] {
        let (status, err) = post(&url, Some(&bearer), bad, ct).await;
        assert_eq!((status, err["error"].as_str()), (want.0, Some(want.1)), "{bad} ({ct}): {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
    }
    let seal = format!("{}/v1/admin/seal", daemon.base);
    let (status, err) =
        post(&seal, Some(&bearer), &json!({"epoch": next_epoch() + 1}).to_string(), "application/json").await;
    assert_eq!((status, err["error"].as_str()), (400, Some("bad_request")), "{err}");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("not the start of an epoch")), "{err}");
    let (status, err) =
        post(&seal, Some(&bearer), &json!({"epoch": next_epoch()}).to_string(), "application/json").await;
    assert_eq!((status, err["error"].as_str()), (409, Some("epoch_open")), "{err}");
    let (status, err) =
        post(&seal, Some(&bearer), &json!({"epoch": 0, "channel": "no such!"}).to_string(), "application/json").await;
    assert_eq!((status, err["error"].as_str()), (400, Some("bad_request")), "{err}");
    let (status, err) = post(&seal, None, &json!({"epoch": 0}).to_string(), "application/json").await;
    assert_eq!((status, err["error"].as_str()), (401, Some("unauthorized")), "{err}");
    // Wrong method and unknown admin routes answer in JSON too.
    let (status, err) = get_json(&seal).await;
    assert_eq!((status, err["error"].as_str()), (405, Some("method_not_allowed")), "{err}");
    let (status, err) =
        post(&format!("{}/v1/admin/nothing-here", daemon.base), Some(&bearer), "{}", "application/json").await;
    assert_eq!((status, err["error"].as_str()), (404, Some("not_found")), "{err}");
    // The backup route takes a backup and answers its manifest.
    let (status, manifest) =
        post(&format!("{}/v1/admin/backup", daemon.base), Some(&bearer), "", "application/json").await;
    assert_eq!(status, 200, "{manifest}");
    assert!(
        manifest["id"].as_str().is_some_and(|id| !id.is_empty()) && manifest["method"] == "vacuum_into",
        "{manifest}"
    );
    let (status, err) = post(&format!("{}/v1/admin/backup", daemon.base), None, "", "application/json").await;
    assert_eq!((status, err["error"].as_str()), (401, Some("unauthorized")), "{err}");
    daemon.stop().await.expect("graceful stop");

    // No admin_token: the endpoints are disabled, whatever the request carries.
    let dir2 = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(settings(&fake, &sqlite_url(dir2.path()), &["authc"], &[])).await;
    for auth in [None, Some(bearer.as_str()), Some("Bearer ")] {
        let (status, err) = post(&format!("{}/v1/admin/opt-out", daemon.base), auth, body, "application/json").await;
        assert_eq!((status, err["error"].as_str()), (403, Some("admin_disabled")), "{auth:?}: {err}");
        let (status, err) =
            post(&format!("{}/v1/admin/seal", daemon.base), auth, r#"{"epoch": 0}"#, "application/json").await;
        assert_eq!((status, err["error"].as_str()), (403, Some("admin_disabled")), "{err}");
    }
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}

async fn opt_out_scenario(store_url: String) {
    let fake = fake_twitch().await;
    let ch = "optc";
    let daemon = Daemon::start(settings(&fake, &store_url, &[ch], &[("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)])).await;
    assert!(fake.wait_joined(ch, Duration::from_secs(20)).await, "joined #{ch}");
    let base = daemon.base.clone();

    let e1 = next_epoch();
    chat(&fake, ch, e1, &["alice", "bob", "carol"], "a");
    let sealed1 = wait_sealed(&base, e1, ch).await;
    assert_eq!(sealed1["participants"], 3, "{sealed1}");
    let (status, p) = get_json(&format!("{base}/v1/epochs/{e1}/{ch}/proof/bob")).await;
    assert_eq!(status, 200, "{p}");
    assert!(folds(&sealed1["root"], &p["leaf"], &p["proof"]));

    // Opt bob out over HTTP: new the first time, not new the second.
    let (status, r) = admin(&base, "/v1/admin/opt-out", json!({"login": "BOB", "reason": "asked in chat"})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r,
        json!({"login": "bob", "user_hash": format!("0x{}", to_hex(&user_hash("bob"))), "opted_out": true, "new": true})
    );
    let (status, r) = admin(&base, "/v1/admin/opt-out", json!({"login": "bob"})).await;
    assert_eq!((status, &r["new"]), (200, &json!(false)), "{r}");

    // Refused for the epoch sealed before the opt-out; that seal is unchanged.
    for route in ["proof", "claim"] {
        let (status, err) = get_json(&format!("{base}/v1/epochs/{e1}/{ch}/{route}/Bob")).await;
        assert_eq!((status, err["error"].as_str()), (403, Some("opted_out")), "{route}: {err}");
    }
    let (_, again) = get_json(&format!("{base}/v1/epochs/{e1}/{ch}")).await;
    assert_eq!(again, sealed1, "a sealed epoch is never rewritten");
    let (status, p) = get_json(&format!("{base}/v1/epochs/{e1}/{ch}/claim/alice")).await;
    assert_eq!(status, 200, "{p}");

    // From now on bob's lines are dropped at ingest.
    let e2 = next_epoch();
    chat(&fake, ch, e2, &["alice", "bob", "carol"], "b");
    let sealed2 = wait_sealed(&base, e2, ch).await;
    assert_eq!(sealed2["participants"], 2, "{sealed2}");
    let want = root_of(["alice", "carol"].iter().map(|l| participation_leaf(&user_hash(l), ch, e2 as u64)).collect());
    assert_eq!(sealed2["root"].as_str(), Some(want.as_str()));
    let (status, err) = get_json(&format!("{base}/v1/epochs/{e2}/{ch}/claim/bob")).await;
    assert_eq!((status, err["error"].as_str()), (403, Some("opted_out")), "{err}");

    // A manual seal of a sealed epoch reports it unchanged.
    for round in 0..2 {
        let (status, r) = admin(&base, "/v1/admin/seal", json!({"epoch": e2, "channel": ch})).await;
        assert_eq!(status, 200, "{r}");
        let outcomes = r["outcomes"].as_array().expect("outcomes");
        assert_eq!(outcomes.len(), 1, "{r}");
        assert_eq!(outcomes[0]["already_sealed"], true, "round {round}: {r}");
        assert_eq!((&outcomes[0]["root"], &outcomes[0]["participants"]), (&sealed2["root"], &sealed2["participants"]));
    }
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
    let counts = message_counts(&store_url, e2, ch).await;
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["alice", "carol"], "bob was not even recorded: {counts:?}");
    let store = chatseal_schema::Store::open(&store_url).await.unwrap();
    let audit = store.audit_log(50).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "opt_out").count(), 2);
    assert_eq!(audit.iter().filter(|a| a.action == "seal" && a.subject == format!("{e2} #{ch}")).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_over_http_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    opt_out_scenario(sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_over_http_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    opt_out_scenario(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_seal_seals_once_then_reports_it_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let ch = "manualc";
    let daemon =
        Daemon::start(settings(&fake, &sqlite_url(dir.path()), &[ch], &[("CHATSEAL__HTTP__ADMIN_TOKEN", TOKEN)])).await;
    assert!(fake.wait_joined(ch, Duration::from_secs(20)).await);
    let e = next_epoch();
    chat(&fake, ch, e, &["dora", "egon"], "m");
    // As soon as the epoch may be sealed, ask; the sealer may have been first, but exactly
    // one of the two sealed it and both then agree.
    let first = wait_for("the epoch to close", Duration::from_secs(30), || async {
        let (status, r) = admin(&daemon.base, "/v1/admin/seal", json!({"epoch": e})).await;
        (status != 409).then_some((status, r))
    })
    .await;
    assert_eq!(first.0, 200, "{}", first.1);
    let (status, second) = admin(&daemon.base, "/v1/admin/seal", json!({"epoch": e})).await;
    assert_eq!(status, 200, "{second}");
    let (a, b) = (&first.1["outcomes"][0], &second["outcomes"][0]);
    assert_eq!(b["already_sealed"], true, "{second}");
    assert_eq!((&a["root"], &a["participants"], &a["channel"]), (&b["root"], &b["participants"], &json!(ch)));
    assert_eq!(b["participants"], 2);
    let (_, view) = get_json(&format!("{}/v1/epochs/{e}/{ch}", daemon.base)).await;
    assert_eq!(view["root"], b["root"]);
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_claim_tree_records_its_cut_and_leaves_out_the_broadcaster() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let ch = "capc";
    let extra = [("CHATSEAL__SEALING__MAX_CLAIM_LEAVES", "3"), ("CHATSEAL__SEALING__EXCLUDE_BROADCASTER", "true")];
    let daemon = Daemon::start(settings(&fake, &sqlite_url(dir.path()), &[ch], &extra)).await;
    assert!(fake.wait_joined(ch, Duration::from_secs(20)).await);
    let e = next_epoch();
    // All first seen in the same second: the frozen order is by user hash. The broadcaster
    // (the channel's own login) chats too and is left out.
    let mut users = vec!["u1", "u2", "u3", "u4", "u5"];
    chat(&fake, ch, e, &["capc", "u1", "u2", "u3", "u4", "u5"], "c");
    users.sort_by_key(|l| user_hash(l));
    let sealed = wait_sealed(&daemon.base, e, ch).await;
    assert_eq!((&sealed["participants"], &sealed["claim_cut"]), (&json!(5), &json!(2)), "{sealed}");
    let want = root_of(users.iter().map(|l| participation_leaf(&user_hash(l), ch, e as u64)).collect());
    assert_eq!(sealed["root"].as_str(), Some(want.as_str()), "everyone is in the participation tree");
    let mut got: BTreeMap<i64, &str> = BTreeMap::new();
    for &login in &users {
        let (status, p) = get_json(&format!("{}/v1/epochs/{e}/{ch}/proof/{login}", daemon.base)).await;
        assert_eq!(status, 200, "{p}");
        assert!(folds(&sealed["root"], &p["leaf"], &p["proof"]), "{login}");
        got.insert(p["index"].as_i64().expect("index"), login);
    }
    assert_eq!(got.values().copied().collect::<Vec<_>>(), users, "frozen order");
    for (i, login) in users.iter().enumerate() {
        let (status, c) = get_json(&format!("{}/v1/epochs/{e}/{ch}/claim/{login}", daemon.base)).await;
        if i < 3 {
            assert_eq!(status, 200, "{c}");
            assert_eq!(c["index"], i as i64);
            assert!(folds(&sealed["claim_root"], &c["leaf"], &c["proof"]), "{login}'s claim folds to claim_root");
        } else {
            assert_eq!((status, c["error"].as_str()), (404, Some("not_in_claim_tree")), "{c}");
            assert!(c["message"].as_str().is_some_and(|m| m.contains("first 3 participants")), "{c}");
        }
    }
    let (status, err) = get_json(&format!("{}/v1/epochs/{e}/{ch}/proof/capc", daemon.base)).await;
    assert_eq!((status, err["error"].as_str()), (404, Some("not_participant")), "the broadcaster: {err}");
    let (_, list) = get_json(&format!("{}/v1/epochs?channel={ch}", daemon.base)).await;
    assert_eq!(list["epochs"][0]["claim_cut"], 2, "{list}");
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}

/// Runs the built binary with the store at `store_url`.
fn chatseal_cli(store_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(args)
        .env("CHATSEAL__STORE__URL", store_url)
        .env_remove("CHATSEAL_CONFIG")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run chatseal");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_command_against_a_stopped_daemons_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let ch = "clic";
    let daemon = Daemon::start(settings(&fake, &url, &[ch], &[])).await;
    assert!(fake.wait_joined(ch, Duration::from_secs(20)).await);
    let e = next_epoch();
    chat(&fake, ch, e, &["gus", "hal"], "o");
    let sealed = wait_sealed(&daemon.base, e, ch).await;
    daemon.stop().await.expect("graceful stop");

    let (code, out, err) = chatseal_cli(&url, &["opt-out", "--user", "Gus", "--reason", "by mail"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("opted out gus") && out.contains(&to_hex(&user_hash("gus"))), "{out}");
    let (code, out, _) = chatseal_cli(&url, &["opt-out", "--user", "gus"]);
    assert_eq!(code, 0);
    assert!(out.contains("already opted out"), "{out}");
    let (code, _, err) = chatseal_cli(&url, &["opt-out", "--user", "not a login"]);
    assert_eq!(code, 64, "{err}");

    let store = chatseal_schema::Store::open(&url).await.unwrap();
    assert_eq!(store.opted_out_logins().await.unwrap(), ["gus"]);
    // (The daemon's start audited the seeding of the channel set too.)
    let audit: Vec<_> = store.audit_log(10).await.unwrap().into_iter().filter(|a| a.action == "opt_out").collect();
    assert_eq!(audit.len(), 2, "one audit entry per request");
    assert!(audit.iter().any(|a| a.detail.contains("reason=by mail")));
    store.close().await.unwrap();

    // The next daemon refuses gus's proofs for the epoch sealed before, and keeps its root.
    let daemon = Daemon::start(settings(&fake, &url, &[ch], &[])).await;
    let (status, err) = get_json(&format!("{}/v1/epochs/{e}/{ch}/proof/gus", daemon.base)).await;
    assert_eq!((status, err["error"].as_str()), (403, Some("opted_out")), "{err}");
    let (status, p) = get_json(&format!("{}/v1/epochs/{e}/{ch}/proof/hal", daemon.base)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["root"], sealed["root"]);
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}
