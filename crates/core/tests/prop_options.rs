//! Property tests over the option table: any value a setter can be handed (NaN, infinities,
//! negatives, huge numbers, any text) ends in `Ok` or an OS error, never a panic; names resolve
//! only as spelled; values in range read back as set, rounded up to the OS's unit.

use proptest::prelude::*;
use socket2_core::options::{find, table, OptionKind, SockOpt};
use socket2_core::socket::{open, Family, Kind};

/// A socket of the kind an option applies to.
fn socket_for(name: &str) -> socket2::Socket {
  let family = if name.starts_with("ipv6_") {
    Family::Inet6
  } else {
    Family::Inet
  };
  let kind = if name.starts_with("ip_multicast")
    || name.starts_with("ip_add")
    || name.starts_with("ip_drop")
    || name.starts_with("ipv6_join")
    || name.starts_with("ipv6_leave")
    || name.starts_with("ipv6_multicast")
    || name == "so_broadcast"
  {
    Kind::Udp
  } else {
    Kind::Tcp
  };
  open(kind, family, 0).unwrap()
}

fn any_number() -> impl Strategy<Value = f64> {
  prop_oneof![
    any::<f64>(),
    Just(f64::NAN),
    Just(f64::INFINITY),
    Just(f64::NEG_INFINITY),
    Just(f64::MAX),
    Just(-0.0),
    0.0..2_147_483_648.0f64,
  ]
}

/// The name of a row of the table that `keep` picks.
fn row(keep: fn(&SockOpt) -> bool) -> impl Strategy<Value = &'static str> {
  let names: Vec<&'static str> = table().iter().filter(|o| keep(o)).map(|o| o.name).collect();
  proptest::sample::select(names)
}

proptest! {
  #[test]
  fn any_number_given_to_any_setter_is_set_or_refused(name in row(|o| o.set.is_some()), v in any_number()) {
    let o = find(name).unwrap();
    let s = socket_for(name);
    if (o.set.unwrap())(&s, v).is_ok() {
      // What was set reads back as a number.
      prop_assert!(!(o.get.unwrap())(&s).unwrap().is_nan());
    }
  }

  #[test]
  fn any_text_given_to_a_text_setter_is_set_or_refused(name in row(|o| o.set_text.is_some()), v in "(\\PC|\\x00){0,60}") {
    let s = socket_for(name);
    // The result is the OS's or EINVAL for text that is no address: only a panic fails.
    let _ = (find(name).unwrap().set_text.unwrap())(&s, &v);
  }

  #[test]
  fn an_ipv4_text_option_refuses_what_is_not_an_address(v in "[0-9a-z.:| ]{0,20}") {
    let s = socket_for("ip_multicast_if");
    let r = (find("ip_multicast_if").unwrap().set_text.unwrap())(&s, &v);
    if v.trim().parse::<std::net::Ipv4Addr>().is_err() {
      prop_assert_eq!(r.unwrap_err().raw_os_error(), Some(socket2_core::error::EINVAL));
    }
  }

  #[test]
  fn names_resolve_only_as_spelled(name in "[a-z_0-9]{0,20}") {
    match find(&name) {
      Some(o) => prop_assert_eq!(o.name, name.as_str()),
      None => prop_assert!(table().iter().all(|o| o.name != name)),
    }
  }

  #[test]
  fn booleans_read_back_as_set(name in row(|o| o.set.is_some() && o.kind == OptionKind::Bool), on in any::<bool>()) {
    let o = find(name).unwrap();
    let s = socket_for(name);
    let v = if on { 1.0 } else { 0.0 };
    // Options of the other family or kind may be refused; what is taken reads back.
    if (o.set.unwrap())(&s, v).is_ok() {
      prop_assert_eq!((o.get.unwrap())(&s).unwrap(), v);
    }
  }

  #[test]
  fn timeouts_read_back_never_shorter_and_within_a_clock_tick(v in 1e-9..1e6f64) {
    let s = socket_for("so_rcvtimeo");
    for name in ["so_rcvtimeo", "so_sndtimeo"] {
      let o = find(name).unwrap();
      (o.set.unwrap())(&s, v).unwrap();
      let got = (o.get.unwrap())(&s).unwrap();
      // Set in microseconds, kept by Linux in clock ticks (up to 10 ms): rounded up, never to 0.
      prop_assert!(got >= v - 1e-9 && got - v < 0.011, "{name}: set {v}, got {got}");
    }
  }

  #[test]
  fn linger_reads_back_in_whole_seconds_rounded_up(v in 0.0..65535.0f64) {
    let s = socket_for("so_linger");
    let o = find("so_linger").unwrap();
    (o.set.unwrap())(&s, v).unwrap();
    // Computed in whole nanoseconds, as the setter does: an exact second stays itself.
    let whole = ((v * 1e9).round() / 1e9).ceil();
    prop_assert_eq!((o.get.unwrap())(&s).unwrap(), whole);
  }
}
