//! AFL target: file (see `microvmm_fuzz::file`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::file(data));
}
