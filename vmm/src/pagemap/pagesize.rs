//! The size of the host page behind a host-virtual address: 4 KiB, a
//! transparent 2 MiB page, or a hugetlb page. Read from /proc/self/smaps
//! (once, then asked many times) and /proc/kpageflags when readable.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::PagemapEntry;
use crate::addr::{Hva, PAGE};

const HUGE: u64 = 2 << 20;
/// 4 KiB pages per 2 MiB block.
const PER_BLOCK: usize = 512;
/// KPF_THP in /proc/kpageflags (include/uapi/linux/kernel-page-flags.h).
const KPF_THP: u64 = 1 << 22;

/// One mapping of /proc/self/smaps: [start, end) and what its pages are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First address of the mapping.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    /// KernelPageSize in bytes: above 4 KiB only for hugetlb mappings.
    pub kernel_page_size: u64,
    /// AnonHugePages in bytes: how much of the mapping is PMD-mapped THP.
    pub anon_huge: u64,
}

/// The host page sizes of this process's mappings, parsed once from
/// /proc/self/smaps and asked many times.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPageSizer {
    vmas: Vec<Vma>,
}

impl HostPageSizer {
    /// Parse smaps text: a header line "start-end perms ..." per mapping,
    /// then "Field: value kB" lines.
    pub fn parse(smaps: &str) -> HostPageSizer {
        let mut vmas: Vec<Vma> = Vec::new();
        for line in smaps.lines() {
            let mut words = line.split_whitespace();
            let Some(first) = words.next() else { continue };
            if let Some((start, end)) = first.split_once('-')
                && let (Ok(start), Ok(end)) =
                    (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
            {
                vmas.push(Vma {
                    start,
                    end,
                    kernel_page_size: PAGE,
                    anon_huge: 0,
                });
                continue;
            }
            let kib = words.next().and_then(|v| v.parse::<u64>().ok());
            let (Some(vma), Some(kib)) = (vmas.last_mut(), kib) else {
                continue;
            };
            let bytes = kib.saturating_mul(1024);
            match first {
                "KernelPageSize:" => vma.kernel_page_size = bytes,
                "AnonHugePages:" => vma.anon_huge = bytes,
                _ => {}
            }
        }
        vmas.sort_by_key(|v| v.start);
        HostPageSizer { vmas }
    }

    /// Read and parse /proc/self/smaps.
    pub fn load() -> Result<HostPageSizer, String> {
        std::fs::read_to_string("/proc/self/smaps")
            .map(|text| HostPageSizer::parse(&text))
            .map_err(|e| format!("cannot read /proc/self/smaps: {e}"))
    }

    /// The mapping holding `hva`, if any.
    pub fn vma(&self, hva: Hva) -> Option<&Vma> {
        // The last mapping starting at or below hva holds it iff hva < end.
        let i = self.vmas.partition_point(|v| v.start <= hva.raw());
        let vma = self.vmas.get(i.checked_sub(1)?)?;
        (hva.raw() < vma.end).then_some(vma)
    }
}

/// Does this 2 MiB block of raw pagemap entries look like one huge page?
/// All 512 present, PFNs consecutive from a 512-aligned first PFN.
pub fn block_is_huge(entries: &[u64]) -> bool {
    let Some(first) = entries.first().map(|&r| PagemapEntry::decode(r)) else {
        return false;
    };
    entries.len() == PER_BLOCK
        && first.present
        && first.pfn != 0
        && first.pfn.is_multiple_of(PER_BLOCK as u64)
        && entries.iter().enumerate().all(|(i, &raw)| {
            let e = PagemapEntry::decode(raw);
            e.present && e.pfn == first.pfn + i as u64
        })
}

/// The host page size of a whole mapping, from smaps alone (no privilege
/// needed): hugetlb's KernelPageSize, 4 KiB without THP, 2 MiB when THP
/// covers all of it; None when THP covers only part (per page needs
/// kpageflags).
pub(super) fn mapping_page_size(vma: &Vma) -> Option<u64> {
    if vma.kernel_page_size > PAGE {
        return Some(vma.kernel_page_size);
    }
    if vma.anon_huge == 0 {
        return Some(PAGE);
    }
    let all_huge = vma.anon_huge >= vma.end.saturating_sub(vma.start);
    all_huge.then_some(HUGE)
}

/// The host page size behind the present page `raw[index]` at `hva`
/// (`block` caches the answer for its 2 MiB block).
/// hugetlb: the mapping's KernelPageSize. Anonymous: 4 KiB unless smaps
/// counts PMD-mapped THP in the mapping; then, with kpageflags, the 2 MiB
/// block must be one aligned run of PFNs marked THP (KPF_THP alone is also
/// set for smaller multi-size THP folios, which 4 KiB PTEs map). Without
/// kpageflags only a mapping that is all THP is known: smaps AnonHugePages
/// is per mapping, not per page.
pub(super) fn page_size(
    sizer: Option<&HostPageSizer>,
    kpageflags: Option<&File>,
    hva: Hva,
    raw: &[u64],
    index: usize,
    block: &mut Option<bool>,
) -> Option<u64> {
    let vma = sizer?.vma(hva)?;
    let Some(flags) = kpageflags.filter(|_| vma.kernel_page_size <= PAGE && vma.anon_huge != 0)
    else {
        return mapping_page_size(vma);
    };
    let huge = *block.get_or_insert_with(|| {
        let first = index / PER_BLOCK * PER_BLOCK;
        let Some(entries) = raw.get(first..first + PER_BLOCK) else {
            return false;
        };
        if !block_is_huge(entries) {
            return false;
        }
        let pfn = PagemapEntry::decode(entries[0]).pfn;
        let mut word = [0u8; 8];
        let read = pfn
            .checked_mul(8)
            .map(|off| flags.read_exact_at(&mut word, off));
        matches!(read, Some(Ok(()))) && u64::from_ne_bytes(word) & KPF_THP != 0
    });
    Some(if huge { HUGE } else { PAGE })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRESENT: u64 = 1 << 63;

    #[test]
    fn smaps_parse() {
        let text = "\
00400000-00600000 r-xp 00000000 08:01 42 /bin/x
Size:               2048 kB
KernelPageSize:        4 kB
AnonHugePages:         0 kB
7f0000000000-7f0040000000 rw-p 00000000 00:0f 7 /anon_hugepage (deleted)
KernelPageSize:     2048 kB
AnonHugePages:         0 kB
VmFlags: rd wr mr mw me de ht sd
7f1000000000-7f1000400000 rw-p 00000000 00:00 0
KernelPageSize:        4 kB
AnonHugePages:      2048 kB
";
        let s = HostPageSizer::parse(text);
        assert_eq!(s.vma(Hva(0x3f_ffff)), None);
        assert_eq!(
            s.vma(Hva(0x40_0000)).map(|v| v.kernel_page_size),
            Some(4096)
        );
        assert_eq!(s.vma(Hva(0x60_0000)), None);
        assert_eq!(
            s.vma(Hva(0x7f00_0000_1000)).map(|v| v.kernel_page_size),
            Some(HUGE)
        );
        let v = s.vma(Hva(0x7f10_003f_ffff)).copied();
        assert_eq!(
            v.map(|v| (v.anon_huge, v.end)),
            Some((HUGE, 0x7f10_0040_0000))
        );
    }

    #[test]
    fn huge_block_check() {
        let run: Vec<u64> = (0..512).map(|i| PRESENT | (0x400 + i)).collect();
        assert!(block_is_huge(&run));
        let mut unaligned = run.clone();
        unaligned.iter_mut().for_each(|e| *e += 1);
        assert!(!block_is_huge(&unaligned));
        let mut hole = run.clone();
        hole[300] = 0;
        assert!(!block_is_huge(&hole));
        assert!(!block_is_huge(&run[..511]));
        assert!(!block_is_huge(&vec![PRESENT; 512]));
    }

    #[test]
    fn page_size_rules() {
        let text = "\
1000000-1400000 rw-p 00000000 00:0f 7 /anon_hugepage (deleted)
KernelPageSize:     2048 kB
2000000-2400000 rw-p 00000000 00:00 0
AnonHugePages:         0 kB
3000000-3400000 rw-p 00000000 00:00 0
AnonHugePages:      4096 kB
4000000-4400000 rw-p 00000000 00:00 0
AnonHugePages:      2048 kB
";
        let s = HostPageSizer::parse(text);
        let raw = vec![PRESENT | 0x200; 512];
        let size = |hva: u64| page_size(Some(&s), None, Hva(hva), &raw, 0, &mut None);
        assert_eq!(size(0x100_0000), Some(HUGE));
        assert_eq!(size(0x200_0000), Some(PAGE));
        // Without kpageflags: all of the mapping is THP, so every page is...
        assert_eq!(size(0x300_0000), Some(HUGE));
        // ...but half of it says nothing about one page.
        assert_eq!(size(0x400_0000), None);
        assert_eq!(size(0x500_0000), None);
        assert_eq!(
            page_size(None, None, Hva(0x200_0000), &raw, 0, &mut None),
            None
        );
    }
}
