//! The socket table: ids, generations, and what is kept per live socket.

use socket2::Socket;

use super::datagram::Kept;
use super::source::{Reg, Source};
use crate::socket::{Family, Kind};

/// A socket's id: `index | generation << INDEX_BITS`, always below 2^31.
pub type Id = u32;

pub(super) const INDEX_BITS: u32 = 22;
/// The bits of an [`Id`] that index the socket table (dispatched events carry the index).
pub const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
pub(super) const GEN_MASK: u32 = (1 << (31 - INDEX_BITS)) - 1;

/// How a socket was made: enough to make another like it ([`super::Poller::reopen`]) without
/// asking the OS, which cannot tell the domain on every platform (Windows, macOS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
  /// Stream, datagram or raw.
  pub kind: Kind,
  /// The address family.
  pub family: Family,
  /// The protocol number asked for (0: the kind's default).
  pub protocol: i32,
}

/// What a socket's short results mean, by kind and family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
  /// TCP over IP: a short write means the send buffer is full, and (on Linux) a short read
  /// that the receive buffer is empty; urgent data, the one exception, is reported as EPOLLPRI.
  TcpIp,
  /// A unix stream: a short write means full. Reads also stop short at a message carrying
  /// descriptors, so a short read proves nothing.
  Stream,
  /// UDP or raw over IP: receives take up to two datagrams at once on Linux.
  DatagramIp,
  /// A unix datagram socket (datagrams may exceed the spare buffer): one per receive.
  Datagram,
}

impl Shape {
  /// The shape of a socket made as `origin` says.
  pub fn of(origin: Origin) -> Shape {
    match (origin.kind, origin.family) {
      (Kind::Tcp, Family::Unix) => Shape::Stream,
      (Kind::Tcp, _) => Shape::TcpIp,
      (_, Family::Unix) => Shape::Datagram,
      _ => Shape::DatagramIp,
    }
  }

  pub(super) fn stream(self) -> bool {
    matches!(self, Shape::TcpIp | Shape::Stream)
  }

  pub(super) fn short_reads_drain(self) -> bool {
    self == Shape::TcpIp && cfg!(any(target_os = "linux", target_os = "android"))
  }
}

/// One entry of the table: a generation, and the socket while one lives there.
#[derive(Debug, Default)]
pub(super) struct Slot {
  pub gen: u32,
  pub live: Option<Live>,
}

/// A live socket and what is known of it.
#[derive(Debug)]
pub(super) struct Live {
  pub sock: Socket,
  pub origin: Origin,
  pub shape: Shape,
  /// Its registration with the poller's source, from its first wait on.
  pub reg: Option<Reg>,
  /// The next datagram, when the last receive brought two.
  pub kept: Option<Box<Kept>>,
  /// The last receive brought two and the second was too long to copy out of the spare buffer
  /// for less than the call it saves: a datagram per `recvfrom` until the queue is found empty.
  #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
  pub backlog: bool,
  /// Urgent (out-of-band) data was signalled: reads stop short at its mark until EAGAIN.
  pub urgent: bool,
  /// A connect is in progress; a recv or send that fails meanwhile takes the connection's
  /// error from the socket (reading SO_ERROR clears it), so it is kept here for the connect.
  pub connecting: bool,
  pub conn_err: i32,
  /// The last connect failed: the socket has no connection, and a 0-byte read is not an end
  /// of stream (wine reads 0 bytes from it where POSIX answers ENOTCONN).
  pub conn_failed: bool,
  /// Read side ready, or not known to be unready.
  pub rd: bool,
  /// Write side ready, or not known to be unready.
  pub wr: bool,
  /// Sticky: the read side saw RDHUP/HUP or end of stream, or ERR on a stream.
  pub rd_hup: bool,
  /// Sticky: the write side saw HUP, or ERR on a stream.
  pub wr_hup: bool,
}

impl Live {
  /// A socket as it is when made: nothing known, so every direction is tried.
  pub fn new(sock: Socket, origin: Origin) -> Live {
    Live {
      sock,
      origin,
      shape: Shape::of(origin),
      reg: None,
      kept: None,
      backlog: false,
      urgent: false,
      connecting: false,
      conn_err: 0,
      conn_failed: false,
      rd: true,
      wr: true,
      rd_hup: false,
      wr_hup: false,
    }
  }
}

/// The id of slot `index` at generation `gen`.
pub(super) fn id_of(index: u32, gen: u32) -> Id {
  index | (gen << INDEX_BITS)
}

/// The slot `id` names, if its generation is still the slot's (free functions, so the registry
/// can be borrowed beside the table).
pub(super) fn slot_of(slots: &mut [Slot], id: Id) -> Option<&mut Slot> {
  slots
    .get_mut((id & INDEX_MASK) as usize)
    .filter(|s| s.gen == id >> INDEX_BITS)
}

/// The live socket of `id`.
pub(super) fn live(slots: &mut [Slot], id: Id) -> Option<&mut Live> {
  slot_of(slots, id)?.live.as_mut()
}

impl Live {
  /// Gives up what the poller holds for this socket, the registration and a kept datagram's
  /// buffer (back to `spare`), and returns the socket itself, which closes next when `closing`.
  pub fn release(
    self,
    source: &mut Source,
    spare: &mut Option<Box<[u8]>>,
    closing: bool,
  ) -> Socket {
    if let Some(reg) = self.reg {
      source.release(reg, &self.sock, closing);
    }
    if let Some(k) = self.kept {
      (*k).discard(spare);
    }
    self.sock
  }
}
