//! Reading SQLite rows through its C API, for the two reads where the driver's per-row cost
//! is most of the time: the digest check of every seal (start-up, backups) reads every frozen
//! leaf of the store. sqlx copies each column value (`sqlite3_value_dup`) and hands each row to
//! the caller over a channel from its worker thread; here a row's columns are borrowed straight
//! from the statement while it is on that row, so a leaf costs a `sqlite3_step` and no
//! allocation.
//!
//! The connection is taken from sqlx's pool and locked out of sqlx's worker thread
//! (`SqliteConnection::lock_handle`) for as long as the work runs, on a blocking thread that
//! owns it ([`with_raw`]): a caller that stops waiting cannot hand the connection back to sqlx
//! while it is in use here. Every `unsafe` block of the crate's SQLite access is in this file.

use libsqlite3_sys as ffi;
use sqlx::pool::PoolConnection;
use sqlx::Sqlite;
use std::ffi::{c_char, c_int, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// An error of the C API (with SQLite's result code) or of getting at the connection (none).
#[derive(Debug)]
pub(crate) struct RawError {
    /// SQLite's result code, classified like the driver's (`ErrCtx::raw`).
    pub code: Option<c_int>,
    /// What failed, and SQLite's message.
    pub detail: String,
}

impl RawError {
    fn other(detail: impl Into<String>) -> RawError {
        RawError { code: None, detail: detail.into() }
    }
}

/// A SQLite connection locked out of sqlx's worker, usable only inside [`with_raw`].
pub(crate) struct RawDb {
    db: NonNull<ffi::sqlite3>,
}

/// Starts `work` at once on a blocking thread with `conn` locked out of sqlx's worker (the
/// connection goes back to the pool afterwards); the returned future waits for its result.
/// Started eagerly, so that two of them run at the same time however they are awaited.
pub(crate) fn with_raw<R: Send + 'static>(
    mut conn: PoolConnection<Sqlite>,
    work: impl FnOnce(&mut RawDb) -> R + Send + 'static,
) -> impl std::future::Future<Output = Result<R, RawError>> {
    let rt = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        let mut locked =
            rt.block_on(conn.lock_handle()).map_err(|e| RawError::other(format!("locking a connection: {e}")))?;
        let mut db = RawDb { db: locked.as_raw_handle() };
        let out = work(&mut db);
        drop(locked);
        drop(conn);
        Ok(out)
    });
    async move { task.await.map_err(|e| RawError::other(format!("the blocking task stopped: {e}")))? }
}

impl crate::open::Store {
    /// A connection of the store's SQLite read pool, for [`with_raw`] (`what` names the read in
    /// the error).
    pub(crate) async fn raw_read_connection(&self, what: &str) -> Result<PoolConnection<Sqlite>, crate::StoreError> {
        self.reader
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| self.ctx.db(what, sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()))))
    }
}

impl RawDb {
    fn error(&self, what: &str, code: c_int) -> RawError {
        // SAFETY: `self.db` is a live connection (locked for us); sqlite3_errmsg returns a
        // NUL-terminated string owned by SQLite, valid until the next call on it, copied here.
        let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr())) }.to_string_lossy().into_owned();
        RawError { code: Some(code), detail: format!("{what}: SQLite error {code}: {msg}") }
    }

    /// Prepares one statement (`sql` must hold exactly one).
    pub(crate) fn prepare(&self, sql: &str) -> Result<Stmt<'_>, RawError> {
        let len = c_int::try_from(sql.len()).map_err(|_| RawError::other("statement too long"))?;
        let mut raw: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        // SAFETY: the connection is live and ours; `sql` outlives the call and its length is
        // given, so no NUL terminator is needed; `raw` receives the statement or NULL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                self.db.as_ptr(),
                sql.as_ptr() as *const c_char,
                len,
                &mut raw,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error("preparing a statement", rc));
        }
        let raw = NonNull::new(raw).ok_or_else(|| RawError::other("an empty statement"))?;
        Ok(Stmt { raw, db: self, _not_send: PhantomData })
    }
}

/// A prepared statement of a [`RawDb`]; finalized when dropped.
pub(crate) struct Stmt<'db> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: &'db RawDb,
    _not_send: PhantomData<*mut ()>,
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` came from sqlite3_prepare_v2 and is finalized exactly once, here.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}

impl Stmt<'_> {
    /// Resets the statement to run again and binds 64-bit integers to its parameters 1, 2, ...
    pub(crate) fn reset_with(&mut self, values: &[i64]) -> Result<(), RawError> {
        // SAFETY: `raw` is a live statement of a connection locked for us; reset and
        // bind_int64 take no pointers.
        unsafe {
            ffi::sqlite3_reset(self.raw.as_ptr());
            for (i, v) in values.iter().enumerate() {
                let at = c_int::try_from(i + 1).map_err(|_| RawError::other("too many parameters"))?;
                let rc = ffi::sqlite3_bind_int64(self.raw.as_ptr(), at, *v);
                if rc != ffi::SQLITE_OK {
                    return Err(self.db.error("binding a parameter", rc));
                }
            }
        }
        Ok(())
    }

    /// Steps to the next row: `Some(row)` while there is one, borrowed until the next step.
    pub(crate) fn next(&mut self) -> Result<Option<Row<'_>>, RawError> {
        // SAFETY: as in `reset_with`.
        let rc = unsafe { ffi::sqlite3_step(self.raw.as_ptr()) };
        match rc {
            ffi::SQLITE_ROW => Ok(Some(Row { raw: self.raw, _stmt: PhantomData })),
            ffi::SQLITE_DONE => Ok(None),
            _ => Err(self.db.error("reading a row", rc)),
        }
    }
}

/// The storage class of a column value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// INTEGER.
    Integer,
    /// TEXT.
    Text,
    /// BLOB.
    Blob,
    /// NULL.
    Null,
    /// REAL.
    Other,
}

/// The current row of a [`Stmt`]; its column values are borrowed from SQLite.
pub(crate) struct Row<'s> {
    raw: NonNull<ffi::sqlite3_stmt>,
    _stmt: PhantomData<&'s mut ()>,
}

impl Row<'_> {
    /// The storage class of column `i` (0-based), before any conversion.
    pub(crate) fn kind(&self, i: c_int) -> Kind {
        // SAFETY: the statement is on a row (this borrow ends at the next step).
        match unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), i) } {
            ffi::SQLITE_INTEGER => Kind::Integer,
            ffi::SQLITE_TEXT => Kind::Text,
            ffi::SQLITE_BLOB => Kind::Blob,
            ffi::SQLITE_NULL => Kind::Null,
            _ => Kind::Other,
        }
    }

    /// Column `i` as a 64-bit integer (check [`Row::kind`] first: other classes convert).
    pub(crate) fn i64(&self, i: c_int) -> i64 {
        // SAFETY: as in `kind`.
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), i) }
    }

    /// Column `i`'s bytes as stored, for a TEXT or BLOB value (check [`Row::kind`] first: no
    /// conversion happens then). Valid until the next step.
    pub(crate) fn bytes(&self, i: c_int) -> &[u8] {
        // SAFETY: as in `kind`. sqlite3_column_blob is called before sqlite3_column_bytes, as
        // SQLite asks; for a TEXT or BLOB value neither converts it, and the pointer stays
        // valid until the statement steps, resets or is finalized, none of which can happen
        // while this borrow of the row lives. NULL (an empty value) reads as empty.
        unsafe {
            let p = ffi::sqlite3_column_blob(self.raw.as_ptr(), i) as *const u8;
            let n = ffi::sqlite3_column_bytes(self.raw.as_ptr(), i);
            match usize::try_from(n) {
                Ok(n) if !p.is_null() && n > 0 => std::slice::from_raw_parts(p, n),
                _ => &[],
            }
        }
    }
}
