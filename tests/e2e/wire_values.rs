//! Configuration values that reach the IRC wire holding CR/LF (an injected `JOIN #evil`):
//! `check-config` and `run` of the real binary refuse them with exit 78, whether the value comes
//! from the TOML file or from the environment, without echoing the secret, and the fake Twitch
//! server never sees a connection.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::harness::{daemon_command, fake_twitch};

const EVIL: &str = "abc\r\nJOIN #evil";

/// Runs `cmd` (stdin closed, output captured; the output of a refused config is a few lines,
/// well within a pipe's buffer) for at most 30 s: (exit code, stdout+stderr).
fn run_bounded(mut cmd: Command) -> (i32, String) {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn chatseal");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("poll chatseal").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chatseal {:?} did not exit within 30 s with a refused config", cmd.get_args().collect::<Vec<_>>());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect chatseal output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn assert_refused(code: i32, text: &str, how: &str) {
    assert_eq!(code, 78, "{how}: expected exit 78 (config), got {code}: {text}");
    assert!(text.contains("twitch.token holds a carriage return"), "{how}: the problem is not named: {text}");
    assert!(!text.contains("abc") && !text.contains("evil"), "{how}: the secret was echoed: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_token_is_refused_by_check_config_and_run_from_toml_and_env() {
    let fake = fake_twitch().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chatseal.db").display());
    let toml = dir.path().join("chatseal.toml");
    // TOML basic strings take \r\n as escapes: the token holds a real CR LF.
    std::fs::write(&toml, "[twitch]\nlogin = \"me\"\ntoken = \"abc\\r\\nJOIN #evil\"\n").unwrap();

    for sub in ["check-config", "run"] {
        let mut cmd = daemon_command(&fake, &url);
        cmd.args(["--config", toml.to_str().unwrap()]);
        if sub == "check-config" {
            cmd = retarget(cmd, "check-config");
        }
        let (code, text) = run_bounded(cmd);
        assert_refused(code, &text, &format!("{sub} with the token in TOML"));

        let mut cmd = daemon_command(&fake, &url);
        cmd.env("CHATSEAL__TWITCH__LOGIN", "me").env("CHATSEAL__TWITCH__TOKEN", EVIL);
        if sub == "check-config" {
            cmd = retarget(cmd, "check-config");
        }
        let (code, text) = run_bounded(cmd);
        assert_refused(code, &text, &format!("{sub} with the token in CHATSEAL__TWITCH__TOKEN"));
    }
    // A refused run never connects: the server saw no connection and no JOIN at all.
    assert_eq!(fake.total_connections(), 0, "the fake server was contacted");
    assert!(fake.join_log().is_empty(), "the fake server received JOINs: {:?}", fake.join_log());
    assert!(!dir.path().join("chatseal.db").exists(), "a refused config must not create the store");
    fake.shutdown().await;
}

/// The same command with `run` replaced by `sub` (the environment and other arguments kept).
fn retarget(cmd: Command, sub: &str) -> Command {
    let mut out = Command::new(cmd.get_program());
    out.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            out.env(k, v);
        }
    }
    out.args(cmd.get_args().map(|a| if a == "run" { std::ffi::OsStr::new(sub) } else { a }));
    out
}
