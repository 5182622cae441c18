//! `chatseal migrate --from URL --to URL [--legacy]`: copies every table between stores
//! (SQLite <-> PostgreSQL, either way) with [`chatseal_schema::copy::copy_store`], then
//! compares them (row counts per table, every seal's root, claim_root, participant count and
//! digest, and the target's digests). Exit 0 only when equal and no row the target already
//! held differs from the source's; otherwise the differences are printed and the exit code is
//! 70. A target that is neither empty nor a partial copy of the
//! source is refused before anything is written (64). Running it again is safe.
//! With `--legacy`, `--from` is a database of the old system, imported by [`crate::legacy`].
//! URLs are printed with their password masked. A target a live daemon owns is refused (75).

use std::io::IsTerminal;

use chatseal_schema::copy::{compare_stores, copy_store, CopyError, CopyEvent, CopyOptions, CopyReport};
use chatseal_schema::{redact_url, Store, StoreError};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::Exit;
use crate::legacy;

/// A progress bar on stderr; hidden when stderr is not a terminal. `len` None: a spinner.
fn bar(len: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match len {
        Some(n) => {
            let pb = ProgressBar::new(n);
            if let Ok(style) = ProgressStyle::with_template("{msg:20} [{bar:40}] {human_pos}/{human_len} rows ({eta})")
            {
                pb.set_style(style.progress_chars("=> "));
            }
            pb
        }
        None => {
            let pb = ProgressBar::new_spinner();
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            pb
        }
    }
}

fn store_code(e: &StoreError) -> Exit {
    if e.is_unavailable() {
        Exit::Unavailable
    } else if e.is_config() {
        Exit::Config
    } else {
        Exit::Internal
    }
}

/// True when both URLs name the same store (same text, or the same SQLite file).
fn same_store(a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    match (chatseal_schema::sqlite_path(a), chatseal_schema::sqlite_path(b)) {
        (Some(x), Some(y)) => match (x.canonicalize(), y.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => x == y,
        },
        _ => false,
    }
}

async fn open(url: &str, role: &str) -> Result<Store, Exit> {
    Store::open(url).await.map_err(|e| {
        eprintln!("--{role}: {e}");
        store_code(&e)
    })
}

/// The per-table lines of a copy report.
pub fn render_copy(r: &CopyReport) -> String {
    let mut out = String::new();
    for t in &r.tables {
        out.push_str(&format!(
            "  {:<20} read {:>9}  new {:>9}  already there {:>9}  conflicting {:>6}\n",
            t.table, t.read, t.inserted, t.present, t.conflicts
        ));
        for s in &t.samples {
            out.push_str(&format!("    conflict: {s} (the target's row was kept)\n"));
        }
    }
    out
}

/// Runs `chatseal migrate`: copies `from` into `to` in pages of `chunk_rows` rows (`legacy`:
/// `from` is the old system's database), then compares the two stores.
pub async fn main(from: &str, to: &str, legacy: bool, chunk_rows: usize) -> Exit {
    if same_store(from, to) {
        eprintln!("--from and --to name the same store ({}); give a different target", redact_url(to));
        return Exit::Usage;
    }
    if chunk_rows == 0 {
        eprintln!("--chunk-rows must be at least 1");
        return Exit::Usage;
    }
    // A store a live daemon owns is never rewritten under it (75); held until the end.
    let _owner = match super::owner_guard::guard(to, "migrate into it").await {
        Ok(g) => g,
        Err(code) => return code,
    };
    if legacy {
        return run_legacy(from, to).await;
    }
    let source = match open(from, "from").await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let target = match open(to, "to").await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let code = run_copy(&source, &target, chunk_rows).await;
    if let Err(e) = target.checkpoint().await {
        tracing::warn!("checkpointing the target: {e}");
    }
    code
}

async fn run_copy(source: &Store, target: &Store, chunk_rows: usize) -> Exit {
    println!("migrate {} -> {}", source.redacted_url(), target.redacted_url());
    let pb = bar(Some(0));
    let mut on_event = |ev: CopyEvent| match ev {
        CopyEvent::Total(n) => pb.set_length(n),
        CopyEvent::Table { name, .. } => pb.set_message(name.to_owned()),
        CopyEvent::Rows(n) => pb.inc(n),
    };
    let copied = copy_store(source, target, &CopyOptions { chunk_rows }, &mut on_event).await;
    pb.finish_and_clear();
    let report = match copied {
        Ok(r) => r,
        Err(e @ CopyError::TargetNotACopy { .. }) => {
            eprintln!("{e}");
            return Exit::Usage;
        }
        Err(CopyError::Store(e)) => {
            eprintln!("copy stopped: {e}; what was copied stays, and running the same migrate again resumes it");
            return store_code(&e);
        }
    };
    print!("{}", render_copy(&report));
    let cmp = match compare_stores(source, target).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("comparing the stores: {e}");
            return store_code(&e);
        }
    };
    let conflicts = report.conflicts();
    if cmp.is_equal() && conflicts == 0 {
        println!(
            "equal: row counts of {} tables, {} seals (root, claim_root, participants, digest), every digest in the target intact",
            cmp.counts.len(),
            cmp.seals_checked
        );
        Exit::Ok
    } else {
        for d in cmp.differences() {
            println!("DIFFERS: {d}");
        }
        if conflicts > 0 {
            println!("DIFFERS: {conflicts} rows of the target differ from the source's (see the conflicts above)");
        }
        println!("the stores differ (was a daemon writing to one of them?); exit {}", Exit::Internal);
        Exit::Internal
    }
}

fn legacy_code(e: &legacy::LegacyError) -> Exit {
    match e {
        legacy::LegacyError::Usage(_) | legacy::LegacyError::NotLegacy { .. } => Exit::Usage,
        legacy::LegacyError::Unavailable { .. } => Exit::Unavailable,
        legacy::LegacyError::Read { .. } => Exit::Internal,
        legacy::LegacyError::Store(e) => store_code(e),
    }
}

async fn run_legacy(from: &str, to: &str) -> Exit {
    let old = match legacy::read::LegacyDb::open(from).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("--from: {e}");
            return legacy_code(&e);
        }
    };
    let target = match open(to, "to").await {
        Ok(s) => s,
        Err(code) => return code,
    };
    println!("migrate --legacy {} -> {}", old.url, target.redacted_url());
    let pb = bar(None);
    let res = legacy::import(old, &target, &mut |rows| pb.set_message(format!("{rows} old rows read"))).await;
    pb.finish_and_clear();
    let code = match res {
        Ok(rep) => {
            print!("{}", rep.render());
            if rep.ok() {
                Exit::Ok
            } else {
                Exit::Internal
            }
        }
        Err(e) => {
            eprintln!("{e}");
            legacy_code(&e)
        }
    };
    if let Err(e) = target.checkpoint().await {
        tracing::warn!("checkpointing the target: {e}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_store_by_text_or_file() {
        assert!(same_store("postgres://a@h/db", " postgres://a@h/db"));
        assert!(!same_store("postgres://a@h/db", "postgres://a@h/other"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.db");
        std::fs::write(&p, b"").unwrap();
        let a = format!("sqlite://{}", p.display());
        let b = format!("sqlite://{}/./x.db", dir.path().display());
        assert!(same_store(&a, &b));
        assert!(!same_store(&a, &format!("sqlite://{}/y.db", dir.path().display())));
    }
}
