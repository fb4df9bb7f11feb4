/**
 * The calling thread's kernel poller (epoll on Linux, kqueue on macOS, IOCP on Windows), as the
 * seed's `socket.epoll_fd()` and `socket.iocp()` give it, and sharing one between threads.
 *
 * Each thread (the main thread and every Worker) starts with a poller of its own. A Worker that
 * calls `epollFd(fd)` with another thread's descriptor, before it opens a socket, waits on that
 * poller instead: its sockets are registered there, and their events still reach this thread
 * only. Whichever sharing thread's loop finds the poller ready drains it, keeps its own events,
 * and hands each other one to its owner's mailbox, waking that thread's loop (`stats().poller`
 * counts them).
 */
import { constants } from 'node:os'
import native from './binding'
import { errnoException, ownError, SocketError } from './errors'
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

/** What `native.share` refuses with, and why, by errno name. */
const refusals: Record<string, string> = {
  EINVAL: 'not the poller descriptor of a thread of this process (see epollFd())',
  EBUSY: 'this thread has sockets open: share a poller before the first socket',
}

/**
 * The calling thread's poller descriptor: the epoll fd on Linux, the kqueue fd on macOS and the
 * BSDs (under this same name). It closes when no thread uses it any more, so do not close it
 * yourself.
 *
 * `epollFd(fd)`, with the descriptor another thread of this process got from `epollFd()`,
 * makes the calling thread share that poller (the seed's `epoll_fd(fd)`) and returns `fd`. Call
 * it before the thread opens a socket (with none open). From then on the thread's sockets
 * are registered with the shared poller; their events reach this thread and no other, whichever
 * thread's loop drained them; a thread that ends takes its sockets out; the thread that made the
 * poller may end first. Sharing makes one kernel object for all threads, and costs a hop for
 * events that another thread drained (a `uv_async` wake-up of the owner's loop).
 *
 * Throws SocketError `EINVAL` for a descriptor that is no thread's poller, `EBUSY` while this
 * thread has sockets open, `ERR_SOCKET_UNSUPPORTED_PLATFORM` on Windows (see `iocp()`), and
 * `ENOTSUP` where the thread has no poller descriptor (`SOCKET2_POLLER=uvpoll` or `thread`,
 * where the loop watches each socket itself or a thread waits on the poller).
 *
 * @example
 * // main thread
 * new Worker(file, { workerData: { poller: epollFd() } })
 * // the worker, before its first socket
 * epollFd(workerData.poller)
 */
export function epollFd(fd?: number): number {
  if (process.platform === 'win32') throw wrongPlatform('epollFd', 'its poller is an IOCP, see iocp()')
  const asked = fd === undefined ? undefined : descriptor('fd', fd)
  const own = native.pollerFd()
  if (own < 0) throw notSupported('epoll_fd', `this thread has no poller descriptor (SOCKET2_POLLER=${pollerMode} watches each socket itself)`)
  if (asked === undefined || asked === own) return own
  const r = native.share(asked)
  if (r === -ENOTSUP) throw notSupported('epoll_fd', `a poller thread waits on this thread's poller (SOCKET2_POLLER=${pollerMode}): it is not shared`)
  if (r < 0) {
    const e = errnoException(-r, 'epoll_fd')
    const why = refusals[e.code]
    if (why !== undefined) e.message = `epoll_fd ${e.code}: ${why}`
    throw e
  }
  return asked
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
