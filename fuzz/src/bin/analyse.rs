//! AFL target: the analysis of one process with fake vCPU and host (see `microvmm_fuzz::analyse`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::analyse(data));
}
