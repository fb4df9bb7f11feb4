//! The per-operation calls, `send`, `recv`, `sendTo`, `recvFrom`, `sendText`, and the batched
//! `sendMany`, `recvMany` and `sendVectored`, the dispatch's `redrain`, and `stats()`'s
//! `hubStats`, as plain Node-API callbacks.
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
    self.get(i).map_or(true, |v| self.is_undefined(v))
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

  /// Argument `i` as a byte count, which may pass 2^32 (a buffer may be longer on 64-bit).
  fn size(&self, i: usize) -> Checked<usize> {
    let mut v = 0;
    // SAFETY: a value of this call, and a live out pointer.
    let st = unsafe { sys::napi_get_value_int64(self.env, self.get(i)?, &mut v) };
    match usize::try_from(v) {
      Ok(v) if st == sys::Status::napi_ok => Ok(v),
      _ => Err(c"socket2: a count of bytes was expected"),
    }
  }

  /// Where the bytes of argument `i`, a `Uint8Array` (or `Buffer`), are: pointer and length.
  fn view(&self, i: usize) -> Checked<View> {
    self.view_of(self.get(i)?)
  }

  /// Where the bytes of `v`, a `Uint8Array` (or `Buffer`) of this call, are.
  fn view_of(&self, v: sys::napi_value) -> Checked<View> {
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

  /// Argument `i`, an array: the array and its length.
  fn array(&self, i: usize) -> Checked<(sys::napi_value, u32)> {
    let v = self.get(i)?;
    let (mut is, mut len) = (false, 0);
    // SAFETY: a value of this call and live out pointers.
    let st = unsafe {
      if sys::napi_is_array(self.env, v, &mut is) == sys::Status::napi_ok && is {
        sys::napi_get_array_length(self.env, v, &mut len)
      } else {
        sys::Status::napi_array_expected
      }
    };
    if st == sys::Status::napi_ok {
      Ok((v, len))
    } else {
      Err(c"socket2: an array was expected")
    }
  }

  /// The first `count` elements of the array argument `i` (fewer if it holds fewer).
  ///
  /// Reading an element may run JavaScript (a getter), which could detach or shrink a typed
  /// array whose bytes were already located: callers take every element first and only then
  /// their views, during which no JavaScript runs.
  fn elements(&self, i: usize, count: usize) -> Checked<Vec<sys::napi_value>> {
    let (array, len) = self.array(i)?;
    (0..count.min(len as usize) as u32)
      .map(|j| {
        let mut v = ptr::null_mut();
        // SAFETY: a value of this call and a live out pointer.
        let st = unsafe { sys::napi_get_element(self.env, array, j, &mut v) };
        if st == sys::Status::napi_ok {
          Ok(v)
        } else {
          Err(c"socket2: an array element could not be read")
        }
      })
      .collect()
  }

  /// Where the bytes of `values` (all of them `Uint8Array`s) are.
  fn views(&self, values: &[sys::napi_value]) -> Checked<Vec<View>> {
    values.iter().map(|v| self.view_of(*v)).collect()
  }

  /// Whether `v` is `undefined`.
  fn is_undefined(&self, v: sys::napi_value) -> bool {
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: a value of this call and a live out pointer.
    unsafe { sys::napi_typeof(self.env, v, &mut kind) };
    kind == sys::ValueType::napi_undefined
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

/// `sendMany(id, bufs, count, wires?)`: sends the first `count` of `bufs` as datagrams, each
/// to the address in wire form at the same index of `wires`, or (without one, or with
/// `undefined` there) to the connected peer; see `socket::send_many`.
unsafe extern "C" fn send_many(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  // SAFETY: the engine's own env and info; shared slices only, which may alias (see
  // `View::bytes`), taken after every element was read (see `Args::elements`).
  unsafe {
    call(env, info, |a| {
      let (id, count) = (a.u32(0)?, a.u32(2)? as usize);
      let data = a.elements(1, count)?;
      let wires = match a.absent(3) {
        true => Vec::new(),
        false => a.elements(3, data.len())?,
      };
      let mut msgs = Vec::with_capacity(data.len());
      for (j, d) in a.views(&data)?.into_iter().enumerate() {
        let to = match wires.get(j) {
          Some(&w) if !a.is_undefined(w) => Some(a.view_of(w)?.bytes()),
          _ => None,
        };
        msgs.push((d.bytes(), to));
      }
      Ok(socket::send_many(env, id, &msgs))
    })
  }
}

/// `recvMany(id, bufs, count, meta)`: receives up to `count` datagrams, one into each of the
/// first `count` of `bufs`; see `socket::recv_many`.
unsafe extern "C" fn recv_many(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  // SAFETY: the engine's own env and info; mutable slices (see `View::bytes_mut`) of memory
  // checked pairwise disjoint first, taken after every element was read (see
  // `Args::elements`).
  unsafe {
    call(env, info, |a| {
      let (id, count) = (a.u32(0)?, a.u32(2)? as usize);
      let values = a.elements(1, count)?;
      let mut views = a.views(&values)?;
      let meta = a.view(3)?;
      views.push(meta);
      // Sorted by address, a view overlaps another only if it overlaps the next non-empty one.
      let mut sorted: Vec<View> = views.iter().copied().filter(|v| v.1 > 0).collect();
      sorted.sort_unstable_by_key(|v| v.0 as usize);
      if sorted.windows(2).any(|w| w[0].overlaps(w[1])) {
        return Err(c"socket2: recvMany's buffers overlap each other or meta");
      }
      views.pop();
      let mut bufs: Vec<&mut [u8]> = views.into_iter().map(|v| v.bytes_mut()).collect();
      Ok(socket::recv_many(env, id, &mut bufs, meta.bytes_mut()))
    })
  }
}

/// `sendVectored(id, bufs, offset, len)`: sends `len` bytes of the concatenation of `bufs`,
/// starting `offset` bytes into it, with one vectored send; see `socket::send_vectored`. A long
/// send passes the buffers not yet sent whole, so `offset` stays within the first; `len` is at
/// most 2^30, so the count fits the result.
unsafe extern "C" fn send_vectored(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  // SAFETY: the engine's own env and info; shared slices only (see `View::bytes`), taken after
  // every element was read (see `Args::elements`).
  unsafe {
    call(env, info, |a| {
      let (id, offset, len) = (a.u32(0)?, a.size(2)?, a.u32(3)?);
      let values = a.elements(1, usize::MAX)?;
      let bufs: Vec<&[u8]> = a.views(&values)?.into_iter().map(|v| v.bytes()).collect();
      Ok(socket::send_vectored(env, id, &bufs, offset, len))
    })
  }
}

/// `redrain()`: see `env::redrain`.
unsafe extern "C" fn redrain(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
  // SAFETY: the engine's own env and info; no argument is read.
  unsafe { call(env, info, |_| Ok(env::redrain(env))) }
}

/// `hubStats(out)`: writes `env::hub_stats` into `out`, the bytes of a `Float64Array` (as many
/// as fit, in native byte order, which is the array's); the count written, 0 where the poller
/// is no hub's.
unsafe extern "C" fn hub_stats(
  env: sys::napi_env,
  info: sys::napi_callback_info,
) -> sys::napi_value {
  // SAFETY: the engine's own env and info; the slice is `out`'s memory, alone, for this call.
  unsafe {
    call(env, info, |a| {
      let out = a.bytes_mut(0)?;
      let Some(counts) = env::hub_stats(env) else {
        return Ok(0);
      };
      let mut n = 0;
      for (dst, c) in out.chunks_exact_mut(8).zip(counts) {
        dst.copy_from_slice(&(c as f64).to_ne_bytes());
        n += 1;
      }
      Ok(n)
    })
  }
}

/// Adds the hot calls to the module's exports.
#[napi(module_exports)]
pub fn hot_calls(exports: Object, env: Env) -> Result<()> {
  let calls: [(&CStr, sys::napi_callback); 10] = [
    (c"send", Some(send)),
    (c"recv", Some(recv)),
    (c"sendTo", Some(send_to)),
    (c"recvFrom", Some(recv_from)),
    (c"sendText", Some(send_text)),
    (c"sendMany", Some(send_many)),
    (c"recvMany", Some(recv_many)),
    (c"sendVectored", Some(send_vectored)),
    (c"redrain", Some(redrain)),
    (c"hubStats", Some(hub_stats)),
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
