//! What KVM's counters mean, in plain words, on each flavour of this
//! host's virtualization: the same name counts different work under
//! shadow paging (PVM, or TDP off) than under EPT/NPT. Read from KVM's
//! sources (arch/x86/kvm/x86.c, mmu/mmu.c, include/linux/kvm_host.h).

use crate::kvm_probe::Flavour;

/// The counters the text report shows, in its order: (scope "vm"/"vcpu", name).
pub const SHOWN: &[(&str, &str)] = &[
    ("vcpu", "exits"),
    ("vcpu", "pf_taken"),
    ("vcpu", "pf_fixed"),
    ("vcpu", "pf_guest"),
    ("vcpu", "pf_emulate"),
    ("vcpu", "pf_spurious"),
    ("vcpu", "tlb_flush"),
    ("vcpu", "invlpg"),
    ("vcpu", "hypercalls"),
    ("vcpu", "io_exits"),
    ("vcpu", "insn_emulation"),
    ("vcpu", "irq_exits"),
    ("vcpu", "halt_exits"),
    ("vm", "remote_tlb_flush"),
    ("vm", "mmu_shadow_zapped"),
    ("vm", "mmu_pte_write"),
    ("vm", "mmu_flooded"),
    ("vm", "mmu_unsync"),
    ("vm", "mmu_cache_miss"),
];

fn shadow(f: Flavour) -> bool {
    matches!(f, Flavour::Pvm | Flavour::Shadow)
}

/// What counter `name` counts on flavour `f`, in a few words; None for a
/// counter this table does not explain.
pub fn meaning(f: Flavour, name: &str) -> Option<&'static str> {
    let sh = shadow(f);
    let pvm = f == Flavour::Pvm;
    Some(match name {
        "exits" if pvm => {
            "times the vCPU left the guest for KVM, for any reason (PVM: every privileged instruction and every fault the switcher hands to KVM)"
        }
        "exits" => "times the vCPU left the guest for KVM, for any reason",
        "pf_taken" if sh => {
            "page faults KVM intercepted: a guest access missed KVM's shadow page tables"
        }
        "pf_taken" => {
            "EPT violations / NPT faults KVM took: a guest-physical page not yet mapped by the host"
        }
        "pf_fixed" if pvm => "shadow entries KVM filled from the guest's page tables (PVM)",
        "pf_fixed" if sh => {
            "shadow entries KVM filled from the guest's page tables (shadow paging)"
        }
        "pf_fixed" => {
            "nested page faults KVM fixed by mapping host memory behind a guest-physical page (EPT/NPT)"
        }
        "pf_guest" if sh => {
            "faults that were the guest's own (not present in its tables): KVM passed them to the guest kernel"
        }
        "pf_guest" => {
            "faults KVM injected into the guest (rare with EPT/NPT: the guest takes its own faults)"
        }
        "pf_emulate" if sh => {
            "faulting instructions KVM emulated, mostly writes to guest page tables it write-protects"
        }
        "pf_emulate" => "faulting instructions KVM emulated (MMIO)",
        "pf_spurious" => "faults that were already fixed when KVM looked",
        "tlb_flush" if sh => {
            "flushes of the guest's TLB KVM did: a CR3 load or INVLPG means re-syncing shadow tables"
        }
        "tlb_flush" => {
            "flushes of the guest's TLB KVM did (guest-requested or for its own changes)"
        }
        "invlpg" => "guest INVLPG instructions KVM handled",
        "hypercalls" if pvm => {
            "hypercalls to KVM (PVM: the guest kernel's privileged operations, e.g. CR3 loads, MSRs)"
        }
        "hypercalls" => "hypercalls the guest made to KVM",
        "io_exits" => "port I/O that went to the VMM: microvmm's console and hypercall device",
        "insn_emulation" => "instructions KVM emulated in software",
        "irq_exits" => "exits for a host interrupt (the host's timer, other devices)",
        "halt_exits" => "HLT instructions: the guest waited for an interrupt",
        "remote_tlb_flush" => {
            "requests to flush every vCPU's TLB after KVM changed its page tables"
        }
        "mmu_shadow_zapped" if sh => "shadow page-table pages KVM threw away",
        "mmu_shadow_zapped" => "pages of KVM's own EPT/NPT tables it threw away",
        "mmu_pte_write" => "guest page-table writes KVM intercepted to keep its shadow in step",
        "mmu_flooded" => {
            "shadow pages KVM stopped shadowing because the guest wrote them too often"
        }
        "mmu_unsync" => "shadow pages left out of step with the guest's table until the next flush",
        "mmu_cache_miss" if sh => "shadow page-table pages KVM had to build (no cached one fit)",
        "mmu_cache_miss" => "pages of KVM's own tables it had to build",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shown_counter_is_explained_on_every_flavour() {
        for f in [
            Flavour::Pvm,
            Flavour::Shadow,
            Flavour::VmxEpt,
            Flavour::SvmNpt,
        ] {
            for (_, n) in SHOWN {
                assert!(meaning(f, n).is_some(), "{n} on {f:?}");
            }
        }
        assert!(meaning(Flavour::Pvm, "pf_fixed").is_some_and(|m| m.contains("shadow")));
        assert!(meaning(Flavour::VmxEpt, "pf_fixed").is_some_and(|m| m.contains("EPT/NPT")));
        assert_eq!(meaning(Flavour::Pvm, "no_such_counter"), None);
    }
}
