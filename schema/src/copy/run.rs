//! Copying every table of one store into another, streamed: keyset pages of `chunk_rows` rows
//! in key order from the source, each page inserted into the target in ONE transaction with
//! `ON CONFLICT DO NOTHING`, so an interrupted copy can simply be run again. A row the target
//! already holds is compared with the source's: identical is fine (a re-run), different is a
//! conflict, counted and described. Before anything is written the target must be empty or a
//! partial copy of this source: no table may hold more rows than the source's, and the first
//! rows (up to a page, at most 1,000) of each non-empty table must be found, identical, in
//! the source. A conflict met later is counted and makes the copy unequal.

use super::io::Row;
use super::spec::{all_specs, show_row, TableSpec};
use crate::error::StoreError;
use crate::open::Store;

/// Rows read (and inserted in one target transaction) at a time, unless told otherwise.
pub const CHUNK_ROWS: usize = 5_000;
/// At most this many rows per table are checked against the source before a copy starts.
const PREFLIGHT_ROWS: usize = 1_000;
/// At most this many differing rows are described per table.
const SAMPLES: usize = 5;

/// Why a copy did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading the source or writing the target failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target holds rows, and they are not a partial copy of the source: nothing is written.
    #[error("target {target} is not empty and is not a partial copy of {from}: {detail}; copy into an empty store (a new SQLite file or an empty PostgreSQL database)")]
    TargetNotACopy {
        /// The source's URL, password redacted.
        from: String,
        /// The target's URL, password redacted.
        target: String,
        /// Which table holds more rows than the source, or rows the source does not hold.
        detail: String,
    },
}

/// How a copy runs.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Rows per read and per target transaction (at least 1).
    pub chunk_rows: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions { chunk_rows: CHUNK_ROWS }
    }
}

/// What a copy tells its progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyEvent<'a> {
    /// Rows to copy over all tables (the source's counts before the copy).
    Total(u64),
    /// A table starts, with its row count in the source.
    Table {
        /// The table's name.
        name: &'a str,
        /// Its rows in the source.
        rows: u64,
    },
    /// This many more rows are done.
    Rows(u64),
}

/// What the copy did to one table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableCopy {
    /// The table's name.
    pub table: &'static str,
    /// Rows read from the source.
    pub read: u64,
    /// New in the target.
    pub inserted: u64,
    /// Already in the target, identical.
    pub present: u64,
    /// Already in the target with different values (kept as they were).
    pub conflicts: u64,
    /// A few of the conflicting rows, described.
    pub samples: Vec<String>,
}

/// What the copy did, table by table in [`crate::entity::TABLES`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// One entry per table.
    pub tables: Vec<TableCopy>,
}

impl CopyReport {
    /// Rows new in the target, over all tables.
    pub fn inserted(&self) -> u64 {
        self.tables.iter().map(|t| t.inserted).sum()
    }
    /// Rows the target held with other values, over all tables.
    pub fn conflicts(&self) -> u64 {
        self.tables.iter().map(|t| t.conflicts).sum()
    }
}

/// `key` and the columns where `a` and `b` differ, for a message.
fn describe(spec: &TableSpec, a: &Row, b: &Row) -> String {
    let cols: Vec<&str> =
        spec.columns.iter().zip(a.iter().zip(b)).filter(|(_, (x, y))| x != y).map(|(c, _)| c.name).collect();
    format!("key {} differs in {}", show_row(&spec.key_of(a)), cols.join(", "))
}

/// Refuses a target that is neither empty nor a partial copy of `source`.
async fn preflight(
    source: &Store,
    target: &Store,
    specs: &[TableSpec],
    counts: &[u64],
    sample: usize,
) -> Result<(), CopyError> {
    let refuse = |detail: String| CopyError::TargetNotACopy {
        from: source.redacted_url().to_owned(),
        target: target.redacted_url().to_owned(),
        detail,
    };
    for (spec, &in_source) in specs.iter().zip(counts) {
        let in_target = target.count_rows(spec).await?;
        if in_target == 0 {
            continue;
        }
        if in_target > in_source {
            return Err(refuse(format!("table {} holds {in_target} rows, the source only {in_source}", spec.name)));
        }
        let page = target.read_page(spec, None, sample).await?;
        let keys: Vec<Row> = page.iter().map(|r| spec.key_of(r)).collect();
        let found = source.rows_by_keys(spec, &keys).await?;
        for row in &page {
            match found.get(&spec.key_of(row)) {
                None => {
                    return Err(refuse(format!(
                        "table {} holds key {}, which the source does not",
                        spec.name,
                        show_row(&spec.key_of(row))
                    )))
                }
                Some(s) if s != row => return Err(refuse(format!("table {}: {}", spec.name, describe(spec, s, row)))),
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Copies one table, page by page.
async fn copy_table(
    source: &Store,
    target: &Store,
    spec: &TableSpec,
    chunk: usize,
    progress: &mut dyn FnMut(CopyEvent),
) -> Result<TableCopy, StoreError> {
    let mut t = TableCopy { table: spec.name, ..TableCopy::default() };
    let mut after: Option<Row> = None;
    loop {
        let page = source.read_page(spec, after.as_deref(), chunk).await?;
        let Some(last) = page.last() else { break };
        after = Some(spec.key_of(last));
        let inserted = target.insert_tables(&[(spec, &page)]).await?.pop().unwrap_or_default();
        t.read += page.len() as u64;
        t.inserted += inserted.len() as u64;
        if inserted.len() < page.len() {
            let kept: Vec<&Row> = page.iter().filter(|r| !inserted.contains(&spec.key_of(r))).collect();
            let keys: Vec<Row> = kept.iter().map(|r| spec.key_of(r)).collect();
            let there = target.rows_by_keys(spec, &keys).await?;
            for row in kept {
                match there.get(&spec.key_of(row)) {
                    Some(existing) if existing == row => t.present += 1,
                    Some(existing) => {
                        t.conflicts += 1;
                        if t.samples.len() < SAMPLES {
                            t.samples.push(describe(spec, row, existing));
                        }
                    }
                    // Refused by another unique constraint (a user twice in one seal).
                    None => {
                        t.conflicts += 1;
                        if t.samples.len() < SAMPLES {
                            t.samples.push(format!(
                                "key {} was refused by a unique constraint of the target",
                                show_row(&spec.key_of(row))
                            ));
                        }
                    }
                }
            }
        }
        progress(CopyEvent::Rows(page.len() as u64));
    }
    target.follow_sequence(spec).await?;
    Ok(t)
}

/// Copies every table of `source` into `target` (see the module doc). The caller compares the
/// stores afterwards ([`super::compare_stores`]). Neither store may be written by anything else
/// meanwhile (stop the daemon).
pub async fn copy_store(
    source: &Store,
    target: &Store,
    opts: &CopyOptions,
    progress: &mut dyn FnMut(CopyEvent),
) -> Result<CopyReport, CopyError> {
    let specs = all_specs()?;
    let mut counts = Vec::with_capacity(specs.len());
    for spec in &specs {
        counts.push(source.count_rows(spec).await?);
    }
    preflight(source, target, &specs, &counts, opts.chunk_rows.clamp(1, PREFLIGHT_ROWS)).await?;
    progress(CopyEvent::Total(counts.iter().sum()));
    let mut report = CopyReport::default();
    for (spec, rows) in specs.iter().zip(counts) {
        progress(CopyEvent::Table { name: spec.name, rows });
        report.tables.push(copy_table(source, target, spec, opts.chunk_rows.max(1), progress).await?);
    }
    Ok(report)
}
