//! The end of the run: the console's last bytes, then the exit status to
//! the VMM.

use crate::arch::cpu;
use crate::{console, kprint, kprintln, vmmdev};

/// Flush the console, tell the VMM `status`, and stop; never returns.
/// Without the device, say so on the console and halt.
pub fn halt(status: u32) -> ! {
    console::flush();
    if !vmmdev::send_shutdown(status) {
        if crate::smp::cpus() > 1 {
            let c = crate::smp::cpus();
            kprint!("[kernel] timer ticks in user mode, per CPU:");
            for i in 0..c {
                kprint!(" {i}: {}", crate::timer::ticks_on(i));
            }
            kprintln!("");
        }
        kprintln!("[kernel] no microvmm device: halted (status {status:#x})");
        console::flush();
    }
    cpu::halt_forever()
}
