//! Per-environment state (one per JavaScript thread: the main thread and each Worker) and the
//! glue that brings the poller's events into JavaScript.
//!
//! The mio poller's fd (epoll/kqueue) is watched by one `uv_poll_t` on the environment's own
//! libuv loop. When it becomes readable the callback drains the poller with a zero timeout,
//! writes `[index, bits]` pairs into a JavaScript-owned `Int32Array`, and makes one call into
//! JavaScript, `dispatch(count)`, through `napi_make_callback`, so that promise continuations
//! run as soon as it returns. It then drains again, a bounded number of rounds, so a burst of
//! I/O that the continuations caused is handled without another trip through libuv.
//!
//! Where the loop cannot poll that fd (Windows, whose IOCP has no fd), the loop polls each
//! socket with a `uv_poll_t` of its own instead (see `wake_socket`). Where there is no libuv
//! (Bun and Deno), a poller thread waits and wakes the loop through a threadsafe function (see
//! `wake_thread`). Either way, what runs in JavaScript is the same.
//!
//! The wake source keeps the loop alive only while JavaScript has an operation waiting:
//! JavaScript counts its waiters in a shared control array, refs the source when the count leaves
//! 0 outside a dispatch, and this side settles the ref after every dispatch.

use std::cell::RefCell;
use std::ptr;
use std::time::{Duration, Instant};

use napi::bindgen_prelude::*;
use napi::{sys, Env, JsValue, Unknown};
use napi_derive::napi;
#[cfg(unix)]
use socket2_core::poller::hub::Hub;
use socket2_core::{error as errno, Poller};

#[cfg(unix)]
use crate::wake_mail::Bell;
use crate::wake_socket::SocketWake;
use crate::wake_thread::ThreadWake;
#[cfg(unix)]
use crate::wake_uv::{poller_fd as fd_of, UvWake};

/// Control array slots shared with JavaScript.
const WAITERS: usize = 0;
const REFED: usize = 1;
const IN_DISPATCH: usize = 2;
const RESUME: usize = 3;
const CONTROL_LEN: usize = 4;

/// Events taken from the OS poller per drain.
const EVENT_CAPACITY: usize = 1024;

/// How long one libuv wake-up keeps draining again, natively and through JavaScript's
/// `redrain`. Under a steady exchange each re-drain finds the next event already there, and
/// every one that does saves a trip through the loop (its epoll_pwait, timer and check
/// phases). It is a time, not a count, so timers and other handles on the loop wait at most
/// this plus the round in progress, however many rounds fit in it.
const REDRAIN_TIME: Duration = Duration::from_millis(1);

/// The per-environment state.
pub struct Reactor {
  pub poller: Poller,
  /// The OS poller's descriptor, read before a poller thread takes the poller (`pollerFd`).
  poller_fd: Option<i64>,
  env: sys::napi_env,
  dispatch: sys::napi_ref,
  refs: [sys::napi_ref; 3],
  async_ctx: sys::napi_async_context,
  /// `Int32Array` memory of the events array (`len` elements), kept alive by `refs`.
  events: *mut i32,
  events_len: usize,
  /// `Int32Array` memory of the control array, kept alive by `refs`.
  control: *mut i32,
  wake: Wake,
  refed: bool,
  /// The OS poller's own failure (an errno) once it stopped working, and whether JavaScript
  /// was told: every waiting operation then rejects with it instead of waiting forever.
  failed: i32,
  failure_told: bool,
  /// When the running wake-up stops draining again (see `REDRAIN_TIME`); `None` between
  /// wake-ups.
  redrain_until: Option<Instant>,
  /// The peer of the last accepted connection (read by `acceptedPeer`), or the sender of the
  /// last datagram received (read by `lastFrom`).
  pub last_peer: Option<socket2::SockAddr>,
  /// What the last `recvMany` received (read by `receivedFrom`), kept to be reused.
  pub received: Vec<(usize, socket2::SockAddr, bool)>,
  /// Whether the runtime is Node (or Electron), which runs cleanup hooks inside a handle
  /// scope; see `teardown`.
  node: bool,
}

/// Where events come from.
enum Wake {
  /// The loop polls the poller's fd; the bell rings for events another thread sharing the OS
  /// poller drained for this one.
  #[cfg(unix)]
  Uv(UvWake, Bell),
  /// The loop polls each socket.
  Socket(SocketWake),
  /// A thread polls and wakes the loop.
  Thread(ThreadWake),
}

/// Where a module instance keeps its reactor: its Node-API instance data. Each load of the addon
/// gets an instance of its own (a test runner's fresh module registry loads it again in the same
/// thread), and each has its own reactor.
type Slot = RefCell<Option<Reactor>>;

/// The reactor slot of `env`'s module instance, made on first use; freed with the instance.
fn slot<'a>(env: sys::napi_env) -> Option<&'a Slot> {
  let mut data = ptr::null_mut();
  // SAFETY: `env` is the calling instance's own; the data, when set, is the Slot boxed below,
  // which lives until the instance's finalizer.
  unsafe {
    if sys::napi_get_instance_data(env, &mut data) != sys::Status::napi_ok {
      return None;
    }
    data.cast::<Slot>().as_ref()
  }
}

extern "C" fn free_slot(
  _env: sys::napi_env,
  data: *mut std::ffi::c_void,
  _hint: *mut std::ffi::c_void,
) {
  // SAFETY: `data` is the Slot boxed in `new_slot`, freed once, by this finalizer.
  drop(unsafe { Box::from_raw(data.cast::<Slot>()) });
}

fn new_slot<'a>(env: sys::napi_env) -> Result<&'a Slot> {
  if let Some(s) = slot(env) {
    return Ok(s);
  }
  let data = Box::into_raw(Box::new(Slot::new(None)));
  // SAFETY: the box is handed to the instance, which frees it through `free_slot`.
  check(
    unsafe { sys::napi_set_instance_data(env, data.cast(), Some(free_slot), ptr::null_mut()) },
    "napi_set_instance_data",
  )?;
  // SAFETY: just set; it lives until the instance's finalizer.
  Ok(unsafe { &*data })
}

/// Runs `f` on the reactor of `env`'s module instance; `None` before `init` or after teardown.
pub fn with<R>(env: sys::napi_env, f: impl FnOnce(&mut Reactor) -> R) -> Option<R> {
  slot(env)?.borrow_mut().as_mut().map(f)
}

fn check(status: sys::napi_status, what: &str) -> Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(Error::new(Status::from(status), format!("{what} failed")))
  }
}

/// The data pointer and element count of an `Int32Array`.
fn int32_array(env: sys::napi_env, v: sys::napi_value, name: &str) -> Result<(*mut i32, usize)> {
  let mut kind = 0;
  let mut len = 0;
  let mut data = ptr::null_mut();
  let mut buf = ptr::null_mut();
  let mut off = 0;
  // SAFETY: napi validates `v`; every out pointer is a live local.
  let st = unsafe {
    sys::napi_get_typedarray_info(env, v, &mut kind, &mut len, &mut data, &mut buf, &mut off)
  };
  if st != sys::Status::napi_ok || kind != sys::TypedarrayType::int32_array {
    return Err(Error::new(
      Status::InvalidArg,
      format!("{name} must be an Int32Array"),
    ));
  }
  Ok((data.cast(), len))
}

fn reference(env: sys::napi_env, v: sys::napi_value) -> Result<sys::napi_ref> {
  let mut r = ptr::null_mut();
  // SAFETY: `v` is a live value of this env; the reference is deleted at teardown.
  check(
    unsafe { sys::napi_create_reference(env, v, 1, &mut r) },
    "napi_create_reference",
  )?;
  Ok(r)
}

/// Sets up this environment's poller and hooks it to the loop. `dispatch(count)` is called
/// with the number of `[index, bits]` pairs written to `events`; `control` is the shared
/// `[waiters, refed, inDispatch, resume]` array; `mode` is `'uv'` (the loop polls the poller's fd;
/// Unix), `'uvpoll'` (the loop polls each socket) or `'thread'` (a poller thread wakes the
/// loop). Returns the would-block sentinel.
#[napi]
pub fn init(
  env: Env,
  dispatch: Unknown,
  events: Unknown,
  control: Unknown,
  mode: String,
) -> Result<i32> {
  let raw = env.raw();
  let slot = new_slot(raw)?;
  if slot.borrow().is_some() {
    return Err(Error::new(
      Status::GenericFailure,
      "socket2 is already initialised in this module instance",
    ));
  }
  if dispatch.get_type()? != ValueType::Function {
    return Err(Error::new(
      Status::InvalidArg,
      "dispatch must be a function",
    ));
  }
  let (ev, ev_len) = int32_array(raw, events.value().value, "events")?;
  let (ctl, ctl_len) = int32_array(raw, control.value().value, "control")?;
  if ev_len < 2 || ctl_len < CONTROL_LEN {
    return Err(Error::new(Status::InvalidArg, "arrays are too short"));
  }
  let capacity = EVENT_CAPACITY.min(ev_len / 2);
  let poller_error = |e: std::io::Error| Error::new(Status::GenericFailure, format!("poller: {e}"));
  #[cfg(unix)]
  let mut bell = None;
  let (mut poller, watched) = match mode.as_str() {
    "uvpoll" => {
      let (p, shared) = crate::wake_socket::poller(&env)?;
      (p, Some(shared))
    }
    // A poller of a hub of its own, which other threads may join (`share`).
    #[cfg(unix)]
    "uv" => {
      let b = Bell::start(&env)?;
      let p = Hub::new(capacity).and_then(|hub| Poller::shared(&hub, b.rope()));
      match p {
        Ok(p) => {
          bell = Some(b);
          (p, None)
        }
        Err(e) => {
          b.stop();
          return Err(poller_error(e));
        }
      }
    }
    _ => (Poller::new(capacity).map_err(poller_error)?, None),
  };

  let mut resource = ptr::null_mut();
  let mut name = ptr::null_mut();
  let mut async_ctx = ptr::null_mut();
  // SAFETY: plain napi calls on this env with live out pointers.
  unsafe {
    check(
      sys::napi_create_object(raw, &mut resource),
      "napi_create_object",
    )?;
    check(
      sys::napi_create_string_utf8(raw, c"socket2".as_ptr(), 7, &mut name),
      "napi_create_string_utf8",
    )?;
    check(
      sys::napi_async_init(raw, resource, name, &mut async_ctx),
      "napi_async_init",
    )?;
  }
  let refs = [
    reference(raw, resource)?,
    reference(raw, events.value().value)?,
    reference(raw, control.value().value)?,
  ];
  let dispatch = reference(raw, dispatch.value().value)?;

  let poller_fd = poller.fd();
  // Last, so that nothing fallible follows a started wake source (it would keep polling an fd
  // whose poller is dropped on the error path).
  let wake = match (mode.as_str(), watched) {
    #[cfg(unix)]
    ("uv", _) => match bell.take() {
      Some(b) => match fd_of(&poller).and_then(|fd| UvWake::start(&env, fd)) {
        Ok(w) => Ok(Wake::Uv(w, b)),
        Err(e) => {
          // Out of the hub before the bell goes: nothing rings it after.
          poller.leave();
          b.stop();
          Err(e)
        }
      },
      None => Err(Error::new(Status::GenericFailure, "no bell")),
    },
    ("uvpoll", Some(shared)) => SocketWake::start(&env, shared).map(Wake::Socket),
    ("thread", _) => ThreadWake::start(raw, &mut poller).map(Wake::Thread),
    _ => Err(Error::new(
      Status::InvalidArg,
      "mode must be 'uv' (not on Windows), 'uvpoll' or 'thread'",
    )),
  };
  let wake = match wake {
    Ok(w) => w,
    Err(e) => {
      // SAFETY: the context and references were made above on this env, released once here.
      unsafe {
        sys::napi_async_destroy(raw, async_ctx);
        for x in refs.into_iter().chain([dispatch]) {
          sys::napi_delete_reference(raw, x);
        }
      }
      return Err(e);
    }
  };
  // SAFETY: `ctl` points into the live control array checked above.
  unsafe { *ctl.add(REFED) = 0 };
  let failed = match &wake {
    #[cfg(unix)]
    Wake::Uv(w, _) => w.failed,
    Wake::Socket(_) | Wake::Thread(_) => 0,
  };

  let thread = matches!(wake, Wake::Thread(_));
  *slot.borrow_mut() = Some(Reactor {
    poller,
    poller_fd,
    env: raw,
    dispatch,
    refs,
    async_ctx,
    events: ev,
    events_len: ev_len,
    control: ctl,
    wake,
    refed: false,
    failed,
    failure_told: false,
    redrain_until: None,
    last_peer: None,
    received: Vec::new(),
    node: is_node(raw),
  });
  if thread {
    // A thread is stopped by joining it, at once: the plain kind, which is also the one Deno's
    // Node-API gets right (its async kind frees the hook's handle twice once it is removed).
    // SAFETY: `on_exit` gets this env back as its argument, once, while the env still exists.
    check(
      unsafe { sys::napi_add_env_cleanup_hook(raw, Some(on_exit), raw.cast()) },
      "napi_add_env_cleanup_hook",
    )?;
  } else {
    // The async kind: closing a uv handle completes in a later loop turn, which Node waits for.
    let mut hook = ptr::null_mut();
    // SAFETY: `on_cleanup` gets this env back as its argument, once, while the env still exists.
    check(
      unsafe { sys::napi_add_async_cleanup_hook(raw, Some(on_cleanup), raw.cast(), &mut hook) },
      "napi_add_async_cleanup_hook",
    )?;
  }
  Ok(socket2_core::WOULD_BLOCK)
}

/// Whether the runtime is Node itself (Electron too) rather than another runtime implementing
/// Node-API (Bun, Deno): the release name `napi_get_node_version` gives.
fn is_node(env: sys::napi_env) -> bool {
  let mut v = ptr::null();
  // SAFETY: a plain napi call with a live out pointer; the version it points to is static and
  // its `release` a NUL-terminated string.
  unsafe {
    sys::napi_get_node_version(env, &mut v) == sys::Status::napi_ok
      && !v.is_null()
      && std::ffi::CStr::from_ptr((*v).release) == c"node"
  }
}

impl Reactor {
  fn control(&self, i: usize) -> i32 {
    // SAFETY: `control` points into a live Int32Array of at least CONTROL_LEN elements (held
    // by `refs`, never detached: it is private to the JavaScript module).
    unsafe { *self.control.add(i) }
  }

  fn set_control(&mut self, i: usize, v: i32) {
    // SAFETY: as in `control`.
    unsafe { *self.control.add(i) = v }
  }

  /// Keeps the loop alive exactly while `want` holds.
  pub fn set_ref(&mut self, want: bool) {
    if want != self.refed {
      match &self.wake {
        #[cfg(unix)]
        Wake::Uv(w, _) => w.set_ref(want),
        Wake::Socket(w) => w.set_ref(want),
        Wake::Thread(w) => w.set_ref(self.env, want),
      }
      self.refed = want;
      self.set_control(REFED, want as i32);
    }
    // Settled at every wake-up's end too, so a thread that never waits stops being woken for
    // the others' events once it shares. A failed poller stays paused.
    #[cfg(unix)]
    if let Wake::Uv(w, _) = &self.wake {
      if self.failed == 0 {
        w.idle(!want && self.poller.hub().is_some_and(|h| h.members() > 1));
      }
    }
  }

  /// Drains the poller without waiting into the events array; the number of pairs. A failure
  /// of the OS poller is kept in `failed`.
  fn drain(&mut self) -> usize {
    // SAFETY: `events` points into a live Int32Array of `events_len` elements (as `control`),
    // and no JavaScript runs while this slice exists.
    let out = unsafe { std::slice::from_raw_parts_mut(self.events, self.events_len) };
    let r = match &self.wake {
      #[cfg(unix)]
      Wake::Uv(w, _) => w.drain(&mut self.poller, out),
      Wake::Socket(w) => Ok(w.drain(&mut self.poller, out)),
      Wake::Thread(w) => w.drain(&mut self.poller, out),
    };
    r.unwrap_or_else(|errno| {
      self.fail(errno);
      0
    })
  }

  /// Records that the OS poller failed with `errno` (the first failure counts).
  pub fn fail(&mut self, errno: i32) {
    if self.failed == 0 {
      self.failed = errno.max(1);
    }
  }

  /// The failure to tell JavaScript, once: stops the wake source and returns the errno.
  fn failure_to_tell(&mut self) -> Option<i32> {
    if self.failed == 0 || self.failure_told {
      return None;
    }
    self.failure_told = true;
    #[cfg(unix)]
    if let Wake::Uv(w, _) = &self.wake {
      w.pause();
    }
    Some(self.failed)
  }

  /// What a dispatch call needs.
  fn call(&self) -> Call {
    Call {
      env: self.env,
      dispatch: self.dispatch,
      async_ctx: self.async_ctx,
      control: self.control,
    }
  }

  /// When a wake-up stops draining: asks for another if events may be left. The uv handles
  /// stay armed (libuv polls at every loop iteration). A poller thread's wake-up is asked of
  /// JavaScript (`resume`), which makes it from an immediate, so the loop goes on in between:
  /// a threadsafe function's call made now would run at once (Node empties its queue in one go).
  fn rearm(&mut self) {
    if matches!(&self.wake, Wake::Thread(w) if w.awake()) {
      self.set_control(RESUME, 1);
    }
  }
}

/// What a dispatch call needs, copied out so no borrow is held while JavaScript runs.
struct Call {
  env: sys::napi_env,
  dispatch: sys::napi_ref,
  async_ctx: sys::napi_async_context,
  control: *mut i32,
}

/// One wake-up of the loop: drain and dispatch until a drain finds nothing or `REDRAIN_TIME`
/// has passed; then settle the ref from the waiter count the continuations left. Inside a
/// dispatch, JavaScript drains again itself (`redrain`) while the continuations run, within
/// the same time.
pub fn wake_rounds(env: sys::napi_env) {
  let until = Instant::now() + REDRAIN_TIME;
  with(env, |r| r.redrain_until = Some(until));
  // The socket handles' queue holds one loop iteration's events and does not grow while they
  // are dispatched (libuv calls back only when it polls): it is emptied whatever the time.
  let bounded = with(env, |r| !matches!(r.wake, Wake::Socket(_))).unwrap_or(true);
  loop {
    let step = with(env, |r| (r.drain(), r.call()));
    match step {
      Some((n, call)) if n > 0 => call_dispatch(&call, n as i32),
      _ => break,
    }
    if bounded && Instant::now() >= until {
      break;
    }
  }
  // A failed poller is reported after the events it did deliver: dispatch(-errno).
  if let Some((errno, call)) = with(env, |r| r.failure_to_tell().map(|e| (e, r.call()))).flatten() {
    call_dispatch(&call, -errno);
  }
  with(env, |r| {
    // Under a poller thread this runs inside the threadsafe function's callback scope: the
    // dispatches' microtasks, and their redrains, run once it returns, in the same time.
    if !matches!(r.wake, Wake::Thread(_)) {
      r.redrain_until = None;
    }
    r.rearm();
    let waiting = r.control(WAITERS) > 0;
    r.set_ref(waiting)
  });
}

/// Drains the poller again from a microtask of a dispatch, after the continuations queued
/// before it ran: what their sends made ready is then dispatched in the same callback scope,
/// without a trip back through `napi_make_callback` (which costs as much as the rest of a
/// small dispatch). Returns the count of event pairs written to `events`; 0 when there are
/// none, when the wake-up's `REDRAIN_TIME` is up, or outside a wake-up; `-errno`, once, when
/// the OS poller failed. Exported by `hot`.
pub fn redrain(env: sys::napi_env) -> i32 {
  with(env, |r| match r.redrain_until {
    Some(t) if Instant::now() < t => drain_once(r),
    Some(_) => {
      // The time is up: what is left waits for the next wake-up.
      r.redrain_until = None;
      r.rearm();
      0
    }
    None => 0,
  })
  .unwrap_or(0)
}

/// Makes this thread's poller share the OS poller whose descriptor is `fd` (another thread's,
/// from `pollerFd`): 0, or `-errno`: EINVAL when `fd` is no poller of this process, EBUSY while
/// a socket of this thread is open, ENOTSUP where the loop does not poll an OS poller (the
/// `uvpoll` and `thread` modes). Its own OS poller closes when no other thread shares it.
#[napi]
pub fn share(env: Env, fd: i64) -> i32 {
  #[cfg(unix)]
  let r = with(env.raw(), |r| r.share(&env, fd));
  #[cfg(not(unix))]
  let r = {
    let _ = (env, fd);
    None
  };
  r.unwrap_or(-errno::ENOTSUP)
}

#[cfg(unix)]
impl Reactor {
  fn share(&mut self, env: &Env, fd: i64) -> i32 {
    let Wake::Uv(w, bell) = &mut self.wake else {
      return -errno::ENOTSUP;
    };
    if self.poller_fd == Some(fd) {
      return 0;
    }
    let Some(hub) = Hub::find(fd) else {
      return -errno::EINVAL;
    };
    // `rehome` refuses a poller with sockets open (EBUSY), giving the member back.
    let member = match hub.join(bell.rope()) {
      Ok(m) => m,
      Err(e) => return -socket2_core::errno_of(&e),
    };
    // Watch the new descriptor before the old one can close with its hub.
    let fresh = match UvWake::try_start(env, fd as std::os::raw::c_int) {
      Ok(f) => f,
      Err(e) => return -e,
    };
    match self.poller.rehome(member) {
      Ok(old) => {
        fresh.set_ref(self.refed);
        let failed = fresh.failed;
        // The old descriptor leaves the loop here, before it can close with `old`.
        std::mem::replace(w, fresh).stop(ptr::null_mut());
        drop(old);
        self.poller_fd = Some(fd);
        if failed != 0 {
          self.fail(failed);
        }
        0
      }
      Err((errno, member)) => {
        drop(member);
        fresh.stop(ptr::null_mut());
        errno
      }
    }
  }
}

/// The threads sharing this thread's OS poller, its routing counts (see `HubStats`) and the
/// events this thread drained from it: `[threads, kept, routed, dropped, drained]`, or `None`
/// where the poller is no hub's (`uvpoll`, `thread`). Exported by `hot`: `stats()` reads it.
pub fn hub_stats(env: sys::napi_env) -> Option<[u64; 5]> {
  with(env, |r| {
    r.poller.hub().map(|h| {
      let s = h.stats();
      [
        h.members() as u64,
        s.kept,
        s.routed,
        s.dropped,
        r.poller.drained(),
      ]
    })
  })
  .flatten()
}

/// How many `sendmmsg`/`recvmmsg` calls this thread's poller made that moved datagrams (see
/// `Poller::batches`); 0 before init. `stats()` reads it.
#[napi]
pub fn batches(env: Env) -> f64 {
  with(env.raw(), |r| r.poller.batches() as f64).unwrap_or(0.0)
}

/// Makes a wake-up as the poller thread's ring does; JavaScript calls it from an immediate when
/// a wake-up's time ran out with events maybe left (see `Reactor::rearm`).
#[napi]
pub fn resume(env: Env) {
  wake_rounds(env.raw());
}

/// This thread's OS poller descriptor (epoll/kqueue fd), or -1 where it has none (see
/// `Poller::fd`) or before init.
#[napi(js_name = "pollerFd")]
pub fn poller_fd(env: Env) -> i64 {
  with(env.raw(), |r| r.poller_fd).flatten().unwrap_or(-1)
}

/// Drains the poller now, for a deadline about to fire: libuv runs timers before it polls, so
/// when the loop was busy, readiness that came before the deadline is still undispatched, and
/// its operation would time out with its data unread. As `redrain`, without the time bound.
#[napi(js_name = "drainNow")]
pub fn drain_now(env: Env) -> i32 {
  with(env.raw(), drain_once).unwrap_or(0)
}

/// One drain into `events`: the count of event pairs, 0 for none, or `-errno`, once, when the
/// OS poller failed.
fn drain_once(r: &mut Reactor) -> i32 {
  match r.drain() {
    0 => r.failure_to_tell().map_or(0, |e| -e),
    n => n as i32,
  }
}

/// Calls `dispatch(n)`: `n` event pairs, or `-errno` when the OS poller failed.
fn call_dispatch(c: &Call, n: i32) {
  // SAFETY: we are on the env's thread (a uv callback of its loop) with no JavaScript on the
  // stack; every handle lives in the scope opened here; `control` is as in Reactor::control.
  unsafe {
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(c.env, &mut scope) != sys::Status::napi_ok {
      return;
    }
    *c.control.add(IN_DISPATCH) = 1;
    let mut f = ptr::null_mut();
    let mut recv = ptr::null_mut();
    let mut arg = ptr::null_mut();
    let mut result = ptr::null_mut();
    sys::napi_get_reference_value(c.env, c.dispatch, &mut f);
    // make_callback converts its receiver to an object: undefined would throw.
    sys::napi_get_global(c.env, &mut recv);
    sys::napi_create_int32(c.env, n, &mut arg);
    // make_callback, not call_function: closing its callback scope runs the microtasks and
    // nextTicks the dispatch queued, so awaiting threads resume before we return to libuv.
    let st = sys::napi_make_callback(c.env, c.async_ctx, recv, f, 1, &arg, &mut result);
    *c.control.add(IN_DISPATCH) = 0;
    if st == sys::Status::napi_pending_exception {
      let mut exc = ptr::null_mut();
      sys::napi_get_and_clear_last_exception(c.env, &mut exc);
      sys::napi_fatal_exception(c.env, exc);
    }
    sys::napi_close_handle_scope(c.env, scope);
  }
}

/// The env is going away (uv and uvpoll modes): see `teardown`. The hook is removed once the
/// uv handles are closed (a later loop turn).
unsafe extern "C" fn on_cleanup(
  hook: sys::napi_async_cleanup_hook_handle,
  env: *mut std::ffi::c_void,
) {
  if !teardown(env.cast(), hook) {
    // SAFETY: the hook's own handle, removed once.
    unsafe { sys::napi_remove_async_cleanup_hook(hook) };
  }
}

/// The env is going away (thread mode): see `teardown`.
unsafe extern "C" fn on_exit(env: *mut std::ffi::c_void) {
  teardown(env.cast(), ptr::null_mut());
}

/// Stops the wake source, releases what the reactor holds in the env and drops the poller;
/// false when there was no reactor. The uv handles' close callbacks remove `hook` (null in
/// thread mode, whose hook is the plain kind).
fn teardown(env: sys::napi_env, hook: sys::napi_async_cleanup_hook_handle) -> bool {
  let Some(mut r) = slot(env).and_then(|s| s.borrow_mut().take()) else {
    return false;
  };
  // Out of its hub (if it shares one) first: no other thread rings the bell once it is closed.
  r.poller.leave();
  match r.wake {
    #[cfg(unix)]
    Wake::Uv(w, bell) => {
      bell.stop();
      w.stop(hook);
    }
    Wake::Socket(w) => w.stop(hook),
    Wake::Thread(w) => w.stop(),
  }
  // Other runtimes free an env's references with it, and Deno runs cleanup hooks with no
  // handle scope open: a Node-API call that makes a handle there aborts the process.
  if r.node {
    // SAFETY: the env is being torn down on its own thread; the references and async context
    // belong to this env and are released once.
    unsafe {
      sys::napi_async_destroy(r.env, r.async_ctx);
      sys::napi_delete_reference(r.env, r.dispatch);
      for x in r.refs {
        sys::napi_delete_reference(r.env, x);
      }
    }
  }
  // Dropping the poller closes every socket (each socket handle first) and then the
  // epoll/kqueue fd, after the wake source stopped watching it.
  drop(r.poller);
  true
}

/// Asks the OS whether the socket at table `index` is ready for reading (`read`) or writing
/// now, and applies the answer: the readiness bits to dispatch (0: not ready). For a deadline
/// about to fire when each socket has its own uv handle: libuv runs timers before it polls, so
/// readiness that came before the deadline is not yet known (`drainNow` finds nothing queued).
#[napi(js_name = "readyNow")]
pub fn ready_now(env: Env, index: u32, read: bool) -> i32 {
  with(env.raw(), |r| r.poller.ready_now(index, read)).unwrap_or(0)
}

/// Keeps the event loop alive (an operation started waiting outside a dispatch).
#[napi(js_name = "refLoop")]
pub fn ref_loop(env: Env) {
  with(env.raw(), |r| r.set_ref(true));
}

/// Lets the event loop exit (no operation waits any more, outside a dispatch).
#[napi(js_name = "unrefLoop")]
pub fn unref_loop(env: Env) {
  with(env.raw(), |r| r.set_ref(false));
}
