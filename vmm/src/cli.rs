//! The `microvmm` command line's flags (clap), for main.rs: each flag's
//! doc comment is its `--help` text. Parsing only: main.rs checks the
//! values and turns them into a `Config`.

use std::path::PathBuf;

use clap::Parser;
use microvmm::addr::Gva;
use microvmm::inspect::Verify;
use microvmm::irqchip::Irqchip;
use microvmm::memory::Backing;

/// Boot microvmm's own guest kernel under KVM and show where every page of
/// every guest process lives: guest-virtual -> guest-physical (the guest's
/// page tables) -> host-virtual (KVM memslots) -> host-physical (the host's
/// page tables), level by level, on whatever nested paging the host has
/// (EPT, NPT, shadow paging or PVM).
///
/// Run your own static Linux executables, one process each, as commands:
///   gcc -static -o hello hello.c
///   microvmm -q --run ./hello > out.txt          # out.txt: what hello printed
///   printf 'a b\n' | microvmm -q --run '/bin/busybox wc'
/// The first --run program reads microvmm's stdin; each program's stdout
/// and stderr are microvmm's; everything microvmm says goes to stderr.
///
/// Exit codes with --run (as a shell and docker run have them): the first
/// program's status (128+N when signal N killed it: 139 for a fault,
/// SIGSEGV; 134 for abort), or microvmm's own: 124 --timeout ran out; 125
/// microvmm failed (bad flag, a --files tree it cannot copy, KVM, the guest
/// kernel, an output it could not write, report errors such as a
/// KVM_TRANSLATE mismatch); 126 a --run file
/// cannot run (not a static x86-64 executable, too large); 127 a --run file
/// does not exist.
/// Without --run (the demo), as make: 0 the guest finished normally and the
/// report found no errors; 1 the guest or a process failed, the report found
/// errors, or KVM is unusable; 2 usage or input error (bad flag, bad guest
/// file, unknown program, a --files tree it cannot copy, unwritable output
/// file).
#[derive(Parser, Debug)]
#[command(name = "microvmm", version, about, long_about, verbatim_doc_comment)]
pub struct Cli {
    /// Guest kernel ELF to boot (ELF64 x86-64, static). Default: the
    /// embedded demo kernel.
    pub guest: Option<PathBuf>,
    /// Write the embedded guest kernel to FILE and exit (it also boots in
    /// QEMU: qemu-system-x86_64 -machine microvm -kernel FILE).
    #[arg(long, value_name = "FILE")]
    pub emit_guest: Option<PathBuf>,
    /// Guest RAM, with an optional K, M or G suffix (16M to 2G).
    #[arg(long, value_name = "SIZE", default_value = "128M")]
    pub mem: String,
    /// Stop the guest this many seconds after microvmm started (exit code
    /// 1); its report still goes out, and a stalled terminal is given up
    /// 1 s later. Default 10, or 86400 (a day) with --gdb.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub timeout: Option<f64>,
    /// How guest RAM is backed on the host: 4k pages, transparent huge
    /// pages (thp), or 2 MiB hugetlbfs pages (hugetlb).
    #[arg(long, value_name = "KIND", default_value = "4k")]
    pub backing: Backing,
    /// Page size the guest kernel gives heap (brk) and mmap areas where an
    /// aligned 2 MiB of the area is touched: 4k, or 2m (2 MiB pages, as if
    /// every program asked madvise(MADV_HUGEPAGE)).
    #[arg(long, value_name = "SIZE", default_value = "4k", value_parser = ["4k", "2m"])]
    pub guest_pages: String,
    /// Write the report as JSON to FILE, or to stdout with '-' (the guest's
    /// console and the text report then go to stderr).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// Draw each process's regions onto guest and host frames, and one 2D
    /// page walk, as an SVG picture.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write an interactive HTML page to FILE: every address space side by
    /// side, guest and host frames, and the 2D walk of any page you click
    /// (self-contained: opens from disk, fetches nothing).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write a timeline of the run to FILE as Chrome trace-event JSON (open
    /// it in ui.perfetto.dev or chrome://tracing): one track per guest
    /// process with its page faults (address, region, demand/copy-on-write/
    /// protection, frame, handler time), context switches, CR3 loads, TLB
    /// flushes, process start/exec/exit, and the VM exits the VMM served.
    /// The guest records into a ring in its own memory, drained at exits
    /// that happen anyway: no added exits; a full ring drops events and the
    /// report counts them. Takes 768 KiB of guest RAM.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// With --trace: every system call too (name, return value, time).
    #[arg(long)]
    pub trace_syscalls: bool,
    /// How often KVM's own counters are read while the vCPU runs, in µs
    /// (they are also read at every exit). Shorter: fewer intervals whose
    /// counts are "mixed" between two processes; each read wakes a host
    /// thread. 0: only at exits. At most 1000000.
    #[arg(long, value_name = "US", default_value_t = 1000)]
    pub kvm_sample_us: u64,
    /// List every mapped page in the report (default: each region's first
    /// and last page and a few samples).
    #[arg(long)]
    pub pages: bool,
    /// Also show the full 2D walk of this guest-virtual address (hex with
    /// 0x, or decimal) in every process that maps it, e.g. 0x400000.
    #[arg(long, value_name = "GVA", value_parser = parse_gva)]
    pub walk: Option<Gva>,
    /// Log dirty pages (KVM_MEM_LOG_DIRTY_PAGES) and attribute them to
    /// processes, page tables and the kernel after the run.
    #[arg(long)]
    pub dirty_log: bool,
    /// No in-kernel irqchip: no timer, so the guest schedules cooperatively
    /// (the same as --irqchip none).
    #[arg(long)]
    pub no_timer: bool,
    /// The irqchip KVM emulates: split (the LAPIC timer in the kernel, no
    /// PIC/IOAPIC: the default, quick to tear down), full (LAPIC, PIC and
    /// IOAPIC in the kernel: its teardown waits ~10 ms here), none.
    #[arg(long, value_name = "KIND", default_value = "split")]
    pub irqchip: Irqchip,
    /// vCPUs, 1 to 8, one host thread each. The guest brings the others up
    /// and parks them: its processes still run on vCPU 0 (no SMP scheduler
    /// yet); the report shows each vCPU's exits and time in KVM_RUN.
    #[arg(long, value_name = "N", default_value = "1")]
    pub cpus: u32,
    /// Which pages to cross-check with KVM_TRANSLATE (one ioctl each,
    /// ~6 us under PVM): sample (each region's first and last page and an
    /// even sample of at most 64 per process) or all (every mapped page).
    #[arg(long, value_name = "WHICH", default_value = "sample")]
    pub verify: Verify,
    /// The guest kernel's command line: programs to run, space separated,
    /// each NAME or NAME:NUMBER (addrspace heap stack snoop:0|1|2|3 spin:MS
    /// bench writek touch:MIB vector linuxabi fork). Default: the demo.
    #[arg(long, value_name = "PROGRAMS", default_value = "")]
    pub cmdline: String,
    /// Run a static Linux x86-64 executable (gcc -static or -static-pie,
    /// musl-gcc -static, Rust +crt-static) as a guest process; its words
    /// are split as a shell would, quotes included, and argv[0] is FILE as
    /// given. Repeat for more processes (at most 16); they start after the
    /// --cmdline programs, and without --cmdline no built-in program runs.
    /// Example: --run '/bin/busybox echo "hello world"'
    #[arg(long, value_name = "FILE [ARG...]")]
    pub run: Vec<String>,
    /// Pass the guest's console output to the terminal as raw bytes. By
    /// default control characters (escape sequences that could retitle the
    /// window, erase lines or type into your shell) are shown as \x1b.
    #[arg(long)]
    pub raw_console: bool,
    /// The CPU the guest is shown, in QEMU's syntax: host (what KVM offers)
    /// less each -FEATURE (or FEATURE=off). Features: la57, xsave, avx,
    /// avx512f, fsgsbase, pcid, pdpe1gb, nx; taking one takes what needs it
    /// (-xsave takes avx and avx512f). The guest adapts: 4-level paging
    /// without la57, FXSAVE without xsave on VMX/SVM hosts. Under PVM user
    /// code runs with the host's XCR0 whatever CPUID says, so the kernel
    /// still saves every register it can reach. KVM refusing a feature it
    /// offers (LA57 on Intel PVM hosts) is noted, not an error.
    #[arg(long, value_name = "host[,-FEATURE...]", default_value = "host")]
    pub cpu: microvmm::cpu::CpuMask,
    /// Set an environment variable for the --run programs: NAME=VALUE, or
    /// NAME alone for microvmm's own value (skipped when unset), as docker
    /// run -e. Repeatable; later ones win. The default environment is
    /// PATH=/usr/local/bin:/usr/bin:/bin, HOME=/, and TERM when stdout is a
    /// terminal.
    #[arg(long, value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Copy the host directory DIR into the guest as its root file tree, as
    /// an initramfs: regular files, directories and symlinks (kept as
    /// symlinks, never followed), read once at start-up; what the guest
    /// writes is discarded. The copy may take at most a quarter of --mem
    /// and 4096 entries (paths up to 1024 bytes, names up to 255). A FIFO,
    /// socket or device, an unreadable entry or a tree over the bound is
    /// refused before boot with one line naming the path (exit 2; 125
    /// with --run).
    #[arg(long, value_name = "DIR")]
    pub files: Option<PathBuf>,
    /// What the first --run program reads on fd 0: inherit (microvmm's own
    /// stdin, streamed: `printf 'a b\n' | microvmm --run '/bin/busybox wc'`)
    /// or none (end of file at once). Other processes read end of file.
    #[arg(long, value_name = "inherit|none", default_value = "inherit", value_parser = ["inherit", "none"])]
    pub stdin: String,
    /// Show --run programs' output as the built-ins' is shown: lines
    /// prefixed `[pid name]` among the kernel's, on microvmm's stdout (or
    /// stderr with --json -), instead of their own stdout and stderr.
    /// Useful to tell several programs apart.
    #[arg(long)]
    pub tag_output: bool,
    /// Debug the guest's processes with gdb: listen on PORT (127.0.0.1),
    /// HOST:PORT or unix:PATH before the guest's first instruction, and
    /// wait for `gdb -ex 'target remote ...'`. gdb first sees the guest
    /// stopped once every --run program is created and before any runs;
    /// each process is a gdb thread (info threads, thread N), memory is
    /// read through the selected process's own page tables; break, step,
    /// next, continue and Ctrl-C work (hbreak is refused: PVM ignores
    /// hardware breakpoints); monitor ps, monitor regions and monitor
    /// whereis ADDR show the processes and where a page lives. PORT 0
    /// picks a free port (printed). A detach or disconnect lets the guest
    /// run on to its report. See docs/gdb.md.
    #[arg(long, value_name = "PORT|HOST:PORT|unix:PATH")]
    pub gdb: Option<String>,
    /// Let --gdb listen on an address beyond loopback (0.0.0.0:PORT):
    /// whoever connects can read and write the guest.
    #[arg(long)]
    pub gdb_any_address: bool,
    /// Do not print the text report after the run (nor read KVM's
    /// counters, unless --json, --svg, --html or --trace asks for a report).
    #[arg(long, short)]
    pub quiet: bool,
}

/// A guest-virtual address: "0x..." hex or decimal.
fn parse_gva(s: &str) -> Result<Gva, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    r.map(Gva)
        .map_err(|_| format!("'{s}' is not an address (use hex like 0x400000, or decimal)"))
}
