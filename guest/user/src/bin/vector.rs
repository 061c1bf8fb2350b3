//! No state leaks between processes: every round fills every register of
//! the level with values of our own (pid, round, register, lane): zmm0-31
//! and the opmasks k0-7 with AVX-512, ymm0-15 with AVX, else xmm0-15; then
//! sched_yield, getpid, spin until the timer preempts us (or 8 ms), and
//! check every lane. Run two at once (`vector vector`); exit 1 on the first
//! foreign lane.
//!
//! `vector` takes the widest level CPUID and XGETBV allow; `vector:1` forces
//! SSE, `vector:2` AVX, `vector:3` AVX-512 (with AVX512BW for 64-bit
//! opmasks) without asking CPUID: under PVM user code runs with the host's
//! XCR0 whatever CPUID the guest shows. A forced level the CPU lacks dies of
//! #UD.
#![no_std]
#![no_main]

use core::arch::asm;
use core::arch::x86_64::{__cpuid, __cpuid_count};

use ulib::{getpid, println, tsc_khz};

ulib::entry!(main);

const ROUNDS: u64 = 100;

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Sse,
    Avx,
    Avx512,
}

impl Level {
    /// (registers, 64-bit lanes each, opmasks, what)
    fn shape(self) -> (usize, usize, usize, &'static str) {
        match self {
            Level::Avx512 => (32, 8, 8, "zmm0-31, k0-7"),
            Level::Avx => (16, 4, 0, "ymm0-15"),
            Level::Sse => (16, 2, 0, "xmm0-15"),
        }
    }
}

/// The widest level CPUID and XCR0 allow, and what was skipped and why.
fn auto_level() -> (Level, &'static str) {
    let c1 = __cpuid(1);
    if c1.ecx & (1 << 28) == 0 {
        return (Level::Sse, "skipped avx, avx512: CPU lacks AVX (CPUID)");
    }
    if c1.ecx & (1 << 27) == 0 {
        return (Level::Sse, "skipped avx, avx512: CPUID shows OSXSAVE=0");
    }
    let (lo, _hi): (u32, u32);
    // SAFETY: OSXSAVE is set, so xgetbv exists.
    unsafe { asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") _hi, options(nomem, nostack)) };
    if lo & 6 != 6 {
        return (Level::Sse, "skipped avx, avx512: XCR0 lacks AVX state");
    }
    let c7 = __cpuid_count(7, 0);
    if c7.ebx & (1 << 16) == 0 || c7.ebx & (1 << 30) == 0 {
        return (
            Level::Avx,
            "skipped avx512: CPU lacks it (CPUID: no AVX512F+BW)",
        );
    }
    if lo & 0xe0 != 0xe0 {
        return (Level::Avx, "skipped avx512: XCR0 lacks opmask/zmm state");
    }
    (Level::Avx512, "skipped nothing (avx512 covers avx and sse)")
}

/// Registers as stored: zmm0-31 (8 lanes each), then k0-7.
const WORDS: usize = 8 * 32 + 8;

/// One round: load every register of the level from `p`, sched_yield,
/// getpid, spin until a TSC gap over `gap` cycles (then true) or `max`
/// cycles, store them all to `o`. Load, system calls, spin and store are one
/// asm block: nothing else touches the registers in between.
macro_rules! round {
    ($p:ident, $o:ident, $gap:ident, $max:ident, [$($load:literal),*], [$($store:literal),*]
     $(, $clob:tt)*) => {{
        let pre: u64;
        asm!(
            $($load,)*
            "mov eax, 24", "syscall", // sched_yield
            "mov eax, 39", "syscall", // getpid
            "rdtsc", "shl rdx, 32", "or rax, rdx", "mov r8, rax", "mov r9, rax",
            "2:", "rdtsc", "shl rdx, 32", "or rax, rdx",
            "mov r10, rax", "sub r10, r9", "cmp r10, {gap}", "ja 3f",
            "mov r9, rax", "sub rax, r8", "cmp rax, {max}", "jb 2b",
            "xor {pre:e}, {pre:e}", "jmp 4f",
            "3:", "mov {pre:e}, 1",
            "4:",
            $($store,)*
            p = in(reg) $p, o = in(reg) $o, gap = in(reg) $gap, max = in(reg) $max,
            pre = out(reg) pre,
            out("rax") _, out("rcx") _, out("rdx") _, out("r8") _, out("r9") _,
            out("r10") _, out("r11") _,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            $(out($clob) _,)*
        );
        pre != 0
    }};
}

/// SSE: xmm0-15.
///
/// # Safety
/// `p` and `o` point at WORDS u64s.
unsafe fn round_sse(p: *const u64, o: *mut u64, gap: u64, max: u64) -> bool {
    // SAFETY: the caller's pointers; the syscalls clobber rcx and r11.
    unsafe {
        round!(
            p,
            o,
            gap,
            max,
            [
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "movdqu xmm\\i, [{p} + 64*\\i]",
                ".endr"
            ],
            [
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "movdqu [{o} + 64*\\i], xmm\\i",
                ".endr"
            ]
        )
    }
}

/// AVX: ymm0-15.
///
/// # Safety
/// As round_sse, and the CPU runs AVX.
#[target_feature(enable = "avx")]
unsafe fn round_avx(p: *const u64, o: *mut u64, gap: u64, max: u64) -> bool {
    // SAFETY: as round_sse; vzeroupper leaves the upper halves clean.
    unsafe {
        round!(
            p,
            o,
            gap,
            max,
            [
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "vmovdqu ymm\\i, [{p} + 64*\\i]",
                ".endr"
            ],
            [
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "vmovdqu [{o} + 64*\\i], ymm\\i",
                ".endr",
                "vzeroupper"
            ]
        )
    }
}

/// AVX-512: zmm0-31 and k0-7 (kmovq: AVX512BW).
///
/// # Safety
/// As round_sse, and the CPU runs AVX512F and AVX512BW.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn round_avx512(p: *const u64, o: *mut u64, gap: u64, max: u64) -> bool {
    // SAFETY: as round_avx. k0 cannot be named as a clobber; the compiler
    // has nothing live in it here (this function holds only the asm).
    unsafe {
        round!(
            p,
            o,
            gap,
            max,
            [
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
                "vmovdqu64 zmm\\i, [{p} + 64*\\i]",
                ".endr",
                ".irp i,0,1,2,3,4,5,6,7",
                "kmovq k\\i, [{p} + 2048 + 8*\\i]",
                ".endr"
            ],
            [
                ".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
                "vmovdqu64 [{o} + 64*\\i], zmm\\i",
                ".endr",
                ".irp i,0,1,2,3,4,5,6,7",
                "kmovq [{o} + 2048 + 8*\\i], k\\i",
                ".endr",
                "vzeroupper"
            ],
            "zmm16",
            "zmm17",
            "zmm18",
            "zmm19",
            "zmm20",
            "zmm21",
            "zmm22",
            "zmm23",
            "zmm24",
            "zmm25",
            "zmm26",
            "zmm27",
            "zmm28",
            "zmm29",
            "zmm30",
            "zmm31",
            "k1",
            "k2",
            "k3",
            "k4",
            "k5",
            "k6",
            "k7"
        )
    }
}

fn main(arg: u64) -> i64 {
    let pid = getpid() as u64;
    let (level, skipped) = match arg {
        1 => (Level::Sse, "skipped avx, avx512: not asked for (vector:1)"),
        2 => (Level::Avx, "skipped avx512: not asked for (vector:2)"),
        3 => (Level::Avx512, "skipped nothing (avx512 covers avx and sse)"),
        _ => auto_level(),
    };
    println!("vector: {skipped}");
    let (regs, lanes, masks, what) = level.shape();
    let khz = tsc_khz();
    let (gap, max) = (khz / 5, 8 * khz);
    let (mut pat, mut out) = ([0u64; WORDS], [0u64; WORDS]);
    let mut preempted = 0;
    for r in 0..ROUNDS {
        for (i, w) in pat.iter_mut().enumerate() {
            *w = (pid << 48) | 0x5a5a_0000_0000 | (r << 16) | i as u64;
        }
        out.fill(0);
        let (p, o) = (pat.as_ptr(), out.as_mut_ptr());
        // SAFETY: both arrays hold WORDS u64s; a forced level the CPU lacks
        // faults with #UD, which kills only this process.
        preempted += u32::from(unsafe {
            match level {
                Level::Avx512 => round_avx512(p, o, gap, max),
                Level::Avx => round_avx(p, o, gap, max),
                Level::Sse => round_sse(p, o, gap, max),
            }
        });
        let lanes = (0..regs).flat_map(|reg| (0..lanes).map(move |l| (reg, l, 8 * reg + l)));
        let masks = (0..masks).map(|k| (32 + k, 0, 256 + k));
        for (reg, lane, i) in lanes.chain(masks) {
            if out[i] != pat[i] {
                let name = match (level, reg) {
                    (_, 32..) => "k",
                    (Level::Avx512, _) => "zmm",
                    (Level::Avx, _) => "ymm",
                    (Level::Sse, _) => "xmm",
                };
                let n = if reg >= 32 { reg - 32 } else { reg };
                println!(
                    "vector: CORRUPTED in round {r}: {name}{n} lane {lane} holds {:#x}, expected {:#x}",
                    out[i], pat[i]
                );
                return 1;
            }
        }
    }
    println!(
        "vector: {what} kept this process's values across {ROUNDS} rounds ({preempted} interrupted mid-spin)"
    );
    0
}
