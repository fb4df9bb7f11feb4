//! Windows: mio drives IOCP through AFD polling, and only registers its own socket types, so a
//! socket is registered through a borrowed `mio::net` wrapper of its handle.

use std::io;
use std::mem::ManuallyDrop;
use std::os::windows::io::{AsRawSocket, FromRawSocket, RawSocket};

use mio::{Interest, Registry, Token};
use socket2::{SockAddr, Socket};

use super::Refusal;
use crate::poller::EventBits;

pub const EAGAIN: i32 = 10035; // WSAEWOULDBLOCK
pub const EINVAL: i32 = 10022; // WSAEINVAL
pub const EINPROGRESS: i32 = 10036; // WSAEINPROGRESS
#[allow(dead_code)] // the contract's full set: only the tests use it here
pub const ECONNREFUSED: i32 = 10061; // WSAECONNREFUSED
pub const EBADF: i32 = 10009; // WSAEBADF
pub const EAFNOSUPPORT: i32 = 10047; // WSAEAFNOSUPPORT
pub const EFAULT: i32 = 10014; // WSAEFAULT
pub const ENOTCONN: i32 = 10057; // WSAENOTCONN
/// Winsock has no EBUSY; the C runtime's number, which JavaScript names the same.
pub const EBUSY: i32 = 16;
pub const EPROTOTYPE: i32 = 10041; // WSAEPROTOTYPE
pub const ENOTSUP: i32 = 10045; // WSAEOPNOTSUPP
const WSAEDESTADDRREQ: i32 = 10039;

/// Windows reports a family mismatch as WSAHOST_NOT_FOUND (EAI_NONAME) and has no code of its
/// own for it; wine hands on the host C library's EAI_ADDRFAMILY (glibc's -9) untranslated,
/// which would otherwise read as an unknown (EAI_SYSTEM) failure.
pub const EAI_ADDRFAMILY: i32 = -9;

/// getaddrinfo flags, by the seed's names (ws2def.h values).
pub const AI_FLAGS: &[(&str, i32)] = &[
  ("passive", 0x1),
  ("canonname", 0x2),
  ("numerichost", 0x4),
  ("numericserv", 0x8),
  ("all", 0x100),
  ("v4mapped", 0x800),
  ("addrconfig", 0x400),
];

pub fn accept(s: &Socket) -> io::Result<(Socket, SockAddr)> {
  let (c, a) = s.accept()?;
  configure(&c)?;
  Ok((c, a))
}

pub fn send(s: &Socket, buf: &[u8]) -> io::Result<usize> {
  s.send(buf).map_err(|e| match e.raw_os_error() {
    // A datagram socket with no default peer: Windows says WSAENOTCONN (wine WSAEINVAL) where
    // POSIX says EDESTADDRREQ, the code callers test for ("give an address").
    Some(ENOTCONN | EINVAL)
      if s.r#type().ok() == Some(socket2::Type::DGRAM) && s.peer_addr().is_err() =>
    {
      io::Error::from_raw_os_error(WSAEDESTADDRREQ)
    }
    _ => e,
  })
}

pub fn send_vectored(s: &Socket, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
  s.send_vectored(bufs)
}

/// Clears IPV6_V6ONLY: Windows sets it on every new IPv6 socket, where Linux and macOS leave it
/// off, so an `inet6` listener on `::` would not take IPv4 clients.
pub fn dual_stack(s: &Socket) -> io::Result<()> {
  s.set_only_v6(false)
}

/// The bound address. Windows refuses getsockname on a socket not yet bound (WSAEINVAL) where
/// POSIX answers the unspecified address with port 0: that answer is given here too.
pub fn local_addr(s: &Socket, v6: bool) -> io::Result<SockAddr> {
  match s.local_addr() {
    Err(e) if e.raw_os_error() == Some(EINVAL) => {
      let ip: std::net::IpAddr = if v6 {
        std::net::Ipv6Addr::UNSPECIFIED.into()
      } else {
        std::net::Ipv4Addr::UNSPECIFIED.into()
      };
      Ok(std::net::SocketAddr::new(ip, 0).into())
    }
    r => r,
  }
}

/// `getsockopt` of an `int` option the socket2 crate has no method for.
pub fn int(s: &Socket, level: i32, name: i32) -> io::Result<i32> {
  int_of(s.as_raw_socket(), level, name)
}

/// [`int`] on a handle not (yet) owned by a `Socket`: Winsock checks that it is an open socket
/// (`WSAENOTSOCK`).
fn int_of(h: RawSocket, level: i32, name: i32) -> io::Result<i32> {
  getopt(h, level, name, 0)
}

/// `getsockopt` of a `T` (an integer or a plain C struct), starting from `v`.
fn getopt<T: Copy>(h: RawSocket, level: i32, name: i32, mut v: T) -> io::Result<T> {
  use windows_sys::Win32::Networking::WinSock::{getsockopt, SOCKET_ERROR};
  let mut len = std::mem::size_of::<T>() as i32;
  // SAFETY: `v` and `len` are live locals of the size the call is told, and `v` is an
  // initialised `T` of plain data that any bytes Winsock writes leave valid; a handle that is
  // not an open socket is an error Winsock reports, nothing is read or written through it.
  let r = unsafe { getsockopt(h as usize, level, name, (&mut v as *mut T).cast(), &mut len) };
  if r == SOCKET_ERROR {
    return Err(io::Error::last_os_error());
  }
  Ok(v)
}

/// What Winsock keeps of the socket's making (`SO_PROTOCOL_INFOW`): its family and protocol,
/// which it tells even of a socket not yet bound (where `getsockname` fails WSAEINVAL).
fn protocol_info(
  s: &Socket,
) -> io::Result<windows_sys::Win32::Networking::WinSock::WSAPROTOCOL_INFOW> {
  use windows_sys::Win32::Networking::WinSock::SO_PROTOCOL_INFOW;
  // SAFETY: WSAPROTOCOL_INFOW is integers, a GUID and arrays of u16: all-zero bytes are a value.
  let zero = unsafe { std::mem::zeroed() };
  getopt(s.as_raw_socket(), SOL_SOCKET, SO_PROTOCOL_INFOW, zero)
}

/// The address family of `s` (`AF_*`), bound or not.
pub fn family(s: &Socket) -> io::Result<i32> {
  protocol_info(s).map(|i| i.iAddressFamily)
}

/// None: mio does not expose the IOCP handle behind its `Poll`.
pub fn poll_fd(_p: &mio::Poll) -> Option<i64> {
  None
}

/// Gives up `s` without closing it: its handle.
pub fn into_raw(s: Socket) -> i64 {
  std::os::windows::io::IntoRawSocket::into_raw_socket(s) as i64
}

/// Takes ownership of the socket handle `h` once Winsock confirmed it is an open socket.
///
/// # Errors
/// `WSAENOTSOCK` for a handle that is no socket; `h` is left alone.
pub fn adopt(h: i64) -> io::Result<Socket> {
  const WSAENOTSOCK: i32 = 10038;
  let h = RawSocket::try_from(h).map_err(|_| io::Error::from_raw_os_error(WSAENOTSOCK))?;
  int_of(
    h,
    SOL_SOCKET,
    windows_sys::Win32::Networking::WinSock::SO_TYPE,
  )?;
  // SAFETY: Winsock just confirmed `h` is an open socket; the caller hands it over (adopt's
  // contract), so this `Socket` is its one owner.
  Ok(unsafe { Socket::from_raw_socket(h) })
}

/// The protocol number of `s`, 0 where Winsock does not tell it.
pub fn protocol(s: &Socket) -> i32 {
  protocol_info(s).map_or(0, |i| i.iProtocol)
}

pub use windows_sys::Win32::Networking::WinSock::{SOL_SOCKET, SO_ACCEPTCONN};

/// Windows has no batched receive: the caller receives one datagram per call.
pub fn recv_batch(
  _s: &Socket,
  _bufs: &mut [&mut [u8]],
  _got: &mut Vec<(usize, SockAddr, bool)>,
) -> Option<io::Result<()>> {
  None
}

/// Windows has no batched send: the caller sends one datagram per call.
pub fn send_batch(_s: &Socket, _msgs: &[(&[u8], Option<&SockAddr>)]) -> Option<io::Result<usize>> {
  None
}

/// Never a refusal: there is no batched call to refuse.
pub fn refusal(_e: &io::Error) -> Refusal {
  Refusal::None
}

pub fn configure(s: &Socket) -> io::Result<()> {
  s.set_nonblocking(true)
}

/// mio's registration state of a socket: a borrowed `mio::net` wrapper of its handle, kept
/// for the socket's life so that deregistration finds the same state.
#[derive(Debug)]
pub struct Registration(ManuallyDrop<mio::net::UdpSocket>);

/// Registers for the `wanted` directions only: mio reports each at most once per arming.
pub fn register(r: &Registry, s: &Socket, t: Token, wanted: Interest) -> io::Result<Registration> {
  // SAFETY: the handle is live and owned by `s`; the wrapper is never dropped (ManuallyDrop),
  // so it never closes the handle, and it is deregistered before `s` is closed.
  let std = unsafe { std::net::UdpSocket::from_raw_socket(s.as_raw_socket()) };
  let mut m = ManuallyDrop::new(mio::net::UdpSocket::from_std(std));
  r.register(&mut *m, t, wanted)?;
  Ok(Registration(m))
}

/// Arms the `wanted` directions again. mio polls a socket through AFD with one request at a
/// time and, having reported a direction, drops it from the socket's interest (it emulates
/// edge triggering so), so a direction that waits again after its event must be re-armed, or
/// its next event never comes. AFD reports a state, not a change: data that arrived before the
/// re-arm completes the new request at once, so nothing is missed between the would-block and
/// this call.
pub fn rearm(r: &Registry, reg: &mut Registration, t: Token, wanted: Interest) -> io::Result<()> {
  r.reregister(&mut *reg.0, t, wanted)
}

/// Gives up a registration, whether the socket closes next or stays open (detached).
pub fn deregister(r: &Registry, _s: &Socket, mut reg: Registration, _closing: bool) {
  // Failure leaves nothing to undo: the socket is closed right after, or its stale token's
  // events are ignored.
  let _ = r.deregister(&mut *reg.0);
}

/// Whether `s` is ready in one direction now, without waiting: `WSAPoll` with a zero timeout.
/// An error or hang-up is reported whichever direction is asked.
pub fn ready_now(s: &Socket, read: bool) -> io::Result<EventBits> {
  use windows_sys::Win32::Networking::WinSock::{
    WSAPoll, POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, WSAPOLLFD,
  };
  let mut p = WSAPOLLFD {
    fd: s.as_raw_socket() as usize,
    events: if read { POLLRDNORM } else { POLLWRNORM },
    revents: 0,
  };
  // SAFETY: one live WSAPOLLFD, and its count; a zero timeout never blocks.
  if unsafe { WSAPoll(&mut p, 1, 0) } < 0 {
    return Err(io::Error::last_os_error());
  }
  let hup = p.revents & POLLHUP != 0;
  Ok(EventBits {
    read: p.revents & POLLRDNORM != 0,
    write: p.revents & POLLWRNORM != 0,
    read_closed: hup,
    write_closed: hup,
    error: p.revents & POLLERR != 0,
    priority: false,
  })
}
