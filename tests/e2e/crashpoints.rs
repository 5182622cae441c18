//! Crash points: the real binary (built with `--features failpoints`) aborts the process at a
//! named durability boundary, as a kill -9 or a power cut would at that exact point; it is
//! started again and the invariants hold: the store opens, digests match, no partial seal is
//! visible, nothing invented or counted twice, and the pipeline goes on recording and sealing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal::twitchsim::FakeTwitch;

use crate::harness::*;
use crate::invariants::{check_counts, check_store};

const LEN: i64 = 2;

fn spawn(fake: &FakeTwitch, url: &str, failpoints: &str) -> std::process::Child {
    daemon_command(fake, url)
        .env("FAILPOINTS", failpoints)
        .env("CHATSEAL__EPOCH__LENGTH", "2s")
        .env("CHATSEAL__EPOCH__GRACE", "1s")
        .spawn()
        .expect("spawn chatseal")
}

/// Sends `users` lines into epoch `e` (one per user, prefix `tag`); records them in `sent`.
fn send_epoch(fake: &FakeTwitch, e: i64, tag: &str, users: usize, sent: &mut BTreeMap<String, i64>) {
    for u in 0..users {
        let login = format!("{tag}{u}");
        let line = privmsg(
            "alpha",
            &Chatter::new(&login, "3", &login),
            &format!("{tag}-{e}-{u}"),
            e * 1000 + 50 * u as i64,
            "hi",
            None,
        );
        if fake.send_raw("alpha", &line) > 0 {
            *sent.entry(login).or_default() += 1;
        }
    }
}

async fn crash_at(failpoints: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let fake = fake_twitch().await;
    let mut sent = BTreeMap::new();
    let mut epochs = BTreeSet::new();
    let mut child = spawn(&fake, &url, failpoints);
    assert!(fake.wait_joined("alpha", Duration::from_secs(30)).await);
    // Lines for the next epochs until the process hits the point and aborts.
    let mut e = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    let status = loop {
        send_epoch(&fake, e, "a", 8, &mut sent);
        epochs.insert(e);
        if let Some(status) = wait_for_exit(&mut child, Duration::from_millis(1500)).await {
            break status;
        }
        e += LEN;
        assert!(epochs.len() < 20, "the failpoint {failpoints} was never reached");
    };
    assert!(!status.success(), "aborted at the point: {status:?}");
    check_store(&url, "alpha").await;

    // Start again without failpoints: it recovers, records and seals.
    let before = fake.total_connections();
    let mut child = spawn(&fake, &url, "");
    assert!(
        fake.wait_for(Duration::from_secs(30), |t| t.total_connections() > before
            && t.joined_connections("alpha") == 1)
            .await
    );
    // An epoch none of the lines before the crash went to.
    let after = ((now_ms() / 1000).div_euclid(LEN) * LEN + LEN).max(epochs.iter().max().copied().unwrap_or(0) + LEN);
    send_epoch(&fake, after, "b", 5, &mut sent);
    epochs.insert(after);
    let store = check_store(&url, "alpha").await;
    let sealed = wait_for("the epoch after the restart sealed", Duration::from_secs(30), || async {
        store.sealed_epoch(after, "alpha").await.ok().flatten()
    })
    .await;
    assert_eq!(sealed.participants, 5, "every line after the restart counts");
    let _ = child.kill();
    let _ = child.wait();
    let store = check_store(&url, "alpha").await;
    // every epoch before the crash is sealed completely by the restarted daemon
    for e in &epochs {
        if let Some(s) = store.sealed_epoch(*e, "alpha").await.unwrap() {
            let rows = store.participants_for_seal(*e, "alpha").await.unwrap();
            assert_eq!(s.participants as usize, rows.len(), "seal of {e} holds every recorded participant");
        }
    }
    check_counts(&store, "alpha", &epochs, &sent).await;
}

async fn wait_for_exit(child: &mut std::process::Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_before_the_flush_commit() {
    crash_at("flush.before_commit=3*off->return(abort)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_after_the_flush_commit() {
    crash_at("flush.after_commit=3*off->return(abort)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_in_the_middle_of_a_seal() {
    crash_at("seal.mid=1*off->return(abort)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_after_the_seal_commit() {
    crash_at("seal.after_commit=1*off->return(abort)").await;
}
