//! Unix: Linux (epoll), macOS and the BSDs (kqueue).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use socket2::{SockAddr, Socket};

use super::Refusal;
use crate::poller::EventBits;

#[allow(unused_imports)] // the contract's full set; not every one is used on every platform
pub use libc::{
  EAFNOSUPPORT, EAGAIN, EBADF, EBUSY, ECONNREFUSED, EFAULT, EINPROGRESS, EINVAL, ENOTCONN, ENOTSUP,
  EPROTOTYPE,
};

/// getaddrinfo flags, by the seed's names.
pub const AI_FLAGS: &[(&str, i32)] = &[
  ("passive", libc::AI_PASSIVE),
  ("canonname", libc::AI_CANONNAME),
  ("numerichost", libc::AI_NUMERICHOST),
  ("numericserv", libc::AI_NUMERICSERV),
  ("all", libc::AI_ALL),
  ("v4mapped", libc::AI_V4MAPPED),
  ("addrconfig", libc::AI_ADDRCONFIG),
];

/// getaddrinfo's `EAI_ADDRFAMILY` (the host has no address of the asked family), which the libc
/// crate does not export; `i32::MIN` where the C library has no such code.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub const EAI_ADDRFAMILY: i32 = -9;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub const EAI_ADDRFAMILY: i32 = 1;
#[cfg(not(any(
  all(target_os = "linux", target_env = "gnu"),
  target_os = "macos",
  target_os = "ios",
  target_os = "freebsd"
)))]
pub const EAI_ADDRFAMILY: i32 = i32::MIN;

#[cfg(any(
  target_os = "android",
  target_os = "freebsd",
  target_os = "linux",
  target_os = "netbsd",
  target_os = "openbsd"
))]
pub fn accept(s: &Socket) -> io::Result<(Socket, SockAddr)> {
  // One syscall: accept4 sets both flags atomically.
  s.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
}

#[cfg(not(any(
  target_os = "android",
  target_os = "freebsd",
  target_os = "linux",
  target_os = "netbsd",
  target_os = "openbsd"
)))]
pub fn accept(s: &Socket) -> io::Result<(Socket, SockAddr)> {
  let (c, a) = s.accept()?;
  configure(&c)?;
  Ok((c, a))
}

#[cfg(any(target_os = "android", target_os = "linux"))]
pub fn send(s: &Socket, buf: &[u8]) -> io::Result<usize> {
  s.send_with_flags(buf, libc::MSG_NOSIGNAL)
}

#[cfg(not(any(target_os = "android", target_os = "linux")))]
pub fn send(s: &Socket, buf: &[u8]) -> io::Result<usize> {
  // SO_NOSIGPIPE was set by `configure`.
  s.send(buf)
}

#[cfg(any(target_os = "android", target_os = "linux"))]
pub fn send_vectored(s: &Socket, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
  s.send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
}

#[cfg(not(any(target_os = "android", target_os = "linux")))]
pub fn send_vectored(s: &Socket, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
  // SO_NOSIGPIPE was set by `configure`.
  s.send_vectored(bufs)
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub fn configure(s: &Socket) -> io::Result<()> {
  s.set_nosigpipe(true)?;
  s.set_nonblocking(true)
}

#[cfg(not(any(target_os = "macos", target_os = "ios", target_os = "freebsd")))]
pub fn configure(s: &Socket) -> io::Result<()> {
  s.set_nonblocking(true)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use libc::TCP_FASTOPEN;
pub use libc::{IPPROTO_TCP, SOL_SOCKET, SO_ACCEPTCONN, SO_DONTROUTE, SO_RCVLOWAT, SO_SNDLOWAT};

/// One datagram of a batched receive: its length (the part that fit), the sender, and whether
/// it was longer than its buffer.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub struct Datagram {
  pub len: usize,
  pub from: SockAddr,
  pub cut: bool,
}

/// One `recvmmsg(2)` into `bufs`, one datagram per buffer: the datagrams, in order, to `got`.
/// `names` and `msgs` are the caller's storage (on the stack for two), as long as `bufs`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn recvmmsg(
  s: &Socket,
  bufs: &mut [&mut [u8]],
  names: &mut [socket2::SockAddrStorage],
  msgs: &mut [libc::mmsghdr],
  iov: &mut [libc::iovec],
  mut got: impl FnMut(Datagram),
) -> io::Result<()> {
  let n = bufs.len().min(names.len()).min(msgs.len()).min(iov.len());
  for i in 0..n {
    iov[i] = libc::iovec {
      iov_base: bufs[i].as_mut_ptr().cast(),
      iov_len: bufs[i].len(),
    };
    let m = &mut msgs[i].msg_hdr;
    m.msg_name = (&mut names[i] as *mut socket2::SockAddrStorage).cast();
    m.msg_namelen = names[i].size_of();
    m.msg_iov = &mut iov[i];
    m.msg_iovlen = 1;
  }
  // SAFETY: every pointer in the first `n` of `msgs` is to the caller's live storage (`names`,
  // `iov`) or to its buffers, which the borrows keep alive and unaliased for the call; the
  // kernel writes at most the lengths given. The fd is open for the borrow of `s`.
  let r = unsafe {
    libc::recvmmsg(
      s.as_raw_fd(),
      msgs.as_mut_ptr(),
      n as _,
      0,
      std::ptr::null_mut(),
    )
  };
  if r < 0 {
    return Err(io::Error::last_os_error());
  }
  for (m, name) in msgs.iter().zip(names.iter_mut()).take(r as usize) {
    let name = std::mem::replace(name, socket2::SockAddrStorage::zeroed());
    got(Datagram {
      len: m.msg_len as usize,
      // SAFETY: the kernel wrote a sockaddr of `msg_namelen` bytes into `name`.
      from: unsafe { SockAddr::new(name, m.msg_hdr.msg_namelen) },
      cut: m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
    });
  }
  Ok(())
}

/// Receives up to two datagrams with one `recvmmsg(2)`, the first into `first` and the next
/// (if one is queued) into `next`. One datagram back means the queue was empty after it.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn recv_two(
  s: &Socket,
  first: &mut [u8],
  next: &mut [u8],
) -> io::Result<(Datagram, Option<Datagram>)> {
  use socket2::SockAddrStorage;
  let mut names = [SockAddrStorage::zeroed(), SockAddrStorage::zeroed()];
  // SAFETY: all-zero is a valid mmsghdr and iovec (null pointers, zero lengths).
  let (mut msgs, mut iov): ([libc::mmsghdr; 2], [libc::iovec; 2]) = unsafe { std::mem::zeroed() };
  let mut got = [None, None];
  let mut i = 0;
  recvmmsg(
    s,
    &mut [first, next],
    &mut names,
    &mut msgs,
    &mut iov,
    |d| {
      got[i] = Some(d);
      i += 1;
    },
  )?;
  let [a, b] = got;
  // recvmmsg returns at least one datagram or fails.
  let first = a.ok_or_else(|| io::Error::from_raw_os_error(libc::EAGAIN))?;
  Ok((first, b))
}

/// Receives up to `bufs.len()` datagrams with one `recvmmsg(2)`, one per buffer, appending
/// `(length, sender, cut)` for each to `got`: `None` where the OS has no such call. Fewer than
/// asked means the queue was empty after them (or an error waits for the next receive).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn recv_batch(
  s: &Socket,
  bufs: &mut [&mut [u8]],
  got: &mut Vec<(usize, SockAddr, bool)>,
) -> Option<io::Result<()>> {
  let n = bufs.len();
  let mut names: Vec<_> = (0..n).map(|_| socket2::SockAddrStorage::zeroed()).collect();
  // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
  let mut msgs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
  let empty = libc::iovec {
    iov_base: std::ptr::null_mut(),
    iov_len: 0,
  };
  let mut iov = vec![empty; n];
  Some(recvmmsg(s, bufs, &mut names, &mut msgs, &mut iov, |d| {
    got.push((d.len, d.from, d.cut))
  }))
}

/// Sends datagrams with one `sendmmsg(2)`, each to its address or, without one, to the
/// connected peer: how many went (fewer than asked when the buffer filled or one failed after
/// others went; that one's error shows when it is sent again). `None` where the OS has no
/// such call.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn send_batch(s: &Socket, msgs: &[(&[u8], Option<&SockAddr>)]) -> Option<io::Result<usize>> {
  let mut iov: Vec<libc::iovec> = msgs
    .iter()
    .map(|(b, _)| libc::iovec {
      iov_base: b.as_ptr() as *mut libc::c_void,
      iov_len: b.len(),
    })
    .collect();
  let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(msgs.len());
  for (i, (_, to)) in msgs.iter().enumerate() {
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
    h.msg_hdr.msg_iov = &mut iov[i];
    h.msg_hdr.msg_iovlen = 1;
    if let Some(a) = to {
      h.msg_hdr.msg_name = a.as_ptr() as *mut libc::c_void;
      h.msg_hdr.msg_namelen = a.len();
    }
    hdrs.push(h);
  }
  // SAFETY: every pointer in `hdrs` is to `iov` (live until the end of this function), to the
  // callers' bytes or to their addresses, all borrowed for the call; the kernel only reads
  // them (msg_len aside, in `hdrs` itself). The fd is open for the borrow of `s`.
  let n = unsafe {
    libc::sendmmsg(
      s.as_raw_fd(),
      hdrs.as_mut_ptr(),
      hdrs.len() as _,
      // glibc declares the flags int, musl unsigned int.
      libc::MSG_NOSIGNAL as _,
    )
  };
  Some(if n < 0 {
    Err(io::Error::last_os_error())
  } else {
    Ok(n as usize)
  })
}

/// The OS has no batched receive: the caller receives one datagram per call.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn recv_batch(
  _s: &Socket,
  _bufs: &mut [&mut [u8]],
  _got: &mut Vec<(usize, SockAddr, bool)>,
) -> Option<io::Result<()>> {
  None
}

/// The OS has no batched send: the caller sends one datagram per call.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn send_batch(_s: &Socket, _msgs: &[(&[u8], Option<&SockAddr>)]) -> Option<io::Result<usize>> {
  None
}

/// What a failed `recvmmsg` or `sendmmsg` says of the syscall itself (see [`Refusal`]). A
/// seccomp filter refuses with ENOSYS or EPERM; EPERM is also how a send fails for a datagram
/// a netfilter rule drops or rejects. A receive's own errors come from ICMP, none of them EPERM.
pub fn refusal(e: &io::Error) -> Refusal {
  match e.raw_os_error() {
    Some(libc::ENOSYS) => Refusal::Sandbox,
    Some(libc::EPERM) => Refusal::Unsure,
    _ => Refusal::None,
  }
}

/// Leaves IPV6_V6ONLY as the OS sets it: off on Linux and macOS, so an `inet6` socket on `::`
/// also takes IPv4 peers (as `::ffff:a.b.c.d`); the BSDs, where it defaults on, clear it.
pub fn dual_stack(s: &Socket) -> io::Result<()> {
  if cfg!(any(
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
  )) {
    s.set_only_v6(false)?;
  }
  Ok(())
}

/// The bound address (POSIX answers the unspecified address with port 0 before a bind).
pub fn local_addr(s: &Socket, _v6: bool) -> io::Result<SockAddr> {
  s.local_addr()
}

/// `getsockopt` of an `int` option the socket2 crate has no method for.
pub fn int(s: &Socket, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
  int_of(s.as_raw_fd(), level, name)
}

/// [`int`] on a descriptor not (yet) owned by a `Socket`: the kernel checks that it is an open
/// socket (`EBADF`, `ENOTSOCK`).
fn int_of(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
  let mut v: libc::c_int = 0;
  let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
  // SAFETY: `v` and `len` are live locals of the sizes the call is told; a descriptor that is
  // not an open socket is an error the kernel reports, nothing is read or written through it.
  let r = unsafe {
    libc::getsockopt(
      fd,
      level,
      name,
      (&mut v as *mut libc::c_int).cast(),
      &mut len,
    )
  };
  if r < 0 {
    return Err(io::Error::last_os_error());
  }
  Ok(v)
}

/// The epoll/kqueue fd of `p`.
pub fn poll_fd(p: &mio::Poll) -> Option<i64> {
  Some(p.as_raw_fd() as i64)
}

/// Gives up `s` without closing it: its descriptor.
pub fn into_raw(s: Socket) -> i64 {
  std::os::fd::IntoRawFd::into_raw_fd(s) as i64
}

/// Takes ownership of the socket descriptor `fd` once the kernel confirmed it is an open socket,
/// and makes it close-on-exec, as sockets opened here are.
///
/// # Errors
/// `EBADF` for a number that is no open descriptor, `ENOTSOCK` for one that is no socket; the OS
/// error of `fcntl`. `fd` is left alone.
pub fn adopt(fd: i64) -> io::Result<Socket> {
  let fd = RawFd::try_from(fd).map_err(|_| io::Error::from_raw_os_error(EBADF))?;
  if fd < 0 {
    return Err(io::Error::from_raw_os_error(EBADF));
  }
  int_of(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
  // SAFETY: the kernel just confirmed `fd` is an open socket (and so not -1, `OwnedFd`'s niche);
  // the caller hands it over (adopt's contract), so this `Socket` is its one owner, and on
  // failure gives it back unclosed.
  let s = unsafe { Socket::from_raw_fd(fd) };
  match s.set_cloexec(true) {
    Ok(()) => Ok(s),
    Err(e) => {
      into_raw(s);
      Err(e)
    }
  }
}

/// The address family of `s` (`AF_*`): `getsockname` answers for an unbound socket too.
pub fn family(s: &Socket) -> io::Result<i32> {
  Ok(i32::from(s.local_addr()?.domain()))
}

/// The protocol number of `s` (`SO_PROTOCOL`), 0 where the OS does not tell it.
pub fn protocol(s: &Socket) -> i32 {
  #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
  return int(s, libc::SOL_SOCKET, libc::SO_PROTOCOL).unwrap_or(0);
  #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
  return {
    let _ = s;
    0
  };
}

/// `setsockopt` of an `int` option the socket2 crate has no method for.
pub fn set_int(
  s: &Socket,
  level: libc::c_int,
  name: libc::c_int,
  v: libc::c_int,
) -> io::Result<()> {
  let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
  // SAFETY: `v` is a live local of the size the call is told; the fd is open for the borrow of
  // `s`.
  let r = unsafe {
    libc::setsockopt(
      s.as_raw_fd(),
      level,
      name,
      (&v as *const libc::c_int).cast(),
      len,
    )
  };
  if r < 0 {
    return Err(io::Error::last_os_error());
  }
  Ok(())
}

/// What a registered socket must keep: nothing on Unix, where the fd is the registration.
#[derive(Debug)]
pub struct Registration;

/// Registers for both directions whatever `_wanted` says: epoll and kqueue keep an
/// edge-triggered registration armed after each event, so it is made once for the socket's life.
pub fn register(r: &Registry, s: &Socket, t: Token, _wanted: Interest) -> io::Result<Registration> {
  // PRIORITY (EPOLLPRI) tells when TCP urgent data stops reads short of the buffer's end.
  #[cfg(any(target_os = "linux", target_os = "android"))]
  let interest = Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY;
  #[cfg(not(any(target_os = "linux", target_os = "android")))]
  let interest = Interest::READABLE | Interest::WRITABLE;
  r.register(&mut SourceFd(&s.as_raw_fd()), t, interest)?;
  Ok(Registration)
}

/// Nothing to do: an edge-triggered epoll/kqueue registration stays armed after it reports.
#[inline]
pub fn rearm(
  _r: &Registry,
  _reg: &mut Registration,
  _t: Token,
  _wanted: Interest,
) -> io::Result<()> {
  Ok(())
}

/// Gives up a registration. A socket about to close needs no call: closing the fd removes it
/// from epoll/kqueue (it is never dup'ed, so no other reference keeps the registration), which
/// saves a syscall per close. One that stays open (detached for another poller) is removed
/// explicitly, or this poller would keep reporting its events.
pub fn deregister(r: &Registry, s: &Socket, _reg: Registration, closing: bool) {
  if !closing {
    // Failure leaves a registration whose token is stale: its events are ignored.
    let _ = r.deregister(&mut SourceFd(&s.as_raw_fd()));
  }
}

/// Whether `s` is ready in one direction now, without waiting: `poll(2)` with a zero timeout.
/// An error or hang-up is reported whichever direction is asked.
pub fn ready_now(s: &Socket, read: bool) -> io::Result<EventBits> {
  let mut p = libc::pollfd {
    fd: s.as_raw_fd(),
    events: if read { libc::POLLIN } else { libc::POLLOUT },
    revents: 0,
  };
  // SAFETY: one live pollfd, and its count; a zero timeout never blocks.
  if unsafe { libc::poll(&mut p, 1, 0) } < 0 {
    return Err(io::Error::last_os_error());
  }
  let hup = p.revents & libc::POLLHUP != 0;
  Ok(EventBits {
    read: p.revents & libc::POLLIN != 0,
    write: p.revents & libc::POLLOUT != 0,
    read_closed: hup,
    write_closed: hup,
    error: p.revents & libc::POLLERR != 0,
    priority: false,
  })
}
