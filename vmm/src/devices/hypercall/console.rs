//! Decoding abi::msg::Console, the guest's buffered console output:
//! records of one writer each, back to back. `len`, every record's header
//! and every record's length are checked against the message (the guest is
//! hostile); a bad message is refused whole, before any of it is shown.

use abi::msg::{self, CONSOLE_MAX, ConsoleRecord};

use super::ProtocolError;
use crate::devices::event::{ConsoleChunk, Stream};

/// The checked records of the message `c`, in order.
pub fn chunks(c: &msg::Console) -> Result<Vec<ConsoleChunk>, ProtocolError> {
    let kind = msg::KIND_CONSOLE;
    let bad = super::out_of_range(kind);
    let mut rest =
        c.bytes
            .get(..c.len as usize)
            .ok_or(bad("len", c.len.into(), CONSOLE_MAX as u64))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let r = ConsoleRecord::decode(rest).ok_or(bad(
            "record header",
            rest.len() as u64,
            ConsoleRecord::SIZE as u64,
        ))?;
        let room = rest.len() - ConsoleRecord::SIZE;
        let bytes = rest[ConsoleRecord::SIZE..]
            .get(..r.len as usize)
            .ok_or(bad("record len", r.len.into(), room as u64))?;
        let stream = match (r.pid, r.fd) {
            (0, 0) | (_, 1) => Stream::Stdout,
            (p, 2) if p != 0 => Stream::Stderr,
            (_, fd) => return Err(bad("record fd", fd.into(), 2)),
        };
        out.push(ConsoleChunk {
            pid: r.pid,
            stream,
            bytes: bytes.to_vec(),
        });
        rest = &rest[ConsoleRecord::SIZE + r.len as usize..];
    }
    Ok(out)
}

/// The `broken` answer for host streams: bit 1 stdout, bit 2 stderr.
pub fn broken_bit(s: Stream) -> u32 {
    match s {
        Stream::Stdout => 1 << 1,
        Stream::Stderr => 1 << 2,
    }
}
