//! Demand-paging faults by region kind, as the text and SVG reports print
//! them (the kernel's verdict line uses the same form).

use std::collections::BTreeMap;

use crate::devices::event::RegionKind;

/// Always shown, even at 0: where a student looks for malloc's memory.
const ALWAYS: [RegionKind; 3] = [RegionKind::Heap, RegionKind::Mmap, RegionKind::Stack];

/// "heap 2, mmap 16384, stack 1, bss 3": heap, mmap and stack, then every
/// other kind that took a fault.
pub fn faults_text(by_kind: &BTreeMap<RegionKind, u64>) -> String {
    let n = |k: &RegionKind| by_kind.get(k).copied().unwrap_or(0);
    ALWAYS
        .iter()
        .chain(
            RegionKind::ALL
                .iter()
                .filter(|k| !ALWAYS.contains(k) && n(k) > 0),
        )
        .map(|k| format!("{} {}", k.as_str(), n(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_mmap_and_stack_always_then_the_kinds_with_faults() {
        let m = BTreeMap::from([
            (RegionKind::Bss, 3),
            (RegionKind::Mmap, 16384),
            (RegionKind::Heap, 2),
            (RegionKind::Code, 0),
        ]);
        assert_eq!(faults_text(&m), "heap 2, mmap 16384, stack 0, bss 3");
        assert_eq!(faults_text(&BTreeMap::new()), "heap 0, mmap 0, stack 0");
    }
}
