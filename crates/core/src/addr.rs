//! Address lookup: getaddrinfo(3) with the seed's hints, run by the caller off the JS thread.
//!
//! IP literals never come here from JavaScript (they take a synchronous fast path there), but
//! the function handles them like getaddrinfo does, so Rust callers get one behaviour.

use std::net::SocketAddr;

use dns_lookup::{AddrInfoHints, LookupErrorKind};

use crate::error::{errno_of, Errno};
use crate::sys;

/// What getaddrinfo is asked for. Zero means "any" for every field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
  /// `AF_INET`, `AF_INET6` or 0.
  pub family: i32,
  /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW` or 0.
  pub socktype: i32,
  /// An `IPPROTO_*` number or 0.
  pub protocol: i32,
  /// `AI_*` bits, from [`flag`].
  pub flags: i32,
}

/// One resolved address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
  /// `AF_INET` or `AF_INET6`.
  pub family: i32,
  /// `SOCK_*`.
  pub socktype: i32,
  /// `IPPROTO_*`.
  pub protocol: i32,
  /// The address and port.
  pub addr: SocketAddr,
  /// The canonical name, on the first entry, when `canonname` was asked for.
  pub canonname: Option<String>,
}

/// Why a lookup failed: the getaddrinfo error by its C name (`EAI_NONAME`), and the OS
/// error number behind `EAI_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupError {
  /// `EAI_AGAIN`, `EAI_NONAME`, `EAI_SERVICE`, ... (`EAI_SYSTEM` carries `errno`).
  pub code: &'static str,
  /// The OS error number for `EAI_SYSTEM`, else 0.
  pub errno: Errno,
}

/// The `AI_*` bit of a seed flag name (`'passive'`, `'canonname'` or the seed's spelling
/// `'cannonname'`, `'numerichost'`, `'numericserv'`, `'all'`, `'v4mapped'`, `'addrconfig'`).
pub fn flag(name: &str) -> Option<i32> {
  let name = if name == "cannonname" {
    "canonname"
  } else {
    name
  };
  sys::AI_FLAGS
    .iter()
    .find(|(n, _)| *n == name)
    .map(|(_, v)| *v)
}

/// Resolves `host` (`None`: the loopback address, or the wildcard with `passive`) and
/// `service` (a port number or a service name such as `"http"`).
///
/// Blocks: call it from a worker thread, never from the JS thread.
///
/// # Errors
/// A [`LookupError`] naming the getaddrinfo error (`EAI_NONAME` for an unknown host or a
/// non-numeric host with `numerichost`).
pub fn lookup(
  host: Option<&str>,
  service: Option<&str>,
  hints: Hints,
) -> Result<Vec<Entry>, LookupError> {
  let h = AddrInfoHints {
    flags: hints.flags,
    address: hints.family,
    socktype: hints.socktype,
    protocol: hints.protocol,
  };
  // getaddrinfo refuses every service for SOCK_RAW (a raw socket has no port), so none is given.
  let service = if hints.socktype == crate::Kind::Raw.raw() && host.is_some() {
    None
  } else {
    service.or(Some("0"))
  };
  let iter = dns_lookup::getaddrinfo(host, service, Some(h)).map_err(|e| {
    if e.error_num() == sys::EAI_ADDRFAMILY {
      return LookupError {
        code: "EAI_ADDRFAMILY",
        errno: 0,
      };
    }
    let kind = e.kind();
    let errno = if matches!(kind, LookupErrorKind::System | LookupErrorKind::IO) {
      errno_of(&std::io::Error::from(e))
    } else {
      0
    };
    LookupError {
      code: code_of(kind),
      errno,
    }
  })?;
  // Entries of families other than IPv4/IPv6 are skipped, as a socket could not use them.
  Ok(
    iter
      .filter_map(Result::ok)
      .map(|a| Entry {
        family: a.address,
        socktype: a.socktype,
        // Some getaddrinfo implementations leave the protocol 0 ("the type's default");
        // name it, as the answers for IP literals do.
        protocol: if a.protocol != 0 {
          a.protocol
        } else {
          default_protocol(a.socktype)
        },
        addr: a.sockaddr,
        canonname: a.canonname,
      })
      .collect(),
  )
}

/// The protocol a socket of `socktype` gets when it asks for none: TCP for streams, UDP for
/// datagrams, 0 (none) for raw sockets.
fn default_protocol(socktype: i32) -> i32 {
  if socktype == crate::Kind::Tcp.raw() {
    6 // IPPROTO_TCP
  } else if socktype == crate::Kind::Udp.raw() {
    17 // IPPROTO_UDP
  } else {
    0
  }
}

fn code_of(kind: LookupErrorKind) -> &'static str {
  match kind {
    LookupErrorKind::Again => "EAI_AGAIN",
    LookupErrorKind::Badflags => "EAI_BADFLAGS",
    LookupErrorKind::NoName => "EAI_NONAME",
    LookupErrorKind::NoData => "EAI_NODATA",
    LookupErrorKind::Fail => "EAI_FAIL",
    LookupErrorKind::Family => "EAI_FAMILY",
    LookupErrorKind::Socktype => "EAI_SOCKTYPE",
    LookupErrorKind::Service => "EAI_SERVICE",
    LookupErrorKind::Memory => "EAI_MEMORY",
    LookupErrorKind::System | LookupErrorKind::IO => "EAI_SYSTEM",
    LookupErrorKind::Unknown => "EAI_FAIL",
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{Family, Kind};

  fn tcp(family: Family, flags: i32) -> Hints {
    Hints {
      family: family.raw(),
      socktype: Kind::Tcp.raw(),
      protocol: 0,
      flags,
    }
  }

  #[test]
  fn numeric_v4_and_v6() {
    let r = lookup(Some("127.0.0.1"), Some("80"), tcp(Family::Inet, 0)).unwrap();
    assert_eq!(r[0].addr, "127.0.0.1:80".parse().unwrap());
    let r = lookup(Some("::1"), Some("80"), tcp(Family::Inet6, 0)).unwrap();
    assert_eq!(r[0].addr, "[::1]:80".parse().unwrap());
  }

  #[test]
  fn no_host_is_loopback_or_wildcard() {
    let r = lookup(None, Some("5"), tcp(Family::Inet, 0)).unwrap();
    assert_eq!(r[0].addr, "127.0.0.1:5".parse().unwrap());
    let p = flag("passive").unwrap();
    let r = lookup(None, Some("5"), tcp(Family::Inet, p)).unwrap();
    assert_eq!(r[0].addr, "0.0.0.0:5".parse().unwrap());
  }

  #[test]
  fn service_names_resolve() {
    // /etc/services is part of every Unix base system; Windows has its own copy.
    let r = lookup(Some("127.0.0.1"), Some("http"), tcp(Family::Inet, 0)).unwrap();
    assert_eq!(r[0].addr.port(), 80);
  }

  #[test]
  fn raw_lookups_need_no_service() {
    let h = Hints {
      family: Family::Inet.raw(),
      socktype: Kind::Raw.raw(),
      protocol: 1,
      flags: 0,
    };
    let r = lookup(Some("localhost"), Some("0"), h).unwrap();
    assert_eq!(r[0].addr.ip(), std::net::Ipv4Addr::LOCALHOST);
  }

  #[test]
  fn numerichost_rejects_names() {
    let f = flag("numerichost").unwrap();
    let e = lookup(Some("localhost"), Some("1"), tcp(Family::Inet, f)).unwrap_err();
    assert_eq!(e.code, "EAI_NONAME");
  }

  #[test]
  fn literal_of_the_other_family_is_named() {
    let e = lookup(Some("::1"), Some("1"), tcp(Family::Inet, 0)).unwrap_err();
    assert!(
      e.code == "EAI_ADDRFAMILY" || e.code == "EAI_NONAME",
      "{e:?}"
    );
  }

  #[test]
  fn seed_spelling_of_canonname() {
    assert_eq!(flag("cannonname"), flag("canonname"));
    assert!(flag("bogus").is_none());
  }
}
