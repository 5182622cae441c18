//! The publish bundle of one sealed channel-epoch of 100,000 participants on SQLite: read the
//! seal and its frozen rows, build both trees from the stored leaves, check them against the
//! sealed roots, and write every entry with both proofs to a file (what `chatseal export --out`
//! does; the HTTP route runs the same writer). Bar (performance.md): <= 2 s, memory bounded by
//! the tree. Also verifies the written bundle once (`chatseal verify-export`'s code) and
//! prints its size and the time of each phase, and the peak RSS of the release `chatseal
//! export --out` writing the same bundle as a process of its own (VmHWM, sampled every 5 ms
//! until it exits: the kernel's high-water mark, so no peak between samples is missed).
//! `CHATSEAL_BENCH_PARTICIPANTS` (default 100,000) changes the seal's size: runs at several
//! sizes split the process's peak RSS into what grows with the tree and what does not.
//! `cargo bench --bench export`
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or bench: a panic is its failure report

#[path = "support/epoch_fixture.rs"]
mod epoch_fixture;
#[allow(dead_code)]
#[path = "support/pipeline_sample.rs"]
mod sample;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
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
    let participants = std::env::var("CHATSEAL_BENCH_PARTICIPANTS")
        .map(|v| v.parse().unwrap_or_else(|e| panic!("CHATSEAL_BENCH_PARTICIPANTS={v}: {e}")))
        .unwrap_or(PARTICIPANTS);
    let n = if std::env::args().any(|a| a == "--bench") { participants } else { 100 };
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

    let (wall, peak) = export_process(&url, &dir.path().join("bundle-cli.json"));
    eprintln!(
        "`chatseal export --out` as its own process: {:.3} s, peak RSS {}",
        wall.as_secs_f64(),
        peak.map_or("not read".into(), |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)))
    );

    let mut group = c.benchmark_group("export");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("bundle_100k_participants_sqlite_to_file", |b| b.iter(|| write_once().1));
    group.finish();
}

/// Runs the release binary's `chatseal export --out` on the bench's store: its wall time and
/// its last VmHWM read before it exited (None if it exited before the first read).
fn export_process(url: &str, out: &Path) -> (Duration, Option<u64>) {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatseal"))
        .args(["export", "--epoch", &EPOCH.to_string(), "--channel", CHANNEL, "--out"])
        .arg(out)
        .env("CHATSEAL__STORE__URL", url)
        .spawn()
        .unwrap_or_else(|e| panic!("spawning chatseal export: {e}"));
    let mut peak = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(b) = sample::peak_rss_bytes(child.id()) {
            peak = Some(b);
        }
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("waiting for chatseal export: {e}")) {
            break status;
        }
        assert!(Instant::now() < deadline, "chatseal export did not finish in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "chatseal export failed: {status}");
    (t.elapsed(), peak)
}

criterion_group!(benches, export);
criterion_main!(benches);
