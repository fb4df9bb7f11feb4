//! Receiving datagrams, two at a time where the OS can.
//!
//! A UDP or raw socket over IP on Linux reads with `recvmmsg(2)` into the caller's buffer and a
//! spare one: when only one datagram comes back the queue is known to be empty, so the next
//! receive waits without the recv that would fail with EAGAIN. A second datagram is kept (in
//! the spare buffer, which moves to the socket) for the next receive. Elsewhere each receive is
//! one `recvfrom`.

use socket2::SockAddr;

use super::readiness::after;
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::readiness::drained;
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::slot::Shape;
use super::slot::{live, Id};
use super::{ebadf, Poller};
use crate::error::{errno_of, WOULD_BLOCK};
use crate::socket;
#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::sys;

/// The largest datagram over IP (a 16-bit length), so a kept datagram is never cut.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAX_DATAGRAM: usize = 65536;

/// A datagram received ahead, by the batch of an earlier receive (Linux only).
#[derive(Debug)]
pub(super) struct Kept {
  buf: Box<[u8]>,
  len: usize,
  from: SockAddr,
  cut: bool,
}

impl Kept {
  /// Copies the datagram into `buf` (cut to fit, as the kernel would cut it) and gives its
  /// buffer back to `spare`: the length, the sender and whether it was cut.
  pub(super) fn deliver(
    self,
    buf: &mut [u8],
    spare: &mut Option<Box<[u8]>>,
  ) -> (usize, SockAddr, bool) {
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
  pub(super) fn discard(self, spare: &mut Option<Box<[u8]>>) {
    spare.get_or_insert(self.buf);
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
      return Ok((*k).deliver(buf, &mut self.spare));
    }
    if s.known_unready(true) {
      return Err(WOULD_BLOCK);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if s.shape == Shape::DatagramIp && self.batch {
      let mut spare = self
        .spare
        .take()
        .unwrap_or_else(|| vec![0; MAX_DATAGRAM].into_boxed_slice());
      match sys::recv_two(&s.sock, buf, &mut spare) {
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
          drained(source, id, s, true);
          self.spare = Some(spare);
          return Ok((first.len, first.from, first.cut));
        }
        Err(e) => {
          self.spare = Some(spare);
          if !sys::refused_by_sandbox(&e) {
            return Err(after(source, id, s, -errno_of(&e), buf.len(), true));
          }
          // A seccomp filter without recvmmsg: one datagram per recvfrom from now on.
          self.batch = false;
        }
      }
    }
    match socket::recv_from(&s.sock, buf) {
      Ok(r) => Ok(r),
      Err(e) => Err(after(source, id, s, -errno_of(&e), buf.len(), true)),
    }
  }
}
