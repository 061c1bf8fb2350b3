//! Output files (`--json`, `--svg`, ...), written so that nothing the user
//! had is lost and nothing half-written is left: a regular file is written
//! to a temporary file in the same directory and renamed over the target
//! at the end (an interrupted run leaves the old file as it was); a FIFO or
//! device is opened without blocking (a FIFO nobody reads is an error, not
//! a hang) and written with the run's deadline. A path that is a symlink
//! is written through: the file it ends at is replaced, in that file's
//! directory, and the link stays a link (`--json /dev/stdout > file` fills
//! `file` and leaves `/dev/stdout` alone).

mod temp;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::sink::Sink;

/// An output named on the command line, checked before the run.
#[derive(Debug)]
pub struct OutFile {
    /// As given, for messages.
    path: PathBuf,
    /// The file a regular output replaces: `path` with its symlinks
    /// followed and its directory canonical.
    target: PathBuf,
    /// A FIFO or device, already open (non-blocking open, blocking writes
    /// bounded by the deadline).
    special: Option<File>,
}

/// Why an output cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    /// The output cannot be opened for writing (a directory, a FIFO no
    /// process reads, no permission).
    #[error("cannot write {path}: {why}")]
    Open {
        /// The output's path, as given.
        path: String,
        /// Why, in the OS's words or ours.
        why: String,
    },
    /// Writing or renaming into place failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output's path, as given.
        path: String,
        /// What the OS said.
        source: io::Error,
    },
}

impl OutFile {
    /// Check that `path` can be written, without touching what is there.
    pub fn open(path: &Path) -> Result<OutFile, OutError> {
        let shown = path.display().to_string();
        let err = |why: String| OutError::Open {
            path: shown.clone(),
            why,
        };
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => Err(err("it is a directory".into())),
            Ok(m) if !m.is_file() => {
                let ft = m.file_type();
                let f = OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(path)
                    .map_err(|e| {
                        if ft.is_fifo() && e.raw_os_error() == Some(libc::ENXIO) {
                            err("it is a FIFO that no process is reading".into())
                        } else {
                            err(e.to_string())
                        }
                    })?;
                Ok(OutFile {
                    path: path.to_path_buf(),
                    target: path.to_path_buf(),
                    special: Some(f),
                })
            }
            found => {
                let target = resolve(path).map_err(|e| err(e.to_string()))?;
                if let Ok(m) = found {
                    // A link through /proc can name a file that is gone
                    // ("/x (deleted)"): only the file itself will do.
                    let same = fs::metadata(&target)
                        .is_ok_and(|t| (t.dev(), t.ino()) == (m.dev(), m.ino()));
                    if !same {
                        return Err(err(format!(
                            "it leads to {}, which is not the file it names",
                            target.display()
                        )));
                    }
                }
                temp::remove_stale(&target);
                let dir = temp::parent(&target);
                // A probe file shows the directory takes new files (and the
                // rename will work), without creating the target itself.
                let probe = temp::name(&target);
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&probe)
                    .map_err(|e| err(format!("{} ({})", e, dir.display())))?;
                drop(f);
                let _ = fs::remove_file(&probe);
                if target.exists() {
                    OpenOptions::new()
                        .append(true)
                        .open(&target)
                        .map_err(|e| err(e.to_string()))?;
                }
                Ok(OutFile {
                    path: path.to_path_buf(),
                    target,
                    special: None,
                })
            }
        }
    }

    /// Write the whole output with `fill`; `deadline` bounds a FIFO or
    /// device that stops reading. A regular file appears complete or not
    /// at all.
    pub fn write(
        self,
        deadline: Option<Instant>,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), OutError> {
        let shown = self.path.display().to_string();
        let err = |source| OutError::Write {
            path: shown.clone(),
            source,
        };
        if let Some(f) = &self.special {
            let mut s = Sink::fd(f.as_raw_fd(), deadline);
            return fill(&mut s).map_err(err);
        }
        let tmp = temp::name(&self.target);
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            fill(&mut f)?;
            f.flush()?;
            fs::rename(&tmp, &self.target)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }
}

/// Most symlinks followed, as the kernel's own limit (ELOOP).
const MAX_LINKS: usize = 40;

/// The file writing `path` means: its symlinks followed one by one (the
/// last one may name a file that does not exist yet), in its directory
/// made canonical.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    let mut hops = 0;
    while fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
        hops += 1;
        if hops > MAX_LINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let to = fs::read_link(&p)?;
        p = if to.is_absolute() {
            to
        } else {
            temp::parent(&p).join(to)
        };
    }
    let name = p
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "it names no file"))?
        .to_owned();
    Ok(fs::canonicalize(temp::parent(&p))?.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "microvmm-outfile-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::create_dir_all(&d);
        d
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_litter() {
        let d = dir();
        let p = d.join("report.json");
        fs::write(&p, "old").unwrap();
        let o = OutFile::open(&p).unwrap();
        let r = o.write(None, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
        let left: Vec<_> = fs::read_dir(&d).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        OutFile::open(&p)
            .unwrap()
            .write(None, |w| w.write_all(b"new"))
            .unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn symlinks_are_written_through_and_stay_links() {
        let d = dir().join("links");
        let _ = fs::create_dir_all(d.join("sub"));
        let target = d.join("sub/target.json");
        fs::write(&target, "old").unwrap();
        // out -> sub/target.json (relative), via a second link.
        std::os::unix::fs::symlink("sub/target.json", d.join("out")).unwrap();
        std::os::unix::fs::symlink(d.join("out"), d.join("out2")).unwrap();
        OutFile::open(&d.join("out2"))
            .unwrap()
            .write(None, |w| w.write_all(b"new"))
            .unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        for l in ["out", "out2"] {
            let m = fs::symlink_metadata(d.join(l)).unwrap();
            assert!(m.file_type().is_symlink(), "{l} is still a link");
        }
        // A link to a file that does not exist yet creates that file.
        std::os::unix::fs::symlink("sub/fresh.json", d.join("dangling")).unwrap();
        OutFile::open(&d.join("dangling"))
            .unwrap()
            .write(None, |w| w.write_all(b"fresh"))
            .unwrap();
        assert_eq!(
            fs::read_to_string(d.join("sub/fresh.json")).unwrap(),
            "fresh"
        );
        assert!(
            fs::symlink_metadata(d.join("dangling"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
        assert!(OutFile::open(&d.join("loop")).is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_fifo_without_reader_is_refused_at_once() {
        let d = dir();
        let p = d.join("fifo");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = OutFile::open(&p).expect_err("nobody reads");
        assert!(e.to_string().contains("no process is reading"), "{e}");
        let e = OutFile::open(&d).expect_err("a directory");
        assert!(e.to_string().contains("directory"), "{e}");
        let _ = fs::remove_dir_all(&d);
    }
}
