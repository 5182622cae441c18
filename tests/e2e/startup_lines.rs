//! What the daemon says first: the HTTP address, the store (redacted), the channels and the
//! epoch length; and a short admin token on a non-loopback `http.listen` is a warning, at start
//! and in check-config.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::{daemon_command, fake_twitch, free_port, sqlite_url};
use crate::http_limits::Running;

const SHORT_TOKEN: &str = "short-admin-token";

/// The first JSON log lines of the binary (until "chatseal running" or 30 s).
fn first_lines(mut cmd: Command, port: u16) -> (Running, Vec<serde_json::Value>) {
    cmd.arg("--log-format").arg("json").stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn chatseal");
    let stderr = child.stderr.take().expect("stderr piped");
    let running = Running::new(child, port);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < 100 {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else { break };
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        let running_now = v["fields"]["message"].as_str() == Some("chatseal running");
        lines.push(v);
        if running_now {
            break;
        }
    }
    (running, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_line_names_address_store_channels_and_epoch_length() {
    let fake = fake_twitch().await;
    let pg = chatseal_schema::testing::fresh_pg_url().await;
    let dir = tempfile::tempdir().unwrap();
    // On PostgreSQL with a password in the URL (trust auth accepts any), to see it redacted.
    let url = match &pg {
        Some((url, _)) => url.replacen("postgres://root@", "postgres://root:pw-sekrit-42@", 1),
        None => sqlite_url(dir.path()),
    };
    let port = free_port();
    let mut cmd = daemon_command(&fake, &url);
    cmd.env("CHATSEAL__HTTP__LISTEN", format!("0.0.0.0:{port}"))
        .env("CHATSEAL__HTTP__ADMIN_TOKEN", SHORT_TOKEN)
        .env("CHATSEAL__TWITCH__CHANNELS", "alpha,beta")
        .env("CHATSEAL__EPOCH__LENGTH", "90s");
    let (_running, lines) = first_lines(cmd, port);
    assert!(lines.iter().any(|l| l["fields"]["message"] == "chatseal running"), "never running: {lines:#?}");
    let first = &lines[0]["fields"];
    assert_eq!(first["http"], format!("0.0.0.0:{port}"), "{first}");
    assert_eq!(first["channels"], "alpha,beta", "{first}");
    assert_eq!(first["epoch_length"], "1m 30s", "{first}");
    let store = first["store"].as_str().unwrap_or_else(|| panic!("no store in {first}"));
    if pg.is_some() {
        assert!(store.starts_with("postgres://root:") && store.contains("127.0.0.1"), "{store}");
    } else {
        assert!(store.ends_with("chatseal.db"), "{store}");
    }
    for l in &lines {
        assert!(!l.to_string().contains("pw-sekrit-42"), "the store password leaked: {l}");
        assert!(!l.to_string().contains(SHORT_TOKEN), "the admin token leaked: {l}");
    }
    let warned = lines.iter().take(3).any(|l| {
        l["level"] == "WARN"
            && l["fields"]["message"].as_str().is_some_and(|m| m.contains("http.admin_token") && m.contains("0.0.0.0"))
    });
    assert!(warned, "no warning about the short admin token among the first lines: {lines:#?}");
}

#[test]
fn check_config_warns_about_a_short_admin_token_beyond_loopback() {
    let run = |listen: &str| {
        Command::new(env!("CARGO_BIN_EXE_chatseal"))
            .arg("check-config")
            .env_clear()
            .env("CHATSEAL__HTTP__LISTEN", listen)
            .env("CHATSEAL__HTTP__ADMIN_TOKEN", SHORT_TOKEN)
            .env("CHATSEAL__TWITCH__SERVER", "127.0.0.1")
            .output()
            .expect("run check-config")
    };
    let out = run("0.0.0.0:9187");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "a warning is not a problem: {stderr}");
    assert!(
        stderr.starts_with("warning: http.listen = \"0.0.0.0:9187\"") && stderr.contains("http.admin_token"),
        "{stderr}"
    );
    assert!(!stderr.contains(SHORT_TOKEN) && !String::from_utf8_lossy(&out.stdout).contains(SHORT_TOKEN));
    let out = run("127.0.0.1:9187");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
