//! A test-only SQLite VFS, "powercut", that simulates a forced reboot: it wraps the default VFS
//! (`sqlite3_vfs_find(NULL)`) and forwards everything, except that writes and truncates of the
//! main database, WAL and rollback-journal files stay in memory (a [`Pending`] overlay per
//! path, shared by every connection, like the OS page cache) until that file's xSync applies
//! them to the real file and calls the real xSync. Reads see the overlay; xFileSize counts it.
//! [`Machine::cut`] is the power switch: pending writes are discarded and from then on every
//! write, truncate, sync and delete is ignored. The test then closes every connection and
//! reopens the files with the normal VFS: what it finds is what a reboot would find.
//!
//! Written by hand over FFI because no crate provides a write-dropping VFS (and LazyFS or
//! device-mapper are not available here). It registers in the very SQLite library that sqlx
//! uses: `libsqlite3-sys` is unified with sqlx's bundled build. The shared-memory methods are
//! forwarded (the -shm file is rebuilt at the first open after a reboot); metadata changes
//! (creating or deleting a file) are applied at once; the device characteristics are passed
//! on without the atomic/sequential/safe-append bits, so SQLite never skips a sync; xFetch
//! (memory-mapped reads) is not offered, so every read goes through the overlay. This module
//! holds the switch and the VFS itself; `powercut_file` holds the file methods.

use crate::powercut_file::{ShimFile, METHODS};
use crate::powercut_overlay::Pending;
use libsqlite3_sys as ffi;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The name to pass as `SqliteConnectOptions::vfs` or `?vfs=` in a store URL.
pub const VFS_NAME: &str = "powercut";

static REAL_VFS: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(ptr::null_mut());
pub(crate) static POWER_CUT: AtomicBool = AtomicBool::new(false);
static FILES: Mutex<BTreeMap<String, Arc<Mutex<Pending>>>> = Mutex::new(BTreeMap::new());
static OPENED: AtomicU64 = AtomicU64::new(0);
pub(crate) static HELD_WRITES: AtomicU64 = AtomicU64::new(0);
pub(crate) static SYNCS: AtomicU64 = AtomicU64::new(0);
/// Tests that use the machine take turns: the switch is global.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the shim has seen since the power came on.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Database, WAL and journal files opened through the shim.
    pub files_opened: u64,
    /// Writes held in memory until a sync.
    pub writes_held: u64,
    /// Syncs that reached the real file.
    pub syncs: u64,
}

/// The simulated machine; holding it gives a test the power switch.
pub struct Machine {
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Machine {
    /// Registers the VFS (once per process) and switches the power on with nothing pending.
    pub async fn power_on() -> Machine {
        let turn = TURN.lock().await;
        if let Err(e) = register() {
            panic!("registering the {VFS_NAME} VFS: {e}");
        }
        lock(&FILES).clear();
        for counter in [&OPENED, &HELD_WRITES, &SYNCS] {
            counter.store(0, SeqCst);
        }
        POWER_CUT.store(false, SeqCst);
        Machine { _turn: turn }
    }

    /// Cuts the power: every unsynced write is lost; returns how many bytes were lost.
    pub fn cut(&self) -> u64 {
        POWER_CUT.store(true, SeqCst);
        lock(&FILES).values().map(|p| lock(p).discard()).sum()
    }

    pub fn stats(&self) -> Stats {
        Stats { files_opened: OPENED.load(SeqCst), writes_held: HELD_WRITES.load(SeqCst), syncs: SYNCS.load(SeqCst) }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn register() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| unsafe {
        let real = ffi::sqlite3_vfs_find(ptr::null());
        if real.is_null() {
            return Err("sqlite3_vfs_find(NULL) found no default VFS".into());
        }
        REAL_VFS.store(real, SeqCst);
        // The default VFS's own methods for everything but open and delete: the unix VFS
        // ignores the vfs pointer they are given, and mxPathname/pAppData are copied.
        let mut vfs: ffi::sqlite3_vfs = *real;
        vfs.szOsFile = std::mem::size_of::<ShimFile>() as c_int;
        vfs.pNext = ptr::null_mut();
        vfs.zName = c"powercut".as_ptr();
        vfs.xOpen = Some(shim_open);
        vfs.xDelete = Some(shim_delete);
        let rc = ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0);
        if rc != ffi::SQLITE_OK {
            return Err(format!("sqlite3_vfs_register returned {rc}"));
        }
        Ok(())
    })
    .clone()
}

/// The files whose writes are held until their sync.
const HELD: c_int = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_JOURNAL;
unsafe extern "C" fn shim_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    unsafe { (*file).pMethods = ptr::null() };
    let real_vfs = REAL_VFS.load(SeqCst);
    let Some(real_open) = (unsafe { (*real_vfs).xOpen }) else {
        return ffi::SQLITE_ERROR;
    };
    let size = unsafe { (*real_vfs).szOsFile }.max(8) as usize;
    let Ok(layout) = Layout::from_size_align(size, 16) else {
        return ffi::SQLITE_NOMEM;
    };
    let real = unsafe { alloc_zeroed(layout) } as *mut ffi::sqlite3_file;
    if real.is_null() {
        return ffi::SQLITE_NOMEM;
    }
    let rc = unsafe { real_open(real_vfs, name, real, flags, out_flags) };
    if rc != ffi::SQLITE_OK {
        if let Some(close) = unsafe { (*real).pMethods.as_ref() }.and_then(|m| m.xClose) {
            unsafe { close(real) };
        }
        unsafe { dealloc(real as *mut u8, layout) };
        return rc;
    }
    let pending = (flags & HELD != 0 && !name.is_null()).then(|| {
        let path = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
        OPENED.fetch_add(1, SeqCst);
        lock(&FILES).entry(path).or_default().clone()
    });
    let shim = ShimFile { base: ffi::sqlite3_file { pMethods: &METHODS }, real, real_layout: layout, pending };
    unsafe { ptr::write(file as *mut ShimFile, shim) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn shim_delete(_vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    if POWER_CUT.load(SeqCst) {
        return ffi::SQLITE_OK;
    }
    let real_vfs = REAL_VFS.load(SeqCst);
    let Some(real_delete) = (unsafe { (*real_vfs).xDelete }) else {
        return ffi::SQLITE_ERROR;
    };
    let path = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
    // The file's cached writes go with it.
    let gone = lock(&FILES).remove(&path);
    if let Some(p) = gone {
        lock(&p).discard();
    }
    unsafe { real_delete(real_vfs, name, sync_dir) }
}
