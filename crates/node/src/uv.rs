//! The few libuv functions the binding needs, declared by hand against the libuv of the Node
//! process that loads us (it exports them; a second libuv would not share Node's loop).
//!
//! The poll handle is opaque: it is allocated with `uv_handle_size(UV_POLL)` bytes and its
//! user data is set through `uv_handle_set_data` (libuv >= 1.19), so no struct layout is
//! mirrored here.

use std::os::raw::{c_int, c_void};

/// `UV_POLL` in `uv_handle_type`.
const UV_POLL: c_int = 8;
/// `UV_READABLE` in `uv_poll_event`.
pub const UV_READABLE: c_int = 1;

pub type PollCb = extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
pub type CloseCb = extern "C" fn(handle: *mut c_void);

extern "C" {
  fn uv_handle_size(kind: c_int) -> usize;
  pub fn uv_poll_init(lp: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
  pub fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
  pub fn uv_poll_stop(handle: *mut c_void) -> c_int;
  pub fn uv_close(handle: *mut c_void, cb: Option<CloseCb>);
  pub fn uv_ref(handle: *mut c_void);
  pub fn uv_unref(handle: *mut c_void);
  pub fn uv_handle_get_data(handle: *const c_void) -> *mut c_void;
  pub fn uv_handle_set_data(handle: *mut c_void, data: *mut c_void);
}

/// Allocates zeroed, 16-byte aligned memory for a poll handle. Freed by [`free_poll`].
pub fn alloc_poll() -> *mut c_void {
  // SAFETY: uv_handle_size only reads a table in libuv.
  let size = unsafe { uv_handle_size(UV_POLL) };
  let words = size.div_ceil(16);
  Box::into_raw(vec![0u128; words].into_boxed_slice()).cast()
}

/// Frees a handle from [`alloc_poll`] once libuv is done with it (closed, or never started).
pub fn free_poll(handle: *mut c_void) {
  // SAFETY: `handle` came from alloc_poll (same size computation) and libuv is done with it.
  unsafe {
    let words = uv_handle_size(UV_POLL).div_ceil(16);
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
      handle.cast::<u128>(),
      words,
    )));
  }
}
