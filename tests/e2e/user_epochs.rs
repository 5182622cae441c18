//! `GET /v1/users/{login}/epochs` against a store of many users and sealed hours, on SQLite and
//! PostgreSQL: every hour of a login once, newest first, through pages of every size (boundaries
//! at, below and above an epoch's rows; one epoch larger than the page), the channel filter,
//! `before`, a login the claim cap left out (amount null, the claim route agreeing), an
//! opted-out login (403), an unknown one (empty), case-insensitive logins and bad parameters;
//! `published` true on exactly the channel-epochs with a publication record.
//! The seals are built by the sealer's own `build_seal` and written by `write_seal`.

use std::collections::BTreeMap;
use std::time::Duration;

use chatseal::daemon::wiring::seal_config;
use chatseal_actors::format::{to_hex, user_hash};
use chatseal_actors::sealer::build::build_seal;
use chatseal_schema::queries::publish::Publication;
use chatseal_schema::{ParticipantRow, SignalKind, Signals, Store};
use serde_json::Value;

use crate::harness::*;

const CHANNELS: [&str; 3] = ["ch_a", "ch_b", "ch_c"];
/// 2023-11-14T22:00:00Z: long sealed, never touched by the daemon's own sealer.
const FIRST: i64 = 1_699_999_200;
const HOUR: i64 = 3600;
const EPOCHS: i64 = 36;
const USERS: i64 = 120;
/// The claim cap of #ch_c's seals.
const CAP: u32 = 10;
/// The one channel-epoch with a publication record: the 6th-newest hour of #ch_b (inside the
/// default first page, and on a later page for small page sizes).
const PUBLISHED: (i64, &str) = (FIRST + (EPOCHS - 6) * HOUR, "ch_b");

/// (epoch, channel, index, amount or null) of one login's hours.
type Hours = Vec<(i64, String, i64, Option<String>)>;

fn row(login: &str, first_seen: i64) -> ParticipantRow {
    ParticipantRow {
        user_hash: to_hex(&user_hash(login)),
        login: login.into(),
        first_seen,
        last_seen: first_seen,
        signals: Signals::default().with(SignalKind::Message, 1),
    }
}

/// Who took part in (epoch number, channel number): a spread of the `USERS` plus `dizzy` (every
/// hour), `latecomer` (every hour, always last, so past #ch_c's claim cap) and `shy` (who opts
/// out afterwards) in every other hour.
fn crowd(e: i64, c: usize) -> Vec<ParticipantRow> {
    let t = FIRST + e * HOUR;
    let mut rows: Vec<ParticipantRow> = (0..USERS)
        .filter(|u| (u * 7 + e * 3 + c as i64 * 11) % 5 != 0)
        .map(|u| row(&format!("viewer{u}"), t + 10 + u))
        .collect();
    rows.push(row("dizzy", t + 1));
    rows.push(row("latecomer", t + 3000));
    if e % 2 == 0 {
        rows.push(row("shy", t + 2));
    }
    rows
}

/// Seals every hour and returns each login's hours newest first (epoch descending, channel
/// ascending), as the route must answer them.
async fn fill(store: &Store, settings: &chatseal::settings::Settings) -> BTreeMap<String, Hours> {
    let mut want: BTreeMap<String, Hours> = BTreeMap::new();
    let none = Default::default();
    for e in 0..EPOCHS {
        for (c, ch) in CHANNELS.iter().enumerate() {
            let mut cfg = seal_config(settings);
            cfg.max_claim_leaves = (*ch == "ch_c").then_some(CAP);
            let epoch = FIRST + e * HOUR;
            let seal = build_seal(epoch, ch, crowd(e, c), &cfg, &none, 1.0, epoch + HOUR + 120).expect("build seal");
            let kept = seal.participants.len() as i64 - seal.claim_cut;
            for p in &seal.participants {
                let amount = (p.idx < kept).then(|| p.amount.clone());
                want.entry(p.login.clone()).or_default().push((epoch, ch.to_string(), p.idx, amount));
            }
            store.write_seal(&seal).await.expect("write seal");
            if (epoch, *ch) == PUBLISHED {
                let root = seal.root.clone().expect("a root");
                let record =
                    Publication { epoch, channel: ch.to_string(), root, tx: "tx-ue".into(), published_at: epoch };
                store.record_publication(&record).await.expect("record publication");
            }
        }
    }
    for hours in want.values_mut() {
        hours.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    }
    want
}

fn items(body: &Value) -> Hours {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|i| {
            let (epoch, channel) = (i["epoch"].as_i64().unwrap(), i["channel"].as_str().unwrap());
            assert_eq!(i["published"], (epoch, channel) == PUBLISHED, "{i}");
            (epoch, channel.to_string(), i["index"].as_i64().unwrap(), i["amount"].as_str().map(String::from))
        })
        .collect()
}

/// Walks every page of `query` (which names the login, channel, limit) and checks the paging
/// rules on the way; returns the hours in order.
async fn walk(base: &str, login: &str, query: &str, limit: usize) -> Hours {
    let mut all = Hours::new();
    let mut before: Option<i64> = None;
    for _ in 0..1000 {
        let url = match before {
            Some(b) => format!("{base}/v1/users/{login}/epochs?{query}&before={b}"),
            None => format!("{base}/v1/users/{login}/epochs?{query}"),
        };
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let page = items(&body);
        // A page is at most `limit` hours unless one epoch alone holds more.
        let epochs: std::collections::BTreeSet<i64> = page.iter().map(|h| h.0).collect();
        assert!(page.len() <= limit || epochs.len() == 1, "{url}: {} hours over {} epochs", page.len(), epochs.len());
        if let (Some(b), Some(first)) = (before, page.first()) {
            assert!(first.0 < b, "{url}: an hour at or after `before`");
        }
        // No epoch is split across pages.
        if let (Some(prev), Some(first)) = (all.last(), page.first()) {
            assert!(first.0 < prev.0, "{url}: epoch {} continues from the previous page", first.0);
        }
        all.extend(page);
        match body["next_before"].as_i64() {
            Some(next) => {
                assert_eq!(Some(next), all.last().map(|h| h.0), "{url}: next_before is the page's oldest epoch");
                before = Some(next);
            }
            None => {
                assert!(body["next_before"].is_null(), "{body}");
                return all;
            }
        }
    }
    panic!("more than 1000 pages for {login} {query}");
}

async fn scenario(url: String) {
    let fake = fake_twitch().await;
    let settings = settings_for(&fake, &url, &["idlechan"], &[]);
    {
        let store = Store::open(&url).await.expect("open store");
        let want = fill(&store, &settings).await;
        store.opt_out(&to_hex(&user_hash("shy")), "shy", "asked", 1).await.expect("opt out");
        drop(store);
        let daemon = Daemon::start(settings).await;
        let base = daemon.base.clone();
        wait_for("HTTP up", Duration::from_secs(30), || async {
            (get_json(&format!("{base}/healthz")).await.0 == 200).then_some(())
        })
        .await;

        // Every hour of dizzy (3 per epoch), through pages cut at every kind of boundary.
        let dizzy = &want["dizzy"];
        assert_eq!(dizzy.len(), (EPOCHS * 3) as usize);
        for limit in [1usize, 2, 3, 4, 5, 7, 50, 107, 108, 109, 1000] {
            assert_eq!(
                &walk(&base, "dizzy", &format!("limit={limit}"), limit).await,
                dizzy,
                "dizzy by pages of {limit}"
            );
        }
        // The default page: 50 hours at most, whole epochs (48 = 16 epochs of 3).
        let (status, body) = get_json(&format!("{base}/v1/users/dizzy/epochs")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(items(&body), dizzy[..48].to_vec());
        let flags: Vec<bool> = body["items"].as_array().unwrap().iter().map(|i| i["published"] == true).collect();
        assert_eq!(flags.iter().filter(|p| **p).count(), 1, "one published hour on dizzy's first page: {flags:?}");
        assert_eq!(body["next_before"], dizzy[47].0);
        assert_eq!(body["login"], "dizzy");
        assert_eq!(body["user_hash"], format!("0x{}", to_hex(&user_hash("dizzy"))));
        // Any case of the login; a channel filter in any case.
        let (_, upper) = get_json(&format!("{base}/v1/users/DiZzY/epochs")).await;
        assert_eq!(upper, body);
        for ch in CHANNELS {
            let only: Hours = dizzy.iter().filter(|h| h.1 == ch).cloned().collect();
            assert_eq!(walk(&base, "dizzy", &format!("channel={}&limit=5", ch.to_uppercase()), 5).await, only, "#{ch}");
        }
        // `before` is exclusive.
        let cut = FIRST + 10 * HOUR;
        let (_, older) = get_json(&format!("{base}/v1/users/dizzy/epochs?before={cut}&limit=1000")).await;
        assert_eq!(items(&older), dizzy.iter().filter(|h| h.0 < cut).cloned().collect::<Hours>());
        assert!(older["next_before"].is_null());

        // Many users: each one's hours in full, by pages of 13.
        for u in (0..USERS).step_by(17) {
            let login = format!("viewer{u}");
            assert_eq!(&walk(&base, &login, "limit=13", 13).await, &want[&login], "{login}");
        }

        // Past the claim cap in #ch_c: amount null there, present elsewhere, and the claim
        // route agrees on both.
        let late = &want["latecomer"];
        let got = walk(&base, "latecomer", "limit=1000", 1000).await;
        assert_eq!(&got, late);
        assert!(got.iter().all(|h| (h.1 == "ch_c") == h.3.is_none()), "{got:?}");
        let capped = got.iter().find(|h| h.1 == "ch_c").unwrap();
        let (status, err) = get_json(&format!("{base}/v1/epochs/{}/ch_c/claim/latecomer", capped.0)).await;
        assert_eq!((status, err["error"].as_str()), (404, Some("not_in_claim_tree")), "{err}");
        let paid = got.iter().find(|h| h.1 == "ch_a").unwrap();
        let (status, claim) = get_json(&format!("{base}/v1/epochs/{}/ch_a/claim/latecomer", paid.0)).await;
        assert_eq!(status, 200, "{claim}");
        assert_eq!(
            (claim["amount"].as_str().map(String::from), claim["index"].as_i64()),
            (paid.3.clone(), Some(paid.2))
        );

        // Opted out: refused, whatever they took part in.
        assert!(want["shy"].len() >= 3);
        for u in ["shy", "SHY"] {
            let (status, err) = get_json(&format!("{base}/v1/users/{u}/epochs")).await;
            assert_eq!((status, err["error"].as_str()), (403, Some("opted_out")), "{err}");
        }
        // Never seen: an empty answer.
        let (status, ghost) = get_json(&format!("{base}/v1/users/ghost/epochs")).await;
        assert_eq!(status, 200, "{ghost}");
        assert_eq!((ghost["items"].as_array().map(Vec::len), ghost["next_before"].is_null()), (Some(0), true));
        // Bad parameters: the JSON error body.
        for bad in [
            "a-b/epochs",
            "dizzy/epochs?limit=0",
            "dizzy/epochs?limit=1001",
            "dizzy/epochs?channel=no%20such",
            &format!("{}/epochs", "x".repeat(65)),
        ] {
            let (status, err) = get_json(&format!("{base}/v1/users/{bad}")).await;
            assert_eq!((status, err["error"].as_str()), (400, Some("bad_request")), "{bad}: {err}");
        }
        daemon.stop().await.expect("graceful stop");
    }
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_hours_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_hours_on_postgres() {
    let Some((url, _db)) = chatseal_schema::testing::fresh_pg_url().await else { return };
    scenario(url).await;
}
