//! Shared by the `startup` and `backup` benches: a realistic SQLite store of about
//! `CHATSEAL_BENCH_STORE_MB` (default 1024) MiB, built ONCE and reused across runs.
//!
//! It is written only through the schema crate's own paths, as the daemon writes it:
//! participation, signals, users and coverage through `Store::begin_flush` /
//! `FlushTx::upsert_participation` / `upsert_coverage` (one transaction per epoch), and every
//! (epoch, channel) sealed by the sealer's own `seal_channel_epoch` (read, both trees,
//! `write_seal` with its digest), so the digest check at start-up verifies real seals.
//!
//! Layout: [`CHANNELS`] channels whose sizes fall off as 1/rank (the biggest about 12,000
//! participants an hour, the smallest 240), times an hour-of-day factor of 0.75 to 1.25; users
//! drawn from a pool of [`USER_POOL`] logins, so they recur across channels and hours. Sealed
//! hours are added going back from the last hour closed at build time until the file reaches
//! the target size. One more hour, not sealed, holds the participation of "the current hour"
//! and [`SEEN_IDS`] message ids in `seen_ids` (about 280 lines/s for an hour): it is dated in
//! 2100 so that no daemon started on the store ever seals it, and the store stays the same from
//! run to run (a daemon adds only its coverage spans and an empty seal per hour it runs in).
//! The sealer's cursor (`meta` key `sealer.next_epoch`) is set as a daemon would leave it.
//!
//! The store lives at `CHATSEAL_BENCH_STORE` (a file path) or under the target directory
//! (`target/tmp/chatseal-bench-store-<MB>mb.db`); `<path>.done` holds what was built (JSON), and
//! a store without it (an interrupted build) is deleted and built again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chatseal::daemon::wiring::{seal_config, secs};
use chatseal::settings::load_from;
use chatseal_actors::format::user_hash;
use chatseal_actors::sealer::run::{seal_channel_epoch, SealOutcome};
use chatseal_schema::{CoverageSpan, ParticipationDelta, SeenId, SignalKind, Signals, Store};

/// Channels in the store.
pub const CHANNELS: usize = 50;
/// Distinct logins the participants are drawn from.
pub const USER_POOL: usize = 400_000;
/// Participants of the biggest channel in an average hour (channel c has this / (c + 1)).
const TOP_CHANNEL: f64 = 12_000.0;
/// Message ids of the unsealed hour.
pub const SEEN_IDS: usize = 1_000_000;
/// Ids per flush transaction while filling `seen_ids`.
const IDS_PER_TX: usize = 100_000;
/// 2100-01-01T00:00:00Z, an hour boundary: the unsealed hour, which no daemon reaches.
pub const UNSEALED_EPOCH: i64 = 4_102_444_800;
/// The sealer actor's cursor key (`actors/src/sealer/actor.rs`, `CURSOR_KEY`).
const SEALER_CURSOR_KEY: &str = "sealer.next_epoch";

/// What the built store holds (`<path>.done`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuiltStore {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub sealed_epochs: usize,
    pub seals: usize,
    pub sealed_participants: u64,
    pub seen_ids: usize,
    pub unsealed_participants: u64,
    pub build_seconds: f64,
    pub built_at: String,
}

/// Channel name of rank `c`.
pub fn channel(c: usize) -> String {
    format!("bigchan{c:02}")
}

/// Target size, MiB.
pub fn target_mb() -> u64 {
    match std::env::var("CHATSEAL_BENCH_STORE_MB") {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("CHATSEAL_BENCH_STORE_MB={v:?} is not a number of MiB")),
        Err(_) => 1024,
    }
}

/// Where the store is (or will be) built.
pub fn store_path() -> PathBuf {
    match std::env::var("CHATSEAL_BENCH_STORE") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chatseal-bench-store-{}mb.db", target_mb())),
    }
}

fn done_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".done");
    PathBuf::from(s)
}

/// Bytes of the database file plus its WAL.
pub fn file_bytes(db: &Path) -> u64 {
    let wal = {
        let mut s = db.as_os_str().to_owned();
        s.push("-wal");
        PathBuf::from(s)
    };
    [db.to_path_buf(), wal].iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum()
}

/// Participants of channel `c` in the hour `epoch`.
fn participants(c: usize, epoch: i64, len: i64) -> usize {
    let hour = (epoch / len).rem_euclid(24) as f64;
    let factor = 0.75 + 0.5 * hour / 23.0;
    ((TOP_CHANNEL / (c + 1) as f64) * factor).round().max(20.0) as usize
}

/// The user (index in the pool) of participant `i` of channel `c` in hour number `k`.
fn user(c: usize, k: i64, i: usize) -> usize {
    let base = (c * 7919 + (k.unsigned_abs() as usize) * 104_729) % USER_POOL;
    // 7 is coprime with the pool (2^7 * 5^5): distinct users within one channel-hour.
    (base + i * 7) % USER_POOL
}

fn delta(epoch: i64, len: i64, ch: &str, c: usize, k: i64, i: usize) -> ParticipationDelta<'static> {
    let u = user(c, k, i);
    let login = format!("viewer{u}");
    let first_seen = epoch + ((u * 7919 + i) as i64) % len;
    let mut signals = Signals::default().with(SignalKind::Message, 1 + (u as i64 % 40));
    if u.is_multiple_of(50) {
        signals[SignalKind::Bits] = 100 * (1 + (i as i64 % 5));
    }
    if u.is_multiple_of(97) {
        signals[SignalKind::Sub] = 1;
    }
    if u.is_multiple_of(131) {
        signals[SignalKind::Resub] = 1;
    }
    if u.is_multiple_of(211) {
        signals[SignalKind::Gift] = 5;
    }
    ParticipationDelta {
        epoch,
        channel: ch.to_string().into(),
        user_hash: user_hash(&login),
        user_id: Some((100_000_000 + u).to_string().into()),
        display_name: Some(format!("Viewer{u}").into()),
        login: login.into(),
        first_seen,
        last_seen: (first_seen + 900).min(epoch + len - 1),
        signals,
    }
}

/// Writes the participation and coverage of every channel in hour `epoch` (number `k`) in one
/// flush transaction; the number of participant rows.
async fn fill_hour(store: &Store, epoch: i64, len: i64, k: i64) -> u64 {
    let mut rows = Vec::new();
    let mut spans = Vec::new();
    for c in 0..CHANNELS {
        let ch = channel(c);
        rows.extend((0..participants(c, epoch, len)).map(|i| delta(epoch, len, &ch, c, k, i)));
        spans.push(CoverageSpan { channel: ch, started_ms: epoch * 1000, until_ms: (epoch + len) * 1000 });
    }
    let tx = store.begin_flush().await.unwrap_or_else(|e| panic!("begin flush: {e}"));
    tx.upsert_participation(&rows).await.unwrap_or_else(|e| panic!("participation of {epoch}: {e}"));
    tx.upsert_coverage(&spans).await.unwrap_or_else(|e| panic!("coverage of {epoch}: {e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("commit of {epoch}: {e}"));
    rows.len() as u64
}

/// The built store: reused when `<path>.done` exists, else built now (minutes).
pub async fn ensure() -> BuiltStore {
    let db = store_path();
    let done = done_path(&db);
    if let Ok(text) = std::fs::read_to_string(&done) {
        if db.exists() {
            let built: BuiltStore =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}; delete it to rebuild", done.display()));
            println!(
                "store: reusing {} ({:.0} MiB, built {})",
                db.display(),
                file_bytes(&db) as f64 / 1048576.0,
                built.built_at
            );
            return built;
        }
    }
    for suffix in ["", "-wal", "-shm", ".done"] {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(s));
    }
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    }
    build(&db, target_mb() * 1024 * 1024).await
}

async fn build(db: &Path, target: u64) -> BuiltStore {
    let started = Instant::now();
    println!("store: building {} up to {} MiB (once; reused by later runs)", db.display(), target / 1048576);
    let url = format!("sqlite://{}", db.display());
    let store = Store::open(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    let settings = load_from(None, &[]).unwrap_or_else(|e| panic!("default settings: {e}"));
    let cfg = seal_config(&settings);
    let len = secs(settings.epoch.length);

    // The unsealed hour: its participation and its message ids.
    let unsealed_participants = fill_hour(&store, UNSEALED_EPOCH, len, -1).await;
    let mut n = 0usize;
    while n < SEEN_IDS {
        let ids: Vec<SeenId> = (n..(n + IDS_PER_TX).min(SEEN_IDS))
            .map(|i| SeenId {
                id: format!(
                    "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                    i.wrapping_mul(2_654_435_761) as u32,
                    i % 65_536,
                    i % 4096,
                    (i / 7) % 4096,
                    i
                )
                .into(),
                epoch: UNSEALED_EPOCH,
                channel: channel(i % CHANNELS).into(),
            })
            .collect();
        let tx = store.begin_flush().await.unwrap_or_else(|e| panic!("begin flush: {e}"));
        let fresh = tx.insert_seen_ids(&ids).await.unwrap_or_else(|e| panic!("seen ids: {e}"));
        assert!(fresh.iter().all(|new| *new), "every generated message id is distinct");
        tx.commit().await.unwrap_or_else(|e| panic!("commit seen ids: {e}"));
        n += ids.len();
    }
    println!(
        "store: unsealed hour written ({unsealed_participants} participants, {SEEN_IDS} message ids), {:.0} MiB",
        file_bytes(db) as f64 / 1048576.0
    );

    // Sealed hours, newest first, until the target size.
    let now_s =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let newest = now_s.div_euclid(len) * len - len;
    let (mut hours, mut seals, mut sealed_participants) = (0usize, 0usize, 0u64);
    while file_bytes(db) < target {
        let k = hours as i64;
        let epoch = newest - k * len;
        let t = Instant::now();
        let rows = fill_hour(&store, epoch, len, k).await;
        for c in 0..CHANNELS {
            let ch = channel(c);
            match seal_channel_epoch(&store, &cfg, epoch, len, &ch, epoch + len + 120).await {
                Ok(SealOutcome::Sealed(s)) => sealed_participants += s.participants as u64,
                other => panic!("sealing {epoch} #{ch}: expected a new seal, got {other:?}"),
            }
            seals += 1;
        }
        hours += 1;
        println!(
            "store: hour {hours} ({epoch}): {rows} participants filled and sealed in {:.1} s; {:.0} MiB",
            t.elapsed().as_secs_f64(),
            file_bytes(db) as f64 / 1048576.0
        );
    }
    store
        .set_meta(SEALER_CURSOR_KEY, &(newest + len).to_string())
        .await
        .unwrap_or_else(|e| panic!("sealer cursor: {e}"));
    store.checkpoint().await.unwrap_or_else(|e| panic!("checkpoint: {e}"));
    store.close().await.unwrap_or_else(|e| panic!("close: {e}"));
    let built = BuiltStore {
        path: db.to_path_buf(),
        size_bytes: file_bytes(db),
        sealed_epochs: hours,
        seals,
        sealed_participants,
        seen_ids: SEEN_IDS,
        unsealed_participants,
        build_seconds: started.elapsed().as_secs_f64(),
        built_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let done = done_path(db);
    std::fs::write(&done, serde_json::to_string_pretty(&built).unwrap_or_default())
        .unwrap_or_else(|e| panic!("write {}: {e}", done.display()));
    println!("store: built in {:.0} s: {built:?}", built.build_seconds);
    built
}

/// Drops the page cache of the store's files (GNU `dd iflag=nocache count=0`, no root
/// needed: only this file's clean pages), so the next open reads from disk. False if `dd`
/// refused (then the run is warm, and says so).
pub fn drop_file_cache(db: &Path) -> bool {
    let mut all = true;
    for suffix in ["", "-wal"] {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        let p = PathBuf::from(s);
        if !p.exists() {
            continue;
        }
        let ok = std::process::Command::new("dd")
            .arg(format!("if={}", p.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        all &= ok;
    }
    all
}
