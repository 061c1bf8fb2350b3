//! One KVM binary statistics file (KVM_GET_STATS_FD, Linux 5.14+): its
//! header and descriptors are read once and parsed by a pure function;
//! after that each sample is one `pread` of the data block.
//!
//! The file is three blocks (Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD"):
//! ```text
//! 0            kvm_stats_header { flags, name_size, num_desc, id_offset, desc_offset, data_offset }
//! desc_offset  num_desc x { flags u32, exponent i16, size u16, offset u32, bucket_size u32, name[name_size] }
//! data_offset  the values: desc.size u64s at data_offset + desc.offset
//! ```

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

/// Bytes of `struct kvm_stats_header`.
const HEADER: usize = 24;
/// Bytes of a descriptor before its name.
const DESC_FIXED: usize = 16;
/// Bounds on what a stats file may describe (x86 has 16 VM and 47 vCPU
/// stats on Linux 6.x); a file past them is refused, not trusted.
const MAX_DESC: usize = 1024;
const MAX_NAME: usize = 256;
const MAX_DATA: usize = 1 << 20;

/// KVM_STATS_TYPE_* (flags bits 0..3).
const TYPE_MASK: u32 = 0xf;
const TYPE_CUMULATIVE: u32 = 0;
const TYPE_INSTANT: u32 = 1;
const TYPE_PEAK: u32 = 2;

/// What a statistic counts, as KVM's descriptor says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A counter that only grows: its deltas can be charged to whoever ran.
    Counter,
    /// A value now (pages_4k) or the highest seen (max_mmu_page_hash_collisions).
    Level,
}

/// One scalar statistic: its KVM name, kind, and byte offset in the data block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// KVM's own name, e.g. "pf_fixed".
    pub name: String,
    /// Counter or level.
    pub kind: Kind,
    /// Byte offset of its u64 in the data block.
    pub offset: usize,
}

/// What the header and descriptors say: where the data block is and which
/// scalar statistics it holds (histograms are left out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// File offset of the data block.
    pub data_offset: u64,
    /// Bytes of the data block to read.
    pub data_len: usize,
    /// The scalar statistics, in the file's order.
    pub stats: Vec<Stat>,
}

/// Why a stats file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatsError {
    /// The ioctl or a read failed.
    #[error("{what}: {why}")]
    Os {
        /// What was tried.
        what: &'static str,
        /// What the kernel said.
        why: String,
    },
    /// The file does not look like a stats file.
    #[error("malformed stats file: {0}")]
    Malformed(&'static str),
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

/// The header's fields: (name_size, num_desc, desc_offset, data_offset).
pub fn header(b: &[u8]) -> Result<(usize, usize, usize, u64), StatsError> {
    let bad = StatsError::Malformed("short header");
    if b.len() < HEADER {
        return Err(bad);
    }
    let field = |i: usize| u32_at(b, i * 4).ok_or(StatsError::Malformed("short header"));
    let name_size = field(1)? as usize;
    let num_desc = field(2)? as usize;
    let desc_offset = field(4)? as usize;
    let data_offset = field(5)? as u64;
    if name_size == 0 || name_size > MAX_NAME {
        return Err(StatsError::Malformed("name size out of range"));
    }
    if num_desc > MAX_DESC {
        return Err(StatsError::Malformed("too many descriptors"));
    }
    Ok((name_size, num_desc, desc_offset, data_offset))
}

/// Parse `num_desc` descriptors of `name_size`-byte names from `b` (the
/// descriptor block) into the scalar statistics and the data block's extent.
pub fn descriptors(
    b: &[u8],
    name_size: usize,
    num_desc: usize,
    data_offset: u64,
) -> Result<Layout, StatsError> {
    let each = DESC_FIXED + name_size;
    let mut stats = Vec::new();
    let mut data_len = 0usize;
    for i in 0..num_desc {
        let at = i * each;
        let d = b
            .get(at..at + each)
            .ok_or(StatsError::Malformed("descriptor block cut short"))?;
        let flags = u32_at(d, 0).ok_or(StatsError::Malformed("descriptor"))?;
        let size = u16_at(d, 6).ok_or(StatsError::Malformed("descriptor"))? as usize;
        let offset = u32_at(d, 8).ok_or(StatsError::Malformed("descriptor"))? as usize;
        let end = offset
            .checked_add(size.checked_mul(8).ok_or(StatsError::Malformed("size"))?)
            .ok_or(StatsError::Malformed("offset"))?;
        if end > MAX_DATA {
            return Err(StatsError::Malformed("data block too large"));
        }
        data_len = data_len.max(end);
        let raw = &d[DESC_FIXED..];
        let len = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        let name = String::from_utf8_lossy(&raw[..len]).into_owned();
        let kind = match flags & TYPE_MASK {
            TYPE_CUMULATIVE => Kind::Counter,
            TYPE_INSTANT | TYPE_PEAK => Kind::Level,
            _ => continue, // histograms: not one number
        };
        if size != 1 || name.is_empty() {
            continue;
        }
        stats.push(Stat { name, kind, offset });
    }
    Ok(Layout {
        data_offset,
        data_len,
        stats,
    })
}

/// An open stats file: its layout, and a buffer for the data block.
#[derive(Debug)]
pub struct StatsFile {
    file: File,
    layout: Layout,
    buf: Vec<u8>,
}

fn os(what: &'static str) -> impl FnOnce(std::io::Error) -> StatsError {
    move |e| StatsError::Os {
        what,
        why: e.to_string(),
    }
}

impl StatsFile {
    /// Read the header and descriptors of the stats file `fd`, once.
    pub fn open(fd: OwnedFd) -> Result<StatsFile, StatsError> {
        let file = File::from(fd);
        let mut h = [0u8; HEADER];
        file.read_exact_at(&mut h, 0)
            .map_err(os("reading the stats header"))?;
        let (name_size, num_desc, desc_offset, data_offset) = header(&h)?;
        let mut descs = vec![0u8; num_desc * (DESC_FIXED + name_size)];
        file.read_exact_at(&mut descs, desc_offset as u64)
            .map_err(os("reading the stats descriptors"))?;
        let layout = descriptors(&descs, name_size, num_desc, data_offset)?;
        let buf = vec![0u8; layout.data_len];
        let mut f = StatsFile { file, layout, buf };
        // One read now, so a file whose data cannot be read is refused here.
        f.refresh()?;
        Ok(f)
    }

    /// The scalar statistics, in the order `values` gives them.
    pub fn stats(&self) -> &[Stat] {
        &self.layout.stats
    }

    fn refresh(&mut self) -> Result<(), StatsError> {
        self.file
            .read_exact_at(&mut self.buf, self.layout.data_offset)
            .map_err(os("reading the stats values"))
    }

    /// Read every value now (one pread) into `out`, one per `stats()`.
    pub fn read(&mut self, out: &mut Vec<u64>) -> Result<(), StatsError> {
        self.refresh()?;
        out.clear();
        for s in &self.layout.stats {
            let v = self
                .buf
                .get(s.offset..s.offset + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes);
            out.push(v);
        }
        Ok(())
    }
}
