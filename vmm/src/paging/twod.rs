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

/// Depth of the host's nested walk (`host_levels` deep for 4 KiB) for a
/// guest frame backed by a host page of `host_page` bytes: a 2 MiB host
/// page ends it a level early, 1 GiB two (unknown: assume 4 KiB, the
/// deepest).
pub fn nested_depth(host_page: Option<u64>, host_levels: u32) -> u32 {
    match host_page {
        Some(s) if s >= 1 << 30 => host_levels.saturating_sub(2),
        Some(s) if s >= 2 << 20 => host_levels.saturating_sub(1),
        _ => host_levels,
    }
}

/// Return the memory references of one 2D walk counted for the host pages
/// actually behind it, and the formula that gives them: guest level `i`'s
/// table lies on a host page of `tables[i]` bytes (top level first, one per
/// guest level; missing entries count as 4 KiB), the final guest frame on
/// one of `data` bytes. Each guest level costs its nested walk plus the
/// read, `(h_i + 1)`; the data frame one more nested walk, `h_data`. When
/// every depth is equal this is [`two_d_refs`], written `g*(h+1)+h`.
pub fn nested_walk_refs(
    guest_levels: u32,
    tables: &[Option<u64>],
    data: Option<u64>,
    host_levels: u32,
) -> (u32, String) {
    let hs: Vec<u32> = (0..guest_levels as usize)
        .map(|i| nested_depth(tables.get(i).copied().flatten(), host_levels))
        .collect();
    let hd = nested_depth(data, host_levels);
    let n = hs
        .iter()
        .fold(hd, |sum, h| sum.saturating_add(h.saturating_add(1)));
    let formula = if hs.iter().all(|&h| h == hd) {
        format!("{guest_levels}*({hd}+1)+{hd}")
    } else {
        let parts: Vec<String> = hs.iter().map(|h| format!("({h}+1)")).collect();
        format!("{}+{hd}", parts.join("+"))
    };
    (n, formula)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_level_counts_follow_each_host_page() {
        assert_eq!(
            nested_walk_refs(4, &[Some(4096); 4], Some(4096), 4),
            (24, "4*(4+1)+4".into())
        );
        assert_eq!(
            nested_walk_refs(4, &[], None, 4).0,
            24,
            "unknown host page: 4 KiB"
        );
        assert_eq!(
            nested_walk_refs(4, &[Some(2 << 20); 4], Some(2 << 20), 4).0,
            19
        );
        assert_eq!(nested_walk_refs(3, &[Some(4096); 3], Some(4096), 4).0, 19);
        let mixed = [Some(4096), Some(4096), Some(2 << 20), Some(4096)];
        assert_eq!(
            nested_walk_refs(4, &mixed, Some(2 << 20), 4),
            (22, "(4+1)+(4+1)+(3+1)+(4+1)+3".into())
        );
        assert_eq!(
            nested_walk_refs(4, &[Some(1 << 30); 4], Some(1 << 30), 4).0,
            14
        );
        assert_eq!(nested_walk_refs(5, &[Some(4096); 5], Some(4096), 5).0, 35);
        for g in 1..=5 {
            for h in 2..=5 {
                let t = vec![Some(4096); g as usize];
                assert_eq!(nested_walk_refs(g, &t, Some(4096), h).0, two_d_refs(g, h));
            }
        }
    }

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
