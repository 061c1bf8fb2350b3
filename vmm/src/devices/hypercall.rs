//! Decoding the guest's messages. The guest is hostile: the GPA it hands
//! over, the header's kind and size, and every count inside are checked
//! before anything is used; a bad message is an error value, never a panic
//! and never a read outside guest memory.

use abi::msg::{self, CONSOLE_MAX, Header, MAX_REGIONS, MSG_MAX};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// A decoded message.
#[derive(Debug)]
pub enum Message {
    Boot(msg::Boot),
    /// Console bytes; `pid` 0 is the kernel's own text, otherwise exactly
    /// what that process wrote (the VMM adds the `[pid name] ` prefix).
    Console {
        pid: u32,
        bytes: Vec<u8>,
    },
    /// Boxed: 1760 bytes, far larger than the other messages.
    Proc(Box<msg::Proc>),
    Whereis(msg::Whereis),
    Mark(msg::Mark),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// The GPA is not 8-byte aligned.
    #[error("message GPA {0:#x} is not 8-byte aligned")]
    Unaligned(u64),
    /// The message does not lie inside guest RAM.
    #[error("message at GPA {gpa:#x} ({size} bytes) is outside guest RAM")]
    OutsideRam { gpa: u64, size: u64 },
    /// Unknown kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u32),
    /// Header size disagrees with the kind.
    #[error("message kind {kind} says it is {got} bytes; that kind is {want}")]
    BadSize { kind: u32, got: u32, want: u32 },
    /// A count inside the message is out of range.
    #[error("message kind {kind}: {field} is {value}, at most {max}")]
    OutOfRange {
        kind: u32,
        field: &'static str,
        value: u64,
        max: u64,
    },
    /// A region is malformed.
    #[error("process message: region {index} [{start:#x}, {end:#x}) kind {kind} is malformed")]
    BadRegion {
        index: usize,
        kind: u32,
        start: u64,
        end: u64,
    },
}

/// Plain-old-data message structs: every bit pattern is a valid value
/// (integers and arrays of integers only).
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers and arrays of
/// integers, with no implicit padding: every bit pattern must be a valid
/// value and every byte initialised.
pub unsafe trait Pod: Copy {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for Header {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for msg::Boot {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for msg::Console {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for msg::Proc {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for msg::Whereis {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for msg::Mark {}
// SAFETY: an abi message struct: integers only, explicit padding fields.
unsafe impl Pod for msg::WhereisAnswer {}

/// Interpret the first size_of::<T>() bytes of `b` as a T.
pub fn from_bytes<T: Pod>(b: &[u8]) -> Option<T> {
    if b.len() < size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked, read_unaligned tolerates any alignment,
    // and Pod types accept every bit pattern.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr() as *const T) })
}

/// The bytes of a T.
pub fn to_bytes<T: Pod>(v: &T) -> Vec<u8> {
    // SAFETY: T is plain data of size_of::<T>() bytes; the abi structs have
    // explicit padding fields, so no byte is uninitialised.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }.to_vec()
}

/// Decode the message the guest placed at `gpa`.
pub fn read(mem: &GuestMemoryMmap, ram_size: u64, gpa: u64) -> Result<Message, ProtocolError> {
    if !gpa.is_multiple_of(8) {
        return Err(ProtocolError::Unaligned(gpa));
    }
    let in_ram = |size: u64| gpa.checked_add(size).is_some_and(|end| end <= ram_size);
    let hsize = size_of::<Header>() as u64;
    if !in_ram(hsize) {
        return Err(ProtocolError::OutsideRam { gpa, size: hsize });
    }
    let mut hb = [0u8; 16];
    mem.read_slice(&mut hb, GuestAddress(gpa))
        .map_err(|_| ProtocolError::OutsideRam { gpa, size: hsize })?;
    let h: Header = from_bytes(&hb).ok_or(ProtocolError::OutsideRam { gpa, size: hsize })?;
    let want = msg::size_of_kind(h.kind);
    if want == 0 {
        return Err(ProtocolError::UnknownKind(h.kind));
    }
    if h.size != want || want > MSG_MAX {
        return Err(ProtocolError::BadSize {
            kind: h.kind,
            got: h.size,
            want,
        });
    }
    if !in_ram(want as u64) {
        return Err(ProtocolError::OutsideRam {
            gpa,
            size: want as u64,
        });
    }
    let mut body = vec![0u8; want as usize];
    mem.read_slice(&mut body, GuestAddress(gpa))
        .map_err(|_| ProtocolError::OutsideRam {
            gpa,
            size: want as u64,
        })?;
    decode(h.kind, &body)
}

/// Decode a message body (header included) already read from the guest.
pub fn decode(kind: u32, body: &[u8]) -> Result<Message, ProtocolError> {
    let short = || ProtocolError::BadSize {
        kind,
        got: body.len() as u32,
        want: msg::size_of_kind(kind),
    };
    match kind {
        msg::KIND_BOOT => Ok(Message::Boot(from_bytes(body).ok_or_else(short)?)),
        msg::KIND_MARK => Ok(Message::Mark(from_bytes(body).ok_or_else(short)?)),
        msg::KIND_WHEREIS => Ok(Message::Whereis(from_bytes(body).ok_or_else(short)?)),
        msg::KIND_CONSOLE => {
            let c: msg::Console = from_bytes(body).ok_or_else(short)?;
            if c.len as usize > CONSOLE_MAX {
                return Err(ProtocolError::OutOfRange {
                    kind,
                    field: "len",
                    value: c.len as u64,
                    max: CONSOLE_MAX as u64,
                });
            }
            Ok(Message::Console {
                pid: c.pid,
                bytes: c.bytes[..c.len as usize].to_vec(),
            })
        }
        msg::KIND_PROC => {
            let p: msg::Proc = from_bytes(body).ok_or_else(short)?;
            check_proc(&p)?;
            Ok(Message::Proc(Box::new(p)))
        }
        k => Err(ProtocolError::UnknownKind(k)),
    }
}

fn check_proc(p: &msg::Proc) -> Result<(), ProtocolError> {
    let kind = msg::KIND_PROC;
    if p.nregions as usize > MAX_REGIONS {
        return Err(ProtocolError::OutOfRange {
            kind,
            field: "nregions",
            value: p.nregions as u64,
            max: MAX_REGIONS as u64,
        });
    }
    if p.event != msg::PROC_CREATED && p.event != msg::PROC_EXITING {
        return Err(ProtocolError::OutOfRange {
            kind,
            field: "event",
            value: p.event as u64,
            max: 2,
        });
    }
    if p.exit_kind > msg::EXIT_FAULT {
        return Err(ProtocolError::OutOfRange {
            kind,
            field: "exit_kind",
            value: p.exit_kind as u64,
            max: 2,
        });
    }
    for (index, r) in p.regions[..p.nregions as usize].iter().enumerate() {
        let kind_ok = (msg::REGION_CODE..=msg::REGION_LAST).contains(&r.kind);
        if !kind_ok
            || r.start >= r.end
            || r.start % 4096 != 0
            || r.end % 4096 != 0
            || r.end > 1 << 47
        {
            return Err(ProtocolError::BadRegion {
                index,
                kind: r.kind,
                start: r.start,
                end: r.end,
            });
        }
    }
    Ok(())
}

/// The NUL-padded name of a process message as text (lossy: hostile bytes
/// become U+FFFD).
pub fn name(p: &msg::Proc) -> String {
    String::from_utf8_lossy(msg::until_nul(&p.name)).into_owned()
}

/// GPA of the answer inside a Whereis message at `gpa`.
pub fn whereis_answer_gpa(gpa: u64) -> u64 {
    gpa + std::mem::offset_of!(msg::Whereis, answer) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("test memory")
    }

    fn put<T: Pod>(m: &GuestMemoryMmap, gpa: u64, v: &T) {
        m.write_slice(&to_bytes(v), GuestAddress(gpa))
            .expect("write");
    }

    #[test]
    fn console_round_trip() {
        let m = mem();
        let mut c = msg::Console {
            hdr: Header::new(msg::KIND_CONSOLE),
            len: 3,
            pid: 0,
            bytes: [0; CONSOLE_MAX],
        };
        c.bytes[..3].copy_from_slice(b"hi\n");
        put(&m, 0x1000, &c);
        match read(&m, 1 << 20, 0x1000) {
            Ok(Message::Console { pid, bytes }) => {
                assert_eq!(bytes, b"hi\n");
                assert_eq!(pid, 0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn hostile_headers_are_errors() {
        let m = mem();
        assert_eq!(
            read(&m, 1 << 20, 0x1001).err(),
            Some(ProtocolError::Unaligned(0x1001))
        );
        assert!(matches!(
            read(&m, 1 << 20, (1 << 20) - 8),
            Err(ProtocolError::OutsideRam { .. })
        ));
        assert!(matches!(
            read(&m, 1 << 20, u64::MAX - 7),
            Err(ProtocolError::OutsideRam { .. })
        ));
        put(
            &m,
            0x2000,
            &Header {
                kind: 99,
                size: 16,
                result: 0,
                seq: 0,
            },
        );
        assert_eq!(
            read(&m, 1 << 20, 0x2000).err(),
            Some(ProtocolError::UnknownKind(99))
        );
        put(
            &m,
            0x2000,
            &Header {
                kind: msg::KIND_BOOT,
                size: 4096,
                result: 0,
                seq: 0,
            },
        );
        assert!(matches!(
            read(&m, 1 << 20, 0x2000),
            Err(ProtocolError::BadSize { .. })
        ));
        // A console message whose body would run past the end of RAM.
        put(&m, (1 << 20) - 64, &Header::new(msg::KIND_CONSOLE));
        assert!(matches!(
            read(&m, 1 << 20, (1 << 20) - 64),
            Err(ProtocolError::OutsideRam { .. })
        ));
    }

    #[test]
    fn console_length_is_checked() {
        let m = mem();
        let c = msg::Console {
            hdr: Header::new(msg::KIND_CONSOLE),
            len: CONSOLE_MAX as u32 + 1,
            pid: 0,
            bytes: [0; CONSOLE_MAX],
        };
        put(&m, 0x1000, &c);
        assert!(matches!(
            read(&m, 1 << 20, 0x1000),
            Err(ProtocolError::OutOfRange { field: "len", .. })
        ));
    }

    #[test]
    fn proc_regions_are_checked() {
        let m = mem();
        let mut p = msg::Proc {
            hdr: Header::new(msg::KIND_PROC),
            event: msg::PROC_CREATED,
            nregions: 1,
            ..Default::default()
        };
        p.name[..4].copy_from_slice(b"heap");
        p.regions[0] = msg::Region {
            kind: msg::REGION_CODE,
            prot: 5,
            start: 0x40_0000,
            end: 0x40_1000,
            faults: 0,
        };
        put(&m, 0x1000, &p);
        match read(&m, 1 << 20, 0x1000) {
            Ok(Message::Proc(q)) => assert_eq!(name(&q), "heap"),
            other => panic!("unexpected {other:?}"),
        }
        p.nregions = msg::MAX_REGIONS as u32 + 1;
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, 0x1000),
            Err(ProtocolError::OutOfRange {
                field: "nregions",
                ..
            })
        ));
        p.nregions = 1;
        p.regions[0].end = p.regions[0].start;
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, 0x1000),
            Err(ProtocolError::BadRegion { .. })
        ));
        p.regions[0] = msg::Region {
            kind: 42,
            prot: 0,
            start: 0x1000,
            end: 0x2000,
            faults: 0,
        };
        put(&m, 0x1000, &p);
        assert!(matches!(
            read(&m, 1 << 20, 0x1000),
            Err(ProtocolError::BadRegion { .. })
        ));
    }

    #[test]
    fn invalid_utf8_name_is_lossy() {
        let mut p = msg::Proc::default();
        p.name[..2].copy_from_slice(&[0xff, b'a']);
        assert_eq!(name(&p), "\u{fffd}a");
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever bytes a hostile guest leaves at whatever GPA, decoding
        /// returns a value or an error — it never panics, never reads
        /// outside RAM, and accepts only messages whose size fits their kind.
        #[test]
        fn any_bytes_any_gpa_never_panic(
            kind in 0u32..8,
            size in prop_oneof![Just(0u32), 0u32..5000, Just(u32::MAX)],
            body in proptest::collection::vec(any::<u8>(), 0..4096),
            gpa in prop_oneof![0u64..(1 << 20), Just((1 << 20) - 16), any::<u32>().prop_map(u64::from)],
        ) {
            let ram = 1u64 << 20;
            let m = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), ram as usize)]).expect("test memory");
            let mut bytes = to_bytes(&Header { kind, size, result: 0, seq: 0 });
            bytes.extend_from_slice(&body);
            let at = (gpa & !7).min(ram - 8);
            let n = bytes.len().min((ram - at) as usize);
            m.write_slice(&bytes[..n], GuestAddress(at)).expect("write");
            if let Ok(msg) = read(&m, ram, gpa) {
                prop_assert_eq!(size, msg::size_of_kind(kind));
                prop_assert!(gpa + size as u64 <= ram);
                if let Message::Console { bytes: c, .. } = msg {
                    prop_assert!(c.len() <= CONSOLE_MAX);
                }
            }
        }
    }
}
