//! The two-dimensional walk: a guest-virtual address through the guest's
//! tables, each table entry's own address followed to the host, and what
//! the hardware does for it on this host's flavour of nested paging.

use abi::msg::{self, WALK_MAX, WalkStep, WhereisAnswer};
use kvm_ioctls::VcpuFd;

use super::{Options, kvm_translate};
use crate::addr::{Gva, Hpa};
use crate::host::Flavour;
use crate::hostmem::{HostFrame, Pagemap};
use crate::memory::GuestRam;
use crate::monitor::{host_frame, host_page_size, paging_mode, set_hpa};
use crate::paging::{self, Translation};
use crate::report::{WalkLevelReport, WhereisReport};

/// Hardware memory references for one translation on this host, and how
/// they were counted. `tables` holds the host page size behind each guest
/// table the walk read (top level first), `data` the one behind the final
/// guest frame.
///
/// Under EPT/NPT each guest table entry's GPA needs a nested walk, then
/// the entry itself is read; the final GPA needs one more nested walk:
/// sum over the levels of (h_i + 1), plus h_data — g*(h+1)+h = 24 when all
/// are 4-level; the nested tables have `host_levels` levels (5 when the
/// host runs LA57). Under shadow paging and PVM the CPU walks KVM's shadow
/// table, which has as many levels as the guest's.
pub fn hw_refs(
    flavour: Flavour,
    host_levels: u32,
    t: &Translation,
    tables: &[Option<u64>],
    data: Option<u64>,
) -> (u32, String) {
    let g = t.levels().len() as u32;
    match flavour {
        Flavour::VmxEpt | Flavour::SvmNpt => {
            let (n, how) = paging::nested_walk_refs(g, tables, data, host_levels);
            (
                n,
                format!(
                    "{}: {g} guest levels, each entry's GPA translated by a nested walk as deep as the host page behind its table allows, then read; plus a nested walk of the final GPA: {how} = {n} memory references",
                    flavour.as_str()
                ),
            )
        }
        Flavour::Shadow | Flavour::Pvm => (
            g,
            format!(
                "{}: the CPU walks KVM's shadow table (GVA->HPA directly), {g} references; KVM keeps it in sync with the {g}-level guest table it write-protects",
                flavour.as_str()
            ),
        ),
    }
}

/// Answer a `whereis` question, and describe it for the report.
pub fn whereis(
    vcpu: &VcpuFd,
    ram: &GuestRam,
    pagemap: Option<&Pagemap>,
    w: &msg::Whereis,
    o: &Options,
) -> (WhereisAnswer, Option<WhereisReport>) {
    let mut ans = WhereisAnswer {
        gva: w.gva,
        kvm_gpa: u64::MAX,
        ..Default::default()
    };
    let Some(mode) = paging_mode(vcpu, o.maxphyaddr) else {
        ans.status = msg::WHEREIS_NOT_MAPPED;
        return (ans, None);
    };
    let t = match paging::walk(ram.mem(), w.cr3, mode, Gva(w.gva)) {
        Ok(t) => t,
        Err(_) => {
            ans.status = msg::WHEREIS_NOT_MAPPED;
            return (ans, None);
        }
    };
    let (hva, frame) = host_frame(ram, pagemap, t.gpa);
    ans.status = msg::WHEREIS_OK;
    ans.gpa = t.gpa.raw();
    ans.hva = hva.map_or(0, |h| h.raw());
    ans.guest_page_size = t.page_size.bytes();
    set_hpa(&mut ans, &frame);
    let kvm_gpa = kvm_translate(vcpu, w.gva);
    ans.kvm_gpa = kvm_gpa.map_or(u64::MAX, |g| g.raw());
    let mut walk = Vec::new();
    let mut table_pages = Vec::new();
    for (i, l) in t.levels().iter().enumerate() {
        let (ehva, ef) = host_frame(ram, pagemap, l.entry_gpa);
        table_pages.push(host_page_size(pagemap, ehva, &ef));
        let entry_hpa = match ef {
            HostFrame::Present { hpa, .. } => Some(hpa),
            _ => None,
        };
        if i < WALK_MAX {
            ans.walk[i] = WalkStep {
                entry_gpa: l.entry_gpa.raw(),
                entry: l.entry,
                entry_hpa: entry_hpa.map_or(0, Hpa::raw),
            };
        }
        walk.push(WalkLevelReport {
            level: l.level.to_string(),
            table_gpa: l.table_gpa,
            index: l.index,
            entry_gpa: l.entry_gpa,
            entry: format!("{:#018x}", l.entry),
            flags: l.flags.to_string(),
            entry_hpa,
        });
    }
    ans.levels = t.levels().len().min(WALK_MAX) as u32;
    let host_page = host_page_size(pagemap, hva, &frame);
    ans.host_page_size = host_page.unwrap_or(0);
    let (refs, why) = hw_refs(o.flavour, o.host_levels, &t, &table_pages, host_page);
    let report = WhereisReport {
        pid: w.pid,
        gva: Gva(w.gva),
        gpa: Some(t.gpa),
        hva,
        hpa: match frame {
            HostFrame::Present { hpa, .. } => Some(hpa),
            _ => None,
        },
        guest_page_size: Some(t.page_size.bytes()),
        host_page_size: host_page,
        kvm_translate_gpa: kvm_gpa,
        walk,
        hw_refs: refs,
        hw_refs_explained: why,
    };
    (ans, Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Gpa;
    use crate::paging::{FlatMem, PageSize, PagingMode, PteFlags, TableBuilder};

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
