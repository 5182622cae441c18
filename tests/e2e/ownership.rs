//! One owner per store (cluster.md): a second daemon on the same store is refused with exit 75
//! naming the owner; a kill -9'd daemon restarts at once; `restore` and `migrate --to` refuse a
//! store a live daemon owns, whatever `http.listen` says. Real binaries, both engines.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chatseal_schema::testing::fresh_urls;
use chatseal_schema::Backend;

use crate::backup::cli_env;
use crate::harness::{daemon_command, fake_twitch, free_port, wait_for, write_chatters};

/// The real daemon on `url` with HTTP on `port`, stderr captured.
fn spawn(fake: &chatseal::twitchsim::FakeTwitch, url: &str, port: u16, lease_ttl: &str) -> Child {
    daemon_command(fake, url)
        .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("CHATSEAL__CLUSTER__LEASE_TTL", lease_ttl)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chatseal run")
}

async fn healthy(port: u16) -> bool {
    matches!(reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await, Ok(r) if r.status().is_success())
}

async fn wait_healthy(port: u16, within: Duration) {
    wait_for(&format!("the daemon on port {port} to answer /healthz"), within, || async move {
        healthy(port).await.then_some(())
    })
    .await;
}

/// Waits (bounded) for `child` to exit; its code and stderr.
fn wait_exit(mut child: Child, within: Duration) -> (i32, String) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(child: Child) -> i32 {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
    wait_exit(child, Duration::from_secs(60)).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_is_refused_and_a_killed_one_restarts_at_once() {
    let fake = fake_twitch().await;
    for (backend, url, _guard) in fresh_urls().await {
        let (p1, p2) = (free_port(), free_port());
        // A long lease: the restart below can only be admitted at once by the session rule.
        let first = spawn(&fake, &url, p1, "60s");
        wait_healthy(p1, Duration::from_secs(60)).await;

        let second = spawn(&fake, &url, p2, "60s");
        let (code, err) = wait_exit(second, Duration::from_secs(40));
        assert_eq!(code, 75, "{backend:?}: a second daemon exits 75; stderr: {err}");
        assert!(
            err.contains(&format!("pid {}", first.id())),
            "{backend:?}: the refusal names the owner's pid {}: {err}",
            first.id()
        );
        assert!(err.contains(&format!("127.0.0.1:{p1}")), "{backend:?}: the refusal names the owner's address: {err}");
        assert!(healthy(p1).await, "{backend:?}: the owner keeps running");

        // kill -9, then restart at once: admitted well before the 60 s lease runs out.
        let mut first = first;
        first.kill().expect("kill -9");
        let _ = first.wait();
        let started = Instant::now();
        let again = spawn(&fake, &url, p1, "60s");
        wait_healthy(p1, Duration::from_secs(30)).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{backend:?}: restart admitted without waiting for the lease"
        );
        assert_eq!(terminate(again), 0, "{backend:?}: SIGTERM exits 0");

        // A graceful stop leaves at once: the next daemon of another name starts immediately.
        let other = spawn(&fake, &url, p2, "60s");
        wait_healthy(p2, Duration::from_secs(30)).await;
        assert_eq!(terminate(other), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_and_migrate_refuse_a_store_a_live_daemon_owns() {
    let fake = fake_twitch().await;
    // A small source store with one backup of it.
    let (src_url, src_dir) = chatseal_schema::testing::fresh_sqlite_url();
    {
        let src = chatseal_schema::Store::open(&src_url).await.expect("open source");
        write_chatters(&src, 3_600, "alpha", 3).await;
        src.close().await.ok();
    }
    let backups = src_dir.path().join("backups");
    let (code, out, err) = cli_env(&["backup", "now"], &src_url, &backups, &[]);
    assert_eq!(code, 0, "backup now: {out}{err}");
    let id = out.split_whitespace().nth(1).expect("backup <id> taken").to_owned();

    for (backend, url, _guard) in fresh_urls().await {
        let port = free_port();
        let daemon = spawn(&fake, &url, port, "10s");
        wait_healthy(port, Duration::from_secs(60)).await;

        let (code, _, err) = cli_env(&["restore", "--from", &id, "--to", &url, "--force"], &src_url, &backups, &[]);
        assert_eq!(code, 75, "{backend:?}: restore --to a live daemon's store exits 75: {err}");
        assert!(err.contains(&format!("pid {}", daemon.id())), "{backend:?}: names the owner: {err}");

        // restore --force onto store.url itself (http.listen points elsewhere: port 1).
        let (code, _, err) = cli_env(&["restore", "--from", &id, "--force"], &url, &backups, &[]);
        assert_eq!(code, 75, "{backend:?}: restore --force under a live daemon exits 75: {err}");

        let (code, _, err) = cli_env(&["migrate", "--from", &src_url, "--to", &url], &src_url, &backups, &[]);
        assert_eq!(code, 75, "{backend:?}: migrate --to a live daemon's store exits 75: {err}");

        if backend == Backend::Sqlite {
            let db = chatseal_schema::sqlite_path(&url).expect("sqlite path");
            let aside = std::fs::read_dir(db.parent().expect("dir"))
                .expect("list")
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("replaced-"))
                .count();
            assert_eq!(aside, 0, "nothing was moved aside under the live daemon");
        }
        assert!(healthy(port).await, "{backend:?}: the daemon keeps running");
        assert_eq!(terminate(daemon), 0);
    }
}
