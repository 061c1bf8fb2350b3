//! The top-level error: one variant per layer, each wrapping that layer's
//! own error enum (defined beside its code), and the exit code it maps to.

use crate::{boot, files, kvm_probe, loader, memory, pagemap, size, vcpu};

/// Why `run` failed before or while running the guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// A bad size such as `--mem` (exit 2).
    #[error("{0}")]
    Size(#[from] size::SizeError),
    /// The guest file cannot be read (its message names the path).
    #[error("{0}")]
    GuestFile(loader::LoaderError),
    /// The guest image is unusable (exit 2: input error).
    #[error("{path}: {source}")]
    Guest {
        /// The guest image's path, or "embedded guest".
        path: String,
        /// What is wrong with it.
        source: loader::LoaderError,
    },
    /// A `--run` program is unusable (exit 2: input error). `path` is
    /// already escaped for one line.
    #[error("--run {path}: {source}")]
    Program {
        /// The program's path, escaped for one line.
        path: String,
        /// What is wrong with it.
        source: loader::program::ProgramError,
    },
    /// `--files DIR` cannot be copied into the guest (exit 2: input
    /// error); the message names the path.
    #[error("{0}")]
    Files(#[from] files::FilesError),
    /// KVM is missing, too old or lacks a capability.
    #[error("{0}")]
    Host(#[from] kvm_probe::HostError),
    /// Guest RAM could not be mapped or registered.
    #[error("{0}")]
    Memory(#[from] memory::MemoryError),
    /// The host memory view (pagemap) could not be opened.
    #[error("{0}")]
    HostMem(#[from] pagemap::HostMemError),
    /// The boot structures could not be written.
    #[error("{0}")]
    Boot(#[from] boot::BootError),
    /// The vCPU could not be created, set up or run.
    #[error("{0}")]
    Vcpu(#[from] vcpu::VcpuError),
    /// A KVM call on the VM failed.
    #[error("{what} failed: {source}")]
    Kvm {
        /// The ioctl, e.g. "KVM_CREATE_VM".
        what: &'static str,
        /// What KVM said.
        source: kvm_ioctls::Error,
    },
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file's path, as given.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The `--timeout` thread could not be spawned.
    #[error("cannot start the watchdog thread: {0}")]
    Watchdog(std::io::Error),
}

impl Error {
    /// 2 for usage or input errors (the user can fix the command or the
    /// file), 1 when the guest could not be run.
    /// The exit code for this error when `--run` programs were given
    /// (crate::exit_code: 127 a missing program file, 126 one that cannot
    /// run, 125 everything else); without them, exit_code().
    pub fn exit_code_with(&self, programs: bool) -> i32 {
        use crate::loader::file::FileError;
        use crate::loader::program::ProgramError;
        if !programs {
            return self.exit_code();
        }
        match self {
            Error::Program {
                source: ProgramError::File(FileError::Open(e)),
                ..
            } if e.kind() == std::io::ErrorKind::NotFound => crate::exit_code::NOT_FOUND,
            Error::Program { .. } => crate::exit_code::CANNOT_RUN,
            _ => crate::exit_code::FAILED,
        }
    }

    /// The exit code for this error without `--run` (0/1/2, as make).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Size(_)
            | Error::GuestFile(_)
            | Error::Guest { .. }
            | Error::Program { .. }
            | Error::Files(_)
            | Error::Output { .. } => 2,
            Error::Memory(
                memory::MemoryError::HugePool { .. } | memory::MemoryError::NotHugeMultiple(_),
            ) => 2,
            Error::Boot(
                boot::BootError::CmdlineTooLong(_)
                | boot::BootError::TooManyModules(_)
                | boot::BootError::EnvTooLarge,
            ) => 2,
            _ => 1,
        }
    }
}
