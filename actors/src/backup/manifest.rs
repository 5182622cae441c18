//! The manifest of one backup (`<backup.dir>/<id>/manifest.json`): what the backup holds and
//! how to check it: the files with their size and sha256, a digest over that file list, the
//! `merkle_hash` root of the data folder (`<id>/data/`, beside the manifest, so the manifest
//! is not part of what it hashes), row counts per table, the sealed epochs, the schema version,
//! and the checks passed when it was taken. Also the backup id (UTC time of the backup,
//! sortable) and the file names of the layout. Pure: serde and arithmetic only.
//!
//! Format 2 (this build) keeps the data in `<id>/data/` and records the folder's merkle root;
//! format 1 (earlier builds) kept the data files beside the manifest and has no folder root.
//! Both are read, listed, verified and restored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the manifest format written by this build.
pub const MANIFEST_FORMAT: u32 = 2;
/// The oldest manifest format this build still reads (data beside the manifest, no folder root).
pub const MANIFEST_FORMAT_V1: u32 = 1;
/// The data folder's name inside a backup folder (format 2).
pub const DATA_DIR: &str = "data";
/// The folder hash algorithm recorded in the manifest (the `merkle_hash` crate's).
pub const FOLDER_HASH_ALGORITHM: &str = "blake3";
/// The manifest's file name inside a backup folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The SQLite copy's file name inside a backup folder.
pub const SQLITE_FILE: &str = "chatseal.db";
/// The pg_dump archive's file name inside a backup folder.
pub const PG_DUMP_FILE: &str = "chatseal.pgdump";
/// Suffix of a file being written; it never counts as part of a backup.
pub const TMP_SUFFIX: &str = ".tmp";

/// How the backup was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// SQLite `VACUUM INTO`: one file, `chatseal.db`, a complete SQLite database.
    VacuumInto,
    /// PostgreSQL `pg_dump -Fc` of an exported snapshot: `chatseal.pgdump`.
    PgDump,
    /// PostgreSQL without pg_dump: one `<table>.jsonl` per table (a JSON object per row).
    JsonLines,
}

impl Method {
    /// Its name in the manifest, the status page and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::VacuumInto => "vacuum_into",
            Method::PgDump => "pg_dump",
            Method::JsonLines => "json_lines",
        }
    }
}

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Name inside the backup folder.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the contents.
    pub sha256: String,
}

/// The `merkle_hash` root of a backup's data folder: every file's contents and name, and the
/// folder's own name, so a changed, added, removed or renamed file changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderHash {
    /// "blake3" (the crate's default and only algorithm without its `sha` feature).
    pub algorithm: String,
    /// Names are hashed with the contents (`MerkleTreeBuilder::hash_names(true)`).
    pub hash_names: bool,
    /// The hashed folder, relative to the backup folder: "data".
    pub folder: String,
    /// Lowercase hex of the root hash.
    pub root: String,
}

impl FolderHash {
    /// The record of a root computed the way this build computes it.
    pub fn of_data(root: String) -> Self {
        Self { algorithm: FOLDER_HASH_ALGORITHM.into(), hash_names: true, folder: DATA_DIR.into(), root }
    }
}

/// `<id>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format ([`MANIFEST_FORMAT`] when written by this build, or [`MANIFEST_FORMAT_V1`]).
    pub format: u32,
    /// The backup id, also the folder's name ([`backup_id`]).
    pub id: String,
    /// When the snapshot was taken, Unix seconds.
    pub created_at: i64,
    /// The store it was taken from, password masked.
    pub source: String,
    /// "sqlite" or "postgres".
    pub backend: String,
    /// How the data was written.
    pub method: Method,
    /// Every data file of the backup.
    pub files: Vec<FileEntry>,
    /// Sum of the files' sizes, bytes.
    pub size_bytes: u64,
    /// sha256 over the sorted file list (see [`files_digest`]): one value for the whole backup.
    pub files_sha256: String,
    /// The data folder's `merkle_hash` root (format 2; absent in format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merkle_hash: Option<FolderHash>,
    /// Rows per table at the snapshot.
    pub row_counts: BTreeMap<String, i64>,
    /// Sealed (epoch, channel)s in the backup.
    pub sealed_epochs: i64,
    /// The newest sealed epoch in the backup, Unix seconds.
    pub newest_sealed_epoch: Option<i64>,
    /// The newest schema migration applied to the backed-up store.
    pub schema_version: Option<String>,
    /// Checks the backup passed when it was taken (e.g. "quick_check", "digests").
    pub checks: Vec<String>,
    /// How long taking it took, milliseconds.
    pub duration_ms: u64,
}

impl Manifest {
    /// The entry of `name`, if the backup has such a file.
    pub fn file(&self, name: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Where the data files of the backup in `folder` are: `folder/data` (format 2) or
    /// `folder` itself (format 1).
    pub fn data_dir(&self, folder: &Path) -> PathBuf {
        if self.format >= MANIFEST_FORMAT {
            folder.join(DATA_DIR)
        } else {
            folder.to_path_buf()
        }
    }

    /// The path of the data file `name` of the backup in `folder`.
    pub fn data_file(&self, folder: &Path, name: &str) -> PathBuf {
        self.data_dir(folder).join(name)
    }

    /// Problems with the manifest itself (format, totals, file names, digest), empty when sound.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.format != MANIFEST_FORMAT && self.format != MANIFEST_FORMAT_V1 {
            p.push(format!(
                "manifest format {} is neither {MANIFEST_FORMAT} nor {MANIFEST_FORMAT_V1}: written by another chatseal version",
                self.format
            ));
        }
        if self.format == MANIFEST_FORMAT {
            match &self.merkle_hash {
                None => p.push("the manifest has no merkle_hash of its data folder".into()),
                Some(h) if h.algorithm != FOLDER_HASH_ALGORITHM || !h.hash_names || h.folder != DATA_DIR => p.push(format!(
                    "merkle_hash {{algorithm: {:?}, hash_names: {}, folder: {:?}}} is not how chatseal hashes a backup ({FOLDER_HASH_ALGORITHM:?}, true, {DATA_DIR:?})",
                    h.algorithm, h.hash_names, h.folder
                )),
                Some(h) if h.root.len() != 64 || !h.root.bytes().all(|c| c.is_ascii_hexdigit()) => {
                    p.push(format!("merkle_hash root {:?} is not 32 bytes of hex", h.root))
                }
                Some(_) => {}
            }
        }
        if self.files.is_empty() {
            p.push("the manifest lists no file".into());
        }
        for f in &self.files {
            if f.name.is_empty() || f.name.contains(['/', '\\']) || f.name.starts_with('.') || f.name == MANIFEST_FILE {
                p.push(format!("the manifest lists a file named {:?}", f.name));
            }
        }
        let total: u64 = self.files.iter().map(|f| f.size).sum();
        if total != self.size_bytes {
            p.push(format!("size_bytes {} is not the sum of the file sizes {total}", self.size_bytes));
        }
        if files_digest(&self.files) != self.files_sha256 {
            p.push("files_sha256 does not match the file list".into());
        }
        p
    }
}

/// sha256 over `name NUL size NUL sha256 LF` of each file, sorted by name, as lowercase hex.
pub fn files_digest(files: &[FileEntry]) -> String {
    let mut sorted: Vec<&FileEntry> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.name.as_bytes());
        h.update([0]);
        h.update(f.size.to_string().as_bytes());
        h.update([0]);
        h.update(f.sha256.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The civil UTC date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The id of a backup taken at `unix_ms`: its UTC time, `YYYYMMDDTHHMMSSZ`, sortable as text;
/// `attempt` > 0 appends `-N` for a second backup within the same second.
pub fn backup_id(unix_ms: i64, attempt: u32) -> String {
    let secs = unix_ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let base = format!("{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z", t / 3600, t / 60 % 60, t % 60);
    if attempt == 0 {
        base
    } else {
        format!("{base}-{attempt}")
    }
}

/// True for a name [`backup_id`] can produce (what a backup folder is called).
pub fn is_backup_id(name: &str) -> bool {
    let (base, suffix) = match name.split_once('-') {
        Some((b, s)) => (b, Some(s)),
        None => (name, None),
    };
    let b = base.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let files = vec![FileEntry { name: SQLITE_FILE.into(), size: 4096, sha256: "ab".repeat(32) }];
        Manifest {
            format: MANIFEST_FORMAT,
            id: backup_id(1_715_522_702_123, 0),
            created_at: 1_715_522_702,
            source: "sqlite://data/chatseal.db".into(),
            backend: "sqlite".into(),
            method: Method::VacuumInto,
            size_bytes: 4096,
            files_sha256: files_digest(&files),
            merkle_hash: Some(FolderHash::of_data("0f".repeat(32))),
            files,
            row_counts: [("participation".to_string(), 12), ("sealed_epochs".to_string(), 2)].into_iter().collect(),
            sealed_epochs: 2,
            newest_sealed_epoch: Some(1_715_518_800),
            schema_version: Some("m20260601_000002_claim_cut".into()),
            checks: vec!["quick_check".into(), "digests".into()],
            duration_ms: 15,
        }
    }

    #[test]
    fn ids_are_utc_times_and_sort_as_text() {
        assert_eq!(backup_id(0, 0), "19700101T000000Z");
        assert_eq!(backup_id(1_715_522_702_123, 0), "20240512T140502Z");
        assert_eq!(backup_id(1_715_522_702_123, 2), "20240512T140502Z-2");
        assert_eq!(backup_id(951_782_400_000, 0), "20000229T000000Z", "leap day");
        assert!(backup_id(1_715_522_702_000, 0) < backup_id(1_715_522_703_000, 0));
        for id in ["20240512T140502Z", "20240512T140502Z-2"] {
            assert!(is_backup_id(id), "{id}");
        }
        for bad in ["quarantine", "20240512T140502Z-", "20240512x140502Z", "20240512T140502Z.tmp", ""] {
            assert!(!is_backup_id(bad), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_855), (2024, 5, 12));
    }

    #[test]
    fn manifest_round_trips_through_json() {
        let m = sample();
        let json = serde_json::to_string_pretty(&m).unwrap();
        assert!(json.contains("\"method\": \"vacuum_into\""), "{json}");
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(m.problems().is_empty(), "{:?}", m.problems());
    }

    #[test]
    fn problems_are_found() {
        let mut m = sample();
        m.files[0].sha256 = "cd".repeat(32);
        assert_eq!(m.problems(), ["files_sha256 does not match the file list"]);
        let mut m = sample();
        m.size_bytes = 1;
        m.format = 9;
        m.files[0].name = "../escape".into();
        assert_eq!(m.problems().len(), 4, "{:?}", m.problems());
    }

    #[test]
    fn format_2_needs_its_folder_hash_and_format_1_reads_beside_the_manifest() {
        let mut m = sample();
        m.merkle_hash = None;
        assert_eq!(m.problems(), ["the manifest has no merkle_hash of its data folder"]);
        let mut m = sample();
        m.merkle_hash.as_mut().unwrap().hash_names = false;
        assert_eq!(m.problems().len(), 1, "{:?}", m.problems());
        let mut m = sample();
        m.merkle_hash.as_mut().unwrap().root = "xyz".into();
        assert_eq!(m.problems().len(), 1, "{:?}", m.problems());
        let m = sample();
        assert_eq!(m.data_file(Path::new("/b/X"), SQLITE_FILE), Path::new("/b/X/data/chatseal.db"));
        // A format 1 manifest (no folder hash, files beside it) is still sound.
        let mut old = sample();
        old.format = MANIFEST_FORMAT_V1;
        old.merkle_hash = None;
        assert!(old.problems().is_empty(), "{:?}", old.problems());
        assert_eq!(old.data_file(Path::new("/b/X"), SQLITE_FILE), Path::new("/b/X/chatseal.db"));
        let json = serde_json::to_string(&old).unwrap();
        assert!(!json.contains("merkle_hash"), "format 1 is written back without the field: {json}");
    }

    #[test]
    fn files_digest_ignores_order_but_not_content() {
        let a = FileEntry { name: "a.jsonl".into(), size: 1, sha256: "00".repeat(32) };
        let b = FileEntry { name: "b.jsonl".into(), size: 2, sha256: "11".repeat(32) };
        assert_eq!(files_digest(&[a.clone(), b.clone()]), files_digest(&[b.clone(), a.clone()]));
        let renamed = FileEntry { name: "c.jsonl".into(), ..b.clone() };
        assert_ne!(files_digest(&[a.clone(), b]), files_digest(&[a, renamed]));
    }
}
