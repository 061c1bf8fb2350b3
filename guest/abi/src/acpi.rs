//! ACPI, as far as the guest kernel reads it: the RSDP, the root table
//! (RSDT or XSDT) and the MADT's processor entries. Under QEMU's PVH boot
//! there is no microvmm BootInfo, so the MADT is how the kernel learns how
//! many CPUs the machine has and their APIC ids (smp under PVH). Pure
//! decoding over byte slices, so the VMM's unit tests can feed it hostile
//! tables (vmm/src/acpi_tests.rs); the kernel only copies bytes in.
//!
//! Everything here comes from firmware and is checked, not trusted:
//! signatures, checksums, each table's length against what was read, and
//! every MADT entry's length against the table (an entry shorter than its
//! type's layout, or of length < 2, ends the walk).

/// Bytes of an ACPI 2.0 RSDP (1.0: the first 20).
pub const RSDP_LEN: usize = 36;
/// Bytes of every system description table's header.
pub const SDT_HEADER: usize = 36;
/// Largest table the kernel reads (the MADT of 8 CPUs is ~100 bytes; a
/// root table of 8-byte pointers this long would list 8 k tables).
pub const SDT_MAX: usize = 64 * 1024;

/// Whether the bytes sum to 0 (mod 256), as every ACPI structure must.
pub fn checksum_ok(b: &[u8]) -> bool {
    b.iter().fold(0u8, |a, &x| a.wrapping_add(x)) == 0
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let lo = u32_at(b, off)?;
    let hi = u32_at(b, off + 4)?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

/// The root table an RSDP points to: (physical address, bytes per entry:
/// 8 for an XSDT, 4 for an RSDT). The XSDT when revision >= 2 and its
/// extended checksum holds, else the RSDT. None for a bad signature or
/// checksum, or no address.
pub fn rsdp_root(b: &[u8]) -> Option<(u64, usize)> {
    if b.len() < 20 || &b[..8] != b"RSD PTR " || !checksum_ok(&b[..20]) {
        return None;
    }
    if b[15] >= 2 && b.len() >= RSDP_LEN && checksum_ok(&b[..RSDP_LEN]) {
        let x = u64_at(b, 24)?;
        if x != 0 {
            return Some((x, 8));
        }
    }
    let r = u32_at(b, 16)?;
    (r != 0).then_some((u64::from(r), 4))
}

/// A table's total length from its header (the first [`SDT_HEADER`]
/// bytes), if it is at least a header and at most [`SDT_MAX`].
pub fn sdt_len(hdr: &[u8]) -> Option<usize> {
    let len = u32_at(hdr, 4)? as usize;
    (SDT_HEADER..=SDT_MAX).contains(&len).then_some(len)
}

/// Whether `t` is one whole table with signature `sig`: its length field
/// equals `t.len()` and its checksum holds.
pub fn sdt_ok(t: &[u8], sig: &[u8; 4]) -> bool {
    t.len() >= SDT_HEADER && &t[..4] == sig && sdt_len(t) == Some(t.len()) && checksum_ok(t)
}

/// The table addresses a checked root table lists (`size` 8: XSDT, 4:
/// RSDT); a trailing partial entry is ignored.
pub fn root_entries(t: &[u8], size: usize) -> impl Iterator<Item = u64> + '_ {
    let body = t.get(SDT_HEADER..).unwrap_or(&[]);
    body.chunks_exact(if size == 8 { 8 } else { 4 })
        .map(|c| c.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// The APIC ids of the enabled processors a checked MADT lists, in table
/// order, first occurrence only: type 0 (local APIC, 8 bytes) and type 9
/// (local x2APIC, 16 bytes), flags bit 0 (enabled). Writes at most
/// `out.len()`; returns how many it wrote and how many enabled processors
/// the table lists in all (a repeat of one of the first `out.len()` ids
/// is not counted).
pub fn madt_cpus(t: &[u8], out: &mut [u32]) -> (usize, usize) {
    let (mut n, mut total) = (0, 0);
    let seen = |id: u32, out: &mut [u32], n: &mut usize| {
        if out[..*n].contains(&id) {
            return false;
        }
        if *n < out.len() {
            out[*n] = id;
            *n += 1;
        }
        true
    };
    // Header, then the local APIC address and flags (u32 each).
    let mut off = SDT_HEADER + 8;
    while let (Some(&ty), Some(&len)) = (t.get(off), t.get(off + 1)) {
        let len = len as usize;
        let Some(e) = t.get(off..off + len).filter(|_| len >= 2) else {
            break;
        };
        let cpu = match (ty, len) {
            (0, 8..) => u32_at(e, 4).map(|f| (u32::from(e[3]), f)),
            (9, 16..) => u32_at(e, 4).zip(u32_at(e, 8)),
            (0 | 9, _) => break,
            _ => None,
        };
        if let Some((id, flags)) = cpu
            && flags & 1 != 0
            && seen(id, out, &mut n)
        {
            total += 1;
        }
        off += len;
    }
    (n, total)
}

/// The kernel's CPU order: the boot CPU (`bsp`, its APIC id) first as CPU
/// 0, then the others as the MADT lists them, at most `out.len()`. None
/// if the MADT does not list the boot CPU (then it does not describe this
/// machine and no other CPU is started).
pub fn cpu_order(madt: &[u32], bsp: u32, out: &mut [u32]) -> Option<usize> {
    if !madt.contains(&bsp) || out.is_empty() {
        return None;
    }
    out[0] = bsp;
    let mut n = 1;
    for &id in madt.iter().filter(|&&id| id != bsp) {
        if n == out.len() {
            break;
        }
        out[n] = id;
        n += 1;
    }
    Some(n)
}
