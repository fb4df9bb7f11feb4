//! Per-direction readiness: what OS events set, what syscall results clear, and keeping the OS
//! poller armed for the next edge.
//!
//! mio is edge-triggered: an event says a direction *became* ready. Each socket keeps a flag
//! per direction: an edge sets it; EAGAIN, or a short read/write on a stream, clears it (the
//! kernel buffer was drained or filled), so an operation whose flag is clear returns
//! [`WOULD_BLOCK`] without a syscall known to fail. Hang-up and error are sticky (read side:
//! RDHUP, HUP, ERR; write side: HUP, ERR), because a consumed FIN edge would otherwise leave a
//! reader waiting forever at end of stream; on a datagram socket an error is not (see `apply`).
//!
//! Every place that clears a flag goes through [`wait_for`] or [`drained`], which keep the
//! source armed for that direction: on epoll and kqueue a registration stays armed, so this is
//! only the first registration; on Windows mio drops a direction's interest once it has
//! reported it, and re-arms it only when told ([`crate::sys::rearm`]); a level-triggered
//! watcher is armed per direction (see [`super::source`]).

use mio::Interest;

use super::slot::{Id, Live, Slot, GEN_MASK, INDEX_BITS, INDEX_MASK};
use super::source::Source;
use crate::error::{errno_of, WOULD_BLOCK};

/// Readiness bits reported per event.
#[derive(Debug)]
pub struct Bits;

impl Bits {
  /// The read side is ready (data, a connection to accept, end of stream or an error).
  pub const READ: i32 = 1;
  /// The write side is ready (buffer space, a finished connect, or an error).
  pub const WRITE: i32 = 2;
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

impl Live {
  /// Whether a syscall in this direction is known to fail with EAGAIN: only once registered
  /// (before that nothing is known) and while neither an edge nor a sticky hang-up was seen.
  pub(super) fn known_unready(&self, read: bool) -> bool {
    let (ready, hup) = if read {
      (self.rd, self.rd_hup)
    } else {
      (self.wr, self.wr_hup)
    };
    self.reg.is_some() && !ready && !hup
  }

  /// The directions still waiting for an edge (at least one: callers have just cleared one).
  fn wanted(&self) -> Interest {
    match (self.rd, self.wr) {
      (false, true) => Interest::READABLE,
      (true, false) => Interest::WRITABLE,
      _ => Interest::READABLE | Interest::WRITABLE,
    }
  }

  fn flag(&mut self, read: bool) -> &mut bool {
    if read {
      &mut self.rd
    } else {
      &mut self.wr
    }
  }
}

/// A syscall in this direction would block: clears its flag and makes sure the OS reports the
/// next edge (registering on the first wait). [`WOULD_BLOCK`], or `-errno` when the
/// registration fails.
pub(super) fn wait_for(source: &mut Source, id: Id, s: &mut Live, read: bool) -> i32 {
  *s.flag(read) = false;
  if read {
    s.urgent = false;
  }
  let wanted = s.wanted();
  match source.arm(&mut s.reg, &s.sock, id, wanted) {
    Ok(()) => WOULD_BLOCK,
    Err(e) => -errno_of(&e),
  }
}

/// A short result drained this direction (the buffer was emptied or filled): clears its flag.
/// A socket that never waited stays unregistered: its next syscall finds out for itself.
pub(super) fn drained(source: &mut Source, id: Id, s: &mut Live, read: bool) {
  *s.flag(read) = false;
  let wanted = s.wanted();
  source.rearm(&mut s.reg, &s.sock, id, wanted);
}

/// Updates the direction's flag from a syscall's result `r` (a count or `-errno`) for a
/// request of `asked` bytes; returns `r`, or the registration's failure.
pub(super) fn after(
  source: &mut Source,
  id: Id,
  s: &mut Live,
  r: i32,
  asked: usize,
  read: bool,
) -> i32 {
  if s.connecting && r < 0 && r != WOULD_BLOCK {
    s.conn_err = -r;
  }
  if r == WOULD_BLOCK {
    return wait_for(source, id, s, read);
  }
  if s.shape.stream() && r >= 0 {
    if read && r == 0 && asked > 0 {
      // End of stream is permanent: every later recv returns 0 at once.
      s.rd_hup = true;
    } else if (r as usize) < asked && (!read || (s.shape.short_reads_drain() && !s.urgent)) {
      drained(source, id, s, read);
    }
  }
  r
}

/// Applies one event of `token` (an id): the readiness bits to report, or 0 when that socket
/// is gone (its slot empty, or reused by a socket of another generation). From a
/// level-triggered source only news is reported: a direction already known ready has no
/// operation waiting on it, and is disarmed instead.
pub(super) fn apply(slots: &mut [Slot], source: &mut Source, token: usize, e: EventBits) -> i32 {
  let index = token & INDEX_MASK as usize;
  let gen = (token >> INDEX_BITS) as u32 & GEN_MASK;
  let Some(s) = slots
    .get_mut(index)
    .filter(|s| s.gen == gen)
    .and_then(|s| s.live.as_mut())
  else {
    return 0;
  };
  let level = source.level();
  let (mut bits, mut quiet_rd, mut quiet_wr) = (0, false, false);
  s.urgent |= e.priority;
  // On a datagram socket an error (an ICMP refusal) is the outcome of one datagram, which the
  // next send or receive reports once: it readies both sides without sticking, or the socket
  // would make a syscall per operation for the rest of its life. (mio also calls ERR with OUT
  // "write closed", so that says nothing more here.)
  let lasting = s.shape.stream() || !e.error;
  if e.read || e.read_closed || e.error || e.priority {
    if level && s.rd {
      quiet_rd = true;
    } else {
      bits |= Bits::READ;
    }
    s.rd = true;
    s.rd_hup |= lasting && (e.read_closed || e.error);
  }
  if e.write || e.write_closed || e.error {
    if level && s.wr {
      quiet_wr = true;
    } else {
      bits |= Bits::WRITE;
    }
    s.wr = true;
    s.wr_hup |= lasting && (e.write_closed || e.error);
  }
  source.quiet(&s.reg, quiet_rd, quiet_wr);
  bits
}

/// Applies one event and, when its socket is still live, appends `[index, bits]` to `out` as
/// pair `*n`. Returns false, applying nothing, when `out` has no room left.
pub(super) fn report(
  slots: &mut [Slot],
  source: &mut Source,
  token: usize,
  e: EventBits,
  out: &mut [i32],
  n: &mut usize,
) -> bool {
  if 2 * *n + 1 >= out.len() {
    return false;
  }
  let bits = apply(slots, source, token, e);
  if bits != 0 {
    out[2 * *n] = (token & INDEX_MASK as usize) as i32;
    out[2 * *n + 1] = bits;
    *n += 1;
  }
  true
}
