//! The abi::tree format (the abi crate has no tests of its own; the VMM,
//! its encoder's user, tests both sides): images built record by record
//! round-trip, and hostile images are refused with the right error,
//! without a panic, whatever their lengths claim.

use abi::Pod;
use abi::tree::{
    self, ALIGN, ENTRY_HEADER_LEN, Entry, EntryHeader, HEADER_LEN, Kind, MAX_ENTRIES, NAME_MAX,
    PATH_MAX, SYMLINK_MAX, Tree, TreeError,
};
use proptest::prelude::*;

type Rec<'a> = (Kind, u16, &'a [u8], &'a [u8]);

/// An image of `recs`, in the order given (right or wrong).
fn image(recs: &[Rec]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN];
    for &(kind, mode, path, data) in recs {
        let len = tree::record_len(path.len(), data.len() as u64).expect("length") as usize;
        let at = out.len();
        out.resize(at + len, 0xee);
        let n = tree::encode_entry(kind, mode, path, data, &mut out[at..]).expect("fits");
        assert_eq!(n, len);
    }
    let head = tree::header(recs.len() as u32, out.len() as u64, 0o755);
    out[..HEADER_LEN].copy_from_slice(head.as_bytes());
    out
}

/// Every entry of `img`, or the first error.
fn decode(img: &[u8]) -> Result<Vec<Entry<'_>>, TreeError> {
    Tree::parse(img)?.entries().collect()
}

fn first_error(recs: &[Rec]) -> TreeError {
    decode(&image(recs)).expect_err("refused")
}

const D: Kind = Kind::Dir;
const F: Kind = Kind::File;
const L: Kind = Kind::Symlink;

#[test]
fn a_tree_round_trips() {
    let recs: &[Rec] = &[
        (F, 0o644, b"B", b"upper case sorts first"),
        (D, 0o755, b"a", b""),
        (F, 0o600, b"a/empty", b""),
        (D, 0o700, b"a/sub", b""),
        (L, 0o777, b"a/sub/up", b"../../B"),
        (F, 0o4755, b"a/z", b"1234567"),
        (F, 0o644, b"a-b", b"after a's subtree"),
        (L, 0o777, b"abs", b"/etc/passwd"),
    ];
    let img = image(recs);
    assert_eq!(img.len() % ALIGN, 0);
    let t = Tree::parse(&img).expect("header");
    assert_eq!(t.root_mode(), 0o755);
    assert_eq!(t.header.count, recs.len() as u32);
    let got = decode(&img).expect("valid");
    assert_eq!(got.len(), recs.len());
    for (e, &(kind, mode, path, data)) in got.iter().zip(recs) {
        assert_eq!((e.kind, e.mode, e.path, e.data), (kind, mode, path, data));
    }
    assert_eq!(got[4].name(), b"up");
    assert_eq!(got[4].parent(), b"a/sub");
    assert_eq!(got[0].parent(), b"");
    // An empty tree is one header.
    assert_eq!(decode(&image(&[])).expect("empty"), vec![]);
    // Bytes past `total` are not part of the image.
    let mut longer = img.clone();
    longer.extend_from_slice(&[0xff; 100]);
    assert_eq!(decode(&longer).expect("valid").len(), recs.len());
}

#[test]
fn bad_headers_are_refused() {
    let good = image(&[(F, 0o644, b"f", b"x")]);
    let set = |off: usize, bytes: &[u8]| {
        let mut img = good.clone();
        img[off..off + bytes.len()].copy_from_slice(bytes);
        Tree::parse(&img).map(|_| ()).unwrap_err()
    };
    assert_eq!(Tree::parse(&good[..31]).unwrap_err(), TreeError::Short);
    assert_eq!(set(0, b"MVMMTREX"), TreeError::BadMagic);
    assert_eq!(set(8, &2u32.to_le_bytes()), TreeError::BadVersion);
    assert_eq!(
        set(12, &(MAX_ENTRIES + 1).to_le_bytes()),
        TreeError::TooManyEntries
    );
    assert_eq!(set(16, &9u64.to_le_bytes()), TreeError::BadTotal);
    assert_eq!(set(16, &20u64.to_le_bytes()), TreeError::BadTotal);
    assert_eq!(set(16, &u64::MAX.to_le_bytes()), TreeError::BadTotal);
    assert_eq!(set(16, &(1u64 << 60).to_le_bytes()), TreeError::Short);
    assert_eq!(set(24, &0o10000u16.to_le_bytes()), TreeError::BadMode);
    assert_eq!(set(26, &[1]), TreeError::Padding);
}

#[test]
fn bad_records_are_refused() {
    let good = image(&[(F, 0o644, b"f", b"data")]);
    let rec = HEADER_LEN;
    let set = |off: usize, bytes: &[u8]| {
        let mut img = good.clone();
        img[rec + off..rec + off + bytes.len()].copy_from_slice(bytes);
        decode(&img).unwrap_err()
    };
    assert_eq!(set(0, &[0]), TreeError::BadKind);
    assert_eq!(set(0, &[4]), TreeError::BadKind);
    assert_eq!(set(1, &[1]), TreeError::Padding);
    assert_eq!(set(2, &0o170644u16.to_le_bytes()), TreeError::BadMode);
    assert_eq!(set(6, &[1]), TreeError::Padding);
    // Lengths that run past the image, or overflow, whatever they claim.
    assert_eq!(set(4, &5u16.to_le_bytes()), TreeError::Truncated);
    assert_eq!(set(4, &u16::MAX.to_le_bytes()), TreeError::Truncated);
    // No path: the path bytes become data, and the data spills into padding.
    assert_eq!(set(4, &0u16.to_le_bytes()), TreeError::Padding);
    for len in [8u64, 1 << 40, u64::MAX - 20, u64::MAX] {
        assert_eq!(set(8, &len.to_le_bytes()), TreeError::Truncated, "{len}");
    }
    // A padding byte after the data.
    let pad = ENTRY_HEADER_LEN + 1 + 4;
    assert_eq!(set(pad, &[1]), TreeError::Padding);
    // count says more records than there are; or fewer.
    let mut img = good.clone();
    img[12..16].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(decode(&img).unwrap_err(), TreeError::Truncated);
    img[12..16].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(decode(&img).unwrap_err(), TreeError::Trailing);
    // The record cut off by `total`.
    let mut img = good.clone();
    img[16..24].copy_from_slice(&40u64.to_le_bytes());
    assert_eq!(decode(&img).unwrap_err(), TreeError::Truncated);
}

#[test]
fn bad_paths_are_refused() {
    let long_name = [b'n'; NAME_MAX + 1];
    let max_name = [b'n'; NAME_MAX];
    let cases: &[(&[u8], TreeError)] = &[
        (b"/a", TreeError::EmptyComponent),
        (b"a/", TreeError::EmptyComponent),
        (b"a//b", TreeError::EmptyComponent),
        (b".", TreeError::DotComponent),
        (b"..", TreeError::DotComponent),
        (b"a/./b", TreeError::DotComponent),
        (b"a/../b", TreeError::DotComponent),
        (b"a\0b", TreeError::Nul),
        (&long_name, TreeError::NameTooLong),
    ];
    for &(path, want) in cases {
        assert_eq!(tree::check_path(path), Err(want), "{path:?}");
        // Where it is the first record, its own rule comes first.
        assert_eq!(first_error(&[(F, 0o644, path, b"")]), want, "{path:?}");
    }
    assert_eq!(tree::check_path(&max_name), Ok(()));
    assert_eq!(tree::check_path(b"..a/.b/c.."), Ok(()));
    // 1024 bytes pass, 1025 do not.
    let mut path = Vec::new();
    while path.len() < PATH_MAX {
        if !path.is_empty() {
            path.push(b'/');
        }
        let n = (PATH_MAX - path.len()).min(200);
        path.extend(std::iter::repeat_n(b'd', n));
    }
    assert_eq!(path.len(), PATH_MAX);
    assert_eq!(tree::check_path(&path), Ok(()));
    path.push(b'x');
    assert_eq!(tree::check_path(&path), Err(TreeError::PathLength));
    assert_eq!(tree::check_path(b""), Err(TreeError::PathLength));
    assert_eq!(first_error(&[(F, 0o644, b"", b"")]), TreeError::PathLength);
}

#[test]
fn bad_data_is_refused() {
    assert_eq!(first_error(&[(D, 0o755, b"d", b"x")]), TreeError::DirData);
    assert_eq!(
        first_error(&[(L, 0o777, b"l", b"")]),
        TreeError::SymlinkLength
    );
    assert_eq!(first_error(&[(L, 0o777, b"l", b"a\0b")]), TreeError::Nul);
    let long = vec![b't'; SYMLINK_MAX + 1];
    assert_eq!(
        first_error(&[(L, 0o777, b"l", &long)]),
        TreeError::SymlinkLength
    );
    let max = vec![b't'; SYMLINK_MAX];
    assert!(decode(&image(&[(L, 0o777, b"l", &max)])).is_ok());
}

#[test]
fn order_and_parents_are_checked() {
    let cases: &[(&[Rec], TreeError)] = &[
        // A child before its parent, or with no parent at all.
        (&[(F, 0o644, b"a/b", b"")], TreeError::NoParent),
        (
            &[(F, 0o644, b"a/b", b""), (D, 0o755, b"a", b"")],
            TreeError::NoParent,
        ),
        // The parent is a file.
        (
            &[(F, 0o644, b"a", b""), (F, 0o644, b"a/b", b"")],
            TreeError::ParentNotDir,
        ),
        (
            &[(L, 0o777, b"a", b"/"), (F, 0o644, b"a/b", b"")],
            TreeError::ParentNotDir,
        ),
        // Siblings out of order, or twice.
        (
            &[(F, 0o644, b"b", b""), (F, 0o644, b"a", b"")],
            TreeError::Order,
        ),
        (
            &[(F, 0o644, b"a", b""), (F, 0o644, b"a", b"")],
            TreeError::Order,
        ),
        (
            &[(D, 0o755, b"a", b""), (D, 0o755, b"a", b"")],
            TreeError::Order,
        ),
        (
            &[
                (D, 0o755, b"d", b""),
                (F, 0o644, b"d/x", b""),
                (F, 0o644, b"d/x", b""),
            ],
            TreeError::Order,
        ),
        // A directory's contents split by another entry.
        (
            &[
                (D, 0o755, b"a", b""),
                (F, 0o644, b"b", b""),
                (F, 0o644, b"a/x", b""),
            ],
            TreeError::NoParent,
        ),
        // Back up to a sibling of an ancestor that sorts before it.
        (
            &[
                (D, 0o755, b"m", b""),
                (D, 0o755, b"m/n", b""),
                (F, 0o644, b"m/n/o", b""),
                (F, 0o644, b"a", b""),
            ],
            TreeError::Order,
        ),
        // "ab" is not a parent of "abc/x".
        (
            &[(D, 0o755, b"ab", b""), (F, 0o644, b"abc/x", b"")],
            TreeError::NoParent,
        ),
    ];
    for (recs, want) in cases {
        assert_eq!(first_error(recs), *want, "{recs:?}");
    }
    // Back up two levels, to a later sibling of an ancestor: fine.
    let ok: &[Rec] = &[
        (D, 0o755, b"m", b""),
        (D, 0o755, b"m/n", b""),
        (F, 0o644, b"m/n/o", b""),
        (F, 0o644, b"m/p", b""),
        (F, 0o644, b"z", b""),
    ];
    assert_eq!(decode(&image(ok)).expect("valid").len(), 5);
}

#[test]
fn the_iterator_stops_at_the_first_error() {
    let img = image(&[
        (F, 0o644, b"a", b"1"),
        (F, 0o644, b"a", b"2"),
        (F, 0o644, b"b", b"3"),
    ]);
    let got: Vec<_> = Tree::parse(&img).expect("header").entries().collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    assert_eq!(got[1], Err(TreeError::Order));
}

#[test]
fn encoder_refuses_what_does_not_fit() {
    let mut small = [0u8; 20];
    assert_eq!(
        tree::encode_entry(F, 0o644, b"name", b"data", &mut small),
        None
    );
    assert!(EntryHeader::new(F, 0, 70_000, 0).is_none());
    assert_eq!(tree::record_len(usize::MAX, 0), None);
    assert_eq!(tree::record_len(1, u64::MAX), None);
    assert_eq!(tree::record_len(1, 0), Some(24));
    assert_eq!(tree::record_len(7, 1), Some(24));
    assert_eq!(tree::record_len(7, 2), Some(32));
    assert_eq!(tree::max_image(128 << 20), 32 << 20);
}

/// A valid image to mutate.
fn seed() -> Vec<u8> {
    image(&[
        (D, 0o755, b"bin", b""),
        (F, 0o755, b"bin/busybox", b"\x7fELF...."),
        (L, 0o777, b"bin/sh", b"busybox"),
        (D, 0o700, b"etc", b""),
        (F, 0o644, b"etc/passwd", b"root:x:0:0::/:/bin/sh\n"),
    ])
}

proptest! {
    /// Whatever the bytes, decoding ends without a panic, and every entry
    /// it yields lies inside the input and obeys the path rules.
    #[test]
    fn hostile_images_never_panic(
        edits in proptest::collection::vec((0usize..200, any::<u8>()), 0..8),
        cut in 0usize..220,
    ) {
        let mut img = seed();
        for (at, v) in edits {
            if let Some(b) = img.get_mut(at) {
                *b = v;
            }
        }
        img.truncate(cut);
        let range = img.as_ptr_range();
        if let Ok(t) = Tree::parse(&img) {
            for e in t.entries().take(MAX_ENTRIES as usize + 2) {
                let Ok(e) = e else { continue };
                for s in [e.path, e.data] {
                    prop_assert!(range.start <= s.as_ptr() && s.as_ptr_range().end <= range.end);
                }
                prop_assert_eq!(tree::check_path(e.path), Ok(()));
            }
        }
    }
}
