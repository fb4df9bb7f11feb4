/**
 * UDP sockets (and unix datagram sockets with family `'unix'`, and the unprivileged ICMP
 * "ping" sockets of Linux and macOS with protocol `'icmp'`/`'icmpv6'`).
 */
import { Datagram } from './dgram'
import { kCreate, openSocket, socketArgs } from './socket'

/** A UDP socket. Made by `udp()`. */
export class Udp extends Datagram {}

/**
 * Makes a UDP socket (`family` `'inet'` by default; `'unix'` makes a unix datagram socket).
 * Protocol `'icmp'` (or `'icmpv6'`) makes an ICMP datagram socket, which pings without privilege
 * where the OS allows it (Linux: `net.ipv4.ping_group_range`; macOS). Throws `TypeError` for an
 * unknown family or protocol and `SocketError` when the OS refuses (`EMFILE`, `EACCES` for an
 * ICMP socket the OS does not allow). Platforms: all; `'unix'` not on Windows (it has no unix
 * datagram sockets).
 *
 * @example
 * const u = udp(); await u.bind('127.0.0.1', 0)
 * const [n, from] = await u.recv(buf)
 * await u.send(buf, n, from)
 */
export function udp(family: 'inet' | 'inet6' | 'unix' = 'inet', protocol?: 'udp' | 'icmp' | 'icmpv6' | 'ip' | 'ipv6'): Udp {
  const [fam, proto] = socketArgs(family, protocol, 'udp')
  return new Udp(kCreate, 'udp', fam, proto, openSocket('udp', fam, fam === 'unix' ? 0 : proto))
}
