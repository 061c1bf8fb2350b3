//! The user programs built into this kernel (see build.rs).

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The ELF image of program `name`.
pub fn find(name: &str) -> Option<&'static [u8]> {
    PROGRAMS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}
