//! Exit codes and error answers as the interface says: usage errors exit 64 (never clap's 2),
//! --help and --version 0; a PostgreSQL role or database the server refuses exits 78 with a
//! hint; bad path and query strings answer the JSON error body; a 10 KB login is never echoed
//! whole.

use std::process::{Command, Output, Stdio};

use crate::harness::{fake_twitch, get_json, settings_for, sqlite_url, Daemon};

fn chatseal(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatseal"));
    cmd.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run chatseal")
}

#[test]
fn usage_errors_exit_64_and_help_and_version_exit_0() {
    for args in [
        &["--bogus"][..],
        &["run", "--nope"],
        &[],
        &["seal", "--epoch", "soon"],
        &["no-such-command"],
        &["verify", "--root", "00"],
    ] {
        let out = chatseal(args, &[]);
        assert_eq!(out.status.code(), Some(64), "chatseal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stderr.is_empty(), "chatseal {args:?} said nothing");
    }
    for args in [&["--help"][..], &["--version"], &["run", "--help"], &["help"]] {
        let out = chatseal(args, &[]);
        assert_eq!(out.status.code(), Some(0), "chatseal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stdout.is_empty(), "chatseal {args:?} printed nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_or_database_postgresql_refuses_exits_78_with_a_hint() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    let no_role = url.replacen("postgres://root", "postgres://chatseal_no_such_role:pw-sekrit", 1);
    assert_ne!(no_role, url, "the test URL names the root role: {url}");
    let no_db = chatseal_schema::testing::with_database(&url, "chatseal_no_such_database");
    for (what, bad) in [("missing role", no_role), ("missing database", no_db)] {
        for cmd in [&["run"][..], &["seal", "--epoch", "0"], &["doctor"]] {
            let out = chatseal(
                cmd,
                &[
                    ("CHATSEAL__STORE__URL", &bad),
                    ("CHATSEAL__HTTP__LISTEN", "127.0.0.1:0"),
                    ("CHATSEAL__TWITCH__SERVER", "127.0.0.1"),
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(78), "{what}, chatseal {cmd:?}: {stderr}");
            assert!(stderr.contains("check the user, password and database name in store.url"), "{what}: {stderr}");
            assert!(!stderr.contains("pw-sekrit"), "the password leaked: {stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_and_queries_answer_the_json_error_and_long_values_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_twitch().await;
    let token = "e2e-admin-token-0123456789abcdef";
    let d = Daemon::start(settings_for(
        &fake,
        &sqlite_url(dir.path()),
        &["alpha"],
        &[("CHATSEAL__HTTP__ADMIN_TOKEN", token)],
    ))
    .await;
    let long = "a".repeat(10 * 1024);
    for path in [
        "/v1/epochs/notanumber/alpha".to_string(),
        "/v1/epochs/99999999999999999999999/alpha/proof/bob".to_string(),
        "/v1/epochs?limit=many".to_string(),
        "/v1/epochs?limit=-1".to_string(),
        format!("/v1/epochs/0/alpha/proof/{long}"),
        format!("/v1/epochs/0/{long}"),
        format!("/v1/epochs?channel={long}"),
        format!("/v1/epochs/{long}/alpha"),
    ] {
        let (code, body) = get_json(&format!("{}{path}", d.base)).await;
        let shown = &path[..path.len().min(60)];
        assert_eq!(code, 400, "{shown}: {body}");
        assert_eq!(body["error"], "bad_request", "{shown}: {body}");
        let message = body["message"].as_str().unwrap_or_else(|| panic!("{shown}: no message in {body}"));
        assert!(message.len() < 400, "{shown}: the answer echoes {} bytes: {}", message.len(), &message[..200]);
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/admin/opt-out", d.base))
        .bearer_auth(token)
        .json(&serde_json::json!({ "login": long }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("(10240 bytes)") && message.len() < 400, "{}", &message[..message.len().min(300)]);
    d.stop().await.unwrap();
}
