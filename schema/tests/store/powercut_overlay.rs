//! The pure half of the power-cut VFS: the writes and truncates of one file that reached the
//! "page cache" but not the disk. The file as a reader sees it is the real file, cut where a
//! pending truncate cut it, with the pending writes laid over it (later writes win); a sync
//! applies all of it to the real file and empties the overlay; a power cut simply forgets it.
//! The real file is reached through [`Backing`], so the logic is tested here against a plain
//! byte vector, with no SQLite and no FFI.

use std::collections::BTreeMap;

/// The real file under an overlay (a SQLite file in the shim, a `Vec<u8>` in the tests).
pub trait Backing {
    type Error;
    fn len(&mut self) -> Result<u64, Self::Error>;
    /// Fills `buf` from `off`; the caller reads only bytes below `len()`.
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), Self::Error>;
    /// Sets the length, cutting or extending with zeros (like ftruncate).
    fn truncate(&mut self, len: u64) -> Result<(), Self::Error>;
}

/// Unsynced changes of one file.
#[derive(Debug, Default)]
pub struct Pending {
    /// Non-overlapping written ranges, by start offset.
    extents: BTreeMap<u64, Vec<u8>>,
    /// Real bytes at or beyond this offset were cut off by a pending truncate.
    real_cut: Option<u64>,
    /// The length set by the latest pending truncate.
    set_len: Option<u64>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.extents.is_empty() && self.set_len.is_none()
    }

    /// Bytes held in pending writes.
    pub fn held_bytes(&self) -> u64 {
        self.extents.values().map(|d| d.len() as u64).sum()
    }

    /// The file's length as readers see it, given the real file's length.
    pub fn len(&self, real_len: u64) -> u64 {
        let written_end = self.extents.iter().next_back().map_or(0, |(start, data)| start + data.len() as u64);
        self.set_len.unwrap_or(real_len).max(written_end)
    }

    /// Records a write; it replaces whatever earlier pending writes it overlaps.
    pub fn write(&mut self, off: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.remove_range(off, off + data.len() as u64);
        self.extents.insert(off, data.to_vec());
    }

    /// Records a truncate (or an extension with zeros when `len` is beyond the end).
    pub fn truncate(&mut self, len: u64) {
        self.remove_range(len, u64::MAX);
        self.real_cut = Some(self.real_cut.map_or(len, |c| c.min(len)));
        self.set_len = Some(len);
    }

    /// Removes the pending bytes in `[start, end)`, keeping the parts of extents outside it.
    fn remove_range(&mut self, start: u64, end: u64) {
        let hit: Vec<u64> =
            self.extents.range(..end).rev().take_while(|(s, d)| *s + d.len() as u64 > start).map(|(s, _)| *s).collect();
        for s in hit {
            let Some(data) = self.extents.remove(&s) else {
                continue;
            };
            let e = s + data.len() as u64;
            if s < start {
                self.extents.insert(s, data[..(start - s) as usize].to_vec());
            }
            if e > end {
                self.extents.insert(end, data[(end - s) as usize..].to_vec());
            }
        }
    }

    /// Reads `buf.len()` bytes at `off` as readers see the file: returns how many exist; the
    /// rest of `buf` (past the end of the file) is zero-filled, as SQLite expects.
    pub fn read<B: Backing>(&self, real: &mut B, off: u64, buf: &mut [u8]) -> Result<usize, B::Error> {
        buf.fill(0);
        let real_len = real.len()?;
        let end = (off + buf.len() as u64).min(self.len(real_len));
        if end <= off {
            return Ok(0);
        }
        let real_end = real_len.min(self.real_cut.unwrap_or(u64::MAX)).min(end);
        if off < real_end {
            real.read_at(off, &mut buf[..(real_end - off) as usize])?;
        }
        let overlapping = self.extents.range(..end).rev().take_while(|(s, d)| *s + d.len() as u64 > off);
        for (&s, data) in overlapping {
            let from = s.max(off);
            let to = (s + data.len() as u64).min(end);
            buf[(from - off) as usize..(to - off) as usize]
                .copy_from_slice(&data[(from - s) as usize..(to - s) as usize]);
        }
        Ok((end - off) as usize)
    }

    /// Writes everything pending to the real file (truncate first, then the writes, then the
    /// final length) and empties the overlay. On error the overlay is kept.
    pub fn apply<B: Backing>(&mut self, real: &mut B) -> Result<(), B::Error> {
        let real_len = real.len()?;
        let target = self.len(real_len);
        if let Some(cut) = self.real_cut.filter(|c| *c < real_len) {
            real.truncate(cut)?;
        }
        for (&s, data) in &self.extents {
            real.write_at(s, data)?;
        }
        if real.len()? != target {
            real.truncate(target)?;
        }
        *self = Pending::default();
        Ok(())
    }

    /// Forgets everything pending (the power went off); returns the bytes lost.
    pub fn discard(&mut self) -> u64 {
        let lost = self.held_bytes();
        *self = Pending::default();
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::{Backing, Pending};
    use std::convert::Infallible;

    /// A real file in memory.
    struct Disk(Vec<u8>);

    impl Backing for Disk {
        type Error = Infallible;
        fn len(&mut self) -> Result<u64, Infallible> {
            Ok(self.0.len() as u64)
        }
        fn read_at(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Infallible> {
            let off = off as usize;
            assert!(off + buf.len() <= self.0.len(), "read past the real end");
            buf.copy_from_slice(&self.0[off..off + buf.len()]);
            Ok(())
        }
        fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), Infallible> {
            let end = off as usize + data.len();
            if self.0.len() < end {
                self.0.resize(end, 0);
            }
            self.0[off as usize..end].copy_from_slice(data);
            Ok(())
        }
        fn truncate(&mut self, len: u64) -> Result<(), Infallible> {
            self.0.resize(len as usize, 0);
            Ok(())
        }
    }

    /// What the overlay shows, read in one piece.
    fn view(p: &Pending, disk: &mut Disk) -> Vec<u8> {
        let len = p.len(disk.0.len() as u64) as usize;
        let mut buf = vec![0xEE; len + 7];
        let Ok(n) = p.read(disk, 0, &mut buf);
        assert_eq!(n, len, "read length");
        assert!(buf[len..].iter().all(|b| *b == 0), "past the end is zero-filled");
        buf.truncate(len);
        buf
    }

    fn disk(len: usize, fill: u8) -> Disk {
        Disk(vec![fill; len])
    }

    #[test]
    fn sector_aligned_writes_of_any_size_read_back_and_apply() {
        let mut d = disk(8192, 1);
        let mut model = d.0.clone();
        let mut p = Pending::default();
        for (i, (off, len)) in [(0, 512), (4096, 4096), (8192, 4096 * 3), (512, 1536)].into_iter().enumerate() {
            let data = vec![10 + i as u8; len];
            p.write(off, &data);
            let (off, end) = (off as usize, off as usize + len);
            if model.len() < end {
                model.resize(end, 0);
            }
            model[off..end].copy_from_slice(&data);
        }
        assert_eq!(d.0, vec![1; 8192], "nothing reaches the disk before the sync");
        assert_eq!(view(&p, &mut d), model);
        let Ok(()) = p.apply(&mut d);
        assert!(p.is_empty());
        assert_eq!(d.0, model, "the sync writes exactly what readers saw");
    }

    #[test]
    fn overlapping_writes_later_wins() {
        let mut d = disk(0, 0);
        let mut p = Pending::default();
        p.write(0, &[1; 100]);
        p.write(50, &[2; 100]); // overlaps the tail
        p.write(20, &[3; 10]); // inside the first
        p.write(140, &[4; 5]); // inside the second
        p.write(0, &[5; 5]); // exact start
        let mut want = vec![1u8; 150];
        want[50..150].fill(2);
        want[20..30].fill(3);
        want[140..145].fill(4);
        want[0..5].fill(5);
        assert_eq!(view(&p, &mut d), want);
        p.write(0, &[6; 150]); // covers everything
        assert_eq!(view(&p, &mut d), vec![6; 150]);
        assert_eq!(p.held_bytes(), 150, "covered extents are dropped");
    }

    #[test]
    fn reads_span_pending_and_real_data_and_past_the_end() {
        let mut d = Disk((0..100).collect());
        let mut p = Pending::default();
        p.write(40, &[0xAA; 10]);
        let mut buf = [0u8; 30];
        let Ok(n) = p.read(&mut d, 30, &mut buf);
        assert_eq!(n, 30);
        let want: Vec<u8> = (30..40).chain([0xAA; 10]).chain(50..60).collect();
        assert_eq!(buf.to_vec(), want);
        let Ok(n) = p.read(&mut d, 90, &mut buf);
        assert_eq!(n, 10, "a short read at the end");
        assert_eq!(buf[..10].to_vec(), (90..100).collect::<Vec<u8>>());
        assert!(buf[10..].iter().all(|b| *b == 0));
        let Ok(n) = p.read(&mut d, 500, &mut buf);
        assert_eq!(n, 0);
    }

    #[test]
    fn truncate_then_write_hides_the_cut_real_bytes() {
        let mut d = disk(100, 9);
        let mut p = Pending::default();
        p.write(90, &[7; 10]);
        p.truncate(10);
        assert_eq!(p.len(100), 10);
        p.write(20, &[8; 5]); // the gap 10..20 reads as zeros, not as the old 9s
        let mut want = vec![9u8; 10];
        want.extend([0; 10]);
        want.extend([8; 5]);
        assert_eq!(view(&p, &mut d), want);
        let Ok(()) = p.apply(&mut d);
        assert_eq!(d.0, want);

        let mut p = Pending::default();
        p.truncate(0);
        p.write(0, &[1; 4]); // a WAL restarted from scratch
        assert_eq!(view(&p, &mut d), vec![1; 4]);
        let Ok(()) = p.apply(&mut d);
        assert_eq!(d.0, vec![1; 4]);
    }

    #[test]
    fn size_beyond_the_real_file_and_truncate_that_extends() {
        let mut d = disk(10, 3);
        let mut p = Pending::default();
        p.write(4096, &[5; 4096]);
        assert_eq!(p.len(10), 8192);
        let v = view(&p, &mut d);
        assert_eq!(&v[..10], &[3; 10]);
        assert!(v[10..4096].iter().all(|b| *b == 0));
        p.truncate(5);
        p.truncate(20); // extends with zeros: the real bytes 5..10 stay gone
        let mut want = vec![3u8; 5];
        want.extend([0; 15]);
        assert_eq!(view(&p, &mut d), want);
        let Ok(()) = p.apply(&mut d);
        assert_eq!(d.0, want);
    }

    #[test]
    fn discard_leaves_the_real_file_as_it_was() {
        let mut d = disk(64, 2);
        let mut p = Pending::default();
        p.write(0, &[1; 128]);
        p.truncate(32);
        assert_eq!(p.discard(), 32);
        assert!(p.is_empty());
        assert_eq!(view(&p, &mut d), vec![2; 64]);
        assert_eq!(d.0, vec![2; 64]);
    }

    /// Random writes, truncates and syncs against a model file that applies each op at once.
    #[test]
    fn random_ops_match_a_model() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..200 {
            let mut d = Disk((0..next(3000)).map(|i| i as u8).collect());
            let mut model = d.0.clone();
            let mut p = Pending::default();
            for op in 0..40 {
                match next(10) {
                    0 => {
                        let len = next(4000);
                        p.truncate(len);
                        model.resize(len as usize, 0);
                    }
                    1 => {
                        let Ok(()) = p.apply(&mut d);
                        assert_eq!(d.0, model, "round {round} op {op}: applied");
                    }
                    _ => {
                        let (off, len) = (next(4000) as usize, 1 + next(600) as usize);
                        let data = vec![(round * 40 + op) as u8; len];
                        p.write(off as u64, &data);
                        if model.len() < off + len {
                            model.resize(off + len, 0);
                        }
                        model[off..off + len].copy_from_slice(&data);
                    }
                }
                assert_eq!(view(&p, &mut d), model, "round {round} op {op}");
            }
            let Ok(()) = p.apply(&mut d);
            assert_eq!(d.0, model, "round {round}: final sync");
        }
    }
}
