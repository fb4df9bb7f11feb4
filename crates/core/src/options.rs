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
use std::net::{Ipv4Addr, Ipv6Addr};
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
  /// A duration in seconds (fractions allowed, rounded up to what the OS keeps); 0 means none.
  Seconds,
  /// Seconds to linger on close (a fraction rounds up to a whole second), or `false` for the
  /// default (no linger).
  Linger,
  /// Text: a device or algorithm name, an IPv4 address.
  Text,
  /// A multicast group to join or leave: `"group"` or `"group|interface"` (an IPv4 address, or
  /// an interface index for IPv6). Set-only.
  Membership,
}

impl OptionKind {
  /// The kind's name as JavaScript's validation reports it.
  pub fn name(self) -> &'static str {
    match self {
      OptionKind::Bool => "boolean",
      OptionKind::Int => "integer",
      OptionKind::Seconds => "seconds",
      OptionKind::Linger => "linger",
      OptionKind::Text => "string",
      OptionKind::Membership => "membership",
    }
  }
}

type Getter = fn(&Socket) -> io::Result<f64>;
type Setter = fn(&Socket, f64) -> io::Result<()>;
type TextGetter = fn(&Socket) -> io::Result<String>;
type TextSetter = fn(&Socket, &str) -> io::Result<()>;

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
  /// The getter of a text-valued option.
  pub get_text: Option<TextGetter>,
  /// The setter of a text-valued option.
  pub set_text: Option<TextSetter>,
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
      get_text: None,
      set_text: None,
      supported: true,
    });
    row!(@absent $t, $cfg, $plat, $name, $kind);
  };
  (@absent $t:ident, $cfg:meta, $plat:literal, $name:literal, $kind:ident) => {
    #[cfg(not($cfg))]
    $t.push(SockOpt {
      name: $name,
      kind: OptionKind::$kind,
      platforms: $plat,
      get: None,
      set: None,
      get_text: None,
      set_text: None,
      supported: false,
    });
  };
}

/// A text-valued row: like `row!`, with optional text getter and setter.
macro_rules! text_row {
  ($t:ident, $cfg:meta, $plat:literal, $name:literal, $kind:ident, $get:expr, $set:expr) => {
    #[cfg($cfg)]
    $t.push(SockOpt {
      name: $name,
      kind: OptionKind::$kind,
      platforms: $plat,
      get: None,
      set: None,
      get_text: $get,
      set_text: Some($set),
      supported: true,
    });
    row!(@absent $t, $cfg, $plat, $name, $kind);
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

/// `v` seconds rounded up to a whole `unit`, the granularity the OS keeps the option in: a
/// positive value never becomes 0, which the OS reads as "none" (for `so_linger`, as "reset the
/// connection on close"). Computed in whole nanoseconds, so an exact multiple stays itself.
fn ceil_to(v: f64, unit: Duration) -> Duration {
  // JavaScript passes 0..=2^31 seconds, well inside u64 nanoseconds; a larger value (infinity
  // from a Rust caller) saturates, as the cast to u64 does, rather than overflow.
  let ns = (v * 1e9).round() as u64;
  let u = unit.as_nanos() as u64;
  Duration::from_nanos(ns.div_ceil(u).saturating_mul(u))
}

const SECOND: Duration = Duration::from_secs(1);

/// A duration option's value: `v` seconds rounded up to `unit`, or none for 0.
fn dur(v: f64, unit: Duration) -> Option<Duration> {
  (v > 0.0).then(|| ceil_to(v, unit))
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

fn einval() -> io::Error {
  io::Error::from_raw_os_error(crate::error::EINVAL)
}

fn ipv4(v: &str) -> io::Result<Ipv4Addr> {
  v.trim().parse().map_err(|_| einval())
}

/// Splits a membership value, `"group"` or `"group|interface"`.
fn membership(v: &str) -> (&str, Option<&str>) {
  match v.split_once('|') {
    Some((g, i)) => (g, Some(i)),
    None => (v, None),
  }
}

fn v4_group(v: &str) -> io::Result<(Ipv4Addr, Ipv4Addr)> {
  let (g, i) = membership(v);
  Ok((ipv4(g)?, i.map_or(Ok(Ipv4Addr::UNSPECIFIED), ipv4)?))
}

fn v6_group(v: &str) -> io::Result<(Ipv6Addr, u32)> {
  let (g, i) = membership(v);
  let group = g.trim().parse().map_err(|_| einval())?;
  let index = i.map_or(Ok(0), |i| i.trim().parse().map_err(|_| einval()))?;
  Ok((group, index))
}

/// A C string option's bytes (up to the first NUL) as text.
#[allow(dead_code)] // only the platforms with text options use it
fn text(b: Vec<u8>) -> String {
  let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
  String::from_utf8_lossy(&b[..end]).into_owned()
}

fn uint(v: f64) -> u32 {
  // JavaScript validated the range; saturate rather than wrap if it did not.
  v.clamp(0.0, u32::MAX as f64) as u32
}

// TcpKeepalive is unused on platforms without the keepalive knobs; the pushes are cfg'd row by
// row, which a vec![] literal cannot express.
#[allow(unused_imports, clippy::vec_init_then_push)]
fn build() -> Vec<SockOpt> {
  #[cfg(any(target_os = "linux", target_os = "android"))]
  use crate::sys::TCP_FASTOPEN;
  use crate::sys::{int, SOL_SOCKET, SO_ACCEPTCONN};
  #[cfg(unix)]
  use crate::sys::{set_int, IPPROTO_TCP, SO_DONTROUTE, SO_RCVLOWAT, SO_SNDLOWAT};
  use socket2::TcpKeepalive;
  let mut t = Vec::new();
  // SOL_SOCKET
  row!(
    t,
    all(),
    "all",
    "so_acceptconn",
    Bool,
    // getsockopt(SO_ACCEPTCONN) itself: the socket2 crate's is_listener() is Linux-only.
    |s| int(s, SOL_SOCKET, SO_ACCEPTCONN).map(|v| b(v != 0)),
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
    // struct linger holds whole seconds.
    Some(|s, v| s.set_linger((v >= 0.0).then(|| ceil_to(v, SECOND))))
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
    // A struct timeval: microseconds.
    Some(|s, v| s.set_read_timeout(dur(v, Duration::from_micros(1))))
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
    Some(|s, v| s.set_write_timeout(dur(v, Duration::from_micros(1))))
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
  row!(
    t,
    unix,
    "Linux, macOS, BSD",
    "so_dontroute",
    Bool,
    |s| int(s, SOL_SOCKET, SO_DONTROUTE).map(|v| b(v != 0)),
    Some(|s, v| set_int(s, SOL_SOCKET, SO_DONTROUTE, v as i32))
  );
  row!(
    t,
    unix,
    "Linux, macOS, BSD",
    "so_rcvlowat",
    Int,
    |s| int(s, SOL_SOCKET, SO_RCVLOWAT).map(f64::from),
    Some(|s, v| set_int(s, SOL_SOCKET, SO_RCVLOWAT, uint(v) as i32))
  );
  row!(
    t,
    unix,
    "Linux (read-only), macOS, BSD",
    "so_sndlowat",
    Int,
    |s| int(s, SOL_SOCKET, SO_SNDLOWAT).map(f64::from),
    Some(|s, v| set_int(s, SOL_SOCKET, SO_SNDLOWAT, uint(v) as i32))
  );
  text_row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "so_bindtodevice",
    Text,
    Some(|s| s.device().map(|d| d.map(text).unwrap_or_default())),
    |s, v| s.bind_device((!v.is_empty()).then_some(v.as_bytes()))
  );
  // IPPROTO_IP
  text_row!(
    t,
    all(),
    "all",
    "ip_add_membership",
    Membership,
    None,
    |s, v| v4_group(v).and_then(|(g, i)| s.join_multicast_v4(&g, &i))
  );
  text_row!(
    t,
    all(),
    "all",
    "ip_drop_membership",
    Membership,
    None,
    |s, v| v4_group(v).and_then(|(g, i)| s.leave_multicast_v4(&g, &i))
  );
  row!(
    t,
    not(any(target_os = "redox", target_os = "fuchsia")),
    "all",
    "ip_hdrincl",
    Bool,
    |s| s.header_included_v4().map(b),
    Some(|s, v| s.set_header_included_v4(v != 0.0))
  );
  text_row!(
    t,
    all(),
    "all",
    "ip_multicast_if",
    Text,
    Some(|s| s.multicast_if_v4().map(|a| a.to_string())),
    |s, v| ipv4(v).and_then(|a| s.set_multicast_if_v4(&a))
  );
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
  text_row!(
    t,
    all(),
    "all",
    "ipv6_join_group",
    Membership,
    None,
    |s, v| v6_group(v).and_then(|(g, i)| s.join_multicast_v6(&g, i))
  );
  text_row!(
    t,
    all(),
    "all",
    "ipv6_leave_group",
    Membership,
    None,
    |s, v| v6_group(v).and_then(|(g, i)| s.leave_multicast_v6(&g, i))
  );
  row!(
    t,
    all(),
    "all",
    "ipv6_multicast_if",
    Int,
    |s| s.multicast_if_v6().map(f64::from),
    Some(|s, v| s.set_multicast_if_v6(uint(v)))
  );
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
  text_row!(
    t,
    any(
      target_os = "linux",
      target_os = "android",
      target_os = "freebsd"
    ),
    "Linux, FreeBSD",
    "tcp_congestion",
    Text,
    Some(|s| s.tcp_congestion().map(text)),
    |s, v| s.set_tcp_congestion(v.as_bytes())
  );
  row!(
    t,
    any(target_os = "linux", target_os = "android"),
    "Linux",
    "tcp_fastopen",
    Int,
    |s| int(s, IPPROTO_TCP, TCP_FASTOPEN).map(f64::from),
    Some(|s, v| set_int(s, IPPROTO_TCP, TCP_FASTOPEN, uint(v) as i32))
  );
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
      // Whole seconds; 0 goes to the OS, which refuses it (EINVAL).
      TcpKeepalive::new().with_time(ceil_to(v, SECOND))
    ))
  );
  row!(
    t,
    all(not(target_os = "openbsd"), unix),
    "Linux, macOS, FreeBSD",
    "tcp_keepintvl",
    Seconds,
    |s| s.tcp_keepalive_interval().map(|d| d.as_secs_f64()),
    Some(|s, v| keepalive_knob(s, TcpKeepalive::new().with_interval(ceil_to(v, SECOND))))
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
    // Milliseconds.
    Some(|s, v| s.set_tcp_user_timeout(dur(v, Duration::from_millis(1))))
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
    for o in table().iter().filter(|o| o.get.is_some()) {
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
          _ => before,
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
  fn text_options_read_back() {
    let u = open(Kind::Udp, Family::Inet, 0).unwrap();
    let o = find("ip_multicast_if").unwrap();
    (o.set_text.unwrap())(&u, "127.0.0.1").unwrap();
    assert_eq!((o.get_text.unwrap())(&u).unwrap(), "127.0.0.1");
    assert!((o.set_text.unwrap())(&u, "not an address").is_err());
    let join = find("ip_add_membership").unwrap().set_text.unwrap();
    join(&u, "224.0.0.251|127.0.0.1").unwrap();
    (find("ip_drop_membership").unwrap().set_text.unwrap())(&u, "224.0.0.251|127.0.0.1").unwrap();
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn congestion_algorithm_reads_back() {
    let s = open(Kind::Tcp, Family::Inet, 0).unwrap();
    let o = find("tcp_congestion").unwrap();
    let algo = (o.get_text.unwrap())(&s).unwrap();
    assert!(!algo.is_empty());
    (o.set_text.unwrap())(&s, &algo).unwrap();
    assert_eq!((o.get_text.unwrap())(&s).unwrap(), algo);
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
  fn durations_round_up_to_the_os_unit() {
    let ms = Duration::from_millis(1);
    assert_eq!(ceil_to(0.5, SECOND), SECOND);
    assert_eq!(ceil_to(1e-9, ms), ms);
    assert_eq!(ceil_to(0.003, ms), 3 * ms); // an exact multiple stays itself
    assert_eq!(
      ceil_to(2.5, Duration::from_micros(1)),
      Duration::from_millis(2500)
    );
    assert_eq!(ceil_to(0.0, SECOND), Duration::ZERO);
    assert_eq!(dur(0.0, ms), None);
  }

  #[cfg(target_os = "linux")]
  #[test]
  fn small_positive_durations_keep_their_meaning() {
    let s = open(Kind::Tcp, Family::Inet, 0).unwrap();
    let set = |name: &str, v: f64| (find(name).unwrap().set.unwrap())(&s, v);
    let get = |name: &str| (find(name).unwrap().get.unwrap())(&s).unwrap();
    // Half a second of linger is a graceful close, not 0 (a reset).
    set("so_linger", 0.5).unwrap();
    assert_eq!(get("so_linger"), 1.0);
    // A nanosecond of user timeout is a timeout, not 0 (none).
    set("tcp_user_timeout", 1e-9).unwrap();
    assert_eq!(get("tcp_user_timeout"), 0.001);
    set("tcp_keepidle", 0.5).unwrap();
    assert_eq!(get("tcp_keepidle"), 1.0);
    // No keepalive time of 0: the kernel says so.
    assert!(set("tcp_keepidle", 0.0).is_err());
  }

  #[test]
  fn unknown_names_are_absent() {
    assert!(find("so_bogus").is_none());
    assert!(find("tcp_nodelay").is_some());
  }
}
