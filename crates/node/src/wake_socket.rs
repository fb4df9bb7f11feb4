//! Wake source with one `uv_poll_t` per socket on the environment's own loop: libuv watches each
//! socket itself (epoll on Linux, kqueue on macOS, AFD polling on Node's IOCP on Windows) and
//! calls back on the loop's thread, so readiness reaches JavaScript with no thread and no
//! threadsafe function. The Windows backend, whose IOCP the loop cannot poll as an fd.
//!
//! libuv's poll handles are level-triggered (on Windows libuv submits a new AFD poll after each
//! report): the core poller arms and disarms each direction as operations wait
//! ([`socket2_core::poller::Watcher`]). The handles' callbacks queue what they see; a check
//! handle, which libuv runs right after the loop's poll phase, dispatches the iteration's events
//! in one call into JavaScript, as the other sources do.
//!
//! A socket's handle is stopped and closed before the socket is: libuv then drops the fd from
//! its poll set and forgets its pending events, so a number the OS hands out again at once gets
//! nothing of the old socket. The memory goes in the close callback, a later loop turn; the
//! environment's cleanup waits for the last handle's.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::rc::Rc;

use mio::Interest;
use napi::bindgen_prelude::*;
use napi::{sys, Env};
use socket2::Socket;
use socket2_core::poller::{EventBits, WatchId, Watcher};
use socket2_core::{Id, Poller};

use crate::env::wake_rounds;
use crate::uv;

/// What the handles of one environment share.
#[derive(Debug)]
pub struct Shared {
  /// Events seen by the socket handles since the last dispatch: `(token, what)`.
  queue: RefCell<VecDeque<(usize, EventBits)>>,
  /// Handles not yet closed: the check handle and every socket's.
  open: Cell<usize>,
  /// The environment's async cleanup hook once it is going away: removed when the last handle
  /// has closed.
  hook: Cell<sys::napi_async_cleanup_hook_handle>,
}

impl Shared {
  /// A handle's close completed.
  fn closed(&self) {
    let left = self.open.get() - 1;
    self.open.set(left);
    let hook = self.hook.get();
    if left == 0 && !hook.is_null() {
      // SAFETY: the env's own hook, set once by `stop`, removed once: nothing is left open.
      unsafe { sys::napi_remove_async_cleanup_hook(hook) };
    }
  }
}

/// A socket's handle and what it watches; the handle's data points here.
struct Watch {
  handle: *mut c_void,
  token: usize,
  /// The `UV_READABLE | UV_WRITABLE` events the handle is started with (0: stopped).
  mask: c_int,
  /// Set by `unwatch`: a late callback is dropped.
  closing: bool,
  shared: Rc<Shared>,
}

/// The check handle's data.
struct Check {
  env: sys::napi_env,
  shared: Rc<Shared>,
}

fn uv_error(what: &str, status: c_int) -> io::Error {
  // libuv's errors are negated errno values on Unix; on Windows they are libuv's own numbers.
  io::Error::new(
    io::Error::from_raw_os_error(-status).kind(),
    format!("{what} failed ({status})"),
  )
}

/// The poller's watcher: starts, arms and closes the socket handles.
#[derive(Debug)]
pub struct UvWatcher {
  lp: *mut c_void,
  shared: Rc<Shared>,
}

impl UvWatcher {
  /// The Watch behind `w`. The poller hands back only ids made by `watch`, and none after
  /// `unwatch` took it; until its close callback frees it the Watch is live, and only this
  /// thread touches it.
  fn of(w: &WatchId) -> *mut Watch {
    w.raw() as *mut Watch
  }

  fn start(w: &mut Watch, mask: c_int) -> io::Result<()> {
    if mask == w.mask {
      return Ok(());
    }
    // SAFETY: the handle is initialised and not closing (the poller holds its id).
    let st = unsafe {
      if mask == 0 {
        uv::uv_poll_stop(w.handle)
      } else {
        uv::uv_poll_start(w.handle, mask, on_poll)
      }
    };
    if st != 0 {
      return Err(uv_error("uv_poll_start", st));
    }
    w.mask = mask;
    Ok(())
  }
}

impl Watcher for UvWatcher {
  fn watch(&mut self, sock: &Socket, id: Id) -> io::Result<WatchId> {
    #[cfg(unix)]
    let raw = std::os::fd::AsRawFd::as_raw_fd(sock);
    #[cfg(windows)]
    let raw = std::os::windows::io::AsRawSocket::as_raw_socket(sock) as uv::OsSock;
    let handle = uv::alloc_handle(uv::UV_POLL);
    // SAFETY: fresh handle memory on this env's loop; the socket outlives the handle (it is
    // closed after `unwatch`).
    let st = unsafe { uv::uv_poll_init_socket(self.lp, handle, raw) };
    if st != 0 {
      uv::free_handle(handle, uv::UV_POLL);
      return Err(uv_error("uv_poll_init_socket", st));
    }
    let w = Box::into_raw(Box::new(Watch {
      handle,
      token: id as usize,
      mask: 0,
      closing: false,
      shared: self.shared.clone(),
    }));
    // SAFETY: the handle is initialised; its data lives until its close callback. Unreferenced:
    // the check handle alone keeps the loop alive, while an operation waits.
    unsafe {
      uv::uv_handle_set_data(handle, w.cast());
      uv::uv_unref(handle);
    }
    self.shared.open.set(self.shared.open.get() + 1);
    Ok(WatchId::new(w as usize))
  }

  fn arm(&mut self, w: &WatchId, interest: Interest) -> io::Result<()> {
    // SAFETY: see `of`.
    let w = unsafe { &mut *Self::of(w) };
    let mut mask = w.mask;
    if interest.is_readable() {
      mask |= uv::UV_READABLE;
    }
    if interest.is_writable() {
      mask |= uv::UV_WRITABLE;
    }
    Self::start(w, mask)
  }

  fn disarm(&mut self, w: &WatchId, read: bool, write: bool) {
    // SAFETY: see `of`.
    let w = unsafe { &mut *Self::of(w) };
    let mut mask = w.mask;
    if read {
      mask &= !uv::UV_READABLE;
    }
    if write {
      mask &= !uv::UV_WRITABLE;
    }
    // Stopping cannot fail, and a narrower start fails only as the first one did: the direction
    // then stays armed and is disarmed at its next report.
    let _ = Self::start(w, mask);
  }

  fn unwatch(&mut self, w: WatchId) {
    // SAFETY: see `of`.
    let w = unsafe { &mut *Self::of(&w) };
    w.closing = true;
    // SAFETY: the handle is live; uv_close stops it at once (no callback of it follows) and
    // calls on_watch_close in a later loop turn, which frees it.
    unsafe { uv::uv_close(w.handle, Some(on_watch_close)) };
  }
}

extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
  // SAFETY: this is the handle's callback: its data is its Watch, live until its close callback.
  let w = unsafe { &mut *uv::uv_handle_get_data(handle).cast::<Watch>() };
  if w.closing {
    return;
  }
  let e = if status < 0 {
    // libuv stops the handle when it reports an error (POLLERR on Unix, a failed AFD poll on
    // Windows): the socket has one pending, sticky for both directions.
    w.mask = 0;
    EventBits {
      error: true,
      ..EventBits::default()
    }
  } else {
    EventBits {
      read: events & uv::UV_READABLE != 0,
      write: events & uv::UV_WRITABLE != 0,
      ..EventBits::default()
    }
  };
  w.shared.queue.borrow_mut().push_back((w.token, e));
}

extern "C" fn on_watch_close(handle: *mut c_void) {
  // SAFETY: libuv is done with the handle (its close callback); its data is the Watch boxed by
  // `watch`, freed once, here.
  let w = unsafe { Box::from_raw(uv::uv_handle_get_data(handle).cast::<Watch>()) };
  uv::free_handle(handle, uv::UV_POLL);
  w.shared.closed();
}

extern "C" fn on_check(handle: *mut c_void) {
  // SAFETY: the handle's callback: its data is its Check until its close callback.
  let c = unsafe { &*uv::uv_handle_get_data(handle).cast::<Check>() };
  let pending = !c.shared.queue.borrow().is_empty();
  if pending {
    wake_rounds(c.env);
  }
}

extern "C" fn on_check_close(handle: *mut c_void) {
  // SAFETY: libuv is done with the handle; its data is the Check boxed by `start`, freed once.
  let c = unsafe { Box::from_raw(uv::uv_handle_get_data(handle).cast::<Check>()) };
  uv::free_handle(handle, uv::UV_CHECK);
  c.shared.closed();
}

/// A poller whose sockets are watched by handles on `env`'s loop, and what the wake source
/// started by [`SocketWake::start`] shares with it.
pub fn poller(env: &Env) -> Result<(Poller, Rc<Shared>)> {
  if !uv::available() {
    return Err(Error::new(
      Status::GenericFailure,
      "this runtime does not export libuv: use the poller thread",
    ));
  }
  let shared = Rc::new(Shared {
    queue: RefCell::new(VecDeque::new()),
    open: Cell::new(0),
    hook: Cell::new(ptr::null_mut()),
  });
  let watcher = UvWatcher {
    lp: env.get_uv_event_loop()?.cast(),
    shared: shared.clone(),
  };
  Ok((Poller::watched(Box::new(watcher)), shared))
}

/// The check handle that dispatches what the socket handles queued.
pub struct SocketWake {
  check: *mut c_void,
  shared: Rc<Shared>,
}

impl SocketWake {
  /// Starts the check handle on `env`'s loop, unreferenced (the loop may exit).
  pub fn start(env: &Env, shared: Rc<Shared>) -> Result<SocketWake> {
    let lp = env.get_uv_event_loop()?;
    let check = uv::alloc_handle(uv::UV_CHECK);
    // SAFETY: fresh handle memory on this env's loop; its data lives until on_check_close.
    unsafe {
      let st = uv::uv_check_init(lp.cast(), check);
      if st != 0 {
        uv::free_handle(check, uv::UV_CHECK);
        return Err(Error::new(
          Status::GenericFailure,
          format!("uv_check_init failed ({st})"),
        ));
      }
      let data = Box::new(Check {
        env: env.raw(),
        shared: shared.clone(),
      });
      uv::uv_handle_set_data(check, Box::into_raw(data).cast());
      // Starting a check handle only queues it: it cannot fail.
      uv::uv_check_start(check, on_check);
      uv::uv_unref(check);
    }
    shared.open.set(shared.open.get() + 1);
    Ok(SocketWake { check, shared })
  }

  /// Refs or unrefs the check handle (whether it keeps the loop alive).
  pub fn set_ref(&self, want: bool) {
    // SAFETY: the handle is live until `stop`, which consumes self.
    unsafe { uv::set_ref(self.check, want) }
  }

  /// Applies up to `out.len() / 2` queued events to the socket table: their number.
  pub fn drain(&self, poller: &mut Poller, out: &mut [i32]) -> usize {
    let mut q = self.shared.queue.borrow_mut();
    let mut n = 0;
    while let Some(&(token, e)) = q.front() {
      if !poller.report(token, e, out, &mut n) {
        break;
      }
      q.pop_front();
    }
    n
  }

  /// Closes the check handle; the env's cleanup `hook` is removed once every handle (this one
  /// and the sockets', which the poller closes when dropped) has closed.
  pub fn stop(self, hook: sys::napi_async_cleanup_hook_handle) {
    self.shared.hook.set(hook);
    // SAFETY: the handle is live; after uv_close libuv owns it until on_check_close runs.
    unsafe { uv::uv_close(self.check, Some(on_check_close)) };
  }
}
