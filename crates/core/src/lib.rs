//! The system half of the `socket2` npm package, with no Node in it: address lookup,
//! non-blocking sockets (through the `socket2` crate), the socket option table, and a poller
//! (through `mio`) that tracks per-direction readiness so no syscall is made that is known to
//! fail.
//!
//! Results cross into JavaScript as plain numbers: a byte count or id when an operation
//! succeeds, a negated OS error number when it fails ([`Errno`]). "Would block" is one such
//! number ([`WOULD_BLOCK`]), a value rather than an exception, because it is the common case.

#![deny(missing_docs, missing_debug_implementations, unused_imports)]
#![cfg_attr(test, deny(warnings))]

pub mod addr;
pub mod error;
pub mod options;
pub mod poller;
pub mod socket;
mod sys;

pub use addr::{lookup, Entry, Hints, LookupError};
pub use error::{errno_of, Errno, WOULD_BLOCK};
pub use options::{OptionKind, SockOpt};
pub use poller::{Bits, Id, Poller};
pub use socket::{Family, Kind};
