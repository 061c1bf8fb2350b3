//! AFL target: a guest kernel ELF, validated and loaded (see `microvmm_fuzz::elf`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::elf(data));
}
