//! The publish bundle of one sealed channel-epoch of 100,000 participants on SQLite: read the
//! seal and its frozen rows, build both trees from the stored leaves, check them against the
//! sealed roots, and write every entry with both proofs to a file (what `chatseal export --out`
//! does; the HTTP route runs the same writer). Bar (performance.md): <= 2 s, memory bounded by
//! the tree. Also verifies the written bundle once (`chatseal verify-export`'s code) and
//! prints its size and the time of each phase.
//! `cargo bench --bench export`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/epoch_fixture.rs"]
mod epoch_fixture;

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use chatseal::daemon::wiring::{program_limits, seal_config};
use chatseal::export::load_bundle;
use chatseal::settings::load_from;
use chatseal_actors::sealer::bundle::verify_bundle;
use chatseal_actors::sealer::limits::ProgramLimits;
use chatseal_actors::sealer::run::{seal_channel_epoch, SealOutcome};
use chatseal_schema::Store;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

const PARTICIPANTS: usize = 100_000;
const LEN: i64 = 3600;
const EPOCH: i64 = 1_761_753_600;
const CHANNEL: &str = "benchchannel";

fn export(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("export-bench.db").display());
    let store = rt.block_on(Store::open(&url)).unwrap_or_else(|e| panic!("open {url}: {e}"));
    let settings = load_from(None, &[]).unwrap_or_else(|e| panic!("default settings: {e}"));
    let limits = program_limits(&settings);
    let out = dir.path().join("bundle.json");
    // Not under `cargo test --benches` (no `--bench` flag), where criterion runs each once.
    let n = if std::env::args().any(|a| a == "--bench") { PARTICIPANTS } else { 100 };
    rt.block_on(async {
        epoch_fixture::fill_epoch(&store, EPOCH, LEN, CHANNEL, n).await.unwrap_or_else(|e| panic!("filling: {e}"));
        match seal_channel_epoch(&store, &seal_config(&settings), EPOCH, LEN, CHANNEL, EPOCH + LEN + 120).await {
            Ok(SealOutcome::Sealed(s)) if s.participants == n as i64 => {}
            other => panic!("expected a new seal of {n} participants, got {other:?}"),
        }
    });
    let write_once = || {
        let t = Instant::now();
        let bundle = rt.block_on(load_bundle(&store, EPOCH, CHANNEL, &limits)).unwrap_or_else(|e| panic!("load: {e}"));
        let loaded = t.elapsed();
        let mut w = BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(&out).unwrap_or_else(|e| panic!("create {}: {e}", out.display())),
        );
        bundle.write_all(&mut w).and_then(|()| w.flush()).unwrap_or_else(|e| panic!("write: {e}"));
        (loaded, t.elapsed())
    };
    let (loaded, total) = write_once();
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    let t = Instant::now();
    let file = std::fs::File::open(&out).unwrap_or_else(|e| panic!("open {}: {e}", out.display()));
    let v =
        verify_bundle(file, &ProgramLimits::default()).unwrap_or_else(|e| panic!("the bundle does not verify: {e}"));
    eprintln!(
        "bundle of {} participants: {:.1} MB; read + trees {:.3} s, written by {:.3} s; verify-export {:.3} s",
        v.participants,
        size as f64 / 1e6,
        loaded.as_secs_f64(),
        total.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );

    let mut group = c.benchmark_group("export");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("bundle_100k_participants_sqlite_to_file", |b| b.iter(|| write_once().1));
    group.finish();
}

criterion_group!(benches, export);
criterion_main!(benches);
