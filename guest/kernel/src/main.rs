//! The demo kernel: start the programs the command line names (or the
//! default demo), all at once, and schedule them until every one has ended.
#![no_std]
#![no_main]

use kernel::{Machine, kprintln, proc, programs, vmmdev};

/// Run together by default: the address-space tour, a heap and a stack that
/// grow on demand, four attempts to break protection, and a CPU burner.
const DEFAULT_DEMO: &str = "addrspace heap stack snoop:0 snoop:1 snoop:2 snoop:3 spin:300";

#[unsafe(no_mangle)]
pub fn kmain(m: &Machine) -> ! {
    let cmdline = if m.cmdline().trim().is_empty() {
        DEFAULT_DEMO
    } else {
        m.cmdline()
    };
    let mut started = 0;
    for word in cmdline.split_ascii_whitespace() {
        let (name, arg) = word.split_once(':').unwrap_or((word, "0"));
        let Some(img) = programs::find(name) else {
            kprintln!("[kernel] no program named '{name}'");
            continue;
        };
        let Ok(arg) = arg.parse::<u64>() else {
            kprintln!("[kernel] '{word}': the argument after ':' must be a number");
            continue;
        };
        match proc::spawn(img, word, arg) {
            Ok(pid) => {
                started += 1;
                kprintln!("[kernel] pid {pid}: {word}");
            }
            Err(e) => kprintln!("[kernel] cannot start '{word}': {e}"),
        }
    }
    if started == 0 {
        kprintln!("[kernel] nothing to run");
        vmmdev::shutdown(abi::status::OK)
    }
    proc::run()
}
