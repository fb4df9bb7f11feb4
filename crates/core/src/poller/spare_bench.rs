//! Measures what the spare slot of a receive costs (notes/batched-io.md): `recv_from` with
//! batches on (one `recvmmsg` into the caller's buffer and a spare one, a second datagram
//! copied out on the next receive, and no `recvfrom` that fails EAGAIN after the last), as it
//! is (plain `recvfrom`s after a long second datagram until the queue is empty) and always,
//! against batches off (one `recvfrom` per receive), over loopback UDP: ping-pong, one-way
//! bursts and a queue drained, at several sizes, in interleaved rounds. Ignored by default (it
//! takes a few minutes):
//!
//! `cargo test --release -p socket2-core spare_slot -- --ignored --nocapture`

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockAddr, Socket};

use super::{Id, Origin, Poller};
use crate::error::WOULD_BLOCK;
use crate::socket::{open, Family, Kind};

const UDP: Origin = Origin {
  kind: Kind::Udp,
  family: Family::Inet,
  protocol: 0,
};

/// A UDP socket bound to loopback and its address, with buffers large enough for a whole burst
/// (root may force them past `rmem_max`).
fn bound() -> (Socket, SockAddr) {
  let s = open(Kind::Udp, Family::Inet, 0).unwrap();
  s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
    .unwrap();
  let size: libc::c_int = 8 << 20;
  for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
    // SAFETY: a plain setsockopt on an open socket, with a live `c_int` of the size given.
    unsafe {
      libc::setsockopt(
        std::os::fd::AsRawFd::as_raw_fd(&s),
        libc::SOL_SOCKET,
        opt,
        (&size as *const libc::c_int).cast(),
        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
      );
    }
  }
  let at = s.local_addr().unwrap();
  (s, at)
}

/// How `recv_from` receives.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
  /// As built: the spare slot, but plain receives after a long second datagram.
  Built,
  /// The spare slot whatever the length.
  Spare,
  /// One `recvfrom` per datagram.
  Plain,
}

/// A poller receiving as `mode` says.
fn new_poller(mode: Mode) -> Poller {
  let mut p = Poller::new(8).unwrap();
  p.batch = mode != Mode::Plain;
  if mode == Mode::Spare {
    p.keep_max = usize::MAX;
  }
  p
}

/// A poller (of the calling thread: a poller stays on its thread) holding `s`.
fn poller(mode: Mode, s: Socket) -> (Poller, Id) {
  let mut p = new_poller(mode);
  let id = p.insert(s, UDP);
  (p, id)
}

/// Receives one datagram into `buf`, waiting for it as a program would: its length.
fn recv(p: &mut Poller, id: Id, buf: &mut [u8]) -> usize {
  loop {
    match p.recv_from(id, buf) {
      Ok((n, _, _)) => return n,
      Err(WOULD_BLOCK) => {
        let mut ev = [0i32; 16];
        p.drain(Some(Duration::from_secs(5)), &mut ev).unwrap();
      }
      Err(e) => panic!("recv_from: {e}"),
    }
  }
}

/// Sends one datagram, waiting for room if it must.
fn send(p: &mut Poller, id: Id, buf: &[u8], to: &SockAddr) {
  loop {
    match p.send_to(id, buf, to) {
      n if n >= 0 => return,
      WOULD_BLOCK => {
        let mut ev = [0i32; 16];
        p.drain(Some(Duration::from_secs(5)), &mut ev).unwrap();
      }
      e => panic!("send_to: {e}"),
    }
  }
}

/// CPU nanoseconds (of both threads) per round trip of `size`-byte datagrams, each side on a
/// thread of its own.
fn ping_pong(mode: Mode, size: usize, trips: usize) -> f64 {
  let ((a, at_a), (b, at_b)) = (bound(), bound());
  let echo = std::thread::spawn(move || {
    let (mut b, sb) = poller(mode, b);
    let mut buf = vec![0u8; 65536];
    for _ in 0..trips {
      let n = recv(&mut b, sb, &mut buf);
      send(&mut b, sb, &buf[..n], &at_a);
    }
  });
  let (mut a, sa) = poller(mode, a);
  let out = vec![1u8; size];
  let mut buf = vec![0u8; 65536];
  let t = cpu();
  for _ in 0..trips {
    send(&mut a, sa, &out, &at_b);
    assert_eq!(recv(&mut a, sa, &mut buf), size);
  }
  let ns = (cpu() - t).as_nanos() as f64 / trips as f64;
  echo.join().unwrap();
  ns
}

/// CPU nanoseconds (of both threads) per datagram of `size` bytes sent one way in bursts of
/// `burst`, the receiver acknowledging each burst once it has all of it (so the queue holds
/// many).
fn one_way(mode: Mode, size: usize, burst: usize, bursts: usize) -> f64 {
  let ((a, at_a), (b, at_b)) = (bound(), bound());
  let sink = std::thread::spawn(move || {
    let (mut b, sb) = poller(mode, b);
    let mut buf = vec![0u8; 65536];
    for _ in 0..bursts {
      for _ in 0..burst {
        recv(&mut b, sb, &mut buf);
      }
      send(&mut b, sb, b"k", &at_a);
    }
  });
  let (mut a, sa) = poller(mode, a);
  let out = vec![1u8; size];
  let mut ack = [0u8; 8];
  let t = cpu();
  for _ in 0..bursts {
    for _ in 0..burst {
      send(&mut a, sa, &out, &at_b);
    }
    recv(&mut a, sa, &mut ack);
  }
  let ns = (cpu() - t).as_nanos() as f64 / (burst * bursts) as f64;
  sink.join().unwrap();
  ns
}

/// Waits for `id` to be readable: drains until its event comes.
fn readable(p: &mut Poller, id: Id) {
  let mut ev = [0i32; 16];
  while {
    let n = p.drain(Some(Duration::from_secs(5)), &mut ev).unwrap();
    !ev[..2 * n]
      .chunks(2)
      .any(|e| e[0] as u32 == id & super::INDEX_MASK)
  } {}
}

/// CPU nanoseconds per round trip as `ping_pong`, both ends on this thread (no thread wakes
/// up, so the syscalls show): each side receives its datagram, then tries once more and finds
/// the queue empty (as a program does before it waits), then replies.
fn ping_pong_here(mode: Mode, size: usize, trips: usize) -> f64 {
  let ((a, _), (b, at_b)) = (bound(), bound());
  let mut p = new_poller(mode);
  let (sa, sb) = (p.insert(a, UDP), p.insert(b, UDP));
  let at_a = p.socket(sa).unwrap().local_addr().unwrap();
  let out = vec![1u8; size];
  let mut buf = vec![0u8; 65536];
  // Registered by a first wait each, as after the empty try of every round.
  for id in [sa, sb] {
    assert_eq!(p.recv_from(id, &mut buf).unwrap_err(), WOULD_BLOCK);
  }
  let t = cpu();
  for _ in 0..trips {
    for (from, to, at) in [(sa, sb, &at_b), (sb, sa, &at_a)] {
      send(&mut p, from, &out, at);
      readable(&mut p, to);
      assert_eq!(p.recv_from(to, &mut buf).unwrap().0, size);
      assert_eq!(p.recv_from(to, &mut buf).unwrap_err(), WOULD_BLOCK);
    }
  }
  (cpu() - t).as_nanos() as f64 / trips as f64
}

/// CPU nanoseconds per datagram to receive a queue of `queued` datagrams of `size` bytes, until
/// the receive that finds it empty (the sends are not timed).
fn drain_queue(mode: Mode, size: usize, queued: usize, times: usize) -> f64 {
  let ((a, _), (b, at_b)) = (bound(), bound());
  let mut p = new_poller(mode);
  let (sa, sb) = (p.insert(a, UDP), p.insert(b, UDP));
  let out = vec![1u8; size];
  let mut buf = vec![0u8; 65536];
  assert_eq!(p.recv_from(sb, &mut buf).unwrap_err(), WOULD_BLOCK);
  let mut spent = Duration::ZERO;
  for _ in 0..times {
    for _ in 0..queued {
      send(&mut p, sa, &out, &at_b);
    }
    readable(&mut p, sb);
    let t = cpu();
    for _ in 0..queued {
      assert_eq!(p.recv_from(sb, &mut buf).unwrap().0, size);
    }
    assert_eq!(p.recv_from(sb, &mut buf).unwrap_err(), WOULD_BLOCK);
    spent += cpu() - t;
  }
  spent.as_nanos() as f64 / (queued * times) as f64
}

/// The CPU time this process has used, all threads: what the syscalls saved or the copies
/// added cost, without the time other programs on a busy machine take from it.
fn cpu() -> Duration {
  let mut t = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
  };
  // SAFETY: a plain clock_gettime into a live timespec.
  assert_eq!(
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) },
    0
  );
  Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Median, min and max.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
  v.sort_by(f64::total_cmp);
  (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// One measurement: the mode, the datagram size; CPU nanoseconds per unit.
type Run = fn(Mode, usize) -> f64;

#[test]
#[ignore = "a measurement, not a check: run it by name with --ignored --nocapture"]
fn spare_slot() {
  const UDP_MAX: usize = 65507;
  let cases: [(&str, &[usize], Run); 4] = [
    ("ping-pong, two threads", &[64, UDP_MAX], |m, s| {
      ping_pong(m, s, if s < 4096 { 20_000 } else { 5_000 })
    }),
    ("ping-pong, one thread", &[64, UDP_MAX], |m, s| {
      ping_pong_here(m, s, if s < 4096 { 20_000 } else { 5_000 })
    }),
    ("one-way bursts of 32", &[64, UDP_MAX], |m, s| {
      one_way(m, s, 32, if s < 4096 { 2_000 } else { 300 })
    }),
    (
      "a queue of 32 drained",
      &[64, 1472, 4096, 8192, 16384, UDP_MAX],
      |m, s| drain_queue(m, s, 32, if s <= 4096 { 1_000 } else { 300 }),
    ),
  ];
  let only = std::env::var("SPARE_CASES").ok();
  for (name, sizes, run) in cases {
    if only.as_deref().is_some_and(|o| !name.contains(o)) {
      continue;
    }
    for &size in sizes {
      measure(name, size, run);
    }
  }
}

/// Prints the median and spread of `run` at `size` in each mode over interleaved rounds.
fn measure(name: &str, size: usize, run: Run) {
  const ROUNDS: usize = 11;
  let mut us: [Vec<f64>; 3] = Default::default();
  let modes = [Mode::Built, Mode::Spare, Mode::Plain];
  // Interleaved, each mode first in turn, so drift in the machine's load falls on all.
  for round in 0..ROUNDS {
    for k in 0..modes.len() {
      let i = (round + k) % modes.len();
      us[i].push(run(modes[i], size) / 1000.0);
    }
  }
  let per = if name.starts_with("ping") {
    "round trip"
  } else {
    "datagram"
  };
  let shown: Vec<String> = us
    .iter_mut()
    .map(|v| {
      let (m, lo, hi) = spread(v);
      format!("{m:.2} ({lo:.2}-{hi:.2})")
    })
    .collect();
  println!(
    "{name}, {size} B: CPU us per {per}, median (min-max) of {ROUNDS}: as built {}, \
     spare always {}, recvfrom {}",
    shown[0], shown[1], shown[2]
  );
}
