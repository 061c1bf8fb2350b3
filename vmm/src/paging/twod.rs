//! What a TLB miss costs the hardware under nested paging (Intel EPT, AMD
//! NPT): the "2D walk" of Bhargava et al., ASPLOS 2008.

/// Return the memory references of a 2D walk that reads `guest_levels`
/// guest entries with a nested (EPT/NPT) table of `host_levels` levels.
///
/// Each guest table lives at a GPA (from CR3 or the entry above), so reading
/// an entry first takes a nested walk of `h` references to find its
/// host-physical address, then the read itself: `h+1` per guest level. The
/// GPA the guest leaf yields needs one last nested walk. Total
/// `g*(h+1) + h` (= (g+1)(h+1) - 1): 24 for 4-level guest and host, 19 when
/// the guest maps a 2M page (g = 3), 19 when the host does (h = 3). With
/// h = 0 (shadow paging: no nested table) it is plain `g`. Counts references,
/// not misses: paging-structure caches skip most of them in practice.
pub fn two_d_refs(guest_levels: u32, host_levels: u32) -> u32 {
    guest_levels
        .saturating_mul(host_levels.saturating_add(1))
        .saturating_add(host_levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_counts() {
        assert_eq!(two_d_refs(4, 4), 24);
        assert_eq!(two_d_refs(3, 4), 19, "2M guest page");
        assert_eq!(two_d_refs(4, 3), 19, "2M host page");
        assert_eq!(two_d_refs(2, 2), 8, "1G pages on both sides");
        assert_eq!(two_d_refs(5, 5), 35, "5-level on both sides");
        assert_eq!(two_d_refs(4, 0), 4, "no nested table");
        assert_eq!(two_d_refs(u32::MAX, u32::MAX), u32::MAX);
    }
}
