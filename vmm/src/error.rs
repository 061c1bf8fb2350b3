//! The top-level error: one variant per layer, each wrapping that layer's own
//! error enum (defined beside its code), plus the exit code it maps to.

/// Why `run` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user: exit code 2.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The process exit code for this error: 2 for usage or input errors,
    /// 1 for everything that went wrong while running the guest.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
        }
    }
}
