//! Wake source where the loop cannot poll the poller (Windows IOCP; Bun and Deno, which lack
//! `uv_poll`): a thread blocks in the OS poller, queues what it sees, and wakes the JavaScript
//! thread through a threadsafe function, once per batch (only when the queue goes from empty to
//! non-empty). Readiness is applied on the JavaScript thread, so the socket table is never
//! shared.

use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use napi::bindgen_prelude::*;
use napi::sys;
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
  queue: Mutex<VecDeque<(usize, EventBits)>>,
  stop: AtomicBool,
  /// The errno the OS poller failed with, once the thread gave up (0: polling).
  failed: AtomicI32,
  /// The thread's way to wake the loop; `stop` takes it, so a thread it could not join never
  /// calls the function after its env is gone.
  wake: Mutex<Option<Tsfn>>,
}

impl Shared {
  fn signal(&self) {
    if let Some(f) = *self.wake.lock().unwrap_or_else(|p| p.into_inner()) {
      f.signal();
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

impl ThreadWake {
  /// Takes the OS poller from `poller` into a new thread.
  pub fn start(env: sys::napi_env, poller: &mut Poller) -> Result<ThreadWake> {
    let fail =
      |e: std::io::Error| Error::new(Status::GenericFailure, format!("poller thread: {e}"));
    let mut poll = poller
      .take_poll()
      .ok_or_else(|| Error::new(Status::GenericFailure, "poller already taken"))?;
    let waker = mio::Waker::new(poll.registry(), WAKER).map_err(fail)?;
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
      queue: Mutex::new(VecDeque::new()),
      stop: AtomicBool::new(false),
      failed: AtomicI32::new(0),
      wake: Mutex::new(Some(tsfn)),
    });
    let s = shared.clone();
    let thread = std::thread::Builder::new()
      .name("socket2-poller".into())
      .spawn(move || {
        let mut events = mio::Events::with_capacity(1024);
        while !s.stop.load(Ordering::Acquire) {
          if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == std::io::ErrorKind::Interrupted {
              continue;
            }
            // Nothing will wake the waiters again: tell the JavaScript thread, which rejects
            // them, and stop.
            s.failed
              .store(socket2_core::errno_of(&e).max(1), Ordering::Release);
            s.signal();
            break;
          }
          let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
          let was_empty = q.is_empty();
          q.extend(
            events
              .iter()
              .filter(|e| e.token() != WAKER)
              .map(|e| (e.token().0, EventBits::of(e))),
          );
          let signal = was_empty && !q.is_empty();
          drop(q);
          if signal {
            s.signal();
          }
        }
      })
      .map_err(fail)?;
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

  /// Applies up to `out.len() / 2` queued events to the socket table: their number, or, once
  /// the queue is empty, the errno the poller thread failed with.
  pub fn drain(&self, poller: &mut Poller, out: &mut [i32]) -> std::result::Result<usize, i32> {
    let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = 0;
    while let Some(&(index, e)) = q.front() {
      if !poller.report(index, e, out, &mut n) {
        break;
      }
      q.pop_front();
    }
    match self.shared.failed.load(Ordering::Acquire) {
      errno if n == 0 && errno != 0 => Err(errno),
      _ => Ok(n),
    }
  }

  /// Signals again if events are still queued after a wake-up's rounds.
  pub fn rearm(&self) {
    let pending = !self
      .shared
      .queue
      .lock()
      .unwrap_or_else(|p| p.into_inner())
      .is_empty();
    if pending {
      self.tsfn.signal();
    }
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
