//! AFL target: a `--files` tree image, decoded as the guest kernel does (see `microvmm_fuzz::tree`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::tree(data));
}
