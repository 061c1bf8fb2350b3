//! The hugetlb pool: how many 2 MiB huge pages a new mapping can still
//! reserve, and what to run when there are too few.

use super::MemoryError;

const MEMINFO: &str = "/proc/meminfo";
const SYS_2M: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/// The huge page pool as /proc/meminfo shows it (for the default huge page
/// size, `page_kib`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HugePool {
    /// Pages in the pool (HugePages_Total).
    pub total: u64,
    /// Pages not in use (HugePages_Free), reserved ones included.
    pub free: u64,
    /// Free pages already promised to mappings that have not touched them.
    pub reserved: u64,
    /// The default huge page size in KiB (Hugepagesize).
    pub page_kib: u64,
}

impl HugePool {
    /// Pages a new mapping can still reserve.
    pub fn available(&self) -> u64 {
        self.free.saturating_sub(self.reserved)
    }
}

/// Parse the HugePages_Total/Free/Rsvd and Hugepagesize lines of /proc/meminfo.
pub fn parse_meminfo(text: &str) -> Result<HugePool, MemoryError> {
    let field = |name: &'static str| {
        text.lines()
            .find_map(|line| {
                let rest = line.strip_prefix(name)?.strip_prefix(':')?;
                rest.split_whitespace().next()?.parse::<u64>().ok()
            })
            .ok_or(MemoryError::NoPoolInfo {
                path: MEMINFO,
                field: name,
            })
    };
    Ok(HugePool {
        total: field("HugePages_Total")?,
        free: field("HugePages_Free")?,
        reserved: field("HugePages_Rsvd")?,
        page_kib: field("Hugepagesize")?,
    })
}

/// Fail with the command to run unless `needed` 2 MiB pages can be reserved.
pub(super) fn check_huge_pool(needed: u64) -> Result<(), MemoryError> {
    let text = std::fs::read_to_string(MEMINFO).map_err(|source| MemoryError::Read {
        path: MEMINFO,
        source,
    })?;
    let pool = parse_meminfo(&text)?;
    let default_2m = pool.page_kib == 2048;
    // meminfo counts the default size only; otherwise the 2 MiB pool is in sysfs.
    let pool = if default_2m { pool } else { sysfs_2m_pool() };
    match shortfall(&pool, needed, default_2m) {
        None => Ok(()),
        Some(hint) => Err(MemoryError::HugePool {
            needed,
            available: pool.available(),
            hint,
        }),
    }
}

/// The command that grows the pool enough for `needed` more pages, or
/// `None` if it is big enough already.
fn shortfall(pool: &HugePool, needed: u64, default_2m: bool) -> Option<String> {
    let available = pool.available();
    let missing = needed.checked_sub(available).filter(|&m| m > 0)?;
    let want = pool.total.saturating_add(missing);
    Some(if default_2m {
        format!("sysctl vm.nr_hugepages={want}")
    } else {
        format!("echo {want} > {SYS_2M}/nr_hugepages")
    })
}

fn sysfs_2m_pool() -> HugePool {
    // A missing file reads as 0: the pool then looks empty and the error
    // names the file to write.
    let count = |name: &str| -> u64 {
        std::fs::read_to_string(format!("{SYS_2M}/{name}"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    };
    HugePool {
        total: count("nr_hugepages"),
        free: count("free_hugepages"),
        reserved: count("resv_hugepages"),
        page_kib: 2048,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{Backing, GuestRam};

    const TEXT: &str = "MemTotal: 1 kB\nHugePages_Total:      10\nHugePages_Free:        8\nHugePages_Rsvd:        3\nHugePages_Surp:        0\nHugepagesize:       2048 kB\n";

    #[test]
    fn meminfo_pool() {
        let pool = parse_meminfo(TEXT).ok();
        let want = HugePool {
            total: 10,
            free: 8,
            reserved: 3,
            page_kib: 2048,
        };
        assert_eq!(pool, Some(want));
        assert_eq!(pool.map(|p| p.available()), Some(5));
        assert!(matches!(
            parse_meminfo("HugePages_Total: 1\n"),
            Err(MemoryError::NoPoolInfo {
                field: "HugePages_Free",
                ..
            })
        ));
    }

    #[test]
    fn shortfall_hint() {
        let Ok(pool) = parse_meminfo(TEXT) else {
            panic!("TEXT parses")
        };
        assert_eq!(shortfall(&pool, 5, true), None);
        assert_eq!(
            shortfall(&pool, 64, true).as_deref(),
            Some("sysctl vm.nr_hugepages=69")
        );
        let hint = shortfall(&pool, 6, false);
        assert_eq!(
            hint.as_deref(),
            Some("echo 11 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")
        );
    }

    #[test]
    fn short_pool_is_an_error_not_a_sigbus() {
        // Only meaningful where the live pool is short, as on a default host.
        let text = std::fs::read_to_string(MEMINFO).unwrap_or_default();
        let Ok(pool) = parse_meminfo(&text) else {
            return;
        };
        if pool.page_kib != 2048 || pool.available() >= 64 {
            return;
        }
        let err = GuestRam::new(128 << 20, Backing::Hugetlb)
            .err()
            .map(|e| e.to_string());
        let want = format!(
            "hugetlb backing needs 64 free 2 MiB huge pages but the pool has {}: run `sysctl vm.nr_hugepages={}` (as root)",
            pool.available(),
            pool.total + 64 - pool.available()
        );
        assert_eq!(err, Some(want));
    }
}
