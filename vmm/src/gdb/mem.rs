//! gdb's memory view of one guest process: its own page tables walked
//! with the project's walker (paging::walk), whether or not its CR3 is the
//! one loaded, a page at a time. An address its tables do not map is an
//! error for gdb, never zeros. Writes (gdb's `set var`, and the int3 of a
//! software breakpoint) refuse a frame another live process maps at the
//! same address: a page shared after fork is both processes', and a
//! breakpoint in one must not stop (or corrupt) the other.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::addr::{Gpa, Gva, PAGE};
use crate::paging::{self, PagingMode};

/// Why an access failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemError {
    /// The process's tables do not map this address (or no paging mode).
    NotMapped(u64),
    /// Another live process maps the same frame at this address.
    Shared {
        /// The address.
        gva: u64,
        /// One of the other processes.
        pid: u32,
    },
}

impl std::fmt::Display for MemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemError::NotMapped(a) => write!(f, "{a:#x} is not mapped in this process"),
            MemError::Shared { gva, pid } => write!(
                f,
                "the page at {gva:#x} is shared with pid {pid} (after fork): \
                 refused, a write would change both"
            ),
        }
    }
}

/// A process's address space, as the walker sees it.
pub struct Space<'m> {
    /// Guest RAM.
    pub mem: &'m GuestMemoryMmap,
    /// The guest's paging mode (from the vCPU's control registers).
    pub mode: Option<PagingMode>,
    /// The process's page table root (its kernel PGD).
    pub cr3: u64,
}

impl Space<'_> {
    /// Where `gva` lands, and how many bytes of its page follow it.
    pub fn translate(&self, gva: u64) -> Result<(Gpa, u64), MemError> {
        let mode = self.mode.ok_or(MemError::NotMapped(gva))?;
        let t = paging::walk(self.mem, self.cr3, mode, Gva(gva))
            .map_err(|_| MemError::NotMapped(gva))?;
        let size = t.page_size.bytes();
        let left = size - (gva & (size - 1));
        Ok((t.gpa, left))
    }

    /// Read `data.len()` bytes at `gva`: the count read before the first
    /// unmapped page; an error if that is the first byte.
    pub fn read(&self, gva: u64, data: &mut [u8]) -> Result<usize, MemError> {
        let mut done = 0usize;
        while done < data.len() {
            let at = gva.wrapping_add(done as u64);
            let (gpa, left) = match self.translate(at) {
                Ok(t) => t,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let n = (data.len() - done).min(usize::try_from(left).unwrap_or(usize::MAX));
            let Some(chunk) = data.get_mut(done..done + n) else {
                break;
            };
            if self.mem.read_slice(chunk, GuestAddress(gpa.raw())).is_err() {
                if done == 0 {
                    return Err(MemError::NotMapped(at));
                }
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// The frames `len` bytes at `gva` lie in, each with the bytes for it;
    /// an error if any page is not mapped.
    pub fn frames(&self, gva: u64, len: usize) -> Result<Vec<(u64, Gpa, usize)>, MemError> {
        let mut out = Vec::new();
        let mut done = 0usize;
        while done < len {
            let at = gva.wrapping_add(done as u64);
            let (gpa, left) = self.translate(at)?;
            let n = (len - done).min(usize::try_from(left).unwrap_or(usize::MAX));
            out.push((at, gpa, n));
            done += n;
        }
        Ok(out)
    }

    /// Write `data` at `gva`, page by page, once every page is known to be
    /// mapped and private (`others`: the other live processes' spaces).
    pub fn write(
        &self,
        gva: u64,
        data: &[u8],
        others: &[(u32, Space<'_>)],
    ) -> Result<(), MemError> {
        let frames = self.frames(gva, data.len())?;
        for &(at, gpa, _) in &frames {
            for (pid, o) in others {
                if let Ok((g, _)) = o.translate(at)
                    && g.raw() / PAGE == gpa.raw() / PAGE
                {
                    return Err(MemError::Shared { gva: at, pid: *pid });
                }
            }
        }
        let mut done = 0usize;
        for (at, gpa, n) in frames {
            let chunk = data.get(done..done + n).ok_or(MemError::NotMapped(at))?;
            self.mem
                .write_slice(chunk, GuestAddress(gpa.raw()))
                .map_err(|_| MemError::NotMapped(at))?;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::{FlatMem, PageSize, PhysMem, PteFlags, TableBuilder};

    const RAM: u64 = 1 << 20;

    /// Two processes: A maps 0x400000 (a frame B maps too, as after
    /// fork) and 0x401000 (its own); B maps only the shared one.
    fn two() -> (GuestMemoryMmap, u64, u64) {
        let mode = PagingMode::four_level();
        let f = PteFlags::RW.union(PteFlags::US);
        let mut a = TableBuilder::new(FlatMem::new(Gpa(0), RAM), mode, Gpa(0x10000)..Gpa(0x20000))
            .expect("builder A");
        a.map(Gva(0x40_0000), Gpa(0x8_0000), PageSize::Size4K, f)
            .expect("map");
        a.map(Gva(0x40_1000), Gpa(0x8_1000), PageSize::Size4K, f)
            .expect("map");
        let cr3_a = a.cr3();
        let mut b =
            TableBuilder::new(a.into_mem(), mode, Gpa(0x20000)..Gpa(0x30000)).expect("builder B");
        b.map(Gva(0x40_0000), Gpa(0x8_0000), PageSize::Size4K, f)
            .expect("map");
        let cr3_b = b.cr3();
        let flat = b.into_mem();
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), RAM as usize)]).expect("ram");
        for gpa in (0..RAM).step_by(8) {
            let w = flat.read_u64(Gpa(gpa)).expect("in RAM");
            mem.write_obj(w, GuestAddress(gpa)).expect("copy");
        }
        // Each data byte tells its frame and offset.
        for gpa in 0x8_0000..0x8_2000u64 {
            mem.write_obj((gpa >> 8) as u8 ^ gpa as u8, GuestAddress(gpa))
                .expect("fill");
        }
        (mem, cr3_a, cr3_b)
    }

    fn space(mem: &GuestMemoryMmap, cr3: u64) -> Space<'_> {
        Space {
            mem,
            mode: Some(PagingMode::four_level()),
            cr3,
        }
    }

    #[test]
    fn reads_cross_pages_and_stop_at_the_unmapped() {
        let (mem, a, _) = two();
        let s = space(&mem, a);
        let mut buf = [0u8; 32];
        assert_eq!(s.read(0x40_0ff0, &mut buf), Ok(32));
        let want: Vec<u8> = (0x8_0ff0..0x8_1010u64)
            .map(|g| (g >> 8) as u8 ^ g as u8)
            .collect();
        assert_eq!(&buf[..], &want[..]);
        // Into the unmapped page: what came before it; at it: an error.
        assert_eq!(s.read(0x40_1ff0, &mut buf), Ok(16));
        assert_eq!(
            s.read(0x40_2000, &mut buf),
            Err(MemError::NotMapped(0x40_2000))
        );
        // Without a paging mode nothing is mapped.
        let none = Space {
            mode: None,
            ..space(&mem, a)
        };
        assert!(none.read(0x40_0000, &mut buf).is_err());
    }

    #[test]
    fn a_frame_another_process_maps_is_not_written() {
        let (mem, a, b) = two();
        let others = [(2u32, space(&mem, b))];
        let s = space(&mem, a);
        let before: u8 = mem.read_obj(GuestAddress(0x8_0010)).expect("read");
        assert_eq!(
            s.write(0x40_0010, &[0xcc], &others),
            Err(MemError::Shared {
                gva: 0x40_0010,
                pid: 2
            })
        );
        assert_eq!(
            mem.read_obj::<u8>(GuestAddress(0x8_0010)).expect("read"),
            before
        );
        // A write that spans a private and an unmapped page writes nothing.
        assert!(s.write(0x40_1fff, &[1, 2], &others).is_err());
        assert_ne!(mem.read_obj::<u8>(GuestAddress(0x8_1fff)).expect("read"), 1);
        // Its own page takes it.
        assert_eq!(s.write(0x40_1010, &[0xcc], &others), Ok(()));
        assert_eq!(
            mem.read_obj::<u8>(GuestAddress(0x8_1010)).expect("read"),
            0xcc
        );
    }
}
