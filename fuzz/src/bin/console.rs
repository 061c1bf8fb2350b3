//! AFL target: console (see `microvmm_fuzz::console`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::console(data));
}
