//! A fake vCPU and a fake host over synthetic guest memory (`FlatMem`), so
//! the analysis runs without KVM. One definition for the unit tests
//! (inspect/tests.rs) and the fuzz targets (fuzz/, through the
//! `test-support` feature); never part of a real run.

use std::cell::Cell;

use super::{Cpu, HostPage, HostView};
use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::pagemap::HostFrame;
use crate::paging::{self, Cr3, FlatMem, PagingMode, PhysMem};

/// A vCPU whose KVM_TRANSLATE is the software walker over the same memory,
/// except at `lie` (a deliberate disagreement); `mode` None is a vCPU not
/// in a paging mode the walker knows.
pub struct FakeCpu<'m> {
    /// The guest memory its "KVM_TRANSLATE" walks.
    pub mem: &'m FlatMem,
    /// Its paging mode.
    pub mode: Option<PagingMode>,
    /// Its CR3.
    pub cr3: Cr3,
    /// An address it translates to 0xdead0000, whatever the tables say.
    pub lie: Option<Gva>,
    /// How many times `translate` was asked (each is an ioctl in a real run).
    pub translations: Cell<u64>,
}

impl<'m> FakeCpu<'m> {
    /// An honest vCPU in `mode` with `cr3`, over `mem`.
    pub fn new(mem: &'m FlatMem, mode: Option<PagingMode>, cr3: Cr3) -> Self {
        FakeCpu {
            mem,
            mode,
            cr3,
            lie: None,
            translations: Cell::new(0),
        }
    }
}

impl Cpu for FakeCpu<'_> {
    fn paging_mode(&self) -> Option<PagingMode> {
        self.mode
    }
    fn cr3(&self) -> Option<Cr3> {
        Some(self.cr3)
    }
    fn translate(&self, gva: Gva) -> Option<Gpa> {
        self.translations.set(self.translations.get() + 1);
        if Some(gva) == self.lie {
            return Some(Gpa(0xdead_0000));
        }
        let mode = self.mode?;
        paging::walk(self.mem, self.cr3.raw(), mode, gva)
            .ok()
            .map(|t| t.gpa)
    }
}

/// A host that maps GPA g at HVA 0x7f00_0000_0000 + g and HPA
/// 0x1_0000_0000 + g, on 4 KiB pages; it reads through the same memory.
pub struct FakeHost<'m>(pub &'m FlatMem);

impl HostView for FakeHost<'_> {
    fn locate(&self, gpa: Gpa) -> HostPage {
        HostPage {
            hva: Some(Hva(0x7f00_0000_0000 + gpa.raw())),
            frame: HostFrame::Present {
                hpa: Hpa(0x1_0000_0000 + gpa.raw()),
                page_size: Some(4096),
            },
            page_size: Some(4096),
        }
    }
    fn read_u64_via_hva(&self, gpa: Gpa) -> Option<u64> {
        self.0.read_u64_unaligned(gpa)
    }
    fn ram_end(&self) -> u64 {
        self.0.end()
    }
}
