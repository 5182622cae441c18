//! Warming the page cache before `PRAGMA quick_check` at open. After a host reboot the store's
//! pages are not in memory, and quick_check reads them in b-tree order, which on a store grown
//! by inserts jumps around the file (about 170 MB/s cold, `cargo bench --bench startup`), while
//! one sequential read of the file runs at the disk's streaming speed. Reading the file (and
//! its WAL) front to back in large blocks first turns the check's reads into cache hits.
//!
//! Written by hand because it is one loop of `read` over a file: `posix_fadvise(WILLNEED)`
//! would do the same through libc, but it starts the reads without waiting for them and the
//! kernel may cap them, so the check could still wait on the slow path. A file larger than
//! half of the memory the kernel reports available is left alone: reading it would only push
//! its own first pages (and other programs' pages) out again.

use std::io::Read;
use std::path::Path;

/// Size of one read.
const BLOCK: usize = 8 << 20;

/// What [`warm_page_cache`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Warmed {
    /// These many bytes were read.
    Read(u64),
    /// Not read: the files are larger than half of the available memory (bytes given).
    TooLarge(u64),
}

/// Reads the database file at `db` and its `-wal` file, if present, sequentially into the page
/// cache. Files that do not exist are skipped (a new store).
pub(crate) fn warm_page_cache(db: &Path) -> std::io::Result<Warmed> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let files = [db.to_path_buf(), wal.into()];
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    if let Some(avail) = mem_available() {
        if total > avail / 2 {
            return Ok(Warmed::TooLarge(total));
        }
    }
    let mut buf = vec![0u8; BLOCK];
    let mut read = 0u64;
    for f in &files {
        let mut file = match std::fs::File::open(f) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => read += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Warmed::Read(read))
}

/// `MemAvailable` of /proc/meminfo in bytes (Linux); None elsewhere or when it cannot be read.
fn mem_available() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_kib() {
        let text = "MemTotal:       24000000 kB\nMemFree:  1000 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(parse_mem_available(text), Some(2048 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: x kB\n"), None);
    }

    #[test]
    fn reads_the_file_and_its_wal_and_skips_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        assert_eq!(warm_page_cache(&db).unwrap(), Warmed::Read(0));
        std::fs::write(&db, vec![1u8; BLOCK + 10]).unwrap();
        assert_eq!(warm_page_cache(&db).unwrap(), Warmed::Read(BLOCK as u64 + 10));
        std::fs::write(dir.path().join("s.db-wal"), [2u8; 7]).unwrap();
        assert_eq!(warm_page_cache(&db).unwrap(), Warmed::Read(BLOCK as u64 + 17));
    }
}
