//! Synthetic ELF64 images for the loader's tests: a valid kernel by default,
//! with every header field open to spoil one at a time.

/// One program header, field for field: the parser's own type, so what
/// the tests write is what the loader reads.
pub(super) use super::elf::Phdr;

impl Phdr {
    /// A PT_LOAD of `filesz` file bytes at `offset`, `memsz` in memory.
    pub fn load(offset: u64, paddr: u64, vaddr: u64, filesz: u64, memsz: u64) -> Self {
        Phdr {
            p_type: 1,
            offset,
            vaddr,
            paddr,
            filesz,
            memsz,
            align: 0x1000,
        }
    }

    /// A PT_NOTE over `size` file bytes at `offset`.
    pub fn note(offset: u64, size: u64) -> Self {
        Phdr {
            p_type: 4,
            offset,
            vaddr: 0,
            paddr: 0,
            filesz: size,
            memsz: size,
            align: 4,
        }
    }
}

/// An ELF64 file under construction.
pub struct Image {
    pub class: u8,
    pub data: u8,
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phentsize: u16,
    /// e_phnum; None means phdrs.len().
    pub phnum: Option<u16>,
    pub phdrs: Vec<Phdr>,
    pub len: usize,
    /// Bytes written over the file at the given offset.
    pub contents: Vec<(usize, Vec<u8>)>,
}

impl Image {
    /// A valid kernel: 4 KiB of code at file offset 0x1000 loaded at GPA
    /// 0x100000 (identity mapped) with 4 KiB of bss after it.
    pub fn new() -> Self {
        Image {
            class: 2,
            data: 1,
            e_type: 2,
            machine: 62,
            entry: 0x10_0010,
            phoff: 64,
            phentsize: 56,
            phnum: None,
            phdrs: vec![Phdr::load(0x1000, 0x10_0000, 0x10_0000, 0x1000, 0x2000)],
            len: 0x2000,
            contents: vec![(0x1000, Self::code())],
        }
    }

    /// The bytes of the default segment: no two neighbours equal, so a copy
    /// from the wrong offset shows.
    fn code() -> Vec<u8> {
        (0..0x1000u32).map(|i| (i % 251) as u8 ^ 0x5a).collect()
    }

    /// What the default segment should look like in guest memory.
    pub fn segment_bytes(&self) -> Vec<u8> {
        Self::code()
    }

    /// The file, with every header written where it fits.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len];
        let mut put = |at: usize, bytes: &[u8]| {
            let end = at.saturating_add(bytes.len());
            if let Some(dst) = out.get_mut(at..end) {
                dst.copy_from_slice(bytes);
            }
        };
        for (i, ph) in self.phdrs.iter().enumerate() {
            // Headers placed past the end of the file are left out.
            let at = usize::try_from(self.phoff)
                .unwrap_or(usize::MAX)
                .saturating_add(i * 56);
            let fields = [
                (0, &ph.p_type.to_le_bytes()[..]),
                (4, &5u32.to_le_bytes()[..]), // PF_R | PF_X
                (8, &ph.offset.to_le_bytes()[..]),
                (16, &ph.vaddr.to_le_bytes()[..]),
                (24, &ph.paddr.to_le_bytes()[..]),
                (32, &ph.filesz.to_le_bytes()[..]),
                (40, &ph.memsz.to_le_bytes()[..]),
                (48, &ph.align.to_le_bytes()[..]),
            ];
            for (field, bytes) in fields {
                put(at.saturating_add(field), bytes);
            }
        }
        // The ELF header last: it wins over a table placed on top of it.
        put(0, b"\x7fELF");
        put(4, &[self.class, self.data, 1]);
        put(16, &self.e_type.to_le_bytes());
        put(18, &self.machine.to_le_bytes());
        put(20, &1u32.to_le_bytes());
        put(24, &self.entry.to_le_bytes());
        put(32, &self.phoff.to_le_bytes());
        put(52, &64u16.to_le_bytes());
        put(54, &self.phentsize.to_le_bytes());
        let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
        put(56, &phnum.to_le_bytes());
        for (at, bytes) in &self.contents {
            put(*at, bytes);
        }
        out
    }
}

/// One ELF note record, padded to 4 bytes as the x86-64 ABI lays them out.
pub fn note(name: &[u8], n_type: u32, desc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&n_type.to_le_bytes());
    for field in [name, desc] {
        out.extend_from_slice(field);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}
