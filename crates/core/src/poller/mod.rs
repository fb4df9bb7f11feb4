//! The poller: a `mio::Poll`, the sockets it watches, and what is known of each socket's
//! readiness per direction.
//!
//! - `slot`: the socket table (ids with generations, so a stale id of a closed socket is
//!   refused with `EBADF` even after its slot is reused) and what is kept per socket;
//! - `readiness`: the per-direction flags, the OS events that set them and the results that
//!   clear them, and keeping the OS poller armed (the one place with a platform difference);
//! - `datagram`: receiving datagrams, two per syscall on Linux;
//! - `connect`: connecting, and a fresh socket for the next address;
//! - `source`: where events come from: the OS poller, or a per-socket [`Watcher`] outside it;
//! - `hub`: one OS poller shared by the pollers of several threads.
//!
//! A socket is registered with the OS poller only when an operation on it first has to wait:
//! until then every operation simply tries the syscall. Sockets that never wait never cost an
//! `epoll_ctl`, and a fresh, unconnected TCP socket (which epoll reports as hung up) is never
//! registered in that state.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Poll};
use socket2::{SockAddr, Socket};

use crate::error::{errno_of, ret, WOULD_BLOCK};
use crate::{socket, sys};

mod connect;
mod datagram;
pub mod hub;
mod readiness;
mod slot;
mod source;
#[cfg(all(test, target_os = "linux"))]
mod spare_bench;

pub use datagram::MAX_BATCH;
use hub::{Hub, Member, WakeFn};
use readiness::{after, apply, report};
pub use readiness::{Bits, EventBits};
use slot::{id_of, live, slot_of, Live, Slot, GEN_MASK};
pub use slot::{Id, Origin, Shape, INDEX_MASK};
use source::Source;
pub use source::{WatchId, Watcher};

/// The socket table and the source of its events: the OS poller it registers with, or a
/// watcher outside it.
#[derive(Debug)]
pub struct Poller {
  /// The OS poller, when this poller has one of its own (else it is in `hub`, or outside).
  poll: Option<Poll>,
  /// This poller's membership of a shared OS poller.
  hub: Option<Member>,
  source: Source,
  events: Events,
  slots: Vec<Slot>,
  free: Vec<u32>,
  /// The second buffer of batched receives: one per poller, lent to a socket while it keeps a
  /// datagram, so memory grows with the datagrams kept, not with the sockets.
  spare: Option<Box<[u8]>>,
  /// Whether datagrams move in batches where the OS can (off once a sandbox refuses
  /// `recvmmsg` or `sendmmsg`).
  batch: bool,
  /// The batched syscalls (`sendmmsg`/`recvmmsg`) that worked, for `stats()`.
  batches: u64,
  /// The longest datagram a receive keeps in the spare buffer and stays batched after
  /// ([`datagram::KEEP_MAX`]; a field so that the measurement of it can vary it).
  #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
  keep_max: usize,
}

fn ebadf() -> i32 {
  -sys::EBADF
}

/// What a 0-byte read means on a stream socket whose connect is under way or failed: not an
/// end of stream (it never had one) but the connection's error, else ENOTCONN. POSIX says so
/// itself; wine reads 0 bytes, and a reader would take a refusal for a peer that closed.
fn unconnected(sock: &Socket) -> i32 {
  match sock.take_error() {
    Ok(Some(e)) | Err(e) => -errno_of(&e),
    Ok(None) => -sys::ENOTCONN,
  }
}

impl Poller {
  /// Makes a poller whose drains report at most `capacity` events each.
  ///
  /// # Errors
  /// The OS error of `epoll_create1`/`kqueue`/`CreateIoCompletionPort`.
  pub fn new(capacity: usize) -> io::Result<Poller> {
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    Ok(Poller {
      poll: Some(poll),
      hub: None,
      source: Source::Os(registry, 0),
      events: Events::with_capacity(capacity),
      slots: Vec::new(),
      free: Vec::new(),
      spare: None,
      batch: true,
      batches: 0,
      keep_max: datagram::KEEP_MAX,
    })
  }

  /// Makes a poller whose events come from `watcher`, which watches each socket on its own
  /// (level-triggered), instead of an OS poller: [`Poller::drain`] then has nothing to drain,
  /// and the watcher's events are applied through [`Poller::report`].
  pub fn watched(watcher: Box<dyn Watcher>) -> Poller {
    Poller {
      poll: None,
      hub: None,
      source: Source::Watcher(watcher),
      events: Events::with_capacity(0),
      slots: Vec::new(),
      free: Vec::new(),
      spare: None,
      batch: true,
      batches: 0,
      keep_max: datagram::KEEP_MAX,
    }
  }

  /// Makes a poller that shares `hub`'s OS poller with the pollers of other threads; `wake`
  /// is called, from any thread, when another of them drained events of this one's sockets,
  /// which its next [`Poller::drain`] takes.
  ///
  /// # Errors
  /// As [`Hub::join`].
  pub fn shared(hub: &Arc<Hub>, wake: WakeFn) -> io::Result<Poller> {
    let (member, source) = Poller::source_of(hub.join(wake)?);
    Ok(Poller {
      poll: None,
      hub: Some(member),
      source,
      events: Events::with_capacity(0),
      slots: Vec::new(),
      free: Vec::new(),
      spare: None,
      batch: true,
      batches: 0,
      keep_max: datagram::KEEP_MAX,
    })
  }

  fn source_of(mut m: Member) -> (Member, Source) {
    // Every member out of a poller holds its registry: `Hub::join` gives it one and `rehome`
    // gives it back.
    let source = match m.registry() {
      Some(r) => Source::Os(r, m.tag()),
      None => unreachable!("a member's registry is taken once, by the poller it joins"),
    };
    (m, source)
  }

  /// Moves a shared poller with no open socket to the hub of `member` (a fresh
  /// [`Hub::join`]), giving back its old membership: drop it once nothing watches the old
  /// hub's descriptor, which closes with the hub's last member. Ids of sockets closed before
  /// stay refused.
  ///
  /// # Errors
  /// `EBUSY` while a socket is open, `EINVAL` for a poller that is not shared, each with
  /// `member` given back.
  pub fn rehome(&mut self, member: Member) -> Result<Member, (i32, Member)> {
    let Some(old) = self.hub.take() else {
      return Err((-sys::EINVAL, member));
    };
    if !self.is_empty() {
      self.hub = Some(old);
      return Err((-sys::EBUSY, member));
    }
    let (member, source) = Poller::source_of(member);
    let mut old = old;
    if let Source::Os(r, _) = std::mem::replace(&mut self.source, source) {
      old.give_back(r);
    }
    self.hub = Some(member);
    Ok(old)
  }

  /// The hub this poller shares, if it does.
  pub fn hub(&self) -> Option<&Arc<Hub>> {
    self.hub.as_ref().map(Member::hub)
  }

  /// How many events this poller took from its hub's OS poller, its own and other members'.
  pub fn drained(&self) -> u64 {
    self.hub.as_ref().map_or(0, Member::drained)
  }

  /// How many `sendmmsg`/`recvmmsg` calls moved datagrams: 0 where the OS has neither, or a
  /// sandbox refuses them.
  pub fn batches(&self) -> u64 {
    self.batches
  }

  /// Stops taking part in its hub's routing, for a thread going away before its poller: the
  /// wake function is never called once this returns.
  pub fn leave(&mut self) {
    if let Some(m) = self.hub.as_mut() {
      m.leave();
    }
  }

  /// Hands the OS poller to a thread that waits on it (the backend where the loop cannot poll
  /// it directly); registrations keep working through the registry. Events then come back
  /// through [`Poller::report`].
  pub fn take_poll(&mut self) -> Option<Poll> {
    self.poll.take()
  }

  /// The OS poller's own descriptor (the epoll or kqueue fd), for the event loop to watch or a
  /// caller to see; `None` where there is none to give: on Windows (mio does not expose its
  /// IOCP handle), for a [`Poller::watched`] one, and after [`Poller::take_poll`].
  pub fn fd(&self) -> Option<i64> {
    match &self.hub {
      Some(m) => m.hub().fd(),
      None => self.poll.as_ref().and_then(sys::poll_fd),
    }
  }

  /// Adds a socket made as `origin` says.
  pub fn insert(&mut self, sock: Socket, origin: Origin) -> Id {
    let index = match self.free.pop() {
      Some(i) => i,
      None => {
        self.slots.push(Slot::default());
        (self.slots.len() - 1) as u32
      }
    };
    let slot = &mut self.slots[index as usize];
    slot.gen = (slot.gen + 1) & GEN_MASK;
    slot.live = Some(Live::new(sock, origin));
    id_of(index, slot.gen)
  }

  /// The socket behind `id`.
  ///
  /// # Errors
  /// `EBADF` for an unknown or closed id.
  pub fn socket(&self, id: Id) -> io::Result<&Socket> {
    self.get(id).map(|l| &l.sock)
  }

  /// The bound address of `id`: the unspecified address with port 0 before a bind, on every
  /// platform ([`socket::local_addr`]).
  ///
  /// # Errors
  /// `EBADF` for an unknown or closed id; the OS error of `getsockname`.
  pub fn local_addr(&self, id: Id) -> io::Result<SockAddr> {
    let l = self.get(id)?;
    socket::local_addr(&l.sock, l.origin.family)
  }

  fn get(&self, id: Id) -> io::Result<&Live> {
    self
      .slots
      .get((id & INDEX_MASK) as usize)
      .filter(|s| s.gen == id >> slot::INDEX_BITS)
      .and_then(|s| s.live.as_ref())
      .ok_or_else(|| io::Error::from_raw_os_error(sys::EBADF))
  }

  /// Removes a socket, returning it (dropping it closes the fd). `None` for an unknown id.
  pub fn remove(&mut self, id: Id) -> Option<Socket> {
    let gone = slot_of(&mut self.slots, id)?.live.take()?;
    self.free.push(id & INDEX_MASK);
    Some(gone.release(&mut self.source, &mut self.spare, true))
  }

  /// Removes a socket that stays open, for another poller (another thread's, after
  /// [`socket::adopt`]) or another program to take over: its OS descriptor, now the caller's
  /// (fd on Unix, SOCKET on Windows). It is deregistered from this poller, whose later events
  /// for it, if any were queued, carry a stale id and are ignored.
  ///
  /// # Errors
  /// `EBADF` for an unknown id; `EBUSY` while a datagram received in a batch is kept here (it
  /// would be lost: receive it first).
  pub fn detach(&mut self, id: Id) -> Result<i64, i32> {
    let slot = slot_of(&mut self.slots, id).ok_or_else(ebadf)?;
    match &slot.live {
      None => return Err(ebadf()),
      Some(l) if l.kept.is_some() => return Err(-sys::EBUSY),
      Some(_) => {}
    }
    let gone = slot.live.take().ok_or_else(ebadf)?;
    self.free.push(id & INDEX_MASK);
    Ok(sys::into_raw(gone.release(
      &mut self.source,
      &mut self.spare,
      false,
    )))
  }

  /// Number of live sockets.
  pub fn len(&self) -> usize {
    self.slots.len() - self.free.len()
  }

  /// Whether no socket is live.
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  /// Receives into `buf`: the count (0 = end of stream or an empty datagram), or `-errno`
  /// ([`WOULD_BLOCK`]: wait for [`Bits::READ`]).
  pub fn recv(&mut self, id: Id, buf: &mut [u8]) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    // A datagram kept by an earlier `recv_from` comes first, as if read now.
    if let Some(k) = s.kept.take() {
      return match (*k).deliver(buf, &mut self.spare) {
        Ok((n, _, _)) => n as i32,
        Err(e) => e,
      };
    }
    if s.known_unready(true) {
      return WOULD_BLOCK;
    }
    let mut r = ret(socket::recv(&s.sock, buf));
    // (A connection made and ended before its connect was finished has a peer: that 0 is its end.)
    if r == 0 && (s.conn_failed || (s.connecting && s.sock.peer_addr().is_err())) {
      r = unconnected(&s.sock);
    }
    after(source, id, s, r, buf.len(), true)
  }

  /// Sends from `buf`: the count sent, or `-errno` ([`WOULD_BLOCK`]: wait for
  /// [`Bits::WRITE`]).
  pub fn send(&mut self, id: Id, buf: &[u8]) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    if s.known_unready(false) {
      return WOULD_BLOCK;
    }
    let r = ret(socket::send(&s.sock, buf));
    after(source, id, s, r, buf.len(), false)
  }

  /// Sends from `bufs` in order with one syscall (see [`socket::send_vectored`]): the count
  /// sent, or `-errno` ([`WOULD_BLOCK`]: wait for [`Bits::WRITE`]).
  pub fn send_vectored(&mut self, id: Id, bufs: &[io::IoSlice<'_>]) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    if s.known_unready(false) {
      return WOULD_BLOCK;
    }
    let asked = bufs.iter().take(socket::MAX_IOV).map(|b| b.len()).sum();
    let r = ret(socket::send_vectored(&s.sock, bufs));
    after(source, id, s, r, asked, false)
  }

  /// Sends one datagram to `addr`: the count, or `-errno` ([`WOULD_BLOCK`]: wait for
  /// [`Bits::WRITE`]).
  pub fn send_to(&mut self, id: Id, buf: &[u8], addr: &SockAddr) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    if s.known_unready(false) {
      return WOULD_BLOCK;
    }
    let r = ret(socket::send_to(&s.sock, buf, addr));
    after(source, id, s, r, buf.len(), false)
  }

  /// Accepts a connection: the new socket's id and the peer's address, or `-errno`
  /// ([`WOULD_BLOCK`]: wait for [`Bits::READ`]). The new socket is made as the listener was.
  pub fn accept(&mut self, id: Id) -> Result<(Id, SockAddr), i32> {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return Err(ebadf());
    };
    if s.known_unready(true) {
      return Err(WOULD_BLOCK);
    }
    let origin = s.origin;
    match socket::accept(&s.sock) {
      Ok((c, a)) => Ok((self.insert(c, origin), a)),
      Err(e) => Err(after(source, id, s, -errno_of(&e), 0, true)),
    }
  }

  /// Applies one event of `token` (a socket's id) and, when that socket is still live, appends
  /// `[index, bits]` to `out` as pair `*n`. Returns false, applying nothing, when `out` has no
  /// room left.
  pub fn report(&mut self, token: usize, e: EventBits, out: &mut [i32], n: &mut usize) -> bool {
    report(&mut self.slots, &mut self.source, token, e, out, n)
  }

  /// Asks the OS whether the socket at table `index` is ready in one direction now, and
  /// applies the answer as an event: the readiness bits to report (0: not ready, or no socket
  /// there). For a deadline about to fire when events come from a watcher, which sees them only
  /// once the event loop polls, after its timers ran.
  pub fn ready_now(&mut self, index: u32, read: bool) -> i32 {
    let Some(Slot { gen, live: Some(s) }) = self.slots.get(index as usize) else {
      return 0;
    };
    let token = id_of(index, *gen) as usize;
    match sys::ready_now(&s.sock, read) {
      Ok(e) => apply(&mut self.slots, &mut self.source, token, e),
      Err(_) => 0,
    }
  }

  /// Waits up to `timeout` (zero: do not wait) for events, applies them, and writes
  /// `[index, bits]` pairs into `out`; returns the number of pairs. At most
  /// `min(capacity, out.len() / 2)` events are taken; the rest stay queued in the OS.
  ///
  /// # Errors
  /// The OS error of `epoll_wait`/`kevent` (EINTR is reported as 0 events), or `EBADF`
  /// after [`Poller::take_poll`].
  pub fn drain(&mut self, timeout: Option<Duration>, out: &mut [i32]) -> io::Result<usize> {
    if self.hub.is_some() {
      return self.drain_shared(timeout, out);
    }
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
      if !report(
        &mut self.slots,
        &mut self.source,
        e.token().0,
        EventBits::of(e),
        out,
        &mut n,
      ) {
        break;
      }
    }
    Ok(n)
  }
}

impl Poller {
  /// [`Poller::drain`] of a shared poller: the events other members routed here first, and
  /// only when there were none, the OS poller's (routing the others' on).
  fn drain_shared(&mut self, timeout: Option<Duration>, out: &mut [i32]) -> io::Result<usize> {
    let Some(m) = self.hub.as_mut() else {
      return Ok(0);
    };
    m.take_mail(out.len() / 2);
    if m.mine().is_empty() {
      m.poll(timeout)?;
    }
    let mut n = 0;
    let taken = m
      .mine()
      .iter()
      .take_while(|&&(token, e)| report(&mut self.slots, &mut self.source, token, e, out, &mut n))
      .count();
    if taken < m.mine().len() {
      m.put_back(taken);
    }
    Ok(n)
  }
}

impl Drop for Poller {
  /// Releases every socket's registration before the socket closes, as [`Poller::remove`]
  /// does: a watcher's handle must not outlive its socket.
  fn drop(&mut self) {
    for slot in &mut self.slots {
      if let Some(l) = slot.live.take() {
        drop(l.release(&mut self.source, &mut self.spare, true));
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{open, Family, Kind};
  use std::net::SocketAddr;
  use std::sync::Arc;

  const TCP: Origin = Origin {
    kind: Kind::Tcp,
    family: Family::Inet,
    protocol: 0,
  };
  const UDP: Origin = Origin {
    kind: Kind::Udp,
    family: Family::Inet,
    protocol: 0,
  };

  fn state(p: &Poller, id: Id) -> &Live {
    p.slots[(id & INDEX_MASK) as usize].live.as_ref().unwrap()
  }

  fn pair(p: &mut Poller) -> (Id, Id, Id) {
    let l = open(Kind::Tcp, Family::Inet, 0).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
      .unwrap();
    l.listen(8).unwrap();
    let addr = l.local_addr().unwrap();
    let l = p.insert(l, TCP);
    let c = p.insert(open(Kind::Tcp, Family::Inet, 0).unwrap(), TCP);
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
  fn a_detached_socket_reports_to_its_new_poller_only_and_keeps_its_data() {
    let mut p = Poller::new(64).unwrap();
    let (_l, c, s) = pair(&mut p);
    let mut buf = [0u8; 16];
    // Registered with `p` by its first wait.
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    assert_eq!(p.send(c, b"before"), 6);
    let fd = p.detach(s).unwrap();
    assert_eq!(p.detach(s), Err(-sys::EBADF));
    let mut q = Poller::new(64).unwrap();
    let (sock, kind, family, _) = socket::adopt(fd, Some(Kind::Tcp)).unwrap();
    assert_eq!((kind, family), (Kind::Tcp, Family::Inet));
    let t = q.insert(sock, TCP);
    assert_eq!(q.recv(t, &mut buf), 6);
    assert_eq!(&buf[..6], b"before");
    assert_eq!(q.recv(t, &mut buf), WOULD_BLOCK);
    assert_eq!(p.send(c, b"after"), 5);
    assert!(wait(&mut q)
      .chunks(2)
      .any(|e| e[0] as u32 == t & INDEX_MASK));
    // The old poller no longer hears of it: nothing but the sender's own write readiness.
    let mut out = [0i32; 64];
    let n = p.drain(Some(Duration::from_millis(50)), &mut out).unwrap();
    assert!(out[..2 * n]
      .chunks(2)
      .all(|e| e[0] as u32 != s & INDEX_MASK));
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
    assert!(!state(&p, s).rd);
  }

  #[test]
  fn a_vectored_send_sends_its_buffers_in_order() {
    let mut p = Poller::new(8).unwrap();
    let (_l, c, s) = pair(&mut p);
    let parts = [
      io::IoSlice::new(b"head"),
      io::IoSlice::new(b""),
      io::IoSlice::new(b"body"),
    ];
    assert_eq!(p.send_vectored(c, &parts), 8);
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    while got.len() < 8 {
      match p.recv(s, &mut buf) {
        WOULD_BLOCK => {
          wait(&mut p);
        }
        n => got.extend_from_slice(&buf[..n as usize]),
      }
    }
    assert_eq!(got, b"headbody");
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
    let u = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), UDP);
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
    (p.insert(r, UDP), p.insert(s, UDP), to)
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
    // After a long kept datagram, a recvfrom, which cannot tell the queue is empty after it.
    let (n, _, cut) = p.recv_from(r, &mut buf).unwrap();
    assert_eq!((&buf[..n], cut), (&b"three"[..], false));
    // Then a batch of two that brings one: the queue is known empty, no recv that must fail.
    for (d, known_empty) in [(b"four", false), (b"five", true)] {
      assert_eq!(state(&p, r).rd, !known_empty);
      assert_eq!(p.recv_from(r, &mut buf).unwrap_err(), WOULD_BLOCK);
      assert_eq!(p.send_to(s, d, &to), 4);
      let ev = wait(&mut p);
      assert!(ev.chunks(2).any(|e| e[0] as u32 == r & INDEX_MASK));
      let (n, _, _) = p.recv_from(r, &mut buf).unwrap();
      assert_eq!(&buf[..n], d);
    }
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn after_a_long_second_datagram_receives_are_single_until_the_queue_is_empty() {
    let mut p = Poller::new(8).unwrap();
    let (r, s, to) = udp_pair(&mut p);
    let long = vec![5u8; datagram::KEEP_MAX + 1];
    for _ in 0..3 {
      assert_eq!(p.send_to(s, &long, &to), long.len() as i32);
    }
    let mut buf = vec![0u8; 65536];
    // One recvmmsg brings two; the next receive copies the second out of the spare buffer.
    assert_eq!(p.recv_from(r, &mut buf).unwrap().0, long.len());
    assert_eq!(p.recv_from(r, &mut buf).unwrap().0, long.len());
    assert_eq!(p.batches(), 1);
    // Then a recvfrom each, until one finds the queue empty.
    assert_eq!(p.recv_from(r, &mut buf).unwrap().0, long.len());
    assert_eq!(p.recv_from(r, &mut buf).unwrap_err(), WOULD_BLOCK);
    assert_eq!(p.batches(), 1);
    // Batched again, and a second datagram of KEEP_MAX bytes keeps it so.
    let most = &long[..datagram::KEEP_MAX];
    for d in [most, most, b"x"] {
      assert_eq!(p.send_to(s, d, &to), d.len() as i32);
    }
    wait(&mut p);
    for n in [most.len(), most.len(), 1] {
      assert_eq!(p.recv_from(r, &mut buf).unwrap().0, n);
    }
    assert_eq!(p.batches(), 3);
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

  /// A datagram as received: its bytes, and whether it was cut.
  type Arrived = (Vec<u8>, bool);

  /// What a receiver sees, batch by batch, of a scenario of batched sends and receives: each
  /// batch's datagrams (bytes, cut) or its error. Run with batches on and off, it must not
  /// tell them apart.
  fn batch_scenario(batch: bool) -> Vec<Result<Vec<Arrived>, i32>> {
    let mut p = Poller::new(8).unwrap();
    p.batch = batch;
    let (r, s, to) = udp_pair(&mut p);
    let from = p.socket(s).unwrap().local_addr().unwrap();
    let big = vec![9u8; 3000];
    let msgs: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10 + i as usize]).collect();
    let mut out: Vec<(&[u8], Option<&SockAddr>)> =
      msgs.iter().map(|m| (&m[..], Some(&to))).collect();
    out.push((&big, Some(&to)));
    out.push((b"", Some(&to)));
    assert_eq!(p.send_many(s, &out), 7);
    assert_eq!(p.send_many(s, &[]), 0);
    let mut got = Vec::new();
    let mut results = Vec::new();
    // Three buffers, then two, then four: partial batches, a cut datagram, an empty one.
    for (count, size) in [(3, 64), (2, 64), (4, 100), (4, 100)] {
      let mut bufs: Vec<Vec<u8>> = (0..count).map(|_| vec![0u8; size]).collect();
      let mut views: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
      results.push(p.recv_many(r, &mut views, &mut got).map(|()| {
        got
          .iter()
          .zip(&bufs)
          .map(|((n, who, cut), b)| {
            assert_eq!(who.as_socket(), from.as_socket());
            (b[..*n].to_vec(), *cut)
          })
          .collect()
      }));
    }
    results
  }

  #[test]
  fn batches_and_loops_of_single_calls_move_the_same_datagrams() {
    let on = batch_scenario(true);
    assert_eq!(on, batch_scenario(false));
    let d = |i: u8| (vec![i; 10 + i as usize], false);
    assert_eq!(
      on,
      vec![
        Ok(vec![d(0), d(1), d(2)]),
        Ok(vec![d(3), d(4)]),
        Ok(vec![(vec![9u8; 100], true), (vec![], false)]),
        Err(WOULD_BLOCK),
      ]
    );
  }

  /// A connected UDP socket with a datagram queued and a refusal (ICMP port unreachable, which
  /// loopback delivers during the send) pending: what three batched receives give.
  fn refusal_scenario(batch: bool) -> Vec<Result<usize, i32>> {
    let mut p = Poller::new(8).unwrap();
    p.batch = batch;
    let (r, s, to) = udp_pair(&mut p);
    let back = p.socket(s).unwrap().local_addr().unwrap();
    assert_eq!(p.connect(s, &to), 0);
    assert_eq!(p.send_to(r, b"hi", &back), 2);
    assert!(p.remove(r).is_some());
    assert_eq!(p.send_many(s, &[(b"ping", None)]), 1);
    let mut got = Vec::new();
    (0..3)
      .map(|_| {
        let mut bufs = [[0u8; 8]; 4];
        let mut views: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
        p.recv_many(s, &mut views, &mut got).map(|()| got.len())
      })
      .collect()
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn batches_and_loops_report_a_refusal_once_before_the_datagram_behind_it() {
    let on = refusal_scenario(true);
    assert_eq!(on, refusal_scenario(false));
    assert_eq!(on, vec![Err(-libc::ECONNREFUSED), Ok(1), Err(WOULD_BLOCK)]);
  }

  #[test]
  fn a_datagram_error_readies_the_socket_once_and_does_not_stick() {
    let mut p = Poller::new(8).unwrap();
    let (r, s, to) = udp_pair(&mut p);
    assert_eq!(p.connect(s, &to), 0);
    assert!(p.remove(r).is_some());
    let mut buf = [0u8; 8];
    // Registered by the wait; the refusal of what is sent next comes back as an error event.
    assert_eq!(p.recv_from(s, &mut buf).unwrap_err(), WOULD_BLOCK);
    assert_eq!(p.send(s, b"ping"), 4);
    let ev = wait(&mut p);
    assert!(ev.chunks(2).any(|e| e[0] as u32 == s & INDEX_MASK));
    assert!(!state(&p, s).rd_hup && !state(&p, s).wr_hup);
    assert_eq!(
      p.recv_from(s, &mut buf).unwrap_err(),
      -crate::sys::ECONNREFUSED
    );
    // Reported once: the next receive finds the queue empty and skips the syscall after it.
    assert_eq!(p.recv_from(s, &mut buf).unwrap_err(), WOULD_BLOCK);
    assert!(state(&p, s).known_unready(true));
    assert_eq!(p.recv_from(s, &mut buf).unwrap_err(), WOULD_BLOCK);
  }

  /// Makes the calling thread's `sendmmsg` fail EPERM, as a seccomp sandbox refuses it (the
  /// filter binds this thread only): false where the kernel takes no filter from it.
  #[cfg(target_os = "linux")]
  fn refuse_sendmmsg_here() -> bool {
    let op = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
      code: code as u16,
      jt,
      jf,
      k,
    };
    let filter = [
      // The syscall number (offset 0 of seccomp_data); this test's own arch only.
      op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
      op(
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        libc::SYS_sendmmsg as u32,
        0,
        1,
      ),
      op(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        0,
        0,
      ),
      op(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0),
    ];
    let prog = libc::sock_fprog {
      len: filter.len() as u16,
      filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: plain prctl calls; `prog` points to `filter`, both alive through the call, which
    // copies the program.
    unsafe {
      libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
        && libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog) == 0
    }
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn a_sandbox_refusing_sendmmsg_with_eperm_turns_batching_off_and_every_datagram_goes() {
    // A thread of its own: the filter stays on the thread it binds.
    std::thread::spawn(|| {
      let mut p = Poller::new(8).unwrap();
      let (r, s, to) = udp_pair(&mut p);
      if !refuse_sendmmsg_here() {
        eprintln!("skipped: the kernel takes no seccomp filter here");
        return;
      }
      let msgs: Vec<(&[u8], Option<&SockAddr>)> =
        vec![(b"a", Some(&to)), (b"b", Some(&to)), (b"c", Some(&to))];
      assert_eq!(p.send_many(s, &msgs), 3);
      assert!(!p.batch);
      assert_eq!(p.send_many(s, &msgs[..1]), 1);
      assert_eq!(p.batches(), 0);
      let mut buf = [0u8; 4];
      for want in [b"a", b"b", b"c", b"a"] {
        let (n, _, _) = p.recv_from(r, &mut buf).unwrap();
        assert_eq!(&buf[..n], want);
      }
    })
    .join()
    .unwrap();
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
    assert!(state(&p, r).kept.is_some());
    drop(p.remove(r));
    assert!(p.spare.is_some(), "the kept buffer went back to the poller");
    assert_eq!(p.recv_from(r, &mut buf).unwrap_err(), -sys::EBADF);
    let (r2, _, _) = udp_pair(&mut p);
    assert_eq!(r2 & INDEX_MASK, r & INDEX_MASK);
    assert_eq!(p.recv_from(r2, &mut buf).unwrap_err(), WOULD_BLOCK);
  }

  /// Per watch: fd, token, read armed, write armed.
  #[cfg(unix)]
  type Armed = std::cell::RefCell<Vec<Option<(i32, usize, bool, bool)>>>;

  /// A level-triggered watcher over `poll(2)`: what libuv's uv_poll does, without a loop.
  #[cfg(unix)]
  #[derive(Debug, Default)]
  struct PollWatcher {
    armed: std::rc::Rc<Armed>,
  }

  #[cfg(unix)]
  impl Watcher for PollWatcher {
    fn watch(&mut self, sock: &Socket, id: Id) -> io::Result<WatchId> {
      use std::os::fd::AsRawFd;
      let mut a = self.armed.borrow_mut();
      a.push(Some((sock.as_raw_fd(), id as usize, false, false)));
      Ok(WatchId::new(a.len() - 1))
    }
    fn arm(&mut self, w: &WatchId, i: mio::Interest) -> io::Result<()> {
      let mut a = self.armed.borrow_mut();
      let e = a[w.raw()].as_mut().unwrap();
      e.2 |= i.is_readable();
      e.3 |= i.is_writable();
      Ok(())
    }
    fn disarm(&mut self, w: &WatchId, read: bool, write: bool) {
      let mut a = self.armed.borrow_mut();
      let e = a[w.raw()].as_mut().unwrap();
      e.2 &= !read;
      e.3 &= !write;
    }
    fn unwatch(&mut self, w: WatchId) {
      self.armed.borrow_mut()[w.raw()] = None;
    }
  }

  /// One turn of the watcher's loop: polls what is armed (up to 5 s) and reports it.
  #[cfg(unix)]
  fn turn(p: &mut Poller, armed: &Armed) -> Vec<i32> {
    let watched: Vec<_> = armed
      .borrow()
      .iter()
      .flatten()
      .filter(|e| e.2 || e.3)
      .copied()
      .collect();
    let mut fds: Vec<libc::pollfd> = watched
      .iter()
      .map(|e| libc::pollfd {
        fd: e.0,
        events: if e.2 { libc::POLLIN } else { 0 } | if e.3 { libc::POLLOUT } else { 0 },
        revents: 0,
      })
      .collect();
    // SAFETY: live pollfds and their count.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 5000) };
    let (mut out, mut n) = ([0i32; 16], 0);
    for (f, e) in fds.iter().zip(&watched) {
      if f.revents != 0 {
        let bits = EventBits {
          read: f.revents & libc::POLLIN != 0,
          write: f.revents & libc::POLLOUT != 0,
          ..EventBits::default()
        };
        assert!(p.report(e.1, bits, &mut out, &mut n));
      }
    }
    out[..2 * n].to_vec()
  }

  #[cfg(unix)]
  #[test]
  fn a_watched_direction_is_disarmed_once_reported_with_nobody_waiting_and_armed_by_the_next_wait()
  {
    let w = PollWatcher::default();
    let armed = w.armed.clone();
    let mut p = Poller::watched(Box::new(w));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let s = Socket::from(l.accept().unwrap().0);
    s.set_nonblocking(true).unwrap();
    let (s, c) = (p.insert(s, TCP), p.insert(Socket::from(c), TCP));
    let mut buf = [0u8; 16];
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    assert!(armed.borrow()[0].unwrap().2, "a wait arms its direction");
    assert_eq!(p.send(c, b"ping"), 4);
    assert_eq!(turn(&mut p, &armed), [(s & INDEX_MASK) as i32, Bits::READ]);
    assert_eq!(p.recv(s, &mut buf), 4);
    // Nobody reads the next data: reported once, then disarmed at the next report.
    assert_eq!(p.send(c, b"x"), 1);
    assert_eq!(turn(&mut p, &armed), [(s & INDEX_MASK) as i32, Bits::READ]);
    assert!(turn(&mut p, &armed).is_empty());
    assert!(
      !armed.borrow()[0].unwrap().2,
      "reported again with nobody waiting: disarmed"
    );
    assert_eq!(p.recv(s, &mut buf), 1);
    assert_eq!(p.recv(s, &mut buf), WOULD_BLOCK);
    assert!(armed.borrow()[0].unwrap().2, "the next wait arms it again");
    drop(p.remove(s));
    assert!(
      armed.borrow()[0].is_none(),
      "a closed socket is unwatched first"
    );
  }

  /// A wake function counting its calls.
  fn counter() -> (hub::WakeFn, Arc<std::sync::atomic::AtomicUsize>) {
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let m = n.clone();
    let wake = Box::new(move || {
      m.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    (wake, n)
  }

  #[cfg(unix)]
  #[test]
  fn a_shared_pollers_event_reaches_its_owner_only_whoever_drains() {
    let hub = Hub::new(64).unwrap();
    let (wa, woke_a) = counter();
    let (wb, woke_b) = counter();
    let mut a = Poller::shared(&hub, wa).unwrap();
    let mut b = Poller::shared(&hub, wb).unwrap();
    assert_eq!(a.fd(), b.fd());
    assert_eq!(
      Hub::find(a.fd().unwrap()).map(|h| Arc::ptr_eq(&h, &hub)),
      Some(true)
    );
    let (_l, c, s) = pair(&mut b);
    let mut buf = [0u8; 8];
    assert_eq!(b.recv(s, &mut buf), WOULD_BLOCK);
    while !b
      .drain(Some(Duration::ZERO), &mut [0; 64])
      .is_ok_and(|n| n == 0)
    {}
    assert_eq!(b.send(c, b"ping"), 4);
    let before = hub.stats();
    // `a` drains the OS poller: the event is `b`'s, so `a` reports nothing and wakes `b`.
    let mut out = [0i32; 64];
    let mut n = 0;
    for _ in 0..100 {
      n = a.drain(Some(Duration::from_millis(50)), &mut out).unwrap();
      if hub.stats().routed > before.routed {
        break;
      }
    }
    assert_eq!(n, 0);
    assert_eq!(woke_b.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(woke_a.load(std::sync::atomic::Ordering::SeqCst), 0);
    // `b` takes it from its mailbox, once.
    let n = b.drain(Some(Duration::ZERO), &mut out).unwrap();
    assert!(out[..2 * n]
      .chunks(2)
      .any(|e| e[0] as u32 == s & INDEX_MASK && e[1] & Bits::READ != 0));
    assert_eq!(b.recv(s, &mut buf), 4);
    assert_eq!(a.drain(Some(Duration::ZERO), &mut out).unwrap(), 0);
    // A member that left gets nothing and is not woken: its events are dropped.
    b.leave();
    assert_eq!(b.send(c, b"more"), 4);
    let dropped = hub.stats().dropped;
    for _ in 0..100 {
      a.drain(Some(Duration::from_millis(50)), &mut out).unwrap();
      if hub.stats().dropped > dropped {
        break;
      }
    }
    assert!(hub.stats().dropped > dropped);
    assert_eq!(woke_b.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(hub.members(), 1);
  }

  #[cfg(unix)]
  #[test]
  fn a_shared_poller_moves_hub_only_with_no_socket_open_and_a_hub_outlives_its_maker() {
    let first = Hub::new(8).unwrap();
    let (w, _) = counter();
    let mut p = Poller::shared(&first, w).unwrap();
    let old_fd = p.fd().unwrap();
    let a = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), UDP);
    let second = Hub::new(8).unwrap();
    let (w, _) = counter();
    let m = match p.rehome(second.join(w).unwrap()) {
      Err((e, m)) => {
        assert_eq!(e, -sys::EBUSY);
        m
      }
      Ok(_) => panic!("moved with a socket open"),
    };
    assert!(p.remove(a).is_some());
    drop(first);
    drop(p.rehome(m).unwrap());
    assert_eq!(p.fd(), second.fd());
    assert!(
      Hub::find(old_fd).is_none() || old_fd == second.fd().unwrap(),
      "the first hub closed with its last member"
    );
    // The id of the socket closed before stays refused after the move.
    let b = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), UDP);
    assert_ne!(a, b);
    assert_eq!(p.send(a, b"x"), -sys::EBADF);
    let (w, _) = counter();
    let refused = Poller::new(8).unwrap().rehome(second.join(w).unwrap());
    assert_eq!(refused.err().map(|(e, _)| e), Some(-sys::EINVAL));
    // The maker of a hub can go first: the others keep polling it.
    let maker = second.clone();
    drop(second);
    let (w, _) = counter();
    let mut q = Poller::shared(&maker, w).unwrap();
    drop(p);
    drop(maker);
    let (_l, c, s) = pair(&mut q);
    let mut buf = [0u8; 8];
    assert_eq!(q.recv(s, &mut buf), WOULD_BLOCK);
    assert_eq!(q.send(c, b"hi"), 2);
    while q.recv(s, &mut buf) == WOULD_BLOCK {
      wait(&mut q);
    }
  }

  /// `threads` threads sharing one OS poller, each running `rounds` checked round trips with
  /// a blocking echo thread of its own and waking on its own condition; the hub's counts.
  #[cfg(unix)]
  fn shared_echoes(threads: usize, rounds: usize) -> hub::HubStats {
    use std::io::{Read, Write};
    use std::sync::{Condvar, Mutex};
    let hub = Hub::new(64).unwrap();
    let workers: Vec<_> = (0..threads)
      .map(|t| {
        let hub = hub.clone();
        std::thread::spawn(move || {
          let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
          let to: SockAddr = l.local_addr().unwrap().into();
          let echo = std::thread::spawn(move || {
            let (mut e, _) = l.accept().unwrap();
            let mut buf = [0u8; 64];
            loop {
              match e.read(&mut buf).unwrap() {
                0 => break,
                n => e.write_all(&buf[..n]).unwrap(),
              }
            }
          });
          let bell = Arc::new((Mutex::new(false), Condvar::new()));
          let ring = bell.clone();
          let wake = Box::new(move || {
            *ring.0.lock().unwrap() = true;
            ring.1.notify_one();
          });
          let mut p = Poller::shared(&hub, wake).unwrap();
          let c = p.insert(open(Kind::Tcp, Family::Inet, 0).unwrap(), TCP);
          let mut out = [0i32; 128];
          // Drains without sleeping on the OS poller: what another thread drained comes back
          // through the mailbox and its wake function only.
          let mut wait = |p: &mut Poller| {
            if p.drain(Some(Duration::ZERO), &mut out).unwrap() == 0 {
              let g = bell.0.lock().unwrap();
              let (mut g, _) = bell
                .1
                .wait_timeout_while(g, Duration::from_millis(2), |r| !*r)
                .unwrap();
              *g = false;
            }
          };
          let mut r = p.connect(c, &to);
          while r == WOULD_BLOCK {
            wait(&mut p);
            r = p.finish_connect(c);
          }
          assert_eq!(r, 0);
          for i in 0..rounds {
            let msg = format!("{t}:{i}");
            assert_eq!(p.send(c, msg.as_bytes()), msg.len() as i32);
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < msg.len() {
              match p.recv(c, &mut buf[..msg.len() - got.len()]) {
                WOULD_BLOCK => wait(&mut p),
                n => got.extend_from_slice(&buf[..usize::try_from(n).unwrap()]),
              }
            }
            assert_eq!(got, msg.as_bytes());
          }
          drop(p);
          echo.join().unwrap();
        })
      })
      .collect();
    for w in workers {
      w.join().unwrap();
    }
    hub.stats()
  }

  #[cfg(unix)]
  #[test]
  fn four_threads_sharing_one_os_poller_each_get_their_own_events() {
    let s = shared_echoes(4, 2000);
    // Most round trips waited for an event; many were drained by another thread.
    assert!(s.routed > 0, "{s:?}");
    assert_eq!(s.dropped, 0);
  }

  #[test]
  fn stale_ids_are_refused() {
    let mut p = Poller::new(8).unwrap();
    let a = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), UDP);
    assert!(p.remove(a).is_some());
    let b = p.insert(open(Kind::Udp, Family::Inet, 0).unwrap(), UDP);
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
    let c = p.insert(open(Kind::Tcp, Family::Inet, 0).unwrap(), TCP);
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
