//! `chatseal backup now | list | verify [ID]`: take a backup of the configured store into
//! `backup.dir` (the same path the daemon's backup actor takes; on SQLite it runs beside a
//! running daemon, VACUUM INTO being a read transaction), list the backups, or re-check them.
//! `verify` exits 1 when a backup is bad (or there is none), so scripts and cron can alert.

use std::path::Path;

use chatseal_actors::backup::catalog::{list as list_backups, resolve, Listed};
use chatseal_actors::backup::fsio::blocking;
use chatseal_actors::backup::{prune, take_backup, verify as verify_backup};
use chatseal_schema::OpenOptions;

use super::setup::{load_settings, open_store_with};
use crate::cli::BackupAction;
use crate::exit::Exit;
use crate::settings::Settings;

/// Runs `chatseal backup now | list | verify [ID]` against the configured store and `backup.dir`.
pub async fn main(config: Option<&Path>, action: &BackupAction) -> Exit {
    let s = match load_settings(config) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match action {
        BackupAction::Now => now(&s).await,
        BackupAction::List => list(&s).await,
        BackupAction::Verify { id } => verify(&s, id.as_deref()).await,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn now(s: &Settings) -> Exit {
    // The copy gets its own quick_check; checking the live store first would read it twice.
    let opts = OpenOptions { quick_check: false, ..OpenOptions::default() };
    let store = match open_store_with(s, &opts).await {
        Ok(st) => st,
        Err(code) => return code,
    };
    let at = now_ms();
    let code = match take_backup(&store, &s.store.url, &s.backup.dir, at, &s.backup.pg_dump_choice()).await {
        Ok(m) => {
            println!(
                "backup {} taken and verified: {} in {}, {} sealed epochs (newest {}), {} ms, checks: {}",
                m.id,
                human_bytes(m.size_bytes),
                s.backup.dir.join(&m.id).display(),
                m.sealed_epochs,
                m.newest_sealed_epoch.map_or("none".into(), |e| e.to_string()),
                m.duration_ms,
                m.checks.join(", ")
            );
            match prune(&s.backup.dir, s.backup.retention(), at.div_euclid(1000)).await {
                Ok(gone) if !gone.is_empty() => {
                    println!(
                        "retention (keep {}, keep_daily {}): deleted {}",
                        s.backup.keep,
                        s.backup.keep_daily,
                        gone.join(", ")
                    )
                }
                Ok(_) => {}
                Err(e) => eprintln!("warning: retention failed: {e}"),
            }
            Exit::Ok
        }
        Err(e) => {
            eprintln!("backup failed: {e}");
            Exit::Internal
        }
    };
    let _ = store.close().await;
    code
}

async fn listed(s: &Settings) -> Result<Vec<Listed>, Exit> {
    let dir = s.backup.dir.clone();
    blocking(move || list_backups(&dir)).await.map_err(|e| {
        eprintln!("{e}");
        Exit::Unavailable
    })
}

async fn list(s: &Settings) -> Exit {
    match listed(s).await {
        Ok(l) if l.is_empty() => {
            println!("no backups in {}", s.backup.dir.display());
            Exit::Ok
        }
        Ok(l) => {
            print!("{}", table(&l, now_ms() / 1000));
            Exit::Ok
        }
        Err(code) => code,
    }
}

async fn verify(s: &Settings, id: Option<&str>) -> Exit {
    let folders = match id {
        Some(id) => match resolve(&s.backup.dir, id) {
            Ok(f) => vec![f],
            Err(e) => {
                eprintln!("{e}");
                return Exit::Failed;
            }
        },
        None => match listed(s).await {
            Ok(l) => {
                for b in l.iter().filter(|b| b.manifest.is_none() && b.problem.is_none()) {
                    println!("skip {}: incomplete (no manifest: interrupted or still being written; retention removes it after a day)", b.id);
                }
                l.into_iter().filter(|b| b.manifest.is_some() || b.problem.is_some()).map(|b| b.folder).collect()
            }
            Err(code) => return code,
        },
    };
    if folders.is_empty() {
        eprintln!("no backups in {} to verify", s.backup.dir.display());
        return Exit::Failed;
    }
    let mut code = Exit::Ok;
    for folder in folders {
        let name =
            folder.file_name().map_or_else(|| folder.display().to_string(), |n| n.to_string_lossy().into_owned());
        match verify_backup(&folder).await {
            Ok(m) => println!(
                "ok   {name}: {} files, {}, {} sealed epochs, sha256 and {} checked",
                m.files.len(),
                human_bytes(m.size_bytes),
                m.sealed_epochs,
                m.checks.join(", ")
            ),
            Err(e) => {
                println!("BAD  {name}: {e}");
                code = Exit::Failed;
            }
        }
    }
    code
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `3h12m`-style ages from seconds.
pub fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
    }
}

/// The `backup list` table, newest first.
pub fn table(backups: &[Listed], now_s: i64) -> String {
    let mut out = format!(
        "{:<20} {:>8} {:>10} {:>7} {:>12} {:<12} {}\n",
        "ID", "AGE", "SIZE", "SEALED", "NEWEST", "METHOD", "VERIFIED"
    );
    for b in backups {
        let line = match (&b.manifest, &b.problem) {
            (Some(m), _) => format!(
                "{:<20} {:>8} {:>10} {:>7} {:>12} {:<12} yes, when taken ({})",
                b.id,
                human_age(now_s - m.created_at),
                human_bytes(m.size_bytes),
                m.sealed_epochs,
                m.newest_sealed_epoch.map_or("-".into(), |e| e.to_string()),
                m.method.as_str(),
                m.checks.join(", ")
            ),
            (None, Some(p)) => format!(
                "{:<20} {:>8} {:>10} {:>7} {:>12} {:<12} NO: {p}",
                b.id,
                human_age(now_s - b.modified_at),
                "-",
                "-",
                "-",
                "-"
            ),
            (None, None) => format!(
                "{:<20} {:>8} {:>10} {:>7} {:>12} {:<12} no: incomplete (no manifest)",
                b.id,
                human_age(now_s - b.modified_at),
                "-",
                "-",
                "-",
                "-"
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(human_age(42), "42s");
        assert_eq!(human_age(7260), "2h01m");
        assert_eq!(human_age(90_000), "1d01h");
        assert_eq!(human_age(-5), "0s");
    }

    #[test]
    fn table_marks_incomplete_backups() {
        let b = Listed {
            id: "20240512T140502Z".into(),
            folder: "x".into(),
            manifest: None,
            problem: None,
            modified_at: 100,
        };
        let t = table(&[b], 160);
        assert!(t.lines().next().is_some_and(|h| h.starts_with("ID")), "{t}");
        assert!(t.contains("20240512T140502Z") && t.contains("1m") && t.contains("incomplete"), "{t}");
    }
}
