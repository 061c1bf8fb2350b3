//! `--run 'FILE [ARG...]'`, the input side: every file that is not a static
//! x86-64 executable, and every argument that does not fit, is refused on
//! the host with one line naming the file (exit 2) before KVM is opened.

mod common;
use common::*;

#[test]
fn help_explains_run_with_an_example() {
    let r = microvmm(&["--help"], 0);
    for words in [
        "--run <FILE [ARG...]>",
        "gcc -static",
        "split as a shell would",
        "--run ./hello > out.txt",
        "Exit codes with --run",
        "127 a --run file",
    ] {
        assert!(
            r.stdout.contains(words),
            "--help lacks {words}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn files_that_are_not_programs() {
    // Not found: 127, as a shell and docker run say.
    refused_with(
        &["--run", "/no/such/prog"],
        microvmm::exit_code::NOT_FOUND,
        "--run /no/such/prog: cannot open: No such file or directory",
    );
    refused(
        &["--run", "/tmp"],
        "--run /tmp: not a regular file (it is a directory)",
    );
    refused(&["--run", "/dev/null"], "(it is a character device)");
    refused(
        &["--run", "/etc/passwd"],
        "--run /etc/passwd: not an ELF file",
    );
    refused(&["--run", &tmp_file("empty", b"")], "the file is empty");
    // A later --run is checked too, and named.
    refused(
        &["--run", "/tmp", "--run", "/etc/passwd a b"],
        "--run /tmp:",
    );
}

#[test]
fn elf_files_that_are_not_x86_64_executables() {
    refused(&["--run", &patched("elf32", |b| b[4] = 1)], "32-bit ELF");
    refused(
        &[
            "--run",
            &patched("arm", |b| b[18..20].copy_from_slice(&183u16.to_le_bytes())),
        ],
        "ELF machine 183 (AArch64), not x86-64",
    );
    refused(
        &[
            "--run",
            &patched("rel", |b| b[16..18].copy_from_slice(&1u16.to_le_bytes())),
        ],
        "not ET_EXEC or ET_DYN",
    );
}

#[test]
fn segments_must_fit_the_file_and_the_user_half() {
    // The guest kernel itself is linked in the kernel half.
    refused(
        &["--run", &test_guest("kernel")],
        "lies outside the user half (0 - 0x7ffffffff000)",
    );
    let filesz = patched("filesz", |b| {
        let ph = phdr0(b);
        b[ph + 32..ph + 40].copy_from_slice(&u64::MAX.to_le_bytes());
    });
    refused(&["--run", &filesz], "is larger than its memory size");
    let offset = patched("offset", |b| {
        let ph = phdr0(b);
        b[ph + 8..ph + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    });
    refused(&["--run", &offset], "lie outside the file");
}

#[test]
fn a_dynamically_linked_program_gets_the_hint() {
    let Some(dynamic) = build("argv", Cc::Dynamic) else {
        return;
    };
    let r = microvmm(
        &["--run", dynamic.to_str().expect("utf8")],
        microvmm::exit_code::CANNOT_RUN,
    );
    let interp = std::fs::read(&dynamic)
        .ok()
        .and_then(|b| {
            let at = b.windows(4).position(|w| w == b"/lib")?;
            let end = at + b[at..].iter().position(|&c| c == 0)?;
            Some(String::from_utf8_lossy(&b[at..end]).into_owned())
        })
        .expect("an interpreter path in the binary");
    assert_eq!(
        r.stderr,
        format!(
            "microvmm: --run {}: dynamically linked (interpreter {interp}): build it with -static\n",
            dynamic.display()
        )
    );
}

#[test]
fn programs_too_large_for_mem() {
    // 20 MiB of file in 16 MiB of RAM: refused by its size, never read.
    let big = tmp_file("big", b"");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .and_then(|f| f.set_len(20 << 20))
        .expect("sparse file");
    refused(
        &["--run", &big, "--mem", "16M"],
        "cannot fit in guest RAM (--mem 16 MiB)",
    );
    // Fits alone, but not 16 copies with their segments.
    let Some(prog) = build("argv", Cc::Static) else {
        return;
    };
    let p = prog.to_str().expect("utf8");
    let mut args = vec!["--mem", "16M"];
    for _ in 0..16 {
        args.extend(["--run", p]);
    }
    refused(&args, "does not fit in guest RAM");
}

#[test]
fn arguments_and_counts_that_do_not_fit() {
    let long = format!("/etc/passwd {}", "x".repeat(5000));
    refused(&["--run", &long], "at most 4096 fit");
    refused_with(
        &["--run", "./prog 'open"],
        microvmm::exit_code::FAILED,
        "missing closing quote",
    );
    refused_with(&["--run", ""], microvmm::exit_code::FAILED, "names no file");
    let mut args = Vec::new();
    for _ in 0..17 {
        args.extend(["--run", "/etc/passwd"]);
    }
    refused_with(
        &args,
        microvmm::exit_code::FAILED,
        "--run given 17 times; at most 16 programs",
    );
    let mut args = vec![
        "--cmdline",
        "heap heap heap heap heap heap heap heap heap heap",
    ];
    for _ in 0..7 {
        args.extend(["--run", "/etc/passwd"]);
    }
    refused_with(
        &args,
        microvmm::exit_code::FAILED,
        "the guest runs at most 16 processes",
    );
}
