//! A region of a process's address space as the guest reports it: what
//! it holds (`RegionKind`), its protection (`Prot`), and its span and
//! counts (`Region`). Part of the decoded events (event.rs re-exports it).

use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::addr::Gva;

/// What a region of a process's address space holds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RegionKind {
    /// The program's text.
    Code,
    /// Read-only data of the program image.
    Rodata,
    /// Initialized data of the program image (read-only once RELRO is applied).
    Data,
    /// The page the last initialized data shares with the first
    /// zero-filled data (loaded from the file, so never a fault).
    #[serde(rename = "data+bss")]
    DataBss,
    /// Zero-filled data past the file's bytes, on pages of its own
    /// (demand paged).
    Bss,
    /// Grown by brk(2), filled by demand paging.
    Heap,
    /// Anonymous memory from mmap(2).
    Mmap,
    /// The user stack, filled by demand paging.
    Stack,
    /// The unmapped page below the stack: touching it is an overflow.
    Guard,
    /// A file mapped with mmap: its pages are the file's own frames in the
    /// guest's RAM file system (MAP_SHARED), or copies of them once
    /// written (MAP_PRIVATE).
    File,
}

impl RegionKind {
    /// Every kind, in the order legends list them.
    pub const ALL: [RegionKind; 10] = [
        RegionKind::Code,
        RegionKind::Rodata,
        RegionKind::Data,
        RegionKind::DataBss,
        RegionKind::Bss,
        RegionKind::Heap,
        RegionKind::Mmap,
        RegionKind::Stack,
        RegionKind::Guard,
        RegionKind::File,
    ];

    /// The name reports use ("code", "heap", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RegionKind::Code => "code",
            RegionKind::Rodata => "rodata",
            RegionKind::Data => "data",
            RegionKind::DataBss => "data+bss",
            RegionKind::Bss => "bss",
            RegionKind::Heap => "heap",
            RegionKind::Mmap => "mmap",
            RegionKind::Stack => "stack",
            RegionKind::Guard => "guard",
            RegionKind::File => "file",
        }
    }
}

impl std::str::FromStr for RegionKind {
    type Err = String;

    /// A kind from its report name ("code", "heap", ...).
    fn from_str(s: &str) -> Result<Self, String> {
        RegionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a region kind"))
    }
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: reports align region names in columns.
        f.pad(self.as_str())
    }
}

/// A region's protection: read, write, execute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl fmt::Display for Prot {
    /// `rwx` text: "r-x", "rw-", "---".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = |on, ch| if on { ch } else { '-' };
        let s: String = [c(self.read, 'r'), c(self.write, 'w'), c(self.exec, 'x')]
            .iter()
            .collect();
        f.pad(&s)
    }
}

impl std::str::FromStr for Prot {
    type Err = String;

    /// Protection from its `rwx` text ("r-x").
    fn from_str(s: &str) -> Result<Self, String> {
        match s.as_bytes() {
            [r @ (b'r' | b'-'), w @ (b'w' | b'-'), x @ (b'x' | b'-')] => Ok(Prot {
                read: *r == b'r',
                write: *w == b'w',
                exec: *x == b'x',
            }),
            _ => Err(format!("'{s}' is not rwx text")),
        }
    }
}

impl schemars::JsonSchema for Prot {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Prot".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[r-][w-][x-]$"
        })
    }
}

impl Serialize for Prot {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One region of a process's address space: [span.start, span.end), page
/// aligned and non-empty (the decoder checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// What it holds.
    pub kind: RegionKind,
    /// Its addresses, end exclusive.
    pub span: Range<Gva>,
    /// What the process may do with it.
    pub prot: Prot,
    /// Demand-paging faults the kernel served in it.
    pub faults: u64,
    /// Copy-on-write faults the kernel served in it: writes to a page it
    /// shared with another process after fork.
    pub cow_faults: u32,
    /// A file mapping's file: its path when it was mapped, as the kernel
    /// named it (lossy UTF-8: hostile bytes become U+FFFD). None for
    /// other kinds, and for file mappings past the few the kernel names.
    pub file: Option<String>,
}

impl Region {
    /// Whether `gva` lies inside the region.
    pub fn contains(&self, gva: Gva) -> bool {
        self.span.start <= gva && gva < self.span.end
    }
}
