//! The bell of a thread whose poller shares its OS poller with other threads' (`epollFd(fd)`):
//! when another thread drains events of this thread's sockets it puts them in this thread's
//! mailbox and rings this `uv_async_t`, whose callback, on this thread's loop, drains them.
//! `uv_async_send` is the one libuv call made for another thread, and libuv allows it from any.

use std::os::raw::c_void;

use napi::bindgen_prelude::*;
use napi::{sys, Env};
use socket2_core::poller::hub::WakeFn;

use crate::env::wake_rounds;
use crate::uv;

/// The async handle.
pub struct Bell {
  handle: *mut c_void,
}

/// The handle, for the wake function that rings it from other threads.
struct Rope(*mut c_void);
// SAFETY: the one use from another thread is `uv_async_send`, which libuv allows from any
// thread; the handle outlives every call (see `Bell::rope`).
unsafe impl Send for Rope {}
// SAFETY: as for Send: `uv_async_send` may run concurrently from several threads.
unsafe impl Sync for Rope {}

impl Rope {
  fn ring(&self) {
    // SAFETY: the handle is live: see `Bell::rope`.
    unsafe { uv::uv_async_send(self.0) };
  }
}

extern "C" fn on_ring(handle: *mut c_void) {
  // SAFETY: the handle is live (this is its callback); its data is the env until `stop`.
  let env: sys::napi_env = unsafe { uv::uv_handle_get_data(handle) }.cast();
  wake_rounds(env);
}

extern "C" fn on_close(handle: *mut c_void) {
  uv::free_handle(handle, uv::UV_ASYNC);
}

impl Bell {
  /// Makes the handle on `env`'s loop, unreferenced: it wakes the loop, never keeps it alive
  /// (the poller's own handle does that while operations wait).
  pub fn start(env: &Env) -> Result<Bell> {
    let lp = env.get_uv_event_loop()?;
    let handle = uv::alloc_handle(uv::UV_ASYNC);
    // SAFETY: `handle` is fresh memory of uv_handle_size(UV_ASYNC) bytes; `lp` is this env's
    // loop, on whose thread we are.
    unsafe {
      let st = uv::uv_async_init(lp.cast(), handle, on_ring);
      if st != 0 {
        uv::free_handle(handle, uv::UV_ASYNC);
        return Err(Error::new(
          Status::GenericFailure,
          format!("uv_async_init failed ({st})"),
        ));
      }
      uv::uv_handle_set_data(handle, env.raw().cast());
      uv::uv_unref(handle);
    }
    Ok(Bell { handle })
  }

  /// The wake function that rings it. It must not be called once `stop` ran: the poller
  /// leaves its hub (after which the hub calls it no more) before the bell stops.
  pub fn rope(&self) -> WakeFn {
    let rope = Rope(self.handle);
    Box::new(move || rope.ring())
  }

  /// Closes the handle; libuv frees it in a later loop turn.
  pub fn stop(self) {
    // SAFETY: the handle is live; after uv_close libuv owns it until on_close runs.
    unsafe { uv::uv_close(self.handle, Some(on_close)) }
  }
}
