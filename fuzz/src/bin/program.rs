//! AFL target: a `--run` program, checked, staged and placed (see `microvmm_fuzz::program`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::program(data));
}
