/**
 * Raw sockets: whole packets of one IP protocol (ICMP by default). They need root or
 * `CAP_NET_RAW`; without it `raw()` throws `SocketError` `EPERM` (or `EACCES`). On Linux an IPv4
 * raw socket receives the IP header before the payload; an IPv6 one receives the payload only.
 */
import { argType } from './errors'
import { Datagram } from './dgram'
import { kCreate, openSocket, socketArgs } from './socket'

/** A raw socket. Made by `raw()`. */
export class Raw extends Datagram {}

/**
 * Makes a raw socket; the protocol defaults to `'icmp'` for `'inet'` and `'icmpv6'` for
 * `'inet6'`.
 *
 * @example
 * const r = raw()                     // ICMP over IPv4; needs CAP_NET_RAW
 * await r.send(echoRequest, undefined, '127.0.0.1')
 */
export function raw(family: 'inet' | 'inet6' = 'inet', protocol?: 'icmp' | 'icmpv6' | 'igmp' | 'raw' | 'tcp' | 'udp'): Raw {
  if (family !== 'inet' && family !== 'inet6') throw argType('family', "'inet' or 'inet6'", family)
  const [fam, proto] = socketArgs(family, protocol, family === 'inet' ? 'icmp' : 'icmpv6')
  return new Raw(kCreate, 'raw', fam, proto, openSocket('raw', fam, proto))
}
