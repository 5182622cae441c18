//! The backup folder layout (manifest format 2): `<id>/manifest.json` beside `<id>/data/`,
//! whose `merkle_hash` root the manifest records. A flipped byte in a data file and a file
//! added to `data/` both fail verification (and restore refuses them); a backup in the format 1
//! layout (data beside the manifest, no folder root) still lists, verifies and restores.

use std::path::Path;

use chatseal_actors::backup::manifest::{
    Manifest, DATA_DIR, FOLDER_HASH_ALGORITHM, MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_FORMAT_V1, SQLITE_FILE,
};
use chatseal_actors::backup::{take_backup, verify, BackupError, PgDump};
use chatseal_schema::Store;

use crate::harness::{now_ms, sqlite_url};

/// Writes `users` participants into one hour of "alpha" and seals it; returns the epoch.
pub async fn seed_one_sealed_epoch(store: &Store, users: i64) -> i64 {
    let (e, len) = (1_700_000_000 / 3600 * 3600, 3600);
    crate::harness::write_chatters(store, e, "alpha", users).await;
    let cfg = chatseal::daemon::wiring::seal_config(&chatseal::settings::Settings::default());
    chatseal_actors::sealer::run::seal_channel_epoch(store, &cfg, e, len, "alpha", e + len).await.unwrap();
    e
}

/// `chatseal <args>` with the store and backup dir set through the environment: (exit code,
/// stdout and stderr together).
fn cli(args: &[&str], store_url: &str, backup_dir: &Path) -> (i32, String) {
    cli_env(args, store_url, backup_dir, &[])
}

/// [`cli`] with more environment.
pub fn cli_env(args: &[&str], store_url: &str, backup_dir: &Path, extra: &[(&str, &str)]) -> (i32, String) {
    let (code, out, err) = crate::backup::cli_env(args, store_url, backup_dir, extra);
    (code, format!("{out}{err}"))
}

fn damaged(r: Result<Manifest, BackupError>) -> String {
    match r {
        Err(BackupError::Damaged { detail, .. }) => detail,
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_root_catches_changed_and_added_files() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    let store = Store::open(&url).await.unwrap();
    let epoch = seed_one_sealed_epoch(&store, 7).await;
    let backups = dir.path().join("backups");
    let m = take_backup(&store, &url, &backups, now_ms(), &PgDump::Auto).await.expect("backup");
    store.close().await.unwrap();

    // The layout and the record of the folder hash.
    let folder = backups.join(&m.id);
    assert_eq!(m.format, MANIFEST_FORMAT);
    let h = m.merkle_hash.clone().expect("a format 2 manifest has the folder root");
    assert_eq!(
        (h.algorithm.as_str(), h.hash_names, h.folder.as_str(), h.root.len()),
        (FOLDER_HASH_ALGORITHM, true, DATA_DIR, 64)
    );
    let mut top: Vec<String> =
        std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    top.sort();
    assert_eq!(top, [DATA_DIR, MANIFEST_FILE]);
    assert!(folder.join(DATA_DIR).join(SQLITE_FILE).is_file());
    assert_eq!(verify(&folder).await.expect("fresh backup verifies").merkle_hash, Some(h.clone()));

    // A file added to data/ (sha256 of the listed files still match): the root catches it,
    // and the message names the file.
    let extra = folder.join(DATA_DIR).join("notes.txt");
    std::fs::write(&extra, b"left here by someone").unwrap();
    let detail = damaged(verify(&folder).await);
    assert!(detail.contains("merkle_hash") && detail.contains("notes.txt"), "{detail}");
    let fresh = tempfile::tempdir().unwrap();
    let (code, text) = cli(&["restore", "--from", &m.id, "--to", &sqlite_url(fresh.path())], &url, &backups);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("refusing") && text.contains("merkle_hash"), "{text}");
    assert!(!fresh.path().join(SQLITE_FILE).exists(), "nothing restored");
    std::fs::remove_file(&extra).unwrap();
    verify(&folder).await.expect("sound again once the file is gone");

    // A flipped byte in the data file: its sha256 catches it first.
    let file = folder.join(DATA_DIR).join(SQLITE_FILE);
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x20;
    std::fs::write(&file, &bad).unwrap();
    let detail = damaged(verify(&folder).await);
    assert!(detail.contains("sha256") && detail.contains(SQLITE_FILE), "{detail}");
    // A manifest edited to match the flipped file's sha256 still fails on the folder root.
    let (size, sha) = {
        use sha2::Digest;
        (bad.len() as u64, hex::encode(sha2::Sha256::digest(&bad)))
    };
    let mut forged = m.clone();
    forged.files[0].sha256 = sha;
    forged.files[0].size = size;
    forged.files_sha256 = chatseal_actors::backup::manifest::files_digest(&forged.files);
    std::fs::write(folder.join(MANIFEST_FILE), serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    let detail = damaged(verify(&folder).await);
    assert!(detail.contains("merkle_hash"), "{detail}");
    std::fs::write(&file, &good).unwrap();
    std::fs::write(folder.join(MANIFEST_FILE), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    verify(&folder).await.expect("restored bytes verify");

    // The format 1 layout of earlier builds: files beside the manifest, no folder root.
    std::fs::rename(&file, folder.join(SQLITE_FILE)).unwrap();
    std::fs::remove_dir(folder.join(DATA_DIR)).unwrap();
    let mut old = m.clone();
    old.format = MANIFEST_FORMAT_V1;
    old.merkle_hash = None;
    std::fs::write(folder.join(MANIFEST_FILE), serde_json::to_vec_pretty(&old).unwrap()).unwrap();
    let (code, text) = cli(&["backup", "list"], &url, &backups);
    assert_eq!(code, 0, "{text}");
    assert!(text.lines().any(|l| l.starts_with(&m.id)), "{text}");
    let (code, text) = cli(&["backup", "verify", &m.id], &url, &backups);
    assert_eq!(code, 0, "{text}");
    let (code, text) = cli(&["restore", "--from", &m.id, "--to", &sqlite_url(fresh.path())], &url, &backups);
    assert_eq!(code, 0, "{text}");
    let restored = Store::open(&sqlite_url(fresh.path())).await.unwrap();
    let mut want = m.row_counts.clone();
    *want.get_mut("audit_log").unwrap() += 1; // the restore records itself
    assert_eq!(restored.row_counts().await.unwrap(), want);
    let live = Store::open(&url).await.unwrap();
    assert_eq!(restored.sealed_epoch(epoch, "alpha").await.unwrap(), live.sealed_epoch(epoch, "alpha").await.unwrap());
}
