//! Sealing across restarts: epochs that closed while the daemon was down are sealed at the
//! next start, oldest first, with the roots their participants give; sealing again changes
//! nothing (`chatseal seal` reports them unchanged).

use std::collections::BTreeMap;
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, Chatter};
use chatseal_schema::Store;

use crate::harness::*;
use crate::skeleton::expected_root;

const LEN: i64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_after_a_restart_that_skipped_three_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let extra = [("CHATSEAL__EPOCH__LENGTH", "2s"), ("CHATSEAL__EPOCH__GRACE", "1s")];
    let fake = fake_twitch().await;
    let d = Daemon::start(settings_for(&fake, &url, &["alpha"], &extra)).await;
    assert!(fake.wait_joined("alpha", Duration::from_secs(20)).await);

    // Lines for three epochs ahead, sent now (tmi-sent-ts within max_skew decides the epoch).
    let first = (now_ms() / 1000).div_euclid(LEN) * LEN + 2 * LEN;
    let epochs = [first, first + LEN, first + 2 * LEN];
    let mut expected: BTreeMap<i64, BTreeMap<String, i64>> = BTreeMap::new();
    for (k, e) in epochs.iter().enumerate() {
        for u in 0..(3 + 2 * k) {
            let login = format!("v{}", u + k);
            let ts_ms = e * 1000 + 100 * u as i64;
            let line = privmsg("alpha", &Chatter::new(&login, "7", &login), &format!("{e}-{u}"), ts_ms, "hi", None);
            fake.send_raw("alpha", &line);
            expected.entry(*e).or_default().insert(login, ts_ms / 1000);
        }
    }
    let store = Store::open(&url).await.unwrap();
    wait_for("lines durable", Duration::from_secs(20), || async {
        let n: usize = {
            let mut n = 0;
            for e in epochs {
                n += store.participants_for_seal(e, "alpha").await.ok()?.len();
            }
            n
        };
        (n == 3 + 5 + 7).then_some(())
    })
    .await;
    d.stop().await.expect("graceful stop");
    assert!(store.sealed_epoch(first, "alpha").await.unwrap().is_none(), "stopped before the first of them closed");

    // Down while all three close.
    let closed_at = (epochs[2] + LEN) * 1000 + 1000;
    wait_for("three epochs closed while down", Duration::from_secs(30), || async {
        (now_ms() > closed_at + 200).then_some(())
    })
    .await;

    let fake2 = fake_twitch().await;
    let d2 = Daemon::start(settings_for(&fake2, &url, &["alpha"], &extra)).await;
    for e in epochs {
        let body = wait_for(&format!("catch-up seal of {e}"), Duration::from_secs(30), || async {
            let (code, body) = get_json(&format!("{}/v1/epochs/{e}/alpha", d2.base)).await;
            (code == 200).then_some(body)
        })
        .await;
        assert_eq!(body["root"].as_str(), Some(expected_root(e, "alpha", &expected[&e]).as_str()), "{body}");
        assert_eq!(body["participants"].as_u64(), Some(expected[&e].len() as u64));
    }
    let sealed: Vec<i64> = store.sealed_epochs(Some("alpha"), 100).await.unwrap().iter().map(|s| s.epoch).collect();
    for e in epochs {
        assert!(sealed.contains(&e));
    }
    let at: Vec<i64> = {
        let mut v = Vec::new();
        for e in epochs {
            v.push(store.sealed_epoch(e, "alpha").await.unwrap().unwrap().sealed_at);
        }
        v
    };
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "oldest first: {at:?}");
    d2.stop().await.expect("graceful stop");

    // Sealing by hand again changes nothing.
    let before = store.sealed_epoch(first, "alpha").await.unwrap().unwrap();
    let bin = env!("CARGO_BIN_EXE_chatseal");
    let out = std::process::Command::new(bin)
        .args(["seal", "--epoch", &first.to_string(), "--channel", "alpha"])
        .env("CHATSEAL__STORE__URL", &url)
        .env("CHATSEAL__EPOCH__LENGTH", "2s")
        .output()
        .expect("run chatseal seal");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already sealed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = store.sealed_epoch(first, "alpha").await.unwrap().unwrap();
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
}
