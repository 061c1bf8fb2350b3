//! The interrupt controller KVM emulates for the guest: it gives the guest
//! a LAPIC timer, and so preemptive scheduling.
//!
//! Measured here (PVM, 2 cores; `microvmm -q --cmdline addrspace`): with the
//! full in-kernel irqchip (KVM_CREATE_IRQCHIP: LAPIC, PIC and IOAPIC in the
//! kernel) closing the VM fd sleeps in kvm_destroy_vm's srcu_barrier for
//! ~9.5 ms of a 17 ms run; with the split irqchip (KVM_CAP_SPLIT_IRQCHIP:
//! only the LAPIC in the kernel, PIC and IOAPIC left to user space) that
//! wait is gone and the timer works the same. The guest masks the PICs on
//! the x86 path; those writes now reach ports.rs, which absorbs them.

use std::str::FromStr;

use kvm_bindings::{KVM_CAP_SPLIT_IRQCHIP, kvm_enable_cap};
use kvm_ioctls::VmFd;

/// Which irqchip the VM gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irqchip {
    /// None: no timer, the guest schedules cooperatively.
    None,
    /// LAPIC in the kernel, no PIC/IOAPIC (the default).
    Split,
    /// LAPIC, PIC and IOAPIC in the kernel; slow to tear down.
    Full,
}

/// IOAPIC routes reserved with the split irqchip: the IOAPIC's 24 pins
/// (none is used; KVM wants a number).
const SPLIT_ROUTES: u64 = 24;

impl Irqchip {
    /// Whether the guest gets a LAPIC (a timer).
    pub fn has_timer(self) -> bool {
        self != Irqchip::None
    }

    /// Create it on `vm`: after the memslots (HOST-KVM.md: the other way
    /// round a 64 MiB slot took 5.5-7 ms), before any vCPU.
    pub fn create(self, vm: &VmFd) -> Result<(), (&'static str, kvm_ioctls::Error)> {
        match self {
            Irqchip::None => Ok(()),
            Irqchip::Full => vm.create_irq_chip().map_err(|e| ("KVM_CREATE_IRQCHIP", e)),
            Irqchip::Split => {
                let mut cap = kvm_enable_cap {
                    cap: KVM_CAP_SPLIT_IRQCHIP,
                    ..Default::default()
                };
                cap.args[0] = SPLIT_ROUTES;
                vm.enable_cap(&cap)
                    .map_err(|e| ("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)", e))
            }
        }
    }
}

impl FromStr for Irqchip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Irqchip::None),
            "split" => Ok(Irqchip::Split),
            "full" => Ok(Irqchip::Full),
            _ => Err(format!("'{s}': use split, full or none")),
        }
    }
}
