//! Boot modules: the user's static Linux executables, which the VMM put in
//! guest RAM below `free_start` with their argv (abi::layout::Module).
//! Each becomes a process, in table order; then their frames go to the
//! frame allocator. The table comes from outside the kernel: every range
//! is checked before the kernel reads a byte of it.

use abi::layout::{MODULE_ARGS_MAX, Module};
use abi::msg::NAME_MAX;

use crate::bootinfo::Machine;
use crate::exec::stack::{DEFAULT_ENVP, MAX_ARGS, MAX_ENV};
use crate::memlayout::{PAGE, Pa, kernel_end_pa, p2v, page_down, page_up};
use crate::mm::frame;
use crate::{kprintln, proc};

/// A checked range of guest RAM [start, end) between the kernel image and
/// the first free frame.
fn range(m: &Machine, gpa: u64, len: u64) -> Option<(u64, u64)> {
    let end = gpa.checked_add(len)?;
    let low = page_up(kernel_end_pa())?;
    (gpa >= low && end <= m.free_start && len > 0).then_some((gpa, end))
}

/// The bytes of a checked range.
fn bytes(r: (u64, u64)) -> &'static [u8] {
    // SAFETY: range() keeps r inside guest RAM below free_start, which the
    // kernel window maps and the frame allocator never hands out (until
    // give_back, after the last use of these slices).
    unsafe { core::slice::from_raw_parts(p2v::<u8>(Pa(r.0)), (r.1 - r.0) as usize) }
}

/// Split an argument block into at most `argc` NUL-terminated strings.
fn args<'a>(block: &'a [u8], argc: u32, out: &mut [&'a [u8]; MAX_ARGS]) -> usize {
    let mut n = 0;
    for s in block.split(|&c| c == 0) {
        if n == out.len() || n == argc as usize {
            break;
        }
        out[n] = s;
        n += 1;
    }
    n
}

/// The last path component of argv[0] (or an exec'd path), as Linux names
/// a process.
pub fn basename(path: &[u8]) -> &[u8] {
    let b = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    &b[..b.len().min(NAME_MAX)]
}

/// Each module whose ranges check out, as (the basename of its argv[0],
/// its bytes): what the RAM file system's root holds without --files.
pub fn each(m: &Machine, mut f: impl FnMut(&[u8], &'static [u8])) {
    for md in &m.modules[..m.nmodules] {
        let Some(img) = range(m, md.gpa, md.size) else {
            continue;
        };
        let block = match range(m, md.args_gpa, (md.args_len as u64).min(MODULE_ARGS_MAX)) {
            Some(r) if md.args_len != 0 => bytes(r),
            _ => continue,
        };
        let mut argv = [&[][..]; MAX_ARGS];
        if args(block, md.argc, &mut argv) > 0 {
            // The whole last component (basename() cuts it to a process
            // name's length).
            let name = argv[0].rsplit(|&c| c == b'/').next().unwrap_or(argv[0]);
            f(name, bytes(img));
        }
    }
}

/// Build the file system (before the module frames go back), then start
/// a process for every module; return how many started.
pub fn spawn_all(m: &Machine) -> usize {
    crate::fs::build(m);
    let mut started = 0;
    let mut env_all = [&[][..]; MAX_ENV];
    let n_env = m.env(&mut env_all);
    let env = if m.env_len == 0 {
        &DEFAULT_ENVP[..]
    } else {
        &env_all[..n_env]
    };
    for (i, md) in m.modules[..m.nmodules].iter().enumerate() {
        let Some(img) = range(m, md.gpa, md.size) else {
            kprintln!("[kernel] module {i}: refused: its bytes lie outside the module area");
            proc::refused();
            continue;
        };
        let block = if md.args_len == 0 {
            &[][..]
        } else {
            match range(m, md.args_gpa, (md.args_len as u64).min(MODULE_ARGS_MAX)) {
                Some(r) => bytes(r),
                None => {
                    kprintln!(
                        "[kernel] module {i}: refused: its argv lies outside the module area"
                    );
                    proc::refused();
                    continue;
                }
            }
        };
        // The VMM refuses more on the host; a table that claims more is
        // refused here rather than silently cut.
        if md.argc as usize > MAX_ARGS {
            kprintln!(
                "[kernel] module {i}: refused: argc {} > {MAX_ARGS}",
                md.argc
            );
            proc::refused();
            continue;
        }
        let mut argv = [&[][..]; MAX_ARGS];
        let n = args(block, md.argc, &mut argv);
        let name = basename(argv[0]);
        let shown = core::str::from_utf8(name).unwrap_or("?");
        match proc::spawn(bytes(img), name, &argv[..n.max(1)], env, i as u32 + 1) {
            Ok(pid) => {
                kprintln!(
                    "[kernel] pid {pid}: {shown} (module {i}, {} bytes)",
                    md.size
                );
                started += 1;
            }
            Err(why) => {
                kprintln!("[kernel] module {i} ({shown}): refused: {why}");
                proc::refused();
            }
        }
    }
    give_back(m);
    started
}

/// Hand the modules' pages to the frame allocator. A page is given only
/// if no other module range shares it (a frame freed twice would corrupt
/// the free list).
fn give_back(m: &Machine) {
    let mods = &m.modules[..m.nmodules];
    let pages = |md: &Module, which: usize| {
        let (gpa, len) = if which == 0 {
            (md.gpa, md.size)
        } else {
            (md.args_gpa, md.args_len as u64)
        };
        range(m, gpa, len)
            .and_then(|(s, e)| Some((page_down(s), page_up(e)?)))
            .filter(|&(_, e)| e <= page_down(m.free_start))
    };
    let mut n = 0;
    for (i, md) in mods.iter().enumerate() {
        for w in 0..2 {
            let Some((s, e)) = pages(md, w) else { continue };
            let shared = mods.iter().enumerate().any(|(j, o)| {
                (0..2).any(|v| {
                    (j, v) != (i, w) && pages(o, v).is_some_and(|(os, oe)| os < e && s < oe)
                })
            });
            if shared {
                continue;
            }
            let mut pa = s;
            while pa < e {
                frame::give(Pa(pa));
                n += 1;
                pa += PAGE;
            }
        }
    }
    proc::frames_returned(n);
}
