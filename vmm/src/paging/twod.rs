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
///
/// ```
/// use microvmm::paging::two_d_refs;
///
/// assert_eq!(two_d_refs(4, 4), 24); // 4-level guest on 4-level EPT/NPT
/// assert_eq!(two_d_refs(5, 5), 35); // LA57 on both sides
/// assert_eq!(two_d_refs(3, 4), 19); // the guest maps a 2 MiB page
/// assert_eq!(two_d_refs(4, 0), 4); // shadow paging: the guest levels only
/// ```
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
///
/// ```
/// use microvmm::paging::nested_walk_refs;
///
/// const K4: Option<u64> = Some(4096);
/// const M2: Option<u64> = Some(2 << 20);
/// // Everything on 4 KiB host pages: the textbook 24.
/// assert_eq!(nested_walk_refs(4, &[K4; 4], K4, 4), (24, "4*(4+1)+4".into()));
/// // The data on a 2 MiB host page: its nested walk is a level shorter.
/// assert_eq!(
///     nested_walk_refs(4, &[K4; 4], M2, 4),
///     (23, "(4+1)+(4+1)+(4+1)+(4+1)+3".into())
/// );
/// ```
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

/// Levels a walk reads down to a leaf mapping `page` bytes in a table of
/// `levels` levels: a 2 MiB page ends it one level early, 1 GiB two.
pub fn leaf_levels(levels: u32, page: u64) -> u32 {
    nested_depth(Some(page), levels)
}

/// Return the memory references of a TLB miss on a guest page of
/// `guest_page` bytes whose guest frame the host backs with pages of
/// `host_page` bytes (unknown: 4 KiB), and the formula.
///
/// Nested paging (`nested`, EPT/NPT): the 2D walk of
/// [`nested_walk_refs`] with `g` = the guest levels down to that page and
/// every nested walk `h` = the host levels down to a host page of that
/// size (the guest's tables are assumed to sit on host pages like its
/// data: one combination, one number).
///
/// Shadow paging (TDP off, and PVM): the CPU walks KVM's shadow table, a
/// one-dimensional GVA->HPA table whose leaves can be no larger than the
/// smaller of the guest page and the host page behind it, so its depth
/// follows both: `min(guest, host)` decides.
///
/// ```
/// use microvmm::paging::page_walk_refs;
///
/// const M2: u64 = 2 << 20;
/// // EPT/NPT: a 2 MiB guest page over 4 KiB host pages, then over 2 MiB.
/// assert_eq!(page_walk_refs(true, 4, 4, M2, Some(4096)).0, 19);
/// assert_eq!(page_walk_refs(true, 4, 4, M2, Some(M2)), (15, "3*(3+1)+3".into()));
/// // Shadow paging or PVM: the guest's 2 MiB page gains nothing over
/// // 4 KiB host backing; over a 2 MiB host page the walk is a level shorter.
/// assert_eq!(page_walk_refs(false, 4, 4, M2, Some(4096)).0, 4);
/// assert_eq!(page_walk_refs(false, 4, 4, M2, Some(M2)).0, 3);
/// ```
pub fn page_walk_refs(
    nested: bool,
    guest_levels: u32,
    host_levels: u32,
    guest_page: u64,
    host_page: Option<u64>,
) -> (u32, String) {
    let host = host_page.unwrap_or(4096);
    if nested {
        let g = leaf_levels(guest_levels, guest_page);
        let h = leaf_levels(host_levels, host);
        (two_d_refs(g, h), format!("{g}*({h}+1)+{h}"))
    } else {
        let n = leaf_levels(guest_levels, guest_page.min(host));
        (
            n,
            format!("{n} (shadow table, leaf = min(guest, host page))"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_refs_per_guest_and_host_page_size() {
        const K4: u64 = 4096;
        const M2: u64 = 2 << 20;
        const G1: u64 = 1 << 30;
        // (guest levels, host levels, guest page, host page, nested refs, shadow refs)
        let cases = [
            (4, 4, K4, Some(K4), 24, 4),
            (4, 4, M2, Some(K4), 19, 4),
            (4, 4, K4, Some(M2), 19, 4),
            (4, 4, M2, Some(M2), 15, 3),
            (4, 4, M2, None, 19, 4),
            (4, 4, G1, Some(G1), 8, 2),
            (4, 4, G1, Some(M2), 11, 3),
            (5, 5, K4, Some(K4), 35, 5),
            (5, 5, M2, Some(M2), 24, 4),
            (5, 4, K4, Some(K4), 29, 5),
            (4, 5, M2, Some(K4), 23, 4),
        ];
        for (g, h, gp, hp, nested, shadow) in cases {
            let (n, how) = page_walk_refs(true, g, h, gp, hp);
            assert_eq!(n, nested, "nested {g}/{h} {gp}/{hp:?}: {how}");
            let (gl, hl) = (leaf_levels(g, gp), leaf_levels(h, hp.unwrap_or(K4)));
            assert_eq!(how, format!("{gl}*({hl}+1)+{hl}"));
            // The same count as the per-level formula with equal depths.
            let tables = vec![Some(hp.unwrap_or(K4)); gl as usize];
            assert_eq!(nested_walk_refs(gl, &tables, hp, h).0, nested);
            assert_eq!(
                page_walk_refs(false, g, h, gp, hp).0,
                shadow,
                "shadow {g} {gp}/{hp:?}"
            );
        }
    }

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
