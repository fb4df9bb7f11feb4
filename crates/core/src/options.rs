//! The socket option table: the seed's option names (`so_reuseaddr`, `tcp_nodelay`...) mapped
//! to `socket2` getters and setters, with the value kind JavaScript must pass, and the
//! platforms where each exists. Sorted by option level, then by C constant name.
//!
//! Values cross as `f64`: booleans as 0/1, integers as themselves, durations in seconds,
//! `so_linger` as seconds or -1 for "off" (JavaScript `false`).
//!
//! Notes: getting `so_error` clears the pending error, as `getsockopt(SO_ERROR)` does. The
//! keepalive knobs (`tcp_keepidle`, `tcp_keepintvl`, `tcp_keepcnt`) set only themselves:
//! `so_keepalive` keeps its value.

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use socket2::Socket;

/// The type of an option's value in JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
  /// `true`/`false`.
  Bool,
  /// A non-negative integer.
  Int,
  /// A duration in seconds (fractions allowed); 0 means none.
  Seconds,
  /// Seconds to linger on close, or `false` for the default (no linger).
  Linger,
}

impl OptionKind {
  /// The kind's name as JavaScript's validation reports it.
  pub fn name(self) -> &'static str {
    match self {
      OptionKind::Bool => "boolean",
      OptionKind::Int => "integer",
      OptionKind::Seconds => "seconds",
      OptionKind::Linger => "linger",
    }
  }
}

type Getter = fn(&Socket) -> io::Result<f64>;
type Setter = fn(&Socket, f64) -> io::Result<()>;

/// One row of the option table.
#[derive(Debug, Clone, Copy)]
pub struct SockOpt {
  /// The seed's name, e.g. `so_reuseaddr`.
  pub name: &'static str,
  /// The value type.
  pub kind: OptionKind,
  /// Where the option exists, for the "not on this platform" error and the README.
  pub platforms: &'static str,
  /// `None` when the option is absent on this platform.
  pub get: Option<Getter>,
  /// `None` when read-only or absent on this platform.
  pub set: Option<Setter>,
  /// Whether the option exists on this platform.
  pub supported: bool,
}

/// Adds a row, live where `$cfg` holds, and recorded as absent elsewhere so the error can
/// name the platforms that have it.
macro_rules! row {
  ($t:ident, $cfg:meta, $plat:literal, $name:literal, $kind:ident, $get:expr, $set:expr) => {
    #[cfg($cfg)]
    $t.push(SockOpt {
      name: $name,
      kind: OptionKind::$kind,
      platforms: $plat,
      get: Some($get),
      set: $set,
      supported: true,
    });
    #[cfg(not($cfg))]
    $t.push(SockOpt {
      name: $name,
      kind: OptionKind::$kind,
      platforms: $plat,
      get: None,
      set: None,
      supported: false,
    });
  };
}

fn b(v: bool) -> f64 {
  if v {
    1.0
  } else {
    0.0
  }
}

fn secs(d: Option<Duration>) -> f64 {
  d.map_or(0.0, |d| d.as_secs_f64())
}

fn dur(v: f64) -> Option<Duration> {
  (v > 0.0).then(|| Duration::from_secs_f64(v))
}

/// Sets one keepalive parameter without the side effect of socket2's `set_tcp_keepalive`, which
/// also turns `SO_KEEPALIVE` on: one option, one effect.
#[allow(dead_code)] // unused where the platform has none of the knobs
fn keepalive_knob(s: &Socket, k: socket2::TcpKeepalive) -> io::Result<()> {
  let was_on = s.keepalive()?;
  s.set_tcp_keepalive(&k)?;
  if !was_on {
    s.set_keepalive(false)?;
  }
  Ok(())
}

fn uint(v: f64) -> u32 {
  // JavaScript validated the range; saturate rather than wrap if it did not.
  v.clamp(0.0, u32::MAX as f64) as u32
}

// TcpKeepalive is unused on platforms without the keepalive knobs; the pushes are cfg'd row by
// row, which a vec![] literal cannot express.
#[allow(unused_imports, clippy::vec_init_then_push)]
fn build() -> Vec<SockOpt> {
  use socket2::TcpKeepalive;
  let mut t = Vec::new();
  // SOL_SOCKET
  row!(
    t,
    unix,
    "Linux, macOS, BSD",
    "so_acceptconn",
    Bool,
    |s| s.is_listener().map(b),
    None
  );
  row!(
    t,
    all(),
    "all",
    "so_broadcast",
    Bool,
    |s| s.broadcast().map(b),
    Some(|s, v| s.set_broadcast(v != 0.0))
  );
  row!(
    t,
    all(),
    "all",
    "so_error",
    Int,
    |s| s
      .take_error()
      .map(|e| e.map_or(0.0, |e| crate::errno_of(&e) as f64)),
    None
  );
  row!(
    t,
    all(),
    "all",
    "so_keepalive",
    Bool,
    |s| s.keepalive().map(b),
    Some(|s, v| s.set_keepalive(v != 0.0))
  );
  row!(
    t,
    all(),
    "all",
    "so_linger",
    Linger,
    |s| s.linger().map(|l| l.map_or(-1.0, |d| d.as_secs_f64())),
    Some(|s, v| s.set_linger((v >= 0.0).then(|| Duration::from_secs_f64(v))))
  );
  row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "so_mark",
    Int,
    |s| s.mark().map(f64::from),
    Some(|s, v| s.set_mark(uint(v)))
  );
  row!(
    t,
    all(),
    "all",
    "so_oobinline",
    Bool,
    |s| s.out_of_band_inline().map(b),
    Some(|s, v| s.set_out_of_band_inline(v != 0.0))
  );
  row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "so_priority",
    Int,
    |s| s.priority().map(f64::from),
    Some(|s, v| s.set_priority(uint(v)))
  );
  row!(
    t,
    all(),
    "all",
    "so_rcvbuf",
    Int,
    |s| s.recv_buffer_size().map(|n| n as f64),
    Some(|s, v| s.set_recv_buffer_size(uint(v) as usize))
  );
  row!(
    t,
    all(),
    "all",
    "so_rcvtimeo",
    Seconds,
    |s| s.read_timeout().map(secs),
    Some(|s, v| s.set_read_timeout(dur(v)))
  );
  row!(
    t,
    all(),
    "all",
    "so_reuseaddr",
    Bool,
    |s| s.reuse_address().map(b),
    Some(|s, v| s.set_reuse_address(v != 0.0))
  );
  row!(
    t,
    all(
      unix,
      not(any(
        target_os = "solaris",
        target_os = "illumos",
        target_os = "cygwin"
      ))
    ),
    "Linux, macOS, BSD",
    "so_reuseport",
    Bool,
    |s| s.reuse_port().map(b),
    Some(|s, v| s.set_reuse_port(v != 0.0))
  );
  row!(
    t,
    all(),
    "all",
    "so_sndbuf",
    Int,
    |s| s.send_buffer_size().map(|n| n as f64),
    Some(|s, v| s.set_send_buffer_size(uint(v) as usize))
  );
  row!(
    t,
    all(),
    "all",
    "so_sndtimeo",
    Seconds,
    |s| s.write_timeout().map(secs),
    Some(|s, v| s.set_write_timeout(dur(v)))
  );
  row!(
    t,
    all(),
    "all",
    "so_type",
    Int,
    |s| s.r#type().map(|t| i32::from(t) as f64),
    None
  );
  // IPPROTO_IP
  row!(
    t,
    all(),
    "all",
    "ip_multicast_loop",
    Bool,
    |s| s.multicast_loop_v4().map(b),
    Some(|s, v| s.set_multicast_loop_v4(v != 0.0))
  );
  row!(
    t,
    all(),
    "all",
    "ip_multicast_ttl",
    Int,
    |s| s.multicast_ttl_v4().map(f64::from),
    Some(|s, v| s.set_multicast_ttl_v4(uint(v)))
  );
  row!(
    t,
    not(any(
      target_os = "fuchsia",
      target_os = "redox",
      target_os = "solaris",
      target_os = "illumos"
    )),
    "Linux, macOS, BSD, Windows",
    "ip_tos",
    Int,
    |s| s.tos_v4().map(f64::from),
    Some(|s, v| s.set_tos_v4(uint(v)))
  );
  row!(
    t,
    all(),
    "all",
    "ip_ttl",
    Int,
    |s| s.ttl_v4().map(f64::from),
    Some(|s, v| s.set_ttl_v4(uint(v)))
  );
  // IPPROTO_IPV6
  row!(
    t,
    all(),
    "all",
    "ipv6_multicast_hops",
    Int,
    |s| s.multicast_hops_v6().map(f64::from),
    Some(|s, v| s.set_multicast_hops_v6(uint(v)))
  );
  row!(
    t,
    all(),
    "all",
    "ipv6_multicast_loop",
    Bool,
    |s| s.multicast_loop_v6().map(b),
    Some(|s, v| s.set_multicast_loop_v6(v != 0.0))
  );
  row!(
    t,
    all(),
    "all",
    "ipv6_unicast_hops",
    Int,
    |s| s.unicast_hops_v6().map(f64::from),
    Some(|s, v| s.set_unicast_hops_v6(uint(v)))
  );
  row!(
    t,
    all(),
    "all",
    "ipv6_v6only",
    Bool,
    |s| s.only_v6().map(b),
    Some(|s, v| s.set_only_v6(v != 0.0))
  );
  // IPPROTO_TCP
  row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "tcp_cork",
    Bool,
    |s| s.tcp_cork().map(b),
    Some(|s, v| s.set_tcp_cork(v != 0.0))
  );
  row!(
    t,
    all(not(target_os = "openbsd"), unix),
    "Linux, macOS, FreeBSD",
    "tcp_keepcnt",
    Int,
    |s| s.tcp_keepalive_retries().map(f64::from),
    Some(|s, v| keepalive_knob(s, TcpKeepalive::new().with_retries(uint(v))))
  );
  row!(
    t,
    all(not(target_os = "openbsd"), unix),
    "Linux, macOS, FreeBSD",
    "tcp_keepidle",
    Seconds,
    |s| s.tcp_keepalive_time().map(|d| d.as_secs_f64()),
    Some(|s, v| keepalive_knob(
      s,
      TcpKeepalive::new().with_time(Duration::from_secs_f64(v.max(1.0)))
    ))
  );
  row!(
    t,
    all(not(target_os = "openbsd"), unix),
    "Linux, macOS, FreeBSD",
    "tcp_keepintvl",
    Seconds,
    |s| s.tcp_keepalive_interval().map(|d| d.as_secs_f64()),
    Some(|s, v| keepalive_knob(
      s,
      TcpKeepalive::new().with_interval(Duration::from_secs_f64(v.max(1.0)))
    ))
  );
  row!(
    t,
    all(unix, not(target_os = "redox")),
    "Linux, macOS, BSD",
    "tcp_maxseg",
    Int,
    |s| s.tcp_mss().map(f64::from),
    Some(|s, v| s.set_tcp_mss(uint(v)))
  );
  row!(
    t,
    all(),
    "all",
    "tcp_nodelay",
    Bool,
    |s| s.tcp_nodelay().map(b),
    Some(|s, v| s.set_tcp_nodelay(v != 0.0))
  );
  row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "tcp_quickack",
    Bool,
    |s| s.tcp_quickack().map(b),
    Some(|s, v| s.set_tcp_quickack(v != 0.0))
  );
  row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "tcp_user_timeout",
    Seconds,
    |s| s.tcp_user_timeout().map(secs),
    Some(|s, v| s.set_tcp_user_timeout(dur(v)))
  );
  t
}

/// The whole table, this platform's rows live and the others marked unsupported.
pub fn table() -> &'static [SockOpt] {
  static TABLE: OnceLock<Vec<SockOpt>> = OnceLock::new();
  TABLE.get_or_init(build)
}

/// The row for `name`, or `None` for a name the table does not know on any platform.
pub fn find(name: &str) -> Option<&'static SockOpt> {
  table().iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::socket::{open, Family, Kind};

  #[test]
  fn every_settable_option_reads_back() {
    let v4 = open(Kind::Tcp, Family::Inet, 0).unwrap();
    let v6 = open(Kind::Tcp, Family::Inet6, 0).unwrap();
    for o in table().iter().filter(|o| o.supported) {
      let s = if o.name.starts_with("ipv6_") {
        &v6
      } else {
        &v4
      };
      let get = o.get.unwrap();
      let before = get(s).unwrap_or_else(|e| panic!("{}: {e}", o.name));
      if let Some(set) = o.set {
        let v = match o.kind {
          OptionKind::Bool => 1.0 - before,
          OptionKind::Linger => 3.0,
          OptionKind::Seconds => 5.0,
          OptionKind::Int => before,
        };
        // Options of another family (ipv6_* on an inet socket) may refuse: only check ours.
        // Linux doubles buffer sizes and clamps the segment size, so those only grow.
        if set(s, v).is_ok() {
          let got = get(s).unwrap();
          if o.kind == OptionKind::Int {
            assert!(
              got >= v || o.name == "tcp_maxseg",
              "{}: {got} < {v}",
              o.name
            );
          } else {
            assert_eq!(got, v, "{}", o.name);
          }
        }
      }
    }
  }

  #[test]
  fn linger_off_is_minus_one() {
    let s = open(Kind::Tcp, Family::Inet, 0).unwrap();
    let o = find("so_linger").unwrap();
    assert_eq!((o.get.unwrap())(&s).unwrap(), -1.0);
    (o.set.unwrap())(&s, 0.0).unwrap();
    assert_eq!((o.get.unwrap())(&s).unwrap(), 0.0);
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn keepalive_knobs_leave_keepalive_alone() {
    let s = open(Kind::Tcp, Family::Inet, 0).unwrap();
    (find("tcp_keepcnt").unwrap().set.unwrap())(&s, 4.0).unwrap();
    assert!(!s.keepalive().unwrap());
    assert_eq!(s.tcp_keepalive_retries().unwrap(), 4);
  }

  #[test]
  fn unknown_names_are_absent() {
    assert!(find("so_bogus").is_none());
    assert!(find("tcp_nodelay").is_some());
  }
}
