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
