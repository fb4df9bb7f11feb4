//! Addresses across the boundary, and lookups on libuv's thread pool.

use std::net::{IpAddr, SocketAddr, SocketAddrV6};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use socket2::SockAddr;
use socket2_core::addr::{self, Hints};
use socket2_core::socket::Address;

/// An address as JavaScript sees it. `family` is `'inet'`, `'inet6'` or `'unix'`; for unix
/// sockets `address` is the path (a leading NUL for a Linux abstract name) and `port` is 0.
/// `errno` is non-zero when the address could not be read.
#[napi(object)]
pub struct JsAddr {
  pub family: String,
  pub address: String,
  pub port: u32,
  pub scope_id: u32,
  pub flowinfo: u32,
  pub errno: i32,
}

impl JsAddr {
  pub fn error(errno: i32) -> JsAddr {
    JsAddr {
      family: String::new(),
      address: String::new(),
      port: 0,
      scope_id: 0,
      flowinfo: 0,
      errno,
    }
  }

  pub fn of(a: &SockAddr) -> JsAddr {
    match Address::from_sockaddr(a) {
      Address::Ip(SocketAddr::V4(v4)) => JsAddr {
        family: "inet".into(),
        address: v4.ip().to_string(),
        port: v4.port().into(),
        ..JsAddr::error(0)
      },
      Address::Ip(SocketAddr::V6(v6)) => JsAddr {
        family: "inet6".into(),
        address: v6.ip().to_string(),
        port: v6.port().into(),
        scope_id: v6.scope_id(),
        flowinfo: v6.flowinfo(),
        errno: 0,
      },
      Address::Unix(p) => JsAddr {
        family: "unix".into(),
        address: p
          .map(|p| String::from_utf8_lossy(&p).into_owned())
          .unwrap_or_default(),
        ..JsAddr::error(0)
      },
    }
  }
}

/// Builds an OS address from the parts JavaScript validated.
///
/// # Errors
/// `-EINVAL` for an unparsable IP, `-ENAMETOOLONG` for a long unix path.
pub fn sockaddr(
  family: &str,
  address: &str,
  port: u32,
  scope_id: u32,
) -> std::result::Result<SockAddr, i32> {
  let einval = -socket2_core::error::EINVAL;
  let a = if family == "unix" {
    Address::Unix(Some(address.as_bytes().to_vec()))
  } else {
    let ip: IpAddr = address.parse().map_err(|_| einval)?;
    let port = u16::try_from(port).map_err(|_| einval)?;
    Address::Ip(match ip {
      IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, scope_id)),
      v4 => SocketAddr::new(v4, port),
    })
  };
  a.to_sockaddr()
    .map_err(|e| -socket2_core::error::errno_of(&e))
}

/// Writes the wire form of an address given as text into `out`: its length, or `-errno`.
#[napi(js_name = "encodeAddress")]
pub fn encode_address(
  family: String,
  address: String,
  port: u32,
  scope_id: u32,
  mut out: Uint8ArraySlice,
) -> i32 {
  // SAFETY: as in socket::recv: a live typed array, JavaScript suspended for the call.
  let out = unsafe { out.as_mut() };
  match sockaddr(&family, &address, port, scope_id) {
    Ok(a) => Address::from_sockaddr(&a).to_wire(out) as i32,
    Err(e) => e,
  }
}

/// One resolved address.
#[napi(object)]
pub struct JsEntry {
  pub family: String,
  pub socktype: i32,
  pub protocol: i32,
  pub address: String,
  pub port: u32,
  pub scope_id: u32,
  pub canonname: Option<String>,
}

/// A lookup's outcome: `entries`, or `code` (`EAI_NONAME`...) with `errno` for `EAI_SYSTEM`.
#[napi(object)]
pub struct LookupResult {
  pub entries: Vec<JsEntry>,
  pub code: Option<String>,
  pub errno: i32,
}

fn run(host: Option<&str>, service: Option<&str>, hints: Hints) -> LookupResult {
  match addr::lookup(host, service, hints) {
    Ok(v) => LookupResult {
      entries: v
        .into_iter()
        .map(|e| {
          let (family, scope_id) = match e.addr {
            SocketAddr::V4(_) => ("inet", 0),
            SocketAddr::V6(a) => ("inet6", a.scope_id()),
          };
          JsEntry {
            family: family.into(),
            socktype: e.socktype,
            protocol: e.protocol,
            address: e.addr.ip().to_string(),
            port: e.addr.port().into(),
            scope_id,
            canonname: e.canonname,
          }
        })
        .collect(),
      code: None,
      errno: 0,
    },
    Err(e) => LookupResult {
      entries: Vec::new(),
      code: Some(e.code.into()),
      errno: e.errno,
    },
  }
}

/// A getaddrinfo call for the thread pool.
pub struct Lookup {
  host: Option<String>,
  service: Option<String>,
  hints: Hints,
}

impl Task for Lookup {
  type Output = LookupResult;
  type JsValue = LookupResult;

  fn compute(&mut self) -> Result<LookupResult> {
    Ok(run(
      self.host.as_deref(),
      self.service.as_deref(),
      self.hints,
    ))
  }

  fn resolve(&mut self, _env: Env, out: LookupResult) -> Result<LookupResult> {
    Ok(out)
  }
}

fn hints(family: i32, socktype: i32, protocol: i32, flags: i32) -> Hints {
  Hints {
    family,
    socktype,
    protocol,
    flags,
  }
}

/// Resolves off the JavaScript thread. Numbers are the OS's `AF_*`, `SOCK_*`, `IPPROTO_*`
/// and `AI_*` values (see `constants`).
#[napi(ts_return_type = "Promise<LookupResult>")]
pub fn lookup(
  host: Option<String>,
  service: Option<String>,
  family: i32,
  socktype: i32,
  protocol: i32,
  flags: i32,
) -> AsyncTask<Lookup> {
  AsyncTask::new(Lookup {
    host,
    service,
    hints: hints(family, socktype, protocol, flags),
  })
}

/// Resolves on the calling thread (blocks it).
#[napi(js_name = "lookupSync")]
pub fn lookup_sync(
  host: Option<String>,
  service: Option<String>,
  family: i32,
  socktype: i32,
  protocol: i32,
  flags: i32,
) -> LookupResult {
  run(
    host.as_deref(),
    service.as_deref(),
    hints(family, socktype, protocol, flags),
  )
}

/// The OS numbers JavaScript needs for lookups and error names.
#[napi(object)]
pub struct Constants {
  pub af_inet: i32,
  pub af_inet6: i32,
  pub sock_stream: i32,
  pub sock_dgram: i32,
  pub sock_raw: i32,
  pub ai_flags: Vec<String>,
  pub ai_values: Vec<i32>,
  /// Readiness bits of dispatched events, and the index part of a socket id.
  pub read_bit: i32,
  pub write_bit: i32,
  pub index_mask: u32,
  /// The most datagrams `sendMany`/`recvMany` take, and the bytes per datagram of the
  /// latter's meta.
  pub max_batch: u32,
  pub meta_stride: u32,
}

/// The OS numbers for families, kinds and getaddrinfo flags, and the poller's event layout.
#[napi]
pub fn constants() -> Constants {
  use socket2_core::{Family, Kind};
  let names = [
    "passive",
    "canonname",
    "numerichost",
    "numericserv",
    "all",
    "v4mapped",
    "addrconfig",
  ];
  Constants {
    af_inet: Family::Inet.raw(),
    af_inet6: Family::Inet6.raw(),
    sock_stream: Kind::Tcp.raw(),
    sock_dgram: Kind::Udp.raw(),
    sock_raw: Kind::Raw.raw(),
    ai_flags: names.iter().map(|s| s.to_string()).collect(),
    ai_values: names.iter().map(|n| addr::flag(n).unwrap_or(0)).collect(),
    read_bit: socket2_core::Bits::READ,
    write_bit: socket2_core::Bits::WRITE,
    index_mask: socket2_core::poller::INDEX_MASK,
    max_batch: socket2_core::poller::MAX_BATCH as u32,
    meta_stride: crate::socket::META_STRIDE as u32,
  }
}
