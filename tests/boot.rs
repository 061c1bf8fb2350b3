//! Issue 2: boot, the CLI, and every bad input. Real VMs through /dev/kvm.

mod common;
use common::*;

#[test]
fn demo_boots_and_exits_0() {
    let r = microvmm(&["-q"], 0);
    let first = r.stdout.lines().next().unwrap_or("");
    assert!(
        first.starts_with("host: kvm flavour "),
        "first line is the host line: {first}"
    );
    let mode = expected_mode(&r.stdout);
    assert!(
        r.stdout
            .contains(&format!("microvmm guest kernel: mode {mode},")),
        "banner with mode {mode}:\n{}",
        r.stdout
    );
}

#[test]
fn boot_is_reported_over_the_hypercall_port() {
    let r = microvmm(&["--cmdline", "addrspace", "--json", "-", "-q"], 0);
    let j = r.json();
    assert_eq!(j["guest"]["mode"], expected_mode(&r.stderr));
    assert_eq!(j["guest"]["exit_status"], 0);
    let boot_us = j["guest"]["boot_us"].as_f64().expect("boot_us");
    assert!(boot_us > 0.0 && boot_us < 1e6, "boot time {boot_us} us");
    assert!(j["guest"]["exits"]["hypercall"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn emit_guest_writes_the_embedded_image() {
    let dir = std::env::temp_dir().join(format!("microvmm-emit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("guest.elf");
    microvmm(&["--emit-guest", path.to_str().expect("utf8")], 0);
    let bytes = std::fs::read(&path).expect("read emitted guest");
    assert_eq!(&bytes[..4], b"\x7fELF");
    // And it boots from the file like the embedded one.
    let r = microvmm(
        &[path.to_str().expect("utf8"), "--cmdline", "addrspace", "-q"],
        0,
    );
    assert!(r.stdout.contains("location of code"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 21: every run copies the kernel image into guest RAM, so a big
/// table the kernel initialises with non-zero bytes (it then sits in
/// .data, not .bss) costs every run. The process table alone was 2 MiB;
/// the writable segment's file bytes are now ~124 KiB.
#[test]
fn the_kernel_image_carries_no_big_tables() {
    let dir = std::env::temp_dir().join(format!("microvmm-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("guest.elf");
    microvmm(&["--emit-guest", path.to_str().expect("utf8")], 0);
    let elf = std::fs::read(&path).expect("read emitted guest");
    let _ = std::fs::remove_dir_all(&dir);
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().expect("8 bytes"));
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36), u16_at(0x38));
    const PT_LOAD: u32 = 1;
    const PF_W: u32 = 2;
    let writable: u64 = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&h| {
            let word = |o: usize| u32::from_le_bytes(elf[h + o..h + o + 4].try_into().expect("4"));
            word(0) == PT_LOAD && word(4) & PF_W != 0
        })
        .map(|h| u64_at(h + 0x20))
        .sum();
    assert!(writable > 0, "no writable segment found");
    assert!(
        writable <= 256 << 10,
        "the kernel image's writable segments carry {writable} bytes: a static \
         initialised with non-zero bytes belongs in .bss (zero it, set it at boot)"
    );
}

#[test]
fn help_explains_the_cli_and_exit_codes() {
    let r = microvmm(&["--help"], 0);
    for word in [
        "--mem",
        "--timeout",
        "--json",
        "--emit-guest",
        "--backing",
        "Exit codes",
        "0 the guest finished normally",
    ] {
        assert!(
            r.stdout.contains(word),
            "--help lacks {word}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn triple_fault_exits_1_with_a_register_dump() {
    let r = microvmm(&[&test_guest("triple-fault"), "-q"], 1);
    assert!(r.stderr.contains("triple fault"), "{}", r.stderr);
    for reg in [
        "RIP 0x", "RSP 0x", "CR0 0x", "CR2 0x", "CR3 0x", "CR4 0x", "EFER 0x", "CS 0x",
    ] {
        assert!(r.stderr.contains(reg), "dump lacks {reg}: {}", r.stderr);
    }
}

#[test]
fn a_spinning_guest_is_stopped_by_the_timeout() {
    let r = microvmm(&[&test_guest("spin-forever"), "--timeout", "1", "-q"], 1);
    assert!(r.stderr.contains("timeout"), "{}", r.stderr);
    assert!(
        r.stdout.contains("[spin-forever] spinning"),
        "output before the timeout is kept:\n{}",
        r.stdout
    );
}

#[test]
fn not_an_elf_file() {
    refused(&["/etc/passwd"], "not an ELF file");
}

#[test]
fn missing_file_and_directory() {
    refused(&["/no/such/guest.bin"], "No such file or directory");
    refused(&["/tmp"], "not a regular file");
}

#[test]
fn empty_file() {
    refused(&[&tmp_file("empty.elf", b"")], "empty");
}

#[test]
fn elf32() {
    refused(&[&patched("elf32.elf", |b| b[4] = 1)], "32-bit ELF");
}

#[test]
fn wrong_machine() {
    refused(
        &[&patched("arm.elf", |b| {
            b[18..20].copy_from_slice(&183u16.to_le_bytes())
        })],
        "not x86-64",
    );
}

#[test]
fn segment_outside_guest_ram() {
    // Move the first segment's physical address beyond a 16 MiB guest.
    let p = patched("far.elf", |b| {
        let ph = phdr0(b);
        b[ph + 24..ph + 32].copy_from_slice(&(64u64 << 20).to_le_bytes());
    });
    refused(&[&p, "--mem", "16M"], "outside guest RAM");
}

#[test]
fn segment_over_the_boot_structures() {
    let p = patched("low.elf", |b| {
        let ph = phdr0(b);
        b[ph + 24..ph + 32].copy_from_slice(&0x2000u64.to_le_bytes());
        b[ph + 16..ph + 24].copy_from_slice(&(0xffff_ffff_8000_2000u64).to_le_bytes());
    });
    refused(&[&p], "boot structures");
}

#[test]
fn entry_outside_every_segment() {
    refused(
        &[&patched("entry.elf", |b| {
            b[24..32].copy_from_slice(&0x1234_5678u64.to_le_bytes())
        })],
        "entry point",
    );
}

#[test]
fn unknown_programs_and_unwritable_outputs() {
    refused(&["--cmdline", "addrspace typo"], "'typo': no such program");
    refused(&["--cmdline", "heap:abc"], "must be a number");
    refused(&["--cmdline", "snoop:9"], "the number must be 0 to 3");
    refused(&["--cmdline", "addrspace:5"], "takes no number");
    // The kernel's heap stops at 1 GiB: touch may not ask for more.
    refused(&["--cmdline", "touch:2048"], "out of range");
    let many = vec!["heap"; 17].join(" ");
    refused(&["--cmdline", &many], "at most 16");
    refused(
        &["--json", "/nonexistent/dir/r.json"],
        "cannot write /nonexistent/dir/r.json",
    );
    refused(
        &["--svg", "/nonexistent/dir/r.svg"],
        "cannot write /nonexistent/dir/r.svg",
    );
}

#[test]
fn json_to_a_pipe_or_device() {
    // /dev/stdout here is the pipe the test reads: it cannot be truncated.
    let r = microvmm(
        &["--cmdline", "addrspace", "-q", "--json", "/dev/stdout"],
        0,
    );
    assert!(
        r.stdout.contains("\"schema\": \"microvmm-report/1\""),
        "{}",
        r.stdout
    );
    microvmm(&["--cmdline", "addrspace", "-q", "--svg", "/dev/null"], 0);
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(microvmm_bin())
        .args(["--cmdline", "addrspace heap"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Read one line, then close our end, as `| head -1` does.
    let mut first = [0u8; 16];
    let _ = child.stdout.take().map(|mut o| o.read(&mut first));
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn bad_flags() {
    refused(&["--mem", "12X"], "invalid size");
    refused(&["--mem", "4G"], "between 16 MiB and 2 GiB");
    refused(&["--timeout", "-1"], "--timeout");
    refused(&["--timeout", "nan"], "--timeout");
    let r = microvmm(&["--backing", "huge"], 2);
    assert!(
        r.stderr.contains("choose 4k, thp or hugetlb"),
        "{}",
        r.stderr
    );
    let r = microvmm(&["--frobnicate"], 2);
    assert!(r.stderr.contains("--frobnicate"), "{}", r.stderr);
}

#[test]
fn a_hostile_guest_is_reported_not_obeyed() {
    // Malformed messages and a self-aliasing page table (2^35 "pages").
    let r = microvmm(
        &[
            &test_guest("hostile"),
            "--json",
            "-",
            "-q",
            "--timeout",
            "30",
        ],
        1,
    );
    assert!(
        !r.stderr.contains("timeout"),
        "the VMM must stay fast: {}",
        r.stderr
    );
    let j = r.json();
    assert_eq!(
        j["guest"]["exit_status"], 0,
        "the guest itself shut down cleanly"
    );
    let errors: Vec<&str> = j["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for want in [
        "not 8-byte aligned",
        "(16 bytes) is outside guest RAM",
        "unknown message kind 99",
        "says it is 4000 bytes",
        "len is 60000",
        "nregions is 99",
        "more than 1048576 pages mapped",
        "more errors like these",
        "pid 1000 exited twice",
        "exit of unknown pid 2000",
        "pages shared with other live processes not counted: pid 1002 maps more than 1048576 pages",
        "pid 1003 created twice",
        "pid 1003 names itself its parent",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "no error about '{want}' in {errors:#?}"
        );
    }
    assert!(errors.len() < 100, "errors stay bounded: {}", errors.len());
    assert_eq!(
        j["processes"].as_array().map(|p| p.len()),
        Some(5),
        "only the well-formed creations (pid 1003 twice: two images)"
    );
}

#[test]
fn a_hostile_guest_cannot_make_the_page_listing_unbounded() {
    let r = microvmm(
        &[
            &test_guest("hostile"),
            "--pages",
            "--json",
            "-",
            "-q",
            "--timeout",
            "30",
        ],
        1,
    );
    let j = r.json();
    let listed: usize = j["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .map(|p| p["pages"].as_array().map_or(0, |v| v.len()))
        .sum();
    // The budget is guest RAM's frame count (registry::page_budget):
    // 32768 for 128 MiB, but at least 65536.
    assert!(listed <= 1 << 16, "{listed} pages listed");
    let errors = j["errors"].to_string();
    assert!(
        errors.contains("budget of listed pages is spent"),
        "{errors}"
    );
}
