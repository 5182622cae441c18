//! The file methods of the "powercut" VFS (see `powercut_vfs`): a shim file wraps the default
//! VFS's file. For the main database, WAL and rollback journal, writes and truncates go to the
//! path's [`Pending`] overlay, reads and the size see it, and xSync applies it to the real file
//! before the real sync; after the power cut, writes, truncates and syncs do nothing. Every
//! other method, and every method of any other file, is forwarded.

use crate::powercut_overlay::{Backing, Pending};
use crate::powercut_vfs::{lock, HELD_WRITES, POWER_CUT, SYNCS};
use libsqlite3_sys as ffi;
use std::alloc::{dealloc, Layout};
use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};

/// SQLite's file object for the shim: SQLite allocates `szOsFile` bytes and sees `base`.
#[repr(C)]
pub(crate) struct ShimFile {
    pub(crate) base: ffi::sqlite3_file,
    pub(crate) real: *mut ffi::sqlite3_file,
    pub(crate) real_layout: Layout,
    /// Some for the files whose writes are held: main database, WAL, rollback journal.
    pub(crate) pending: Option<Arc<Mutex<Pending>>>,
}

pub(crate) static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2, // shared memory yes, xFetch/xUnfetch (mmap) no
    xClose: Some(shim_close),
    xRead: Some(shim_read),
    xWrite: Some(shim_write),
    xTruncate: Some(shim_truncate),
    xSync: Some(shim_sync),
    xFileSize: Some(shim_file_size),
    xLock: Some(shim_lock),
    xUnlock: Some(shim_unlock),
    xCheckReservedLock: Some(shim_check_reserved_lock),
    xFileControl: Some(shim_file_control),
    xSectorSize: Some(shim_sector_size),
    xDeviceCharacteristics: Some(shim_device_characteristics),
    xShmMap: Some(shim_shm_map),
    xShmLock: Some(shim_shm_lock),
    xShmBarrier: Some(shim_shm_barrier),
    xShmUnmap: Some(shim_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

const NOT_PASSED_ON: c_int = ffi::SQLITE_IOCAP_ATOMIC
    | ffi::SQLITE_IOCAP_ATOMIC512
    | ffi::SQLITE_IOCAP_ATOMIC1K
    | ffi::SQLITE_IOCAP_ATOMIC2K
    | ffi::SQLITE_IOCAP_ATOMIC4K
    | ffi::SQLITE_IOCAP_ATOMIC8K
    | ffi::SQLITE_IOCAP_ATOMIC16K
    | ffi::SQLITE_IOCAP_ATOMIC32K
    | ffi::SQLITE_IOCAP_ATOMIC64K
    | ffi::SQLITE_IOCAP_SAFE_APPEND
    | ffi::SQLITE_IOCAP_SEQUENTIAL
    | ffi::SQLITE_IOCAP_BATCH_ATOMIC;

unsafe fn shim<'a>(f: *mut ffi::sqlite3_file) -> &'a ShimFile {
    unsafe { &*(f as *const ShimFile) }
}

unsafe fn methods<'a>(real: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    unsafe { &*(*real).pMethods }
}

/// Calls the real file's method `$m` (SQLITE_ERROR if it has none).
macro_rules! forward {
    ($f:expr, $m:ident $(, $arg:expr)*) => {{
        let real = unsafe { shim($f) }.real;
        match unsafe { methods(real) }.$m {
            Some(method) => unsafe { method(real $(, $arg)*) },
            None => ffi::SQLITE_ERROR,
        }
    }};
}

unsafe extern "C" fn shim_close(f: *mut ffi::sqlite3_file) -> c_int {
    // Closing flushes nothing: held writes stay with the path, as in the page cache.
    let rc = forward!(f, xClose);
    let file = unsafe { ptr::read(f as *mut ShimFile) };
    unsafe {
        (*f).pMethods = ptr::null();
        dealloc(file.real as *mut u8, file.real_layout);
    }
    rc
}

/// The real file under a shim file, as the overlay's [`Backing`].
struct RealFile(*mut ffi::sqlite3_file);

impl Backing for RealFile {
    type Error = c_int;
    fn len(&mut self) -> Result<u64, c_int> {
        let mut n: ffi::sqlite3_int64 = 0;
        match unsafe { methods(self.0) }.xFileSize {
            Some(m) => match unsafe { m(self.0, &mut n) } {
                ffi::SQLITE_OK => Ok(n.max(0) as u64),
                rc => Err(rc),
            },
            None => Err(ffi::SQLITE_ERROR),
        }
    }
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> Result<(), c_int> {
        let amt = c_int::try_from(buf.len()).map_err(|_| ffi::SQLITE_IOERR_READ)?;
        let m = unsafe { methods(self.0) }.xRead.ok_or(ffi::SQLITE_ERROR)?;
        match unsafe { m(self.0, buf.as_mut_ptr() as *mut c_void, amt, off as i64) } {
            ffi::SQLITE_OK | ffi::SQLITE_IOERR_SHORT_READ => Ok(()),
            rc => Err(rc),
        }
    }
    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), c_int> {
        let amt = c_int::try_from(data.len()).map_err(|_| ffi::SQLITE_IOERR_WRITE)?;
        let m = unsafe { methods(self.0) }.xWrite.ok_or(ffi::SQLITE_ERROR)?;
        match unsafe { m(self.0, data.as_ptr() as *const c_void, amt, off as i64) } {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(rc),
        }
    }
    fn truncate(&mut self, len: u64) -> Result<(), c_int> {
        let m = unsafe { methods(self.0) }.xTruncate.ok_or(ffi::SQLITE_ERROR)?;
        match unsafe { m(self.0, len as i64) } {
            ffi::SQLITE_OK => Ok(()),
            rc => Err(rc),
        }
    }
}

unsafe extern "C" fn shim_read(f: *mut ffi::sqlite3_file, buf: *mut c_void, amt: c_int, off: i64) -> c_int {
    let s = unsafe { shim(f) };
    let Some(p) = &s.pending else {
        return forward!(f, xRead, buf, amt, off);
    };
    let buf = unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, amt.max(0) as usize) };
    match lock(p).read(&mut RealFile(s.real), off.max(0) as u64, buf) {
        Ok(n) if n == buf.len() => ffi::SQLITE_OK,
        Ok(_) => ffi::SQLITE_IOERR_SHORT_READ,
        Err(rc) => rc,
    }
}

unsafe extern "C" fn shim_write(f: *mut ffi::sqlite3_file, buf: *const c_void, amt: c_int, off: i64) -> c_int {
    let Some(p) = &unsafe { shim(f) }.pending else {
        if POWER_CUT.load(SeqCst) {
            return ffi::SQLITE_OK;
        }
        return forward!(f, xWrite, buf, amt, off);
    };
    let mut pending = lock(p);
    if !POWER_CUT.load(SeqCst) {
        let data = unsafe { std::slice::from_raw_parts(buf as *const u8, amt.max(0) as usize) };
        pending.write(off.max(0) as u64, data);
        HELD_WRITES.fetch_add(1, SeqCst);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn shim_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let Some(p) = &unsafe { shim(f) }.pending else {
        if POWER_CUT.load(SeqCst) {
            return ffi::SQLITE_OK;
        }
        return forward!(f, xTruncate, size);
    };
    let mut pending = lock(p);
    if !POWER_CUT.load(SeqCst) {
        pending.truncate(size.max(0) as u64);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn shim_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let s = unsafe { shim(f) };
    let Some(p) = &s.pending else {
        if POWER_CUT.load(SeqCst) {
            return ffi::SQLITE_OK;
        }
        return forward!(f, xSync, flags);
    };
    let mut pending = lock(p);
    if POWER_CUT.load(SeqCst) {
        return ffi::SQLITE_OK;
    }
    if let Err(rc) = pending.apply(&mut RealFile(s.real)) {
        return rc;
    }
    SYNCS.fetch_add(1, SeqCst);
    forward!(f, xSync, flags)
}

unsafe extern "C" fn shim_file_size(f: *mut ffi::sqlite3_file, out: *mut i64) -> c_int {
    let s = unsafe { shim(f) };
    let Some(p) = &s.pending else {
        return forward!(f, xFileSize, out);
    };
    let pending = lock(p);
    match RealFile(s.real).len() {
        Ok(real_len) => {
            unsafe { *out = pending.len(real_len) as i64 };
            ffi::SQLITE_OK
        }
        Err(rc) => rc,
    }
}

unsafe extern "C" fn shim_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(f, xLock, level)
}

unsafe extern "C" fn shim_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(f, xUnlock, level)
}

unsafe extern "C" fn shim_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(f, xCheckReservedLock, out)
}

unsafe extern "C" fn shim_file_control(f: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // A size hint would grow the real file before the sync; it is only a hint.
    if op == ffi::SQLITE_FCNTL_SIZE_HINT && unsafe { shim(f) }.pending.is_some() {
        return ffi::SQLITE_OK;
    }
    forward!(f, xFileControl, op, arg)
}

unsafe extern "C" fn shim_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    forward!(f, xSectorSize)
}

unsafe extern "C" fn shim_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    forward!(f, xDeviceCharacteristics) & !NOT_PASSED_ON
}

unsafe extern "C" fn shim_shm_map(
    f: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    forward!(f, xShmMap, region, size, extend, out)
}

unsafe extern "C" fn shim_shm_lock(f: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    forward!(f, xShmLock, offset, n, flags)
}

unsafe extern "C" fn shim_shm_barrier(f: *mut ffi::sqlite3_file) {
    let real = unsafe { shim(f) }.real;
    if let Some(barrier) = unsafe { methods(real) }.xShmBarrier {
        unsafe { barrier(real) };
    }
}

unsafe extern "C" fn shim_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    forward!(f, xShmUnmap, delete)
}
