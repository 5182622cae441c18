//! Sealing one channel-epoch of 100,000 participants on SQLite (FULL, WAL): read the
//! participants and their signals, build the participation and claim trees, write the seal and
//! its 100,000 frozen leaves in one transaction. Bar (performance.md): <= 2 s.
//!
//! Each iteration first fills a fresh epoch of the same store through the aggregator's flush
//! path (untimed), then times `seal_channel_epoch` alone, as the sealer actor calls it.
//! Before the measurement it seals one more epoch phase by phase (read, build both trees,
//! write) and prints the time of each, so a result over the bar says which part to look at.
//! `cargo bench --bench seal`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/epoch_fixture.rs"]
mod epoch_fixture;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chatseal::daemon::wiring::seal_config;
use chatseal::settings::load_from;
use chatseal_actors::sealer::build::build_seal;
use chatseal_actors::sealer::run::{seal_channel_epoch, SealOutcome};
use chatseal_schema::Store;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

const PARTICIPANTS: usize = 100_000;
const LEN: i64 = 3600;
const FIRST_EPOCH: i64 = 1_761_753_600;
const CHANNEL: &str = "benchchannel";

/// Seals (epoch, CHANNEL) the way `seal_channel_epoch` does, timing each phase; prints them.
async fn breakdown(store: &Store, cfg: &chatseal_actors::sealer::SealConfig, epoch: i64) {
    let t = Instant::now();
    let rows = store.participants_for_seal(epoch, CHANNEL).await.unwrap_or_else(|e| panic!("read: {e}"));
    let read = t.elapsed();
    let t = Instant::now();
    let seal = build_seal(epoch, CHANNEL, rows, cfg, &HashSet::new(), 1.0, epoch + LEN + 120)
        .unwrap_or_else(|e| panic!("build: {e}"));
    let build = t.elapsed();
    let t = Instant::now();
    store.write_seal(&seal).await.unwrap_or_else(|e| panic!("write: {e}"));
    let write = t.elapsed();
    eprintln!(
        "one seal of {PARTICIPANTS} participants, phase by phase: read {:.3} s, build both trees {:.3} s, write {:.3} s",
        read.as_secs_f64(),
        build.as_secs_f64(),
        write.as_secs_f64()
    );
}

fn seal(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("seal-bench.db").display());
    let store = rt.block_on(Store::open(&url)).unwrap_or_else(|e| panic!("open {url}: {e}"));
    let settings = load_from(None, &[]).unwrap_or_else(|e| panic!("default settings: {e}"));
    let cfg = seal_config(&settings);
    let mut next_epoch = FIRST_EPOCH;
    // Not under `cargo test --benches` (no `--bench` flag), where criterion runs each once.
    let benching = std::env::args().any(|a| a == "--bench");
    rt.block_on(async {
        if !benching {
            return;
        }
        epoch_fixture::fill_epoch(&store, next_epoch, LEN, CHANNEL, PARTICIPANTS)
            .await
            .unwrap_or_else(|e| panic!("filling: {e}"));
        breakdown(&store, &cfg, next_epoch).await;
    });
    next_epoch += LEN;

    let mut group = c.benchmark_group("seal");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("channel_epoch_100k_participants_sqlite", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let epoch = next_epoch;
                next_epoch += LEN;
                rt.block_on(epoch_fixture::fill_epoch(&store, epoch, LEN, CHANNEL, PARTICIPANTS))
                    .unwrap_or_else(|e| panic!("filling epoch {epoch}: {e}"));
                let now_s = epoch + LEN + 120;
                let started = Instant::now();
                let outcome = rt
                    .block_on(seal_channel_epoch(&store, &cfg, epoch, LEN, CHANNEL, now_s))
                    .unwrap_or_else(|e| panic!("sealing epoch {epoch}: {e}"));
                timed += started.elapsed();
                match outcome {
                    SealOutcome::Sealed(s) if s.participants == PARTICIPANTS as i64 => {}
                    other => panic!("epoch {epoch}: expected a new seal of {PARTICIPANTS} participants, got {other:?}"),
                }
            }
            timed
        })
    });
    group.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
