//! The `microvmm` command line: parse, call the library, print, exit.

// Everything goes out through sink.rs, bounded by the run's deadline.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use microvmm::addr::Gva;
use microvmm::inspect::Verify;
use microvmm::irqchip::Irqchip;
use microvmm::memory::Backing;
use microvmm::outfile::OutFile;
use microvmm::sink::Sink;
use microvmm::{Config, Deadline, Guest, Program, report, size, vcpus};

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
struct Cli {
    /// Guest kernel ELF to boot (ELF64 x86-64, static). Default: the
    /// embedded demo kernel.
    guest: Option<PathBuf>,
    /// Write the embedded guest kernel to FILE and exit (it also boots in
    /// QEMU: qemu-system-x86_64 -machine microvm -kernel FILE).
    #[arg(long, value_name = "FILE")]
    emit_guest: Option<PathBuf>,
    /// Guest RAM, with an optional K, M or G suffix (16M to 2G).
    #[arg(long, value_name = "SIZE", default_value = "128M")]
    mem: String,
    /// Stop the guest this many seconds after microvmm started (exit code
    /// 1); its report still goes out, and a stalled terminal is given up
    /// 1 s later. Default 10, or 86400 (a day) with --gdb.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    timeout: Option<f64>,
    /// How guest RAM is backed on the host: 4k pages, transparent huge
    /// pages (thp), or 2 MiB hugetlbfs pages (hugetlb).
    #[arg(long, value_name = "KIND", default_value = "4k")]
    backing: Backing,
    /// Page size the guest kernel gives heap (brk) and mmap areas where an
    /// aligned 2 MiB of the area is touched: 4k, or 2m (2 MiB pages, as if
    /// every program asked madvise(MADV_HUGEPAGE)).
    #[arg(long, value_name = "SIZE", default_value = "4k", value_parser = ["4k", "2m"])]
    guest_pages: String,
    /// Write the report as JSON to FILE, or to stdout with '-' (the guest's
    /// console and the text report then go to stderr).
    #[arg(long, value_name = "FILE|-")]
    json: Option<String>,
    /// Draw each process's regions onto guest and host frames, and one 2D
    /// page walk, as an SVG picture.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Write an interactive HTML page to FILE: every address space side by
    /// side, guest and host frames, and the 2D walk of any page you click
    /// (self-contained: opens from disk, fetches nothing).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write a timeline of the run to FILE as Chrome trace-event JSON (open
    /// it in ui.perfetto.dev or chrome://tracing): one track per guest
    /// process with its page faults (address, region, demand/copy-on-write/
    /// protection, frame, handler time), context switches, CR3 loads, TLB
    /// flushes, process start/exec/exit, and the VM exits the VMM served.
    /// The guest records into a ring in its own memory, drained at exits
    /// that happen anyway: no added exits; a full ring drops events and the
    /// report counts them. Takes 768 KiB of guest RAM.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// With --trace: every system call too (name, return value, time).
    #[arg(long)]
    trace_syscalls: bool,
    /// How often KVM's own counters are read while the vCPU runs, in µs
    /// (they are also read at every exit). Shorter: fewer intervals whose
    /// counts are "mixed" between two processes; each read wakes a host
    /// thread. 0: only at exits. At most 1000000.
    #[arg(long, value_name = "US", default_value_t = 1000)]
    kvm_sample_us: u64,
    /// List every mapped page in the report (default: each region's first
    /// and last page and a few samples).
    #[arg(long)]
    pages: bool,
    /// Also show the full 2D walk of this guest-virtual address (hex with
    /// 0x, or decimal) in every process that maps it, e.g. 0x400000.
    #[arg(long, value_name = "GVA", value_parser = parse_gva)]
    walk: Option<Gva>,
    /// Log dirty pages (KVM_MEM_LOG_DIRTY_PAGES) and attribute them to
    /// processes, page tables and the kernel after the run.
    #[arg(long)]
    dirty_log: bool,
    /// No in-kernel irqchip: no timer, so the guest schedules cooperatively
    /// (the same as --irqchip none).
    #[arg(long)]
    no_timer: bool,
    /// The irqchip KVM emulates: split (the LAPIC timer in the kernel, no
    /// PIC/IOAPIC: the default, quick to tear down), full (LAPIC, PIC and
    /// IOAPIC in the kernel: its teardown waits ~10 ms here), none.
    #[arg(long, value_name = "KIND", default_value = "split")]
    irqchip: Irqchip,
    /// vCPUs, 1 to 8, one host thread each. The guest brings the others up
    /// and parks them: its processes still run on vCPU 0 (no SMP scheduler
    /// yet); the report shows each vCPU's exits and time in KVM_RUN.
    #[arg(long, value_name = "N", default_value = "1")]
    cpus: u32,
    /// Which pages to cross-check with KVM_TRANSLATE (one ioctl each,
    /// ~6 us under PVM): sample (each region's first and last page and an
    /// even sample of at most 64 per process) or all (every mapped page).
    #[arg(long, value_name = "WHICH", default_value = "sample")]
    verify: Verify,
    /// The guest kernel's command line: programs to run, space separated,
    /// each NAME or NAME:NUMBER (addrspace heap stack snoop:0|1|2|3 spin:MS
    /// bench writek touch:MIB vector linuxabi fork). Default: the demo.
    #[arg(long, value_name = "PROGRAMS", default_value = "")]
    cmdline: String,
    /// Run a static Linux x86-64 executable (gcc -static or -static-pie,
    /// musl-gcc -static, Rust +crt-static) as a guest process; its words
    /// are split as a shell would, quotes included, and argv[0] is FILE as
    /// given. Repeat for more processes (at most 16); they start after the
    /// --cmdline programs, and without --cmdline no built-in program runs.
    /// Example: --run '/bin/busybox echo "hello world"'
    #[arg(long, value_name = "FILE [ARG...]")]
    run: Vec<String>,
    /// Pass the guest's console output to the terminal as raw bytes. By
    /// default control characters (escape sequences that could retitle the
    /// window, erase lines or type into your shell) are shown as \x1b.
    #[arg(long)]
    raw_console: bool,
    /// The CPU the guest is shown, in QEMU's syntax: host (what KVM offers)
    /// less each -FEATURE (or FEATURE=off). Features: la57, xsave, avx,
    /// avx512f, fsgsbase, pcid, pdpe1gb, nx; taking one takes what needs it
    /// (-xsave takes avx and avx512f). The guest adapts: 4-level paging
    /// without la57, FXSAVE without xsave on VMX/SVM hosts. Under PVM user
    /// code runs with the host's XCR0 whatever CPUID says, so the kernel
    /// still saves every register it can reach. KVM refusing a feature it
    /// offers (LA57 on Intel PVM hosts) is noted, not an error.
    #[arg(long, value_name = "host[,-FEATURE...]", default_value = "host")]
    cpu: microvmm::cpu::CpuMask,
    /// Set an environment variable for the --run programs: NAME=VALUE, or
    /// NAME alone for microvmm's own value (skipped when unset), as docker
    /// run -e. Repeatable; later ones win. The default environment is
    /// PATH=/usr/local/bin:/usr/bin:/bin, HOME=/, and TERM when stdout is a
    /// terminal.
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Copy the host directory DIR into the guest as its root file tree, as
    /// an initramfs: regular files, directories and symlinks (kept as
    /// symlinks, never followed), read once at start-up; what the guest
    /// writes is discarded. The copy may take at most a quarter of --mem
    /// and 4096 entries (paths up to 1024 bytes, names up to 255). A FIFO,
    /// socket or device, an unreadable entry or a tree over the bound is
    /// refused before boot with one line naming the path (exit 2; 125
    /// with --run).
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// What the first --run program reads on fd 0: inherit (microvmm's own
    /// stdin, streamed: `printf 'a b\n' | microvmm --run '/bin/busybox wc'`)
    /// or none (end of file at once). Other processes read end of file.
    #[arg(long, value_name = "inherit|none", default_value = "inherit", value_parser = ["inherit", "none"])]
    stdin: String,
    /// Show --run programs' output as the built-ins' is shown: lines
    /// prefixed `[pid name]` among the kernel's, on microvmm's stdout (or
    /// stderr with --json -), instead of their own stdout and stderr.
    /// Useful to tell several programs apart.
    #[arg(long)]
    tag_output: bool,
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
    gdb: Option<String>,
    /// Let --gdb listen on an address beyond loopback (0.0.0.0:PORT):
    /// whoever connects can read and write the guest.
    #[arg(long)]
    gdb_any_address: bool,
    /// Do not print the text report after the run (nor read KVM's
    /// counters, unless --json, --svg, --html or --trace asks for a report).
    #[arg(long, short)]
    quiet: bool,
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

/// Say one line on stderr, giving up at `until` (the run's output
/// deadline) if stderr stalls; a closed stderr is no error.
fn say(until: Instant, msg: impl std::fmt::Display) {
    let _ = writeln!(Sink::stderr(Some(until)), "microvmm: {msg}");
}

fn fail(until: Instant, msg: impl std::fmt::Display, code: u8) -> ExitCode {
    say(until, msg);
    ExitCode::from(code)
}

fn main() -> ExitCode {
    // The run's one deadline counts from here (deadline.rs); lines said
    // before --timeout is known get the grace alone.
    let start = Instant::now();
    let early = Deadline::new(start, Duration::ZERO).output();
    // With --run, microvmm's own failures take docker run's codes (125,
    // 126, 127), which a program's status is unlikely to be; else 2.
    let usage = if std::env::args_os().any(|a| {
        a.to_str()
            .is_some_and(|a| a == "--run" || a.starts_with("--run="))
    }) {
        microvmm::exit_code::FAILED as u8
    } else {
        2
    };
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version: print, exit 0
        Err(e) => {
            // clap's message is several lines; keep the reason on one.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad usage")
                .trim_start_matches("error: ");
            return fail(early, format!("{first} (see microvmm --help)"), usage);
        }
    };
    if let Some(path) = &cli.emit_guest {
        return match std::fs::write(path, microvmm::EMBEDDED_GUEST) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(early, format!("cannot write {}: {e}", path.display()), 2),
        };
    }
    let mem_size = match size::parse_size(&cli.mem) {
        Ok(s) => s,
        Err(e) => return fail(early, format!("--mem: {e}"), usage),
    };
    let gdb = match cli.gdb.as_deref() {
        Some(g) => match microvmm::gdb::conn::Listen::parse(g, cli.gdb_any_address) {
            Ok(l) => Some(l),
            Err(e) => return fail(early, e, usage),
        },
        None => None,
    };
    let timeout = cli
        .timeout
        .unwrap_or(if gdb.is_some() { 86400.0 } else { 10.0 });
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 86400.0) {
        return fail(
            early,
            format!("--timeout {timeout}: give a number of seconds between 0 and 86400"),
            usage,
        );
    }
    if !(vcpus::MIN_CPUS..=vcpus::MAX_CPUS).contains(&cli.cpus) {
        return fail(
            early,
            format!(
                "--cpus {}: give a number of vCPUs from {} to {}",
                cli.cpus,
                vcpus::MIN_CPUS,
                vcpus::MAX_CPUS
            ),
            usage,
        );
    }
    if cli.kvm_sample_us > 1_000_000 {
        return fail(
            early,
            format!(
                "--kvm-sample-us {}: give a number of microseconds up to 1000000",
                cli.kvm_sample_us
            ),
            usage,
        );
    }
    if cli.trace_syscalls && cli.trace.is_none() {
        return fail(early, "--trace-syscalls needs --trace FILE", usage);
    }
    if gdb.is_some() && cli.cpus > 1 {
        return fail(
            early,
            "--gdb works with one vCPU: leave out --cpus (or give --cpus 1)",
            usage,
        );
    }
    let deadline = Deadline::new(start, Duration::from_secs_f64(timeout));
    let until = deadline.output();
    let programs = match cli.run.iter().map(|s| Program::parse(s)).collect() {
        Ok(p) => p,
        Err(e) => return fail(until, e, usage),
    };
    let env = match microvmm::loader::env::Environ::build(
        &cli.env,
        |k| std::env::var(k).ok(),
        io::stdout().is_terminal(),
    ) {
        Ok(e) => e,
        Err(e) => return fail(until, e, usage),
    };
    let json_stdout = cli.json.as_deref() == Some("-");
    let cfg = Config {
        guest: cli.guest.clone().map_or(Guest::Embedded, Guest::File),
        mem_size,
        backing: cli.backing,
        guest_huge: cli.guest_pages == "2m",
        dirty_log: cli.dirty_log,
        irqchip: if cli.no_timer {
            Irqchip::None
        } else {
            cli.irqchip
        },
        cmdline: cli.cmdline.clone(),
        raw_console: cli.raw_console,
        programs,
        all_pages: cli.pages,
        verify: cli.verify,
        walk: cli.walk,
        // The page walks any page in the browser: it needs the tables.
        page_tables: cli.html.is_some(),
        cpu: cli.cpu.clone(),
        env,
        stdin: cli.stdin == "inherit",
        quiet_console: cli.quiet && !cli.run.is_empty() && !cli.tag_output,
        // Where the programs' streams really go (stdout: stderr with --json -).
        ttys: [
            io::stdin().is_terminal(),
            if json_stdout {
                io::stderr().is_terminal()
            } else {
                io::stdout().is_terminal()
            },
            io::stderr().is_terminal(),
        ],
        files: cli.files.clone(),
        cpus: cli.cpus,
        // The HTML page draws the timeline too.
        trace: (cli.trace.is_some() || cli.html.is_some()).then_some(cli.trace_syscalls),
        kvm_sample: Duration::from_micros(cli.kvm_sample_us),
        // Nothing shows them under -q without a report file.
        kvm_counters: !cli.quiet
            || cli.json.is_some()
            || cli.svg.is_some()
            || cli.html.is_some()
            || cli.trace.is_some(),
        gdb,
    };
    // Check the output files now: a bad path is a usage error (2), found
    // before the guest runs, not after it. Nothing is written until the
    // report exists, and then atomically.
    let json_file = cli.json.as_deref().filter(|p| *p != "-").map(Path::new);
    let mut outputs: Vec<(OutFile, Render)> = Vec::new();
    for (path, render) in [
        (json_file, render_json as Render),
        (cli.svg.as_deref(), render_svg as Render),
        (cli.html.as_deref(), render_html as Render),
        (cli.trace.as_deref(), render_trace as Render),
    ] {
        if let Some(p) = path {
            match OutFile::open(p) {
                Ok(f) => outputs.push((f, render)),
                Err(e) => return fail(until, e, usage),
            }
        }
    }
    if let Err(e) = microvmm::interrupt::install() {
        return fail(until, format!("cannot catch SIGINT/SIGTERM: {e}"), 1);
    }
    // During the run, output that stalls (| sleep 60) is given up when the
    // guest's time is up; after it, at the output deadline.
    // With --run, stdout is the programs': everything microvmm says goes
    // to stderr.
    // With --run, microvmm behaves as a command: the first program's status
    // is its exit code; its stdout is the programs' (unless --tag-output).
    let run_mode = !cfg.programs.is_empty();
    let programs_direct = run_mode && !cli.tag_output;
    let human = move |until: Instant| -> Sink {
        if json_stdout || programs_direct {
            Sink::stderr(Some(until))
        } else {
            Sink::stdout(Some(until))
        }
    };
    let program_io = programs_direct.then(|| {
        let escape = |tty: bool| tty && !cli.raw_console;
        microvmm::devices::console::ProgramIo {
            // --json - keeps stdout for the JSON: the programs' stdout
            // goes to stderr then.
            out: Box::new(if json_stdout {
                Sink::stderr(Some(deadline.guest()))
            } else {
                Sink::stdout(Some(deadline.guest()))
            }),
            err: Box::new(Sink::stderr(Some(deadline.guest()))),
            // cfg.ttys already says where each stream really goes.
            escape_out: escape(cfg.ttys[1]),
            escape_err: escape(cfg.ttys[2]),
        }
    });
    let outcome = match microvmm::run(
        &cfg,
        &deadline,
        Box::new(human(deadline.guest())),
        program_io,
    ) {
        Ok(o) => o,
        Err(e) => return fail(until, &e, e.exit_code_with(run_mode) as u8),
    };
    let mut code = outcome.exit_code() as u8;
    // An output microvmm could not write is its own failure.
    let failed = |code: u8| {
        if run_mode {
            microvmm::exit_code::FAILED as u8
        } else {
            code.max(1)
        }
    };
    // Files first: a stalled terminal must not take their time.
    for (file, render) in outputs {
        if let Err(e) = file.write(Some(until), |w| render(&outcome.report, w)) {
            say(until, e);
            code = failed(code);
        }
    }
    if json_stdout
        && let Err(e) = report::json::write(&outcome.report, Sink::stdout(Some(until)))
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        say(until, format!("cannot write the JSON report: {e}"));
        code = failed(code);
    }
    // A note, not a verdict: -q leaves it to the JSON (host.cpu_refused).
    for r in outcome
        .report
        .host
        .cpu_refused
        .iter()
        .filter(|_| !cli.quiet)
    {
        say(
            until,
            format!(
                "note: KVM refused {}; the guest runs without it ({})",
                r.feature, r.why
            ),
        );
    }
    if let Some(line) = outcome.unknown_ports.summary() {
        say(until, line);
    }
    if !cli.quiet {
        let text = report::text::render(&outcome.report);
        match human(until).write_all(text.as_bytes()) {
            Ok(()) => {}
            // A closed pipe (| head) ends the text quietly.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                say(until, format!("cannot write the text report: {e}"));
                code = failed(code);
            }
        }
    }
    for f in outcome.failures() {
        say(until, f);
    }
    // With --run, a program's failure is its own status; the guest's
    // "a process failed" shutdown would only repeat it.
    let repeats = run_mode
        && matches!(
            outcome.stop,
            microvmm::vcpu::Stop::Shutdown(abi::status::PROCESS_FAILED)
        );
    if !outcome.stop.is_ok() && !repeats {
        say(until, &outcome.stop);
    }
    if outcome.has_errors() {
        say(
            until,
            format!(
                "the report lists {} error(s) (see its end, or \"errors\" in the JSON)",
                outcome.report.errors.len()
            ),
        );
    }
    ExitCode::from(code)
}

/// Writes one rendering of the report.
type Render = fn(&report::Report, &mut dyn Write) -> io::Result<()>;

fn render_json(r: &report::Report, w: &mut dyn Write) -> io::Result<()> {
    report::json::write(r, w)
}

fn render_svg(r: &report::Report, w: &mut dyn Write) -> io::Result<()> {
    w.write_all(report::svg::render(r).as_bytes())
}

fn render_html(r: &report::Report, w: &mut dyn Write) -> io::Result<()> {
    report::html::write(r, w)
}

fn render_trace(r: &report::Report, w: &mut dyn Write) -> io::Result<()> {
    match &r.trace_log {
        Some(t) => microvmm::trace::chrome::write(&t.log, t.clock, &t.names, w),
        None => w.write_all(b"{\"traceEvents\":[]}\n"),
    }
}
