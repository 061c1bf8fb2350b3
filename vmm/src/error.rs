//! The top-level error: one variant per layer, each wrapping that layer's
//! own error enum (defined beside its code), and the exit code it maps to.

use crate::{boot, host, hostmem, loader, memory, size, vcpu};

/// Why `run` failed before or while running the guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad command-line value.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Size(#[from] size::SizeError),
    /// The guest file cannot be read (its message names the path).
    #[error("{0}")]
    GuestFile(loader::LoaderError),
    /// The guest image is unusable (exit 2: input error).
    #[error("{path}: {source}")]
    Guest {
        path: String,
        source: loader::LoaderError,
    },
    /// A `--run` program is unusable (exit 2: input error). `path` is
    /// already escaped for one line.
    #[error("--run {path}: {source}")]
    Program {
        path: String,
        source: loader::program::ProgramError,
    },
    #[error("{0}")]
    Host(#[from] host::HostError),
    #[error("{0}")]
    Memory(#[from] memory::MemoryError),
    #[error("{0}")]
    HostMem(#[from] hostmem::HostMemError),
    #[error("{0}")]
    Boot(#[from] boot::BootError),
    #[error("{0}")]
    Vcpu(#[from] vcpu::VcpuError),
    /// A KVM call on the VM failed.
    #[error("{what} failed: {source}")]
    Kvm {
        what: &'static str,
        source: kvm_ioctls::Error,
    },
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Output {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot start the watchdog thread: {0}")]
    Watchdog(std::io::Error),
}

impl Error {
    /// 2 for usage or input errors (the user can fix the command or the
    /// file), 1 when the guest could not be run.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Size(_)
            | Error::GuestFile(_)
            | Error::Guest { .. }
            | Error::Program { .. }
            | Error::Output { .. } => 2,
            Error::Memory(
                memory::MemoryError::HugePool { .. } | memory::MemoryError::NotHugeMultiple(_),
            ) => 2,
            Error::Boot(
                boot::BootError::CmdlineTooLong(_) | boot::BootError::TooManyModules(_),
            ) => 2,
            _ => 1,
        }
    }
}
