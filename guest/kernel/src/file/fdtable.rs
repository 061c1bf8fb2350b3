//! One process's file descriptors: small numbers naming open files, each
//! with its close-on-exec flag. fork copies the table (the copies name the
//! same open files), execve closes the close-on-exec ones, exit closes all.

use abi::syscall::{EBADF, EMFILE, ENFILE};

use super::{FileId, Object, OpenFile};

/// Descriptors per process (Linux's default RLIMIT_NOFILE is 1024; glibc
/// and busybox need far fewer).
pub const NOFILE: usize = 64;

#[derive(Clone, Copy)]
pub struct FdTable {
    fds: [Option<FileId>; NOFILE],
    /// Bit n: descriptor n closes on execve.
    cloexec: u64,
}

const _: () = assert!(NOFILE <= 64);

impl FdTable {
    pub const EMPTY: FdTable = FdTable {
        fds: [None; NOFILE],
        cloexec: 0,
    };

    /// The standard streams of a process the kernel starts: fd 0 reads
    /// `stdin`, fds 1 and 2 write to the console. None if the system's
    /// open-file table is full.
    pub fn standard(stdin: Object) -> Option<FdTable> {
        let mut t = FdTable::EMPTY;
        let opens = [
            (stdin, super::O_RDONLY),
            (Object::Console(1), super::O_WRONLY),
            (Object::Console(2), super::O_WRONLY),
        ];
        for (fd, (obj, flags)) in opens.into_iter().enumerate() {
            match super::open(obj, flags) {
                Some(id) => t.fds[fd] = Some(id),
                None => {
                    t.close_all();
                    return None;
                }
            }
        }
        Some(t)
    }

    /// The open file `fd` names, or EBADF.
    pub fn get(&self, fd: u64) -> Result<FileId, i64> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i).copied().flatten())
            .ok_or(EBADF)
    }

    /// The open file `fd` names, as it is now.
    pub fn file(&self, fd: u64) -> Result<(FileId, OpenFile), i64> {
        self.get(fd).map(|id| (id, super::get(id)))
    }

    /// Install `id` (whose reference the caller passes on) at the lowest
    /// free descriptor at or above `from`; EMFILE (and the reference
    /// dropped) when there is none.
    pub fn install(&mut self, id: FileId, from: usize, cloexec: bool) -> Result<u64, i64> {
        match (from..NOFILE).find(|&i| self.fds[i].is_none()) {
            Some(i) => {
                self.fds[i] = Some(id);
                self.set_cloexec(i, cloexec);
                Ok(i as u64)
            }
            None => {
                super::release(id);
                Err(EMFILE)
            }
        }
    }

    /// Open `obj` with `flags` at the lowest free descriptor.
    pub fn open(&mut self, obj: Object, flags: u32, cloexec: bool) -> Result<u64, i64> {
        if self.fds.iter().all(Option::is_some) {
            return Err(EMFILE);
        }
        let id = super::open(obj, flags).ok_or(ENFILE)?;
        self.install(id, 0, cloexec)
    }

    /// dup2/dup3: make `new` name what `old` names (closing what `new`
    /// named). The caller has checked old != new where that matters.
    pub fn dup_to(&mut self, old: u64, new: u64, cloexec: bool) -> Result<u64, i64> {
        let id = self.get(old)?;
        let n = usize::try_from(new)
            .ok()
            .filter(|&n| n < NOFILE)
            .ok_or(EBADF)?;
        super::hold(id);
        if let Some(prev) = self.fds[n].replace(id) {
            super::release(prev);
        }
        self.set_cloexec(n, cloexec);
        Ok(new)
    }

    /// dup and F_DUPFD: the lowest free descriptor at or above `from`.
    pub fn dup_from(&mut self, old: u64, from: u64, cloexec: bool) -> Result<u64, i64> {
        let id = self.get(old)?;
        let from = usize::try_from(from).map_err(|_| EMFILE)?;
        super::hold(id);
        self.install(id, from, cloexec)
    }

    pub fn close(&mut self, fd: u64) -> Result<(), i64> {
        let id = self.get(fd)?;
        // get() succeeded: fd < NOFILE.
        self.fds[fd as usize] = None;
        self.set_cloexec(fd as usize, false);
        super::release(id);
        Ok(())
    }

    pub fn cloexec(&self, fd: u64) -> bool {
        fd < NOFILE as u64 && self.cloexec & (1 << fd) != 0
    }

    pub fn set_cloexec(&mut self, fd: usize, on: bool) {
        if fd < NOFILE {
            if on {
                self.cloexec |= 1 << fd;
            } else {
                self.cloexec &= !(1 << fd);
            }
        }
    }

    /// The table a forked child gets: the same open files, one more
    /// reference each.
    pub fn fork(&self) -> FdTable {
        for id in self.fds.iter().flatten() {
            super::hold(*id);
        }
        *self
    }

    /// execve: close the descriptors marked close-on-exec.
    pub fn exec(&mut self) {
        for fd in 0..NOFILE {
            if self.cloexec & (1 << fd) != 0 {
                let _ = self.close(fd as u64);
            }
        }
    }

    /// exit: close everything.
    pub fn close_all(&mut self) {
        for fd in 0..NOFILE {
            if let Some(id) = self.fds[fd].take() {
                super::release(id);
            }
        }
        self.cloexec = 0;
    }
}
