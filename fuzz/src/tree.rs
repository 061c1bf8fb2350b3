//! Target `tree`: the `--files` tree image as the guest kernel decodes it
//! (`abi::tree`), from any bytes. Decoding never panics; every entry it
//! yields lies inside the input and obeys the format's rules; it stops at
//! the first error; and an image that decodes whole is canonical: encoding
//! its entries again gives back exactly its bytes.
//!
//! Input: the image itself.

use abi::Pod;
use abi::tree::{self, HEADER_LEN, Kind, MAX_ENTRIES, Tree};

/// Decode `data` as the kernel would and check what it yields.
pub fn tree(data: &[u8]) {
    let Ok(t) = Tree::parse(data) else {
        return;
    };
    let total = usize::try_from(t.header.total).unwrap_or(usize::MAX);
    assert!(
        total >= HEADER_LEN && total <= data.len(),
        "total inside the input"
    );
    assert!(t.header.count <= MAX_ENTRIES);
    let inside = data[..total].as_ptr_range();
    let mut again = t.header.as_bytes().to_vec();
    let mut seen = 0u32;
    let mut failed = false;
    let mut it = t.entries();
    for e in it.by_ref() {
        assert!(!failed, "nothing after an error");
        let Ok(e) = e else {
            failed = true;
            continue;
        };
        seen += 1;
        assert!(seen <= t.header.count, "no more entries than count");
        for s in [e.path, e.data] {
            let r = s.as_ptr_range();
            assert!(
                inside.start <= r.start && r.end <= inside.end,
                "entry inside the image"
            );
        }
        assert_eq!(tree::check_path(e.path), Ok(()));
        match e.kind {
            Kind::Dir => assert!(e.data.is_empty()),
            Kind::Symlink => assert_eq!(tree::check_target(e.data), Ok(())),
            Kind::File => {}
        }
        let at = again.len();
        let len = tree::record_len(e.path.len(), e.data.len() as u64)
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or_else(|| panic!("a decoded entry has a length"));
        again.resize(at + len, 0xee);
        let n = tree::encode_entry(e.kind, e.mode, e.path, e.data, &mut again[at..]);
        assert_eq!(n, Some(len), "a decoded entry encodes");
    }
    assert!(it.next().is_none(), "the iterator stays done");
    if !failed {
        assert_eq!(seen, t.header.count);
        assert_eq!(again, &data[..total], "a valid image is canonical");
    }
}

/// A valid image for the seeds: directories, files and symlinks.
pub fn seed() -> Vec<u8> {
    let recs: [(Kind, u16, &[u8], &[u8]); 6] = [
        (Kind::Dir, 0o755, b"bin", b""),
        (Kind::File, 0o755, b"bin/busybox", b"\x7fELF\x02\x01\x01\0"),
        (Kind::Symlink, 0o777, b"bin/sh", b"busybox"),
        (Kind::Dir, 0o700, b"etc", b""),
        (Kind::File, 0o644, b"etc/passwd", b"root:x:0:0::/:/bin/sh\n"),
        (Kind::Symlink, 0o777, b"tmp", b"/var/tmp"),
    ];
    let mut out = vec![0u8; HEADER_LEN];
    for (kind, mode, path, data) in recs {
        let Some(len) = tree::record_len(path.len(), data.len() as u64) else {
            continue;
        };
        let at = out.len();
        out.resize(at + len as usize, 0);
        let _ = tree::encode_entry(kind, mode, path, data, &mut out[at..]);
    }
    let head = tree::header(recs.len() as u32, out.len() as u64, 0o755);
    out[..HEADER_LEN].copy_from_slice(head.as_bytes());
    out
}
