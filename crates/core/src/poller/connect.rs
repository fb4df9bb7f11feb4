//! Connecting: starting, finishing after the writability edge, and starting over on a fresh
//! socket for the next address of a lookup.

use socket2::SockAddr;

use super::readiness::wait_for;
use super::slot::{id_of, live, slot_of, Id, Live, Slot, GEN_MASK, INDEX_MASK};
use super::{ebadf, Poller};
use crate::error::{errno_of, WOULD_BLOCK};
use crate::socket;

impl Poller {
  /// Starts a connection: 0 when connected, [`WOULD_BLOCK`] when in progress (wait for
  /// [`super::Bits::WRITE`], then call [`Poller::finish_connect`]), or `-errno`.
  pub fn connect(&mut self, id: Id, addr: &SockAddr) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    // A new attempt (perhaps after a failed one to another address) starts afresh.
    s.rd = true;
    s.rd_hup = false;
    s.wr_hup = false;
    s.conn_failed = false;
    match socket::connect(&s.sock, addr) {
      Ok(true) => 0,
      Ok(false) => {
        s.connecting = true;
        s.conn_err = 0;
        wait_for(source, id, s, false)
      }
      Err(e) => {
        s.conn_failed = true;
        -errno_of(&e)
      }
    }
  }

  /// Replaces the socket behind `id` with a fresh one made as the old one was, in the same
  /// slot under a new generation: returns the new id, or `-errno`. A failed connect leaves a
  /// socket that cannot connect again (Linux answers ECONNABORTED, BSDs EINVAL), so the next
  /// address of a lookup needs a new one; the new generation keeps the old socket's late
  /// events away from it. Options and bindings are not carried over: the caller re-applies
  /// them.
  pub fn reopen(&mut self, id: Id) -> i32 {
    let source = &mut self.source;
    let Some(Slot {
      gen,
      live: Some(old),
    }) = slot_of(&mut self.slots, id)
    else {
      return ebadf();
    };
    let o = old.origin;
    match socket::open(o.kind, o.family, o.protocol) {
      Ok(sock) => {
        let gone = std::mem::replace(old, Live::new(sock, o));
        drop(gone.release(source, &mut self.spare, true));
        *gen = (*gen + 1) & GEN_MASK;
        id_of(id & INDEX_MASK, *gen) as i32
      }
      Err(e) => -errno_of(&e),
    }
  }

  /// Completes a connection once writable: 0, the connection's error, or [`WOULD_BLOCK`]
  /// when the wake-up was spurious and the handshake still runs.
  pub fn finish_connect(&mut self, id: Id) -> i32 {
    let source = &mut self.source;
    let Some(s) = live(&mut self.slots, id) else {
      return ebadf();
    };
    let r = match socket::finish_connect(&s.sock) {
      Err(e) => -errno_of(&e),
      Ok(()) => match s.sock.peer_addr() {
        Ok(_) => {
          // Connected: the write side is usable whether or not its edge was seen yet.
          s.wr = true;
          0
        }
        Err(_) if s.conn_err != 0 => -s.conn_err,
        Err(_) if !s.wr_hup => wait_for(source, id, s, false),
        Err(e) => -errno_of(&e),
      },
    };
    if r != WOULD_BLOCK {
      s.connecting = false;
      s.conn_err = 0;
      s.conn_failed = r < 0;
    }
    r
  }
}
