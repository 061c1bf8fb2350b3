//! The demo kernel: start the built-in programs the command line names (or
//! the default demo), then the boot modules (the user's programs), all at
//! once, and schedule them until every one has ended.
#![no_std]
#![no_main]

use kernel::exec::stack::DEFAULT_ENVP;
use kernel::{Machine, kprintln, modules, proc, programs, shutdown};

/// Run together by default: the address-space tour, a heap and a stack that
/// grow on demand, four attempts to break protection, and a CPU burner.
const DEFAULT_DEMO: &str = "addrspace heap stack snoop:0 snoop:1 snoop:2 snoop:3 spin:30";

#[unsafe(no_mangle)]
pub fn kmain(m: &Machine) -> ! {
    let cmdline = match m.cmdline().trim() {
        // With user programs and no command line, only they run.
        "" if m.nmodules > 0 => "",
        "" => DEFAULT_DEMO,
        c => c,
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
        let Some(img) = programs::find(word.split(':').next().unwrap_or(word)) else {
            bad(word, "not built into this kernel")
        };
        // argv: the program's name, then its number if it has one.
        let mut argv: [&[u8]; 2] = [word.as_bytes(), b""];
        let mut argc = 1;
        if let Some((name, num)) = word.split_once(':') {
            argv = [name.as_bytes(), num.as_bytes()];
            argc = 2;
        }
        match proc::spawn(img, word.as_bytes(), &argv[..argc], &DEFAULT_ENVP, 0) {
            Ok(pid) => kprintln!("[kernel] pid {pid}: {word}"),
            Err(e) => bad(word, e),
        }
    }
    modules::spawn_all(m);
    proc::run()
}

/// A command-line word the kernel cannot run: say so and stop.
fn bad(word: &str, why: &str) -> ! {
    kprintln!("[kernel] cannot run '{word}': {why}");
    shutdown::halt(abi::status::BAD_CMDLINE)
}
