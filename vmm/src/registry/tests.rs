//! The registry's rules for process events, on real guest memory (no
//! /dev/kvm): a pid is created again only after execve, each image is
//! recorded, children inherit their parent's program, and an exiting
//! process's frames are compared with every other live process's.

use std::cell::Cell;

use super::*;
use crate::addr::{Gpa, Gva};
use crate::devices::event::{Exit, Prot, Region, Stream};
use crate::kvm_probe::Flavour;
use crate::memory::Backing;
use crate::paging::{Cr3, FlatMem, PageSize, PhysMem, PteFlags, TableBuilder};
use vm_memory::{Bytes, GuestAddress};

/// A vCPU in 4-level paging whose CR3 the test sets (the exiting
/// process's, as the guest's PROC_EXITING has it) and whose
/// KVM_TRANSLATE is the software walk.
struct FakeCpu<'r> {
    ram: &'r GuestRam,
    cr3: Cell<u64>,
}

impl Cpu for FakeCpu<'_> {
    fn paging_mode(&self) -> Option<PagingMode> {
        Some(PagingMode::four_level())
    }
    fn cr3(&self) -> Option<crate::paging::Cr3> {
        Some(Cr3(self.cr3.get()))
    }
    fn translate(&self, gva: Gva) -> Option<Gpa> {
        paging::walk(
            self.ram.mem(),
            self.cr3.get(),
            PagingMode::four_level(),
            gva,
        )
        .ok()
        .map(|t| t.gpa)
    }
}

fn opts() -> Options {
    Options {
        all_pages: false,
        max_checked: 64,
        flavour: Flavour::SvmNpt,
        walk: None,
        frames: false,
        host_levels: 4,
        tables: false,
        deadline: None,
    }
}

const RAM: u64 = 8 << 20;
const HEAP: u64 = 0x40_0000;

/// Tables for two processes in guest RAM: a parent at CR3 0x1000 (tables
/// below 1 MiB) mapping heap pages 0..4 on frames 0x40_0000.., and a child
/// at 0x10_0000 mapping heap pages 0..2 on the same frames and 2..4 on its
/// own. Returns the two CR3s.
fn two_spaces(ram: &GuestRam) -> (Cr3, Cr3) {
    let mode = PagingMode::four_level();
    let ro = PteFlags::US.union(PteFlags::NX);
    let mut b =
        TableBuilder::new(FlatMem::new(Gpa(0), RAM), mode, Gpa(0x1000)..Gpa(0x10_0000)).expect("b");
    for i in 0..4 {
        b.map(
            Gva(HEAP + i * 0x1000),
            Gpa(0x40_0000 + i * 0x1000),
            PageSize::Size4K,
            ro,
        )
        .expect("map");
    }
    let parent = Cr3(b.cr3());
    let mut c = TableBuilder::new(b.into_mem(), mode, Gpa(0x10_0000)..Gpa(0x20_0000)).expect("c");
    for i in 0..4 {
        let frame = if i < 2 { 0x40_0000 } else { 0x50_0000 };
        c.map(
            Gva(HEAP + i * 0x1000),
            Gpa(frame + i * 0x1000),
            PageSize::Size4K,
            ro,
        )
        .expect("map");
    }
    let child = Cr3(c.cr3());
    let mem = c.into_mem();
    // Only the tables need copying: the data frames are never read.
    for gpa in (0..0x20_0000u64).step_by(8) {
        let v = mem.read_u64(Gpa(gpa)).expect("in RAM");
        ram.mem().write_obj(v, GuestAddress(gpa)).expect("write");
    }
    (parent, child)
}

fn proc(pid: u32, ppid: u32, execs: u32, name: &str, cr3: Cr3, exit: Option<Exit>) -> ProcEvent {
    ProcEvent {
        pid,
        name: name.into(),
        ppid,
        execs,
        cr3,
        user_pgd: None,
        regions: vec![Region {
            kind: RegionKind::Heap,
            span: Gva(HEAP)..Gva(HEAP + 0x4000),
            prot: "rw-".parse::<Prot>().expect("rwx"),
            faults: 4,
            cow_faults: 2,
            file: None,
        }],
        stats: Default::default(),
        pattern: None,
        fs_base: 0,
        module: None,
        unknown_syscalls: Default::default(),
        exit,
    }
}

fn ram() -> GuestRam {
    GuestRam::new(RAM, Backing::FourK).expect("guest RAM")
}

/// Send `p` with the vCPU on its CR3, as the guest would.
fn send(r: &mut Registry, cpu: &FakeCpu, p: ProcEvent) {
    cpu.cr3.set(p.cr3.raw());
    r.proc(cpu, p);
}

/// An image that ended in execve is followed by the next, same pid; its
/// program (stdin, raw output) carries over; each image is recorded.
#[test]
fn exec_starts_the_next_image_of_the_same_pid() {
    let ram = ram();
    let (a, b) = two_spaces(&ram);
    let cpu = FakeCpu {
        ram: &ram,
        cr3: Cell::new(0),
    };
    let mut r = Registry::new(&ram, None, opts());
    let mut sh = proc(1, 0, 0, "sh", a, None);
    sh.module = Some(0);
    send(&mut r, &cpu, sh.clone());
    r.output(1, Stream::Stdout, b"from sh\n");
    send(&mut r, &cpu, proc(1, 0, 0, "sh", a, Some(Exit::Exec)));
    send(&mut r, &cpu, proc(1, 0, 1, "wc", b, None));
    assert_eq!(r.name(1), Some("wc"));
    assert!(
        r.is_program(1) && r.is_first_program(1),
        "still the first --run program"
    );
    r.output(1, Stream::Stdout, b"from wc\n");
    send(&mut r, &cpu, proc(1, 0, 1, "wc", b, Some(Exit::Status(3))));
    let rec = r.finish();
    assert_eq!(rec.errors, vec![]);
    let images: Vec<(u32, u32, &str, Option<Exit>)> = rec
        .procs
        .iter()
        .map(|p| {
            (
                p.created.pid,
                p.image,
                p.created.name.as_str(),
                p.exited.as_ref().and_then(|e| e.exit),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            (1, 0, "sh", Some(Exit::Exec)),
            (1, 1, "wc", Some(Exit::Status(3)))
        ]
    );
    assert_eq!(rec.procs[0].output, b"from sh\n");
    assert_eq!(rec.procs[1].output, b"from wc\n");
    assert!(rec.procs.iter().all(|p| p.analysis.is_some()));
}

/// A second creation is refused unless the pid's image ended in execve;
/// a wrong image count is said, and the VMM's own count kept.
#[test]
fn a_pid_is_created_again_only_after_exec() {
    let ram = ram();
    let (a, _) = two_spaces(&ram);
    let cpu = FakeCpu {
        ram: &ram,
        cr3: Cell::new(0),
    };
    let mut r = Registry::new(&ram, None, opts());
    send(&mut r, &cpu, proc(5, 0, 0, "x", a, None));
    send(&mut r, &cpu, proc(5, 0, 0, "x", a, None)); // still running
    send(&mut r, &cpu, proc(5, 0, 0, "x", a, Some(Exit::Status(0))));
    send(&mut r, &cpu, proc(5, 0, 1, "x", a, None)); // ended by exit
    send(&mut r, &cpu, proc(6, 0, 0, "y", a, None));
    send(&mut r, &cpu, proc(6, 0, 0, "y", a, Some(Exit::Exec)));
    send(&mut r, &cpu, proc(6, 0, 7, "z", a, None)); // says 7, is 1
    let rec = r.finish();
    let errors: Vec<String> = rec.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "guest protocol: pid 5 created twice",
            "guest protocol: pid 5 created twice",
            "guest protocol: pid 6 says it ran 7 images before this one; the VMM saw 1",
        ]
    );
    let z = rec.procs.last().expect("z");
    assert_eq!(
        (z.created.pid, z.image, z.created.name.as_str()),
        (6, 1, "z")
    );
    assert_eq!(rec.procs.len(), 3);
}

/// A child of a `--run` program is one of its processes (output, stdin);
/// the frames it still shares with its live parent are counted at its
/// exit, from the tables.
#[test]
fn a_child_shares_frames_with_its_live_parent() {
    let ram = ram();
    let (parent, child) = two_spaces(&ram);
    let cpu = FakeCpu {
        ram: &ram,
        cr3: Cell::new(0),
    };
    let mut r = Registry::new(&ram, None, opts());
    let mut p = proc(1, 0, 0, "forker", parent, None);
    p.module = Some(0);
    send(&mut r, &cpu, p);
    send(&mut r, &cpu, proc(2, 1, 0, "forker", child, None));
    assert!(r.is_program(2) && r.is_first_program(2));
    send(
        &mut r,
        &cpu,
        proc(2, 1, 0, "forker", child, Some(Exit::Status(0))),
    );
    // The parent exits after its child: nobody is left to share with.
    send(
        &mut r,
        &cpu,
        proc(1, 0, 0, "forker", parent, Some(Exit::Status(0))),
    );
    let rec = r.finish();
    assert_eq!(rec.errors, vec![]);
    let a = |i: usize| rec.procs[i].analysis.as_ref().expect("analysed");
    let child_a = a(1);
    assert_eq!(child_a.regions[0].shared_pages, Some(2));
    assert_eq!(child_a.regions[0].region.cow_faults, 2);
    let s = child_a.sharing.as_ref().expect("sharing");
    assert_eq!(s.shared_pages, Some(2));
    assert_eq!((s.with[0].pid, s.with[0].pages), (1, 2));
    assert_eq!(s.frames, [(Gpa(0x40_0000), 2)]);
    let parent_a = a(0);
    assert_eq!(parent_a.regions[0].shared_pages, Some(0));
    assert!(parent_a.sharing.as_ref().is_some_and(|s| s.with.is_empty()));
}

/// Past MAX_PROCESSES (a shell script running hundreds of commands)
/// processes are followed, not recorded: their program carries over to
/// their children and images, their exits are no error, and they are
/// counted.
#[test]
fn processes_past_the_cap_are_followed_and_counted_not_errors() {
    let ram = ram();
    let (a, _) = two_spaces(&ram);
    let cpu = FakeCpu {
        ram: &ram,
        cr3: Cell::new(0),
    };
    let mut r = Registry::new(&ram, None, opts());
    let mut sh = proc(1, 0, 0, "sh", a, None);
    sh.module = Some(0);
    send(&mut r, &cpu, sh);
    let last = super::MAX_PROCESSES as u32 + 10;
    for pid in 2..=last {
        send(&mut r, &cpu, proc(pid, 1, 0, "true", a, None));
        if pid == last {
            // Past the cap: still the first program's, through its parent.
            assert!(r.is_first_program(pid));
            send(&mut r, &cpu, proc(pid, 1, 0, "true", a, Some(Exit::Exec)));
            send(&mut r, &cpu, proc(pid, 1, 1, "wc", a, None));
            assert!(r.is_first_program(pid), "its next image too");
        }
        send(
            &mut r,
            &cpu,
            proc(pid, 1, 0, "true", a, Some(Exit::Status(0))),
        );
    }
    send(&mut r, &cpu, proc(1, 0, 0, "sh", a, Some(Exit::Status(0))));
    let rec = r.finish();
    assert_eq!(rec.errors, vec![]);
    assert_eq!(rec.procs.len(), super::MAX_PROCESSES);
    // 10 pids past the cap, plus the last one's second image.
    assert_eq!(rec.not_recorded, 11);
}

/// A process's threads are kept with its live image, once: a second list,
/// one after its exit, or one for a pid never created is a protocol error.
#[test]
fn threads_are_kept_once_with_the_live_image() {
    use crate::devices::threads::ThreadsEvent;
    let ram = ram();
    let (a, _) = two_spaces(&ram);
    let cpu = FakeCpu {
        ram: &ram,
        cr3: Cell::new(0),
    };
    let mut r = Registry::new(&ram, None, opts());
    let list = |pid| ThreadsEvent {
        pid,
        dropped: 1,
        ..Default::default()
    };
    send(&mut r, &cpu, proc(1, 0, 0, "t", a, None));
    r.threads(list(1));
    r.threads(list(1));
    send(&mut r, &cpu, proc(1, 0, 0, "t", a, Some(Exit::Status(0))));
    r.threads(list(1));
    r.threads(list(9));
    let rec = r.finish();
    let errors: Vec<String> = rec.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "guest protocol: threads of pid 1 sent with no live image to take them (unknown, exited, or sent twice)",
            "guest protocol: threads of pid 1 sent with no live image to take them (unknown, exited, or sent twice)",
            "guest protocol: threads of pid 9 sent with no live image to take them (unknown, exited, or sent twice)",
        ]
    );
    assert_eq!(rec.procs[0].threads.as_ref().map(|t| t.dropped), Some(1));
}
