//! The two-dimensional walk: a guest-virtual address through the guest's
//! tables, each table entry's own address followed to the host, and what
//! the hardware does for it on this host's flavour of nested paging.

use std::fmt;

use super::Options;
use super::cpu::Cpu;
use super::gpa_to_hpa::{HostPage, HostView};
use crate::addr::{Gpa, Gva, Hpa};
use crate::kvm_probe::Flavour;
use crate::paging::{self, Cr3, PageSize, PhysMem, Translation};

/// One level of the guest walk, with the host-physical address of the
/// entry itself: the second dimension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkLevel {
    /// The guest's side, as the walker read it: the level, its table's
    /// GPA, the index, the entry's GPA, its value and flags.
    pub guest: paging::Level,
    /// Host-physical address of the entry; None when pagemap will not say.
    pub entry_hpa: Option<Hpa>,
}

/// The memory references the hardware makes for one translation on this
/// host, and how they were counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwRefs {
    /// The host's translation scheme, which decides the count.
    pub flavour: Flavour,
    /// Levels of the guest's page tables (4 or 5).
    pub guest_levels: u32,
    /// Memory references for the whole translation.
    pub refs: u32,
    /// Under EPT/NPT, the sum that gives `refs` (e.g. "4*(4+1)+4").
    pub formula: Option<String>,
}

impl fmt::Display for HwRefs {
    /// One sentence: what the CPU walks, and the count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (flavour, g, n) = (self.flavour.as_str(), self.guest_levels, self.refs);
        match &self.formula {
            Some(how) => write!(
                f,
                "{flavour}: {g} guest levels, each entry's GPA translated by a nested walk as deep as the host page behind its table allows, then read; plus a nested walk of the final GPA: {how} = {n} memory references"
            ),
            None => write!(
                f,
                "{flavour}: the CPU walks KVM's shadow table (GVA->HPA directly), {n} references; KVM keeps it in sync with the {g}-level guest table it write-protects"
            ),
        }
    }
}

/// A `whereis` answer (or a `--walk`): where `gva` of process `pid` lives,
/// level by level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk2d {
    /// The process whose page tables were walked.
    pub pid: u32,
    /// The address translated.
    pub gva: Gva,
    /// Its guest-physical address, from the software walk.
    pub gpa: Gpa,
    /// The guest's page size at the final level.
    pub guest_page_size: PageSize,
    /// The data frame's host side.
    pub host: HostPage,
    /// KVM_TRANSLATE's answer for the same GVA.
    pub kvm: Option<Gpa>,
    /// The guest walk, top level first.
    pub levels: Vec<WalkLevel>,
    /// What the hardware's walk costs on this host.
    pub hw: HwRefs,
}

impl Walk2d {
    /// KVM_TRANSLATE answered, and not with the software walk's GPA.
    pub fn disagrees(&self) -> bool {
        self.kvm.is_some_and(|k| k != self.gpa)
    }
}

/// Hardware memory references for one translation on this host. `tables`
/// holds the host page size behind each guest table the walk read (top
/// level first), `data` the one behind the final guest frame. Under
/// EPT/NPT each guest entry's GPA needs a nested walk as deep as its host
/// page allows (paging::nested_walk_refs); under shadow paging and PVM the
/// CPU walks KVM's shadow table, as deep as the guest's.
pub fn hw_refs(
    flavour: Flavour,
    host_levels: u32,
    t: &Translation,
    tables: &[Option<u64>],
    data: Option<u64>,
) -> HwRefs {
    let g = t.levels().len() as u32;
    let (refs, formula) = match flavour {
        Flavour::VmxEpt | Flavour::SvmNpt => {
            let (n, how) = paging::nested_walk_refs(g, tables, data, host_levels);
            (n, Some(how))
        }
        Flavour::Shadow | Flavour::Pvm => (g, None),
    };
    HwRefs {
        flavour,
        guest_levels: g,
        refs,
        formula,
    }
}

/// Walk `gva` through the tables at `cr3` and follow every address on the
/// way to the host; None if it is not mapped (or the vCPU is not in a
/// paging mode the walker knows).
pub fn walk2d<C: Cpu + ?Sized, M: PhysMem + ?Sized, H: HostView + ?Sized>(
    cpu: &C,
    mem: &M,
    host: &H,
    pid: u32,
    cr3: Cr3,
    gva: Gva,
    o: &Options,
) -> Option<Walk2d> {
    let mode = cpu.paging_mode()?;
    let t = paging::walk(mem, cr3.raw(), mode, gva).ok()?;
    let data = host.locate(t.gpa);
    let mut levels = Vec::new();
    let mut table_pages = Vec::new();
    for l in t.levels() {
        let e = host.locate(l.entry_gpa);
        table_pages.push(e.page_size);
        levels.push(WalkLevel {
            guest: *l,
            entry_hpa: e.hpa(),
        });
    }
    let hw = hw_refs(o.flavour, o.host_levels, &t, &table_pages, data.page_size);
    Some(Walk2d {
        pid,
        gva,
        gpa: t.gpa,
        guest_page_size: t.page_size,
        host: data,
        kvm: cpu.translate(gva),
        levels,
        hw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::{FlatMem, PagingMode, PteFlags, TableBuilder};

    /// The translation of `gva`, mapped with a `size` page in a fresh table.
    fn translation(size: PageSize) -> Translation {
        let mode = PagingMode::four_level();
        let mem = FlatMem::new(Gpa(0), 64 << 20);
        let mut b = TableBuilder::new(mem, mode, Gpa(0x1000)..Gpa(0x10_0000)).expect("builder");
        let flags = PteFlags::RW.union(PteFlags::US);
        b.map(Gva(0x4000_0000), Gpa(0x20_0000), size, flags)
            .expect("map");
        paging::walk(b.mem(), b.cr3(), mode, Gva(0x4000_0123)).expect("walk")
    }

    #[test]
    fn nested_paging_counts_the_two_dimensional_walk() {
        let hw_refs = |f, h, t: &Translation, tables: &[Option<u64>], data| {
            let r = hw_refs(f, h, t, tables, data);
            (r.refs, r.to_string())
        };
        let t4k = translation(PageSize::Size4K);
        assert_eq!(
            hw_refs(Flavour::SvmNpt, 4, &t4k, &[Some(4096); 4], Some(4096)).0,
            24
        );
        assert_eq!(
            hw_refs(Flavour::VmxEpt, 4, &t4k, &[], None).0,
            24,
            "unknown host page: assume 4 KiB"
        );
        // 2 MiB host pages end each nested walk a level early: 4*(3+1)+3.
        assert_eq!(
            hw_refs(Flavour::SvmNpt, 4, &t4k, &[Some(2 << 20); 4], Some(2 << 20)).0,
            19
        );
        // A 2 MiB guest page ends the guest walk a level early: 3*(4+1)+4.
        let t2m = translation(PageSize::Size2M);
        assert_eq!(t2m.levels().len(), 3);
        assert_eq!(
            hw_refs(Flavour::SvmNpt, 4, &t2m, &[Some(4096); 3], Some(4096)).0,
            19
        );
        let (_, why) = hw_refs(Flavour::SvmNpt, 4, &t4k, &[Some(4096); 4], Some(4096));
        assert!(why.contains("4*(4+1)+4 = 24"), "{why}");
        // Tables in 4 KiB host pages, the data frame in a 2 MiB one: each
        // level is counted for its own host page.
        let mixed = [Some(4096), Some(4096), Some(2 << 20), Some(4096)];
        let (n, why) = hw_refs(Flavour::SvmNpt, 4, &t4k, &mixed, Some(2 << 20));
        assert_eq!(n, 5 + 5 + 4 + 5 + 3);
        assert!(why.contains("(4+1)+(4+1)+(3+1)+(4+1)+3 = 22"), "{why}");
        // A 5-level host (LA57) has 5-level nested tables: 4*(5+1)+5.
        assert_eq!(
            hw_refs(Flavour::SvmNpt, 5, &t4k, &[Some(4096); 4], Some(4096)).0,
            29
        );
    }

    #[test]
    fn shadow_and_pvm_walk_only_the_shadow_table() {
        let hw_refs = |f, h, t: &Translation, tables: &[Option<u64>], data| {
            let r = hw_refs(f, h, t, tables, data);
            (r.refs, r.to_string())
        };
        let t4k = translation(PageSize::Size4K);
        for f in [Flavour::Shadow, Flavour::Pvm] {
            let (n, why) = hw_refs(f, 4, &t4k, &[Some(4096); 4], Some(4096));
            assert_eq!(n, 4);
            assert!(why.contains("shadow"), "{why}");
        }
        assert_eq!(
            hw_refs(
                Flavour::Shadow,
                4,
                &translation(PageSize::Size2M),
                &[],
                None
            )
            .0,
            3
        );
    }
}
