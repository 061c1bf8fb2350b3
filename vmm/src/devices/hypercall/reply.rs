//! The VMM's replies, in the guest's layouts: the result code in a
//! message's header, the answer to a `whereis` question, the bytes of a
//! stdin read and the broken streams of a console message.

use abi::Pod;
use abi::msg::{self, Header, WALK_MAX, WalkStep, WhereisAnswer};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::addr::{Gpa, Gva, Hpa, Hva};
use crate::pagemap::HostFrame;

/// The VMM's answer to a `whereis` question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WhereisReply {
    /// The address is not mapped in the asker's tables (or the vCPU is not
    /// in a paging mode the walker knows).
    NotMapped,
    /// Where it lives.
    Found {
        /// Its guest-physical address.
        gpa: Gpa,
        /// The VMM's mapping of the GPA; None outside every memslot.
        hva: Option<Hva>,
        /// Where the host keeps it.
        frame: HostFrame,
        /// The guest's page size in bytes.
        guest_page_size: u64,
        /// The host's page size backing it, in bytes; None when unknown.
        host_page_size: Option<u64>,
        /// KVM_TRANSLATE's answer; None if it gave none.
        kvm_gpa: Option<Gpa>,
        /// Each level's entry: its GPA, value and HPA, top level first.
        walk: Vec<(Gpa, u64, Option<Hpa>)>,
    },
}

/// The answer's bytes as the guest's `WhereisAnswer` lays them out.
pub fn encode_answer(gva: Gva, reply: &WhereisReply) -> WhereisAnswer {
    let mut a = WhereisAnswer {
        gva: gva.raw(),
        kvm_gpa: u64::MAX,
        status: msg::WHEREIS_NOT_MAPPED,
        ..Default::default()
    };
    let WhereisReply::Found {
        gpa,
        hva,
        frame,
        guest_page_size,
        host_page_size,
        kvm_gpa,
        walk,
    } = reply
    else {
        return a;
    };
    a.status = msg::WHEREIS_OK;
    a.gpa = gpa.raw();
    a.hva = hva.map_or(0, Hva::raw);
    a.guest_page_size = *guest_page_size;
    (a.hpa_status, a.hpa) = match frame {
        HostFrame::Present { hpa, .. } => (msg::HPA_OK, hpa.raw()),
        HostFrame::NeedsCap => (msg::HPA_NEEDS_CAP, 0),
        HostFrame::NotPresent | HostFrame::Swapped => (msg::HPA_NOT_PRESENT, 0),
        HostFrame::Unavailable(_) => (msg::HPA_UNAVAILABLE, 0),
    };
    a.host_page_size = host_page_size.unwrap_or(0);
    a.kvm_gpa = kvm_gpa.map_or(u64::MAX, Gpa::raw);
    for (step, (entry_gpa, entry, entry_hpa)) in a.walk.iter_mut().zip(walk) {
        *step = WalkStep {
            entry_gpa: entry_gpa.raw(),
            entry: *entry,
            entry_hpa: entry_hpa.map_or(0, Hpa::raw),
        };
    }
    a.levels = walk.len().min(WALK_MAX) as u32;
    a
}

/// The result code for the message header: ok, invalid (a protocol error)
/// or failed (the VMM could not do what was asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; any answer is in the message.
    Ok,
    /// The message broke the protocol.
    Invalid,
    /// The message was fine but the VMM could not serve it.
    Failed,
}

/// Put `bytes` (at most abi's STDIN_MAX) and their count into the stdin
/// message at `at`.
pub fn write_stdin(
    mem: &GuestMemoryMmap,
    at: Gpa,
    bytes: &[u8],
) -> Result<(), vm_memory::GuestMemoryError> {
    let bytes = &bytes[..bytes.len().min(msg::STDIN_MAX)];
    let field = |off: usize| GuestAddress(at.raw().saturating_add(off as u64));
    mem.write_slice(bytes, field(std::mem::offset_of!(msg::Stdin, bytes)))?;
    // At most STDIN_MAX: fits in u32.
    mem.write_obj(
        bytes.len() as u32,
        field(std::mem::offset_of!(msg::Stdin, len)),
    )
}

/// Write the console message's answer at `at`: the host streams (bit 1
/// stdout, bit 2 stderr) nobody reads any more.
pub fn write_console_broken(
    mem: &GuestMemoryMmap,
    at: Gpa,
    broken: u32,
) -> Result<(), vm_memory::GuestMemoryError> {
    let field = at
        .raw()
        .saturating_add(std::mem::offset_of!(msg::Console, broken) as u64);
    mem.write_obj(broken, GuestAddress(field))
}

/// Write `outcome` into the header of the message at `gpa`, if the header
/// lies in guest RAM (a bad GPA gets no result: there is nowhere to put it).
pub fn write_result(mem: &GuestMemoryMmap, ram_size: u64, gpa: Gpa, outcome: Outcome) {
    let code = match outcome {
        Outcome::Ok => msg::RESULT_OK,
        Outcome::Invalid => msg::RESULT_INVALID,
        Outcome::Failed => msg::RESULT_FAILED,
    };
    let at = gpa.checked_add(std::mem::offset_of!(Header, result) as u64);
    let header_end = gpa.checked_add(size_of::<Header>() as u64);
    if let (Some(at), Some(end)) = (at, header_end)
        && end.raw() <= ram_size
        && gpa.raw().is_multiple_of(8)
    {
        let _ = mem.write_obj(code, GuestAddress(at.raw()));
    }
}

/// Write a whereis answer at `reply` (inside the question's message).
pub fn write_answer(
    mem: &GuestMemoryMmap,
    reply: Gpa,
    answer: &WhereisAnswer,
) -> Result<(), vm_memory::GuestMemoryError> {
    mem.write_slice(answer.as_bytes(), GuestAddress(reply.raw()))
}

/// Write the registers a debugger chose back into the guest's DebugTrap
/// message at `at` (the header too: the result is written after).
pub fn write_debug_trap(
    mem: &GuestMemoryMmap,
    at: Gpa,
    m: &msg::DebugTrap,
) -> Result<(), vm_memory::GuestMemoryError> {
    mem.write_slice(m.as_bytes(), GuestAddress(at.raw()))
}
