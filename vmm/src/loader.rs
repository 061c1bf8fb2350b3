//! Loading the guest kernel: read the ELF file, check every header against
//! the guest-physical layout in `abi::layout`, then copy its segments into
//! guest memory with linux-loader.
//!
//! Nothing here panics on a bad file: every problem is a [`LoaderError`]
//! whose message names it. "Segment N" in a message is program header N,
//! numbered as `readelf -l` numbers them.

mod elf;
pub mod env;
mod error;
pub mod file;
#[cfg(test)]
mod image;
pub mod program;

pub use elf::{ElfSummary, validate};
pub use error::LoaderError;

use std::io;
use std::path::Path;

use file::FileError;

use abi::layout::RESERVED_END;
use linux_loader::loader::KernelLoader;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Largest guest file read_guest_file accepts: far above any kernel we
/// build, far below what would hurt to hold in memory.
pub const MAX_GUEST_FILE: u64 = 256 << 20;

/// Read a guest file (the kernel ELF) whole, refusing anything that is not
/// a regular file or is larger than MAX_GUEST_FILE before reading a byte.
pub fn read_guest_file(path: &Path) -> Result<Vec<u8>, LoaderError> {
    let named = |error| match error {
        FileError::Open(error) => LoaderError::Open {
            path: path.to_path_buf(),
            error,
        },
        FileError::NotRegular(kind) => LoaderError::NotRegular {
            path: path.to_path_buf(),
            kind,
        },
        error => LoaderError::File {
            path: path.to_path_buf(),
            error,
        },
    };
    let (mut file, len) = file::open_regular(path).map_err(named)?;
    if len > MAX_GUEST_FILE {
        return Err(LoaderError::TooLarge {
            path: path.to_path_buf(),
            size: len,
        });
    }
    // The header first: a large file that is not an x86-64 ELF is refused
    // without being read whole.
    let mut bytes = file::read_head(&mut file, len, 64).map_err(named)?;
    if elf::ident(&bytes).is_err() {
        // validate() says what is wrong with it, naming the file.
        return Ok(bytes);
    }
    file::read_rest(&mut file, &mut bytes, len).map_err(named)?;
    Ok(bytes)
}

/// Check the kernel ELF in `bytes` against a guest of `ram_size` bytes,
/// then copy each PT_LOAD segment to its p_paddr in `mem` and zero its bss.
pub fn load(mem: &GuestMemoryMmap, bytes: &[u8], ram_size: u64) -> Result<ElfSummary, LoaderError> {
    let image = elf::check(bytes, ram_size)?;
    // highmem_start = RESERVED_END is linux-loader's own version of our
    // "nothing below the boot structures" rule (it checks e_entry).
    linux_loader::loader::elf::Elf::load(
        mem,
        None,
        &mut io::Cursor::new(bytes),
        Some(GuestAddress(RESERVED_END)),
    )
    .map_err(LoaderError::Load)?;
    // linux-loader copies p_filesz bytes and leaves [p_filesz, p_memsz)
    // untouched. Fresh anonymous memory would already be zero, but zeroing
    // here keeps the bss right whatever the memory held before.
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    for seg in &image.loads {
        // check() proved paddr + memsz fits and filesz <= memsz.
        let bss_len = seg.memsz.saturating_sub(seg.filesz);
        let mut done = 0;
        while done < bss_len {
            let start = seg
                .paddr
                .checked_add(seg.filesz)
                .and_then(|a| a.checked_add(done))
                .ok_or(LoaderError::AddressOverflow {
                    index: seg.index,
                    addr: seg.paddr.raw(),
                    size: seg.memsz,
                })?;
            let n = usize::try_from(bss_len - done).map_or(ZEROS.len(), |l| l.min(ZEROS.len()));
            mem.write_slice(&ZEROS[..n], GuestAddress(start.raw()))
                .map_err(|error| LoaderError::ZeroBss {
                    index: seg.index,
                    start,
                    error,
                })?;
            done += n as u64;
        }
    }
    Ok(image.summary)
}

#[cfg(test)]
mod tests {
    use super::image::{Image, Phdr, note};
    use super::*;
    use crate::addr::{Gpa, Gva};
    use proptest::prelude::*;
    use std::fs::{self, File};

    fn memory() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 4 << 20)]).expect("4 MiB test memory")
    }

    fn read(mem: &GuestMemoryMmap, gpa: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        mem.read_slice(&mut buf, GuestAddress(gpa))
            .expect("read back test memory");
        buf
    }

    #[test]
    fn load_puts_segment_bytes_at_their_gpa_and_zeroes_bss() {
        let mem = memory();
        // Dirty the bss first: load must clear it, not rely on fresh memory.
        mem.write_slice(&[0xee; 0x1000], GuestAddress(0x10_1000))
            .expect("dirty");
        let image = Image::new();
        let summary = load(&mem, &image.bytes(), 4 << 20).expect("valid image loads");
        assert_eq!(read(&mem, 0x10_0000, 0x1000), image.segment_bytes());
        assert_eq!(read(&mem, 0x10_1000, 0x1000), vec![0; 0x1000]);
        assert_eq!(
            read(&mem, 0x0f_f000, 0x1000),
            vec![0; 0x1000],
            "nothing below p_paddr"
        );
        assert_eq!(summary.entry, Gva(0x10_0010));
        assert_eq!(summary.end, Gpa(0x10_2000));
    }

    #[test]
    fn load_validates_before_touching_memory() {
        let mem = memory();
        let mut image = Image::new();
        image.entry = 0x50_0000;
        let err = load(&mem, &image.bytes(), 4 << 20).unwrap_err();
        assert!(matches!(err, LoaderError::EntryOutside { .. }), "{err}");
        assert_eq!(read(&mem, 0x10_0000, 16), vec![0; 16]);
    }

    #[test]
    fn load_reports_memory_smaller_than_ram_size() {
        let mem = memory();
        let mut image = Image::new();
        image.phdrs[0].paddr = 0x50_0000;
        image.phdrs[0].vaddr = 0x50_0000;
        image.entry = 0x50_0000;
        // ram_size claims 8 MiB but only 4 MiB is backed.
        let err = load(&mem, &image.bytes(), 8 << 20).unwrap_err();
        assert!(matches!(err, LoaderError::Load(_)), "{err}");
    }

    #[test]
    fn read_guest_file_errors_name_the_path() {
        let dir = std::env::temp_dir().join(format!("microvmm-loader-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let missing = dir.join("guest.bin");
        let err = read_guest_file(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open {}: No such file or directory",
                missing.display()
            )
        );
        let err = read_guest_file(&dir).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is not a regular file (it is a directory)"),
            "{err}"
        );

        let socket = dir.join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind socket");
        let err = read_guest_file(&socket).unwrap_err();
        assert!(err.to_string().ends_with("(it is a socket)"), "{err}");

        let file = dir.join("kernel");
        fs::write(&file, b"\x7fELF and more").expect("write temp file");
        assert_eq!(
            read_guest_file(&file).expect("readable"),
            b"\x7fELF and more"
        );
        // A sparse file one byte over the limit costs no disk space.
        let big = File::create(&file).expect("recreate");
        big.set_len(MAX_GUEST_FILE + 1).expect("set_len");
        let err = read_guest_file(&file).unwrap_err();
        assert!(matches!(err, LoaderError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("the limit is 256 MiB"), "{err}");
        fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn read_guest_file_refuses_device_files() {
        let err = read_guest_file(Path::new("/dev/null")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/null is not a regular file (it is a character device)"
        );
    }

    #[test]
    fn real_files_on_this_host() {
        let bytes = read_guest_file(Path::new("/etc/passwd")).expect("/etc/passwd");
        assert!(matches!(
            validate(&bytes, 128 << 20),
            Err(LoaderError::NotElf)
        ));
        // Distributions build /bin/true as a PIE (ET_DYN).
        let bytes = read_guest_file(Path::new("/bin/true")).expect("/bin/true");
        let err = validate(&bytes, 128 << 20).unwrap_err();
        assert!(matches!(err, LoaderError::NotExec { e_type: 3 }), "{err}");
        assert_eq!(
            err.to_string(),
            "ELF type 3 (ET_DYN, a shared object or PIE), not ET_EXEC: microvmm needs a \
             statically linked, non-PIE kernel executable"
        );
    }

    proptest! {
        /// Whatever validate accepts, linux-loader loads: validation is
        /// at least as strict as the loader it guards.
        #[test]
        fn validated_images_always_load(
            edits in proptest::collection::vec((0usize..0x240, any::<u8>()), 1..6)
        ) {
            let mut image = Image::new();
            let xen = note(b"Xen\0", 18, &0x10_0040u32.to_le_bytes());
            image.phdrs.push(Phdr::note(0x200, xen.len() as u64));
            image.contents.push((0x200, xen));
            let mut bytes = image.bytes();
            for (at, value) in edits {
                if let Some(b) = bytes.get_mut(at) {
                    *b = value;
                }
            }
            if let Ok(summary) = validate(&bytes, 4 << 20) {
                prop_assert_eq!(load(&memory(), &bytes, 4 << 20).ok(), Some(summary));
            }
        }
    }
}
