//! The host pages behind guest RAM: 4 KiB pages, transparent huge pages in
//! a 2 MiB-aligned mapping, or reserved hugetlb pages.

use std::fmt;
use std::ptr::null_mut;
use std::str::FromStr;

use vm_memory::MmapRegion;
use vm_memory::mmap::MmapRegionBuilder;

use super::MemoryError;
use super::hugepool::check_huge_pool;
use crate::addr::PAGE;

const HUGE: u64 = 2 << 20;

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

/// Map `len` bytes of guest RAM with `backing`; `len` is a nonzero multiple
/// of 4 KiB (checked by the caller). The second value, when there is one,
/// owns the mapping the region points into: keep it alive (and drop it
/// after the region). The third is the host page size of every page of
/// it, when the backing guarantees one.
pub(super) fn map(
    len: usize,
    backing: Backing,
) -> Result<(MmapRegion, Option<RawMapping>, Option<u64>), MemoryError> {
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
            let rc = unsafe { libc::madvise(region.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE) };
            // Only a kernel that took the advice promises 4 KiB pages (one
            // without THP refuses it, and has nothing bigger anyway, but
            // then smaps can say so).
            Ok((region, None, (rc == 0).then_some(PAGE)))
        }
        Backing::Thp => {
            let (region, raw) = map_huge_aligned(len)?;
            // SAFETY: the range is exactly the mapping `region` owns; the
            // advice only changes how the kernel backs it.
            let rc = unsafe { libc::madvise(region.as_ptr().cast(), len, libc::MADV_HUGEPAGE) };
            if rc != 0 {
                return Err(MemoryError::Madvise(std::io::Error::last_os_error()));
            }
            // THP is per 2 MiB block and may fall back: no promise.
            Ok((region, raw, None))
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
                .map(|r| (r, None, Some(HUGE)))
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
fn map_huge_aligned(len: usize) -> Result<(MmapRegion, Option<RawMapping>), MemoryError> {
    let first = anon(len).build().map_err(thp_mmap_err(len))?;
    // Linux 6.7+ aligns anonymous mappings whose length is a multiple of
    // 2 MiB by itself.
    if (first.as_ptr() as u64).is_multiple_of(HUGE) {
        return Ok((first, None));
    }
    drop(first);
    map_aligned(len).map(|(r, raw)| (r, Some(raw)))
}

/// A mapping this module made itself; unmapped on drop. The MmapRegion
/// built over it does not own it, so this must outlive the region.
#[derive(Debug)]
pub(crate) struct RawMapping {
    start: usize,
    len: usize,
}

impl Drop for RawMapping {
    fn drop(&mut self) {
        unmap(self.start, self.len);
    }
}

/// Kernels that do not align by themselves: reserve len + 2 MiB, map the
/// 2 MiB-aligned middle over the reservation with MAP_FIXED (safe: the
/// range is ours), and give the unused ends back. Deterministic, unlike
/// hoping the next mmap falls into a hole another thread may take first.
fn map_aligned(len: usize) -> Result<(MmapRegion, RawMapping), MemoryError> {
    let hole = AlignedHole::reserve(len)?;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE;
    // SAFETY: [hole.start, hole.start + len) lies inside our own PROT_NONE
    // reservation, which no Rust object refers to; MAP_FIXED replaces it.
    let p = unsafe {
        libc::mmap(
            hole.start as *mut libc::c_void,
            len,
            prot,
            libc::MAP_FIXED | flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p as usize != hole.start {
        return Err(MemoryError::Reserve(std::io::Error::last_os_error()));
    }
    let raw = RawMapping {
        start: hole.start,
        len,
    };
    drop(hole); // unmaps only the two ends
    // SAFETY: raw.start..raw.start + len is a live read-write mapping that
    // `raw` owns; the caller keeps `raw` alive longer than the region.
    let builder =
        unsafe { MmapRegionBuilder::new(len).with_raw_mmap_pointer(raw.start as *mut u8) };
    let region = builder
        .with_mmap_prot(prot)
        .with_mmap_flags(flags)
        .build()
        .map_err(thp_mmap_err(len))?;
    Ok((region, raw))
}

/// A PROT_NONE reservation of len + 2 MiB whose 2 MiB-aligned middle is
/// [start, start + len); dropping it unmaps the two ends around it.
struct AlignedHole {
    base: usize,
    total: usize,
    start: usize,
    len: usize,
}

impl AlignedHole {
    fn reserve(len: usize) -> Result<AlignedHole, MemoryError> {
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

/// Unmap part of a reservation or mapping this module made.
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

    const PAGE: usize = crate::addr::PAGE as usize;

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
                .map(|(r, _, _)| (r.as_ptr() as u64).is_multiple_of(HUGE));
            assert!(matches!(aligned, Ok(true)), "{region:?}");
        }
        // The path for kernels that do not align by themselves.
        let region = map_aligned(3 * PAGE);
        assert!(
            region.is_ok_and(
                |(r, raw)| (r.as_ptr() as u64).is_multiple_of(HUGE) && raw.len == 3 * PAGE
            )
        );
    }

    #[test]
    fn hugetlb_needs_whole_huge_pages() {
        let r = map(1 << 20, Backing::Hugetlb);
        assert!(matches!(r, Err(MemoryError::NotHugeMultiple(0x10_0000))));
    }
}
