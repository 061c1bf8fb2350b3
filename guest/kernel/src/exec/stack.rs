//! The start-up stack of a new process, as Linux lays it out for a static
//! executable (from the top of the stack down): the argv and envp strings
//! and 16 random bytes, then, 16-byte aligned at `argc`:
//!
//! ```text
//! rsp -> argc, argv[0..argc], NULL, envp[..], NULL, auxv pairs, AT_NULL
//! ```
//!
//! glibc faults without AT_RANDOM; musl needs AT_PHDR/AT_PHNUM as a pair
//! and enters secure mode unless the four ids are equal and AT_SECURE 0.

use crate::exec::elf::Elf;
use crate::memlayout::USER_STACK_TOP;
use crate::mm::addrspace::AddrSpace;

/// Most argv strings a process gets (one definition, shared with the VMM).
pub const MAX_ARGS: usize = abi::layout::ARGC_MAX;
/// The environment of a process the VMM gave none (built-in programs,
/// QEMU): harmless, and enough for programs that look PATH up.
pub const DEFAULT_ENVP: [&[u8]; 1] = [b"PATH=/"];
/// Most environment strings a process gets (one definition, in abi).
pub const MAX_ENV: usize = abi::layout::ENVC_MAX;

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;

/// Push `s` and a NUL below `*sp`; its address.
fn push_str(a: &mut AddrSpace, sp: &mut u64, s: &[u8]) -> Option<u64> {
    *sp = sp.checked_sub(s.len() as u64 + 1)?;
    (a.copy_out(*sp, s) && a.copy_out(*sp + s.len() as u64, &[0])).then_some(*sp)
}

/// Build the stack for `e` with `argv` and `env`; the initial rsp (at argc).
pub fn build(a: &mut AddrSpace, e: &Elf, argv: &[&[u8]], env: &[&[u8]]) -> Option<u64> {
    let argv = &argv[..argv.len().min(MAX_ARGS)];
    let env = &env[..env.len().min(MAX_ENV)];
    let mut sp = USER_STACK_TOP;
    let mut rnd = [0u8; 16];
    crate::random::fill(&mut rnd);
    sp -= 16;
    let random = sp;
    if !a.copy_out(random, &rnd) {
        return None;
    }
    let mut envp_all = [0u64; MAX_ENV];
    for (p, s) in envp_all.iter_mut().zip(env) {
        *p = push_str(a, &mut sp, s)?;
    }
    let envp = &envp_all[..env.len()];
    let mut argp = [0u64; MAX_ARGS];
    for (p, s) in argp.iter_mut().zip(argv) {
        *p = push_str(a, &mut sp, s)?;
    }
    let aux: [(u64, u64); 13] = [
        (AT_PHDR, e.phdr),
        (AT_PHENT, e.phent),
        (AT_PHNUM, e.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, 0),
        (AT_ENTRY, e.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_NULL, 0),
    ];
    // The vector below the strings; 8-byte words, rsp 16-byte aligned.
    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * aux.len();
    sp = (sp.checked_sub(8 * words as u64)?) & !15;
    let mut at = sp;
    let mut put = |a: &mut AddrSpace, v: u64| {
        let ok = a.copy_out(at, &v.to_le_bytes());
        at += 8;
        ok
    };
    let mut ok = put(a, argv.len() as u64);
    for &p in &argp[..argv.len()] {
        ok &= put(a, p);
    }
    ok &= put(a, 0);
    for &p in envp {
        ok &= put(a, p);
    }
    ok &= put(a, 0);
    for &(k, v) in &aux {
        ok &= put(a, k) && put(a, v);
    }
    ok.then_some(sp)
}
