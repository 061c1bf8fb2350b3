//! The message target: a guest message at any GPA in any RAM size,
//! decoded by `devices::hypercall`, and the bytes it may change.

use std::cell::RefCell;

use abi::Pod;
use abi::msg::{self, CONSOLE_MAX, Header, MAX_REGIONS, MSG_MAX};
use microvmm::addr::Gpa;
use microvmm::devices::event::{Event, RegionKind};
use microvmm::devices::hypercall::{self, Outcome, WhereisReply};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::{MESSAGE_RAM, PAGE, memory, read_mem, u64_at};

thread_local! {
    // One mapping for the whole (persistent-mode) run: an mmap per input
    // would cost more than the code under test.
    static MESSAGE_MEM: RefCell<Option<GuestMemoryMmap>> = const { RefCell::new(None) };
}

/// Target 3: a message at any GPA, in any RAM size. An accepted message
/// is aligned, lies in RAM, carries its kind's size, decodes the same from
/// its bytes, and keeps every count in range; writing the result or the
/// answer changes no byte outside the message.
pub fn message(data: &[u8]) {
    let (Some(&flags), Some(raw_gpa), Some(raw_ram)) =
        (data.first(), u64_at(data, 1), u64_at(data, 9))
    else {
        return;
    };
    let gpa = if flags & 1 == 0 {
        raw_gpa % (MESSAGE_RAM + 0x100)
    } else {
        raw_gpa
    };
    let ram = match flags & 6 {
        0 => MESSAGE_RAM,
        2 => raw_ram % (2 * MESSAGE_RAM),
        _ => raw_ram,
    };
    let contents = data.get(17..).unwrap_or_default();
    // The decoder alone on any bytes of any kind.
    let _ = hypercall::decode(raw_ram as u32, contents, Gpa(raw_gpa));
    MESSAGE_MEM.with(|cell| {
        let mut cell = cell.borrow_mut();
        let mem = cell.get_or_insert_with(|| memory(MESSAGE_RAM));
        let mut image = vec![0u8; MESSAGE_RAM as usize];
        let n = contents.len().min(image.len());
        image[..n].copy_from_slice(&contents[..n]);
        assert!(mem.write_slice(&image, GuestAddress(0)).is_ok());
        let result = hypercall::read(mem, ram, Gpa(gpa));
        if let Ok(event) = &result {
            accepted(mem, ram, gpa, event, &image);
        }
        // Whatever read said, the result goes only into the header.
        for outcome in [Outcome::Ok, Outcome::Invalid, Outcome::Failed] {
            hypercall::write_result(mem, ram, Gpa(gpa), outcome);
        }
        let after = read_mem(mem, 0, MESSAGE_RAM);
        changed_only_within(&image, &after, gpa, gpa.saturating_add(16));
        if !(gpa.is_multiple_of(8) && gpa.saturating_add(16) <= ram) {
            assert!(after == image, "a result written for a message outside RAM");
        }
    });
}

/// The checks on a message `read` accepted at `gpa` from `image`.
fn accepted(mem: &GuestMemoryMmap, ram: u64, gpa: u64, event: &Event, image: &[u8]) {
    assert!(gpa.is_multiple_of(8));
    let at = gpa as usize;
    let header = image.get(at..at + 16).and_then(Header::from_bytes);
    let Some(header) = header else {
        panic!("accepted a header outside memory at {gpa:#x}")
    };
    let want = msg::size_of_kind(header.kind);
    assert!(want != 0 && want == header.size && want <= MSG_MAX);
    let end = gpa + u64::from(want);
    assert!(end <= ram && end <= MESSAGE_RAM, "message past RAM");
    let body = &image[at..end as usize];
    assert_eq!(
        hypercall::decode(header.kind, body, Gpa(gpa)).as_ref(),
        Ok(event)
    );
    match event {
        Event::Boot(_) => assert_eq!(header.kind, msg::KIND_BOOT),
        Event::Mark { .. } => assert_eq!(header.kind, msg::KIND_MARK),
        Event::Console { chunks, .. } => {
            assert_eq!(header.kind, msg::KIND_CONSOLE);
            let used: usize = chunks
                .iter()
                .map(|c| c.bytes.len() + msg::ConsoleRecord::SIZE)
                .sum();
            assert!(used <= CONSOLE_MAX);
        }
        Event::Proc(p) => {
            assert_eq!(header.kind, msg::KIND_PROC);
            assert!(p.regions.len() <= MAX_REGIONS);
            for r in &p.regions {
                let (s, e) = (r.span.start.raw(), r.span.end.raw());
                assert!(s < e && s.is_multiple_of(PAGE) && e.is_multiple_of(PAGE) && e <= 1 << 47);
                // A name only on a file mapping, never longer than the
                // message's field (lossy UTF-8 at most triples it).
                assert!(r.file.is_none() || r.kind == RegionKind::File);
                let len = r.file.as_ref().map_or(1, String::len);
                assert!(len > 0 && len <= 3 * msg::FILE_PATH_MAX);
            }
        }
        Event::Threads(t) => {
            assert_eq!(header.kind, msg::KIND_THREADS);
            assert!(t.threads.len() <= msg::MAX_THREADS);
            for th in &t.threads {
                assert!(
                    th.stack
                        .as_ref()
                        .is_none_or(|r| r.start < r.end && r.end.raw() <= 1 << 47)
                );
            }
        }
        Event::Whereis(w) => {
            assert_eq!(header.kind, msg::KIND_WHEREIS);
            let size = size_of::<msg::WhereisAnswer>() as u64;
            assert!(w.reply.raw() >= gpa + 16 && w.reply.raw() + size <= end);
            let answer = hypercall::encode_answer(w.gva, &WhereisReply::NotMapped);
            assert!(hypercall::write_answer(mem, w.reply, &answer).is_ok());
            let after = read_mem(mem, 0, MESSAGE_RAM);
            changed_only_within(image, &after, gpa, end);
            assert!(mem.write_slice(image, GuestAddress(0)).is_ok());
        }
        Event::DebugTrap { msg: m, at } => {
            assert_eq!(header.kind, msg::KIND_DEBUG_TRAP);
            assert_eq!(at.raw(), gpa);
            // The registers a debugger writes back stay inside the message.
            assert!(hypercall::write_debug_trap(mem, *at, m).is_ok());
            let after = read_mem(mem, 0, MESSAGE_RAM);
            changed_only_within(image, &after, gpa, end);
            assert!(mem.write_slice(image, GuestAddress(0)).is_ok());
        }
        Event::StdinRead { want, reply, .. } => {
            assert_eq!(header.kind, msg::KIND_STDIN);
            assert!(*want <= msg::STDIN_MAX);
            assert_eq!(reply.raw(), gpa);
            // The answer stays inside the message, however much is given.
            let full = vec![0x41; msg::STDIN_MAX + 10];
            assert!(hypercall::write_stdin(mem, *reply, &full).is_ok());
            let after = read_mem(mem, 0, MESSAGE_RAM);
            changed_only_within(image, &after, gpa, end);
            assert!(mem.write_slice(image, GuestAddress(0)).is_ok());
        }
    }
}

/// `before` and `after` differ only in bytes [lo, hi).
fn changed_only_within(before: &[u8], after: &[u8], lo: u64, hi: u64) {
    if before == after {
        return;
    }
    for (i, (a, b)) in before.iter().zip(after).enumerate() {
        let i = i as u64;
        assert!(
            a == b || (lo <= i && i < hi),
            "byte {i:#x} changed outside [{lo:#x}, {hi:#x})"
        );
    }
}
