//! The per-operation calls, `send`, `recv`, `sendTo`, `recvFrom` and `sendText`, and the
//! dispatch's `redrain`, as plain Node-API callbacks.
//!
//! napi-rs's generated glue opens a borrow-tracking scope on every call, even one without
//! arguments (an `Arc<Mutex<_>>` allocation and two thread-local pushes): measured, about 280 ns
//! of a 360 ns call, and these run at least once per I/O operation. Here each callback reads its arguments
//! straight from the callback info, converting them as napi-rs did (numbers by ToUint32, bytes
//! from a `Uint8Array` or `Buffer`), and throws a TypeError for anything else. The work itself
//! is in `socket.rs`, in safe Rust.

use std::cell::RefCell;
use std::ffi::CStr;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::{env, socket};

/// The most arguments a hot call takes.
const MAX_ARGS: usize = 5;

/// A call's arguments, as the engine passed them.
struct Args {
  env: sys::napi_env,
  argv: [sys::napi_value; MAX_ARGS],
  argc: usize,
}

/// Why an argument was refused, for the TypeError.
type Refused = &'static CStr;
type Checked<T> = std::result::Result<T, Refused>;

/// Where a typed array's bytes are, as the engine reported them: a pointer (dangling for an
/// empty array) and a length.
#[derive(Clone, Copy)]
struct View(*mut u8, usize);

impl View {
  /// # Safety
  /// The slice is the array's memory: valid while the call that got this view runs
  /// (JavaScript on this thread is suspended and cannot detach or resize it), and no mutable
  /// slice of the same memory may exist. A `SharedArrayBuffer` that another thread writes
  /// during the call is the caller's race, as with any native reader or writer of it (the
  /// kernel included); nothing guards it.
  unsafe fn bytes<'a>(self) -> &'a [u8] {
    // SAFETY: the engine reports `self.1` bytes at `self.0` (or a dangling pointer for none).
    unsafe { std::slice::from_raw_parts(self.0, self.1) }
  }

  /// # Safety
  /// As `bytes`, and no other slice of the same memory may exist.
  unsafe fn bytes_mut<'a>(self) -> &'a mut [u8] {
    // SAFETY: as in `bytes`.
    unsafe { std::slice::from_raw_parts_mut(self.0, self.1) }
  }

  /// Whether the two views share a byte.
  fn overlaps(self, o: View) -> bool {
    self.1 > 0 && o.1 > 0 && self.0 < o.0.wrapping_add(o.1) && o.0 < self.0.wrapping_add(self.1)
  }
}

impl Args {
  /// # Safety
  /// `env` and `info` are the running callback's own.
  unsafe fn of(env: sys::napi_env, info: sys::napi_callback_info) -> Args {
    let mut argv = [ptr::null_mut(); MAX_ARGS];
    let mut argc = MAX_ARGS;
    // SAFETY: `argv` has room for `argc` values; the other out pointers may be null.
    let st = unsafe {
      sys::napi_get_cb_info(
        env,
        info,
        &mut argc,
        argv.as_mut_ptr(),
        ptr::null_mut(),
        ptr::null_mut(),
      )
    };
    if st != sys::Status::napi_ok {
      argc = 0;
    }
    Args {
      env,
      argv,
      argc: argc.min(MAX_ARGS),
    }
  }

  fn get(&self, i: usize) -> Checked<sys::napi_value> {
    if i < self.argc {
      Ok(self.argv[i])
    } else {
      Err(c"socket2: missing argument")
    }
  }

  /// Whether argument `i` is missing or `undefined`.
  fn absent(&self, i: usize) -> bool {
    let Ok(v) = self.get(i) else {
      return true;
    };
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: a value of this call and a live out pointer.
    unsafe { sys::napi_typeof(self.env, v, &mut kind) };
    kind == sys::ValueType::napi_undefined
  }

  /// Argument `i` as a number converted by ToUint32.
  fn u32(&self, i: usize) -> Checked<u32> {
    let mut v = 0;
    // SAFETY: a value of this call, and a live out pointer.
    let st = unsafe { sys::napi_get_value_uint32(self.env, self.get(i)?, &mut v) };
    if st == sys::Status::napi_ok {
      Ok(v)
    } else {
      Err(c"socket2: a number was expected")
    }
  }

  /// Where the bytes of argument `i`, a `Uint8Array` (or `Buffer`), are: pointer and length.
  fn view(&self, i: usize) -> Checked<View> {
    let v = self.get(i)?;
    let (mut kind, mut len, mut data) = (0, 0, ptr::null_mut());
    // SAFETY: a value of this call and live out pointers; anything but a typed array is
    // refused with napi_invalid_arg. The array buffer and offset are not asked for: each
    // costs the engine another lookup, and `data` already points past the offset.
    let st = unsafe {
      sys::napi_get_typedarray_info(
        self.env,
        v,
        &mut kind,
        &mut len,
        &mut data,
        ptr::null_mut(),
        ptr::null_mut(),
      )
    };
    if st != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
      return Err(c"socket2: a Uint8Array was expected");
    }
    Ok(if data.is_null() {
      View(ptr::NonNull::dangling().as_ptr(), 0)
    } else {
      View(data.cast(), len)
    })
  }

  /// The bytes of argument `i`, to read.
  ///
  /// # Safety
  /// As `View::bytes`.
  unsafe fn bytes<'a>(&self, i: usize) -> Checked<&'a [u8]> {
    // SAFETY: the caller's promise.
    Ok(unsafe { self.view(i)?.bytes() })
  }

  /// The bytes of argument `i`, to write.
  ///
  /// # Safety
  /// As `View::bytes_mut`.
  unsafe fn bytes_mut<'a>(&self, i: usize) -> Checked<&'a mut [u8]> {
    // SAFETY: the caller's promise.
    Ok(unsafe { self.view(i)?.bytes_mut() })
  }

  /// Runs `f` on argument `i`, a string, encoded as UTF-8 (`len` bytes, as JavaScript measured
  /// them). The bytes go into a buffer kept per thread, so sending a string allocates nothing
  /// on either side; a string longer than 64 KiB gets a buffer of its own for the call.
  fn text<R>(&self, i: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> Checked<R> {
    const KEPT: usize = 64 * 1024;
    thread_local! {
      static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    let v = self.get(i)?;
    let encode_len = |buf: &mut Vec<u8>, len: usize| {
      // One byte more for the NUL that napi_get_value_string_utf8 always writes. A string too
      // large to copy is refused rather than aborting the process.
      if buf.len() < len + 1 && buf.try_reserve_exact(len + 1 - buf.len()).is_err() {
        return Err(c"socket2: not enough memory to encode the string");
      }
      buf.resize(len + 1, 0);
      let mut copied = 0;
      // SAFETY: a value of this call; `buf` has `len + 1` writable bytes, the size given.
      let st = unsafe {
        sys::napi_get_value_string_utf8(self.env, v, buf.as_mut_ptr().cast(), len + 1, &mut copied)
      };
      if st == sys::Status::napi_ok {
        Ok(f(&buf[..copied]))
      } else {
        Err(c"socket2: a string was expected")
      }
    };
    if len > KEPT {
      // Never more than the string holds, whatever the caller claimed: no huge allocation.
      let mut real = 0;
      // SAFETY: a value of this call; a null buffer asks only for the length.
      let st =
        unsafe { sys::napi_get_value_string_utf8(self.env, v, ptr::null_mut(), 0, &mut real) };
      if st != sys::Status::napi_ok {
        return Err(c"socket2: a string was expected");
      }
      let len = len.min(real);
      let mut own = Vec::new();
      return encode_len(&mut own, len);
    }
    SCRATCH.with(|s| encode_len(&mut s.borrow_mut(), len))
  }

  /// Returns `r` to JavaScript as a number, or throws its TypeError.
  fn finish(&self, r: Checked<i32>) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: plain calls on this callback's env with live pointers; a pending exception makes
    // the engine ignore the (null) return value.
    unsafe {
      match r {
        Ok(n) => {
          sys::napi_create_int32(self.env, n, &mut out);
        }
        Err(why) => {
          sys::napi_throw_type_error(self.env, c"ERR_INVALID_ARG_TYPE".as_ptr(), why.as_ptr());
        }
      }
    }
    out
  }
}

/// Runs a hot call: its arguments to `body`, and the number `body` gives (or its TypeError)
/// back to JavaScript.
///
/// # Safety
/// `env` and `info` are the running callback's own.
unsafe fn call(
  env: sys::napi_env,
  info: sys::napi_callback_info,
  body: impl FnOnce(&Args) -> Checked<i32>,
) -> sys::napi_value {
  // SAFETY: the caller's promise.
  let a = unsafe { Args::of(env, info) };
  let r = body(&a);
  a.finish(r)
}

/// `send(id, buf, offset, len)`: see `socket::send`.
unsafe extern "C" fn send(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: the engine's own env and info; the only slice taken (see `View::bytes`).
  unsafe {
    call(env, info, |a| {
      Ok(socket::send(
        env,
        a.u32(0)?,
        a.bytes(1)?,
        a.u32(2)?,
        a.u32(3)?,
      ))
    })
  }
}

/// `recv(id, buf, offset, len)`: see `socket::recv`.
unsafe extern "C" fn recv(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: the engine's own env and info; the only slice taken (see `View::bytes_mut`).
  unsafe {
    call(env, info, |a| {
      Ok(socket::recv(
        env,
        a.u32(0)?,
        a.bytes_mut(1)?,
        a.u32(2)?,
        a.u32(3)?,
      ))
    })
  }
}

/// `sendTo(id, buf, offset, len, wire)`: see `socket::send_to`.
unsafe extern "C" fn send_to(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: the engine's own env and info; two shared slices, which may alias (see
  // `View::bytes`).
  unsafe {
    call(env, info, |a| {
      let (buf, to) = (a.bytes(1)?, a.bytes(4)?);
      Ok(socket::send_to(
        env,
        a.u32(0)?,
        buf,
        a.u32(2)?,
        a.u32(3)?,
        to,
      ))
    })
  }
}

/// `recvFrom(id, buf, offset, len, meta)`: see `socket::recv_from`.
unsafe extern "C" fn recv_from(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  // SAFETY: the engine's own env and info; two mutable slices (see `View::bytes_mut`) of
  // memory checked disjoint first.
  unsafe {
    call(env, info, |a| {
      let (b, m) = (a.view(1)?, a.view(4)?);
      if b.overlaps(m) {
        return Err(c"socket2: recvFrom's buffer and meta overlap");
      }
      Ok(socket::recv_from(
        env,
        a.u32(0)?,
        b.bytes_mut(),
        a.u32(2)?,
        a.u32(3)?,
        m.bytes_mut(),
      ))
    })
  }
}

/// `sendText(id, text, len, wire?)`: sends the string `text`, `len` bytes in UTF-8, to the
/// connected peer or (for a datagram socket) to the address in wire form: the count or
/// `-errno`, as `send`/`sendTo`.
unsafe extern "C" fn send_text(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  // SAFETY: the engine's own env and info; one shared slice (see `View::bytes`).
  unsafe {
    call(env, info, |a| {
      let (id, len) = (a.u32(0)?, a.u32(2)?);
      if a.absent(3) {
        return a.text(1, len as usize, |b| socket::send(env, id, b, 0, len));
      }
      let to = a.bytes(3)?;
      a.text(1, len as usize, |b| socket::send_to(env, id, b, 0, len, to))
    })
  }
}

/// `redrain()`: see `env::redrain`.
unsafe extern "C" fn redrain(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: the engine's own env and info; no argument is read.
  unsafe { call(env, info, |_| Ok(env::redrain(env))) }
}

/// Adds the hot calls to the module's exports.
#[napi(module_exports)]
pub fn hot_calls(exports: Object, env: Env) -> Result<()> {
  let calls: [(&CStr, sys::napi_callback); 6] = [
    (c"send", Some(send)),
    (c"recv", Some(recv)),
    (c"sendTo", Some(send_to)),
    (c"recvFrom", Some(recv_from)),
    (c"sendText", Some(send_text)),
    (c"redrain", Some(redrain)),
  ];
  for (name, cb) in calls {
    let mut f = ptr::null_mut();
    // SAFETY: plain calls on the module's env while its exports are being built; `name` is a
    // NUL-terminated static string and `f` a live out pointer.
    let st = unsafe {
      let st = sys::napi_create_function(
        env.raw(),
        name.as_ptr(),
        name.count_bytes() as isize,
        cb,
        ptr::null_mut(),
        &mut f,
      );
      if st == sys::Status::napi_ok {
        sys::napi_set_named_property(env.raw(), exports.raw(), name.as_ptr(), f)
      } else {
        st
      }
    };
    if st != sys::Status::napi_ok {
      return Err(Error::new(
        Status::from(st),
        format!("exporting {}", name.to_string_lossy()),
      ));
    }
  }
  Ok(())
}
