//! Loading a JSON-lines backup (taken on PostgreSQL where pg_dump was missing or
//! `backup.pg_dump = "off"`) into an EMPTY store of either engine: the store is opened (which
//! creates the tables), every table must be empty, then each `<table>.jsonl` is read line by
//! line, decoded by the table's spec and inserted in chunks, in the copy's table order; a key
//! met twice is an error, not a silent skip. Identity sequences follow the copied keys. The
//! caller then checks the seals and row counts against the manifest.

use std::io::BufRead;
use std::path::Path;

use chatseal_schema::copy::{all_specs, row_from_json, Row};
use chatseal_schema::{redact_url, Store};

/// Rows per insert transaction.
const CHUNK: usize = 2_000;

/// Loads the export in `data` into the store at `url`; the error says what went wrong.
pub async fn load(data: &Path, url: &str) -> Result<u64, String> {
    let store = Store::open(url).await.map_err(|e| format!("opening {}: {e}", redact_url(url)))?;
    let result = load_into(&store, data).await;
    let _ = store.checkpoint().await;
    let _ = store.close().await;
    result
}

async fn load_into(store: &Store, data: &Path) -> Result<u64, String> {
    let counts = store.row_counts().await.map_err(|e| e.to_string())?;
    let held: Vec<String> = counts.iter().filter(|(_, n)| **n > 0).map(|(t, n)| format!("{t} ({n} rows)")).collect();
    if !held.is_empty() {
        return Err(format!("the target is not empty: {}; restore into an empty database", held.join(", ")));
    }
    let specs = all_specs().map_err(|e| e.to_string())?;
    let mut total = 0u64;
    for spec in &specs {
        let path = data.join(format!("{}.jsonl", spec.name));
        if !path.exists() {
            // A table added after the backup was taken: the verification before the restore
            // (manifest row counts, folder root) accepted its absence.
            continue;
        }
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = std::io::BufReader::new(file).lines();
        let mut at = 0usize;
        loop {
            let mut chunk: Vec<Row> = Vec::with_capacity(CHUNK);
            for line in lines.by_ref().take(CHUNK) {
                at += 1;
                let line = line.map_err(|e| format!("{} line {at}: {e}", path.display()))?;
                chunk.push(row_from_json(spec, &line).map_err(|e| format!("{} line {at}: {e}", path.display()))?);
            }
            if chunk.is_empty() {
                break;
            }
            let new = store.insert_tables(&[(spec, &chunk)]).await.map_err(|e| e.to_string())?;
            let inserted = new.first().map_or(0, |s| s.len());
            if inserted != chunk.len() {
                return Err(format!(
                    "{}: {} of {} rows up to line {at} repeat a key already loaded",
                    path.display(),
                    chunk.len() - inserted,
                    chunk.len()
                ));
            }
            total += inserted as u64;
        }
        store.follow_sequence(spec).await.map_err(|e| e.to_string())?;
    }
    Ok(total)
}
