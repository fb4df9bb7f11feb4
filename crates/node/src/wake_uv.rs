//! Wake source for Linux and macOS on Node: one `uv_poll_t` on the environment's loop watching
//! the poller's epoll/kqueue fd (libuv supports polling either). No thread, no hop: the callback
//! drains the poller itself. Unix only: compiled out on Windows.

use std::cell::Cell;
use std::os::raw::{c_int, c_void};
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::{sys, Env};
use socket2_core::Poller;

use crate::env::wake_rounds;
use crate::uv;

/// The poll handle.
pub struct UvWake {
  handle: *mut c_void,
  /// The errno `uv_poll_start` failed with (0: watching). The handle is kept for `stop`.
  pub failed: i32,
  /// Stopped while its thread has nothing waiting (see `idle`).
  idle: Cell<bool>,
}

/// The descriptor of `p`'s OS poller.
pub fn poller_fd(p: &Poller) -> Result<c_int> {
  p.fd()
    .map(|fd| fd as c_int)
    .ok_or_else(|| Error::new(Status::GenericFailure, "poller has no fd"))
}

extern "C" fn on_poll(handle: *mut c_void, status: c_int, _events: c_int) {
  // SAFETY: the handle is live (this is its callback); its data is the env until `stop`.
  let env: sys::napi_env = unsafe { uv::uv_handle_get_data(handle) }.cast();
  // A negative status is libuv's negated errno: the poller's fd went bad. The rounds tell
  // JavaScript, which rejects what waits, and pause the handle.
  if status < 0 {
    crate::env::with(env, |r| r.fail(-status));
  }
  wake_rounds(env);
}

extern "C" fn on_close(handle: *mut c_void) {
  // SAFETY: libuv is done with the handle (this is its close callback); its data is the
  // cleanup hook `stop` was given (null when the env stays), removed once, here.
  unsafe {
    let hook: sys::napi_async_cleanup_hook_handle = uv::uv_handle_get_data(handle).cast();
    uv::free_handle(handle, uv::UV_POLL);
    if !hook.is_null() {
      sys::napi_remove_async_cleanup_hook(hook);
    }
  }
}

impl UvWake {
  /// Starts watching the OS poller's descriptor `fd` on `env`'s loop, unreferenced (the loop
  /// may exit).
  pub fn start(env: &Env, fd: c_int) -> Result<UvWake> {
    UvWake::try_start(env, fd).map_err(|errno| {
      Error::new(
        Status::GenericFailure,
        format!("watching the poller failed (errno {errno})"),
      )
    })
  }

  /// As [`UvWake::start`], failing with an errno.
  pub fn try_start(env: &Env, fd: c_int) -> std::result::Result<UvWake, i32> {
    let lp = env
      .get_uv_event_loop()
      .map_err(|_| socket2_core::error::EINVAL)?;
    let handle = uv::alloc_handle(uv::UV_POLL);
    // SAFETY: `handle` is fresh memory of uv_handle_size(UV_POLL) bytes; `lp` is this env's
    // loop; `fd` is the poller's fd, which outlives the handle (teardown, and a move to another
    // poller, stop the handle before the poller can close).
    unsafe {
      let st = uv::uv_poll_init_socket(lp.cast(), handle, fd);
      if st != 0 {
        uv::free_handle(handle, uv::UV_POLL);
        // libuv's error is the negated errno on Unix.
        return Err(-st);
      }
      uv::uv_handle_set_data(handle, env.raw().cast());
      // A failed start leaves a handle that never calls back: the reactor reports the failure
      // to every wait instead (see `init`).
      let st = uv::uv_poll_start(handle, uv::UV_READABLE, on_poll);
      uv::uv_unref(handle);
      Ok(UvWake {
        handle,
        failed: -st,
        idle: Cell::new(false),
      })
    }
  }

  /// Refs or unrefs the handle.
  pub fn set_ref(&self, want: bool) {
    // SAFETY: the handle is live until `stop`, which consumes self.
    unsafe { uv::set_ref(self.handle, want) }
  }

  /// Drains the poller without waiting: the number of event pairs, or the poller's errno
  /// (EINTR is already 0 events).
  pub fn drain(&self, poller: &mut Poller, out: &mut [i32]) -> std::result::Result<usize, i32> {
    poller
      .drain(Some(Duration::ZERO), out)
      .map_err(|e| socket2_core::errno_of(&e))
  }

  /// Stops watching while `on` (its thread has nothing waiting on a poller other threads
  /// share: their loops drain it, and events of this thread's reach it through its bell), and
  /// watches again when not, so a thread that waits for nothing is not woken for others' events.
  pub fn idle(&self, on: bool) {
    if on != self.idle.replace(on) {
      // SAFETY: the handle is live until `stop`, which consumes self; it was started in
      // `try_start` and only this and `pause` stop it.
      unsafe {
        if on {
          uv::uv_poll_stop(self.handle);
        } else {
          uv::uv_poll_start(self.handle, uv::UV_READABLE, on_poll);
        }
      }
    }
  }

  /// Stops watching (the poller failed), so a bad fd does not call back forever.
  pub fn pause(&self) {
    // SAFETY: the handle is live until `stop`, which consumes self; stopping twice is allowed.
    unsafe {
      uv::uv_poll_stop(self.handle);
    }
  }

  /// Stops watching and closes the handle; once closed (a later loop turn) it is freed and the
  /// env's cleanup `hook` removed (none: null). The fd is out of the loop when this returns.
  pub fn stop(self, hook: sys::napi_async_cleanup_hook_handle) {
    // SAFETY: the handle is live; after uv_close libuv owns it until on_close runs.
    unsafe {
      uv::uv_poll_stop(self.handle);
      uv::uv_handle_set_data(self.handle, hook.cast());
      uv::uv_close(self.handle, Some(on_close));
    }
  }
}
