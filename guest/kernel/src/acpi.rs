//! The CPUs of a machine booted through QEMU's PVH entry, from ACPI's
//! MADT: hvm_start_info's RSDP -> RSDT/XSDT -> "APIC" table. Decoding and
//! its checks are abi::acpi's; this file only finds the bytes, and refuses
//! any table that does not lie wholly below `limit` (what the PVH boot
//! tables map) or whose header is not sane before the body is read.
//!
//! Why the MADT and not CPUID or QEMU's fw_cfg: CPUID leaves 1 and 0xB
//! describe the topology's widths (logical processors a package could
//! have), not how many CPUs exist; fw_cfg is QEMU's alone and gives no
//! APIC ids. The MADT lists each enabled CPU with the APIC id an
//! INIT/SIPI must be sent to, as on any PVH firmware (QEMU, Xen,
//! cloud-hypervisor).

use abi::acpi::{self, RSDP_LEN, SDT_HEADER};

use crate::memlayout::{Pa, p2v};

/// `len` bytes of physical memory at `pa`, if they lie below `limit`.
fn phys(pa: u64, len: usize, limit: u64) -> Option<&'static [u8]> {
    let end = pa.checked_add(len as u64)?;
    if pa == 0 || end > limit {
        return None;
    }
    // SAFETY: [pa, end) lies below `limit`, which the caller's page tables
    // map at p2v; it is firmware's memory, which nothing writes while the
    // boot CPU alone reads it.
    Some(unsafe { core::slice::from_raw_parts(p2v::<u8>(Pa(pa)), len) })
}

/// One whole checked table at `pa` with signature `sig`.
fn table(pa: u64, sig: &[u8; 4], limit: u64) -> Option<&'static [u8]> {
    let hdr = phys(pa, SDT_HEADER, limit)?;
    let t = phys(pa, acpi::sdt_len(hdr)?, limit)?;
    acpi::sdt_ok(t, sig).then_some(t)
}

/// The enabled CPUs' APIC ids, the boot CPU's (`bsp`) first, at most
/// `out.len()`: (CPUs written, enabled CPUs the MADT lists). Err says what
/// was missing or refused (then the kernel runs on the boot CPU alone).
pub fn cpus(
    rsdp: u64,
    limit: u64,
    bsp: u32,
    out: &mut [u32],
) -> Result<(usize, usize), &'static str> {
    if rsdp == 0 {
        return Err("hvm_start_info gives no RSDP");
    }
    // An ACPI 1.0 RSDP is 20 bytes: read 36 only where they are mapped.
    let b = phys(rsdp, RSDP_LEN, limit)
        .or_else(|| phys(rsdp, 20, limit))
        .ok_or("RSDP beyond the mapped 1 GiB")?;
    let (root, size) = acpi::rsdp_root(b).ok_or("bad RSDP (signature or checksum)")?;
    let sig = if size == 8 { b"XSDT" } else { b"RSDT" };
    let root = table(root, sig, limit).ok_or("bad or unmapped RSDT/XSDT")?;
    let madt = acpi::root_entries(root, size)
        .find_map(|pa| table(pa, b"APIC", limit))
        .ok_or("no valid MADT")?;
    let mut ids = [0u32; abi::layout::MAX_CPUS as usize];
    let (n, listed) = acpi::madt_cpus(madt, &mut ids);
    let n = acpi::cpu_order(&ids[..n], bsp, out).ok_or("the MADT does not list the boot CPU")?;
    Ok((n, listed))
}
