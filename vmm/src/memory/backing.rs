//! The host pages behind guest RAM: 4 KiB pages, transparent huge pages in
//! a 2 MiB-aligned mapping, or reserved hugetlb pages.

use std::fmt;
use std::ptr::null_mut;
use std::str::FromStr;

use vm_memory::MmapRegion;
use vm_memory::mmap::MmapRegionBuilder;

use super::MemoryError;
use super::hugepool::check_huge_pool;

const HUGE: u64 = 2 << 20;
/// How many times the fallback THP alignment tries to land in its hole.
const ALIGN_TRIES: usize = 8;

/// What kind of host pages back guest RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Backing {
    /// Anonymous memory in 4 KiB pages.
    FourK,
    /// Anonymous memory with MADV_HUGEPAGE: 2 MiB pages where the kernel can.
    Thp,
    /// Pre-reserved 2 MiB hugetlb pages.
    Hugetlb,
}

/// The message for a backing name that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("unknown memory backing '{0}': choose 4k, thp or hugetlb")]
pub struct BackingParseError(pub String);

impl Backing {
    /// The backing's command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Backing::FourK => "4k",
            Backing::Thp => "thp",
            Backing::Hugetlb => "hugetlb",
        }
    }
}

impl FromStr for Backing {
    type Err = BackingParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "4k" => Ok(Backing::FourK),
            "thp" => Ok(Backing::Thp),
            "hugetlb" => Ok(Backing::Hugetlb),
            other => Err(BackingParseError(other.to_string())),
        }
    }
}

impl fmt::Display for Backing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Map `len` bytes of anonymous memory the way `backing` asks. `len` is a
/// nonzero multiple of 4 KiB (checked by the caller).
pub(super) fn map(len: usize, backing: Backing) -> Result<MmapRegion, MemoryError> {
    let mmap_err = |source| MemoryError::Mmap {
        size: len as u64,
        backing,
        source,
    };
    match backing {
        Backing::FourK => {
            let region = anon(len).build().map_err(mmap_err)?;
            // With THP "always" the kernel would use huge pages here too, and
            // 4k backing must really be 4 KiB pages. Best effort: a kernel
            // without THP has nothing to turn off (EINVAL).
            // SAFETY: the range is exactly the mapping `region` owns; the
            // advice only changes how the kernel backs it.
            unsafe { libc::madvise(region.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE) };
            Ok(region)
        }
        Backing::Thp => {
            let region = map_huge_aligned(len)?;
            // SAFETY: the range is exactly the mapping `region` owns; the
            // advice only changes how the kernel backs it.
            let rc = unsafe { libc::madvise(region.as_ptr().cast(), len, libc::MADV_HUGEPAGE) };
            if rc != 0 {
                return Err(MemoryError::Madvise(std::io::Error::last_os_error()));
            }
            Ok(region)
        }
        Backing::Hugetlb => {
            if !(len as u64).is_multiple_of(HUGE) {
                return Err(MemoryError::NotHugeMultiple(len as u64));
            }
            check_huge_pool(len as u64 / HUGE)?;
            // No MAP_NORESERVE: the kernel reserves the huge pages now, so a
            // short pool fails here and never as a SIGBUS later.
            let flags =
                libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_HUGETLB | libc::MAP_HUGE_2MB;
            MmapRegionBuilder::new(len)
                .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
                .with_mmap_flags(flags)
                .with_hugetlbfs(true)
                .build()
                .map_err(mmap_err)
        }
    }
}

fn anon(len: usize) -> MmapRegionBuilder {
    MmapRegionBuilder::new(len)
        .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
        .with_mmap_flags(libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE)
}

fn thp_mmap_err(len: usize) -> impl Fn(vm_memory::mmap::MmapRegionError) -> MemoryError {
    move |source| MemoryError::Mmap {
        size: len as u64,
        backing: Backing::Thp,
        source,
    }
}

/// An anonymous mapping whose start is 2 MiB-aligned, so that GPA and HVA
/// agree modulo 2 MiB and whole huge pages can back whole guest 2 MiB ranges.
fn map_huge_aligned(len: usize) -> Result<MmapRegion, MemoryError> {
    let first = anon(len).build().map_err(thp_mmap_err(len))?;
    // Linux 6.7+ aligns anonymous mappings whose length is a multiple of
    // 2 MiB by itself.
    if (first.as_ptr() as u64).is_multiple_of(HUGE) {
        return Ok(first);
    }
    map_into_aligned_hole(len, vec![first])
}

/// Older kernels: punch an aligned hole of exactly `len` into a reservation
/// and let the next mmap fall into it. vm-memory must own the mapping (so no
/// clone of the memory can outlive it), hence no MAP_FIXED here. Misses stay
/// mapped until we return so the next try cannot land there again.
fn map_into_aligned_hole(
    len: usize,
    mut misses: Vec<MmapRegion>,
) -> Result<MmapRegion, MemoryError> {
    for _ in 0..ALIGN_TRIES {
        let hole = AlignedHole::punch(len)?;
        let region = anon(len).build().map_err(thp_mmap_err(len))?;
        if region.as_ptr() as usize == hole.start {
            return Ok(region);
        }
        misses.push(region);
    }
    Err(MemoryError::Align)
}

/// A PROT_NONE reservation of len + 2 MiB with the 2 MiB-aligned middle
/// [start, start + len) unmapped; dropping it unmaps the two guard ends.
struct AlignedHole {
    base: usize,
    total: usize,
    start: usize,
    len: usize,
}

impl AlignedHole {
    fn punch(len: usize) -> Result<AlignedHole, MemoryError> {
        let huge = HUGE as usize;
        let total = len.checked_add(huge).ok_or(MemoryError::Align)?;
        // SAFETY: a fresh PROT_NONE mapping at a kernel-chosen address
        // touches no existing memory.
        let base = unsafe {
            libc::mmap(
                null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(MemoryError::Reserve(std::io::Error::last_os_error()));
        }
        let base = base as usize;
        // base + total did not overflow (the kernel mapped it), and
        // start + len <= base + total because start - base < 2 MiB.
        let start = (base + huge - 1) & !(huge - 1);
        let hole = AlignedHole {
            base,
            total,
            start,
            len,
        };
        unmap(start, len);
        Ok(hole)
    }
}

impl Drop for AlignedHole {
    fn drop(&mut self) {
        unmap(self.base, self.start - self.base);
        let end = self.start + self.len;
        unmap(end, self.base + self.total - end);
    }
}

/// Unmap part of an `AlignedHole` reservation.
fn unmap(addr: usize, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: callers pass only parts of a reservation this module mapped
    // and has not unmapped yet; no Rust object refers to that memory.
    unsafe { libc::munmap(addr as *mut libc::c_void, len) };
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;

    #[test]
    fn names() {
        for b in [Backing::FourK, Backing::Thp, Backing::Hugetlb] {
            assert_eq!(b.as_str().parse::<Backing>().ok(), Some(b));
            assert_eq!(b.to_string(), b.as_str());
        }
        let err = "2m".parse::<Backing>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("unknown memory backing '2m': choose 4k, thp or hugetlb")
        );
    }

    #[test]
    fn thp_is_2m_aligned() {
        // 2 MiB + 4 KiB: the kernel does not align this length by itself.
        for len in [4 << 20, (2 << 20) + PAGE] {
            let region = map(len, Backing::Thp);
            let aligned = region
                .as_ref()
                .map(|r| (r.as_ptr() as u64).is_multiple_of(HUGE));
            assert!(matches!(aligned, Ok(true)), "{region:?}");
        }
        // The path for kernels that do not align by themselves.
        let region = map_into_aligned_hole(3 * PAGE, Vec::new());
        assert!(region.is_ok_and(|r| (r.as_ptr() as u64).is_multiple_of(HUGE)));
    }

    #[test]
    fn hugetlb_needs_whole_huge_pages() {
        let r = map(1 << 20, Backing::Hugetlb);
        assert!(matches!(r, Err(MemoryError::NotHugeMultiple(0x10_0000))));
    }
}
