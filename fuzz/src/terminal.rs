//! The terminal target: guest text escaped for the terminal, and the
//! console device that writes it, let no control character through.

use std::io::Write;
use std::sync::{Arc, Mutex};

use microvmm::devices::console::Console;
use microvmm::terminal;

use crate::u16_at;

/// A writer the target can look into afterwards.
#[derive(Clone, Default)]
pub(crate) struct Shared(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `text` could reach a terminal as is: UTF-8 with no control
/// character (C0 or C1) but newline and tab, and no character that
/// reorders or breaks the line it is shown in (bidi controls, U+2028/9).
pub(crate) fn harmless(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(|t| {
        t.chars()
            .all(|c| c == '\n' || c == '\t' || !(c.is_control() || terminal::reorders(c)))
    })
}

/// Target 6: what reaches the terminal from the guest. Escaped text is
/// UTF-8 with no control character but newline and tab, and text that
/// needed no escaping is unchanged; the console device (kernel text and a
/// process's writes with its guest-chosen name) emits only such text and
/// counts every byte.
pub fn terminal(data: &[u8]) {
    let escaped = terminal::escape_bytes(data);
    assert!(harmless(&escaped), "escape_bytes let a control through");
    if harmless(data) {
        assert_eq!(&*escaped, data);
    }
    let lossy = String::from_utf8_lossy(data);
    let text = terminal::escape_text(&lossy);
    assert!(
        harmless(text.as_bytes()),
        "escape_text let a control through"
    );
    let (Some(&pid), Some(&n)) = (data.first(), data.get(1)) else {
        return;
    };
    let name_end = (2 + usize::from(n)).min(data.len());
    let name = String::from_utf8_lossy(&data[2..name_end]);
    let rest = &data[name_end..];
    let split = u16_at(rest, 0).map_or(0, usize::from).min(rest.len());
    let (kernel, process) = rest.split_at(split);
    let out = Shared::default();
    {
        let mut console = Console::new(Box::new(out.clone()), false);
        console.write(kernel);
        console.write_process(u32::from(pid), &name, process);
        console.write_process(u32::from(pid) + 1, &name, process);
        assert_eq!(console.bytes, (kernel.len() + 2 * process.len()) as u64);
    }
    let Ok(shown) = out.0.lock() else {
        panic!("console output lock poisoned")
    };
    assert!(harmless(&shown), "the console let a control through");
}
