/**
 * The calling thread's kernel poller (epoll on Linux, kqueue on macOS, IOCP on Windows), as the
 * seed's `socket.epoll_fd()` and `socket.iocp()` give it.
 *
 * Each thread (the main thread and every Worker) has a poller of its own. Sharing one between
 * threads (`epollFd(fd)` in a Worker) is not implemented: it throws `ENOTSUP`. To spread
 * connections over threads, listen in each with `so_reuseport` (Linux), or accept in one and
 * hand each connection over with `detach()` and `adopt()`.
 */
import { constants } from 'node:os'
import native from './binding'
import { ownError, SocketError } from './errors'
import { descriptor } from './handover'
import { pollerMode } from './scheduler'

const ENOTSUP = constants.errno.ENOTSUP

/** A SocketError `ERR_SOCKET_UNSUPPORTED_PLATFORM` whose message names this platform. */
function wrongPlatform(syscall: string, instead: string): SocketError {
  const e = ownError('ERR_SOCKET_UNSUPPORTED_PLATFORM', syscall)
  e.message = `${syscall}() is not available on ${process.platform}: ${instead}`
  return e
}

/** A SocketError `ENOTSUP`: the call applies here, but does not do this. */
function notSupported(syscall: string, why: string): SocketError {
  return new SocketError(`${syscall} ENOTSUP: ${why}`, 'ENOTSUP', { errno: ENOTSUP, syscall })
}

/**
 * The calling thread's poller descriptor: the epoll fd on Linux, the kqueue fd on macOS and the
 * BSDs (under this same name). It is for inspection and interop; it closes with its thread, so
 * do not close it yourself.
 *
 * `epollFd(fd)` with the thread's own poller returns it; with another thread's, it throws
 * SocketError `ENOTSUP`: sharing one poller between threads is not implemented (see the module
 * documentation for what to do instead).
 *
 * Throws SocketError `ERR_SOCKET_UNSUPPORTED_PLATFORM` on Windows (see `iocp()`), and `ENOTSUP`
 * where the thread has no poller descriptor (`SOCKET2_POLLER=uvpoll`, where the loop watches
 * each socket itself).
 *
 * @example
 * const fd = epollFd()   // e.g. 23, the same number for every call in this thread
 */
export function epollFd(fd?: number): number {
  if (process.platform === 'win32') throw wrongPlatform('epollFd', 'its poller is an IOCP, see iocp()')
  const asked = fd === undefined ? undefined : descriptor('fd', fd)
  const own = native.pollerFd()
  if (own < 0) throw notSupported('epoll_fd', `this thread has no poller descriptor (SOCKET2_POLLER=${pollerMode} watches each socket itself)`)
  if (asked !== undefined && asked !== own) throw notSupported('epoll_fd', 'sharing one poller between threads is not implemented; spread sockets with so_reuseport, or hand them over with detach() and adopt()')
  return own
}

/**
 * Windows: the calling thread's I/O completion port, as the seed's `socket.iocp()`. Not
 * implemented: Windows threads poll their sockets through Node's own loop (one `uv_poll` per
 * socket), and mio's IOCP handle is not exposed, so it throws SocketError `ENOTSUP`; `iocp(h)`
 * likewise. Throws `ERR_SOCKET_UNSUPPORTED_PLATFORM` on every other platform (see `epollFd()`).
 */
export function iocp(h?: number): number {
  if (process.platform !== 'win32') throw wrongPlatform('iocp', 'its poller is epoll or kqueue, see epollFd()')
  if (h !== undefined) descriptor('h', h)
  throw notSupported('iocp', 'the IOCP handle is not exposed; hand sockets over between threads with detach() and adopt()')
}
