//! The raw-KVM floor that `scripts/bench.sh` measures microvmm against: the
//! least a VMM process can do with kvm-ioctls and nothing of microvmm —
//! open /dev/kvm, create a VM, one 128 MiB memslot and one vCPU in real
//! mode, and run a 32-byte guest.
//!
//! ```text
//! floor             run to the guest's first `out`, exit 0
//! floor line        print the guest's line ("floor: guest up"), run to its shutdown `out`
//! floor loop N      then N `out`s to a null port; print the mean round trip
//! ```

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VcpuExit};

const MEM: usize = 128 << 20;
const LOAD: u64 = 0x1000;
const PORT_SERIAL: u16 = 0x3f8;
const PORT_NULL: u16 = 0x518;
const PORT_SHUTDOWN: u16 = 0x514;

/// Real-mode code at 0x1000 (from `as --32`, source in the comments):
/// print `msg` on COM1, `out` to PORT_NULL ECX times, `out` to PORT_SHUTDOWN.
const GUEST: &[u8] = &[
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xbe, 0x20, 0x10, // mov si, msg
    0xac, // 1: lodsb
    0x84, 0xc0, // test al, al
    0x74, 0x03, // jz 2f
    0xee, // out dx, al
    0xeb, 0xf8, // jmp 1b
    0xba, 0x18, 0x05, // 2: mov dx, 0x518
    0x66, 0x85, 0xc9, // 3: test ecx, ecx
    0x74, 0x05, // jz 4f
    0xee, // out dx, al
    0x66, 0x49, // dec ecx
    0xeb, 0xf6, // jmp 3b
    0xba, 0x14, 0x05, // 4: mov dx, 0x514
    0xee, // out dx, al
    0xf4, // hlt
    // msg:
    b'f', b'l', b'o', b'o', b'r', b':', b' ', b'g', b'u', b'e', b's', b't', b' ', b'u', b'p', b'\n',
    0,
];

enum Mode {
    First,
    Line,
    Loop(u32),
}

fn parse(args: &[String]) -> Option<Mode> {
    match args {
        [] => Some(Mode::First),
        [m] if m == "line" => Some(Mode::Line),
        [m, n] if m == "loop" => n.parse().ok().map(Mode::Loop),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = parse(&args) else {
        eprintln!("usage: floor [line | loop N]");
        return ExitCode::from(2);
    };
    match run(&mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(mode: &Mode) -> Result<(), String> {
    let kvm = Kvm::new().map_err(|e| format!("open /dev/kvm: {e}"))?;
    let vm = kvm.create_vm().map_err(|e| format!("KVM_CREATE_VM: {e}"))?;
    // SAFETY: a fresh anonymous private mapping; no Rust object aliases it.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            MEM,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return Err(format!("mmap: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: LOAD + GUEST.len() is far inside the MEM-byte mapping above.
    unsafe {
        std::ptr::copy_nonoverlapping(
            GUEST.as_ptr(),
            (mem as *mut u8).add(LOAD as usize),
            GUEST.len(),
        )
    };
    let region = kvm_userspace_memory_region {
        slot: 0,
        guest_phys_addr: 0,
        memory_size: MEM as u64,
        userspace_addr: mem as u64,
        flags: 0,
    };
    // SAFETY: the mapping lives until the process exits, after the VM.
    unsafe { vm.set_user_memory_region(region) }.map_err(|e| format!("memslot: {e}"))?;
    let mut vcpu = vm.create_vcpu(0).map_err(|e| format!("vCPU: {e}"))?;
    let mut sregs = vcpu.get_sregs().map_err(|e| format!("sregs: {e}"))?;
    (sregs.cs.base, sregs.cs.selector) = (0, 0);
    vcpu.set_sregs(&sregs).map_err(|e| format!("sregs: {e}"))?;
    let mut regs = vcpu.get_regs().map_err(|e| format!("regs: {e}"))?;
    regs.rip = LOAD;
    regs.rflags = 2;
    regs.rcx = match mode {
        Mode::Loop(n) => u64::from(*n),
        _ => 0,
    };
    vcpu.set_regs(&regs).map_err(|e| format!("regs: {e}"))?;

    let mut line = Vec::new();
    let mut first_null: Option<Instant> = None;
    loop {
        match vcpu.run().map_err(|e| format!("KVM_RUN: {e}"))? {
            VcpuExit::IoOut(port, data) => {
                if matches!(mode, Mode::First) {
                    return Ok(());
                }
                match port {
                    PORT_SERIAL => {
                        line.extend_from_slice(data);
                        if data.contains(&b'\n') {
                            let mut out = std::io::stdout().lock();
                            let _ = out.write_all(&line).and_then(|()| out.flush());
                            line.clear();
                        }
                    }
                    PORT_NULL => {
                        first_null.get_or_insert_with(Instant::now);
                    }
                    PORT_SHUTDOWN => break,
                    p => return Err(format!("out to unexpected port {p:#x}")),
                }
            }
            other => return Err(format!("unexpected exit {other:?}")),
        }
    }
    if let (Mode::Loop(n), Some(t0)) = (mode, first_null) {
        // From the first null exit to the shutdown exit: n round trips.
        let us = t0.elapsed().as_secs_f64() * 1e6 / f64::from(*n);
        println!("floor: {n} port exits, {us:.2} us each");
    }
    Ok(())
}
