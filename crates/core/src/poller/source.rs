//! Where readiness comes from: the poller's own OS poller (mio: epoll, kqueue, or AFD on IOCP),
//! or a [`Watcher`] outside it that watches each socket on its own, such as libuv's `uv_poll`
//! on the event loop of the program embedding the poller.
//!
//! The two differ in what an event means. mio is edge-triggered: an event says a direction
//! became ready, and a registration stays armed (on Windows mio drops a direction once it has
//! reported it, see [`sys::rearm`]). A watcher is level-triggered, as `poll(2)` is: it reports
//! a direction at every turn of its loop while the direction is ready, so a direction that
//! nobody waits for must not stay armed. A watched direction is armed when an operation finds
//! it not ready and disarmed when it is reported again while already known ready (nobody took
//! the first report): in a steady exchange it stays armed, and no call is made per operation.

use std::io;

use mio::{Interest, Registry, Token};
use socket2::Socket;

use super::slot::Id;
use crate::sys;

/// A watcher's handle of one socket, made by [`Watcher::watch`] and given back, once, to
/// [`Watcher::unwatch`]. Not `Clone`: exactly one exists per watched socket.
#[derive(Debug)]
pub struct WatchId(usize);

impl WatchId {
  /// Wraps the watcher's own value (an index or an address).
  pub fn new(raw: usize) -> WatchId {
    WatchId(raw)
  }

  /// The value given to [`WatchId::new`].
  pub fn raw(&self) -> usize {
    self.0
  }
}

/// Watches sockets one by one, level-triggered, and reports their events to the poller through
/// [`super::Poller::report`], with the socket's id as the token.
pub trait Watcher: std::fmt::Debug {
  /// Starts watching `sock` (no direction armed yet) for the socket `id`.
  ///
  /// # Errors
  /// The OS or event loop error.
  fn watch(&mut self, sock: &Socket, id: Id) -> io::Result<WatchId>;

  /// Adds the directions of `interest` to what `w` watches.
  ///
  /// # Errors
  /// The OS or event loop error.
  fn arm(&mut self, w: &WatchId, interest: Interest) -> io::Result<()>;

  /// Stops watching the read and/or write direction of `w`.
  fn disarm(&mut self, w: &WatchId, read: bool, write: bool);

  /// Stops watching `w` for good. Called before its socket is closed, so no event of the
  /// socket reaches a later socket that gets the same fd.
  fn unwatch(&mut self, w: WatchId);
}

/// The poller's source of events.
#[derive(Debug)]
pub(super) enum Source {
  /// The OS poller, through a clone of its registry, and the bits every token carries above
  /// the socket's id (its owner's, where threads share the OS poller: see [`super::hub`]).
  Os(Registry, usize),
  /// A watcher outside the poller.
  Watcher(Box<dyn Watcher>),
}

/// What a socket holds of its source once it waited for the first time.
#[derive(Debug)]
pub(super) enum Reg {
  Os(sys::Registration),
  Watched(WatchId),
}

impl Source {
  /// Makes sure the next readiness of every direction in `wanted` is reported, registering
  /// `sock` on its first wait.
  pub fn arm(
    &mut self,
    reg: &mut Option<Reg>,
    sock: &Socket,
    id: Id,
    wanted: Interest,
  ) -> io::Result<()> {
    // The token is the whole id, generation included, so a late event of a closed socket is
    // told apart from the socket that reuses its slot.
    match (self, reg.as_mut()) {
      (Source::Os(r, tag), None) => {
        let token = Token(id as usize | *tag);
        *reg = Some(Reg::Os(sys::register(r, sock, token, wanted)?));
        Ok(())
      }
      (Source::Os(r, tag), Some(Reg::Os(g))) => sys::rearm(r, g, Token(id as usize | *tag), wanted),
      (Source::Watcher(w), None) => {
        let g = w.watch(sock, id)?;
        let armed = w.arm(&g, wanted);
        // Kept even when arming failed: it is released with the socket, and the next wait
        // arms again.
        *reg = Some(Reg::Watched(g));
        armed
      }
      (Source::Watcher(w), Some(Reg::Watched(g))) => w.arm(g, wanted),
      _ => unreachable!("a socket's registration comes from its poller's source"),
    }
  }

  /// As [`Source::arm`], for a socket already registered only: one that never waited finds
  /// out for itself at its next syscall.
  pub fn rearm(&mut self, reg: &mut Option<Reg>, sock: &Socket, id: Id, wanted: Interest) {
    if reg.is_some() {
      // A failed re-arm shows at the next wait, which arms again and reports it.
      let _ = self.arm(reg, sock, id, wanted);
    }
  }

  /// A watched direction was reported while already known ready: nobody waits for it, and a
  /// level-triggered watcher would report it at every turn of its loop, so it is disarmed
  /// until an operation finds it not ready again. Nothing to do for the OS poller.
  pub fn quiet(&mut self, reg: &Option<Reg>, read: bool, write: bool) {
    if let (Source::Watcher(w), Some(Reg::Watched(g))) = (self, reg) {
      if read || write {
        w.disarm(g, read, write);
      }
    }
  }

  /// Whether events are level-triggered (see the module doc).
  pub fn level(&self) -> bool {
    matches!(self, Source::Watcher(_))
  }

  /// Gives up a socket's registration; the socket is closed right after when `closing`, else
  /// it stays open for another poller (detached).
  pub fn release(&mut self, reg: Reg, sock: &Socket, closing: bool) {
    match (self, reg) {
      (Source::Os(r, _), Reg::Os(g)) => sys::deregister(r, sock, g, closing),
      (Source::Watcher(w), Reg::Watched(g)) => w.unwatch(g),
      _ => unreachable!("a socket's registration comes from its poller's source"),
    }
  }
}
