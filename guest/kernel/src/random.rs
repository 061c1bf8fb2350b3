//! Random bytes for AT_RANDOM and getrandom(2): the CPU's generator
//! (rdseed, else rdrand) where CPUID offers one, else the TSC mixed
//! through splitmix64 (weak, but never the same twice in a run).

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::arch::cpu;

static COUNTER: AtomicU64 = AtomicU64::new(0);
/// 0 not probed yet, 1 rdseed, 2 rdrand, 3 neither (CPUID asked once:
/// it may exit to the host).
static SOURCE: AtomicU8 = AtomicU8::new(0);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn source() -> u8 {
    let s = SOURCE.load(Ordering::Relaxed);
    if s != 0 {
        return s;
    }
    let s = if cpu::cpuid(0, 0).eax >= 7 && cpu::cpuid(7, 0).ebx & (1 << 18) != 0 {
        1
    } else if cpu::cpuid(1, 0).ecx & (1 << 30) != 0 {
        2
    } else {
        3
    };
    SOURCE.store(s, Ordering::Relaxed);
    s
}

/// One random word.
fn word() -> u64 {
    // Both may report "no value yet" (CF = 0): retry a few times.
    let src = source();
    for _ in 0..16 {
        let (v, ok): (u64, u8);
        if src == 1 {
            // SAFETY: CPUID says rdseed exists; it only writes registers.
            unsafe {
                core::arch::asm!("rdseed {}", "setc {}", out(reg) v, out(reg_byte) ok, options(nomem, nostack))
            };
        } else if src == 2 {
            // SAFETY: CPUID says rdrand exists; it only writes registers.
            unsafe {
                core::arch::asm!("rdrand {}", "setc {}", out(reg) v, out(reg_byte) ok, options(nomem, nostack))
            };
        } else {
            break;
        }
        if ok == 1 {
            return v;
        }
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix(cpu::rdtsc() ^ splitmix(n))
}

/// Fill `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    for c in buf.chunks_mut(8) {
        let w = word().to_le_bytes();
        c.copy_from_slice(&w[..c.len()]);
    }
}
