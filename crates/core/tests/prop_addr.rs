//! Property tests over address parsing: the wire form JavaScript caches (any bytes in, no
//! panic; what parses writes back to the same bytes), OS addresses, names of kinds, families
//! and lookup flags, and numeric lookups.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use proptest::prelude::*;
use socket2_core::addr::{flag, lookup, Hints};
use socket2_core::socket::{Address, Family, Kind};

/// Room for the longest wire form, as JavaScript gives it.
const WIRE_MAX: usize = 128;

fn ip_address() -> impl Strategy<Value = Address> {
  prop_oneof![
    (any::<[u8; 4]>(), any::<u16>())
      .prop_map(|(ip, port)| Address::Ip(SocketAddr::from((ip, port)))),
    (any::<[u8; 16]>(), any::<u16>(), any::<u32>()).prop_map(|(ip, port, scope)| {
      Address::Ip(SocketAddr::V6(SocketAddrV6::new(ip.into(), port, 0, scope)))
    }),
  ]
}

fn any_address() -> impl Strategy<Value = Address> {
  prop_oneof![
    ip_address(),
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)).prop_map(Address::Unix),
  ]
}

proptest! {
  #[test]
  fn any_bytes_parse_or_are_einval_and_what_parses_writes_back_the_same(b in proptest::collection::vec(any::<u8>(), 0..160)) {
    match Address::from_wire(&b) {
      Ok(a) => {
        let mut out = vec![0u8; b.len().max(1)];
        let n = a.to_wire(&mut out);
        prop_assert_eq!(&out[..n], &b[..]);
      }
      Err(e) => prop_assert_eq!(e, -socket2_core::error::EINVAL),
    }
  }

  #[test]
  fn every_address_round_trips_through_its_wire_form_and_a_short_buffer_gets_a_prefix(a in any_address(), room in 0usize..WIRE_MAX) {
    let mut full = [0u8; 256];
    let n = a.to_wire(&mut full);
    // An unnamed unix socket writes back as the empty path: the wire form has no "none".
    let expected = match &a {
      Address::Unix(None) => Address::Unix(Some(Vec::new())),
      other => other.clone(),
    };
    prop_assert_eq!(Address::from_wire(&full[..n]), Ok(expected));
    let mut short = vec![0u8; room];
    let k = a.to_wire(&mut short);
    prop_assert_eq!(k, n.min(room));
    prop_assert_eq!(&short[..k], &full[..k]);
  }

  #[test]
  fn ip_addresses_round_trip_through_the_os_form(a in ip_address()) {
    let os = a.to_sockaddr().unwrap();
    prop_assert_eq!(Address::from_sockaddr(&os), a);
  }

  #[cfg(unix)]
  #[test]
  fn unix_paths_convert_or_fail_cleanly(p in proptest::collection::vec(1u8..=255, 0..200)) {
    let a = Address::Unix(Some(p.clone()));
    match a.to_sockaddr() {
      // A path the OS form holds reads back as itself.
      Ok(os) if !p.is_empty() => prop_assert_eq!(Address::from_sockaddr(&os), a),
      Ok(_) => {}
      Err(_) => prop_assert!(p.len() >= 100, "a path of {} bytes was refused", p.len()),
    }
  }

  #[test]
  fn names_of_kinds_families_and_flags_parse_only_as_spelled(s in "\\PC{0,12}") {
    let kinds = ["tcp", "udp", "raw"];
    let families = ["inet", "inet6", "unix"];
    let flags = ["passive", "canonname", "cannonname", "numerichost", "numericserv", "all", "v4mapped", "addrconfig"];
    prop_assert_eq!(Kind::parse(&s).is_some(), kinds.contains(&s.as_str()));
    prop_assert_eq!(Family::parse(&s).is_some(), families.contains(&s.as_str()));
    prop_assert_eq!(flag(&s).is_some(), flags.contains(&s.as_str()));
  }

  #[test]
  fn numeric_lookups_give_the_literal_back(v4 in any::<[u8; 4]>(), v6 in any::<[u8; 16]>(), port in any::<u16>()) {
    let numeric = flag("numerichost").unwrap() | flag("numericserv").unwrap();
    let hints = |family: Family| Hints { family: family.raw(), socktype: Kind::Tcp.raw(), protocol: 0, flags: numeric };
    let ip4 = Ipv4Addr::from(v4);
    let r = lookup(Some(&ip4.to_string()), Some(&port.to_string()), hints(Family::Inet)).unwrap();
    prop_assert_eq!(r[0].addr, SocketAddr::from((ip4, port)));
    let ip6 = Ipv6Addr::from(v6);
    let r = lookup(Some(&ip6.to_string()), Some(&port.to_string()), hints(Family::Inet6)).unwrap();
    prop_assert_eq!(r[0].addr.ip(), std::net::IpAddr::V6(ip6));
    prop_assert_eq!(r[0].addr.port(), port);
  }

  #[test]
  fn a_numeric_lookup_of_any_text_answers_or_names_its_error(host in "(\\PC|\\x00){0,40}", service in "(\\PC|\\x00){0,8}") {
    // numerichost and numericserv: getaddrinfo parses and never asks a resolver.
    let hints = Hints { family: 0, socktype: Kind::Udp.raw(), protocol: 0, flags: flag("numerichost").unwrap() | flag("numericserv").unwrap() };
    match lookup(Some(&host), Some(&service), hints) {
      Ok(entries) => prop_assert!(!entries.is_empty()),
      Err(e) => prop_assert!(e.code.starts_with("EAI_"), "{e:?}"),
    }
  }
}
