//! What can go wrong taking, checking or restoring a backup, in words an operator can act on.

use std::path::PathBuf;

use chatseal_schema::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),

    #[error("{what} {}: {source}; check that the directory exists, is writable by the chatseal user and has free space", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("backup {id} is damaged: {detail}; do not restore from it: pick another one (`chatseal backup list`)")]
    Damaged { id: String, detail: String },

    #[error("the copy's sealed epochs do not match their digests ({detail}): the store being backed up is damaged; run `chatseal doctor` and restore the latest verified backup")]
    SealsDamaged { detail: String },

    #[error("the manifest {}: {detail}", path.display())]
    Manifest { path: PathBuf, detail: String },

    #[error("{tool} failed: {detail}")]
    Tool { tool: &'static str, detail: String },

    #[error("no backup {id:?} in {}: see `chatseal backup list`", dir.display())]
    NotFound { id: String, dir: PathBuf },

    #[error("{0}")]
    Refused(String),

    #[error("failpoint {0} triggered (test build)")]
    FailPoint(&'static str),
}

impl BackupError {
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
