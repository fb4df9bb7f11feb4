//! Socket operations: each takes an id from `open`/`accept` and returns a number — a count,
//! an id, 0 for done, or a negated OS error number (the would-block sentinel among them).

use napi::{sys, Env};
use napi_derive::napi;
use socket2_core::poller::Origin;
use socket2_core::socket::{self, Address, Family, Kind};
use socket2_core::{error, options};

use crate::addr::{sockaddr, JsAddr};
use crate::env::with;

/// EBADF: the id is unknown, or the call came before init or after teardown.
fn not_ready() -> i32 {
  -error::EBADF
}

fn einval() -> i32 {
  -error::EINVAL
}

fn io_ret(r: std::io::Result<()>) -> i32 {
  match r {
    Ok(()) => 0,
    Err(e) => -error::errno_of(&e),
  }
}

/// Opens a socket of `kind` (`'tcp'|'udp'|'raw'`) and `family`; the id or `-errno`.
#[napi]
pub fn open(env: Env, kind: String, family: String, protocol: i32) -> i32 {
  let (Some(k), Some(f)) = (Kind::parse(&kind), Family::parse(&family)) else {
    return einval();
  };
  match socket::open(k, f, protocol) {
    Ok(s) => {
      let origin = Origin {
        kind: k,
        family: f,
        protocol,
      };
      with(env.raw(), |r| r.poller.insert(s, origin) as i32).unwrap_or_else(not_ready)
    }
    Err(e) => -error::errno_of(&e),
  }
}

/// Closes a socket (the kernel sends RST if unread data is pending or linger is 0, else FIN),
/// never waiting for a linger time (see [`socket::close`]).
#[napi]
pub fn close(env: Env, id: u32) -> i32 {
  with(env.raw(), |r| match r.poller.remove(id) {
    Some(s) => {
      socket::close(s);
      0
    }
    None => not_ready(),
  })
  .unwrap_or_else(not_ready)
}

/// Removes a socket without closing it: its OS descriptor (fd on Unix, SOCKET on Windows),
/// now the caller's, or `-errno` (`EBUSY` while a batch-received datagram is kept).
#[napi]
pub fn detach(env: Env, id: u32) -> i64 {
  with(env.raw(), |r| match r.poller.detach(id) {
    Ok(fd) => fd,
    Err(e) => e as i64,
  })
  .unwrap_or_else(|| not_ready() as i64)
}

/// What `adopt` made of a descriptor: the new id (or `-errno`) and the kind, family and
/// protocol the OS reported.
#[napi(object)]
pub struct Adopted {
  pub id: i32,
  pub kind: String,
  pub family: String,
  pub protocol: i32,
}

/// Takes over an open socket descriptor (see [`socket::adopt`]) into this thread's poller; a
/// `kind` other than `''` must match the socket's.
#[napi]
pub fn adopt(env: Env, fd: i64, kind: String) -> Adopted {
  let mut out = Adopted {
    id: not_ready(),
    kind: String::new(),
    family: String::new(),
    protocol: 0,
  };
  // Inside `with`: without a poller to hold it (after teardown) the descriptor is not taken,
  // as on every failure, rather than taken and closed.
  let adopted = with(env.raw(), |r| {
    let (s, kind, family, protocol) = socket::adopt(fd, Kind::parse(&kind))?;
    let origin = Origin {
      kind,
      family,
      protocol,
    };
    Ok::<_, std::io::Error>((r.poller.insert(s, origin), kind, family, protocol))
  });
  match adopted {
    Some(Ok((id, kind, family, protocol))) => {
      out.id = id as i32;
      out.kind = kind.name().into();
      out.family = family.name().into();
      out.protocol = protocol;
    }
    Some(Err(e)) => out.id = -error::errno_of(&e),
    None => {}
  }
  out
}

/// `offset..offset+len` of a buffer of `size` bytes, or `Err(-EFAULT)` when the buffer does not
/// hold it. JavaScript checks the bounds when the call is made, but a parked operation retries
/// with the buffer as it is then (detached or shrunk since), and a typed array's `byteLength`
/// can be shadowed by a property that lies: the range is refused rather than cut, so that no
/// syscall runs on fewer bytes than asked (a send of nothing would never finish, a receive
/// into nothing would read as end of stream).
fn span(size: usize, offset: u32, len: u32) -> Result<std::ops::Range<usize>, i32> {
  let start = offset as usize;
  match start.checked_add(len as usize) {
    Some(end) if end <= size => Ok(start..end),
    _ => Err(-error::EFAULT),
  }
}

fn on_socket(env: sys::napi_env, id: u32, f: impl FnOnce(&socket2::Socket) -> i32) -> i32 {
  with(env, |r| match r.poller.socket(id) {
    Ok(s) => f(s),
    Err(e) => -error::errno_of(&e),
  })
  .unwrap_or_else(not_ready)
}

/// Binds to an address.
#[napi]
pub fn bind(env: Env, id: u32, family: String, address: String, port: u32, scope_id: u32) -> i32 {
  match sockaddr(&family, &address, port, scope_id) {
    Ok(a) => on_socket(env.raw(), id, |s| io_ret(s.bind(&a))),
    Err(e) => e,
  }
}

/// Starts listening.
#[napi]
pub fn listen(env: Env, id: u32, backlog: i32) -> i32 {
  on_socket(env.raw(), id, |s| io_ret(s.listen(backlog)))
}

/// Starts a connection: 0 connected, the would-block sentinel (wait for writability, then
/// `finishConnect`), or `-errno`.
#[napi]
pub fn connect(
  env: Env,
  id: u32,
  family: String,
  address: String,
  port: u32,
  scope_id: u32,
) -> i32 {
  match sockaddr(&family, &address, port, scope_id) {
    Ok(a) => with(env.raw(), |r| r.poller.connect(id, &a)).unwrap_or_else(not_ready),
    Err(e) => e,
  }
}

/// Replaces a socket that failed to connect with a fresh one in the same slot: the new id, or
/// `-errno`.
#[napi]
pub fn reopen(env: Env, id: u32) -> i32 {
  with(env.raw(), |r| r.poller.reopen(id)).unwrap_or_else(not_ready)
}

/// Completes a connection after a writability wake-up.
#[napi(js_name = "finishConnect")]
pub fn finish_connect(env: Env, id: u32) -> i32 {
  with(env.raw(), |r| r.poller.finish_connect(id)).unwrap_or_else(not_ready)
}

/// Accepts a connection: the new socket's id or `-errno`. The peer's address, as accept(2)
/// reported it, is then available from `lastPeer` (getpeername would fail once the peer has
/// reset).
#[napi]
pub fn accept(env: Env, id: u32) -> i32 {
  with(env.raw(), |r| match r.poller.accept(id) {
    Ok((c, peer)) => {
      r.last_peer = Some(peer);
      c as i32
    }
    Err(e) => e,
  })
  .unwrap_or_else(not_ready)
}

/// The peer of the connection the last successful `accept` returned, or the sender of the last
/// datagram `recvFrom` returned.
#[napi(js_name = "lastPeer")]
pub fn last_peer(env: Env) -> JsAddr {
  with(env.raw(), |r| match &r.last_peer {
    Some(a) => JsAddr::of(a),
    None => JsAddr::error(error::EINVAL),
  })
  .unwrap_or_else(|| JsAddr::error(error::EBADF))
}

/// Receives one datagram into `buf[offset..offset+len]`: its length (the part that fit) or
/// `-errno`. `meta` receives `[truncated (0/1), wire length, sender's wire form...]` (see
/// `Address::to_wire`); the sender is also kept for `lastPeer`. Exported by `hot`.
pub fn recv_from(
  env: sys::napi_env,
  id: u32,
  buf: &mut [u8],
  offset: u32,
  len: u32,
  meta: &mut [u8],
) -> i32 {
  let range = match span(buf.len(), offset, len) {
    Ok(r) => r,
    Err(e) => return e,
  };
  if meta.len() < 2 {
    return einval();
  }
  with(env, |r| match r.poller.recv_from(id, &mut buf[range]) {
    Ok((n, from, cut)) => {
      meta[0] = cut as u8;
      meta[1] = Address::from_sockaddr(&from).to_wire(&mut meta[2..]) as u8;
      r.last_peer = Some(from);
      n as i32
    }
    Err(e) => e,
  })
  .unwrap_or_else(not_ready)
}

/// Sends `buf[offset..offset+len]` as one datagram to the address in wire form (see
/// `Address::to_wire`): the count or `-errno`. Exported by `hot`.
pub fn send_to(env: sys::napi_env, id: u32, buf: &[u8], offset: u32, len: u32, to: &[u8]) -> i32 {
  let to = Address::from_wire(to).and_then(|a| a.to_sockaddr().map_err(|e| -error::errno_of(&e)));
  match (span(buf.len(), offset, len), to) {
    (Ok(range), Ok(a)) => {
      with(env, |r| r.poller.send_to(id, &buf[range], &a)).unwrap_or_else(not_ready)
    }
    (Err(e), _) | (_, Err(e)) => e,
  }
}

/// Bytes per datagram in `recvMany`'s meta: its length (an `i32` in the machine's byte order),
/// whether it was cut (0/1), the length of the sender's wire form, and that form (see
/// `Address::to_wire`) in room for the longest, 128 bytes.
pub const META_STRIDE: usize = 136;

/// Sends datagrams, each `(bytes, address in wire form)` or, without an address, to the
/// connected peer: how many went or `-errno` (see `Poller::send_many`); `-EINVAL` for bytes
/// that are no address. Exported by `hot`.
pub fn send_many(env: sys::napi_env, id: u32, msgs: &[(&[u8], Option<&[u8]>)]) -> i32 {
  let mut to = Vec::with_capacity(msgs.len());
  for (_, wire) in msgs {
    to.push(match wire {
      Some(w) => match Address::from_wire(w)
        .and_then(|a| a.to_sockaddr().map_err(|e| -error::errno_of(&e)))
      {
        Ok(a) => Some(a),
        Err(e) => return e,
      },
      None => None,
    });
  }
  let out: Vec<(&[u8], Option<&socket2::SockAddr>)> = msgs
    .iter()
    .zip(&to)
    .map(|((b, _), a)| (*b, a.as_ref()))
    .collect();
  with(env, |r| r.poller.send_many(id, &out)).unwrap_or_else(not_ready)
}

/// Receives up to `bufs.len()` datagrams, one per buffer: their count or `-errno` (see
/// `Poller::recv_many`). Record `i` of `meta` (`META_STRIDE` bytes each) describes datagram
/// `i`; the senders are kept for `receivedFrom`. Exported by `hot`.
pub fn recv_many(env: sys::napi_env, id: u32, bufs: &mut [&mut [u8]], meta: &mut [u8]) -> i32 {
  let n = bufs.len().min(meta.len() / META_STRIDE);
  let bufs = &mut bufs[..n];
  with(env, |r| {
    match r.poller.recv_many(id, bufs, &mut r.received) {
      Ok(()) => {
        for ((n, from, cut), rec) in r.received.iter().zip(meta.chunks_exact_mut(META_STRIDE)) {
          rec[..4].copy_from_slice(&(*n as i32).to_ne_bytes());
          rec[4] = *cut as u8;
          rec[5] = Address::from_sockaddr(from).to_wire(&mut rec[6..]) as u8;
        }
        r.received.len() as i32
      }
      Err(e) => e,
    }
  })
  .unwrap_or_else(not_ready)
}

/// The sender of datagram `i` of the last `recvMany`.
#[napi(js_name = "receivedFrom")]
pub fn received_from(env: Env, i: u32) -> JsAddr {
  with(env.raw(), |r| match r.received.get(i as usize) {
    Some((_, from, _)) => JsAddr::of(from),
    None => JsAddr::error(error::EINVAL),
  })
  .unwrap_or_else(|| JsAddr::error(error::EBADF))
}

/// Sends `len` bytes of the concatenation of `bufs`, starting `offset` bytes into it, with one
/// vectored send: the count sent or `-errno`; `-EFAULT` when the buffers hold fewer bytes.
/// Exported by `hot`.
pub fn send_vectored(env: sys::napi_env, id: u32, bufs: &[&[u8]], offset: usize, len: u32) -> i32 {
  let (mut skip, mut left) = (offset, len as usize);
  let mut parts = Vec::new();
  for b in bufs {
    if left == 0 || parts.len() == socket2_core::socket::MAX_IOV {
      break;
    }
    if skip >= b.len() {
      skip -= b.len();
      continue;
    }
    let part = &b[skip..b.len().min(skip + left)];
    skip = 0;
    left -= part.len();
    parts.push(std::io::IoSlice::new(part));
  }
  if left > 0 && parts.len() < socket2_core::socket::MAX_IOV {
    return -error::EFAULT;
  }
  with(env, |r| r.poller.send_vectored(id, &parts)).unwrap_or_else(not_ready)
}

/// Sends `buf[offset..offset+len]`: the count sent or `-errno`. Exported by `hot`.
pub fn send(env: sys::napi_env, id: u32, buf: &[u8], offset: u32, len: u32) -> i32 {
  match span(buf.len(), offset, len) {
    Ok(range) => with(env, |r| r.poller.send(id, &buf[range])).unwrap_or_else(not_ready),
    Err(e) => e,
  }
}

/// Receives into `buf[offset..offset+len]`: the count (0 = end of stream) or `-errno`.
/// Exported by `hot`.
pub fn recv(env: sys::napi_env, id: u32, buf: &mut [u8], offset: u32, len: u32) -> i32 {
  match span(buf.len(), offset, len) {
    Ok(range) => with(env, |r| r.poller.recv(id, &mut buf[range])).unwrap_or_else(not_ready),
    Err(e) => e,
  }
}

/// `shutdown(2)`: `how` is `'r'`, `'w'` or `'rw'`.
#[napi]
pub fn shutdown(env: Env, id: u32, how: String) -> i32 {
  on_socket(env.raw(), id, |s| io_ret(socket::shutdown(s, &how)))
}

/// The bound (`peer` false) or connected (`peer` true) address; `errno` set on failure.
#[napi]
pub fn address(env: Env, id: u32, peer: bool) -> JsAddr {
  with(env.raw(), |r| {
    let a = if peer {
      r.poller.socket(id).and_then(|s| s.peer_addr())
    } else {
      r.poller.local_addr(id)
    };
    match a {
      Ok(a) => JsAddr::of(&a),
      Err(e) => JsAddr::error(error::errno_of(&e)),
    }
  })
  .unwrap_or_else(|| JsAddr::error(-not_ready()))
}

/// The OS descriptor (fd on Unix, SOCKET on Windows) or `-errno`.
#[napi]
pub fn fd(env: Env, id: u32) -> i64 {
  #[cfg(unix)]
  use std::os::fd::AsRawFd as AsRaw;
  #[cfg(windows)]
  use std::os::windows::io::AsRawSocket as AsRaw;
  with(env.raw(), |r| match r.poller.socket(id) {
    #[cfg(unix)]
    Ok(s) => s.as_raw_fd() as i64,
    #[cfg(windows)]
    Ok(s) => s.as_raw_socket() as i64,
    Err(e) => -(error::errno_of(&e) as i64),
  })
  .unwrap_or_else(|| not_ready() as i64)
}

/// One row of the option table, for JavaScript's validation.
#[napi(object)]
pub struct OptionRow {
  pub name: String,
  pub kind: String,
  pub platforms: String,
  pub supported: bool,
  pub settable: bool,
  pub readable: bool,
}

/// The option table.
#[napi(js_name = "optionTable")]
pub fn option_table() -> Vec<OptionRow> {
  options::table()
    .iter()
    .map(|o| OptionRow {
      name: o.name.into(),
      kind: o.kind.name().into(),
      platforms: o.platforms.into(),
      supported: o.supported,
      settable: o.set.is_some() || o.set_text.is_some(),
      readable: o.get.is_some() || o.get_text.is_some(),
    })
    .collect()
}

/// Sets an option (JavaScript validated the name and the value's type): 0 or `-errno`.
#[napi]
pub fn setopt(env: Env, id: u32, name: String, value: f64) -> i32 {
  let Some(set) = options::find(&name).and_then(|o| o.set) else {
    return einval();
  };
  on_socket(env.raw(), id, |s| io_ret(set(s, value)))
}

/// Sets a text-valued option (device or algorithm name, address, multicast membership).
#[napi(js_name = "setoptText")]
pub fn setopt_text(env: Env, id: u32, name: String, value: String) -> i32 {
  let Some(set) = options::find(&name).and_then(|o| o.set_text) else {
    return einval();
  };
  on_socket(env.raw(), id, |s| io_ret(set(s, &value)))
}

/// A text option's value, or `errno` on failure.
#[napi(object)]
pub struct OptText {
  pub value: String,
  pub errno: i32,
}

/// Reads a text-valued option.
#[napi(js_name = "getoptText")]
pub fn getopt_text(env: Env, id: u32, name: String) -> OptText {
  let mut out = OptText {
    value: String::new(),
    errno: -einval(),
  };
  if let Some(get) = options::find(&name).and_then(|o| o.get_text) {
    out.errno = -on_socket(env.raw(), id, |s| match get(s) {
      Ok(v) => {
        out.value = v;
        0
      }
      Err(e) => -error::errno_of(&e),
    });
  }
  out
}

/// An option's value, or `errno` on failure.
#[napi(object)]
pub struct OptValue {
  pub value: f64,
  pub errno: i32,
}

/// Reads an option.
#[napi]
pub fn getopt(env: Env, id: u32, name: String) -> OptValue {
  let Some(get) = options::find(&name).and_then(|o| o.get) else {
    return OptValue {
      value: 0.0,
      errno: -einval(),
    };
  };
  let mut out = OptValue {
    value: 0.0,
    errno: 0,
  };
  let e = on_socket(env.raw(), id, |s| match get(s) {
    Ok(v) => {
      out.value = v;
      0
    }
    Err(e) => -error::errno_of(&e),
  });
  out.errno = -e;
  out
}
