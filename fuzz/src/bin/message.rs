//! AFL target: a guest message at any GPA (see `microvmm_fuzz::message`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::message(data));
}
