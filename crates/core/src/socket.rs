//! Opening sockets and the syscalls that do not wait: bind, listen, shutdown, addresses.
//!
//! Every socket is non-blocking and close-on-exec from birth (the `socket2` crate sets
//! `SOCK_CLOEXEC`/`FD_CLOEXEC`); sends never raise SIGPIPE (`MSG_NOSIGNAL` on Linux,
//! `SO_NOSIGPIPE` on macOS/FreeBSD).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::sys;

/// The socket kinds of the seed: `tcp` (stream), `udp` (datagram), `raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
  /// `SOCK_STREAM`.
  Tcp,
  /// `SOCK_DGRAM`.
  Udp,
  /// `SOCK_RAW`.
  Raw,
}

impl Kind {
  /// Parses the seed's name (`'tcp'`, `'udp'`, `'raw'`).
  pub fn parse(name: &str) -> Option<Kind> {
    match name {
      "tcp" => Some(Kind::Tcp),
      "udp" => Some(Kind::Udp),
      "raw" => Some(Kind::Raw),
      _ => None,
    }
  }

  /// The seed's name, as [`Kind::parse`] takes it.
  pub fn name(self) -> &'static str {
    match self {
      Kind::Tcp => "tcp",
      Kind::Udp => "udp",
      Kind::Raw => "raw",
    }
  }

  fn socket_type(self) -> Type {
    match self {
      Kind::Tcp => Type::STREAM,
      Kind::Udp => Type::DGRAM,
      Kind::Raw => Type::RAW,
    }
  }

  /// The `SOCK_*` number, as getaddrinfo hints want it.
  pub fn raw(self) -> i32 {
    self.socket_type().into()
  }
}

/// Address families: `inet` (IPv4), `inet6` (IPv6), `unix` (local paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
  /// `AF_INET`.
  Inet,
  /// `AF_INET6`.
  Inet6,
  /// `AF_UNIX`.
  Unix,
}

impl Family {
  /// Parses the seed's name (`'inet'`, `'inet6'`, `'unix'`).
  pub fn parse(name: &str) -> Option<Family> {
    match name {
      "inet" => Some(Family::Inet),
      "inet6" => Some(Family::Inet6),
      "unix" => Some(Family::Unix),
      _ => None,
    }
  }

  /// The seed's name, as [`Family::parse`] takes it.
  pub fn name(self) -> &'static str {
    match self {
      Family::Inet => "inet",
      Family::Inet6 => "inet6",
      Family::Unix => "unix",
    }
  }

  /// The `AF_*` number.
  ///
  /// # Errors
  /// `EAFNOSUPPORT` for `unix` where the platform has no unix sockets here (Windows).
  pub fn domain(self) -> io::Result<Domain> {
    match self {
      Family::Inet => Ok(Domain::IPV4),
      Family::Inet6 => Ok(Domain::IPV6),
      #[cfg(unix)]
      Family::Unix => Ok(Domain::UNIX),
      #[cfg(not(unix))]
      Family::Unix => Err(io::Error::from_raw_os_error(sys::EAFNOSUPPORT)),
    }
  }

  /// The `AF_*` number, as getaddrinfo hints want it.
  pub fn raw(self) -> i32 {
    self.domain().map(i32::from).unwrap_or(-1)
  }
}

/// Opens a non-blocking, close-on-exec socket. `protocol` 0 lets the OS pick the default
/// protocol of the kind (tcp for stream, udp for datagram); raw sockets need an explicit one.
/// TCP sockets over IP start with `TCP_NODELAY` on.
///
/// # Errors
/// The OS error of `socket(2)`: `EPERM`/`EACCES` for a raw socket without `CAP_NET_RAW`,
/// `EAFNOSUPPORT`, `EPROTONOSUPPORT`, `EMFILE`.
pub fn open(kind: Kind, family: Family, protocol: i32) -> io::Result<Socket> {
  let proto = if protocol == 0 {
    None
  } else {
    Some(Protocol::from(protocol))
  };
  let s = Socket::new(family.domain()?, kind.socket_type(), proto)?;
  sys::configure(&s)?;
  if family == Family::Inet6 && kind != Kind::Raw {
    sys::dual_stack(&s)?;
  }
  if kind == Kind::Tcp && family != Family::Unix {
    // Latency first, as Go does: a small write goes out at once instead of waiting for the
    // ACK of the previous one (Nagle). Sockets accepted from a listener inherit it on Linux
    // and the BSDs, so accept costs no extra syscall. `tcp_nodelay` false restores Nagle.
    s.set_tcp_nodelay(true)?;
  }
  Ok(s)
}

/// Takes over an open socket descriptor (fd on Unix, SOCKET on Windows) that another owner gave
/// up, such as [`crate::Poller::detach`] in another thread: the socket, made non-blocking and
/// close-on-exec, with its kind, family and protocol as the OS reports them (`SO_TYPE`;
/// `getsockname` on Unix, `SO_PROTOCOL_INFOW` on Windows; `SO_PROTOCOL` where it exists, else
/// 0). When `expected` is given, the socket must be of that kind.
///
/// On success the caller has handed over ownership: the descriptor must not be used or closed
/// elsewhere. On failure it is left open and untouched (but for close-on-exec).
///
/// # Errors
/// `EBADF` for a number that is no open descriptor (Windows: `WSAENOTSOCK`, as for any handle
/// that is no socket), `ENOTSOCK` for one that is no socket;
/// `EPROTOTYPE` for a socket that is neither stream, datagram nor raw (`SOCK_SEQPACKET`) or not
/// of the `expected` kind, `EAFNOSUPPORT` for a family other than inet, inet6 and unix.
pub fn adopt(fd: i64, expected: Option<Kind>) -> io::Result<(Socket, Kind, Family, i32)> {
  let s = sys::adopt(fd)?;
  match describe(&s, expected).and_then(|d| sys::configure(&s).map(|()| d)) {
    Ok((kind, family)) => {
      let protocol = sys::protocol(&s);
      Ok((s, kind, family, protocol))
    }
    Err(e) => {
      sys::into_raw(s);
      Err(e)
    }
  }
}

/// The kind and family of an adopted socket (see [`adopt`]).
fn describe(s: &Socket, expected: Option<Kind>) -> io::Result<(Kind, Family)> {
  let ty = i32::from(s.r#type()?);
  let kind = [Kind::Tcp, Kind::Udp, Kind::Raw]
    .into_iter()
    .find(|k| k.raw() == ty && expected.map_or(true, |e| e == *k))
    .ok_or_else(|| io::Error::from_raw_os_error(sys::EPROTOTYPE))?;
  let af = sys::family(s)?;
  let family = [Family::Inet, Family::Inet6, Family::Unix]
    .into_iter()
    .find(|f| f.raw() == af)
    .ok_or_else(|| io::Error::from_raw_os_error(sys::EAFNOSUPPORT))?;
  Ok((kind, family))
}

/// Starts a connection. `Ok(true)` when it completed at once (unix sockets, sometimes
/// loopback), `Ok(false)` when it is in progress: wait for writability, then call
/// [`finish_connect`].
///
/// # Errors
/// The OS error of `connect(2)` other than `EINPROGRESS`/`EWOULDBLOCK`.
pub fn connect(s: &Socket, addr: &SockAddr) -> io::Result<bool> {
  match s.connect(addr) {
    Ok(()) => Ok(true),
    Err(e) if e.raw_os_error() == Some(sys::EINPROGRESS) => Ok(false),
    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
    Err(e) => Err(e),
  }
}

/// Completes a connection started by [`connect`] once the socket is writable: reads and
/// clears `SO_ERROR`.
///
/// # Errors
/// The connection's failure (`ECONNREFUSED`, `ETIMEDOUT`, `EHOSTUNREACH`...).
pub fn finish_connect(s: &Socket) -> io::Result<()> {
  match s.take_error()? {
    Some(e) => Err(e),
    None => Ok(()),
  }
}

/// The bound address of a socket of `family`: the unspecified address with port 0 before a
/// bind, on every platform.
pub fn local_addr(s: &Socket, family: Family) -> io::Result<SockAddr> {
  match family {
    Family::Unix => s.local_addr(),
    _ => sys::local_addr(s, family == Family::Inet6),
  }
}

/// Receives into `buf`; 0 is end of stream (or an empty datagram).
pub fn recv(s: &Socket, buf: &mut [u8]) -> io::Result<usize> {
  // `Read for &Socket` is recv(2) with no flags, over an initialised buffer: no unsafe here.
  use std::io::Read;
  let mut r = s;
  r.read(buf)
}

/// Sends from `buf`, without SIGPIPE.
pub fn send(s: &Socket, buf: &[u8]) -> io::Result<usize> {
  sys::send(s, buf)
}

/// The most buffers one vectored send takes (`IOV_MAX` on Linux and macOS): a send of more
/// sends from the first this many, and its count says how far it got.
pub const MAX_IOV: usize = 1024;

/// Sends from `bufs` in order with one `sendmsg(2)` (`WSASend` on Windows), without SIGPIPE:
/// the count sent, which may end inside any of them. Only the first [`MAX_IOV`] are used.
pub fn send_vectored(s: &Socket, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
  sys::send_vectored(s, &bufs[..bufs.len().min(MAX_IOV)])
}

/// Receives one datagram into `buf`: its length (the part that fit), the sender, and whether
/// the datagram was longer than `buf` (the rest is discarded by the kernel).
pub fn recv_from(s: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr, bool)> {
  use std::mem::MaybeUninit;
  // SAFETY: MaybeUninit<u8> has the layout of u8, and an initialised buffer is a valid
  // MaybeUninit buffer; the kernel only writes initialised bytes into it and nothing writes
  // uninitialised ones, so `buf` stays initialised.
  let raw = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
  let mut bufs = [socket2::MaybeUninitSlice::new(raw)];
  let (n, flags, from) = s.recv_from_vectored(&mut bufs)?;
  // A truncated datagram filled the buffer, on every OS. Windows reports truncation as the
  // error WSAEMSGSIZE, whose byte count is not dependable (wine gives 0), so take the length.
  let truncated = flags.is_truncated();
  Ok((if truncated { buf.len() } else { n }, from, truncated))
}

/// Sends one datagram to `addr`.
pub fn send_to(s: &Socket, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
  s.send_to(buf, addr)
}

/// Accepts a connection: the new socket is non-blocking and close-on-exec.
pub fn accept(s: &Socket) -> io::Result<(Socket, SockAddr)> {
  sys::accept(s)
}

/// Closes `s` without making the caller wait. With `SO_LINGER` on and a time set, `close(2)`
/// waits until the queued data is out or the time passes, on Linux even for a non-blocking
/// socket: such a socket is closed on a thread of its own, so no event loop waits on a peer.
/// The kernel lingers all the same. Anything else is closed at once.
pub fn close(s: Socket) {
  if matches!(s.linger(), Ok(Some(d)) if !d.is_zero()) {
    // Should no thread start, the closure (and the socket) is dropped here: a close that
    // waits is better than a descriptor that leaks.
    let _ = std::thread::Builder::new()
      .name("socket2-linger".into())
      .stack_size(64 << 10)
      .spawn(move || drop(s));
  } else {
    drop(s);
  }
}

/// `shutdown(2)` with the seed's spelling: `'r'`, `'w'` or `'rw'`.
///
/// # Errors
/// `EINVAL` for another spelling; `ENOTCONN` when not connected.
pub fn shutdown(s: &Socket, how: &str) -> io::Result<()> {
  let how = match how {
    "r" => std::net::Shutdown::Read,
    "w" => std::net::Shutdown::Write,
    "rw" => std::net::Shutdown::Both,
    _ => return Err(io::Error::from_raw_os_error(sys::EINVAL)),
  };
  s.shutdown(how)
}

/// An address as JavaScript sees it: an IP socket address, or a unix path (`None` for an
/// unnamed unix socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
  /// IPv4 or IPv6 with port (and scope id for link-local IPv6).
  Ip(SocketAddr),
  /// A unix socket path; abstract names start with a NUL byte.
  Unix(Option<Vec<u8>>),
}

impl Address {
  /// Converts an OS address.
  pub fn from_sockaddr(a: &SockAddr) -> Address {
    if let Some(ip) = a.as_socket() {
      return Address::Ip(ip);
    }
    Address::Unix(unix_path(a))
  }

  /// Converts to an OS address.
  ///
  /// # Errors
  /// `ENAMETOOLONG` (`EINVAL` where unix paths are absent) for a unix path over the
  /// platform's `sun_path` size.
  pub fn to_sockaddr(&self) -> io::Result<SockAddr> {
    match self {
      Address::Ip(a) => Ok(SockAddr::from(*a)),
      Address::Unix(p) => unix_sockaddr(p.as_deref().unwrap_or(&[])),
    }
  }
}

/// Writes parts one after another into a slice; what does not fit is cut.
struct Cursor<'a> {
  out: &'a mut [u8],
  n: usize,
}

impl Cursor<'_> {
  fn put(&mut self, b: &[u8]) {
    let k = b.len().min(self.out.len() - self.n);
    self.out[self.n..self.n + k].copy_from_slice(&b[..k]);
    self.n += k;
  }
}

impl Address {
  /// Writes the compact wire form that JavaScript caches on its address objects, so a
  /// datagram's destination or sender crosses the boundary as bytes, never as parsed text:
  /// `[4, port (2, big-endian), ip (4)]`, `[6, port (2), ip (16), scope id (4, big-endian)]`,
  /// or `[1, path...]` for unix sockets. Returns the length written (cut to `out`).
  pub fn to_wire(&self, out: &mut [u8]) -> usize {
    // Written part by part into `out`: this runs for every datagram received, so no Vec.
    let mut w = Cursor { out, n: 0 };
    match self {
      Address::Ip(SocketAddr::V4(a)) => {
        w.put(&[4]);
        w.put(&a.port().to_be_bytes());
        w.put(&a.ip().octets());
      }
      Address::Ip(SocketAddr::V6(a)) => {
        w.put(&[6]);
        w.put(&a.port().to_be_bytes());
        w.put(&a.ip().octets());
        w.put(&a.scope_id().to_be_bytes());
      }
      Address::Unix(p) => {
        w.put(&[1]);
        w.put(p.as_deref().unwrap_or(&[]));
      }
    }
    w.n
  }

  /// Reads the wire form back.
  ///
  /// # Errors
  /// `-EINVAL` for bytes that are no address.
  pub fn from_wire(b: &[u8]) -> Result<Address, i32> {
    let einval = -sys::EINVAL;
    Ok(match b {
      [4, p0, p1, a, b, c, d] => Address::Ip(SocketAddr::from((
        [*a, *b, *c, *d],
        u16::from_be_bytes([*p0, *p1]),
      ))),
      [6, p0, p1, rest @ ..] if rest.len() == 20 => {
        let ip: [u8; 16] = rest[..16].try_into().map_err(|_| einval)?;
        let scope = u32::from_be_bytes(rest[16..].try_into().map_err(|_| einval)?);
        let port = u16::from_be_bytes([*p0, *p1]);
        Address::Ip(SocketAddr::V6(std::net::SocketAddrV6::new(
          ip.into(),
          port,
          0,
          scope,
        )))
      }
      [1, path @ ..] => Address::Unix(Some(path.to_vec())),
      _ => return Err(einval),
    })
  }
}

#[cfg(unix)]
fn unix_path(a: &SockAddr) -> Option<Vec<u8>> {
  if let Some(p) = a.as_abstract_namespace() {
    let mut v = vec![0u8];
    v.extend_from_slice(p);
    return Some(v);
  }
  use std::os::unix::ffi::OsStrExt;
  a.as_pathname().map(|p| p.as_os_str().as_bytes().to_vec())
}

#[cfg(not(unix))]
fn unix_path(_a: &SockAddr) -> Option<Vec<u8>> {
  None
}

#[cfg(unix)]
fn unix_sockaddr(path: &[u8]) -> io::Result<SockAddr> {
  use std::os::unix::ffi::OsStrExt;
  // A leading NUL makes a Linux abstract name; socket2 sizes the address accordingly.
  SockAddr::unix(std::ffi::OsStr::from_bytes(path)).map_err(|e| {
    if e.kind() == io::ErrorKind::InvalidInput {
      io::Error::from_raw_os_error(libc::ENAMETOOLONG)
    } else {
      e
    }
  })
}

#[cfg(not(unix))]
fn unix_sockaddr(_path: &[u8]) -> io::Result<SockAddr> {
  Err(io::Error::from_raw_os_error(sys::EAFNOSUPPORT))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_parse() {
    assert_eq!(Kind::parse("tcp"), Some(Kind::Tcp));
    assert_eq!(Kind::parse("sctp"), None);
    assert_eq!(Family::parse("inet6"), Some(Family::Inet6));
    assert_eq!(Family::parse("ipx"), None);
  }

  #[test]
  fn sockets_are_nonblocking() {
    let s = open(Kind::Tcp, Family::Inet, 0).unwrap();
    let l = open(Kind::Tcp, Family::Inet, 0).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    l.listen(8).unwrap();
    let e = accept(&l).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    let addr = l.local_addr().unwrap();
    let done = connect(&s, &addr).unwrap();
    if !done {
      // Loopback completes quickly; wait for the accept to prove the handshake.
      std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (c, _) = accept(&l).unwrap();
    finish_connect(&s).unwrap();
    assert_eq!(send(&s, b"hi").unwrap(), 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut buf = [0u8; 8];
    assert_eq!(recv(&c, &mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"hi");
    assert_eq!(
      recv(&c, &mut buf).unwrap_err().kind(),
      io::ErrorKind::WouldBlock
    );
  }

  #[test]
  fn datagrams_report_truncation() {
    let a = open(Kind::Udp, Family::Inet, 0).unwrap();
    let b = open(Kind::Udp, Family::Inet, 0).unwrap();
    a.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    let to = a.local_addr().unwrap();
    assert_eq!(send_to(&b, b"0123456789", &to).unwrap(), 10);
    assert_eq!(send_to(&b, b"ab", &to).unwrap(), 2);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut buf = [0u8; 4];
    let (n, from, cut) = recv_from(&a, &mut buf).unwrap();
    assert_eq!((n, cut, &buf[..]), (4, true, &b"0123"[..]));
    let port = b.local_addr().unwrap().as_socket().unwrap().port();
    assert_eq!(
      from.as_socket().unwrap(),
      SocketAddr::from(([127, 0, 0, 1], port))
    );
    let (n, _, cut) = recv_from(&a, &mut buf).unwrap();
    assert_eq!((n, cut, &buf[..2]), (2, false, &b"ab"[..]));
  }

  #[test]
  fn wire_forms_round_trip() {
    let mut buf = [0u8; 128];
    for a in [
      Address::Ip("127.0.0.1:5000".parse().unwrap()),
      Address::Ip("[fe80::1%3]:53".parse().unwrap()),
      Address::Unix(Some(b"/tmp/s".to_vec())),
    ] {
      let n = a.to_wire(&mut buf);
      assert_eq!(Address::from_wire(&buf[..n]).unwrap(), a);
    }
    // Cut to the room given: a prefix, and its length.
    let mut short = [0u8; 5];
    let v4 = Address::Ip("127.0.0.1:5000".parse().unwrap());
    assert_eq!(v4.to_wire(&mut short), 5);
    assert_eq!(short, [4, 0x13, 0x88, 127, 0]);
    assert_eq!(Address::from_wire(&[9, 1]), Err(-sys::EINVAL));
    assert_eq!(Address::from_wire(&[4, 0, 80, 1]), Err(-sys::EINVAL));
  }

  #[test]
  fn tcp_starts_with_nodelay_and_accepted_sockets_inherit_it() {
    let l = open(Kind::Tcp, Family::Inet, 0).unwrap();
    assert!(l.tcp_nodelay().unwrap());
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    l.listen(1).unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap().as_socket().unwrap()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (a, _) = accept(&l).unwrap();
    assert!(a.tcp_nodelay().unwrap());
    drop(c);
  }

  #[test]
  fn shutdown_spellings() {
    let s = open(Kind::Tcp, Family::Inet, 0).unwrap();
    let e = shutdown(&s, "x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(sys::EINVAL));
  }

  #[cfg(unix)]
  #[test]
  fn unix_addresses_round_trip() {
    let a = Address::Unix(Some(b"/tmp/x.sock".to_vec()));
    assert_eq!(Address::from_sockaddr(&a.to_sockaddr().unwrap()), a);
    let long = Address::Unix(Some(vec![b'a'; 200]));
    assert!(long.to_sockaddr().is_err());
  }
}
