//! Wake source where the loop cannot poll the poller (Bun and Deno, which lack `uv_poll`): a
//! thread waits for events and wakes ("rings") the JavaScript thread through a threadsafe
//! function. Readiness is applied on the JavaScript thread, so the socket table is never shared.
//!
//! On Unix the thread waits on the poller's epoll/kqueue fd, nested in a poll of its own, and
//! only rings: the JavaScript thread drains the poller itself, as under `uv`, so it drains again
//! from a dispatch's microtasks (`redrain`) and takes what its own sends made ready with no thread
//! in between. On Windows (an IOCP cannot be nested) the thread takes the events and queues them.
//!
//! A ring costs the thread's wake-up, the threadsafe function's queue and a loop iteration, so
//! none is made while the JavaScript thread is known to drain again (`awake`): a ring sets it, and
//! it stays set while the JavaScript thread's drains find events. A drain that finds none clears
//! it and then drains once more: what the thread saw while it was set is taken by that drain, what
//! comes after it rings. Nothing is lost, and every event is taken by one drain only. On Unix the
//! thread also stops watching while it is set, after the first event it sees then, so a busy
//! exchange does not wake it for every event; the drain that clears it wakes the thread.

#[cfg(windows)]
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
#[cfg(unix)]
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::sys;
#[cfg(windows)]
use socket2_core::poller::EventBits;
use socket2_core::Poller;

use crate::env::wake_rounds;

const WAKER: mio::Token = mio::Token(usize::MAX);

/// The threadsafe function handle; napi allows calling it from any thread.
#[derive(Clone, Copy)]
struct Tsfn(sys::napi_threadsafe_function);
// SAFETY: napi_call_threadsafe_function is documented as callable from any thread; the handle is
// released only once the poller thread can no longer call it (see `Shared::wake`).
unsafe impl Send for Tsfn {}

struct Shared {
  stop: AtomicBool,
  /// The errno the OS poller failed with, once the thread gave up (0: polling).
  failed: AtomicI32,
  /// The thread's way to wake the loop; `stop` takes it, so a thread it could not join never
  /// calls the function after its env is gone.
  wake: Mutex<Option<Tsfn>>,
  /// Whether the JavaScript thread will drain again without a ring (see the module's comment).
  awake: AtomicBool,
  /// The events the thread took, for the JavaScript thread.
  #[cfg(windows)]
  queue: Mutex<VecDeque<(usize, EventBits)>>,
}

impl Shared {
  /// Wakes the JavaScript thread, unless it drains again anyway.
  fn ring(&self) {
    if !self.awake.swap(true, Ordering::SeqCst) {
      if let Some(f) = *self.wake.lock().unwrap_or_else(|p| p.into_inner()) {
        f.signal();
      }
    }
  }
}

/// The poller thread and its way back into JavaScript.
pub struct ThreadWake {
  tsfn: Tsfn,
  shared: Arc<Shared>,
  waker: mio::Waker,
  thread: Option<JoinHandle<()>>,
}

impl Tsfn {
  fn signal(self) {
    // SAFETY: see `unsafe impl Send`. A full or closing queue only loses a redundant wake-up.
    unsafe {
      sys::napi_call_threadsafe_function(
        self.0,
        ptr::null_mut(),
        sys::ThreadsafeFunctionCallMode::nonblocking,
      );
    }
  }
}

unsafe extern "C" fn on_wake(
  env: sys::napi_env,
  _js: sys::napi_value,
  _ctx: *mut std::ffi::c_void,
  _data: *mut std::ffi::c_void,
) {
  // A null env means the environment is going away: nothing to deliver.
  if !env.is_null() {
    wake_rounds(env);
  }
}

fn failure(e: std::io::Error) -> Error {
  Error::new(Status::GenericFailure, format!("poller thread: {e}"))
}

/// What the thread waits on, and how it passes on what it sees.
#[cfg(unix)]
struct Watch {
  poll: mio::Poll,
  /// The poller's epoll/kqueue fd.
  fd: i32,
}

#[cfg(unix)]
impl Watch {
  const POLLER: mio::Token = mio::Token(0);

  /// A poll of its own that reports each new event of `poller`'s fd; `poller` keeps its own.
  fn new(poller: &mut Poller) -> std::io::Result<Watch> {
    let fd = poller
      .fd()
      .ok_or_else(|| std::io::Error::other("poller has no fd"))?;
    let fd = fd as i32;
    let poll = mio::Poll::new()?;
    // Edge-triggered: an epoll or kqueue fd becomes readable again with each new event.
    poll.registry().register(
      &mut mio::unix::SourceFd(&fd),
      Self::POLLER,
      mio::Interest::READABLE,
    )?;
    Ok(Watch { poll, fd })
  }

  /// Rings when the poller has new events. An event while the JavaScript thread drains on its
  /// own is its to take: the thread then sleeps until that ends rather than wake again for each
  /// one, and afterwards rings only if events are still there (it drained the others).
  fn pass_on(&self, events: &mio::Events, s: &Shared) {
    if !events.iter().any(|e| e.token() == Self::POLLER) {
      return;
    }
    let mut parked = false;
    while s.awake.load(Ordering::SeqCst) && !s.stop.load(Ordering::Acquire) {
      std::thread::park();
      parked = true;
    }
    if !parked || self.ready() {
      s.ring();
    }
  }

  /// Whether the poller holds events now.
  fn ready(&self) -> bool {
    let mut p = libc::pollfd {
      fd: self.fd,
      events: libc::POLLIN,
      revents: 0,
    };
    // SAFETY: one live pollfd and its count; a zero timeout never blocks. On failure (the fd
    // gone) ring anyway: the drain then reports the error.
    unsafe { libc::poll(&mut p, 1, 0) != 0 }
  }
}

#[cfg(windows)]
struct Watch {
  poll: mio::Poll,
}

#[cfg(windows)]
impl Watch {
  /// The poller's own IOCP, taken from it: its events come back through `Poller::report`.
  fn new(poller: &mut Poller) -> std::io::Result<Watch> {
    let poll = poller
      .take_poll()
      .ok_or_else(|| std::io::Error::other("poller already taken"))?;
    Ok(Watch { poll })
  }

  /// Queues the events and rings.
  fn pass_on(&self, events: &mio::Events, s: &Shared) {
    let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
    q.extend(
      events
        .iter()
        .filter(|e| e.token() != WAKER)
        .map(|e| (e.token().0, EventBits::of(e))),
    );
    let any = !q.is_empty();
    drop(q);
    if any {
      s.ring();
    }
  }
}

impl ThreadWake {
  /// Starts a thread that waits on `poller`'s OS poller (on Windows, taken from it).
  pub fn start(env: sys::napi_env, poller: &mut Poller) -> Result<ThreadWake> {
    let mut watch = Watch::new(poller).map_err(failure)?;
    let waker = mio::Waker::new(watch.poll.registry(), WAKER).map_err(failure)?;
    let mut tsfn = ptr::null_mut();
    let mut name = ptr::null_mut();
    // SAFETY: napi calls on this env's thread with live out pointers; no JS function is
    // given because `on_wake` makes the call itself.
    unsafe {
      sys::napi_create_string_utf8(env, c"socket2 poller".as_ptr(), 14, &mut name);
      let st = sys::napi_create_threadsafe_function(
        env,
        ptr::null_mut(),
        ptr::null_mut(),
        name,
        0,
        1,
        ptr::null_mut(),
        None,
        ptr::null_mut(),
        Some(on_wake),
        &mut tsfn,
      );
      if st != sys::Status::napi_ok {
        return Err(Error::new(
          Status::from(st),
          "napi_create_threadsafe_function failed",
        ));
      }
      sys::napi_unref_threadsafe_function(env, tsfn);
    }
    let tsfn = Tsfn(tsfn);
    let shared = Arc::new(Shared {
      stop: AtomicBool::new(false),
      failed: AtomicI32::new(0),
      wake: Mutex::new(Some(tsfn)),
      awake: AtomicBool::new(false),
      #[cfg(windows)]
      queue: Mutex::new(VecDeque::new()),
    });
    let s = shared.clone();
    let thread = std::thread::Builder::new()
      .name("socket2-poller".into())
      .spawn(move || {
        let mut events = mio::Events::with_capacity(1024);
        while !s.stop.load(Ordering::Acquire) {
          if let Err(e) = watch.poll.poll(&mut events, None) {
            if e.kind() == std::io::ErrorKind::Interrupted {
              continue;
            }
            // Nothing will wake the waiters again: tell the JavaScript thread, which rejects
            // them, and stop.
            s.failed
              .store(socket2_core::errno_of(&e).max(1), Ordering::Release);
            s.ring();
            break;
          }
          watch.pass_on(&events, &s);
        }
      })
      .map_err(failure)?;
    Ok(ThreadWake {
      tsfn,
      shared,
      waker,
      thread: Some(thread),
    })
  }

  /// Refs or unrefs the threadsafe function (whether it keeps the loop alive).
  pub fn set_ref(&self, env: sys::napi_env, want: bool) {
    // SAFETY: called on the env's thread while the function is live.
    unsafe {
      if want {
        sys::napi_ref_threadsafe_function(env, self.tsfn.0);
      } else {
        sys::napi_unref_threadsafe_function(env, self.tsfn.0);
      }
    }
  }

  /// Applies up to `out.len() / 2` events to the socket table: their number, or, once there
  /// are none, the errno the poller thread failed with. A drain that finds none tells the
  /// thread to ring for the next one (see the module's comment).
  pub fn drain(&self, poller: &mut Poller, out: &mut [i32]) -> std::result::Result<usize, i32> {
    let mut n = self.take(poller, out)?;
    if n == 0 && self.shared.awake.swap(false, Ordering::SeqCst) {
      #[cfg(unix)]
      self.wake_thread();
      n = self.take(poller, out)?;
      if n > 0 {
        self.shared.awake.store(true, Ordering::SeqCst);
      }
    }
    match self.shared.failed.load(Ordering::Acquire) {
      errno if n == 0 && errno != 0 => Err(errno),
      _ => Ok(n),
    }
  }

  #[cfg(unix)]
  fn take(&self, poller: &mut Poller, out: &mut [i32]) -> std::result::Result<usize, i32> {
    poller
      .drain(Some(Duration::ZERO), out)
      .map_err(|e| socket2_core::errno_of(&e))
  }

  #[cfg(windows)]
  fn take(&self, poller: &mut Poller, out: &mut [i32]) -> std::result::Result<usize, i32> {
    let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = 0;
    while let Some(&(index, e)) = q.front() {
      if !poller.report(index, e, out, &mut n) {
        break;
      }
      q.pop_front();
    }
    Ok(n)
  }

  /// Lets the thread watch again if it sleeps (see `Watch::pass_on`).
  fn wake_thread(&self) {
    if let Some(t) = &self.thread {
      t.thread().unpark();
    }
  }

  /// Whether the JavaScript thread was to drain again: when it stops with its time up, the
  /// thread has not rung for what came meanwhile, so it must wake itself.
  pub fn awake(&self) -> bool {
    self.shared.awake.load(Ordering::SeqCst)
  }

  /// Stops and joins the thread, then releases the threadsafe function.
  pub fn stop(mut self) {
    self.shared.stop.store(true, Ordering::Release);
    // Taken under the lock the thread signals under: from here on the thread cannot call it.
    self
      .shared
      .wake
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .take();
    self.wake_thread();
    // If the wake fails the thread is still in poll(): joining would hang, so it is detached.
    // Should it wake later it finds the stop flag and no function to call.
    if self.waker.wake().is_ok() {
      if let Some(t) = self.thread.take() {
        let _ = t.join();
      }
    }
    // SAFETY: the thread can no longer call the function (taken above); this is the only
    // release.
    unsafe {
      sys::napi_release_threadsafe_function(self.tsfn.0, sys::ThreadsafeFunctionReleaseMode::abort);
    }
  }
}
