//! Backups: a consistent copy of the store, checked (quick_check, every seal's digest, row
//! counts) and described by a manifest (sha256 per file), in a folder of its own under
//! `backup.dir`; retention; verification; putting a backup back in place. The pure parts
//! (`manifest`, `retention`) are unit-tested; the I/O is in `sqlite`, `pg`, `take`, `verify`,
//! `restore`, `catalog` and `fsio`; the actor is a thin scheduler around [`take_backup`].
//!
//! Layout: `<backup.dir>/<id>/manifest.json` beside `<id>/data/`, which holds the data:
//! `chatseal.db` (SQLite, VACUUM INTO), `chatseal.pgdump` (PostgreSQL, pg_dump -Fc) or one
//! `<table>.jsonl` per table (PostgreSQL without pg_dump). The manifest records the sha256 of
//! each data file and the `merkle_hash` root of `data/` (`folder_hash`). `<id>` is the UTC
//! time of the backup, `YYYYMMDDTHHMMSSZ`. Backups of format 1 (data beside the manifest, no
//! folder root) are still listed, verified and restored.
pub mod actor;
pub mod board;
pub mod catalog;
pub mod error;
pub mod folder_hash;
pub mod fsio;
pub mod manifest;
pub mod pg;
pub mod restore;
pub mod retention;
pub mod sqlite;
pub mod take;
pub mod verify;

pub use actor::{BackupActor, BackupArgs, BackupFailed, BackupMsg};
pub use board::{BackupBoard, RecoveryOutcome, RecoveryRecord};
pub use error::BackupError;
pub use manifest::{Manifest, Method};
pub use pg::PgDump;
pub use retention::Retention;
pub use take::{prune, take_backup};
pub use verify::verify;
