//! Temporary files of output files: `.NAME.microvmm-PID.tmp` beside the
//! target, hidden and one per process, so that one left by a killed
//! microvmm (SIGKILL leaves no chance to clean up) is recognised and
//! removed by the next run that writes NAME, once PID is no longer alive.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// The directory `path` is in (`.` for a bare name).
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn base(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned())
}

/// `.NAME.microvmm-PID.tmp` beside `path`, for process `pid`.
pub fn name_for(path: &Path, pid: u32) -> PathBuf {
    parent(path).join(format!(".{}.microvmm-{pid}.tmp", base(path)))
}

/// This process's temporary file for `path`.
pub fn name(path: &Path) -> PathBuf {
    name_for(path, std::process::id())
}

/// The PID in `file`, if it is a temporary file of `path`.
fn pid_of(path: &Path, file: &OsStr) -> Option<u32> {
    let file = file.to_str()?;
    let rest = file.strip_prefix(&format!(".{}.microvmm-", base(path)))?;
    let pid = rest.strip_suffix(".tmp")?;
    // Digits only: "+5" or " 5" is not a name we made.
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` exists (signal 0 checks without sending).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return true; // never a process we made; leave it alone
    }
    // SAFETY: kill with signal 0 only checks that pid exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Remove the temporary files of `path` whose microvmm is gone; how many.
/// Only regular files named as `name` names them are touched, and only
/// when their PID is not a live process.
pub fn remove_stale(path: &Path) -> usize {
    let Ok(dir) = fs::read_dir(parent(path)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in dir.flatten() {
        let Some(pid) = pid_of(path, &entry.file_name()) else {
            continue;
        };
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular
            && pid != std::process::id()
            && !alive(pid)
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised_only_as_made() {
        let p = Path::new("/x/report.json");
        assert_eq!(
            name_for(p, 42),
            Path::new("/x/.report.json.microvmm-42.tmp")
        );
        let pid = |s: &str| pid_of(p, OsStr::new(s));
        assert_eq!(pid(".report.json.microvmm-42.tmp"), Some(42));
        assert_eq!(pid(".report.json.microvmm-+42.tmp"), None);
        assert_eq!(pid(".report.json.microvmm-.tmp"), None);
        assert_eq!(pid(".other.json.microvmm-42.tmp"), None);
        assert_eq!(pid("report.json"), None);
    }

    #[test]
    fn only_dead_processes_files_are_removed() {
        let d = std::env::temp_dir().join(format!("microvmm-stale-{}", std::process::id()));
        let _ = fs::create_dir_all(&d);
        let target = d.join("r.json");
        // A process that has exited, and this one (alive).
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("wait");
        fs::write(name_for(&target, dead), "stale").expect("write");
        fs::write(name(&target), "ours").expect("write");
        fs::write(d.join("unrelated"), "keep").expect("write");
        assert_eq!(remove_stale(&target), 1);
        assert!(!name_for(&target, dead).exists());
        assert!(name(&target).exists() && d.join("unrelated").exists());
        let _ = fs::remove_dir_all(&d);
    }
}
