//! The stats reader over synthetic stats files, and the fallback when the
//! kernel refuses KVM_GET_STATS_FD.

use std::io::Write;
use std::os::fd::OwnedFd;

use super::*;

/// A stats source that refuses, as a kernel before 5.14 does (ENOTTY).
struct Refuses;

impl StatsSource for Refuses {
    fn stats_fd(&self) -> Result<OwnedFd, StatsError> {
        Err(StatsError::Os {
            what: "KVM_GET_STATS_FD",
            why: std::io::Error::from_raw_os_error(libc::ENOTTY).to_string(),
        })
    }
}

/// A stats file's bytes: `stats` as (flags, name, value); a histogram has
/// type 3 and two values.
fn file_bytes(stats: &[(u32, &str, u64)]) -> Vec<u8> {
    let name_size = 48usize;
    let desc_offset = 24 + 64; // after the header and the id string
    let each = 16 + name_size;
    let data_offset = desc_offset + each * stats.len();
    let mut b = Vec::new();
    for v in [
        0u32,
        name_size as u32,
        stats.len() as u32,
        24,
        desc_offset as u32,
        data_offset as u32,
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.resize(desc_offset, 0);
    let mut off = 0u32;
    let mut data = Vec::new();
    for &(flags, name, value) in stats {
        let size: u16 = if flags & 0xf == 3 { 2 } else { 1 };
        b.extend_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&0i16.to_le_bytes());
        b.extend_from_slice(&size.to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        let mut n = name.as_bytes().to_vec();
        n.resize(name_size, 0);
        b.extend_from_slice(&n);
        for _ in 0..size {
            data.extend_from_slice(&value.to_le_bytes());
        }
        off += 8 * size as u32;
    }
    b.extend_from_slice(&data);
    b
}

/// A source that serves `bytes` as its stats file (a memfd).
struct Serves(Vec<u8>);

impl StatsSource for Serves {
    fn stats_fd(&self) -> Result<OwnedFd, StatsError> {
        // SAFETY: memfd_create takes a NUL-terminated name and flags and
        // returns a new fd or -1.
        let r = unsafe { libc::memfd_create(c"stats".as_ptr(), 0) };
        assert!(r >= 0, "memfd_create");
        // SAFETY: `r` is a new fd nothing else owns.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(r) };
        let mut f = std::fs::File::from(fd);
        f.write_all(&self.0).expect("write memfd");
        Ok(f.into())
    }
}

#[test]
fn a_kernel_without_stats_fds_says_unavailable() {
    let c = Counters::open(&Refuses, &Refuses);
    let KvmCounts::Unavailable(why) = c.finish() else {
        panic!("counters from a source that refuses")
    };
    assert!(why.starts_with("KVM_GET_STATS_FD: "), "{why}");
    // The vCPU's refusal alone is enough.
    let vm = Serves(file_bytes(&[(0, "remote_tlb_flush", 1)]));
    let c = Counters::open(&vm, &Refuses);
    assert!(matches!(c.finish(), KvmCounts::Unavailable(_)));
}

#[test]
fn a_stats_file_is_parsed_and_read() {
    let vm = Serves(file_bytes(&[
        (0, "remote_tlb_flush", 7),
        (1, "pages_4k", 300),
        (3, "a_histogram", 9),
    ]));
    let vcpu = Serves(file_bytes(&[(0, "exits", 40), (0, "pf_fixed", 5)]));
    let c = Counters::open(&vm, &vcpu);
    let KvmCounts::Measured(m) = c.finish() else {
        panic!("unavailable")
    };
    assert_eq!(m.total.vcpu.get("exits"), Some(&0));
    assert_eq!(m.total.vm.get("remote_tlb_flush"), Some(&0));
    assert!(
        !m.total.vm.contains_key("pages_4k"),
        "a level is not a counter"
    );
    assert!(!m.total.vm.contains_key("a_histogram"));
    assert_eq!(m.levels.get("pages_4k"), Some(&300));
    assert_eq!(m.intervals, 0);
}

#[test]
fn malformed_headers_are_refused() {
    assert!(file::header(&[0; 10]).is_err());
    let mut h = file_bytes(&[(0, "exits", 1)]);
    h[4..8].copy_from_slice(&0u32.to_le_bytes()); // name_size 0
    assert!(file::header(&h).is_err());
    let mut h = file_bytes(&[(0, "exits", 1)]);
    h[8..12].copy_from_slice(&100_000u32.to_le_bytes()); // num_desc
    assert!(file::header(&h).is_err());
    // A descriptor whose data lies past any sane block.
    let mut b = file_bytes(&[(0, "exits", 1)]);
    let desc = 24 + 64;
    b[desc + 8..desc + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let (ns, nd, off, data) = file::header(&b).expect("header");
    assert!(file::descriptors(&b[off..], ns, nd, data).is_err());
    // A truncated file is an error, not a panic.
    let c = Counters::open(&Serves(b[..desc + 4].to_vec()), &Refuses);
    assert!(matches!(c.finish(), KvmCounts::Unavailable(_)));
}
