//! How much of guest RAM the host has actually backed with pages: what the
//! guest's memory costs the host, as opposed to what the VMM itself uses
//! (scripts/bench.sh subtracts it from the process's peak RSS).

use super::SlotInfo;
use crate::addr::PAGE;

/// Bytes of the slots' host mappings resident in RAM now (mincore), or
/// None if the kernel would not say.
pub fn bytes(slots: &[SlotInfo]) -> Option<u64> {
    let mut total = 0u64;
    for s in slots {
        let len = usize::try_from(s.size).ok()?;
        let mut vec = vec![0u8; len.div_ceil(PAGE as usize)];
        // SAFETY: [hva, hva + size) is the slot's live mapping (GuestRam
        // owns it), page aligned; `vec` has one byte per page of it.
        let rc = unsafe { libc::mincore(s.hva.raw() as *mut libc::c_void, len, vec.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        let pages = vec.iter().filter(|&&b| b & 1 != 0).count() as u64;
        // With hugetlb backing mincore still answers per 4 KiB page.
        total = total.checked_add(pages.checked_mul(PAGE)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use crate::memory::{Backing, GuestRam};
    use vm_memory::{Bytes, GuestAddress};

    #[test]
    fn counts_touched_pages() {
        let Ok(ram) = GuestRam::new(1 << 20, Backing::FourK) else {
            panic!("cannot map 1 MiB")
        };
        assert_eq!(super::bytes(ram.slots()), Some(0));
        for gpa in [0u64, 0x3000, 0x3008, 0x8_0000] {
            assert!(ram.mem().write_obj(1u8, GuestAddress(gpa)).is_ok());
        }
        assert_eq!(super::bytes(ram.slots()), Some(3 * 4096));
    }
}
