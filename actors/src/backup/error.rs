//! What can go wrong taking, checking or restoring a backup, in words an operator can act on.

use std::path::PathBuf;

use chatseal_schema::StoreError;

/// Why taking, verifying or restoring a backup failed; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store (or the backup's copy of it) could not be opened, read or written.
    #[error("{0}")]
    Store(#[from] StoreError),

    #[error("{what} {}: {source}; check that the directory exists, is writable by the chatseal user and has free space", path.display())]
    /// A file operation on the backup folder failed.
    Io {
        /// What was being done, e.g. "hashing the folder".
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    #[error("backup {id} is damaged: {detail}; do not restore from it: pick another one (`chatseal backup list`)")]
    /// A backup's files do not match its manifest, or its data fails its checks.
    Damaged {
        /// The backup id.
        id: String,
        /// What does not match.
        detail: String,
    },

    #[error("the copy's sealed epochs do not match their digests ({detail}): the store being backed up is damaged; run `chatseal doctor` and restore the latest verified backup")]
    /// The fresh copy has sealed epochs whose digest does not match: the source store is damaged.
    SealsDamaged {
        /// Which epochs.
        detail: String,
    },

    #[error("the manifest {}: {detail}", path.display())]
    /// A `manifest.json` cannot be read, parsed or written.
    Manifest {
        /// The manifest's path.
        path: PathBuf,
        /// Why.
        detail: String,
    },

    #[error("{tool} failed: {detail}")]
    /// An external tool (`pg_dump`, `pg_restore`) could not run or exited with an error.
    Tool {
        /// The tool's name.
        tool: &'static str,
        /// Its stderr and exit status, or why it could not start.
        detail: String,
    },

    #[error("no backup {id:?} in {}: see `chatseal backup list`", dir.display())]
    /// No backup folder with that id.
    NotFound {
        /// The id asked for.
        id: String,
        /// `backup.dir`.
        dir: PathBuf,
    },

    /// The operation was refused as unsafe (e.g. restoring over a store that exists); the text says why.
    #[error("{0}")]
    Refused(String),

    /// A named failpoint fired (test builds only).
    #[error("failpoint {0} triggered (test build)")]
    FailPoint(&'static str),
}

impl BackupError {
    /// A `map_err` adapter: the [`BackupError::Io`] of doing `what` to `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BackupError {
        let path = path.into();
        move |source| BackupError::Io { what, path, source }
    }
}

/// What a configured failpoint does (test builds only): `return(abort)` aborts the process
/// right there, like a kill -9 at that point; any other `return` fails the backup.
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn fail_action(name: &'static str, arg: Option<String>) -> BackupError {
    if arg.as_deref() == Some("abort") {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort();
    }
    BackupError::FailPoint(name)
}
