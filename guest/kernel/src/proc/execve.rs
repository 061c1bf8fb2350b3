//! execve(2): replace the calling process's image with a static ELF from
//! the RAM file system, as Linux does: same pid, parent and descriptors
//! (less the close-on-exec ones), a new address space with the new
//! program's code, data, heap and stack, argv and envp copied over, and
//! `#!` scripts run by their interpreter (one level). The old image is
//! reported to the VMM, from its own context, as ended by exec; the new
//! one as created, so the report lists every image a pid ran.

use abi::layout::{ARGC_MAX, ENVC_MAX};
use abi::msg::{NAME_MAX, PROC_CREATED, PROC_EXITING};
use abi::syscall::{E2BIG, EACCES, EFAULT, ENAMETOOLONG, ENOENT, ENOEXEC, ENOMEM};

use super::report::report;
use super::{Exit, Proc, table};
use crate::arch::fsbase::{self, Seg};
use crate::arch::{self};
use crate::entry::{self, TrapFrame, USER_CS, USER_SS};
use crate::exec::{self, Source, elf, stack};
use crate::fpu::FpuArea;
use crate::fs;
use crate::kprintln;
use crate::mm::addrspace::AddrSpace;
use crate::sync::KCell;

/// Longest path execve takes (Linux's PATH_MAX, with the NUL).
const PATH_MAX: usize = 4096;
/// Bytes of argv and envp strings together (Linux allows far more; the
/// start-up stack builder takes at most ARGC_MAX and ENVC_MAX strings).
const STRINGS_MAX: usize = 64 << 10;
/// The head of a file read to recognise it (ELF headers, `#!` line).
const HEAD: usize = 4096;
/// Longest `#!` line looked at (Linux: 256).
const SHEBANG_MAX: usize = 256;

/// Where exec keeps what it copied from the caller while the old address
/// space goes away: strings and the head of the file.
struct Scratch {
    strings: [u8; STRINGS_MAX],
    used: usize,
    path: [u8; PATH_MAX],
    head: [u8; HEAD],
}

/// execve's copy of the new arguments. Protected by the big kernel lock;
/// used by one execve from its start until the old image is gone.
static SCRATCH: KCell<Scratch> = KCell::new(Scratch {
    strings: [0; STRINGS_MAX],
    used: 0,
    path: [0; PATH_MAX],
    head: [0; HEAD],
});

/// A file of the RAM file system as an image source.
struct File(u32);

impl Source for File {
    fn read(&self, off: u64, dst: &mut [u8]) -> bool {
        fs::read_at(self.0, off, dst) == dst.len()
    }
}

/// Copy the NUL-terminated user string at `va` into `out`: its length.
fn copy_str(a: &mut AddrSpace, va: u64, out: &mut [u8]) -> Result<usize, i64> {
    let mut n = 0;
    while n < out.len() {
        let at = va.checked_add(n as u64).ok_or(EFAULT)?;
        // Up to the end of the page: copy_in never crosses into a page
        // that may not be there before the NUL says it must.
        let room = (4096 - (at & 4095)) as usize;
        let k = room.min(out.len() - n);
        if !a.copy_in(&mut out[n..n + k], at) {
            return Err(EFAULT);
        }
        if let Some(z) = out[n..n + k].iter().position(|&c| c == 0) {
            return Ok(n + z);
        }
        n += k;
    }
    Err(ENAMETOOLONG)
}

/// Copy a user array of string pointers (argv or envp; 0: none) into the
/// scratch strings: the (start, len) of each, at most `max`.
fn copy_vec(
    a: &mut AddrSpace,
    s: &mut Scratch,
    va: u64,
    max: usize,
    out: &mut [(usize, usize)],
) -> Result<usize, i64> {
    if va == 0 {
        return Ok(0);
    }
    let mut n = 0;
    loop {
        let mut b = [0u8; 8];
        let at = va.checked_add(8 * n as u64).ok_or(EFAULT)?;
        if !a.copy_in(&mut b, at) {
            return Err(EFAULT);
        }
        let p = u64::from_le_bytes(b);
        if p == 0 {
            return Ok(n);
        }
        if n == max {
            return Err(E2BIG);
        }
        let start = s.used;
        let len = copy_str(a, p, &mut s.strings[start..])
            .map_err(|e| if e == ENAMETOOLONG { E2BIG } else { e })?;
        s.used = start + len + 1;
        out[n] = (start, len);
        n += 1;
    }
}

/// What the file's head says it is.
enum Kind {
    Elf,
    /// `#!interp [arg]`: (interp, arg) ranges in the head.
    Script((usize, usize), Option<(usize, usize)>),
}

fn kind(head: &[u8]) -> Result<Kind, &'static str> {
    if head.starts_with(b"\x7fELF") {
        return Ok(Kind::Elf);
    }
    if !head.starts_with(b"#!") {
        return Err("not an ELF file or a #! script");
    }
    let line = &head[2..head.len().min(SHEBANG_MAX)];
    let end = line
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("the #! line is too long")?;
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let mut words = line[..end]
        .split(|c| blank(c))
        .filter(|w| !w.is_empty())
        .map(|w| (w.as_ptr() as usize - head.as_ptr() as usize, w.len()));
    let interp = words.next().ok_or("the #! line names no interpreter")?;
    // Linux passes the rest of the line as one argument.
    let arg = words.next().map(|(s, _)| {
        let stop = 2 + end;
        let mut e = stop;
        while e > s && blank(&head[e - 1]) {
            e -= 1;
        }
        (s, e - s)
    });
    Ok(Kind::Script(interp, arg))
}

/// Whether node `ino` is a regular file someone may execute.
fn executable(ino: u32) -> Result<(), i64> {
    let st = fs::stat(ino);
    let mode = st[3] as u32;
    const S_IFMT: u32 = 0o170_000;
    const S_IFREG: u32 = 0o100_000;
    if mode & S_IFMT != S_IFREG || mode & 0o111 == 0 {
        return Err(EACCES);
    }
    Ok(())
}

/// execve(path, argv, envp): on success the caller's frame is the new
/// program's first instruction (Ok); Err(-errno) leaves it as it was.
/// In a process of several threads, the others end at the point of no
/// return and the caller goes on with the process's pid, as in Linux.
pub fn execve(f: &mut TrapFrame, path_va: u64, argv_va: u64, envp_va: u64) -> Result<(), i64> {
    // The other threads must be off every other CPU first (cpus.rs).
    super::cpus::gather();
    let t = table();
    let cur = t.cur();
    // SAFETY: one CPU in the kernel at a time (the big kernel lock), never re-entered; nothing else uses SCRATCH.
    let s = unsafe { SCRATCH.get() };
    s.used = 0;
    let p = &mut t.procs[cur];
    let a = p.aspace.as_mut().ok_or(EFAULT)?;
    let plen = copy_str(a, path_va, &mut s.path)?;
    if plen == 0 {
        return Err(ENOENT);
    }
    let mut args = [(0usize, 0usize); ARGC_MAX + 2];
    let mut envs = [(0usize, 0usize); ENVC_MAX];
    let argc = copy_vec(a, s, argv_va, ARGC_MAX, &mut args[2..])?;
    let envc = copy_vec(a, s, envp_va, ENVC_MAX, &mut envs)?;
    let cwd = p.cwd;
    let ino = fs::lookup(cwd, &s.path[..plen], true)?;
    executable(ino)?;
    let n = fs::read_at(ino, 0, &mut s.head);
    // argv as the new program sees it: for a script, the interpreter, its
    // argument, the script's path, then argv[1..].
    let (mut first, mut image) = (2, ino);
    let mut name = [0u8; NAME_MAX];
    let shown = crate::modules::basename(&s.path[..plen]);
    name[..shown.len()].copy_from_slice(shown);
    match kind(&s.head[..n]) {
        Ok(Kind::Elf) => {}
        Ok(Kind::Script(interp, arg)) => {
            (first, image) = script(s, &mut args, (interp, arg), plen, cwd)?;
        }
        Err(why) => return refuse(p, &s.path[..plen], why),
    }
    let argc = if first == 2 {
        argc
    } else {
        argc.max(1) + 2 - first
    };
    let size = fs::size(image);
    let n = fs::read_at(image, 0, &mut s.head);
    let e = match elf::parse_head(&s.head[..n], size) {
        Ok(e) => e,
        Err(why) => return refuse(p, &s.path[..plen], why),
    };
    let args = &args[first..first + argc];
    let (fresh, sp) = match load(image, &e, &s.strings, args, &envs[..envc]) {
        Ok(loaded) => loaded,
        Err(Load::Refused(why)) => return refuse(p, &s.path[..plen], why),
        Err(Load::Errno(errno)) => return Err(errno),
    };
    // The point of no return: the old image ends here, and the process's
    // other threads with it; the caller takes the process's pid.
    super::thread::end_group();
    let p = &mut table().procs[cur];
    p.pid = p.tgid;
    p.threads = 1;
    // The new image's first thread: its stack is the image's.
    (p.ran, p.stack) = (1 << crate::smp::cpu(), (0, 0));
    p.clear_tid = 0;
    p.robust_list = 0;
    p.fs_base = fsbase::read();
    report(p, PROC_EXITING, Some(Exit::Exec));
    switch_space(p, fresh);
    p.fds.exec();
    p.name = name;
    p.execs = p.execs.saturating_add(1);
    crate::running::set(p.tgid, p.execs);
    forget_old_image(p);
    start_frame(f, p, e.entry, sp);
    report(p, PROC_CREATED, None);
    Ok(())
}

/// Why `load` failed: the image is refused (said on the console, ENOEXEC),
/// or an errno for the caller.
enum Load {
    Refused(&'static str),
    Errno(i64),
}

/// A fresh address space holding `image` (ELF header `e`) and the start-up
/// stack of `args` and `envs` (ranges in `strings`); Ok: it and the stack
/// pointer. The caller's address space is untouched either way.
fn load(
    image: u32,
    e: &elf::Elf,
    strings: &[u8],
    args: &[(usize, usize)],
    envs: &[(usize, usize)],
) -> Result<(AddrSpace, u64), Load> {
    let mut fresh = AddrSpace::new().ok_or(Load::Errno(ENOMEM))?;
    let mut argv = [&[][..]; ARGC_MAX + 2];
    let mut envp = [&[][..]; ENVC_MAX];
    for (k, &(st, len)) in args.iter().enumerate() {
        argv[k] = &strings[st..st + len];
    }
    for (k, &(st, len)) in envs.iter().enumerate() {
        envp[k] = &strings[st..st + len];
    }
    let argc = args.len().min(ARGC_MAX);
    let sp = match exec::load(&mut fresh, &File(image), e) {
        Ok(()) => stack::build(&mut fresh, e, &argv[..argc], &envp[..envs.len()]),
        Err(why) => {
            fresh.destroy();
            return Err(Load::Refused(why));
        }
    };
    match sp {
        Some(sp) => Ok((fresh, sp)),
        None => {
            fresh.destroy();
            Err(Load::Errno(E2BIG))
        }
    }
}

/// Run on `fresh` from now on (the CR3 load is traced) and free the old
/// image's address space.
fn switch_space(p: &mut Proc, fresh: AddrSpace) {
    arch::set_cr3(fresh.root.get());
    crate::trace::record(
        crate::trace::now(),
        abi::trace::EV_CR3,
        0,
        p.tgid,
        fresh.root.get(),
        0,
        0,
        0,
    );
    if let Some(mut old) = p.aspace.replace(fresh) {
        old.destroy();
    }
}

/// argv for script `s.path[..plen]` whose `#!` line names `interp` and
/// maybe one argument (ranges in `s.head`): the interpreter, its argument,
/// the script's path in place of argv[0], then argv[1..] (in `args[2..]`).
/// Ok: where argv now starts in `args`, and the interpreter's node.
fn script(
    s: &mut Scratch,
    args: &mut [(usize, usize)],
    (interp, arg): ((usize, usize), Option<(usize, usize)>),
    plen: usize,
    cwd: u32,
) -> Result<(usize, u32), i64> {
    // The script's path replaces argv[0]; the interpreter and its
    // argument go first. Strings come from the head: copy them.
    let room = s.strings.len() - s.used;
    let need = interp.1 + arg.map_or(0, |a| a.1) + plen + 3;
    if need > room {
        return Err(E2BIG);
    }
    let mut put = |src: (usize, usize), from_path: bool| {
        let st = s.used;
        let bytes = if from_path {
            &s.path[..src.1]
        } else {
            &s.head[src.0..src.0 + src.1]
        };
        s.strings[st..st + src.1].copy_from_slice(bytes);
        s.used += src.1 + 1;
        s.strings[st + src.1] = 0;
        (st, src.1)
    };
    let i = put(interp, false);
    let g = arg.map(|a| put(a, false));
    let path = put((0, plen), true);
    args[2] = path;
    let first = match g {
        Some(g) => {
            args[0] = i;
            args[1] = g;
            0
        }
        None => {
            args[1] = i;
            1
        }
    };
    let ip = &s.strings[i.0..i.0 + i.1];
    let mut ipath = [0u8; 256];
    ipath[..ip.len()].copy_from_slice(ip);
    let image = fs::lookup(cwd, &ipath[..ip.len()], true)?;
    executable(image)?;
    let n2 = fs::read_at(image, 0, &mut s.head);
    if !matches!(kind(&s.head[..n2]), Ok(Kind::Elf)) {
        return Err(ENOEXEC);
    }
    Ok((first, image))
}

/// What the old image set up and the new one starts without: signal
/// handlers (ignored signals stay ignored, as POSIX says), the handler in
/// progress, the alternate stack, TLS bases and the FPU state.
fn forget_old_image(p: &mut Proc) {
    for a in p.sigactions.iter_mut() {
        if a[0] > 1 {
            *a = [0; 4];
        }
    }
    p.in_handler = false;
    p.call_deadline = 0;
    p.suspend_mask = None;
    p.nunknown = 0;
    p.pattern_gva = 0;
    p.pattern = 0;
    p.altstack = super::AltStack::NONE;
    p.fs_base = 0;
    p.gs_base = 0;
    fsbase::write(0);
    fsbase::write_base(Seg::Gs, 0);
    p.fpu = FpuArea::clean();
    entry::set_fx(&mut p.fpu);
}

/// The new image's first instruction: Linux's start-up registers (all
/// zero), `rsp` at argc, in the caller's frame and the process's.
fn start_frame(f: &mut TrapFrame, p: &mut Proc, entry: u64, sp: u64) {
    let mut nf = entry::ZERO_FRAME;
    nf.rip = entry;
    nf.cs = USER_CS;
    nf.ss = USER_SS;
    nf.rflags = 0x202;
    nf.rsp = sp;
    *f = nf;
    p.frame = nf;
}

/// A file exec cannot run: say why on the console, ENOEXEC to the caller.
fn refuse(p: &Proc, path: &[u8], why: &str) -> Result<(), i64> {
    kprintln!(
        "[kernel] pid {} {}: execve {}: {}",
        p.pid,
        p.name(),
        core::str::from_utf8(path).unwrap_or("(a path that is not UTF-8)"),
        why
    );
    Err(ENOEXEC)
}
