//! No state leaks between processes: fill every vector register (zmm0-31
//! with AVX-512, ymm0-15 with AVX, else xmm0-15) with values derived from
//! our pid, yield to the other processes, and check they are still ours.
//! Run two at once (`vector vector`); exit 1 on the first corrupted lane.
#![no_std]
#![no_main]

use core::arch::asm;
use core::arch::x86_64::{__cpuid, __cpuid_count};

use ulib::{getpid, println};

ulib::entry!(main);

const ROUNDS: u64 = 200;

/// 0: SSE only, 1: AVX, 2: AVX-512F, as the CPU and XCR0 allow.
fn level() -> u32 {
    let c1 = __cpuid(1);
    if c1.ecx & (1 << 27) == 0 || c1.ecx & (1 << 28) == 0 {
        return 0; // no OSXSAVE or no AVX
    }
    let (lo, _hi): (u32, u32);
    // SAFETY: OSXSAVE is set, so xgetbv exists.
    unsafe { asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") _hi, options(nomem, nostack)) };
    if lo & 6 != 6 {
        return 0;
    }
    let c7 = __cpuid_count(7, 0);
    if c7.ebx & (1 << 16) != 0 && lo & 0xe0 == 0xe0 {
        2
    } else {
        1
    }
}

/// Load `pat` into every register of the level, sched_yield, store them
/// all to `out` (64 bytes a register).
fn round(level: u32, pat: &[u64; 8], out: &mut [u64; 8 * 32]) {
    let (p, o) = (pat.as_ptr(), out.as_mut_ptr());
    // SAFETY: p points at 64 bytes, o at 32 * 64; the syscall is
    // sched_yield (rax 24), clobbering rcx and r11. The vector registers
    // touched are declared clobbered (the compiler uses at most xmm0-15;
    // zmm16-31 and upper halves are never live across the asm).
    unsafe {
        match level {
            2 => asm!(
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
                "vmovdqu64 zmm\\i, [{p}]",
                ".endr",
                "mov eax, 24",
                "syscall",
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
                "vmovdqu64 [{o} + 64*\\i], zmm\\i",
                ".endr",
                "vzeroupper",
                p = in(reg) p, o = in(reg) o,
                out("rax") _, out("rcx") _, out("r11") _,
                out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
                out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
                out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            ),
            1 => asm!(
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "vmovdqu ymm\\i, [{p}]",
                ".endr",
                "mov eax, 24",
                "syscall",
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "vmovdqu [{o} + 64*\\i], ymm\\i",
                ".endr",
                "vzeroupper",
                p = in(reg) p, o = in(reg) o,
                out("rax") _, out("rcx") _, out("r11") _,
                out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
                out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
                out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            ),
            _ => asm!(
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "movdqu xmm\\i, [{p}]",
                ".endr",
                "mov eax, 24",
                "syscall",
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "movdqu [{o} + 64*\\i], xmm\\i",
                ".endr",
                p = in(reg) p, o = in(reg) o,
                out("rax") _, out("rcx") _, out("r11") _,
                out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
                out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
                out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
                out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            ),
        }
    }
}

fn main(_arg: u64) -> i64 {
    let pid = getpid() as u64;
    let level = level();
    let (regs, lanes, what) = match level {
        2 => (32, 8, "zmm0-31"),
        1 => (16, 4, "ymm0-15"),
        _ => (16, 2, "xmm0-15"),
    };
    let mut out = [0u64; 8 * 32];
    for r in 0..ROUNDS {
        let mut pat = [0u64; 8];
        for (lane, w) in pat.iter_mut().enumerate() {
            *w = (pid << 48) | (r << 8) | lane as u64 | 0x5a5a_0000_0000;
        }
        round(level, &pat, &mut out);
        for reg in 0..regs {
            for lane in 0..lanes {
                let got = out[8 * reg + lane];
                if got != pat[lane] {
                    println!(
                        "vector: CORRUPTED after yield {r}: register {reg} lane {lane} holds {got:#x}, expected {:#x}",
                        pat[lane]
                    );
                    return 1;
                }
            }
        }
    }
    println!("vector: {what} kept this process's values across {ROUNDS} yields");
    0
}
