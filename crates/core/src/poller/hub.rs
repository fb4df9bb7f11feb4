//! One OS poller shared by the pollers of several threads, as the seed's `epoll_fd(fd)` shares
//! one epoll fd between OS threads.
//!
//! Each thread keeps its own socket table (its sockets' JavaScript objects live there), so an
//! event must reach the thread that owns its socket and no other. A token carries its owner:
//! `id | owner << OWNER_SHIFT`, each member having a number of its own that is never reused.
//! Whichever member drains the OS poller keeps its own events and routes every other one to its
//! owner's mailbox, waking that owner with the function it joined with; each drain also empties
//! the member's own mailbox first. The kernel reports an edge once, to one waiter, and routing
//! puts it in one mailbox: no event is doubled. An event whose owner has left finds no mailbox
//! and is dropped: its sockets were closed (and so removed from the poller) as it left.
//!
//! The OS poller is behind a mutex (mio's `poll` takes `&mut`), held for one non-blocking wait
//! and the sorting of its events; a member that finds it held waits that long.
//!
//! Hubs are found by their descriptor ([`Hub::find`]), the number `epoll_fd()` gives a thread
//! and another thread passes back to share it. A hub lives while a member does: the thread that
//! made it can leave first.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use mio::{Events, Poll, Registry};

use super::readiness::EventBits;
use crate::sys;

/// Where a token's owner starts: above the 32 bits of a socket's id.
const OWNER_SHIFT: u32 = 32;

/// Wakes a member's thread to drain its mailbox; called from any thread.
pub type WakeFn = Box<dyn Fn() + Send + Sync>;

/// Every hub of the process, by descriptor, to be found by [`Hub::find`].
static HUBS: Mutex<Vec<(i64, Weak<Hub>)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
  // A panic while holding one of these leaves plain data (a queue, a list), still sound.
  m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The OS poller and the buffer its events are read into.
struct Polling {
  poll: Poll,
  events: Events,
}

/// A member's mailbox: events of its sockets that another member drained.
struct Mailbox {
  queue: Mutex<Vec<(usize, EventBits)>>,
  /// Set after an event is queued, cleared by the owner before it takes the queue: while set,
  /// a wake-up is on its way, so another is not sent.
  pending: AtomicBool,
  wake: WakeFn,
}

/// Routing counts, for tests and `stats()`: every event drained is kept by its owner, routed
/// to another's mailbox, or dropped because its owner left.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HubStats {
  /// Events kept by the member that drained them.
  pub kept: u64,
  /// Events put in another member's mailbox.
  pub routed: u64,
  /// Events whose owner had left.
  pub dropped: u64,
}

/// One OS poller and the members that share it.
pub struct Hub {
  polling: Mutex<Polling>,
  fd: Option<i64>,
  /// Members by owner number (ascending: numbers only grow).
  members: Mutex<Vec<(u32, Arc<Mailbox>)>>,
  /// `members.len()`, read without the lock.
  count: AtomicUsize,
  next_owner: AtomicU32,
  /// The counts of [`HubStats`].
  kept: AtomicU64,
  routed: AtomicU64,
  dropped: AtomicU64,
}

impl std::fmt::Debug for Hub {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Hub").field("fd", &self.fd).finish()
  }
}

impl Hub {
  /// Makes a hub over a new OS poller whose drains take at most `capacity` events.
  ///
  /// # Errors
  /// The OS error of `epoll_create1`/`kqueue`, or of duplicating its descriptor.
  pub fn new(capacity: usize) -> io::Result<Arc<Hub>> {
    let poll = Poll::new()?;
    let fd = sys::poll_fd(&poll);
    let hub = Arc::new(Hub {
      polling: Mutex::new(Polling {
        poll,
        events: Events::with_capacity(capacity),
      }),
      fd,
      members: Mutex::new(Vec::new()),
      count: AtomicUsize::new(0),
      next_owner: AtomicU32::new(0),
      kept: AtomicU64::new(0),
      routed: AtomicU64::new(0),
      dropped: AtomicU64::new(0),
    });
    if let Some(fd) = fd {
      let mut all = lock(&HUBS);
      all.retain(|(_, w)| w.strong_count() > 0);
      all.push((fd, Arc::downgrade(&hub)));
    }
    Ok(hub)
  }

  /// The live hub whose OS poller has descriptor `fd`, if this process has one.
  pub fn find(fd: i64) -> Option<Arc<Hub>> {
    lock(&HUBS)
      .iter()
      .filter(|(f, _)| *f == fd)
      .find_map(|(_, w)| w.upgrade())
  }

  /// The OS poller's descriptor (none on Windows).
  pub fn fd(&self) -> Option<i64> {
    self.fd
  }

  /// How many members share it now.
  pub fn members(&self) -> usize {
    self.count.load(Ordering::Relaxed)
  }

  /// The routing counts so far.
  pub fn stats(&self) -> HubStats {
    HubStats {
      kept: self.kept.load(Ordering::Relaxed),
      routed: self.routed.load(Ordering::Relaxed),
      dropped: self.dropped.load(Ordering::Relaxed),
    }
  }

  /// Adds a member woken by `wake` when another member routes it events.
  ///
  /// # Errors
  /// `ENOTSUP` where a token has no room for an owner (32-bit targets); the OS error of
  /// duplicating the poller's descriptor for the member's registrations.
  pub fn join(self: &Arc<Hub>, wake: WakeFn) -> io::Result<Member> {
    if usize::BITS <= OWNER_SHIFT {
      return Err(io::Error::from_raw_os_error(sys::ENOTSUP));
    }
    let registry = lock(&self.polling).poll.registry().try_clone()?;
    let owner = self.next_owner.fetch_add(1, Ordering::Relaxed);
    let mailbox = Arc::new(Mailbox {
      queue: Mutex::new(Vec::new()),
      pending: AtomicBool::new(false),
      wake,
    });
    let mut members = lock(&self.members);
    members.push((owner, mailbox.clone()));
    self.count.store(members.len(), Ordering::Relaxed);
    drop(members);
    Ok(Member {
      hub: self.clone(),
      owner,
      mailbox,
      registry: Some(registry),
      mine: Vec::new(),
      theirs: Vec::new(),
      drained: 0,
      left: false,
    })
  }
}

/// One thread's membership of a hub.
pub struct Member {
  hub: Arc<Hub>,
  owner: u32,
  mailbox: Arc<Mailbox>,
  /// Held while no poller uses it ([`Member::registry`], [`Member::give_back`]).
  registry: Option<Registry>,
  /// This drain's own events, and the others' with their owners (kept to reuse their memory).
  mine: Vec<(usize, EventBits)>,
  theirs: Vec<(u32, usize, EventBits)>,
  /// Events this member took from the OS poller, its own and the others'.
  drained: u64,
  left: bool,
}

impl std::fmt::Debug for Member {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Member")
      .field("hub", &self.hub)
      .field("owner", &self.owner)
      .finish()
  }
}

impl Member {
  /// The hub.
  pub fn hub(&self) -> &Arc<Hub> {
    &self.hub
  }

  /// The bits to put above a socket id in this member's tokens.
  pub(super) fn tag(&self) -> usize {
    // Checked by `join`: a token has room above the id.
    (self.owner as usize) << OWNER_SHIFT
  }

  /// The registry this member registers its sockets through, taken by the poller it joins.
  pub(super) fn registry(&mut self) -> Option<Registry> {
    self.registry.take()
  }

  /// The registry back from a poller that moved to another hub.
  pub(super) fn give_back(&mut self, r: Registry) {
    self.registry = Some(r);
  }

  /// Takes up to `room` events from the mailbox (oldest first) as [`Member::mine`]; the rest
  /// stay, and the owner is woken again for them.
  pub(super) fn take_mail(&mut self, room: usize) {
    self.mine.clear();
    if !self.mailbox.pending.load(Ordering::Acquire) {
      return;
    }
    self.mailbox.pending.store(false, Ordering::Release);
    let mut q = lock(&self.mailbox.queue);
    let n = room.min(q.len());
    self.mine.extend(q.drain(..n));
    if !q.is_empty() && !self.mailbox.pending.swap(true, Ordering::AcqRel) {
      (self.mailbox.wake)();
    }
  }

  /// Waits up to `timeout` for the OS poller's events, keeps this member's in `mine` (taken
  /// with [`Member::mine`]) and routes the others to their owners. EINTR is no events.
  ///
  /// # Errors
  /// The OS error of `epoll_wait`/`kevent`.
  pub(super) fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
    self.mine.clear();
    self.theirs.clear();
    {
      let mut p = lock(&self.hub.polling);
      let Polling { poll, events } = &mut *p;
      match poll.poll(events, timeout) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
        Err(e) => return Err(e),
      }
      for e in events.iter() {
        let token = e.token().0;
        let owner = (token as u64 >> OWNER_SHIFT) as u32;
        if owner == self.owner {
          self.mine.push((token, EventBits::of(e)));
        } else {
          self.theirs.push((owner, token, EventBits::of(e)));
        }
      }
    }
    let mut dropped = 0;
    if !self.theirs.is_empty() {
      // Rung under the members' lock, so a member that leaves is never rung after `leave`
      // returned (its wake function may then be gone); once per batch, while `pending` holds.
      let members = lock(&self.hub.members);
      for &(owner, token, bits) in &self.theirs {
        let Ok(i) = members.binary_search_by_key(&owner, |m| m.0) else {
          dropped += 1;
          continue;
        };
        let m = &members[i].1;
        lock(&m.queue).push((token, bits));
        if !m.pending.swap(true, Ordering::AcqRel) {
          (m.wake)();
        }
      }
    }
    self.drained += (self.mine.len() + self.theirs.len()) as u64;
    for (count, n) in [
      (&self.hub.kept, self.mine.len()),
      (&self.hub.routed, self.theirs.len() - dropped),
      (&self.hub.dropped, dropped),
    ] {
      if n > 0 {
        count.fetch_add(n as u64, Ordering::Relaxed);
      }
    }
    Ok(())
  }

  /// How many events this member took from the OS poller (its own and the others').
  pub fn drained(&self) -> u64 {
    self.drained
  }

  /// This member's events from the last [`Member::poll`] or [`Member::take_mail`].
  pub(super) fn mine(&self) -> &[(usize, EventBits)] {
    &self.mine
  }

  /// Puts [`Member::mine`] from `from` on, which found no room, at the front of the mailbox
  /// for the next drain.
  pub(super) fn put_back(&mut self, from: usize) {
    lock(&self.mailbox.queue).splice(0..0, self.mine.drain(from..));
    if !self.mailbox.pending.swap(true, Ordering::AcqRel) {
      (self.mailbox.wake)();
    }
  }

  /// Stops receiving events and wake-ups: after this returns the wake function is never
  /// called again. Events routed here later are dropped. Idempotent; dropping the member
  /// leaves too.
  pub fn leave(&mut self) {
    if !self.left {
      self.left = true;
      let mut members = lock(&self.hub.members);
      members.retain(|m| m.0 != self.owner);
      self.hub.count.store(members.len(), Ordering::Relaxed);
    }
  }
}

impl Drop for Member {
  fn drop(&mut self) {
    self.leave();
  }
}
