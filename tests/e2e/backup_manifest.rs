//! Forged backup manifests, through the real binary: a manifest whose `id` is not its folder's
//! own name (`../../../etc`) is refused by `backup verify` and `restore` (nothing restored,
//! nothing audited); a format 2 manifest rewritten to format 1 does not skip the folder-root
//! check (refused while `data/` or `merkle_hash` is there; and a format 1 folder holding a file
//! its manifest does not list is refused too).

use std::path::Path;

use chatseal_actors::backup::manifest::{Manifest, DATA_DIR, MANIFEST_FILE, MANIFEST_FORMAT_V1, SQLITE_FILE};
use chatseal_actors::backup::{take_backup, PgDump};
use chatseal_schema::Store;

use crate::backup_layout::{cli_env, seed_one_sealed_epoch};
use crate::harness::{now_ms, sqlite_url};

fn write_manifest(folder: &Path, m: &Manifest) {
    std::fs::write(folder.join(MANIFEST_FILE), serde_json::to_vec_pretty(m).unwrap()).unwrap();
}

/// `restore --from id` into a fresh SQLite store: (exit code, output, whether the store exists).
fn restore_fresh(id: &str, url: &str, backups: &Path) -> (i32, String, bool) {
    let fresh = tempfile::tempdir().unwrap();
    let (code, text) = cli_env(&["restore", "--from", id, "--to", &sqlite_url(fresh.path())], url, backups, &[]);
    (code, text, fresh.path().join(SQLITE_FILE).exists())
}

async fn one_backup(dir: &Path) -> (String, std::path::PathBuf, Manifest) {
    let url = sqlite_url(dir);
    let store = Store::open(&url).await.unwrap();
    seed_one_sealed_epoch(&store, 3).await;
    let backups = dir.join("backups");
    let m = take_backup(&store, &url, &backups, now_ms(), &PgDump::Auto).await.expect("backup");
    store.close().await.unwrap();
    (url, backups, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_whose_id_is_not_its_folder_is_refused_and_nothing_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (url, backups, m) = one_backup(dir.path()).await;
    let folder = backups.join(&m.id);
    let (code, text) = cli_env(&["backup", "verify", &m.id], &url, &backups, &[]);
    assert_eq!(code, 0, "the untouched backup verifies: {text}");

    let mut forged = m.clone();
    forged.id = "../../../etc".into();
    write_manifest(&folder, &forged);
    let (code, text) = cli_env(&["backup", "verify", &m.id], &url, &backups, &[]);
    assert_ne!(code, 0, "verify must refuse the forged id: {text}");
    assert!(text.contains("is not its folder's name"), "{text}");
    let (code, text, restored) = restore_fresh(&m.id, &url, &backups);
    assert_ne!(code, 0, "restore must refuse the forged id: {text}");
    assert!(!restored, "nothing restored: {text}");
    // The source store's audit log never names the forged id.
    let store = Store::open(&url).await.unwrap();
    let audit = store.audit_log(100).await.expect("read the audit log");
    assert!(audit.iter().all(|a| !format!("{a:?}").contains("../")), "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_2_manifest_rewritten_to_format_1_does_not_skip_the_folder_root() {
    let dir = tempfile::tempdir().unwrap();
    let (url, backups, m) = one_backup(dir.path()).await;
    let folder = backups.join(&m.id);

    // Format 1 in the format 2 layout (data/ kept), with and without the merkle_hash field, and
    // a file slipped into data/ that the folder root would have caught.
    std::fs::write(folder.join(DATA_DIR).join("notes.txt"), b"slipped in").unwrap();
    for keep_hash in [true, false] {
        let mut old = m.clone();
        old.format = MANIFEST_FORMAT_V1;
        if !keep_hash {
            old.merkle_hash = None;
        }
        write_manifest(&folder, &old);
        let (code, text) = cli_env(&["backup", "verify", &m.id], &url, &backups, &[]);
        assert_ne!(code, 0, "verify must refuse the downgraded manifest (merkle_hash kept: {keep_hash}): {text}");
        assert!(text.contains("format 2 layout"), "{text}");
        let (code, text, restored) = restore_fresh(&m.id, &url, &backups);
        assert_ne!(code, 0, "{text}");
        assert!(!restored, "{text}");
    }

    // Even moved into the format 1 layout, a file the manifest does not list is refused.
    std::fs::rename(folder.join(DATA_DIR).join(SQLITE_FILE), folder.join(SQLITE_FILE)).unwrap();
    std::fs::rename(folder.join(DATA_DIR).join("notes.txt"), folder.join("notes.txt")).unwrap();
    std::fs::remove_dir(folder.join(DATA_DIR)).unwrap();
    let (code, text) = cli_env(&["backup", "verify", &m.id], &url, &backups, &[]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("notes.txt"), "{text}");
    // Without the stray file it is a sound format 1 backup again.
    std::fs::remove_file(folder.join("notes.txt")).unwrap();
    let (code, text) = cli_env(&["backup", "verify", &m.id], &url, &backups, &[]);
    assert_eq!(code, 0, "{text}");
}
