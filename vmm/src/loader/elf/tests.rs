//! validate on synthetic images: one valid kernel, then one spoiled field
//! per error, each checked by variant and by the words of its message.

use super::super::image::{Image, Phdr, note};
use super::*;

const RAM: u64 = 128 << 20;

/// Validate `image` in 128 MiB and return the error it must produce.
fn error_of(image: &Image) -> LoaderError {
    match validate(&image.bytes(), RAM) {
        Ok(summary) => panic!("expected an error, got {summary:?}"),
        Err(err) => err,
    }
}

/// The default image moved to `paddr`, linked at `vaddr`, entry at its start.
fn moved(paddr: u64, vaddr: u64) -> Image {
    let mut image = Image::new();
    image.phdrs[0].paddr = paddr;
    image.phdrs[0].vaddr = vaddr;
    image.entry = vaddr;
    image
}

#[test]
fn accepts_identity_mapped_kernel() {
    let summary = validate(&Image::new().bytes(), RAM).expect("valid");
    assert_eq!(
        summary,
        ElfSummary {
            entry: Gva(0x10_0010),
            segments: vec![(Gpa(0x10_0000), 0x2000)],
            end: Gpa(0x10_2000),
            pvh_entry: None,
        }
    );
}

#[test]
fn accepts_kernel_base_mapped_kernel() {
    let mut image = moved(0x20_0000, KERNEL_BASE + 0x20_0000);
    image.entry = KERNEL_BASE + 0x20_0123;
    let summary = validate(&image.bytes(), RAM).expect("valid");
    assert_eq!(summary.entry, Gva(0xffff_ffff_8020_0123));
    assert_eq!(summary.segments, vec![(Gpa(0x20_0000), 0x2000)]);
    // The window's last byte is the top of the address space.
    let image = moved(
        KERNEL_WINDOW - 0x2000,
        KERNEL_BASE + (KERNEL_WINDOW - 0x2000),
    );
    let summary = validate(&image.bytes(), 3 << 30).expect("segment ending at 2 GiB");
    assert_eq!(summary.end, Gpa(2 << 30));
}

#[test]
fn end_is_page_aligned_past_the_highest_segment() {
    let mut image = Image::new();
    // Listed first but highest; touching the next one is allowed.
    image
        .phdrs
        .insert(0, Phdr::load(0x1000, 0x30_0000, 0x30_0000, 0x800, 0x1234));
    image
        .phdrs
        .push(Phdr::load(0x1000, 0x10_2000, 0x10_2000, 0, 0x1000));
    image.phdrs.push(Phdr::load(0, 0x40_0000, 0x40_0000, 0, 0)); // empty: ignored
    let summary = validate(&image.bytes(), RAM).expect("valid");
    let want = vec![
        (Gpa(0x30_0000), 0x1234),
        (Gpa(0x10_0000), 0x2000),
        (Gpa(0x10_2000), 0x1000),
    ];
    assert_eq!(summary.segments, want);
    assert_eq!(summary.end, Gpa(0x30_2000));
}

#[test]
fn refuses_what_is_not_an_elf64_x86_kernel() {
    assert!(matches!(validate(&[], RAM), Err(LoaderError::Empty)));
    assert!(LoaderError::Empty.to_string().contains("is empty"));
    for junk in [&b"root:x:0:0"[..], b"\x7fEL", b"\x7felf"] {
        let err = validate(junk, RAM).unwrap_err();
        assert!(matches!(err, LoaderError::NotElf), "{err}");
        assert!(err.to_string().starts_with("not an ELF file"), "{err}");
    }
    let head = Image::new().bytes()[..40].to_vec();
    assert!(matches!(
        validate(&head, RAM),
        Err(LoaderError::Truncated { len: 40 })
    ));
    assert!(matches!(
        validate(b"\x7fELF", RAM),
        Err(LoaderError::Truncated { len: 4 })
    ));

    let mut image = Image::new();
    image.class = 1;
    let err = error_of(&image);
    assert_eq!(err.to_string(), "32-bit ELF: microvmm needs ELF64 x86-64");
    image.class = 7;
    assert!(matches!(
        error_of(&image),
        LoaderError::BadIdent {
            field: "class",
            value: 7
        }
    ));

    let mut image = Image::new();
    image.data = 2;
    assert!(error_of(&image).to_string().starts_with("big-endian ELF"));
    image.data = 0;
    assert!(matches!(
        error_of(&image),
        LoaderError::BadIdent { value: 0, .. }
    ));

    let mut image = Image::new();
    image.machine = 183;
    assert_eq!(
        error_of(&image).to_string(),
        "ELF machine 183 (AArch64), not x86-64"
    );
    image.machine = 999;
    assert_eq!(
        error_of(&image).to_string(),
        "ELF machine 999 (unknown), not x86-64"
    );

    let mut image = Image::new();
    for e_type in [0, 1, 3, 4] {
        image.e_type = e_type;
        let err = error_of(&image);
        assert!(
            matches!(err, LoaderError::NotExec { e_type: t } if t == e_type),
            "{err}"
        );
        assert!(err.to_string().contains("not ET_EXEC"), "{err}");
    }
}

#[test]
fn refuses_a_bad_program_header_table() {
    let mut image = Image::new();
    image.phentsize = 32;
    assert!(matches!(error_of(&image), LoaderError::PhdrEntSize(32)));

    let mut image = Image::new();
    image.phoff = 16;
    assert!(matches!(
        error_of(&image),
        LoaderError::PhdrOverlapsHeader { offset: 16 }
    ));

    for (phoff, phnum) in [(0x1ff0, None), (u64::MAX - 8, None), (64, Some(0xffff))] {
        let mut image = Image::new();
        (image.phoff, image.phnum) = (phoff, phnum);
        let err = error_of(&image);
        assert!(matches!(err, LoaderError::PhdrOutside { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("lies outside the file (8192 bytes)"),
            "{err}"
        );
    }
}

#[test]
fn refuses_an_image_with_nothing_to_load() {
    let mut image = Image::new();
    image.phnum = Some(0);
    assert!(matches!(error_of(&image), LoaderError::NoLoad));
    image.phnum = None;
    image.phdrs = vec![
        Phdr::note(0x200, 0),
        Phdr::load(0x1000, 0x10_0000, 0x10_0000, 0, 0),
    ];
    let err = error_of(&image);
    assert!(matches!(err, LoaderError::NoLoad), "{err}");
    assert!(err.to_string().contains("no PT_LOAD segment"));
}

#[test]
fn refuses_segments_outside_the_file() {
    for offset in [0x1800, u64::MAX] {
        let mut image = Image::new();
        image.phdrs[0].offset = offset;
        let err = error_of(&image);
        assert!(
            matches!(err, LoaderError::FileRange { index: 0, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("lie outside the file (8192 bytes)"),
            "{err}"
        );
    }
    let mut image = Image::new();
    image.phdrs[0].filesz = 0x3000;
    image.phdrs[0].memsz = 0x3000;
    assert!(matches!(
        error_of(&image),
        LoaderError::FileRange { size: 0x3000, .. }
    ));

    let mut image = Image::new();
    image.phdrs[0].memsz = 0x800;
    let err = error_of(&image);
    assert_eq!(
        err.to_string(),
        "segment 0: file size 0x1000 is larger than its memory size 0x800"
    );
}

#[test]
fn refuses_segments_outside_guest_ram() {
    let image = moved(0x7ff_f000, 0x7ff_f000);
    assert_eq!(
        error_of(&image).to_string(),
        "segment 0 at GPA 0x7fff000 - 0x8001000 lies outside guest RAM (128 MiB)"
    );
    let image = moved(u64::MAX - 0x10, u64::MAX - 0x10);
    assert!(matches!(
        error_of(&image),
        LoaderError::AddressOverflow { index: 0, .. }
    ));
    // A second header is numbered as readelf numbers it.
    let mut image = Image::new();
    image.phdrs.push(Phdr::note(0x200, 0));
    image
        .phdrs
        .push(Phdr::load(0x1000, 0x800_0000, 0x800_0000, 0, 1));
    assert!(
        error_of(&image)
            .to_string()
            .starts_with("segment 2 at GPA 0x8000000")
    );
}

#[test]
fn refuses_segments_over_the_boot_structures() {
    let image = moved(0xf_f000, 0xf_f000);
    assert_eq!(
        error_of(&image).to_string(),
        "segment 0 at GPA 0xff000 - 0x101000 overlaps the VMM's boot structures below 0x100000"
    );
    let image = moved(0, KERNEL_BASE);
    assert!(matches!(error_of(&image), LoaderError::Reserved { .. }));
}

#[test]
fn refuses_segments_the_boot_page_tables_do_not_map() {
    let image = moved(0x10_0000, 0x40_0000);
    assert_eq!(
        error_of(&image).to_string(),
        "segment 0: virtual 0x400000 is not mapped by the boot page tables \
         (needs VA == PA or VA == 0xffffffff80000000 + PA; PA is 0x100000)"
    );
    // Linked 1 MiB off the window, as a kernel linked for a different base would be.
    let image = moved(0x20_0000, KERNEL_BASE + 0x10_0000);
    assert!(matches!(error_of(&image), LoaderError::Unmapped { .. }));
    // KERNEL_BASE + PA runs past 2^64 when the segment crosses GPA 2 GiB.
    let image = moved(
        KERNEL_WINDOW - 0x1000,
        KERNEL_BASE + (KERNEL_WINDOW - 0x1000),
    );
    let err = validate(&image.bytes(), 3 << 30).unwrap_err();
    assert!(
        matches!(err, LoaderError::PastKernelWindow { index: 0, .. }),
        "{err}"
    );
}

#[test]
fn refuses_overlapping_segments() {
    let mut image = Image::new();
    image
        .phdrs
        .insert(0, Phdr::load(0x1000, 0x10_1000, 0x10_1000, 0x10, 0x10));
    assert_eq!(
        error_of(&image).to_string(),
        "segments 0 and 1 overlap in guest-physical memory at GPA 0x101000"
    );
}

#[test]
fn entry_must_be_a_virtual_address_inside_a_segment() {
    let mut image = Image::new();
    image.entry = 0x50_0000;
    assert_eq!(
        error_of(&image).to_string(),
        "entry point 0x500000 is outside every loaded segment"
    );
    image.entry = 0x10_2000; // One past the end: segments are half-open.
    assert!(matches!(error_of(&image), LoaderError::EntryOutside { .. }));
    image.entry = 0x10_1fff;
    assert!(validate(&image.bytes(), RAM).is_ok());
    // A physical entry for a KERNEL_BASE-linked kernel is a mistake.
    let mut image = moved(0x10_0000, KERNEL_BASE + 0x10_0000);
    image.entry = 0x10_0000;
    assert!(matches!(
        error_of(&image),
        LoaderError::EntryOutside {
            entry: Gva(0x10_0000)
        }
    ));
}

/// The default image with a PT_NOTE at file offset 0x200 holding `notes`.
fn with_notes(notes: &[Vec<u8>]) -> Image {
    let bytes = notes.concat();
    let mut image = Image::new();
    image.phdrs.push(Phdr::note(0x200, bytes.len() as u64));
    image.contents.push((0x200, bytes));
    image
}

#[test]
fn finds_the_pvh_entry_note() {
    let gnu = note(b"GNU\0", 3, &[0xab; 20]);
    let xen_u32 = note(b"Xen\0", 18, &0x10_0040u32.to_le_bytes());
    let summary = validate(&with_notes(&[gnu.clone(), xen_u32]).bytes(), RAM).expect("valid");
    assert_eq!(summary.pvh_entry, Some(Gpa(0x10_0040)));

    let xen_u64 = note(b"Xen\0", 18, &0x10_0080u64.to_le_bytes());
    let summary = validate(&with_notes(&[xen_u64]).bytes(), RAM).expect("valid");
    assert_eq!(summary.pvh_entry, Some(Gpa(0x10_0080)));

    // Other Xen notes, other owners' type 18 and an unterminated name are not it.
    let others = [
        note(b"Xen\0", 17, &0x10_0040u32.to_le_bytes()),
        note(b"GNU\0", 18, &0x10_0040u32.to_le_bytes()),
        note(b"Xen", 18, &0x10_0040u32.to_le_bytes()),
        gnu,
    ];
    let summary = validate(&with_notes(&others).bytes(), RAM).expect("valid");
    assert_eq!(summary.pvh_entry, None);
}

#[test]
fn refuses_bad_pvh_notes() {
    let short = note(b"Xen\0", 18, &[0x40, 0x00]);
    let err = error_of(&with_notes(&[short]));
    assert!(
        matches!(err, LoaderError::PvhNoteSize { index: 1, size: 2 }),
        "{err}"
    );

    let outside = note(b"Xen\0", 18, &0x20_0000u32.to_le_bytes());
    assert_eq!(
        error_of(&with_notes(&[outside])).to_string(),
        "PVH entry point 0x200000 is outside every loaded segment"
    );

    let mut huge_name = note(b"Xen\0", 18, &[0; 4]);
    huge_name[..4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let err = error_of(&with_notes(&[huge_name]));
    assert_eq!(
        err.to_string(),
        "segment 1: malformed ELF note at file offset 0x200"
    );

    let mut image = with_notes(&[note(b"Xen\0", 18, &[0; 4])]);
    image.phdrs[1].offset = 0x1ff8;
    assert!(matches!(
        error_of(&image),
        LoaderError::FileRange { index: 1, .. }
    ));
}
