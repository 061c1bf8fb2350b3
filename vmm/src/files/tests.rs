//! The walk of `--files DIR` on real directories: what it refuses (each
//! naming the path), what it keeps, and the image `place` writes, decoded
//! with the guest's own decoder.

// A case this host cannot run says so on stderr (the test passes).
#![allow(clippy::print_stderr)]

use std::ffi::CString;
use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use abi::tree::{Kind, MAX_ENTRIES, Tree};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::*;

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("microvmm-files-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Clean up, giving back any permissions a test took away.
fn remove(dir: &Path) {
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+rwx"])
        .arg(dir)
        .status();
    let _ = fs::remove_dir_all(dir);
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: a NUL-terminated path; mkfifo only reads it.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

const RAM: u64 = 64 << 20;

fn walk_err(dir: &Path, ram: u64) -> String {
    walk(dir, ram).expect_err("refused").to_string()
}

#[test]
fn a_tree_is_walked_in_order_and_placed_whole() {
    let d = scratch("tree");
    fs::create_dir_all(d.join("a/sub")).expect("dirs");
    fs::write(d.join("B"), b"upper case sorts first").expect("B");
    fs::write(d.join("a/empty"), b"").expect("empty");
    // Over one CHUNK, so place streams it in pieces.
    let big: Vec<u8> = (0..(1 << 20) + 4099).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(d.join("a/sub/big"), &big).expect("big");
    symlink("../../B", d.join("a/sub/up")).expect("symlink");
    // A symlink to a directory outside is kept as a link, not walked.
    symlink("/etc", d.join("etc-link")).expect("symlink");
    symlink("nowhere", d.join("dangling")).expect("symlink");
    fs::write(d.join("a-b"), b"x").expect("a-b");
    fs::set_permissions(d.join("a-b"), fs::Permissions::from_mode(0o4750)).expect("chmod");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o751)).expect("chmod");

    let staged = stage(&d, Gpa(0x20_1000), 0, RAM).expect("stages");
    let w = &staged.walked;
    let paths: Vec<&[u8]> = w.nodes.iter().map(|n| n.path.as_slice()).collect();
    let want: &[&[u8]] = &[
        b"B",
        b"a",
        b"a/empty",
        b"a/sub",
        b"a/sub/big",
        b"a/sub/up",
        b"a-b",
        b"dangling",
        b"etc-link",
    ];
    assert_eq!(paths, want);
    assert_eq!(staged.gpa, Gpa(0x20_1000));
    assert_eq!(staged.free.raw() % PAGE, 0);
    assert!(staged.free.raw() >= staged.gpa.raw() + w.len);

    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 8 << 20)]).expect("memory");
    mem.write_slice(&vec![0xee; w.len as usize], GuestAddress(0x20_1000))
        .expect("dirty it: place must write every byte");
    image::place(&mem, w, staged.gpa).expect("placed");
    let mut img = vec![0; w.len as usize];
    mem.read_slice(&mut img, GuestAddress(0x20_1000))
        .expect("read back");
    let t = Tree::parse(&img).expect("header");
    assert_eq!(t.root_mode(), 0o751);
    let entries: Vec<_> = t
        .entries()
        .collect::<Result<_, _>>()
        .expect("the guest's decoder accepts it");
    assert_eq!(entries.len(), want.len());
    let e = |p: &[u8]| {
        entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p:?} listed"))
    };
    assert_eq!(e(b"a/sub/big").data, big.as_slice());
    assert_eq!(e(b"a/sub/big").kind, Kind::File);
    assert_eq!(e(b"a/sub/up").data, b"../../B");
    assert_eq!(e(b"a/sub/up").kind, Kind::Symlink);
    assert_eq!(e(b"etc-link").data, b"/etc");
    assert_eq!(e(b"a").kind, Kind::Dir);
    assert_eq!(e(b"a").data, b"");
    assert_eq!(e(b"a/empty").data, b"");
    assert_eq!(e(b"a-b").mode, 0o4750);
    assert_eq!(e(b"B").data, b"upper case sorts first");
    let r = staged.report();
    assert_eq!(r.entries, want.len() as u64);
    assert_eq!(r.bytes, w.len);
    remove(&d);
}

#[test]
fn special_files_are_refused_naming_the_path() {
    let d = scratch("special");
    fs::create_dir(d.join("sub")).expect("sub");
    fs::write(d.join("sub/a"), b"fine").expect("file");
    mkfifo(&d.join("sub/fifo"));
    assert_eq!(
        walk_err(&d, RAM),
        format!(
            "--files: {}/sub/fifo: a FIFO; only regular files, directories and symlinks can be \
             copied into the guest",
            d.display()
        )
    );
    fs::remove_file(d.join("sub/fifo")).expect("rm");
    let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).expect("bind");
    let err = walk_err(&d, RAM);
    assert!(
        err.starts_with(&format!("--files: {}/sock: a socket;", d.display())),
        "{err}"
    );
    drop(_sock);
    fs::remove_file(d.join("sock")).expect("rm");
    // A device node: only root can make one (/dev/null's numbers).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let c = CString::new(d.join("null").as_os_str().as_bytes()).expect("no NUL");
        // SAFETY: a NUL-terminated path; mknod only reads it.
        let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) };
        assert_eq!(rc, 0, "mknod");
        assert_eq!(
            walk_err(&d, RAM),
            format!(
                "--files: {}/null: a character device; only regular files, directories and \
                 symlinks can be copied into the guest",
                d.display()
            )
        );
    } else {
        eprintln!("SKIPPED the device node: only root can make one");
    }
    remove(&d);
}

#[test]
fn unreadable_entries_are_refused_naming_the_path() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // root reads whatever the mode says: nothing to refuse here.
        eprintln!("SKIPPED: running as root, which can read a file of mode 000");
        return;
    }
    let d = scratch("unreadable");
    fs::write(d.join("secret"), b"x").expect("file");
    fs::set_permissions(d.join("secret"), fs::Permissions::from_mode(0o000)).expect("chmod");
    assert_eq!(
        walk_err(&d, RAM),
        format!(
            "--files: {}/secret: cannot open: Permission denied",
            d.display()
        )
    );
    fs::remove_file(d.join("secret")).expect("rm");
    fs::create_dir(d.join("locked")).expect("dir");
    fs::set_permissions(d.join("locked"), fs::Permissions::from_mode(0o300)).expect("chmod");
    assert_eq!(
        walk_err(&d, RAM),
        format!(
            "--files: {}/locked: cannot open: Permission denied",
            d.display()
        )
    );
    remove(&d);
}

#[test]
fn a_tree_over_the_bound_is_refused_before_it_is_read() {
    let d = scratch("bound");
    fs::write(d.join("a"), b"small").expect("file");
    // Sparse: one byte over a quarter of 16 MiB with its record, and no
    // disk space. Mode 000 too when not root: refused before it is opened.
    let big = File::create(d.join("big")).expect("create");
    big.set_len(4 << 20).expect("set_len");
    fs::set_permissions(d.join("big"), fs::Permissions::from_mode(0o000)).expect("chmod");
    assert_eq!(
        walk_err(&d, 16 << 20),
        format!(
            "--files: {}/big: the tree is larger than 4 MiB with this entry (its bound: a \
             quarter of --mem 16 MiB); give more --mem or fewer files",
            d.display()
        )
    );
    // The same tree fits a quarter of 64 MiB.
    fs::set_permissions(d.join("big"), fs::Permissions::from_mode(0o644)).expect("chmod");
    let w = walk(&d, RAM).expect("fits");
    assert_eq!(w.nodes.len(), 2);
    // It fits its bound, but not beside programs that need the rest.
    let err = stage(&d, Gpa(0x20_0000), RAM - (4 << 20), RAM).unwrap_err();
    assert!(
        matches!(err, FilesError::NoRoom { .. })
            && err
                .to_string()
                .contains("does not fit in guest RAM with the kernel and the --run programs"),
        "{err}"
    );
    remove(&d);
}

#[test]
fn too_many_entries_are_refused() {
    let d = scratch("many");
    for i in 0..=MAX_ENTRIES {
        File::create(d.join(format!("f{i:05}"))).expect("file");
    }
    let err = walk_err(&d, RAM);
    assert!(
        err.starts_with(&format!("--files: {}/f", d.display())),
        "{err}"
    );
    assert!(
        err.ends_with("more than 4096 entries; the guest's tree holds at most 4096"),
        "{err}"
    );
    fs::remove_file(d.join("f00000")).expect("rm");
    assert_eq!(
        walk(&d, RAM).expect("4096 fit").nodes.len(),
        MAX_ENTRIES as usize
    );
    remove(&d);
}

#[test]
fn too_many_entries_across_directories_are_refused() {
    // 2000 names at the top (waiting while "a" is walked) and 2100 in
    // "a": the names listed so far count, not only those walked.
    let d = scratch("many-nested");
    fs::create_dir(d.join("a")).expect("a");
    for i in 0..2000 {
        File::create(d.join(format!("z{i:04}"))).expect("file");
    }
    for i in 0..2100 {
        File::create(d.join(format!("a/f{i:04}"))).expect("file");
    }
    let err = walk_err(&d, RAM);
    assert!(
        err.starts_with(&format!("--files: {}/a/f", d.display()))
            && err.ends_with("more than 4096 entries; the guest's tree holds at most 4096"),
        "{err}"
    );
    remove(&d);
}

#[test]
fn names_beyond_the_limits_are_refused() {
    let d = scratch("names");
    // Five levels of 250-byte names: 1254 bytes, over 1024.
    let mut p = d.clone();
    for c in b"abcde" {
        p = p.join(String::from(char::from(*c)).repeat(250));
    }
    fs::create_dir_all(&p).expect("deep dirs");
    let err = walk_err(&d, RAM);
    let deepest = d.join(["a", "b", "c", "d", "e"].map(|c| c.repeat(250)).join("/"));
    assert_eq!(
        err,
        format!(
            "--files: {}: its path in the guest is 1254 bytes; at most 1024 fit",
            deepest.display()
        )
    );
    remove(&d);

    let d = scratch("target");
    symlink("t".repeat(1025), d.join("link")).expect("symlink");
    assert_eq!(
        walk_err(&d, RAM),
        format!(
            "--files: {}/link: a symlink target is empty or longer than 1024 bytes",
            d.display()
        )
    );
    remove(&d);

    // A newline in a name is shown escaped: the message stays one line.
    let d = scratch("newline");
    mkfifo(&d.join("a\nb"));
    let err = walk_err(&d, RAM);
    assert!(err.contains("/a\\x0ab: a FIFO"), "{err}");
    remove(&d);
}

#[test]
fn dir_must_be_a_directory() {
    let d = scratch("notdir");
    fs::write(d.join("file"), b"x").expect("file");
    assert_eq!(
        walk_err(&d.join("file"), RAM),
        format!(
            "--files: {}/file: not a directory (it is a regular file)",
            d.display()
        )
    );
    assert_eq!(
        walk_err(&d.join("missing"), RAM),
        format!(
            "--files: {}/missing: cannot open: No such file or directory",
            d.display()
        )
    );
    // DIR may be a symlink to a directory: the user named it.
    fs::create_dir(d.join("real")).expect("dir");
    symlink("real", d.join("link")).expect("symlink");
    assert!(
        walk(&d.join("link"), RAM)
            .expect("followed")
            .nodes
            .is_empty()
    );
    remove(&d);
}

#[test]
fn a_file_changed_after_the_walk_is_refused() {
    let d = scratch("changed");
    fs::write(d.join("f"), b"before").expect("file");
    let staged = stage(&d, Gpa(0x1000), 0, RAM).expect("stages");
    fs::write(d.join("f"), b"after, and longer").expect("rewrite");
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("memory");
    let err = image::place(&mem, &staged.walked, staged.gpa).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "--files: {}/f: it changed while microvmm read it (6 bytes when checked)",
            d.display()
        )
    );
    // Replaced by another file of the same size: another inode (made
    // while the old one lives, so its number cannot be reused).
    fs::write(d.join("g"), b"BEFORE").expect("new file");
    fs::rename(d.join("g"), d.join("f")).expect("replace");
    assert!(image::place(&mem, &staged.walked, staged.gpa).is_err());
    remove(&d);
}
