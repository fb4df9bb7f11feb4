//! The poller: a `mio::Poll`, the sockets it watches, and what is known of each socket's
//! readiness per direction.
//!
//! mio is edge-triggered: an event says a direction *became* ready. Each socket keeps a flag
//! per direction: an edge sets it; EAGAIN, or a short read/write on a stream, clears it (the
//! kernel buffer was drained or filled), so an operation whose flag is clear returns
//! [`WOULD_BLOCK`] without a syscall known to fail. Hang-up and error are sticky (read side:
//! RDHUP, HUP, ERR; write side: HUP, ERR), because a consumed FIN edge would otherwise leave a
//! reader waiting forever at end of stream.
//!
//! A socket is registered with the OS poller only when an operation on it first has to wait:
//! until then every operation simply tries the syscall. Sockets that never wait never cost an
//! `epoll_ctl`, and a fresh, unconnected TCP socket (which epoll reports as hung up) is never
//! registered in that state.
//!
//! Ids handed out are an index into the socket table plus a generation, so a stale id of a
//! closed socket is refused with `EBADF` even after its slot is reused.
//!
//! A UDP or raw socket over IP on Linux reads with `recvmmsg(2)` into the caller's buffer and a
//! spare one: when only one datagram comes back the queue is known to be empty, so the next
//! receive waits without the recv that would fail with EAGAIN. A second datagram is kept (in
//! the spare buffer, which moves to the socket) for the next receive.

use std::io;
use std::time::Duration;

use mio::{Events, Poll, Registry, Token};
use socket2::{SockAddr, Socket};

use crate::error::{errno_of, ret, WOULD_BLOCK};
use crate::{socket, sys};

/// A socket's id: `index | generation << INDEX_BITS`, always below 2^31.
pub type Id = u32;

const INDEX_BITS: u32 = 22;
/// The bits of an [`Id`] that index the socket table (dispatched events carry the index).
pub const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const GEN_MASK: u32 = (1 << (31 - INDEX_BITS)) - 1;

/// Readiness bits reported per event.
#[derive(Debug)]
pub struct Bits;

impl Bits {
  /// The read side is ready (data, a connection to accept, end of stream or an error).
  pub const READ: i32 = 1;
  /// The write side is ready (buffer space, a finished connect, or an error).
  pub const WRITE: i32 = 2;
}

/// What a socket's short results mean, by kind and family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
  /// TCP over IP: a short write means the send buffer is full, and (on Linux) a short read
  /// that the receive buffer is empty; urgent data, the one exception, is reported as EPOLLPRI.
  TcpIp,
  /// A unix stream: a short write means full. Reads also stop short at a message carrying
  /// descriptors, so a short read proves nothing.
  Stream,
  /// UDP or raw over IP: receives take up to two datagrams at once on Linux.
  DatagramIp,
  /// A unix datagram socket (datagrams may exceed the spare buffer): one per receive.
  #[default]
  Datagram,
}

impl Shape {
  fn stream(self) -> bool {
    matches!(self, Shape::TcpIp | Shape::Stream)
  }

  fn short_reads_drain(self) -> bool {
    self == Shape::TcpIp && cfg!(any(target_os = "linux", target_os = "android"))
  }
}

/// The largest datagram over IP (a 16-bit length), so a kept datagram is never cut.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
const MAX_DATAGRAM: usize = 65536;

/// A datagram received ahead, by the batch of an earlier receive (Linux only).
#[derive(Debug)]
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
struct Kept {
  buf: Box<[u8]>,
  len: usize,
  from: SockAddr,
  cut: bool,
}

impl Kept {
  /// Copies the datagram into `buf` (cut to fit, as the kernel would cut it) and gives its
  /// buffer back to `spare`: the length, the sender and whether it was cut.
  fn deliver(self, buf: &mut [u8], spare: &mut Option<Box<[u8]>>) -> (usize, SockAddr, bool) {
    let n = self.len.min(buf.len());
    buf[..n].copy_from_slice(&self.buf[..n]);
    let Kept {
      buf: b,
      len,
      from,
      cut,
    } = self;
    spare.get_or_insert(b);
    (n, from, cut || len > n)
  }

  /// Gives the buffer back to `spare`, dropping the datagram (its socket is gone).
  fn discard(self, spare: &mut Option<Box<[u8]>>) {
    spare.get_or_insert(self.buf);
  }
}

#[derive(Debug, Default)]
struct Slot {
  gen: u32,
  sock: Option<Socket>,
  reg: Option<sys::Registration>,
  shape: Shape,
  /// The next datagram, when the last receive brought two.
  kept: Option<Box<Kept>>,
  /// Urgent (out-of-band) data was signalled: reads stop short at its mark until EAGAIN.
  urgent: bool,
  /// A connect is in progress; a recv or send that fails meanwhile takes the connection's
  /// error from the socket (reading SO_ERROR clears it), so it is kept here for the connect.
  connecting: bool,
  conn_err: i32,
  /// Read side ready, or not known to be unready.
  rd: bool,
  /// Write side ready, or not known to be unready.
  wr: bool,
  /// Sticky: the read side saw RDHUP/HUP/ERR or end of stream.
  rd_hup: bool,
  /// Sticky: the write side saw HUP/ERR.
  wr_hup: bool,
}

impl Slot {
  /// Whether a syscall in this direction is known to fail with EAGAIN: only once registered
  /// (before that nothing is known) and while neither an edge nor a sticky hang-up was seen.
  fn known_unready(&self, read: bool) -> bool {
    let (ready, hup) = if read {
      (self.rd, self.rd_hup)
    } else {
      (self.wr, self.wr_hup)
    };
    self.reg.is_some() && !ready && !hup
  }
}

/// The socket table and the OS poller it registers with.
#[derive(Debug)]
pub struct Poller {
  poll: Option<Poll>,
  registry: Registry,
  events: Events,
  slots: Vec<Slot>,
  free: Vec<u32>,
  /// The second buffer of batched receives: one per poller, lent to a socket while it keeps a
  /// datagram, so memory grows with the datagrams kept, not with the sockets.
  spare: Option<Box<[u8]>>,
  /// Whether datagram receives are batched (Linux; off once a sandbox refuses `recvmmsg`).
  #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
  batch: bool,
}

fn ebadf() -> i32 {
  -sys::EBADF
}

/// The live slot of `id` (a free function so the registry can be borrowed beside it).
fn slot(slots: &mut [Slot], id: Id) -> Option<&mut Slot> {
  let s = slots.get_mut((id & INDEX_MASK) as usize)?;
  (s.gen == id >> INDEX_BITS && s.sock.is_some()).then_some(s)
}

impl Poller {
  /// Makes a poller whose drains report at most `capacity` events each.
  ///
  /// # Errors
  /// The OS error of `epoll_create1`/`kqueue`.
  pub fn new(capacity: usize) -> io::Result<Poller> {
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    Ok(Poller {
      poll: Some(poll),
      registry,
      events: Events::with_capacity(capacity),
      slots: Vec::new(),
      free: Vec::new(),
      spare: None,
      batch: true,
    })
  }

  /// Hands the OS poller to a thread that waits on it (the backend where the loop cannot poll
  /// it directly); registrations keep working through the registry. Events then come back
  /// through [`Poller::report`].
  pub fn take_poll(&mut self) -> Option<Poll> {
    self.poll.take()
  }

  /// The epoll/kqueue fd, for the event loop to watch.
  #[cfg(unix)]
  pub fn fd(&self) -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    self.poll.as_ref().map(|p| p.as_raw_fd())
  }

  /// Adds a socket of the given shape.
  pub fn insert(&mut self, sock: Socket, shape: Shape) -> Id {
    let index = match self.free.pop() {
      Some(i) => i,
      None => {
        self.slots.push(Slot::default());
        (self.slots.len() - 1) as u32
      }
    };
    let slot = &mut self.slots[index as usize];
    slot.gen = (slot.gen + 1) & GEN_MASK;
    *slot = Slot {
      gen: slot.gen,
      sock: Some(sock),
      reg: None,
      shape,
      kept: None,
      urgent: false,
      connecting: false,
      conn_err: 0,
      rd: true,
      wr: true,
      rd_hup: false,
      wr_hup: false,
    };
    index | (slot.gen << INDEX_BITS)
  }

  /// The socket behind `id`.
  ///
  /// # Errors
  /// `EBADF` for an unknown or closed id.
  pub fn socket(&self, id: Id) -> io::Result<&Socket> {
    self
      .slots
      .get((id & INDEX_MASK) as usize)
      .filter(|s| s.gen == id >> INDEX_BITS)
      .and_then(|s| s.sock.as_ref())
      .ok_or_else(|| io::Error::from_raw_os_error(sys::EBADF))
  }

  /// Removes a socket, returning it (dropping it closes the fd). `None` for an unknown id.
  pub fn remove(&mut self, id: Id) -> Option<Socket> {
    let registry = &self.registry;
    let s = self.slots.get_mut((id & INDEX_MASK) as usize)?;
    if s.gen != id >> INDEX_BITS {
      return None;
    }
    let sock = s.sock.take()?;
    if let Some(reg) = s.reg.take() {
      sys::deregister(registry, reg);
    }
    if let Some(k) = s.kept.take() {
      (*k).discard(&mut self.spare);
    }
    self.free.push(id & INDEX_MASK);
    Some(sock)
  }

  /// Number of live sockets.
  pub fn len(&self) -> usize {
    self.slots.len() - self.free.len()
  }

  /// Whether no socket is live.
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  /// Registers on first wait, so the OS reports the edges this socket's waiter needs.
  fn ensure_registered(registry: &Registry, id: Id, s: &mut Slot) -> i32 {
    if s.reg.is_some() {
      return 0;
    }
    let sock = s.sock.as_ref().expect("slot() checked the socket");
    // The token is the whole id, generation included, so a late event of a closed socket is
    // told apart from the socket that reuses its slot.
    match sys::register(registry, sock, Token(id as usize)) {
      Ok(r) => {
        s.reg = Some(r);
        0
      }
      Err(e) => -errno_of(&e),
    }
  }

  /// Receives into `buf`: the count (0 = end of stream or an empty datagram), or `-errno`
  /// ([`WOULD_BLOCK`]: wait for [`Bits::READ`]).
  pub fn recv(&mut self, id: Id, buf: &mut [u8]) -> i32 {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return ebadf();
    };
    // A datagram kept by an earlier `recv_from` comes first, as if read now.
    if let Some(k) = s.kept.take() {
      return (*k).deliver(buf, &mut self.spare).0 as i32;
    }
    if s.known_unready(true) {
      return WOULD_BLOCK;
    }
    let r = ret(socket::recv(s.sock.as_ref().unwrap(), buf));
    Self::after(registry, id, s, r, buf.len(), true)
  }

  /// Sends from `buf`: the count sent, or `-errno` ([`WOULD_BLOCK`]: wait for
  /// [`Bits::WRITE`]).
  pub fn send(&mut self, id: Id, buf: &[u8]) -> i32 {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return ebadf();
    };
    if s.known_unready(false) {
      return WOULD_BLOCK;
    }
    let r = ret(socket::send(s.sock.as_ref().unwrap(), buf));
    Self::after(registry, id, s, r, buf.len(), false)
  }

  /// Receives one datagram: its length, the sender and whether it was cut to fit `buf`; or
  /// `-errno` ([`WOULD_BLOCK`]: wait for [`Bits::READ`]).
  pub fn recv_from(&mut self, id: Id, buf: &mut [u8]) -> Result<(usize, SockAddr, bool), i32> {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return Err(ebadf());
    };
    if let Some(k) = s.kept.take() {
      return Ok((*k).deliver(buf, &mut self.spare));
    }
    if s.known_unready(true) {
      return Err(WOULD_BLOCK);
    }
    let sock = s.sock.as_ref().unwrap();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if s.shape == Shape::DatagramIp && self.batch {
      let mut spare = self
        .spare
        .take()
        .unwrap_or_else(|| vec![0; MAX_DATAGRAM].into_boxed_slice());
      match sys::recv_two(sock, buf, &mut spare) {
        Ok((first, Some(next))) => {
          s.kept = Some(Box::new(Kept {
            buf: spare,
            len: next.len,
            from: next.from,
            cut: next.cut,
          }));
          return Ok((first.len, first.from, first.cut));
        }
        Ok((first, None)) => {
          // The queue was empty after it: a datagram arriving later raises a new edge.
          s.rd = false;
          self.spare = Some(spare);
          return Ok((first.len, first.from, first.cut));
        }
        Err(e) => {
          self.spare = Some(spare);
          if !sys::refused_by_sandbox(&e) {
            return Err(Self::after(registry, id, s, -errno_of(&e), buf.len(), true));
          }
          // A seccomp filter without recvmmsg: one datagram per recvfrom from now on.
          self.batch = false;
        }
      }
    }
    match socket::recv_from(sock, buf) {
      Ok(r) => Ok(r),
      Err(e) => Err(Self::after(registry, id, s, -errno_of(&e), buf.len(), true)),
    }
  }

  /// Sends one datagram to `addr`: the count, or `-errno` ([`WOULD_BLOCK`]: wait for
  /// [`Bits::WRITE`]).
  pub fn send_to(&mut self, id: Id, buf: &[u8], addr: &SockAddr) -> i32 {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return ebadf();
    };
    if s.known_unready(false) {
      return WOULD_BLOCK;
    }
    let r = ret(socket::send_to(s.sock.as_ref().unwrap(), buf, addr));
    Self::after(registry, id, s, r, buf.len(), false)
  }

  /// Updates the direction's flag from a syscall's result.
  fn after(registry: &Registry, id: Id, s: &mut Slot, r: i32, asked: usize, read: bool) -> i32 {
    let (flag, hup) = if read {
      (&mut s.rd, &mut s.rd_hup)
    } else {
      (&mut s.wr, &mut s.wr_hup)
    };
    if s.connecting && r < 0 && r != WOULD_BLOCK {
      s.conn_err = -r;
    }
    if r == WOULD_BLOCK {
      *flag = false;
      if read {
        s.urgent = false;
      }
      let e = Self::ensure_registered(registry, id, s);
      return if e < 0 { e } else { WOULD_BLOCK };
    }
    if s.shape.stream() && r >= 0 {
      if read && r == 0 && asked > 0 {
        // End of stream is permanent: every later recv returns 0 at once.
        *hup = true;
      } else if (r as usize) < asked && (!read || (s.shape.short_reads_drain() && !s.urgent)) {
        *flag = false;
      }
    }
    r
  }

  /// Accepts a connection: the new socket's id and the peer's address, or `-errno`
  /// ([`WOULD_BLOCK`]: wait for [`Bits::READ`]).
  pub fn accept(&mut self, id: Id) -> Result<(Id, SockAddr), i32> {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return Err(ebadf());
    };
    if s.known_unready(true) {
      return Err(WOULD_BLOCK);
    }
    let shape = s.shape;
    match socket::accept(s.sock.as_ref().unwrap()) {
      Ok((c, a)) => Ok((self.insert(c, shape), a)),
      Err(e) => {
        let r = -errno_of(&e);
        Err(Self::after(registry, id, s, r, 0, true))
      }
    }
  }

  /// Starts a connection: 0 when connected, [`WOULD_BLOCK`] when in progress (wait for
  /// [`Bits::WRITE`], then call [`Poller::finish_connect`]), or `-errno`.
  pub fn connect(&mut self, id: Id, addr: &SockAddr) -> i32 {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return ebadf();
    };
    // A new attempt (perhaps after a failed one to another address) starts afresh.
    s.rd = true;
    s.rd_hup = false;
    s.wr_hup = false;
    match socket::connect(s.sock.as_ref().unwrap(), addr) {
      Ok(true) => 0,
      Ok(false) => {
        s.wr = false;
        s.connecting = true;
        s.conn_err = 0;
        let e = Self::ensure_registered(registry, id, s);
        if e < 0 {
          e
        } else {
          WOULD_BLOCK
        }
      }
      Err(e) => -errno_of(&e),
    }
  }

  /// Replaces the socket behind `id` with a fresh one of the same domain, type and protocol, in
  /// the same slot under a new generation: returns the new id, or `-errno`. A failed connect
  /// leaves a socket that cannot connect again (Linux answers ECONNABORTED, BSDs EINVAL), so
  /// the next address of a lookup needs a new one; the new generation keeps the old socket's
  /// late events away from it. Options and bindings are not carried over: the caller re-applies
  /// them.
  pub fn reopen(&mut self, id: Id) -> i32 {
    let registry = &self.registry;
    let Some(s) = slot(&mut self.slots, id) else {
      return ebadf();
    };
    let old = s.sock.as_ref().unwrap();
    let fresh = (|| {
      let protocol = old.protocol()?;
      let sock = socket2::Socket::new(old.domain()?, old.r#type()?, protocol)?;
      crate::sys::configure(&sock)?;
      Ok::<_, io::Error>(sock)
    })();
    match fresh {
      Ok(sock) => {
        if let Some(reg) = s.reg.take() {
          sys::deregister(registry, reg);
        }
        s.sock = Some(sock);
        s.gen = (s.gen + 1) & GEN_MASK;
        s.rd = true;
        s.wr = true;
        s.rd_hup = false;
        s.wr_hup = false;
        s.urgent = false;
        s.connecting = false;
        s.conn_err = 0;
        if let Some(k) = s.kept.take() {
          (*k).discard(&mut self.spare);
        }
        ((id & INDEX_MASK) | (s.gen << INDEX_BITS)) as i32
      }
      Err(e) => -errno_of(&e),
    }
  }

  /// Completes a connection once writable: 0, the connection's error, or [`WOULD_BLOCK`]
  /// when the wake-up was spurious and the handshake still runs.
  pub fn finish_connect(&mut self, id: Id) -> i32 {
    let Some(s) = slot(&mut self.slots, id) else {
      return ebadf();
    };
    let sock = s.sock.as_ref().unwrap();
    let r = match socket::finish_connect(sock) {
      Err(e) => -errno_of(&e),
      Ok(()) => match sock.peer_addr() {
        Ok(_) => {
          // Connected: the write side is usable whether or not its edge was seen yet.
          s.wr = true;
          0
        }
        Err(_) if s.conn_err != 0 => -s.conn_err,
        Err(_) if !s.wr_hup => {
          s.wr = false;
          WOULD_BLOCK
        }
        Err(e) => -errno_of(&e),
      },
    };
    if r != WOULD_BLOCK {
      s.connecting = false;
      s.conn_err = 0;
    }
    r
  }

  /// Applies one event of `token` (a socket's id) and, when that socket is still live, appends
  /// `[index, bits]` to `out` as pair `*n`. Returns false, applying nothing, when `out` has no
  /// room left.
  pub fn report(&mut self, token: usize, e: EventBits, out: &mut [i32], n: &mut usize) -> bool {
    report(&mut self.slots, token, e, out, n)
  }

  /// Waits up to `timeout` (zero: do not wait) for events, applies them, and writes
  /// `[index, bits]` pairs into `out`; returns the number of pairs. At most
  /// `min(capacity, out.len() / 2)` events are taken; the rest stay queued in the OS.
  ///
  /// # Errors
  /// The OS error of `epoll_wait`/`kevent` (EINTR is reported as 0 events), or `EBADF`
  /// after [`Poller::take_poll`].
  pub fn drain(&mut self, timeout: Option<Duration>, out: &mut [i32]) -> io::Result<usize> {
    let Some(poll) = self.poll.as_mut() else {
      return Err(io::Error::from_raw_os_error(sys::EBADF));
    };
    match poll.poll(&mut self.events, timeout) {
      Ok(()) => {}
      Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
      Err(e) => return Err(e),
    }
    // The events capacity is at most out.len() / 2 (see `new`'s callers), so none is dropped.
    let mut n = 0;
    for e in self.events.iter() {
      if !report(&mut self.slots, e.token().0, EventBits::of(e), out, &mut n) {
        break;
      }
    }
    Ok(n)
  }
}

/// Applies one OS event of `token` (an id): the readiness bits to report, or 0 when that socket
/// is gone (its slot empty, or reused by a socket of another generation).
fn apply(slots: &mut [Slot], token: usize, e: EventBits) -> i32 {
  let index = token & INDEX_MASK as usize;
  let gen = (token >> INDEX_BITS) as u32 & GEN_MASK;
  let Some(s) = slots
    .get_mut(index)
    .filter(|s| s.sock.is_some() && s.gen == gen)
  else {
    return 0;
  };
  let mut bits = 0;
  s.urgent |= e.priority;
  if e.read || e.read_closed || e.error || e.priority {
    s.rd = true;
    s.rd_hup |= e.read_closed || e.error;
    bits |= Bits::READ;
  }
  if e.write || e.write_closed || e.error {
    s.wr = true;
    s.wr_hup |= e.write_closed || e.error;
    bits |= Bits::WRITE;
  }
  bits
}

fn report(slots: &mut [Slot], token: usize, e: EventBits, out: &mut [i32], n: &mut usize) -> bool {
  if 2 * *n + 1 >= out.len() {
    return false;
  }
  let bits = apply(slots, token, e);
  if bits != 0 {
    out[2 * *n] = (token & INDEX_MASK as usize) as i32;
    out[2 * *n + 1] = bits;
    *n += 1;
  }
  true
}

/// What one OS event said, detached from mio's borrowed event so it can cross threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventBits {
  /// Readable.
  pub read: bool,
  /// Writable.
  pub write: bool,
  /// RDHUP or HUP.
  pub read_closed: bool,
  /// HUP, or ERR with OUT.
  pub write_closed: bool,
  /// ERR.
  pub error: bool,
  /// PRI: urgent (out-of-band) data (Linux).
  pub priority: bool,
}

impl EventBits {
  /// Reads a mio event.
  pub fn of(e: &mio::event::Event) -> EventBits {
    EventBits {
      read: e.is_readable(),
      write: e.is_writable(),
      read_closed: e.is_read_closed(),
      write_closed: e.is_write_closed(),
      error: e.is_error(),
      priority: e.is_priority(),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{open, Family, Kind};
  use std::net::SocketAddr;

  fn pair(p: &mut Poller) -> (Id, Id, Id) {
    let l = open(Kind::Tcp, Family::Inet, 0).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    l.listen(8).unwrap();
    let addr = l.local_addr().unwrap();
    let l = p.insert(l, Shape::TcpIp);
    let c = p.insert(open(Kind::Tcp, Family::Inet, 0).unwrap(), Shape::TcpIp);
    let r = p.connect(c, &addr);
    assert!(r == 0 || r == WOULD_BLOCK);
    let s = loop {
      match p.accept(l) {
        Ok((s, _)) => break s,
        Err(e) => {
          assert_eq!(e, WOULD_BLOCK);
          wait(p);
        }
      }
    };
    while p.finish_connect(c) == WOULD_BLOCK {
      wait(p);
    }
    (l, c, s)
  }

  fn wait(p: &mut Poller) -> Vec<i32> {
    let mut out = [0i32; 64];
    let n = p.drain(Some(Duration::from_secs(5)), &mut out).unwrap();
    out[..2 * n].to_vec()
  }

  #[test]
  fn readiness_flags_skip_doomed_syscalls() {
    let mut p = Poller::new(64).unwrap();
    let (_l, c, s) = pair(&mut p);
    let mut buf = [0u8; 16];
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    // Registered and known unready: no syscall, still WOULD_BLOCK.
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    assert_eq!(p.send(c, b"ping"), 4);
    let ev = wait(&mut p);
    assert!(ev
      .chunks(2)
      .any(|e| e[0] as u32 == s & INDEX_MASK && e[1] & Bits::READ != 0));
    assert_eq!(p.recv(s, &mut buf), 4);
    // The short read cleared the flag: the next recv makes no syscall.
    assert!(!p.slots[(s & INDEX_MASK) as usize].rd);
  }

  #[test]
  fn end_of_stream_is_sticky() {
    let mut p = Poller::new(64).unwrap();
    let (_l, c, s) = pair(&mut p);
    let mut buf = [0u8; 16];
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    drop(p.remove(c));
    while p.recv(s, &mut buf) == WOULD_BLOCK {
      wait(&mut p);
    }
    assert_eq!(p.recv(s, &mut buf), 0);
    assert_eq!(p.recv(s, &mut buf), 0);
  }

  #[test]
  fn late_events_of_a_closed_socket_miss_its_slots_next_owner() {
    let mut p = Poller::new(8).unwrap();
    let (_l, c, s) = pair(&mut p);
    let mut buf = [0u8; 4];
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    drop(p.remove(s));
    let u = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), Shape::DatagramIp);
    assert_eq!(u & INDEX_MASK, s & INDEX_MASK);
    let hup = EventBits {
      read_closed: true,
      error: true,
      ..EventBits::default()
    };
    let (mut out, mut n) = ([0i32; 4], 0);
    assert!(p.report(s as usize, hup, &mut out, &mut n));
    assert_eq!(n, 0, "the old socket's event reached the new one");
    assert!(p.report(u as usize, hup, &mut out, &mut n));
    assert_eq!(n, 1);
    drop(p.remove(c));
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn urgent_data_does_not_strand_what_follows_it() {
    use std::os::fd::AsRawFd;
    let mut p = Poller::new(64).unwrap();
    let (_l, c, s) = pair(&mut p);
    let mut buf = [0u8; 64];
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    let fd = p.socket(c).unwrap().as_raw_fd();
    for (data, flags) in [(&b"abc"[..], 0), (b"X", libc::MSG_OOB), (b"def", 0)] {
      // SAFETY: a live socket fd and a live buffer of the given length.
      let sent = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) };
      assert_eq!(sent, data.len() as isize);
    }
    std::thread::sleep(Duration::from_millis(20));
    wait(&mut p);
    // The read stops at the urgent mark, short of the buffer's end, yet more data is queued.
    assert_eq!(p.recv(s, &mut buf), 3);
    assert_eq!(p.recv(s, &mut buf), 3);
    assert_eq!(&buf[..3], b"def");
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
  }

  /// Two bound UDP sockets on loopback: (receiver, sender, receiver's address).
  fn udp_pair(p: &mut Poller) -> (Id, Id, SockAddr) {
    let any: SockAddr = "127.0.0.1:0".parse::<SocketAddr>().unwrap().into();
    let r = open(Kind::Udp, Family::Inet, 0).unwrap();
    r.bind(&any).unwrap();
    let to = r.local_addr().unwrap();
    let s = open(Kind::Udp, Family::Inet, 0).unwrap();
    s.bind(&any).unwrap();
    (
      p.insert(r, Shape::DatagramIp),
      p.insert(s, Shape::DatagramIp),
      to,
    )
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn batched_datagrams_arrive_whole_and_in_order() {
    let mut p = Poller::new(8).unwrap();
    let (r, s, to) = udp_pair(&mut p);
    let from = p.socket(s).unwrap().local_addr().unwrap();
    let big = vec![7u8; 60000];
    for d in [&b"one"[..], &big, b"three"] {
      assert_eq!(p.send_to(s, d, &to), d.len() as i32);
    }
    let mut buf = [0u8; 8];
    let (n, who, cut) = p.recv_from(r, &mut buf).unwrap();
    assert_eq!((&buf[..n], cut), (&b"one"[..], false));
    assert_eq!(who.as_socket(), from.as_socket());
    // The kept second datagram is cut to this smaller buffer, as the kernel would cut it.
    let (n, who, cut) = p.recv_from(r, &mut buf).unwrap();
    assert_eq!((n, cut, buf), (8, true, [7u8; 8]));
    assert_eq!(who.as_socket(), from.as_socket());
    let (n, _, cut) = p.recv_from(r, &mut buf).unwrap();
    assert_eq!((&buf[..n], cut), (&b"three"[..], false));
    // One datagram came back, so the queue is known empty: no recv that must fail.
    assert!(!p.slots[(r & INDEX_MASK) as usize].rd);
    assert_eq!(p.recv_from(r, &mut buf).unwrap_err(), WOULD_BLOCK);
    assert_eq!(p.send_to(s, b"four", &to), 4);
    let ev = wait(&mut p);
    assert!(ev.chunks(2).any(|e| e[0] as u32 == r & INDEX_MASK));
    let (n, _, _) = p.recv_from(r, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"four");
  }

  #[test]
  fn unbatched_datagrams_arrive_in_order_and_recv_serves_a_kept_one_first() {
    let mut p = Poller::new(8).unwrap();
    let (r, s, to) = udp_pair(&mut p);
    for d in [b"1", b"2", b"3"] {
      assert_eq!(p.send_to(s, d, &to), 1);
    }
    let mut buf = [0u8; 4];
    // Batched (on Linux): "1" now, "2" kept; plain recv still gives "2" before "3".
    assert_eq!(p.recv_from(r, &mut buf).unwrap().0, 1);
    assert_eq!(&buf[..1], b"1");
    assert_eq!(p.recv(r, &mut buf), 1);
    assert_eq!(&buf[..1], b"2");
    // As after a sandbox refused recvmmsg: one datagram per recvfrom.
    p.batch = false;
    assert_eq!(p.recv_from(r, &mut buf).unwrap().0, 1);
    assert_eq!(&buf[..1], b"3");
    assert_eq!(p.recv_from(r, &mut buf).unwrap_err(), WOULD_BLOCK);
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn a_closed_socket_gives_back_its_kept_datagram() {
    let mut p = Poller::new(8).unwrap();
    let (r, s, to) = udp_pair(&mut p);
    for d in [b"a", b"b"] {
      assert_eq!(p.send_to(s, d, &to), 1);
    }
    let mut buf = [0u8; 4];
    assert_eq!(p.recv_from(r, &mut buf).unwrap().0, 1);
    assert!(p.slots[(r & INDEX_MASK) as usize].kept.is_some());
    drop(p.remove(r));
    assert!(p.spare.is_some(), "the kept buffer went back to the poller");
    assert_eq!(p.recv_from(r, &mut buf).unwrap_err(), -sys::EBADF);
    let (r2, _, _) = udp_pair(&mut p);
    assert_eq!(r2 & INDEX_MASK, r & INDEX_MASK);
    assert_eq!(p.recv_from(r2, &mut buf).unwrap_err(), WOULD_BLOCK);
  }

  #[test]
  fn stale_ids_are_refused() {
    let mut p = Poller::new(8).unwrap();
    let a = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), Shape::DatagramIp);
    assert!(p.remove(a).is_some());
    let b = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), Shape::DatagramIp);
    assert_eq!(a & INDEX_MASK, b & INDEX_MASK);
    assert_ne!(a, b);
    assert_eq!(p.send(a, b"x"), -sys::EBADF);
    assert!(p.remove(a).is_none());
    assert!(p.socket(b).is_ok());
    assert_eq!(p.len(), 1);
  }

  #[test]
  fn refused_connect_reports_the_error() {
    let mut p = Poller::new(8).unwrap();
    // Bind a port and close it so nothing listens there.
    let l = open(Kind::Tcp, Family::Inet, 0).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let c = p.insert(open(Kind::Tcp, Family::Inet, 0).unwrap(), Shape::TcpIp);
    let mut r = p.connect(c, &addr);
    while r == WOULD_BLOCK {
      wait(&mut p);
      r = p.finish_connect(c);
    }
    assert_eq!(r, -sys::ECONNREFUSED);
    // The same id connects elsewhere after a reopen.
    let l = open(Kind::Tcp, Family::Inet, 0).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    l.listen(1).unwrap();
    let c2 = p.reopen(c) as Id;
    assert_ne!(c2, c);
    assert_eq!(p.send(c, b"x"), -sys::EBADF);
    let c = c2;
    let mut r = p.connect(c, &l.local_addr().unwrap());
    while r == WOULD_BLOCK {
      wait(&mut p);
      r = p.finish_connect(c);
    }
    assert_eq!(r, 0);
  }
}
