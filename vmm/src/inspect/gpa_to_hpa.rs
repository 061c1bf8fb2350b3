//! The host side of a guest-physical address: GPA -> HVA through the
//! memslots, HVA -> HPA through /proc/self/pagemap, and the host page size
//! behind it — looked up live, or from a snapshot of all guest RAM taken
//! once for reports of many pages.

use crate::addr::{Gpa, Hpa, Hva, PAGE};
use crate::memory::GuestRam;
use crate::pagemap::{HostFrame, Pagemap};

/// Where a guest frame lives on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPage {
    /// None when the GPA is outside every memslot.
    pub hva: Option<Hva>,
    /// Where the host keeps the page behind the HVA.
    pub frame: HostFrame,
    /// The host page size behind it, when the host says.
    pub page_size: Option<u64>,
}

impl HostPage {
    /// The host-physical address, when the host shows it.
    pub fn hpa(&self) -> Option<Hpa> {
        match self.frame {
            HostFrame::Present { hpa, .. } => Some(hpa),
            _ => None,
        }
    }
}

/// What the analysis needs to know about the host side of guest memory.
pub trait HostView {
    /// Where `gpa` lives on the host.
    fn locate(&self, gpa: Gpa) -> HostPage;
    /// The 8 bytes at `gpa` read through the VMM's own mapping (the HVA),
    /// not through guest memory accessors; None if they are not all mapped.
    fn read_u64_via_hva(&self, gpa: Gpa) -> Option<u64>;
    /// Where guest RAM ends: GPAs in [0, ram_end) are RAM, nothing past
    /// it is (the analysis keeps per-block state only for RAM).
    fn ram_end(&self) -> u64;
}

/// The live host: guest RAM's memslots and this process's pagemap.
pub struct LiveHost<'a> {
    ram: &'a GuestRam,
    pagemap: Option<&'a Pagemap>,
    /// Every guest frame's host frame, read in one pass (see `snapshot`).
    frames: Option<Vec<HostFrame>>,
}

impl<'a> LiveHost<'a> {
    /// Look frames up one at a time.
    pub fn new(ram: &'a GuestRam, pagemap: Option<&'a Pagemap>) -> Self {
        LiveHost {
            ram,
            pagemap,
            frames: None,
        }
    }

    /// Read the host frames of all guest RAM at once, for reports of many
    /// pages, where one lookup per page (each reading a 2 MiB block of
    /// pagemap) would cost seconds. Needs the single memslot GuestRam makes;
    /// otherwise lookups stay live.
    pub fn snapshot(mut self) -> Self {
        if let (Some(pm), [_]) = (self.pagemap, self.ram.slots())
            && let Some(hva0) = self.ram.gpa_to_hva(Gpa(0))
        {
            self.frames = Some(pm.lookup_range(hva0, (self.ram.size() / PAGE) as usize));
        }
        self
    }

    fn frame(&self, gpa: Gpa, hva: Hva) -> HostFrame {
        if let Some(frames) = &self.frames {
            return match frames.get((gpa.raw() / PAGE) as usize) {
                Some(HostFrame::Present { hpa, page_size }) => HostFrame::Present {
                    hpa: Hpa(hpa.raw() | (gpa.raw() & (PAGE - 1))),
                    page_size: *page_size,
                },
                Some(f) => f.clone(),
                None => HostFrame::Unavailable("GPA outside guest RAM".into()),
            };
        }
        match self.pagemap {
            Some(p) => p.lookup(hva),
            None => HostFrame::Unavailable("/proc/self/pagemap could not be opened".into()),
        }
    }
}

impl HostView for LiveHost<'_> {
    fn locate(&self, gpa: Gpa) -> HostPage {
        let Some(hva) = self.ram.gpa_to_hva(gpa) else {
            return HostPage {
                hva: None,
                frame: HostFrame::Unavailable("GPA outside every memslot".into()),
                page_size: None,
            };
        };
        let frame = self.frame(gpa, hva);
        // From pagemap's frame when present, else (no CAP_SYS_ADMIN) from
        // the mapping in smaps.
        let page_size = match &frame {
            HostFrame::Present { page_size, .. } => *page_size,
            HostFrame::NeedsCap => self.pagemap.and_then(|p| p.mapping_page_size(hva)),
            _ => None,
        };
        HostPage {
            hva: Some(hva),
            frame,
            page_size,
        }
    }

    fn read_u64_via_hva(&self, gpa: Gpa) -> Option<u64> {
        let hva = self.ram.gpa_to_hva(gpa)?;
        // The guest chooses the address, so it may be unaligned, and its
        // last byte must lie in the same mapping, 7 bytes on.
        let last = gpa.checked_add(7)?;
        if self.ram.gpa_to_hva(last)? != hva.checked_add(7)? {
            return None;
        }
        // SAFETY: hva..hva+8 lies inside one guest RAM mapping, which lives
        // as long as `ram`; the vCPU is stopped during this exit, any byte
        // pattern is a valid u64, and read_unaligned accepts any alignment.
        Some(unsafe { std::ptr::read_unaligned(hva.raw() as *const u64) })
    }
    fn ram_end(&self) -> u64 {
        self.ram.size()
    }
}
