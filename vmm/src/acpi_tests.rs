//! abi::acpi, the guest kernel's reading of firmware tables under QEMU's
//! PVH boot (the abi crate has no tests of its own): a well-formed RSDP,
//! XSDT/RSDT and MADT give the enabled CPUs' APIC ids with the boot CPU
//! first, and hostile tables (bad checksums, lengths that overrun, entries
//! of length 0 or 1, repeated ids, more CPUs than the kernel keeps) are
//! refused or bounded without a panic.

use abi::acpi::{self, SDT_HEADER, SDT_MAX};
use proptest::prelude::*;

/// Make `b`'s bytes sum to 0 by setting the byte at `at`.
fn fix_sum(b: &mut [u8], at: usize) {
    b[at] = 0;
    let s = b.iter().fold(0u8, |a, &x| a.wrapping_add(x));
    b[at] = 0u8.wrapping_sub(s);
}

/// A table with signature `sig` and body `body`, length and checksum right.
fn table(sig: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; SDT_HEADER];
    t[..4].copy_from_slice(sig);
    t.extend_from_slice(body);
    let len = t.len() as u32;
    t[4..8].copy_from_slice(&len.to_le_bytes());
    fix_sum(&mut t, 9);
    t
}

fn lapic(id: u8, flags: u32) -> Vec<u8> {
    let mut e = vec![0, 8, id, id];
    e.extend_from_slice(&flags.to_le_bytes());
    e
}

fn x2apic(id: u32, flags: u32) -> Vec<u8> {
    let mut e = vec![9, 16, 0, 0];
    e.extend_from_slice(&id.to_le_bytes());
    e.extend_from_slice(&flags.to_le_bytes());
    e.extend_from_slice(&id.to_le_bytes());
    e
}

/// A MADT: LAPIC address, flags, then `entries`.
fn madt(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = 0xfee0_0000u32.to_le_bytes().to_vec();
    body.extend_from_slice(&1u32.to_le_bytes());
    for e in entries {
        body.extend_from_slice(e);
    }
    table(b"APIC", &body)
}

fn cpus(t: &[u8]) -> (Vec<u32>, usize) {
    let mut out = [0u32; 8];
    let (n, total) = acpi::madt_cpus(t, &mut out);
    (out[..n].to_vec(), total)
}

fn rsdp(rev: u8, rsdt: u32, xsdt: u64) -> Vec<u8> {
    let mut b = vec![0u8; 36];
    b[..8].copy_from_slice(b"RSD PTR ");
    b[15] = rev;
    b[16..20].copy_from_slice(&rsdt.to_le_bytes());
    b[20..24].copy_from_slice(&36u32.to_le_bytes());
    b[24..32].copy_from_slice(&xsdt.to_le_bytes());
    fix_sum(&mut b[..20], 8);
    fix_sum(&mut b, 32);
    b
}

#[test]
fn rsdp_prefers_a_checked_xsdt_and_falls_back_to_the_rsdt() {
    assert_eq!(acpi::rsdp_root(&rsdp(2, 0x1000, 0x2000)), Some((0x2000, 8)));
    assert_eq!(acpi::rsdp_root(&rsdp(0, 0x1000, 0x2000)), Some((0x1000, 4)));
    // ACPI 1.0: 20 bytes only.
    assert_eq!(
        acpi::rsdp_root(&rsdp(0, 0x1000, 0)[..20]),
        Some((0x1000, 4))
    );
    // A bad extended checksum: the RSDT.
    let mut b = rsdp(2, 0x1000, 0x2000);
    b[33] ^= 1;
    assert_eq!(acpi::rsdp_root(&b), Some((0x1000, 4)));
    // A bad signature, a bad checksum, no address, too short.
    let mut b = rsdp(2, 0x1000, 0x2000);
    b[0] = b'X';
    assert_eq!(acpi::rsdp_root(&b), None);
    let mut b = rsdp(0, 0x1000, 0);
    b[16] ^= 0x10;
    assert_eq!(acpi::rsdp_root(&b), None);
    assert_eq!(acpi::rsdp_root(&rsdp(0, 0, 0)), None);
    assert_eq!(acpi::rsdp_root(&rsdp(0, 0x1000, 0)[..19]), None);
}

#[test]
fn tables_are_checked_whole() {
    let t = madt(&[lapic(0, 1)]);
    assert!(acpi::sdt_ok(&t, b"APIC"));
    assert!(!acpi::sdt_ok(&t, b"XSDT"), "wrong signature");
    assert!(
        !acpi::sdt_ok(&t[..t.len() - 1], b"APIC"),
        "shorter than its length"
    );
    let mut bad = t.clone();
    bad[SDT_HEADER] ^= 1;
    assert!(!acpi::sdt_ok(&bad, b"APIC"), "checksum");
    // Lengths below a header or above SDT_MAX are refused before a read.
    let mut h = t[..SDT_HEADER].to_vec();
    h[4..8].copy_from_slice(&35u32.to_le_bytes());
    assert_eq!(acpi::sdt_len(&h), None);
    h[4..8].copy_from_slice(&(SDT_MAX as u32 + 1).to_le_bytes());
    assert_eq!(acpi::sdt_len(&h), None);
    h[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(acpi::sdt_len(&h), None);
    assert_eq!(acpi::sdt_len(&h[..7]), None);
}

#[test]
fn root_tables_list_their_entries() {
    let mut body = 0x1234u64.to_le_bytes().to_vec();
    body.extend_from_slice(&0xabcd_0000_5678u64.to_le_bytes());
    body.push(0xff); // a partial entry is ignored
    let x = table(b"XSDT", &body);
    assert_eq!(
        acpi::root_entries(&x, 8).collect::<Vec<_>>(),
        [0x1234, 0xabcd_0000_5678]
    );
    let r = table(b"RSDT", &[0x78, 0x56, 0x34, 0x12, 0x01, 0, 0, 0]);
    assert_eq!(
        acpi::root_entries(&r, 4).collect::<Vec<_>>(),
        [0x1234_5678, 1]
    );
    assert_eq!(acpi::root_entries(&r[..10], 4).count(), 0);
}

#[test]
fn madt_gives_the_enabled_cpus_in_order() {
    let t = madt(&[
        lapic(0, 1),
        lapic(2, 0),
        vec![1, 12, 0, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0],
        lapic(1, 1),
        x2apic(300, 1),
    ]);
    assert_eq!(cpus(&t), (vec![0, 1, 300], 3));
    let mut out = [0u32; 8];
    let n = acpi::cpu_order(&[0, 1, 300], 1, &mut out).expect("boot CPU listed");
    assert_eq!(out[..n], [1, 0, 300]);
    assert_eq!(
        acpi::cpu_order(&[0, 1], 5, &mut out),
        None,
        "boot CPU not listed"
    );
}

#[test]
fn madt_bounds_hostile_entries() {
    // Repeats counted once.
    assert_eq!(
        cpus(&madt(&[lapic(3, 1), lapic(3, 1), x2apic(3, 1)])),
        (vec![3], 1)
    );
    // More CPUs than the kernel keeps: the first 8, all counted.
    let many: Vec<_> = (0..20).map(|i| lapic(i, 1)).collect();
    let (ids, total) = cpus(&madt(&many));
    assert_eq!(ids, (0..8).collect::<Vec<u32>>());
    assert_eq!(total, 20);
    // Length 0 or 1 would loop for ever; an overrun reads past the table;
    // a processor entry too short for its type: each ends the walk.
    for bad in [
        vec![0, 0],
        vec![7, 1],
        vec![0, 200, 1, 1, 1, 0, 0, 0],
        vec![0, 4, 1, 1],
        vec![9, 8, 0, 0, 1, 0, 0, 0],
    ] {
        let t = madt(&[lapic(0, 1), bad, lapic(1, 1)]);
        assert_eq!(cpus(&t), (vec![0], 1));
    }
    // A table too short for even the MADT's fixed fields.
    assert_eq!(cpus(&table(b"APIC", &[1, 2])), (vec![], 0));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), bsp in 0u32..4) {
        let _ = acpi::rsdp_root(&bytes);
        let _ = acpi::sdt_len(&bytes);
        let _ = acpi::sdt_ok(&bytes, b"APIC");
        prop_assert!(acpi::root_entries(&bytes, 8).count() <= bytes.len() / 8);
        let mut out = [0u32; 8];
        let (n, total) = acpi::madt_cpus(&bytes, &mut out);
        prop_assert!(n <= 8 && n <= total);
        let mut order = [0u32; 8];
        if let Some(m) = acpi::cpu_order(&out[..n], bsp, &mut order) {
            prop_assert!(m <= n && order[0] == bsp);
        }
    }
}
