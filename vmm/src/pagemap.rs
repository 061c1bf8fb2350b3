//! The last step of a translation: host-virtual -> host-physical, read from
//! /proc/self/pagemap, and the size of the host page behind each address
//! (4 KiB, a transparent 2 MiB page, or a hugetlb page).
//!
//! Without CAP_SYS_ADMIN the kernel shows every PFN as 0; that is reported
//! as `NeedsCap`, never as address 0.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use crate::addr::{Hpa, Hva, PAGE};

mod entry;
mod pagesize;

pub use entry::{HostFrame, PagemapEntry};
pub use pagesize::{HostPageSizer, Vma, block_is_huge};

const HUGE: u64 = 2 << 20;
/// Pagemap is read in chunks of this much address space: 64 MiB = 128 KiB
/// of entries per pread, so a 1 GiB guest takes 16 reads.
const CHUNK: u64 = 64 << 20;

/// Why the host memory view could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum HostMemError {
    /// The pagemap file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// This process's pagemap, plus kpageflags when readable (root) and a cached
/// smaps view. Use one per report: smaps is read once, and again only for a
/// mapping the cached view does not know.
#[derive(Debug)]
pub struct Pagemap {
    file: File,
    kpageflags: Option<File>,
    sizes: Mutex<Option<Arc<HostPageSizer>>>,
    /// Mappings whose page size their backing already told us (4 KiB with
    /// THP turned off, hugetlb's size): no smaps parse for them.
    known: Vec<(std::ops::Range<u64>, u64)>,
}

impl Pagemap {
    /// Open /proc/self/pagemap (and /proc/kpageflags if allowed).
    pub fn open() -> Result<Pagemap, HostMemError> {
        const PATH: &str = "/proc/self/pagemap";
        let file = File::open(PATH).map_err(|source| HostMemError::Open { path: PATH, source })?;
        Ok(Pagemap {
            file,
            kpageflags: File::open("/proc/kpageflags").ok(),
            sizes: Mutex::new(None),
            known: Vec::new(),
        })
    }

    /// Every page of `[start, start + len)` is `page_size` bytes on the
    /// host, as its backing guarantees: asked about it, answer that instead
    /// of parsing /proc/self/smaps (0.3 ms per run here).
    pub fn know(&mut self, start: Hva, len: u64, page_size: u64) {
        let end = start.raw().saturating_add(len);
        self.known.push((start.raw()..end, page_size));
    }

    /// The page size the backing gave for `hva`, if it is in such a mapping.
    fn known_size(&self, hva: Hva) -> Option<u64> {
        self.known
            .iter()
            .find(|(r, _)| r.contains(&hva.raw()))
            .map(|&(_, size)| size)
    }

    /// Where the byte at `hva` lives in host-physical memory, with the size
    /// of the host page holding it.
    pub fn lookup(&self, hva: Hva) -> HostFrame {
        match self.lookup_range(hva, 1).pop() {
            Some(HostFrame::Present { hpa, page_size }) => HostFrame::Present {
                hpa: Hpa(hpa.raw() | (hva.raw() & (PAGE - 1))),
                page_size,
            },
            Some(other) => other,
            None => HostFrame::Unavailable("address past the end of the address space".into()),
        }
    }

    /// The frames of `pages` consecutive 4 KiB pages from the page holding
    /// `start`; each HPA is its page's first byte. Reads pagemap in 64 MiB
    /// batches. Shorter than `pages` only if the range passes 2^64.
    pub fn lookup_range(&self, start: Hva, pages: usize) -> Vec<HostFrame> {
        let mut out = Vec::with_capacity(pages.min(1 << 20));
        let mut page = start.align_down(PAGE);
        while out.len() < pages {
            // Whole 2 MiB blocks are read so each can be checked for a THP.
            let lo = page.align_down(HUGE);
            let left = (pages - out.len()) as u64;
            let Some(end) = left.checked_mul(PAGE).and_then(|n| page.checked_add(n)) else {
                break;
            };
            let hi = end
                .raw()
                .checked_next_multiple_of(HUGE)
                .unwrap_or(end.raw());
            let hi = hi.min(lo.raw().saturating_add(CHUNK));
            let raw = match self.read_entries(lo, ((hi - lo.raw()) / PAGE) as usize) {
                Ok(raw) => raw,
                Err(why) => {
                    out.resize(pages, HostFrame::Unavailable(why));
                    break;
                }
            };
            // Fetched at the first present page: unmapped ranges need no smaps.
            let mut sizer: Option<Option<Arc<HostPageSizer>>> = None;
            let mut blocks: Vec<Option<bool>> = vec![None; raw.len().div_ceil(512)];
            while out.len() < pages && page.raw() < hi {
                let index = ((page.raw() - lo.raw()) / PAGE) as usize;
                // raw covers [lo, hi), so the fallback never applies.
                let entry = raw.get(index).copied().unwrap_or(0);
                let mut frame = PagemapEntry::decode(entry).frame(page);
                if let (HostFrame::Present { page_size, .. }, Some(size)) =
                    (&mut frame, self.known_size(page))
                {
                    *page_size = Some(size);
                } else if let (HostFrame::Present { page_size, .. }, Some(block)) =
                    (&mut frame, blocks.get_mut(index / 512))
                {
                    let sizer = sizer.get_or_insert_with(|| self.sizer(page));
                    let flags = self.kpageflags.as_ref();
                    *page_size =
                        pagesize::page_size(sizer.as_deref(), flags, page, &raw, index, block);
                }
                out.push(frame);
                match page.checked_add(PAGE) {
                    Some(next) => page = next,
                    None => return out,
                }
            }
        }
        out
    }

    /// The host page size of the mapping holding `hva`, from smaps: what can
    /// be said without CAP_SYS_ADMIN (see pagesize::mapping_page_size).
    pub fn mapping_page_size(&self, hva: Hva) -> Option<u64> {
        if let Some(size) = self.known_size(hva) {
            return Some(size);
        }
        let sizer = self.sizer(hva)?;
        pagesize::mapping_page_size(sizer.vma(hva)?)
    }

    /// "available", or why host-physical addresses cannot be shown, found
    /// by looking up a page this process has just written.
    pub fn status_text(&self) -> String {
        let probe = std::hint::black_box(vec![0x5a_u8; 64]);
        let hva = Hva(probe.as_ptr() as u64);
        // The raw entry, not lookup(): the page size would cost a smaps parse.
        let entry = self
            .read_entries(hva, 1)
            .ok()
            .and_then(|e| e.first().copied());
        match entry.map_or(HostFrame::Unavailable("cannot read pagemap".into()), |e| {
            PagemapEntry::decode(e).frame(hva)
        }) {
            HostFrame::Present { .. } => "available".to_string(),
            HostFrame::NotPresent | HostFrame::Swapped => {
                "unavailable (a page just written is not resident)".to_string()
            }
            other => other.to_string(),
        }
    }

    /// Read `n` raw entries starting with the one for `from`; entries the
    /// kernel does not return (past the user address space) read as 0.
    fn read_entries(&self, from: Hva, n: usize) -> Result<Vec<u64>, String> {
        let mut bytes = vec![0u8; n * 8];
        let offset = from.raw() / PAGE * 8;
        let mut done = 0;
        while done < bytes.len() {
            match self.file.read_at(&mut bytes[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(k) => done += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot read /proc/self/pagemap at {from}: {e}")),
            }
        }
        let words = bytes.chunks_exact(8);
        Ok(words
            .map(|w| u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
            .collect())
    }

    /// The cached smaps view, reloaded once if it does not know `hva`
    /// (a mapping made after it was read).
    fn sizer(&self, hva: Hva) -> Option<Arc<HostPageSizer>> {
        let mut cache = self
            .sizes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(s) = cache.as_ref().filter(|s| s.vma(hva).is_some()) {
            return Some(Arc::clone(s));
        }
        let fresh = Arc::new(HostPageSizer::load().ok()?);
        *cache = Some(Arc::clone(&fresh));
        Some(fresh)
    }
}

/// This process's peak resident memory (VmHWM in /proc/self/status), KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Backing, GuestRam};
    use vm_memory::{Bytes, GuestAddress};

    /// CapEff bit 21 in /proc/self/status: whether pagemap shows PFNs to us.
    fn has_cap_sys_admin() -> bool {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|caps| caps & (1 << 21) != 0)
    }

    #[test]
    fn live_lookup_of_a_touched_page() {
        let Ok(pagemap) = Pagemap::open() else {
            panic!("cannot open /proc/self/pagemap")
        };
        let page = std::hint::black_box(vec![1u8; 8192]);
        let hva = Hva(page.as_ptr() as u64 + 123);
        let frame = pagemap.lookup(hva);
        if has_cap_sys_admin() {
            assert!(
                matches!(frame, HostFrame::Present { hpa, .. } if hpa.raw() > PAGE && hpa.raw() & 0xfff == hva.raw() & 0xfff),
                "{frame:?}"
            );
            assert_eq!(pagemap.status_text(), "available");
        } else {
            assert_eq!(frame, HostFrame::NeedsCap);
            assert_eq!(pagemap.status_text(), "unavailable (needs CAP_SYS_ADMIN)");
        }
    }

    #[test]
    fn live_range_of_guest_ram() {
        let Ok(pagemap) = Pagemap::open() else {
            panic!("cannot open /proc/self/pagemap")
        };
        for backing in [Backing::FourK, Backing::Thp] {
            let ram = GuestRam::new(4 << 20, backing);
            assert!(ram.is_ok(), "{:?}", ram.err());
            let Ok(ram) = ram else { return };
            // Touch all but the last page (which THP may fill in anyway).
            for gpa in (0..(4 << 20) - PAGE).step_by(PAGE as usize) {
                assert!(ram.mem().write_obj(1u8, GuestAddress(gpa)).is_ok());
            }
            let base = ram.slots()[0].hva;
            let frames = pagemap.lookup_range(base, 1024);
            assert_eq!(frames.len(), 1024);
            if backing == Backing::FourK {
                assert_eq!(frames[1023], HostFrame::NotPresent);
            }
            if !has_cap_sys_admin() {
                assert!(frames[..1023].iter().all(|f| *f == HostFrame::NeedsCap));
                continue;
            }
            for (i, f) in frames[..1023].iter().enumerate() {
                let HostFrame::Present { hpa, page_size } = f else {
                    panic!("page {i}: {f:?}")
                };
                match (backing, page_size) {
                    (Backing::FourK, Some(4096)) | (Backing::Thp, Some(4096)) => {}
                    (Backing::Thp, Some(HUGE)) => {
                        // A 2 MiB host page is physically contiguous.
                        let HostFrame::Present { hpa: head, .. } = &frames[i / 512 * 512] else {
                            panic!("head of block {i}")
                        };
                        assert_eq!(hpa.raw() - head.raw(), (i % 512) as u64 * PAGE);
                    }
                    other => panic!("page {i}: unexpected {other:?}"),
                }
            }
        }
    }
}
