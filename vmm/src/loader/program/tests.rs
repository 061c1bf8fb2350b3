//! `--run` on synthetic programs and real files: the argument split, every
//! refusal by variant and words; the layout in guest RAM is in
//! `tests/placement.rs`.

use std::path::Path;

use abi::layout::{ARGC_MAX, USER_END};

use super::super::LoaderError;
use super::super::elf::{ET_DYN, ET_EXEC};
use super::super::image::{Image, Phdr};
use super::check::{args_block, check_elf};
use super::*;

const RAM: u64 = 128 << 20;

mod placement;

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// `image` as a file in a fresh temp dir, checked as `--run FILE`.
fn check_image(name: &str, bytes: &[u8]) -> Result<Checked, ProgramError> {
    let dir = std::env::temp_dir().join(format!("microvmm-program-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write program");
    let r = check(
        &Program {
            path: path.clone(),
            argv: argv(&[name]),
        },
        RAM,
    );
    let _ = std::fs::remove_file(&path);
    r
}

fn elf_error(bytes: &[u8], e_type: u16) -> ProgramError {
    match check_elf(bytes, e_type) {
        Ok(m) => panic!("expected an error, got {m} bytes of segments"),
        Err(e) => e,
    }
}

/// A PT_INTERP naming `name` at file offset 0x800 of the default image.
fn with_interp(name: &[u8]) -> Image {
    let mut image = Image::new();
    image.phdrs.insert(
        0,
        Phdr {
            p_type: 3,
            offset: 0x800,
            vaddr: 0,
            paddr: 0,
            filesz: name.len() as u64,
            memsz: name.len() as u64,
            align: 1,
        },
    );
    image.contents.push((0x800, name.to_vec()));
    image
}

#[test]
fn parse_splits_like_a_shell() {
    let p = Program::parse(r#"./argv 'a b'  "c \"d\"" e\ f '' g"#).expect("valid");
    assert_eq!(p.path, PathBuf::from("./argv"));
    assert_eq!(p.argv, argv(&["./argv", "a b", "c \"d\"", "e f", "", "g"]));
    // argv[0] is the file's name as given, not resolved.
    let p = Program::parse("busybox echo hi").expect("valid");
    assert_eq!(p.argv, argv(&["busybox", "echo", "hi"]));
    assert_eq!(p.path, PathBuf::from("busybox"));
}

#[test]
fn parse_refuses_what_names_no_file() {
    for spec in ["", "   ", "''"] {
        let err = Program::parse(spec).unwrap_err();
        assert!(matches!(err, SpecError::Empty { .. }), "{spec:?}: {err}");
        assert!(err.to_string().contains("names no file"), "{err}");
    }
    let err = Program::parse("./prog 'open").unwrap_err();
    assert!(matches!(err, SpecError::Split { .. }), "{err}");
    assert!(err.to_string().contains("missing closing quote"), "{err}");
    // One line even when the value holds a newline.
    let err = Program::parse("./prog\n'open").unwrap_err();
    assert!(!err.to_string().contains('\n'), "{err}");
}

#[test]
fn args_block_is_nul_terminated_strings() {
    let (block, argc) = args_block(&argv(&["./p", "a b", ""])).expect("fits");
    assert_eq!(block, b"./p\0a b\0\0");
    assert_eq!(argc, 3);
    assert!(matches!(args_block(&[]), Err(ProgramError::NoArgv)));
    assert!(matches!(
        args_block(&argv(&["./p", "a\0b"])),
        Err(ProgramError::Nul { index: 1 })
    ));
    // 4096 bytes fit exactly; one more does not.
    let fits = "x".repeat(4096 - 2 - 1);
    assert!(args_block(&argv(&["p", &fits])).is_ok());
    let over = "x".repeat(4096 - 2);
    let err = args_block(&argv(&["p", &over])).unwrap_err();
    assert!(
        matches!(err, ProgramError::ArgsTooLong { len: 4097 }),
        "{err}"
    );
    assert!(err.to_string().contains("at most 4096 fit"), "{err}");
}

#[test]
fn argv_longer_than_the_guest_passes_is_refused() {
    let words: Vec<String> = (0..ARGC_MAX).map(|i| i.to_string()).collect();
    let (_, argc) = args_block(&words).expect("ARGC_MAX strings fit");
    assert_eq!(argc as usize, ARGC_MAX);
    let words: Vec<String> = (0..=ARGC_MAX).map(|i| i.to_string()).collect();
    let err = args_block(&words).unwrap_err();
    assert!(
        matches!(err, ProgramError::TooManyArgs { argc: 65 }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "it has 65 arguments (argv[0] included); the guest passes at most 64"
    );
}

#[test]
fn accepts_static_exec_and_pie() {
    let image = Image::new();
    // One 8 KiB segment at 0x100000.
    assert_eq!(check_elf(&image.bytes(), ET_EXEC).expect("valid"), 0x2000);
    let c = check_image("exec", &image.bytes()).expect("valid");
    assert_eq!(c.source.size(), image.bytes().len() as u64);
    assert_eq!(c.args, b"exec\0");
    assert_eq!(c.argc, 1);

    // A static PIE linked at 0 with its entry at 0x10.
    let mut pie = Image::new();
    pie.e_type = 3;
    pie.phdrs[0].vaddr = 0;
    pie.phdrs[0].paddr = 0;
    pie.entry = 0x10;
    assert!(check_image("pie", &pie.bytes()).is_ok());
}

#[test]
fn check_bytes_judges_as_check_does() {
    let mut pie = Image::new();
    pie.e_type = 3;
    let mut rel = Image::new();
    rel.e_type = 1;
    let mut outside = Image::new();
    outside.phdrs[0].vaddr = USER_END;
    let files: [&[u8]; 6] = [
        &Image::new().bytes(),
        &pie.bytes(),
        &rel.bytes(),
        &outside.bytes(),
        b"\x7fELF\x02\x01",
        b"",
    ];
    for bytes in files {
        let by_file = check_image("f", bytes).map(|c| (c.args, c.argc, c.memory));
        let by_bytes =
            check_bytes(bytes.to_vec(), &argv(&["f"]), RAM).map(|c| (c.args, c.argc, c.memory));
        assert_eq!(format!("{by_file:?}"), format!("{by_bytes:?}"), "{bytes:?}");
    }
    let err = check_bytes(Image::new().bytes(), &argv(&["f"]), 0x100)
        .err()
        .expect("larger than RAM");
    assert!(matches!(err, ProgramError::TooLarge { .. }), "{err}");
    assert!(matches!(
        check_bytes(Image::new().bytes(), &[], RAM),
        Err(ProgramError::NoArgv)
    ));
}

#[test]
fn refuses_other_elf_types_before_reading_the_rest() {
    for e_type in [0, 1, 4] {
        let mut image = Image::new();
        image.e_type = e_type;
        let err = check_image("rel", &image.bytes()).err().expect("refused");
        assert!(
            matches!(err, ProgramError::NotExecutable { e_type: t } if t == e_type),
            "{err}"
        );
        assert!(err.to_string().contains("not ET_EXEC or ET_DYN"), "{err}");
    }
    let mut image = Image::new();
    image.class = 1;
    let err = check_image("elf32", &image.bytes()).err().expect("refused");
    assert_eq!(err.to_string(), "32-bit ELF: microvmm needs ELF64 x86-64");
    let mut image = Image::new();
    image.machine = 183;
    let err = check_image("arm", &image.bytes()).err().expect("refused");
    assert_eq!(err.to_string(), "ELF machine 183 (AArch64), not x86-64");
    let err = check_image("short", b"\x7fELF\x02\x01")
        .err()
        .expect("refused");
    assert!(err.to_string().starts_with("truncated ELF header"), "{err}");
}

#[test]
fn an_interpreter_is_named_with_the_fix() {
    let image = with_interp(b"/lib64/ld-linux-x86-64.so.2\0");
    let err = elf_error(&image.bytes(), ET_EXEC);
    assert_eq!(
        err.to_string(),
        "dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2): build it with -static"
    );
    let image = with_interp(b"/lib/ld\n\x1b[31m\xff\0junk");
    let err = elf_error(&image.bytes(), ET_DYN);
    assert!(
        err.to_string()
            .contains("(interpreter /lib/ld\\x0a\\x1b[31m\\xff)"),
        "{err}"
    );
    let mut image = with_interp(b"x");
    image.phdrs[0].offset = 0x10_0000;
    let err = elf_error(&image.bytes(), ET_EXEC);
    assert!(
        err.to_string().contains("interpreter outside the file"),
        "{err}"
    );
}

#[test]
fn segments_stay_in_the_file_and_the_user_half() {
    let mut image = Image::new();
    image.phdrs[0].filesz = 0x3000;
    let err = elf_error(&image.bytes(), ET_EXEC);
    assert!(
        matches!(err, ProgramError::Elf(LoaderError::FileszOverMemsz { .. })),
        "{err}"
    );

    let mut image = Image::new();
    image.phdrs[0].offset = 0x1800;
    let err = elf_error(&image.bytes(), ET_EXEC);
    assert!(err.to_string().contains("lie outside the file"), "{err}");

    let mut image = Image::new();
    image.phdrs[0].vaddr = USER_END - 0x1000;
    image.entry = USER_END - 0x1000;
    let err = elf_error(&image.bytes(), ET_EXEC);
    assert_eq!(
        err.to_string(),
        "segment 0 at 0x7fffffffe000 - 0x800000000000 lies outside the user half \
         (0 - 0x7ffffffff000)"
    );
    // A kernel-half address, and one whose end wraps 64 bits.
    image.phdrs[0].vaddr = 0xffff_ffff_ffff_f000;
    image.entry = 0xffff_ffff_ffff_f000;
    assert!(matches!(
        elf_error(&image.bytes(), ET_EXEC),
        ProgramError::OutsideUser { .. }
    ));
    // The same segment is in the user half as ET_EXEC (though past the
    // kernel's image area), but not once a PIE is biased.
    image.phdrs[0].vaddr = USER_END - 0x2000;
    image.entry = USER_END - 0x2000;
    assert!(matches!(
        elf_error(&image.bytes(), ET_EXEC),
        ProgramError::GuestRefuses { .. }
    ));
    let err = elf_error(&image.bytes(), ET_DYN);
    assert!(
        err.to_string().ends_with("with the PIE load bias 0x400000"),
        "{err}"
    );
}

#[test]
fn overlapping_segments_and_a_stray_entry() {
    let mut image = Image::new();
    image
        .phdrs
        .push(Phdr::load(0x1000, 0, 0x10_1fff, 0x10, 0x10));
    let err = elf_error(&image.bytes(), ET_EXEC);
    assert_eq!(err.to_string(), "segments 0 and 1 overlap at 0x101fff");
    // Sharing a page but no byte is what real linkers produce.
    image.phdrs[1].vaddr = 0x10_2000;
    assert!(check_elf(&image.bytes(), ET_EXEC).is_ok());

    let mut image = Image::new();
    image.entry = 0x50_0000;
    assert!(matches!(
        elf_error(&image.bytes(), ET_EXEC),
        ProgramError::Elf(LoaderError::EntryOutside { .. })
    ));
    image.phdrs[0].p_type = 6; // PT_PHDR: nothing loadable left
    assert!(matches!(
        elf_error(&image.bytes(), ET_EXEC),
        ProgramError::Elf(LoaderError::NoLoad)
    ));
}

#[test]
fn files_that_are_not_programs() {
    let program = |p: &str| Program {
        path: PathBuf::from(p),
        argv: argv(&[p]),
    };
    let err = check(&program("/etc/passwd"), RAM).err().expect("refused");
    assert!(err.to_string().starts_with("not an ELF file"), "{err}");
    let err = check(&program("/no/such/prog"), RAM)
        .err()
        .expect("refused");
    assert_eq!(err.to_string(), "cannot open: No such file or directory");
    let err = check(&program("/tmp"), RAM).err().expect("refused");
    assert_eq!(err.to_string(), "not a regular file (it is a directory)");
    let err = check(&program("/dev/null"), RAM).err().expect("refused");
    assert!(err.to_string().contains("character device"), "{err}");

    // Larger than guest RAM: refused from its size, never read.
    let dir = std::env::temp_dir().join(format!("microvmm-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("big");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(RAM + 1).expect("sparse file");
    let err = check(&program(big.to_str().expect("utf8")), RAM)
        .err()
        .expect("refused");
    assert!(matches!(err, ProgramError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("(--mem 128 MiB)"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_real_dynamic_executable_names_its_interpreter() {
    // Distributions link /bin/true dynamically.
    let p = Program::parse("/bin/true").expect("valid");
    match check(&p, RAM) {
        Err(ProgramError::Dynamic { interp }) => assert!(interp.contains("ld-"), "{interp}"),
        Err(e) => panic!("wanted the interpreter hint, got: {e}"),
        Ok(_) => panic!("/bin/true is dynamically linked on every distribution we know"),
    }
    assert!(Path::new("/bin/true").exists());
}

#[test]
fn printable_escapes_control_and_non_ascii_bytes() {
    assert_eq!(printable(b"/lib/ld.so"), "/lib/ld.so");
    assert_eq!(printable(b"a\nb\x7f\xc3"), "a\\x0ab\\x7f\\xc3");
    assert_eq!(printable(&[b'x'; 300]).len(), 256 + 3);
}

/// What the guest kernel's exec refuses (abi::elf) is refused on the host,
/// in its words: every case issue 16 found ending in exit 1 in the guest.
#[test]
fn what_the_guest_kernel_refuses_is_refused_here() {
    let refused = |bytes: Vec<u8>, words: &str| match check_elf(&bytes, ET_EXEC) {
        Err(ProgramError::GuestRefuses { reason }) => {
            assert!(reason.contains(words), "{reason}")
        }
        other => panic!("{words}: {other:?}"),
    };
    // Above the image area (0x1000_0000_0000), in the user half.
    let mut image = Image::new();
    image.phdrs[0].vaddr = 0x1000_0000_0000;
    image.entry = 0x1000_0000_0010;
    refused(image.bytes(), "outside the user image area");
    // Below 64 KiB.
    let mut image = Image::new();
    image.phdrs[0].vaddr = 0x8000;
    image.entry = 0x8010;
    refused(image.bytes(), "outside the user image area");
    // Out of address order (disjoint, so the host's own check passes).
    let mut image = Image::new();
    image
        .phdrs
        .insert(0, Phdr::load(0x1000, 0, 0x20_0000, 0x10, 0x10));
    refused(image.bytes(), "out of address order");
    // 17 PT_LOADs.
    let mut image = Image::new();
    for k in 1..17 {
        image
            .phdrs
            .push(Phdr::load(0x1000, 0, 0x10_0000 + k * 0x2000, 0x10, 0x10));
    }
    refused(image.bytes(), "too many PT_LOAD segments");
    image.phdrs.pop();
    assert!(check_elf(&image.bytes(), ET_EXEC).is_ok(), "16 are fine");
    // The entry in a segment without PF_X (flags at phoff + 4).
    let mut bytes = Image::new().bytes();
    bytes[68..72].copy_from_slice(&6u32.to_le_bytes()); // PF_R | PF_W
    refused(bytes, "entry point is not in an executable segment");
}
