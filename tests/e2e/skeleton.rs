//! The walking skeleton end to end: two channels, a few dozen users over two short epochs; every
//! sealed root equals the root computed here from the participants that were sent, and a proof
//! fetched over HTTP folds to the root with the on-chain rule.

use std::collections::BTreeMap;
use std::time::Duration;

use chatseal::twitchsim::lines::{privmsg, usernotice, Chatter};
use chatseal_actors::format::{parse_hash, participation_leaf, to_hex, user_hash};
use chatseal_actors::sealer::merkle::{verify, MerkleTree};

use crate::harness::*;

const LEN: i64 = 3;

/// (epoch, channel) -> login -> first_seen
type Expected = BTreeMap<(i64, String), BTreeMap<String, i64>>;

pub(crate) fn expected_root(epoch: i64, channel: &str, users: &BTreeMap<String, i64>) -> String {
    let mut v: Vec<(i64, [u8; 32], String)> = users.iter().map(|(l, fs)| (*fs, user_hash(l), l.clone())).collect();
    v.sort();
    let leaves = v.iter().map(|(_, uh, _)| participation_leaf(uh, channel, epoch as u64)).collect();
    format!("0x{}", to_hex(&MerkleTree::build(leaves).expect("non-empty").root()))
}

async fn scenario(store_url: String) {
    let fake = fake_twitch().await;
    let channels = ["alpha", "beta"];
    let s = settings_for(
        &fake,
        &store_url,
        &channels,
        &[("CHATSEAL__EPOCH__LENGTH", "3s"), ("CHATSEAL__EPOCH__GRACE", "1s")],
    );
    let daemon = Daemon::start(s).await;
    for c in channels {
        assert!(fake.wait_joined(c, Duration::from_secs(20)).await, "daemon joined #{c}");
    }

    // Two whole epochs in the near future: timestamps within max_skew, so tmi-sent-ts decides.
    let e1 = (now_ms() / 1000).div_euclid(LEN) * LEN + LEN;
    let e2 = e1 + LEN;
    let mut expected: Expected = BTreeMap::new();
    let mut n = 0u64;
    for (ci, channel) in channels.iter().enumerate() {
        for (ei, epoch) in [e1, e2].into_iter().enumerate() {
            for u in 0..(12 + 3 * ci + ei) {
                // users overlap between channels and epochs, with varied first_seen
                let login = format!("viewer{:02}", (u * 7 + ci * 3 + ei) % 40);
                let who = Chatter::new(&login, &format!("{}", 1000 + u), &login.to_uppercase());
                for k in 0..2i64 {
                    n += 1;
                    let ts_ms = epoch * 1000 + ((u as i64 * 97 + k * 400) % (LEN * 1000));
                    let line = if k == 1 && u % 5 == 0 {
                        usernotice(channel, &who, &format!("id-{n}"), ts_ms, "sub", &[])
                    } else {
                        privmsg(
                            channel,
                            &who,
                            &format!("id-{n}"),
                            ts_ms,
                            "hello",
                            if u % 4 == 0 { Some(100) } else { None },
                        )
                    };
                    assert_eq!(fake.send_raw(channel, &line), 1);
                    let first = expected
                        .entry((epoch, channel.to_string()))
                        .or_default()
                        .entry(login.clone())
                        .or_insert(ts_ms / 1000);
                    *first = (*first).min(ts_ms / 1000);
                    if u == 3 && k == 0 {
                        // the same id again (a replay): counts once
                        assert_eq!(fake.send_raw(channel, &line), 1);
                    }
                }
            }
            // a bot: excluded at ingest
            let bot = Chatter::new("nightbot", "19264788", "Nightbot");
            n += 1;
            fake.send_raw(channel, &privmsg(channel, &bot, &format!("id-{n}"), epoch * 1000 + 5, "!commands", None));
        }
    }

    for ((epoch, channel), users) in &expected {
        let url = format!("{}/v1/epochs/{epoch}/{channel}", daemon.base);
        let body = wait_for(&format!("seal of {epoch} #{channel}"), Duration::from_secs(60), || async {
            let (status, body) = get_json(&url).await;
            (status == 200).then_some(body)
        })
        .await;
        assert_eq!(body["participants"].as_i64(), Some(users.len() as i64), "{body}");
        assert_eq!(
            body["root"].as_str(),
            Some(expected_root(*epoch, channel, users).as_str()),
            "root of {epoch} #{channel}"
        );
        assert!(body["coverage"].as_f64().is_some_and(|c| c > 0.0 && c <= 1.0), "{body}");

        // every participant's proof folds to the root; the bot has none
        let root = parse_hash(body["root"].as_str().unwrap()).unwrap();
        for login in users.keys() {
            let (status, p) =
                get_json(&format!("{}/v1/epochs/{epoch}/{channel}/proof/{}", daemon.base, login.to_uppercase())).await;
            assert_eq!(status, 200, "{p}");
            let leaf = parse_hash(p["leaf"].as_str().unwrap()).unwrap();
            assert_eq!(leaf, participation_leaf(&user_hash(login), channel, *epoch as u64));
            let proof: Vec<[u8; 32]> =
                p["proof"].as_array().unwrap().iter().map(|h| parse_hash(h.as_str().unwrap()).unwrap()).collect();
            assert!(verify(&root, &leaf, &proof), "proof of {login} folds to the root");
            let mut tampered = proof.clone();
            if let Some(first) = tampered.first_mut() {
                first[0] ^= 1;
                assert!(!verify(&root, &leaf, &tampered));
            }
        }
        let (status, err) = get_json(&format!("{}/v1/epochs/{epoch}/{channel}/proof/nightbot", daemon.base)).await;
        assert_eq!((status, err["error"].as_str()), (404, Some("not_participant")));
    }
    let (status, err) = get_json(&format!("{}/v1/epochs/{}/alpha", daemon.base, e2 + 100 * LEN)).await;
    assert_eq!((status, err["error"].as_str()), (404, Some("not_sealed")));
    let (status, _) = get_json(&format!("{}/healthz", daemon.base)).await;
    assert_eq!(status, 200);
    let (status, ready) = get_json(&format!("{}/readyz", daemon.base)).await;
    assert_eq!(status, 200, "{ready}");
    let metrics = reqwest::get(format!("{}/metrics", daemon.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("chatseal_events_durable_total"), "metrics render");
    daemon.stop().await.expect("graceful stop");
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_channels_two_epochs_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_channels_two_epochs_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    scenario(url).await;
}
