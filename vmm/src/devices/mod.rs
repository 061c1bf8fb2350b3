//! Port I/O devices the guest talks to.
