//! Output files (`--json`, `--svg`, ...), written so that nothing the user
//! had is lost and nothing half-written is left: a regular file is written
//! to a temporary file in the same directory and renamed over the target
//! at the end (an interrupted run leaves the old file as it was); a FIFO or
//! device is opened without blocking (a FIFO nobody reads is an error, not
//! a hang) and written with the run's deadline.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::sink::Sink;

/// An output named on the command line, checked before the run.
#[derive(Debug)]
pub struct OutFile {
    path: PathBuf,
    /// A FIFO or device, already open (non-blocking open, blocking writes
    /// bounded by the deadline).
    special: Option<File>,
}

/// Why an output cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    #[error("cannot write {path}: {why}")]
    Open { path: String, why: String },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: io::Error },
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
                    special: Some(f),
                })
            }
            Ok(_) | Err(_) => {
                let dir = parent(path);
                // A probe file shows the directory takes new files (and the
                // rename will work), without creating the target itself.
                let probe = temp_name(path);
                let f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&probe)
                    .map_err(|e| err(format!("{} ({})", e, dir.display())))?;
                drop(f);
                let _ = fs::remove_file(&probe);
                if path.exists() {
                    OpenOptions::new()
                        .append(true)
                        .open(path)
                        .map_err(|e| err(e.to_string()))?;
                }
                Ok(OutFile {
                    path: path.to_path_buf(),
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
        let tmp = temp_name(&self.path);
        let written = (|| {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            fill(&mut f)?;
            f.flush()?;
            fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `.NAME.microvmm-PID.tmp` beside `path`: hidden, and one per process.
fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    parent(path).join(format!(".{name}.microvmm-{}.tmp", std::process::id()))
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
