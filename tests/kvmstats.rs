//! Issue 20: KVM's own counters (KVM_GET_STATS_FD), charged to the guest
//! process that ran; their sums over processes, kernel, mixed and other
//! equal the run's totals. Real VMs through /dev/kvm.

mod common;
use common::*;

use serde_json::Value;

/// Whether this host's kernel is older than 5.14 (no binary stats).
fn kernel_before_5_14() -> bool {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = rel
        .trim()
        .split(['.', '-'])
        .map(|x| x.parse::<u32>().unwrap_or(0));
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (major, minor) < (5, 14)
}

fn counter(v: &Value, scope: &str, name: &str) -> u64 {
    v[scope][name].as_u64().unwrap_or(0)
}

#[test]
fn the_heap_process_pays_kvm_exits_and_faults_and_the_sums_hold() {
    let r = microvmm(
        &["--cmdline", "addrspace heap stack", "--json", "-", "-q"],
        0,
    );
    let j = r.json();
    let k = &j["kvm"];
    if k["available"] != true {
        assert!(
            kernel_before_5_14(),
            "KVM's stats are unavailable on a 5.14+ kernel: {}",
            k["why"]
        );
        assert!(k["why"].as_str().is_some_and(|w| !w.is_empty()));
        return;
    }
    let heap = procs(&j, "heap")[0];
    let hk = &heap["kvm"];
    assert!(counter(hk, "vcpu", "exits") > 0, "heap's exits: {hk}");
    assert!(counter(hk, "vcpu", "pf_taken") > 0, "heap's pf_taken: {hk}");
    // Every heap page the guest faulted in was first a fault KVM saw: on
    // shadow paging (PVM) it hands it to the guest (pf_guest); on EPT/NPT
    // it takes a nested fault (pf_fixed) for a page the host had not
    // mapped yet. At least one of them moved.
    assert!(
        counter(hk, "vcpu", "pf_guest") + counter(hk, "vcpu", "pf_fixed") > 0,
        "{hk}"
    );
    // The sums: every counter, VM's and vCPU's.
    let total = &k["total"];
    for scope in ["vm", "vcpu"] {
        let names = total[scope].as_object().expect("counters by name");
        assert!(!names.is_empty(), "no {scope} counters");
        for name in names.keys() {
            let mut sum = 0u64;
            for owner in ["kernel", "mixed", "other"] {
                sum += counter(&k[owner], scope, name);
            }
            for p in j["processes"].as_array().expect("processes") {
                sum += counter(&p["kvm"], scope, name);
            }
            assert_eq!(
                sum,
                counter(total, scope, name),
                "{scope}.{name}: processes + kernel + mixed + other"
            );
        }
    }
    assert!(k["samples"].as_u64().unwrap_or(0) > 0);
    // The text says what the counters mean, and the heap process's cost
    // per fault.
    let t = microvmm(&["--cmdline", "addrspace heap stack"], 0);
    assert!(t.stdout.contains("== what it cost KVM"), "{}", t.stdout);
    assert!(t.stdout.contains("pf_taken: "), "{}", t.stdout);
    assert!(
        t.stdout.contains("VM exits per guest page fault")
            || t.stdout.contains("VM exits in its own intervals"),
        "{}",
        t.stdout
    );
}
