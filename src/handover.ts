/**
 * Handover: a socket's OS descriptor moves from one owner to another, between threads of this
 * process (`s.detach()` in one, `adopt(fd)` in the other) or from another library.
 */
import native from './binding'
import type { SocketType } from './addr'
import { argRange, argType, argValue, errnoException } from './errors'
import { kCreate } from './socket'
import { Raw } from './raw'
import { Tcp } from './tcp'
import { Udp } from './udp'

/**
 * Validates a descriptor argument (fd on Unix, SOCKET or HANDLE on Windows): an integer from 0
 * up to the largest a number holds exactly, where fds and Windows handles both fit.
 */
export function descriptor(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw argType(name, 'an integer descriptor', v)
  if (v < 0 || v > Number.MAX_SAFE_INTEGER) throw argRange(name, `from 0 to ${Number.MAX_SAFE_INTEGER}`, v)
  return v
}

/**
 * Makes a socket of an open OS descriptor (fd on Unix, SOCKET on Windows), usually one that
 * `s.detach()` gave up in another thread, in this thread's poller. Its kind, family and
 * protocol are read from the OS (`SO_TYPE`, `getsockname`, `SO_PROTOCOL` on Linux); a listening
 * TCP socket accepts as before, and data the kernel already holds for it is read as usual.
 * The descriptor is made non-blocking and close-on-exec, and from now on belongs to the returned
 * socket: do not use or close it elsewhere. On failure it is left as it was.
 *
 * Throws SocketError `EBADF` (no open descriptor), `ENOTSOCK` (not a socket), `EPROTOTYPE`
 * (neither stream, datagram nor raw, or not of the `kind` asked), `EAFNOSUPPORT` (a family
 * other than inet, inet6 and unix). Windows tells no bad handle from a handle that is no
 * socket: both are `ENOTSOCK` there.
 *
 * @example
 * parentPort.on('message', (fd) => serve(adopt(fd, 'tcp')))
 */
export function adopt(fd: number, kind: 'tcp'): Tcp
export function adopt(fd: number, kind: 'udp'): Udp
export function adopt(fd: number, kind: 'raw'): Raw
export function adopt(fd: number, kind?: SocketType): Tcp | Udp | Raw
export function adopt(fd: number, kind?: SocketType): Tcp | Udp | Raw {
  descriptor('fd', fd)
  if (kind !== undefined && kind !== 'tcp' && kind !== 'udp' && kind !== 'raw') throw argValue('kind', "'tcp', 'udp' or 'raw'", kind)
  const a = native.adopt(fd, kind ?? '')
  if (a.id < 0) throw errnoException(-a.id, 'adopt')
  const family = a.family as 'inet' | 'inet6' | 'unix'
  if (a.kind === 'tcp') return new Tcp(kCreate, 'tcp', family, a.protocol, a.id)
  if (a.kind === 'udp') return new Udp(kCreate, 'udp', family, a.protocol, a.id)
  return new Raw(kCreate, 'raw', family, a.protocol, a.id)
}
