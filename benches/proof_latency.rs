//! Proof latency over HTTP, warm: a SQLite store holding one sealed channel-epoch of 100,000
//! participants, the daemon started in-process through `chatseal::daemon::run` (the path
//! `main` runs) against the fake Twitch server, then GET
//! `/v1/epochs/{epoch}/{channel}/proof/{login}` for 2,000 random participants, one after
//! the other on one keep-alive connection, then from 64 concurrent keep-alive clients (each its
//! own connection) for [`PER_CLIENT`] requests each. Prints p50, p90, p99 and max in ms, and the
//! proofs per second of the 64 clients. The daemon runs on its own 2-thread runtime, the
//! clients on another: both share the machine's cores, as a daemon and its clients on one host do.
//! Bars (performance.md): one client p99 <= 2 ms warm; 64 clients >= 20,000 proofs/s, p99 <= 10 ms.
//! `cargo bench --bench proof_latency`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/epoch_fixture.rs"]
mod epoch_fixture;

use std::time::{Duration, Instant};

use chatseal::daemon::wiring::seal_config;
use chatseal::daemon::{run, RunOptions};
use chatseal::settings::load_from;
use chatseal::twitchsim::{FakeTwitch, FakeTwitchConfig};
use chatseal_actors::sealer::run::{seal_channel_epoch, SealOutcome};
use chatseal_schema::Store;
use rand::{Rng, SeedableRng};

const PARTICIPANTS: usize = 100_000;
const LEN: i64 = 3600;
const CHANNEL: &str = "benchchannel";
const WARM_UP: usize = 500;
const MEASURED: usize = 2_000;
/// Concurrent keep-alive clients of the second part.
const CLIENTS: usize = 64;
/// Requests each of them makes, after one that opens its connection (not measured).
const PER_CLIENT: usize = 400;

/// The value at quantile `q` (0..=1) of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One GET, timed until the whole body has arrived; panics unless it answers 200.
async fn get(client: &reqwest::Client, url: &str) -> Duration {
    let started = Instant::now();
    let resp = client.get(url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_else(|e| panic!("GET {url} body: {e}"));
    let elapsed = started.elapsed();
    if status != 200 {
        panic!("GET {url}: status {status}, body {body}");
    }
    elapsed
}

async fn bench(daemon_rt: tokio::runtime::Handle) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("proof-bench.db").display());
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_else(|e| panic!("clock before 1970: {e}"));
    // A closed epoch two hours back: the daemon's sealer has nothing left to do with it.
    let epoch = now_s.div_euclid(LEN) * LEN - 2 * LEN;

    let fake = FakeTwitch::start(FakeTwitchConfig::default()).await.unwrap_or_else(|e| panic!("fake twitch: {e}"));
    let env: Vec<(String, String)> = [
        ("CHATSEAL__TWITCH__SERVER", fake.addr().ip().to_string()),
        ("CHATSEAL__TWITCH__PORT", fake.addr().port().to_string()),
        ("CHATSEAL__TWITCH__TLS", "false".to_string()),
        ("CHATSEAL__TWITCH__CHANNELS", CHANNEL.to_string()),
        ("CHATSEAL__STORE__URL", url.clone()),
        ("CHATSEAL__HTTP__LISTEN", "127.0.0.1:0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = load_from(None, &env).unwrap_or_else(|e| panic!("settings: {e}"));

    {
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
        let started = Instant::now();
        epoch_fixture::fill_epoch(&store, epoch, LEN, CHANNEL, PARTICIPANTS)
            .await
            .unwrap_or_else(|e| panic!("fill: {e}"));
        match seal_channel_epoch(&store, &seal_config(&settings), epoch, LEN, CHANNEL, now_s).await {
            Ok(SealOutcome::Sealed(s)) if s.participants == PARTICIPANTS as i64 => {}
            other => panic!("expected a new seal of {PARTICIPANTS} participants, got {other:?}"),
        }
        eprintln!(
            "prepared and sealed epoch {epoch} of #{CHANNEL} ({PARTICIPANTS} participants) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        store.close().await.unwrap_or_else(|e| panic!("closing the prepared store: {e}"));
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener.set_nonblocking(true).unwrap_or_else(|e| panic!("nonblocking: {e}"));
    let base = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("local addr: {e}")));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = daemon_rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap_or_else(|e| panic!("listener: {e}"));
        let stop = async move {
            let _ = stop_rx.await;
        };
        run(settings, listener, stop, RunOptions::default()).await
    });
    if !fake.wait_joined(CHANNEL, Duration::from_secs(30)).await {
        panic!("the daemon did not join #{CHANNEL} within 30 s");
    }

    let client = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(epoch as u64);
    let proof_url = |rng: &mut rand::rngs::StdRng| {
        let i = rng.random_range(0..PARTICIPANTS);
        format!("{base}/v1/epochs/{epoch}/{CHANNEL}/proof/{}", epoch_fixture::login(i))
    };
    let cold = get(&client, &proof_url(&mut rng)).await;
    for _ in 0..WARM_UP {
        get(&client, &proof_url(&mut rng)).await;
    }
    let mut lat: Vec<f64> = Vec::with_capacity(MEASURED);
    for _ in 0..MEASURED {
        lat.push(ms(get(&client, &proof_url(&mut rng)).await));
    }
    println!("proof latency, sealed epoch of {PARTICIPANTS} participants, SQLite, {MEASURED} random users after {WARM_UP} warm-up requests");
    println!("first (cold) request: {:.2} ms", ms(cold));
    print_latencies(lat, "bar: p99 <= 2 ms");
    concurrent(&base, epoch).await;

    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(60), daemon).await {
        Ok(Ok(Ok(()))) => {}
        other => panic!("the daemon did not stop cleanly: {other:?}"),
    }
    fake.shutdown().await;
}

/// The second part: [`CLIENTS`] keep-alive clients at once, each on its own connection, each
/// asking for [`PER_CLIENT`] random proofs one after the other.
async fn concurrent(base: &str, epoch: i64) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let base = base.to_string();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap_or_else(|e| panic!("http client: {e}"));
                let mut rng = rand::rngs::StdRng::seed_from_u64(epoch as u64 ^ (c as u64 + 1));
                let url = |rng: &mut rand::rngs::StdRng| {
                    let i = rng.random_range(0..PARTICIPANTS);
                    format!("{base}/v1/epochs/{epoch}/{CHANNEL}/proof/{}", epoch_fixture::login(i))
                };
                get(&client, &url(&mut rng)).await;
                let mut lat = Vec::with_capacity(PER_CLIENT);
                for _ in 0..PER_CLIENT {
                    lat.push(ms(get(&client, &url(&mut rng)).await));
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<f64> = Vec::with_capacity(CLIENTS * PER_CLIENT);
    for t in tasks {
        lat.extend(t.await.unwrap_or_else(|e| panic!("client task: {e}")));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{CLIENTS} concurrent keep-alive clients, {PER_CLIENT} proofs each: {:.0} proofs/s ({} in {elapsed:.2} s, connections included)",
        lat.len() as f64 / elapsed,
        lat.len()
    );
    print_latencies(lat, "bars: >= 20,000 proofs/s, p99 <= 10 ms");
}

/// Prints the load average and the quantiles of `lat` (ms) with `bars`.
fn print_latencies(mut lat: Vec<f64>, bars: &str) {
    lat.sort_by(f64::total_cmp);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
    println!(
        "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms  ({bars})",
        quantile(&lat, 0.50),
        quantile(&lat, 0.90),
        quantile(&lat, 0.99),
        quantile(&lat, 1.0)
    );
}

fn main() {
    // `cargo test --benches` runs bench targets with no `--bench` flag: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
    };
    let daemon_rt = runtime("daemon");
    let clients_rt = runtime("clients");
    clients_rt.block_on(bench(daemon_rt.handle().clone()));
}
