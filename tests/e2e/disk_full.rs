//! A real full disk (a small tmpfs mounted for the test; needs root, as CI runs it): `chatseal
//! run` on a store whose volume is full exits 69 saying "disk full"; a daemon whose volume fills
//! up while chat arrives says "disk full" in its log, keeps the events in memory, and once space
//! is freed makes every one of them durable (none dropped).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};

use crate::harness::*;

/// A tmpfs of `size` mounted on a fresh folder, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount -t tmpfs on {} failed (the test needs root, as CI runs it)", dir.display());
        Self { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Writes `path` until the volume is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).expect("create filler");
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0x5a_u8; chunk];
        // Bounded: the volume is a few MB.
        for _ in 0..100_000 {
            match f.write(&buf) {
                Ok(n) if n == chunk => written += n as u64,
                Ok(n) => {
                    written += n as u64;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    let _ = f.sync_all();
    written
}

fn is_root() -> bool {
    // SAFETY: geteuid reads the process's effective uid and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The daemon, killed if the test ends before it stopped (a failed assertion).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn term(child: &Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
}

async fn metric(base: &str, series: &str) -> Option<f64> {
    let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_said_as_such_and_loses_nothing() {
    if !is_root() {
        eprintln!("disk_full: skipped, mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vol = Tmpfs::mount(dir.path().join("vol"), "8m");
    let url = format!("sqlite://{}", vol.dir.join("chatseal.db").display());
    let filler = vol.dir.join("filler");
    let fake = fake_twitch().await;

    // 1. Start on a full volume: exit 69 (unavailable), and the message says disk full.
    assert!(fill(&filler) > 0);
    let start_log = dir.path().join("start.log");
    let mut first = Reaped(
        daemon_command(&fake, &url)
            .env("CHATSEAL__BACKUP__DIR", dir.path().join("backups"))
            .stderr(Stdio::from(std::fs::File::create(&start_log).unwrap()))
            .spawn()
            .expect("spawn chatseal"),
    );
    let status = wait_for("chatseal run on a full disk to exit", Duration::from_secs(30), || {
        let r = first.0.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    let stderr = std::fs::read_to_string(&start_log).unwrap_or_default();
    assert_eq!(status.code(), Some(69), "start on a full disk: {stderr}");
    assert!(stderr.contains("disk full"), "the start-up error does not say disk full: {stderr}");
    std::fs::remove_file(&filler).unwrap();
    for f in ["chatseal.db", "chatseal.db-wal", "chatseal.db-shm"] {
        let _ = std::fs::remove_file(vol.dir.join(f));
    }

    // 2. The volume fills up while chat arrives.
    let log = dir.path().join("daemon.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Reaped(
        daemon_command(&fake, &url)
            .env("CHATSEAL__HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("CHATSEAL__BACKUP__DIR", dir.path().join("backups"))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("spawn chatseal"),
    );
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await, "joined");
    fill(&filler);
    let ts = now_ms();
    let mut sent = 0usize;
    let mut said = false;
    // Distinct logins (new rows, new pages) until the store reports the full disk: at most 60 s.
    for round in 0..300 {
        for i in 0..200 {
            let login = format!("u{round}x{i}");
            let who = Chatter::new(&login, &format!("{}", 100_000 + sent), &login);
            assert_eq!(fake.send_raw("alpha", &privmsg("alpha", &who, &format!("df-{sent}"), ts, "hi", None)), 1);
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if std::fs::read_to_string(&log).unwrap_or_default().contains("disk full") {
            said = true;
            break;
        }
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(said, "{sent} lines on a full disk and the log never said \"disk full\":\n{text}");
    let line = text.lines().find(|l| l.contains("disk full")).unwrap_or_default();
    eprintln!("disk_full: after {sent} lines: {line}");
    assert_eq!(metric(&base, "chatseal_store_up").await, Some(0.0), "the store counts as down while the disk is full");

    // 3. Space freed: every event becomes durable, none dropped.
    std::fs::remove_file(&filler).unwrap();
    wait_for("every event durable after the space was freed", Duration::from_secs(60), || async {
        (metric(&base, "chatseal_events_durable_total").await.unwrap_or(0.0) >= sent as f64).then_some(())
    })
    .await;
    assert_eq!(metric(&base, "chatseal_events_dropped_total").await.unwrap_or(0.0), 0.0);
    term(&child.0);
    let status = wait_for("the daemon to stop", Duration::from_secs(30), || {
        let r = child.0.try_wait().expect("try_wait");
        async move { r }
    })
    .await;
    assert_eq!(status.code(), Some(0));
    let epoch = (ts / 1000).div_euclid(3600) * 3600;
    let counts = message_counts(&url, epoch, "alpha").await;
    assert_eq!(counts.len(), sent, "every line sent during the full disk counts once");
    fake.shutdown().await;
}
