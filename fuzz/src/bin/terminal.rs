//! AFL target: guest text on its way to the terminal (see `microvmm_fuzz::terminal`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::terminal(data));
}
