//! The run's first step, before anything touches KVM: check the numbers
//! and names the user gave (vCPUs, RAM, the command line, how many
//! programs), read and validate the guest kernel, and lay out in guest RAM
//! what goes after it (the `--run` programs, the `--files` tree, the
//! `--trace` ring). Bad input is therefore exit 2 on any host, KVM or not.

use crate::loader::program::Program;
use crate::{Config, EMBEDDED_GUEST, Error, Guest, addr, boot, files, loader, size, vcpus};
use abi::layout::{MAX_MODULES, MAX_RAM, MIN_RAM};

/// What the checks found and where everything will go in guest RAM.
pub(super) struct Inputs {
    /// How errors name the guest kernel.
    pub path: String,
    /// The kernel ELF: the embedded guest is read where it lies in the
    /// binary, not copied.
    pub bytes: std::borrow::Cow<'static, [u8]>,
    /// The `--run` programs, read, checked and laid out.
    pub staged: loader::program::Staged,
    /// The `--files` tree and where it goes.
    pub tree: Option<files::Staged>,
    /// Where the trace ring is, and whether it records system calls.
    pub trace_ring: Option<(addr::Gpa, bool)>,
    /// BootInfo.free_start: the first GPA nothing above has taken.
    pub free_start: addr::Gpa,
}

/// Check `cfg` and stage everything that goes into guest RAM besides the
/// kernel.
pub(super) fn prepare(cfg: &Config) -> Result<Inputs, Error> {
    if !(vcpus::MIN_CPUS..=vcpus::MAX_CPUS).contains(&cfg.cpus) {
        return Err(Error::Usage(format!(
            "--cpus {}: give a number of vCPUs from {} to {}",
            cfg.cpus,
            vcpus::MIN_CPUS,
            vcpus::MAX_CPUS
        )));
    }
    if !(MIN_RAM..=MAX_RAM).contains(&cfg.mem_size) || !cfg.mem_size.is_multiple_of(4096) {
        return Err(Error::Usage(format!(
            "--mem {}: guest RAM must be a multiple of 4 KiB between {} and {}",
            size::format_size(cfg.mem_size),
            size::format_size(MIN_RAM),
            size::format_size(MAX_RAM)
        )));
    }
    // The embedded guest is read where it lies in the binary, not copied.
    let (path, bytes): (String, std::borrow::Cow<[u8]>) = match &cfg.guest {
        Guest::Embedded => ("embedded guest".to_string(), EMBEDDED_GUEST.into()),
        Guest::File(p) => {
            // Its errors already name the file.
            let b = loader::read_guest_file(p).map_err(Error::GuestFile)?;
            (p.display().to_string(), b.into())
        }
    };
    // Validate before touching KVM, so bad input is exit 2 on any host.
    let kernel = loader::validate(&bytes, cfg.mem_size).map_err(|source| Error::Guest {
        path: path.clone(),
        source,
    })?;
    if cfg.cmdline.len() >= abi::layout::CMDLINE_MAX {
        return Err(Error::Boot(boot::BootError::CmdlineTooLong(
            cfg.cmdline.len(),
        )));
    }
    if cfg.programs.len() > MAX_MODULES {
        return Err(Error::Usage(format!(
            "--run given {} times; at most {MAX_MODULES} programs",
            cfg.programs.len()
        )));
    }
    if matches!(cfg.guest, Guest::Embedded) {
        check_cmdline(&cfg.cmdline, cfg.programs.len())?;
    }
    let staged = stage_programs(&cfg.programs, kernel.end, cfg.mem_size)?;
    // The tree goes after the modules; the programs' segments must still
    // fit beside it.
    let segments = staged
        .programs
        .iter()
        .fold(0u64, |s, p| s.saturating_add(p.memory));
    let tree = match &cfg.files {
        Some(dir) => Some(files::stage(dir, staged.free, segments, cfg.mem_size)?),
        None => None,
    };
    let free_start = tree.as_ref().map_or(staged.free, |t| t.free);
    // The trace ring goes last below free_start, where nothing frees it.
    let (trace_ring, free_start) = match cfg.trace {
        Some(syscalls) => {
            let end = free_start.raw().saturating_add(abi::trace::RING_BYTES);
            if end.saturating_add(MIN_RAM / 2) > cfg.mem_size {
                return Err(Error::Usage(format!(
                    "--trace needs {} of guest RAM for its ring beyond the programs: give more --mem",
                    size::format_size(abi::trace::RING_BYTES)
                )));
            }
            (Some((free_start, syscalls)), addr::Gpa(end))
        }
        None => (None, free_start),
    };
    Ok(Inputs {
        path,
        bytes,
        staged,
        tree,
        trace_ring,
        free_start,
    })
}

/// The demo kernel's command line: known programs, numeric arguments, no
/// more than its process table holds with the `modules` user programs.
fn check_cmdline(cmdline: &str, modules: usize) -> Result<(), Error> {
    use abi::programs::{MAX_PROCS, names, parse_word};
    let words: Vec<&str> = cmdline.split_ascii_whitespace().collect();
    if words.len() > MAX_PROCS {
        return Err(Error::Usage(format!(
            "--cmdline names {} programs; the guest runs at most {MAX_PROCS}",
            words.len()
        )));
    }
    if modules > 0 && words.len() + modules > MAX_PROCS {
        return Err(Error::Usage(format!(
            "--cmdline names {} programs and --run {modules}; the guest runs at most \
             {MAX_PROCS} processes",
            words.len()
        )));
    }
    for w in words {
        parse_word(w).map_err(|why| {
            Error::Usage(format!(
                "--cmdline '{w}': {why} (programs: {}; NAME or NAME:NUMBER)",
                names().collect::<Vec<_>>().join(" ")
            ))
        })?;
    }
    Ok(())
}

/// Read and check every user program and lay them out in guest RAM from
/// `kernel_end`; an error names the program's file.
fn stage_programs(
    programs: &[Program],
    kernel_end: addr::Gpa,
    ram_size: u64,
) -> Result<loader::program::Staged, Error> {
    loader::program::stage(programs, kernel_end, ram_size).map_err(|(i, source)| Error::Program {
        path: programs.get(i).map_or_else(String::new, Program::shown),
        source,
    })
}
