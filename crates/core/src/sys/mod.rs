//! The platform contract. Every backend provides:
//! - error numbers `EAGAIN`, `EINVAL`, `EINPROGRESS`, `ECONNREFUSED`, `EBADF`, `EAFNOSUPPORT`,
//!   `EFAULT`, `ENOTCONN`, `EBUSY`, `EPROTOTYPE`;
//! - `AF_UNIX`-style family constants and getaddrinfo flag values (`AI_*`);
//! - `accept(&Socket)`: a non-blocking, close-on-exec accepted socket;
//! - `send(&Socket, &[u8])` and `send_vectored(&Socket, &[IoSlice])`: sends that never raise
//!   SIGPIPE;
//! - `dual_stack(&Socket)`: a new IPv6 socket that also takes IPv4 peers;
//! - `local_addr(&Socket, v6)`: the bound address, the unspecified one before a bind;
//! - `int(&Socket, level, name)`: an `int` option the socket2 crate has no method for, with
//!   `SOL_SOCKET` and `SO_ACCEPTCONN`;
//! - `configure(&Socket)`: makes a new socket non-blocking (and SIGPIPE-free where that is a
//!   socket option);
//! - `send_batch`/`recv_batch`: many datagrams per syscall (`sendmmsg`/`recvmmsg`), `None`
//!   where the OS has no such call (the caller loops over single calls), and `refusal`, what a
//!   batched call's error says of the call itself (a sandbox may refuse it);
//! - `register(&Registry, &Socket, Token, Interest)` for the poller, and `rearm` to ask again for
//!   the directions that wait, after one of them was reported (a no-op where registrations stay
//!   armed), and `deregister` (explicit for a socket that stays open);
//! - `adopt(fd)`: takes over an open socket descriptor after the OS confirmed it is one, with
//!   its `SOCK_*` type, `AF_*` family and protocol, and `into_raw`, its reverse;
//! - `poll_fd(&Poll)`: the OS poller's descriptor, where the platform has one to give;
//! - `ready_now(&Socket, read)`: whether a direction is ready now, without waiting.

/// Whether a batched call (`sendmmsg`/`recvmmsg`) failed because a sandbox refuses the syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Windows has no batched call, so nothing there is refused.
#[cfg_attr(windows, allow(dead_code))]
pub enum Refusal {
  /// No: the error is the socket's or a datagram's own.
  None,
  /// Yes: the caller moves one datagram per call from then on.
  Sandbox,
  /// Maybe (EPERM): a sandbox refusing the syscall, or a firewall refusing a datagram sent.
  Unsure,
}

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use self::unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use self::windows::*;
