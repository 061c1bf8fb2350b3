//! AFL target: page tables in any memory from any CR3 (see `microvmm_fuzz::paging`).
fn main() {
    afl::fuzz!(|data: &[u8]| microvmm_fuzz::paging(data));
}
