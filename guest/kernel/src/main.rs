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
    // Check every word before starting anything: a typo ends the run.
    for word in cmdline.split_ascii_whitespace() {
        match abi::programs::parse_word(word) {
            Ok((name, _)) if programs::find(name).is_some() => {}
            Ok(_) => bad(word, "not built into this kernel"),
            Err(why) => bad(word, why),
        }
    }
    for word in cmdline.split_ascii_whitespace() {
        let Ok((name, arg)) = abi::programs::parse_word(word) else {
            bad(word, "unparsable")
        };
        let Some(img) = programs::find(name) else {
            bad(word, "not built into this kernel")
        };
        match proc::spawn(img, word, arg) {
            Ok(pid) => kprintln!("[kernel] pid {pid}: {word}"),
            Err(e) => bad(word, e),
        }
    }
    proc::run()
}

/// A command-line word the kernel cannot run: say so and stop.
fn bad(word: &str, why: &str) -> ! {
    kprintln!("[kernel] cannot run '{word}': {why}");
    vmmdev::shutdown(abi::status::BAD_CMDLINE)
}
