//! Opening and reading an input file (the guest kernel, a `--run`
//! program) that may be anything: what the path names is looked at before
//! it is opened, its size comes from metadata and is checked by the caller
//! before a byte is read, and a read never takes more than that size plus
//! one byte (which tells a file that grew apart).

use std::fs::{self, File, FileType};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::error::os_text;

/// Why an input file cannot be used; the caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened (or looked at).
    #[error("cannot open: {}", os_text(.0))]
    Open(io::Error),
    /// The path names a directory, FIFO or device (what it is, in `ls -l` words).
    #[error("not a regular file (it is {0})")]
    NotRegular(&'static str),
    /// A file of a kernel pseudo file system, whose size says nothing of
    /// what reading it does (`/proc/kmsg` is "regular", 0 bytes, and
    /// reading it takes messages from the kernel log).
    #[error("a file on {0}, not a file of bytes")]
    Pseudo(&'static str),
    /// Reading the opened file failed.
    #[error("cannot read: {}", os_text(.0))]
    Read(io::Error),
    /// The file is not the size it had when it was checked.
    #[error("it changed while microvmm read it ({was} bytes when checked)")]
    Changed {
        /// Its size when checked.
        was: u64,
    },
}

/// What a non-regular file is, in words for an error message.
pub fn kind_of(t: FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// The pseudo file system `f_type` names, if it is one whose files are
/// not bytes at rest.
fn pseudo_fs(f_type: i64) -> Option<&'static str> {
    Some(match f_type {
        0x9fa0 => "procfs",
        0x6265_6572 => "sysfs",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0x6265_6570 => "configfs",
        0x0027_e0eb => "cgroupfs",
        0x6367_7270 => "cgroup2fs",
        _ => return None,
    })
}

/// Refuse a pseudo file system, as `statfs` (`Some(path)`) or `fstatfs`
/// (`None`, on `f`) describes it.
fn not_pseudo(path: Option<&Path>, f: Option<&File>) -> Result<(), FileError> {
    // SAFETY: statfs is plain data; the calls below fill it or fail.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = match (path, f) {
        (Some(p), _) => {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
                .map_err(|e| FileError::Open(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
            // SAFETY: a NUL-terminated path and a valid out pointer.
            unsafe { libc::statfs(c.as_ptr(), &mut st) }
        }
        // SAFETY: a valid fd and a valid out pointer.
        (None, Some(f)) => unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) },
        (None, None) => return Ok(()),
    };
    if rc != 0 {
        return Err(FileError::Open(io::Error::last_os_error()));
    }
    match pseudo_fs(st.f_type as i64) {
        Some(fs) => Err(FileError::Pseudo(fs)),
        None => Ok(()),
    }
}

/// The size of the regular file `path` names, from its metadata alone
/// (`stat`, `statfs`): nothing is opened or read.
pub fn size_of(path: &Path) -> Result<u64, FileError> {
    let size = regular(fs::metadata(path).map_err(FileError::Open)?)?;
    not_pseudo(Some(path), None)?;
    Ok(size)
}

fn regular(meta: fs::Metadata) -> Result<u64, FileError> {
    if meta.is_file() {
        Ok(meta.len())
    } else {
        Err(FileError::NotRegular(kind_of(meta.file_type())))
    }
}

/// Open `path` for reading if it is a regular file of a real file system;
/// returns the file and its size. Looks before it opens, and opens
/// `O_NONBLOCK`, so a FIFO swapped in between cannot hang us; nothing is
/// read.
pub fn open_regular(path: &Path) -> Result<(File, u64), FileError> {
    // Look before opening: open() on a FIFO would wait for a writer and on
    // a socket it fails with a confusing ENXIO.
    size_of(path)?;
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(FileError::Open)?;
    // The opened file is what counts (the path may have been swapped).
    let len = regular(file.metadata().map_err(FileError::Read)?)?;
    not_pseudo(None, Some(&file))?;
    Ok((file, len))
}

/// Read into all of `buf`; the bytes read, fewer only at end of file.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Read the first `n` bytes of a file of `size` bytes (all of it if it is
/// shorter).
pub fn read_head(r: &mut impl Read, size: u64, n: usize) -> Result<Vec<u8>, FileError> {
    let n = usize::try_from(size).map_or(n, |s| s.min(n));
    let mut head = vec![0; n];
    let got = fill(r, &mut head).map_err(FileError::Read)?;
    head.truncate(got);
    Ok(head)
}

/// Read the rest of a file of `size` bytes after `bytes` (its head): at
/// most `size + 1` bytes in all, and an error unless it has exactly `size`.
pub fn read_rest(r: &mut impl Read, bytes: &mut Vec<u8>, size: u64) -> Result<(), FileError> {
    let changed = FileError::Changed { was: size };
    let total = usize::try_from(size).map_err(|_| FileError::Changed { was: size })?;
    let from = bytes.len();
    if from > total {
        return Err(changed);
    }
    bytes.resize(total, 0);
    let got = fill(r, &mut bytes[from..]).map_err(FileError::Read)?;
    if from + got != total {
        return Err(changed);
    }
    expect_end(r, size)
}

/// The file is at its end: one more byte would mean it grew.
pub fn expect_end(r: &mut impl Read, size: u64) -> Result<(), FileError> {
    let mut probe = [0u8; 1];
    match fill(r, &mut probe).map_err(FileError::Read)? {
        0 => Ok(()),
        _ => Err(FileError::Changed { was: size }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_before_they_are_read() {
        let err = open_regular(Path::new("/dev/null")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a regular file (it is a character device)"
        );
        // "Regular" and 0 bytes, but reading it takes from the kernel log.
        let err = size_of(Path::new("/proc/kmsg")).unwrap_err();
        assert!(
            matches!(err, FileError::Pseudo("procfs") | FileError::Open(_)),
            "{err}"
        );
        let err = open_regular(Path::new("/proc/self/status")).unwrap_err();
        assert_eq!(err.to_string(), "a file on procfs, not a file of bytes");
        assert!(matches!(
            open_regular(Path::new("/sys/kernel/mm/transparent_hugepage/enabled")),
            Err(FileError::Pseudo("sysfs") | FileError::Open(_))
        ));
    }

    #[test]
    fn reads_exactly_the_checked_size() {
        let data = b"0123456789";
        let mut r = &data[..];
        let mut bytes = read_head(&mut r, 10, 4).expect("head");
        assert_eq!(bytes, b"0123");
        read_rest(&mut r, &mut bytes, 10).expect("rest");
        assert_eq!(bytes, data);
        // Grown: one byte past the size tells.
        let mut r = &data[..];
        let mut bytes = read_head(&mut r, 9, 4).expect("head");
        let err = read_rest(&mut r, &mut bytes, 9).unwrap_err();
        assert!(matches!(err, FileError::Changed { was: 9 }), "{err}");
        // Shrunk.
        let mut r = &data[..];
        let mut bytes = read_head(&mut r, 11, 64).expect("head");
        assert_eq!(bytes.len(), 10);
        assert!(read_rest(&mut r, &mut bytes, 11).is_err());
    }
}
