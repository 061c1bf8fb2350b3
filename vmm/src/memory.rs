//! Guest RAM: one anonymous host mapping (4 KiB pages, transparent huge
//! pages or hugetlb pages) seen by the guest at GPA 0, handed to KVM as
//! memslots. The slot table is what turns a GPA into an HVA; memory/dirty.rs
//! reads the dirty log.

mod backing;
mod dirty;
mod hugepool;
pub mod resident;

use kvm_bindings::{KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, kvm_userspace_memory_region};
use kvm_ioctls::VmFd;
use vm_memory::mmap::MmapRegionError;
use vm_memory::{
    GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion,
    GuestRegionCollectionError, GuestRegionMmap,
};

use crate::addr::{Gpa, Hva, PAGE};

pub use backing::{Backing, BackingParseError};
pub use dirty::decode_dirty_bitmap;
pub use hugepool::{HugePool, parse_meminfo};

/// Why guest RAM could not be set up or queried.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The size given is zero or not whole 4 KiB pages.
    #[error("guest RAM size {0:#x} is not a nonzero multiple of 4 KiB")]
    BadSize(u64),
    /// hugetlb backing maps whole 2 MiB pages only.
    #[error("guest RAM size {0:#x} is not a multiple of 2 MiB, as hugetlb backing needs")]
    NotHugeMultiple(u64),
    /// The hugetlb pool has too few free 2 MiB pages for guest RAM.
    #[error(
        "hugetlb backing needs {needed} free 2 MiB huge pages but the pool has {available}: run `{hint}` (as root)"
    )]
    HugePool {
        /// Huge pages guest RAM needs.
        needed: u64,
        /// Free huge pages not already promised to other mappings.
        available: u64,
        /// The command that would grow the pool.
        hint: String,
    },
    /// A /proc or /sys file about the huge page pool could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The huge page pool file lacks the line we read.
    #[error("{path} has no {field} line, so the huge page pool cannot be checked")]
    NoPoolInfo {
        /// The file.
        path: &'static str,
        /// The missing field, e.g. "HugePages_Free".
        field: &'static str,
    },
    /// mmap of guest RAM failed.
    #[error("cannot map {size:#x} bytes of {backing} guest RAM: {source}")]
    Mmap {
        /// Guest RAM in bytes.
        size: u64,
        /// The backing asked for.
        backing: Backing,
        /// What vm-memory said.
        source: MmapRegionError,
    },
    /// Reserving host address space to align guest RAM to 2 MiB, or mapping
    /// into the reservation, failed.
    #[error("cannot reserve host address space for 2 MiB alignment: {0}")]
    Reserve(std::io::Error),
    /// No 2 MiB-aligned start fits inside the reservation (size overflow).
    #[error("guest RAM of that size cannot be placed at a 2 MiB-aligned host address")]
    Align,
    /// THP backing could not advise the kernel to use huge pages.
    #[error("madvise(MADV_HUGEPAGE) failed, is THP built into this kernel? {0}")]
    Madvise(std::io::Error),
    /// vm-memory refused the region list.
    #[error("cannot build guest memory: {0}")]
    Regions(GuestRegionCollectionError),
    /// The dirty log was asked for before guest RAM was registered with KVM.
    #[error("guest RAM is not registered with KVM yet")]
    NotRegistered,
    /// KVM refused to map a memslot.
    #[error("KVM_SET_USER_MEMORY_REGION for slot {slot} failed: {source}")]
    SetRegion {
        /// The memslot number.
        slot: u32,
        /// What KVM said.
        source: kvm_ioctls::Error,
    },
    /// KVM could not return a memslot's dirty bitmap.
    #[error("KVM_GET_DIRTY_LOG for slot {slot} failed: {source}")]
    DirtyLog {
        /// The memslot number.
        slot: u32,
        /// What KVM said.
        source: kvm_ioctls::Error,
    },
}

/// One KVM memslot: guest-physical [gpa, gpa + size) is host-virtual
/// [hva, hva + size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SlotInfo {
    /// The slot number given to KVM.
    pub slot: u32,
    /// First guest-physical byte.
    pub gpa: Gpa,
    /// Length in bytes, a multiple of 4 KiB.
    pub size: u64,
    /// Where the VMM mapped the slot in its own address space.
    pub hva: Hva,
    /// KVM_MEM_* flags.
    pub flags: u32,
}

impl SlotInfo {
    /// The slot's KVM_MEM_* flags by name ("log-dirty-pages", "readonly").
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.flags & KVM_MEM_LOG_DIRTY_PAGES != 0 {
            names.push("log-dirty-pages");
        }
        if self.flags & KVM_MEM_READONLY != 0 {
            names.push("readonly");
        }
        names
    }
}

/// The guest's RAM: a mapping in this process and the memslots that show
/// it to the guest.
#[derive(Debug)]
pub struct GuestRam {
    mem: GuestMemoryMmap,
    /// The mapping `mem` points into when vm-memory does not own it;
    /// declared after `mem`, so it is unmapped after `mem` is gone.
    _raw: Option<backing::RawMapping>,
    size: u64,
    backing: Backing,
    slots: Vec<SlotInfo>,
    registered: bool,
    /// Every host page behind guest RAM is this size, as the backing
    /// guarantees (4k with THP off, hugetlb); None for THP.
    host_page_size: Option<u64>,
}

impl GuestRam {
    /// Map `size` bytes of guest RAM at GPA 0 with the given backing. The
    /// slot table is ready at once; KVM learns of it in `register`.
    pub fn new(size: u64, backing: Backing) -> Result<GuestRam, MemoryError> {
        if size == 0 || !size.is_multiple_of(PAGE) {
            return Err(MemoryError::BadSize(size));
        }
        let len = usize::try_from(size).map_err(|_| MemoryError::BadSize(size))?;
        let (region, raw, host_page_size) = backing::map(len, backing)?;
        let region =
            GuestRegionMmap::new(region, GuestAddress(0)).ok_or(MemoryError::BadSize(size))?;
        let mem = GuestMemoryMmap::from_regions(vec![region]).map_err(MemoryError::Regions)?;
        let mut slots = Vec::new();
        for (i, region) in mem.iter().enumerate() {
            slots.push(SlotInfo {
                slot: u32::try_from(i).map_err(|_| MemoryError::BadSize(size))?,
                gpa: Gpa(region.start_addr().0),
                size: region.len(),
                hva: Hva(region.as_ptr() as u64),
                flags: 0,
            });
        }
        Ok(GuestRam {
            mem,
            _raw: raw,
            size,
            backing,
            slots,
            registered: false,
            host_page_size,
        })
    }

    /// Tell KVM about every slot (KVM_SET_USER_MEMORY_REGION), logging
    /// dirty pages if asked. The VM must not outlive this GuestRam: KVM keeps
    /// using the host addresses until the slots are deleted or the VM closes.
    pub fn register(&mut self, vm: &VmFd, dirty_log: bool) -> Result<(), MemoryError> {
        let flags = if dirty_log {
            KVM_MEM_LOG_DIRTY_PAGES
        } else {
            0
        };
        for slot in &mut self.slots {
            let region = kvm_userspace_memory_region {
                slot: slot.slot,
                flags,
                guest_phys_addr: slot.gpa.raw(),
                memory_size: slot.size,
                userspace_addr: slot.hva.raw(),
            };
            // SAFETY: [hva, hva + size) is a live read-write mapping owned by
            // self.mem; it stays mapped as long as this GuestRam, which the
            // caller keeps alive longer than the VM (see the doc comment).
            unsafe { vm.set_user_memory_region(region) }.map_err(|source| {
                MemoryError::SetRegion {
                    slot: slot.slot,
                    source,
                }
            })?;
            slot.flags = flags;
        }
        self.registered = true;
        Ok(())
    }

    /// The memslot table, slot 0 first.
    pub fn slots(&self) -> &[SlotInfo] {
        &self.slots
    }

    /// The host-virtual address where the VMM sees guest-physical `gpa`,
    /// or `None` if no slot holds it.
    pub fn gpa_to_hva(&self, gpa: Gpa) -> Option<Hva> {
        self.slots.iter().find_map(|s| {
            // gpa is in [s.gpa, s.gpa + size) iff s.gpa <= gpa and the
            // offset from s.gpa is below size; checked_sub fails below.
            let offset = gpa.raw().checked_sub(s.gpa.raw())?;
            if offset < s.size {
                s.hva.checked_add(offset)
            } else {
                None
            }
        })
    }

    /// The guest memory, for reading and writing guest-physical addresses.
    pub fn mem(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// Guest RAM size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The kind of host pages behind guest RAM.
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// The size of every host page behind guest RAM, when the backing
    /// guarantees one (not for THP, which is decided per 2 MiB block).
    pub fn host_page_size(&self) -> Option<u64> {
        self.host_page_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_memory::Bytes;

    const MIB: u64 = 1 << 20;

    #[test]
    fn small_4k_ram_and_gpa_to_hva() {
        let ram = GuestRam::new(4 * MIB, Backing::FourK);
        assert!(ram.is_ok(), "{:?}", ram.err());
        let Ok(ram) = ram else { return };
        assert_eq!(ram.size(), 4 * MIB);
        assert_eq!(ram.slots().len(), 1);
        let slot = ram.slots()[0];
        assert_eq!(
            (slot.slot, slot.gpa, slot.size, slot.flags),
            (0, Gpa(0), 4 * MIB, 0)
        );
        assert_eq!(ram.gpa_to_hva(Gpa(0)), Some(slot.hva));
        assert_eq!(
            ram.gpa_to_hva(Gpa(4 * MIB - 1)),
            Some(Hva(slot.hva.raw() + 4 * MIB - 1))
        );
        assert_eq!(ram.gpa_to_hva(Gpa(4 * MIB)), None);
        assert_eq!(ram.gpa_to_hva(Gpa(u64::MAX)), None);
        // The HVA really is where vm-memory writes GPA 0x1234.
        assert!(
            ram.mem()
                .write_obj(0xabcd_u16, GuestAddress(0x1234))
                .is_ok()
        );
        let hva = ram.gpa_to_hva(Gpa(0x1234)).map(|h| h.raw() as *const u16);
        // SAFETY: hva points into the live 4 MiB mapping owned by `ram`.
        assert_eq!(hva.map(|p| unsafe { p.read_unaligned() }), Some(0xabcd));
    }

    #[test]
    fn gpa_to_hva_overflow() {
        let ram = GuestRam {
            mem: GuestMemoryMmap::new(),
            _raw: None,
            size: 2 * PAGE,
            backing: Backing::FourK,
            slots: vec![SlotInfo {
                slot: 0,
                gpa: Gpa(0x1000),
                size: 2 * PAGE,
                hva: Hva(u64::MAX - PAGE + 1),
                flags: 0,
            }],
            registered: false,
            host_page_size: None,
        };
        assert_eq!(ram.gpa_to_hva(Gpa(0xfff)), None);
        assert_eq!(ram.gpa_to_hva(Gpa(0x1000)), Some(Hva(u64::MAX - PAGE + 1)));
        assert_eq!(ram.gpa_to_hva(Gpa(0x1fff)), Some(Hva(u64::MAX)));
        // Inside the slot, but the HVA would pass 2^64.
        assert_eq!(ram.gpa_to_hva(Gpa(0x2000)), None);
    }

    #[test]
    fn bad_sizes() {
        assert!(matches!(
            GuestRam::new(0, Backing::FourK),
            Err(MemoryError::BadSize(0))
        ));
        assert!(matches!(
            GuestRam::new(4097, Backing::FourK),
            Err(MemoryError::BadSize(4097))
        ));
        let r = GuestRam::new(MIB, Backing::Hugetlb);
        assert!(matches!(r, Err(MemoryError::NotHugeMultiple(_))));
    }

    #[test]
    fn register_with_kvm() {
        // Only where /dev/kvm works; elsewhere there is nothing to register with.
        let Ok(kvm) = kvm_ioctls::Kvm::new() else {
            return;
        };
        let vm = kvm.create_vm();
        assert!(vm.is_ok(), "{:?}", vm.err());
        let Ok(vm) = vm else { return };
        let Ok(mut ram) = GuestRam::new(4 * MIB, Backing::FourK) else {
            panic!("cannot map 4 MiB")
        };
        assert!(matches!(
            ram.dirty_pages(&vm),
            Err(MemoryError::NotRegistered)
        ));
        let r = ram.register(&vm, true);
        assert!(r.is_ok(), "{:?}", r.err());
        assert_eq!(ram.slots()[0].flag_names(), vec!["log-dirty-pages"]);
        // No vCPU ran, so no page is dirty.
        let dirty = ram.dirty_pages(&vm);
        assert!(matches!(dirty.as_deref(), Ok([])), "{dirty:?}");
    }

    #[test]
    fn flag_names() {
        let mut slot = SlotInfo {
            slot: 0,
            gpa: Gpa(0),
            size: PAGE,
            hva: Hva(0),
            flags: 0,
        };
        assert!(slot.flag_names().is_empty());
        slot.flags = KVM_MEM_LOG_DIRTY_PAGES;
        assert_eq!(slot.flag_names(), vec!["log-dirty-pages"]);
    }
}
