//! `--dirty-log`: each dirty guest page attributed to whoever owned it
//! last (a process's region, its page tables, the kernel), and the dirty
//! frames as runs.

use std::collections::HashMap;

use super::super::model::*;
use crate::addr::Gpa;
use crate::observations::ProcObservation;

/// Attribute each dirty guest page to whoever owned it last.
pub(super) fn attribute_dirty(dirty: &[Gpa], procs: &[ProcObservation], ram: u64) -> DirtyReport {
    let mut owner: HashMap<u64, String> = HashMap::new();
    // A frame freed by one process may be reused by a later one: replay the
    // exits in the order they happened, so the last owner wins.
    let mut recs: Vec<_> = procs.iter().collect();
    recs.sort_by_key(|r| r.exit_order.unwrap_or(usize::MAX));
    for rec in recs {
        let (pid, name) = (rec.created.pid, &rec.created.name);
        if let Some(a) = &rec.analysis {
            for t in &a.tables {
                owner.insert(t.raw() >> 12, "page tables".into());
            }
            for (gpa, region) in &a.frames {
                let region = region_text(*region);
                owner.insert(gpa.raw() >> 12, format!("pid {pid} {name} {region}"));
            }
        }
    }
    let mut counts: HashMap<String, u64> = HashMap::new();
    for g in dirty {
        let o = match owner.get(&(g.raw() >> 12)) {
            Some(o) => o.clone(),
            None if g.raw() < abi::layout::RESERVED_END => "boot structures".into(),
            None if g.raw() < ram => {
                "kernel (image, data, or frames of no reported process)".into()
            }
            None => "outside RAM".into(),
        };
        *counts.entry(o).or_default() += 1;
    }
    let mut by_owner: Vec<DirtyOwner> = counts
        .into_iter()
        .map(|(owner, pages)| DirtyOwner { owner, pages })
        .collect();
    by_owner.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.owner.cmp(&b.owner)));
    DirtyReport {
        pages_dirty: dirty.len() as u64,
        by_owner,
        runs: runs(dirty),
    }
}

/// Guest frames as runs of consecutive pages: (first GPA, pages).
fn runs(frames: &[Gpa]) -> Vec<(Gpa, u64)> {
    let mut pfns: Vec<u64> = frames.iter().map(|g| g.raw() >> 12).collect();
    pfns.sort_unstable();
    pfns.dedup();
    let mut out: Vec<(Gpa, u64)> = Vec::new();
    for pfn in pfns {
        match out.last_mut() {
            Some((start, n)) if (start.raw() >> 12) + *n == pfn => *n += 1,
            _ => out.push((Gpa(pfn << 12), 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_frames_become_runs() {
        let g = |p: u64| Gpa(p << 12);
        assert_eq!(
            runs(&[g(5), g(3), g(4), g(9), g(4), g(10)]),
            vec![(g(3), 3), (g(9), 2)]
        );
        assert!(runs(&[]).is_empty());
    }
}
