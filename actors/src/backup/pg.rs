//! Backing up a PostgreSQL store from one exported snapshot (the row counts and the dump see
//! the same data while the daemon keeps writing): `pg_dump -Fc --snapshot` when `pg_dump` is on
//! PATH, else one JSON-lines file per table. The password never reaches a command line (it
//! goes to pg_dump through `PGPASSWORD`), and the seals are re-checked against their digests.
//! `pg_restore --list` checks an archive; [`restore_dump`] loads one into an empty database.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use chatseal_schema::entity::TABLES;
use chatseal_schema::{PgSnapshot, Store, StoreError};

use super::error::BackupError;
use super::fsio::{blocking, sync_dir, sync_file};
use super::manifest::{Method, PG_DUMP_FILE, TMP_SUFFIX};
use super::sqlite::{file_entry, Taken};

/// Which pg_dump a PostgreSQL backup uses (`backup.pg_dump`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PgDump {
    /// `pg_dump` from `PATH` when there is one, else the JSON-lines export.
    #[default]
    Auto,
    /// Never pg_dump: always the JSON-lines export.
    Off,
    /// This executable (e.g. the client of the server's major version).
    At(PathBuf),
}

impl PgDump {
    /// The executable to try, if any.
    pub fn binary(&self) -> Option<PathBuf> {
        match self {
            PgDump::Auto => find_on_path("pg_dump"),
            PgDump::Off => None,
            PgDump::At(p) => Some(p.clone()),
        }
    }
}

/// The executable `name` in a directory of `PATH`, if there is one.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// `postgres://user:pw@host/db` -> (`postgres://user@host/db`, Some("pw")), the password
/// percent-decoded; a URL without a password comes back unchanged.
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return (url.to_owned(), None) };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return (url.to_owned(), None) };
    let Some(colon) = authority[..at].find(':') else { return (url.to_owned(), None) };
    let password = percent_decode(&authority[colon + 1..at]);
    let stripped = format!("{}{}{}", &url[..scheme_end], &authority[..colon], &rest[at..]);
    (stripped, Some(password))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a PostgreSQL client tool against `url` (password through the environment), returning
/// its stdout; a failure carries its stderr.
fn run_tool(tool: &'static str, bin: &Path, url: &str, args: &[String]) -> Result<String, BackupError> {
    let (url, password) = split_password(url);
    let mut cmd = Command::new(bin);
    cmd.args(args).arg(format!("--dbname={url}"));
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    let out =
        cmd.output().map_err(|e| BackupError::Tool { tool, detail: format!("cannot run {}: {e}", bin.display()) })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(BackupError::Tool { tool, detail: format!("{} ({})", stderr.trim(), out.status) });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tables whose data `pg_restore --list` finds in the archive at `path` that should be
/// there and are not (empty: the archive is readable and complete).
pub fn missing_in_archive(pg_restore: &Path, path: &Path) -> Result<Vec<&'static str>, BackupError> {
    let out = Command::new(pg_restore).arg("--list").arg(path).output().map_err(|e| BackupError::Tool {
        tool: "pg_restore",
        detail: format!("cannot run {}: {e}", pg_restore.display()),
    })?;
    if !out.status.success() {
        return Err(BackupError::Tool {
            tool: "pg_restore",
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let list = String::from_utf8_lossy(&out.stdout);
    Ok(TABLES
        .into_iter()
        .filter(|t| !list.lines().any(|l| l.contains("TABLE DATA") && l.split_whitespace().any(|w| w == *t)))
        .collect())
}

/// Loads the archive at `path` into the (empty) database at `url` in one transaction;
/// pg_restore fails, and nothing changes, when the database already holds chatseal's tables.
pub fn restore_dump(url: &str, path: &Path) -> Result<(), BackupError> {
    let bin = find_on_path("pg_restore")
        .ok_or_else(|| BackupError::Refused("pg_restore is not on PATH: install the PostgreSQL client tools".into()))?;
    let args = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"].map(String::from);
    let mut all = args.to_vec();
    all.push(path.display().to_string());
    run_tool("pg_restore", &bin, url, &all).map(|_| ())
}

async fn pg_dump(bin: PathBuf, url: String, snapshot: String, folder: PathBuf) -> Result<(), BackupError> {
    blocking(move || {
        let tmp = folder.join(format!("{PG_DUMP_FILE}{TMP_SUFFIX}"));
        let dest = folder.join(PG_DUMP_FILE);
        let args = vec![
            "--format=custom".into(),
            "--no-owner".into(),
            "--no-privileges".into(),
            format!("--snapshot={snapshot}"),
            format!("--file={}", tmp.display()),
        ];
        run_tool("pg_dump", &bin, &url, &args)?;
        sync_file(&tmp).map_err(BackupError::io("syncing", &tmp))?;
        fail::fail_point!("backup.rename", |arg| Err(crate::backup::error::fail_action("backup.rename", arg)));
        std::fs::rename(&tmp, &dest).map_err(BackupError::io("renaming the dump to", &dest))?;
        sync_dir(&folder).map_err(BackupError::io("syncing the directory", &folder))
    })
    .await
}

/// Writes `<table>.jsonl` for every table from the snapshot; returns the file names.
async fn export_json_lines(snap: &PgSnapshot, folder: &Path) -> Result<Vec<String>, BackupError> {
    let mut names = Vec::new();
    for table in TABLES {
        let name = format!("{table}.jsonl");
        let tmp = folder.join(format!("{name}{TMP_SUFFIX}"));
        let file = std::fs::File::create(&tmp).map_err(BackupError::io("creating", &tmp))?;
        let mut w = BufWriter::new(file);
        let io_err = |e: std::io::Error| StoreError::Io {
            url: String::new(),
            path: tmp.display().to_string(),
            detail: e.to_string(),
        };
        snap.export_json(table, |lines| {
            for l in lines {
                w.write_all(l.as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(io_err)?;
            }
            Ok(())
        })
        .await?;
        let file = w.into_inner().map_err(|e| BackupError::io("writing", &tmp)(e.into_error()))?;
        file.sync_all().map_err(BackupError::io("syncing", &tmp))?;
        std::fs::rename(&tmp, folder.join(&name)).map_err(BackupError::io("renaming", &tmp))?;
        names.push(name);
    }
    sync_dir(folder).map_err(BackupError::io("syncing the directory", folder))?;
    Ok(names)
}

/// Dumps `store` (reached at `url`, password included) into `folder`, with `pg_dump` when
/// `with` names one, else (or when it fails) as JSON lines.
pub async fn snapshot(store: &Store, url: &str, folder: &Path, with: &PgDump) -> Result<Taken, BackupError> {
    let snap = store.pg_snapshot().await?;
    let row_counts = snap.row_counts().await?;
    let newest_sealed_epoch = snap.newest_sealed_epoch().await?;
    let schema_version = snap.schema_version().await?;
    let mut checks = vec!["digests (live store)".to_string()];
    let (method, names) = match with.binary() {
        Some(bin) => match pg_dump(bin, url.to_owned(), snap.id().to_owned(), folder.to_path_buf()).await {
            Ok(()) => (Method::PgDump, vec![PG_DUMP_FILE.to_string()]),
            Err(e @ BackupError::FailPoint(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "pg_dump failed; exporting the tables as JSON lines instead");
                let _ = std::fs::remove_file(folder.join(format!("{PG_DUMP_FILE}{TMP_SUFFIX}")));
                (Method::JsonLines, export_json_lines(&snap, folder).await?)
            }
        },
        None => (Method::JsonLines, export_json_lines(&snap, folder).await?),
    };
    snap.finish().await?;
    let bad = store.verify_digests().await?;
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().take(5).map(|(e, c)| format!("{e} #{c}")).collect();
        return Err(BackupError::SealsDamaged { detail: format!("{} damaged, e.g. {}", bad.len(), list.join(", ")) });
    }
    if method == Method::PgDump {
        if let Some(pr) = find_on_path("pg_restore") {
            let path = folder.join(PG_DUMP_FILE);
            let missing = blocking(move || missing_in_archive(&pr, &path)).await?;
            if !missing.is_empty() {
                return Err(BackupError::Tool {
                    tool: "pg_dump",
                    detail: format!("the archive holds no data for {}", missing.join(", ")),
                });
            }
            checks.push("pg_restore --list".into());
        }
    } else {
        checks.push("row_counts".into());
    }
    let mut files = Vec::with_capacity(names.len());
    for n in &names {
        files.push(file_entry(folder, n).await?);
    }
    Ok(Taken { method, files, row_counts, newest_sealed_epoch, schema_version, checks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_split_out() {
        assert_eq!(
            split_password("postgres://u:p%40ss@h:5432/db?sslmode=disable"),
            ("postgres://u@h:5432/db?sslmode=disable".into(), Some("p@ss".into()))
        );
        assert_eq!(split_password("postgres://root@127.0.0.1/test"), ("postgres://root@127.0.0.1/test".into(), None));
        assert_eq!(split_password("postgres://h/db"), ("postgres://h/db".into(), None));
        assert_eq!(split_password("not a url"), ("not a url".into(), None));
    }

    #[test]
    fn finds_executables_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-not-a-command-chatseal").is_none());
        assert_eq!(PgDump::Off.binary(), None);
        assert_eq!(PgDump::At("/opt/pg/bin/pg_dump".into()).binary(), Some(PathBuf::from("/opt/pg/bin/pg_dump")));
        assert_eq!(PgDump::Auto.binary(), find_on_path("pg_dump"));
    }
}
