//! The few libuv functions the binding needs, declared by hand against the libuv of the Node
//! process that loads us (it exports them; a second libuv would not share Node's loop).
//!
//! On Unix they are undefined symbols that the process provides when it loads us. On Windows
//! they are looked up in the process's executable at first use (`GetProcAddress`), as napi-sys
//! does for Node-API: no import library names `node.exe`, so an Electron app, whose executable
//! has another name, works too.
//!
//! Handles are opaque: each is allocated with `uv_handle_size(type)` bytes and its user data is
//! set through `uv_handle_set_data` (libuv >= 1.19), so no struct layout is mirrored here.

use std::os::raw::{c_int, c_void};

/// `UV_ASYNC` in `uv_handle_type`.
#[cfg(unix)]
pub const UV_ASYNC: c_int = 1;
/// `UV_CHECK` in `uv_handle_type`.
pub const UV_CHECK: c_int = 2;
/// `UV_POLL` in `uv_handle_type`.
pub const UV_POLL: c_int = 8;
/// `UV_READABLE` in `uv_poll_event`.
pub const UV_READABLE: c_int = 1;
/// `UV_WRITABLE` in `uv_poll_event`.
pub const UV_WRITABLE: c_int = 2;

/// libuv's `uv_os_sock_t`: an fd on Unix, a `SOCKET` on Windows.
#[cfg(unix)]
pub type OsSock = c_int;
/// libuv's `uv_os_sock_t`: an fd on Unix, a `SOCKET` on Windows.
#[cfg(windows)]
pub type OsSock = usize;

pub type PollCb = extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
pub type CheckCb = extern "C" fn(handle: *mut c_void);
#[cfg(unix)]
pub type AsyncCb = extern "C" fn(handle: *mut c_void);
pub type CloseCb = extern "C" fn(handle: *mut c_void);

/// Declares the functions: `extern` on Unix; on Windows, wrappers calling through a table
/// resolved once.
macro_rules! libuv {
  ($(fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
    #[cfg(unix)]
    extern "C" {
      $(pub fn $name($($arg: $ty),*) $(-> $ret)?;)*
    }

    #[cfg(windows)]
    #[allow(non_snake_case)]
    struct Table {
      $($name: unsafe extern "C" fn($($ty),*) $(-> $ret)?,)*
    }

    #[cfg(windows)]
    fn table() -> Option<&'static Table> {
      use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
      static TABLE: std::sync::OnceLock<Option<Table>> = std::sync::OnceLock::new();
      TABLE
        .get_or_init(|| {
          // SAFETY: a null name asks for the process's executable, which stays loaded; each
          // name is NUL-terminated; an address found under a libuv function's name is that
          // function, whose C signature is the one declared here.
          unsafe {
            let exe = GetModuleHandleW(std::ptr::null());
            if exe.is_null() {
              return None;
            }
            Some(Table {
              $($name: std::mem::transmute::<
                unsafe extern "system" fn() -> isize,
                unsafe extern "C" fn($($ty),*) $(-> $ret)?,
              >(
                GetProcAddress(exe, concat!(stringify!($name), "\0").as_ptr())?,
              ),)*
            })
          }
        })
        .as_ref()
    }

    $(
      #[cfg(windows)]
      pub unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
        // Callers check `available()` before their first handle: the table is there.
        let f = table().expect("libuv is resolved before use").$name;
        // SAFETY: the caller upholds the function's contract, as for the Unix declaration.
        unsafe { f($($arg),*) }
      }
    )*
  };
}

libuv! {
  fn uv_handle_size(kind: c_int) -> usize;
  fn uv_poll_init_socket(lp: *mut c_void, handle: *mut c_void, sock: OsSock) -> c_int;
  fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
  fn uv_poll_stop(handle: *mut c_void) -> c_int;
  fn uv_check_init(lp: *mut c_void, handle: *mut c_void) -> c_int;
  fn uv_check_start(handle: *mut c_void, cb: CheckCb) -> c_int;
  fn uv_close(handle: *mut c_void, cb: Option<CloseCb>);
  fn uv_ref(handle: *mut c_void);
  fn uv_unref(handle: *mut c_void);
  fn uv_handle_get_data(handle: *const c_void) -> *mut c_void;
  fn uv_handle_set_data(handle: *mut c_void, data: *mut c_void);
}

// The bell of a thread sharing a poller (Unix only: Windows has no poller fd to share).
#[cfg(unix)]
extern "C" {
  pub fn uv_async_init(lp: *mut c_void, handle: *mut c_void, cb: AsyncCb) -> c_int;
  pub fn uv_async_send(handle: *mut c_void) -> c_int;
}

/// Whether this process exports libuv (Bun and Deno do not, or only as stubs that abort; the
/// JavaScript side never asks for a uv backend there).
pub fn available() -> bool {
  #[cfg(windows)]
  let found = table().is_some();
  #[cfg(unix)]
  let found = true;
  found
}

/// Refs or unrefs `handle` (whether it keeps its loop alive while active).
///
/// # Safety
/// `handle` is an initialised handle that is not closed.
pub unsafe fn set_ref(handle: *mut c_void, want: bool) {
  // SAFETY: as the caller promises.
  unsafe {
    if want {
      uv_ref(handle)
    } else {
      uv_unref(handle)
    }
  }
}

/// Allocates zeroed, 16-byte aligned memory for a handle of `kind`. Freed by [`free_handle`].
pub fn alloc_handle(kind: c_int) -> *mut c_void {
  // SAFETY: uv_handle_size only reads a table in libuv.
  let size = unsafe { uv_handle_size(kind) };
  Box::into_raw(vec![0u128; size.div_ceil(16)].into_boxed_slice()).cast()
}

/// Frees a handle from [`alloc_handle`] of the same `kind` once libuv is done with it (closed,
/// or never initialised).
pub fn free_handle(handle: *mut c_void, kind: c_int) {
  // SAFETY: `handle` came from alloc_handle(kind) (same size computation) and libuv is done
  // with it.
  unsafe {
    let words = uv_handle_size(kind).div_ceil(16);
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
      handle.cast::<u128>(),
      words,
    )));
  }
}
