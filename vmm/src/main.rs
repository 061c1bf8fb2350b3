//! The `microvmm` command line: parse, call the library, print, exit.

// Everything goes out through sink.rs, bounded by the run's deadline.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod cli;

use clap::Parser;
use cli::Cli;
use microvmm::irqchip::Irqchip;
use microvmm::outfile::OutFile;
use microvmm::sink::Sink;
use microvmm::{Config, Deadline, Guest, Program, report, size, vcpus};

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
    let timeout = match check(&cli, gdb.is_some()) {
        Ok(t) => t,
        Err(e) => return fail(early, e, usage),
    };
    let deadline = Deadline::new(start, Duration::from_secs_f64(timeout));
    let until = deadline.output();
    let (cfg, outputs) = match config(&cli, mem_size, gdb).and_then(|c| Ok((c, outputs(&cli)?))) {
        Ok(c) => c,
        Err(e) => return fail(until, e, usage),
    };
    if let Err(e) = microvmm::interrupt::install() {
        return fail(until, format!("cannot catch SIGINT/SIGTERM: {e}"), 1);
    }
    // With --run, microvmm behaves as a command: the first program's status
    // is its exit code; its stdout is the programs' (unless --tag-output),
    // and everything microvmm says goes to stderr. During the run, output
    // that stalls (| sleep 60) is given up when the guest's time is up;
    // after it, at the output deadline.
    let run_mode = !cfg.programs.is_empty();
    let json_stdout = cli.json.as_deref() == Some("-");
    let programs_direct = run_mode && !cli.tag_output;
    let human = move |until: Instant| -> Sink {
        if json_stdout || programs_direct {
            Sink::stderr(Some(until))
        } else {
            Sink::stdout(Some(until))
        }
    };
    let program_io = programs_direct.then(|| program_io(&cli, &cfg, &deadline));
    let outcome = match microvmm::run(
        &cfg,
        &deadline,
        Box::new(human(deadline.guest())),
        program_io,
    ) {
        Ok(o) => o,
        Err(e) => return fail(until, &e, e.exit_code_with(run_mode) as u8),
    };
    let code = write_report(&cli, &outcome, outputs, human(until), until, run_mode);
    tell(&outcome, until, run_mode);
    ExitCode::from(code)
}

/// The flags' values beyond what clap checks; the run's timeout, in
/// seconds.
fn check(cli: &Cli, gdb: bool) -> Result<f64, String> {
    let timeout = cli.timeout.unwrap_or(if gdb { 86400.0 } else { 10.0 });
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 86400.0) {
        return Err(format!(
            "--timeout {timeout}: give a number of seconds between 0 and 86400"
        ));
    }
    if !(vcpus::MIN_CPUS..=vcpus::MAX_CPUS).contains(&cli.cpus) {
        return Err(format!(
            "--cpus {}: give a number of vCPUs from {} to {}",
            cli.cpus,
            vcpus::MIN_CPUS,
            vcpus::MAX_CPUS
        ));
    }
    if cli.kvm_sample_us > 1_000_000 {
        return Err(format!(
            "--kvm-sample-us {}: give a number of microseconds up to 1000000",
            cli.kvm_sample_us
        ));
    }
    if cli.trace_syscalls && cli.trace.is_none() {
        return Err("--trace-syscalls needs --trace FILE".into());
    }
    if gdb && cli.cpus > 1 {
        return Err("--gdb works with one vCPU: leave out --cpus (or give --cpus 1)".into());
    }
    Ok(timeout)
}

/// The run's configuration from the flags: the guest, its RAM, the
/// programs and their environment, what to analyse and record.
fn config(
    cli: &Cli,
    mem_size: u64,
    gdb: Option<microvmm::gdb::conn::Listen>,
) -> Result<Config, String> {
    let programs = cli
        .run
        .iter()
        .map(|s| Program::parse(s))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let env = microvmm::loader::env::Environ::build(
        &cli.env,
        |k| std::env::var(k).ok(),
        io::stdout().is_terminal(),
    )
    .map_err(|e| e.to_string())?;
    let json_stdout = cli.json.as_deref() == Some("-");
    Ok(Config {
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
    })
}

/// Open the output files now: a bad path is a usage error (2), found
/// before the guest runs, not after it. Nothing is written until the
/// report exists, and then atomically.
fn outputs(cli: &Cli) -> Result<Vec<(OutFile, Render)>, String> {
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
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(outputs)
}

/// Where the `--run` programs' stdout and stderr go: microvmm's own.
fn program_io(
    cli: &Cli,
    cfg: &Config,
    deadline: &Deadline,
) -> microvmm::devices::console::ProgramIo {
    let escape = |tty: bool| tty && !cli.raw_console;
    microvmm::devices::console::ProgramIo {
        // --json - keeps stdout for the JSON: the programs' stdout
        // goes to stderr then.
        out: Box::new(if cli.json.as_deref() == Some("-") {
            Sink::stderr(Some(deadline.guest()))
        } else {
            Sink::stdout(Some(deadline.guest()))
        }),
        err: Box::new(Sink::stderr(Some(deadline.guest()))),
        // cfg.ttys already says where each stream really goes.
        escape_out: escape(cfg.ttys[1]),
        escape_err: escape(cfg.ttys[2]),
    }
}

/// Write the report: the files, JSON on stdout, the notes and the text
/// report (to `human`); returns the exit code, raised when an output
/// could not be written.
fn write_report(
    cli: &Cli,
    outcome: &microvmm::Outcome,
    outputs: Vec<(OutFile, Render)>,
    mut human: Sink,
    until: Instant,
    run_mode: bool,
) -> u8 {
    let json_stdout = cli.json.as_deref() == Some("-");
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
        match human.write_all(text.as_bytes()) {
            Ok(()) => {}
            // A closed pipe (| head) ends the text quietly.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                say(until, format!("cannot write the text report: {e}"));
                code = failed(code);
            }
        }
    }
    code
}

/// Why the run failed, on stderr: the outcome's failures, why the guest
/// stopped, how many errors the report lists.
fn tell(outcome: &microvmm::Outcome, until: Instant, run_mode: bool) {
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
