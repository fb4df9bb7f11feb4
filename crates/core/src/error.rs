//! OS error numbers, carried raw from the syscall to JavaScript.
//!
//! The core never turns an error number into text: the JavaScript layer owns the names
//! (`ECONNREFUSED`) and messages, so the number is the contract.

use std::io;

/// An OS error number (`errno` on Unix, a `WSAE*` code on Windows). Operations that return a
/// count return `-errno` on failure.
pub type Errno = i32;

/// `EBADF`: an unknown or closed socket id.
pub const EBADF: Errno = crate::sys::EBADF;

/// `EINVAL`: an argument the OS (or this crate) refuses.
pub const EINVAL: Errno = crate::sys::EINVAL;

/// `EBUSY`: a resource in use (a poller with open sockets asked to move).
pub const EBUSY: Errno = crate::sys::EBUSY;

/// `ENOTSUP` (`WSAEOPNOTSUPP` on Windows): not supported here.
pub const ENOTSUP: Errno = crate::sys::ENOTSUP;

/// `EFAULT`: a byte range its buffer does not hold (the kernel's word for a bad buffer).
pub const EFAULT: Errno = crate::sys::EFAULT;

/// `-EAGAIN` (`-WSAEWOULDBLOCK` on Windows): the operation must wait for readiness.
pub const WOULD_BLOCK: i32 = -crate::sys::EAGAIN;

/// The error number of `e`. Errors that carry no OS number (rare: a path with a NUL byte, an
/// address of the wrong family) map to `EINVAL`.
pub fn errno_of(e: &io::Error) -> Errno {
  match e.raw_os_error() {
    Some(n) => n,
    None if e.kind() == io::ErrorKind::WouldBlock => crate::sys::EAGAIN,
    None => crate::sys::EINVAL,
  }
}

/// Folds an I/O result into the hot-path convention: the count, or `-errno`.
pub fn ret(r: io::Result<usize>) -> i32 {
  match r {
    // Counts are bounded by buffer lengths, which JavaScript keeps under 2^31.
    Ok(n) => n.min(i32::MAX as usize) as i32,
    Err(e) => -errno_of(&e),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn would_block_maps_to_the_sentinel() {
    let e = io::Error::from(io::ErrorKind::WouldBlock);
    assert_eq!(ret(Err(e)), WOULD_BLOCK);
  }

  #[test]
  fn os_errors_keep_their_number() {
    let e = io::Error::from_raw_os_error(crate::sys::ECONNREFUSED);
    assert_eq!(ret(Err(e)), -crate::sys::ECONNREFUSED);
    assert_eq!(ret(Ok(5)), 5);
  }
}
