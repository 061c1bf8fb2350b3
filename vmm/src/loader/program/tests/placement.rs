//! `plan`, `stage` and `place` on synthetic and sparse files: each file
//! and its argv on their own pages, the first program that does not fit
//! named, sizes checked together before any file is read, and only the
//! bytes that were checked copied into guest RAM.

use std::path::Path;

use abi::layout::Module;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::addr::Gpa;
use crate::loader::image::Image;
use crate::loader::program::place::CHUNK;

use super::super::*;
use super::RAM;

fn checked(size: usize, args: &[u8], memory: u64) -> Checked {
    Checked {
        source: Source::Bytes(vec![0xab; size]),
        args: args.to_vec(),
        argc: 1,
        memory,
    }
}

#[test]
fn plan_puts_files_and_argv_on_their_own_pages() {
    let programs = [
        checked(0x1234, b"a\0", 0x3000),
        checked(0x1000, b"bb\0c\0", 0),
    ];
    let (modules, free) = plan(Gpa(0x20_0000), &programs, RAM).expect("fits");
    assert_eq!(
        modules,
        vec![
            Module {
                gpa: 0x20_0000,
                size: 0x1234,
                args_gpa: 0x20_2000,
                args_len: 2,
                argc: 1
            },
            Module {
                gpa: 0x20_3000,
                size: 0x1000,
                args_gpa: 0x20_4000,
                args_len: 5,
                argc: 1
            },
        ]
    );
    assert_eq!(free, Gpa(0x20_5000));
    let (none, free) = plan(Gpa(0x20_0000), &[], RAM).expect("nothing to place");
    assert!(none.is_empty());
    assert_eq!(free, Gpa(0x20_0000));
}

#[test]
fn plan_names_the_first_program_that_does_not_fit() {
    // 16 MiB of RAM: the first program fits, the second's segments do not.
    let ram = 16 << 20;
    let programs = [
        checked(0x1000, b"a\0", 0x10_0000),
        checked(0x1000, b"b\0", 14 << 20),
    ];
    let (index, err) = plan(Gpa(0x20_0000), &programs, ram).unwrap_err();
    assert_eq!(index, 1);
    assert!(matches!(err, ProgramError::NoRoom { .. }), "{err}");
    assert!(err.to_string().contains("--mem is 16 MiB"), "{err}");
}

#[test]
fn place_copies_files_and_argv() {
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 4 << 20)]).expect("memory");
    let programs = vec![checked(0x1234, b"a\0", 0)];
    let (modules, free) = plan(Gpa(0x20_0000), &programs, 4 << 20).expect("fits");
    let staged = Staged {
        programs,
        modules,
        free,
    };
    place(&mem, &staged).expect("place");
    let mut file = vec![0; 0x1234];
    mem.read_slice(&mut file, GuestAddress(0x20_0000))
        .expect("read");
    assert_eq!(file, vec![0xab; 0x1234]);
    let mut args = [0; 2];
    mem.read_slice(&mut args, GuestAddress(0x20_2000))
        .expect("read");
    assert_eq!(&args, b"a\0");
}

#[test]
fn stage_names_the_program_at_fault() {
    let dir = std::env::temp_dir().join(format!("microvmm-stage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good");
    std::fs::write(&good, Image::new().bytes()).expect("write program");
    let good = Program::parse(good.to_str().expect("utf8")).expect("valid");
    let bad = Program::parse("/etc/passwd x").expect("valid");
    let staged = stage(&[good.clone(), good.clone()], Gpa(0x20_0000), RAM).expect("fits");
    assert_eq!(staged.modules.len(), 2);
    assert_eq!(staged.free, Gpa(0x20_6000));
    let (index, err) = match stage(&[good, bad], Gpa(0x20_0000), RAM) {
        Ok(_) => panic!("/etc/passwd is no program"),
        Err(e) => e,
    };
    assert_eq!(index, 1);
    assert!(
        matches!(err, ProgramError::Elf(LoaderError::NotElf)),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn sparse(path: &Path, size: u64, head: &[u8]) {
    std::fs::write(path, head).expect("write");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    f.set_len(size).expect("sparse file");
}

#[test]
fn sizes_are_checked_together_before_any_file_is_read() {
    let dir = std::env::temp_dir().join(format!("microvmm-sizes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Each fits alone; the second does not fit after the first. Neither
    // is an ELF file: had the first been read, that would be the error.
    let (a, b) = (dir.join("a"), dir.join("b"));
    sparse(&a, RAM / 2, b"not an ELF");
    sparse(&b, RAM / 2, b"not an ELF");
    let progs = [a, b].map(|p| Program::parse(p.to_str().expect("utf8")).expect("valid"));
    let (index, err) = stage(&progs, Gpa(0x20_0000), RAM).err().expect("too large");
    assert_eq!(index, 1);
    assert!(matches!(err, ProgramError::NoRoom { .. }), "{err}");
    // A FIFO is refused from its metadata: stage() does not block on it.
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let p = Program::parse(fifo.to_str().expect("utf8")).expect("valid");
    let (_, err) = stage(&[p], Gpa(0x20_0000), RAM).err().expect("a FIFO");
    assert_eq!(err.to_string(), "not a regular file (it is a FIFO)");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn place_streams_the_file_it_checked_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("microvmm-place-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("prog");
    // Three and a half chunks: the ELF, then bytes no segment uses.
    let mut bytes = Image::new().bytes();
    bytes.extend((0..(7 * CHUNK / 2)).map(|i| (i % 251) as u8));
    std::fs::write(&path, &bytes).expect("write");
    let p = Program::parse(path.to_str().expect("utf8")).expect("valid");
    let ram = 8 << 20;
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), ram as usize)]).expect("memory");
    let staged = stage(std::slice::from_ref(&p), Gpa(0x10_0000), ram).expect("fits");
    assert!(
        matches!(staged.programs[0].source, Source::File { .. }),
        "the bytes are not kept"
    );
    place(&mem, &staged).expect("place");
    let mut back = vec![0; bytes.len()];
    mem.read_slice(&mut back, GuestAddress(staged.modules[0].gpa))
        .expect("read");
    assert!(back == bytes, "guest RAM holds the file");

    // Changed in place after the check (same size): refused.
    let staged = stage(std::slice::from_ref(&p), Gpa(0x10_0000), ram).expect("fits");
    let mut other = bytes.clone();
    other[2 * CHUNK + 7] ^= 1;
    std::fs::write(&path, &other).expect("rewrite");
    let err = place(&mem, &staged).unwrap_err();
    assert!(
        matches!(
            err,
            PlaceError::Program(0, ProgramError::File(FileError::Changed { .. }))
        ),
        "{err}"
    );
    // Grown after the check: refused, having read one byte past the size.
    let staged = stage(std::slice::from_ref(&p), Gpa(0x10_0000), ram).expect("fits");
    other.push(0);
    std::fs::write(&path, &other).expect("rewrite");
    let err = place(&mem, &staged).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("it changed while microvmm read it"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
