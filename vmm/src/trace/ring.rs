//! The VMM's side of the trace ring (abi::trace): lay out its header
//! before boot, drain its records while the vCPU is stopped, and decode
//! each one into an [`Event`]. The ring is the guest's: its `head` is
//! checked against what the VMM has already taken, and what the VMM keeps
//! is bounded.

use abi::trace::*;
use vm_memory::{Bytes, GuestAddress, GuestMemoryError, GuestMemoryMmap};

use crate::addr::Gpa;

/// Most events the VMM keeps from one run (about 18 MiB; the trace file
/// is written from them one at a time): the rest are counted as dropped.
pub const MAX_EVENTS: usize = 1 << 18;
/// Most VM exits the VMM keeps in the trace.
pub const MAX_EXITS: usize = 1 << 18;

/// Write the ring's header at `gpa` (the ring's RAM is zero: a fresh VM).
pub fn prepare(mem: &GuestMemoryMmap, gpa: Gpa, syscalls: bool) -> Result<(), GuestMemoryError> {
    let h = RingHeader {
        magic: RING_MAGIC,
        capacity: RING_CAPACITY,
        flags: if syscalls { TRACE_SYSCALLS } else { 0 },
        ..RingHeader::default()
    };
    let mut b = Vec::with_capacity(64);
    for w in [h.magic, u64::from(h.capacity) | (u64::from(h.flags) << 32)] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    mem.write_slice(&b, GuestAddress(gpa.raw()))
}

/// How a page fault ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A not-present page demand-paged in.
    Demand,
    /// A write to a copy-on-write page.
    CopyOnWrite,
    /// A present page the access may not make (the process was killed).
    Protection,
    /// A page the process may not have (killed).
    Invalid,
    /// A value the protocol does not define.
    Unknown(u16),
}

impl FaultKind {
    /// Its name in the trace.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Demand => "demand",
            FaultKind::CopyOnWrite => "copy-on-write",
            FaultKind::Protection => "protection",
            FaultKind::Invalid => "invalid",
            FaultKind::Unknown(_) => "unknown",
        }
    }
}

/// One decoded trace event; `tsc` is the guest's TSC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A user page fault and its handler.
    Fault {
        /// When the handler began.
        tsc: u64,
        /// The process.
        pid: u32,
        /// The faulting address.
        gva: u64,
        /// The frame mapped there after (None: none).
        frame: Option<u64>,
        /// TSC cycles the handler took.
        cycles: u64,
        /// The region's kind name ("heap"; "none" outside every region).
        region: &'static str,
        /// How it ended.
        kind: FaultKind,
    },
    /// The vCPU switched from `from` to `pid`, loading `cr3`.
    Switch {
        /// When.
        tsc: u64,
        /// The process now running.
        pid: u32,
        /// The one before (0: the kernel).
        from: u32,
        /// Its page-table root.
        cr3: u64,
    },
    /// A CR3 load outside a switch (execve).
    Cr3 {
        /// When.
        tsc: u64,
        /// The process.
        pid: u32,
        /// The root loaded.
        cr3: u64,
    },
    /// A TLB flush of the current address space.
    Flush {
        /// When.
        tsc: u64,
        /// The process.
        pid: u32,
        /// Its CR3.
        cr3: u64,
        /// One page's address, or None: the whole address space.
        page: Option<u64>,
    },
    /// Process start (a = ppid), exec, or exit (a = status).
    Proc {
        /// When.
        tsc: u64,
        /// The process.
        pid: u32,
        /// "process start", "exec" or "process exit".
        what: &'static str,
        /// The parent (start) or the exit status (exit).
        value: u64,
    },
    /// A system call and its handler.
    Syscall {
        /// When the handler began.
        tsc: u64,
        /// The process.
        pid: u32,
        /// Its number.
        nr: u64,
        /// What it returned; None when it switched away or blocked.
        ret: Option<i64>,
        /// TSC cycles the handler took.
        cycles: u64,
    },
}

impl Event {
    /// The guest TSC it happened at.
    pub fn tsc(&self) -> u64 {
        match *self {
            Event::Fault { tsc, .. }
            | Event::Switch { tsc, .. }
            | Event::Cr3 { tsc, .. }
            | Event::Flush { tsc, .. }
            | Event::Proc { tsc, .. }
            | Event::Syscall { tsc, .. } => tsc,
        }
    }
}

/// Decode one record; None for a kind the protocol does not define.
pub fn decode(r: &Record) -> Option<Event> {
    let (tsc, pid) = (r.tsc, r.pid);
    Some(match r.kind {
        EV_FAULT => Event::Fault {
            tsc,
            pid,
            gva: r.a,
            frame: (r.b != 0).then_some(r.b),
            cycles: r.c,
            region: if r.d == 0 {
                "none"
            } else {
                abi::msg::region_name(u32::try_from(r.d).unwrap_or(u32::MAX))
            },
            kind: match r.sub {
                FAULT_DEMAND => FaultKind::Demand,
                FAULT_COW => FaultKind::CopyOnWrite,
                FAULT_PROTECTION => FaultKind::Protection,
                FAULT_INVALID => FaultKind::Invalid,
                k => FaultKind::Unknown(k),
            },
        },
        EV_SWITCH => Event::Switch {
            tsc,
            pid,
            from: r.a as u32,
            cr3: r.b,
        },
        EV_CR3 => Event::Cr3 { tsc, pid, cr3: r.a },
        EV_FLUSH => Event::Flush {
            tsc,
            pid,
            cr3: r.a,
            page: (r.sub == FLUSH_PAGE).then_some(r.b),
        },
        EV_PROC => Event::Proc {
            tsc,
            pid,
            what: match r.sub {
                PROC_START => "process start",
                PROC_EXEC => "exec",
                PROC_EXIT => "process exit",
                _ => return None,
            },
            value: r.a,
        },
        EV_SYSCALL => Event::Syscall {
            tsc,
            pid,
            nr: r.a,
            ret: (r.sub == 0).then_some(r.b as i64),
            cycles: r.c,
        },
        _ => return None,
    })
}

/// A VM exit the VMM served: host wall clock (ns since the epoch), the
/// process the guest's running record named, the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmExit {
    /// When (CLOCK_REALTIME, ns).
    pub ns: u64,
    /// The process running (0: the kernel).
    pub pid: u32,
    /// The I/O port.
    pub port: u16,
}

/// What a traced run recorded.
#[derive(Clone, Debug, Default)]
pub struct TraceLog {
    /// Decoded events, in the order the guest wrote them.
    pub events: Vec<Event>,
    /// VM exits the VMM served.
    pub exits: Vec<VmExit>,
    /// Records the guest dropped (its ring was full).
    pub guest_dropped: u64,
    /// Records or exits the VMM did not keep: past its bounds, lost to a
    /// guest that moved `head` too far, or of unknown kind.
    pub vmm_dropped: u64,
}

/// The VMM's reader of the ring at `gpa`.
#[derive(Debug)]
pub struct Drain {
    gpa: u64,
    taken: u64,
    log: TraceLog,
}

fn word(mem: &GuestMemoryMmap, gpa: u64) -> Option<u64> {
    mem.read_obj::<u64>(GuestAddress(gpa)).ok()
}

impl Drain {
    /// A reader of the ring `prepare` laid out at `gpa`.
    pub fn new(gpa: Gpa) -> Drain {
        Drain {
            gpa: gpa.raw(),
            taken: 0,
            log: TraceLog::default(),
        }
    }

    /// Note an exit the VMM serves.
    pub fn exit(&mut self, e: VmExit) {
        if self.log.exits.len() < MAX_EXITS {
            self.log.exits.push(e);
        } else {
            self.log.vmm_dropped += 1;
        }
    }

    /// Take every record the guest wrote since the last drain (the vCPU
    /// is stopped) and free their slots.
    pub fn drain(&mut self, mem: &GuestMemoryMmap) {
        let cap = u64::from(RING_CAPACITY);
        let Some(head) = word(mem, self.gpa + 16) else {
            return;
        };
        let mut n = head.wrapping_sub(self.taken);
        if n > cap {
            // A guest that moved head past what the ring holds: the oldest
            // slots were overwritten; keep the newest `cap`.
            self.log.vmm_dropped = self.log.vmm_dropped.saturating_add(n - cap);
            self.taken = head.wrapping_sub(cap);
            n = cap;
        }
        let base = self.gpa + 64;
        for k in 0..n {
            let slot = self.taken.wrapping_add(k) % cap;
            let mut b = [0u8; RECORD_BYTES as usize];
            if mem
                .read_slice(&mut b, GuestAddress(base + slot * RECORD_BYTES))
                .is_err()
            {
                self.log.vmm_dropped += 1;
                continue;
            }
            let w = |i: usize| {
                let mut x = [0u8; 8];
                x.copy_from_slice(&b[i..i + 8]);
                u64::from_le_bytes(x)
            };
            let r = Record {
                tsc: w(0),
                kind: w(8) as u16,
                sub: (w(8) >> 16) as u16,
                pid: (w(8) >> 32) as u32,
                a: w(16),
                b: w(24),
                c: w(32),
                d: w(40),
            };
            match decode(&r) {
                Some(e) if self.log.events.len() < MAX_EVENTS => self.log.events.push(e),
                _ => self.log.vmm_dropped += 1,
            }
        }
        self.taken = head;
        let _ = mem.write_obj(head, GuestAddress(self.gpa + 24));
        if let Some(d) = word(mem, self.gpa + 32) {
            self.log.guest_dropped = d;
        }
    }

    /// The run is over: drain the rest, and hand over what was recorded.
    pub fn finish(mut self, mem: &GuestMemoryMmap) -> TraceLog {
        self.drain(mem);
        self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_to_events() {
        let r = Record {
            tsc: 10,
            kind: EV_FAULT,
            sub: FAULT_COW,
            pid: 3,
            a: 0x1000,
            b: 0x5000,
            c: 99,
            d: u64::from(abi::msg::REGION_HEAP),
        };
        assert_eq!(
            decode(&r),
            Some(Event::Fault {
                tsc: 10,
                pid: 3,
                gva: 0x1000,
                frame: Some(0x5000),
                cycles: 99,
                region: "heap",
                kind: FaultKind::CopyOnWrite
            })
        );
        let bad = Record {
            kind: 77,
            ..Record::default()
        };
        assert_eq!(decode(&bad), None);
        let odd = Record {
            kind: EV_PROC,
            sub: 9,
            ..Record::default()
        };
        assert_eq!(decode(&odd), None);
    }
}
