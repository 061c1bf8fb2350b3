use super::*;
use std::sync::{Arc, Mutex};

/// A writer the test can look into.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);
impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn shown(s: &Shared) -> String {
    String::from_utf8_lossy(&s.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
}

fn lines() -> (Shared, Lines) {
    let s = Shared::default();
    let l = Lines::new(Box::new(s.clone()), false);
    (s, l)
}

#[test]
fn a_writer_change_mid_line_ends_the_line_and_prefixes_again() {
    let (s, mut l) = lines();
    l.write(Writer::Process(3), "a", b"x");
    l.write(Writer::Process(4), "b", b"hello\n");
    l.write(Writer::Process(3), "a", b"microvmm: pid 3 was killed\n");
    assert_eq!(
        shown(&s),
        "[3 a] x\n[4 b] hello\n[3 a] microvmm: pid 3 was killed\n"
    );
}

#[test]
fn the_kernel_interrupting_a_process_line_gets_a_line_of_its_own() {
    let (s, mut l) = lines();
    l.write(Writer::Process(3), "a", b"half");
    l.write(Writer::Kernel, "", b"microvmm: ok\n");
    l.write(Writer::Process(3), "a", b" rest\n");
    l.write(Writer::Kernel, "", b"[kernel] par");
    l.write(Writer::Process(3), "a", b"z\n");
    l.write(Writer::Kernel, "", b"tial\n");
    assert_eq!(
        shown(&s),
        "[3 a] half\n[guest] microvmm: ok\n[3 a]  rest\n[kernel] par\n[3 a] z\ntial\n"
    );
}

#[test]
fn the_same_writer_continues_its_line() {
    let (s, mut l) = lines();
    l.write(Writer::Process(3), "a", b"x");
    l.write(Writer::Process(3), "a", b"y\nz");
    l.flush();
    assert_eq!(shown(&s), "[3 a] xy\n[3 a] z");
}

#[test]
fn runs_of_empty_lines_are_one_line() {
    let (s, mut l) = lines();
    l.write(Writer::Process(3), "a", b"x\n\n");
    l.write(Writer::Process(3), "a", &[b'\n'; 1000]);
    l.write(Writer::Process(4), "b", b"\n");
    l.write(Writer::Process(3), "a", b"\n\ny\n");
    l.flush();
    assert_eq!(
        shown(&s),
        "[3 a] x\n[3 a] (1001 empty lines)\n[4 b] \n[3 a] (2 empty lines)\n[3 a] y\n"
    );
}

#[test]
fn a_newline_flood_is_not_multiplied() {
    let (s, mut l) = lines();
    let name = "\u{1b}".repeat(15);
    for _ in 0..1024 {
        l.write(Writer::Process(4_000_000_000), &name, &[b'\n'; 4096]);
    }
    l.flush();
    assert!(shown(&s).len() < 200, "{}", shown(&s));
}
