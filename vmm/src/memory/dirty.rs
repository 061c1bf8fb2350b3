//! The dirty log (`--dirty-log`): the guest-physical pages written since
//! the memslots were registered with KVM_MEM_LOG_DIRTY_PAGES, read with
//! KVM_GET_DIRTY_LOG slot by slot and decoded from KVM's bitmaps.

use kvm_ioctls::VmFd;

use super::{GuestRam, MemoryError};
use crate::addr::{Gpa, PAGE};

impl GuestRam {
    /// The guest-physical pages written since the last call (KVM_GET_DIRTY_LOG
    /// clears the log), over all slots, in ascending order.
    pub fn dirty_pages(&self, vm: &VmFd) -> Result<Vec<Gpa>, MemoryError> {
        if !self.registered {
            return Err(MemoryError::NotRegistered);
        }
        let mut pages = Vec::new();
        for slot in &self.slots {
            let size = usize::try_from(slot.size).map_err(|_| MemoryError::BadSize(slot.size))?;
            let bitmap =
                vm.get_dirty_log(slot.slot, size)
                    .map_err(|source| MemoryError::DirtyLog {
                        slot: slot.slot,
                        source,
                    })?;
            pages.extend(decode_dirty_bitmap(&bitmap, slot.gpa, slot.size));
        }
        Ok(pages)
    }
}

/// The GPAs of the pages whose bits are set in a KVM dirty bitmap: bit i of
/// word w is page w * 64 + i of the slot. Bits past the slot's end are ignored.
pub fn decode_dirty_bitmap(bitmap: &[u64], base: Gpa, size: u64) -> Vec<Gpa> {
    let pages = size / PAGE;
    let mut out = Vec::new();
    for (w, &word) in bitmap.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let bit = u64::from(bits.trailing_zeros());
            bits &= bits - 1;
            let index = (w as u64).saturating_mul(64).saturating_add(bit);
            if index >= pages {
                return out;
            }
            if let Some(gpa) = index
                .checked_mul(PAGE)
                .and_then(|off| base.checked_add(off))
            {
                out.push(gpa);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_bitmap_decode() {
        let base = Gpa(0x10_0000);
        let pages = decode_dirty_bitmap(&[0b101, 1 << 63, 1], base, 130 * PAGE);
        assert_eq!(
            pages,
            vec![
                Gpa(0x10_0000),
                Gpa(0x10_2000),
                Gpa(0x10_0000 + 127 * PAGE),
                Gpa(0x10_0000 + 128 * PAGE)
            ]
        );
        // Bits past the slot's last page are not pages.
        assert_eq!(decode_dirty_bitmap(&[1 << 2], base, 2 * PAGE), vec![]);
        assert_eq!(decode_dirty_bitmap(&[], base, 2 * PAGE), vec![]);
    }
}
