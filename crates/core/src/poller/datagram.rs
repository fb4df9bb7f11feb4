//! Receiving datagrams, two at a time where the OS can, and moving many in one call.
//!
//! A UDP or raw socket over IP on Linux reads with `recvmmsg(2)` into the caller's buffer and a
//! spare one: when only one datagram comes back the queue is known to be empty, so the next
//! receive waits without the recv that would fail with EAGAIN. A second datagram is kept (in
//! the spare buffer, which moves to the socket) for the next receive; when it is long, copying
//! it out costs more than the call saved, so the socket reads one `recvfrom` per datagram
//! until it finds its queue empty. Elsewhere each receive is one `recvfrom`.
//!
//! `send_many`/`recv_many` move a batch with one `sendmmsg(2)`/`recvmmsg(2)` where the OS has
//! them, and with a loop of single calls elsewhere (or where a sandbox refuses them), with the
//! same results: what went or came in order, and an error met after some of the batch stays
//! for the next call. A send that fails EPERM may be a sandbox refusing `sendmmsg` or a
//! firewall refusing the first datagram: that one sent alone tells which, so one filtered
//! destination does not end batching.

use socket2::SockAddr;

use super::readiness::{after, drained};
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::slot::Shape;
use super::slot::{live, Id};
use super::{ebadf, Poller};
use crate::error::{errno_of, WOULD_BLOCK};
use crate::sys::Refusal;
use crate::{socket, sys};

/// The most datagrams one `send_many`/`recv_many` moves (Linux's `UIO_MAXIOV`, the most
/// `sendmmsg`/`recvmmsg` take): of more, the first this many.
pub const MAX_BATCH: usize = 1024;

/// The largest datagram over IP (a 16-bit length), so a kept datagram is never cut.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAX_DATAGRAM: usize = 65536;

/// The longest second datagram of a receive that stays batched: copying a longer one out of
/// the spare buffer costs more than the EAGAIN call the spare saves, so a queue of such
/// datagrams is read one `recvfrom` each until it is empty (measured: notes/batched-io.md).
pub(super) const KEEP_MAX: usize = 8192;

/// What an earlier receive took from the kernel ahead of the next: a datagram its batch
/// brought (Linux), or the error a loop of single receives met after its first datagram (the
/// kernel reports such an error once; `recvmmsg` keeps it for the next call, and so does this).
#[derive(Debug)]
pub(super) enum Kept {
  /// Only a batch of two makes one (Linux).
  #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
  Datagram {
    buf: Box<[u8]>,
    len: usize,
    from: SockAddr,
    cut: bool,
  },
  Error(i32),
}

impl Kept {
  /// Copies the datagram into `buf` (cut to fit, as the kernel would cut it) and gives its
  /// buffer back to `spare`: the length, the sender and whether it was cut; or the kept
  /// `-errno`.
  pub(super) fn deliver(
    self,
    buf: &mut [u8],
    spare: &mut Option<Box<[u8]>>,
  ) -> Result<(usize, SockAddr, bool), i32> {
    match self {
      Kept::Error(e) => Err(e),
      Kept::Datagram {
        buf: b,
        len,
        from,
        cut,
      } => {
        let n = len.min(buf.len());
        buf[..n].copy_from_slice(&b[..n]);
        spare.get_or_insert(b);
        Ok((n, from, cut || len > n))
      }
    }
  }

  /// Gives the buffer back to `spare`, dropping the datagram (its socket is gone).
  pub(super) fn discard(self, spare: &mut Option<Box<[u8]>>) {
    if let Kept::Datagram { buf, .. } = self {
      spare.get_or_insert(buf);
    }
  }
}

impl Poller {
  /// Receives one datagram: its length, the sender and whether it was cut to fit `buf`; or
  /// `-errno` ([`WOULD_BLOCK`]: wait for [`super::Bits::READ`]).
  pub fn recv_from(&mut self, id: Id, buf: &mut [u8]) -> Result<(usize, SockAddr, bool), i32> {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return Err(ebadf());
    };
    if let Some(k) = s.kept.take() {
      return (*k).deliver(buf, &mut self.spare);
    }
    if s.known_unready(true) {
      return Err(WOULD_BLOCK);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if s.shape == Shape::DatagramIp && self.batch && !s.backlog {
      let mut spare = self
        .spare
        .take()
        .unwrap_or_else(|| vec![0; MAX_DATAGRAM].into_boxed_slice());
      let got = sys::recv_two(&s.sock, buf, &mut spare);
      if got.is_ok() {
        self.batches += 1;
      }
      match got {
        Ok((first, Some(next))) => {
          s.backlog = next.len > self.keep_max;
          s.kept = Some(Box::new(Kept::Datagram {
            buf: spare,
            len: next.len,
            from: next.from,
            cut: next.cut,
          }));
          return Ok((first.len, first.from, first.cut));
        }
        Ok((first, None)) => {
          // The queue was empty after it: a datagram arriving later raises a new edge.
          drained(source, id, s, true);
          self.spare = Some(spare);
          return Ok((first.len, first.from, first.cut));
        }
        Err(e) => {
          self.spare = Some(spare);
          if sys::refusal(&e) == Refusal::None {
            return Err(after(source, id, s, -errno_of(&e), buf.len(), true));
          }
          // A seccomp filter without recvmmsg: one datagram per recvfrom from now on.
          self.batch = false;
        }
      }
    }
    match socket::recv_from(&s.sock, buf) {
      Ok(r) => Ok(r),
      Err(e) => {
        // Found empty (or failed): the next datagram may come alone again.
        s.backlog = false;
        Err(after(source, id, s, -errno_of(&e), buf.len(), true))
      }
    }
  }
}

impl Poller {
  /// Sends `msgs` in order, each to its address or, without one, to the connected peer: how
  /// many went, at least one (fewer than all when the buffer filled, or when one failed after
  /// others went: its error shows when it is sent again), 0 for none asked, or `-errno`
  /// ([`WOULD_BLOCK`]: none went, wait for [`super::Bits::WRITE`]).
  pub fn send_many(&mut self, id: Id, msgs: &[(&[u8], Option<&SockAddr>)]) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    let msgs = &msgs[..msgs.len().min(MAX_BATCH)];
    if msgs.is_empty() {
      return 0;
    }
    if s.known_unready(false) {
      return WOULD_BLOCK;
    }
    let mut sent = 0usize;
    if self.batch {
      match sys::send_batch(&s.sock, msgs) {
        Some(Ok(n)) => {
          self.batches += 1;
          return n as i32;
        }
        Some(Err(e)) => match sys::refusal(&e) {
          Refusal::None => return after(source, id, s, -errno_of(&e), 0, false),
          Refusal::Unsure => match send_one(&s.sock, msgs[0]) {
            // The datagram's own error (a firewall's): batching stays on.
            Err(e) => return after(source, id, s, -errno_of(&e), 0, false),
            // It went alone, so the syscall itself was refused.
            Ok(()) => {
              sent = 1;
              self.batch = false;
            }
          },
          // A seccomp filter without sendmmsg: one datagram per call from now on.
          Refusal::Sandbox => self.batch = false,
        },
        None => {}
      }
    }
    for &msg in &msgs[sent..] {
      match send_one(&s.sock, msg) {
        Ok(()) => sent += 1,
        Err(e) if sent == 0 => return after(source, id, s, -errno_of(&e), 0, false),
        // As sendmmsg: the count of what went; the failed one is sent again by the caller.
        Err(_) => break,
      }
    }
    sent as i32
  }

  /// Receives up to `bufs.len()` datagrams in order, one per buffer, appending `(length,
  /// sender, cut)` for each to `got` (cleared first): at least one, none for no buffers, or
  /// `-errno` ([`WOULD_BLOCK`]: wait for [`super::Bits::READ`]). A datagram kept by an earlier
  /// receive comes first.
  pub fn recv_many(
    &mut self,
    id: Id,
    bufs: &mut [&mut [u8]],
    got: &mut Vec<(usize, SockAddr, bool)>,
  ) -> Result<(), i32> {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return Err(ebadf());
    };
    got.clear();
    let n = bufs.len().min(MAX_BATCH);
    let Some((first, rest)) = bufs[..n].split_first_mut() else {
      return Ok(());
    };
    let bufs = match s.kept.take() {
      Some(k) => {
        got.push((*k).deliver(first, &mut self.spare)?);
        rest
      }
      None => &mut bufs[..n],
    };
    if bufs.is_empty() || s.known_unready(true) {
      return if got.is_empty() {
        Err(WOULD_BLOCK)
      } else {
        Ok(())
      };
    }
    // What this call itself receives starts here (after a kept datagram).
    let start = got.len();
    let wanted = bufs.len();
    if self.batch {
      match sys::recv_batch(&s.sock, bufs, got) {
        Some(Ok(())) => {
          self.batches += 1;
          if got.len() - start < wanted {
            // The queue was empty after them: a datagram arriving later raises a new edge.
            drained(source, id, s, true);
          }
          return Ok(());
        }
        Some(Err(e)) if sys::refusal(&e) == Refusal::None => {
          return self::failed(source, id, s, -errno_of(&e), got)
        }
        // A seccomp filter without recvmmsg: one datagram per call from now on.
        Some(Err(_)) => self.batch = false,
        None => {}
      }
    }
    for buf in bufs.iter_mut() {
      match socket::recv_from(&s.sock, buf) {
        Ok(d) => got.push(d),
        Err(e) => {
          let e = -errno_of(&e);
          if got.len() == start {
            return failed(source, id, s, e, got);
          }
          if e == WOULD_BLOCK {
            drained(source, id, s, true);
          } else {
            s.kept = Some(Box::new(Kept::Error(e)));
          }
          break;
        }
      }
    }
    Ok(())
  }
}

/// Sends one datagram to its address or, without one, to the connected peer.
fn send_one(sock: &socket2::Socket, (buf, to): (&[u8], Option<&SockAddr>)) -> std::io::Result<()> {
  match to {
    Some(a) => socket::send_to(sock, buf, a),
    None => socket::send(sock, buf),
  }
  .map(drop)
}

/// A receive of a batch failed before it received anything itself: the error, or success with
/// the datagram kept from before it (the error then waits in the kernel, or here, for the next
/// receive).
fn failed(
  source: &mut super::source::Source,
  id: Id,
  s: &mut super::slot::Live,
  e: i32,
  got: &[(usize, SockAddr, bool)],
) -> Result<(), i32> {
  if got.is_empty() {
    return Err(after(source, id, s, e, 0, true));
  }
  if e == WOULD_BLOCK {
    drained(source, id, s, true);
  } else {
    s.kept = Some(Box::new(Kept::Error(e)));
  }
  Ok(())
}
