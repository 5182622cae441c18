//! Moving a store's content elsewhere, table by table: the copy behind `chatseal migrate`
//! (every table of [`crate::entity::TABLES`], streamed in keyset pages, safe to run again), the
//! comparison that proves a copy complete (row counts, every seal's roots and digest), and the
//! import of rows from outside chatseal with their roots kept as they were. The tables are
//! described by their entities ([`spec`]), so a column added by a migration is copied with no
//! change here.

mod compare;
mod import;
mod io;
mod jsonl;
mod run;
pub mod spec;

pub use compare::{compare_stores, Comparison, SealDiff, TableCount, SEAL_FIELDS};
pub use import::{ImportBatch, ImportParticipation, ImportSeal, ImportSignal, ImportUser, ImportWritten};
pub use io::Row;
pub use jsonl::row_from_json;
pub use run::{copy_store, CopyError, CopyEvent, CopyOptions, CopyReport, TableCopy, CHUNK_ROWS};
pub use spec::{all_specs, row_of, show, show_row, table_spec, ColKind, ColSpec, TableSpec};
