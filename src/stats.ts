/**
 * Counters for `stats()`: what this thread (the main thread or one worker) holds and has done.
 * The modules that do the work bump them in place, so keeping them costs an increment and
 * reading them allocates one small object.
 */
import native from './binding'
import { pendingTimers } from './timers'

/** @internal Bumped by socket.ts (sockets) and scheduler.ts (the rest). */
export const counters = {
  /** Sockets open (made and not yet closed or collected). */
  sockets: 0,
  /** Operations parked on a socket's read side (recv, accept). */
  read: 0,
  /** Operations parked on a socket's write side (send, connect). */
  write: 0,
  /** Calls from the native poller into JavaScript: each libuv wake-up or poller-thread wake. */
  wakeups: 0,
  /** Event batches dispatched: the wake-ups, plus the drains a wake-up chains and deadlines make. */
  dispatches: 0,
}

/** Where the native side writes the shared-poller counts (one array, no allocation a call),
 * and its bytes, as the native call takes them. */
const hub = new Float64Array(5)
const hubBytes = new Uint8Array(hub.buffer)

/** What `stats()` returns. */
export interface Stats {
  /** Sockets open in this thread. */
  sockets: number
  /** Operations waiting for readiness, by direction: `read` (recv, accept), `write` (send, connect). */
  waiting: { read: number; write: number }
  /** Pending sleeps and deadlines. */
  timers: number
  /** Times the poller woke this thread since it loaded socket2. */
  wakeups: number
  /** Event batches dispatched since then (a wake-up may chain several). */
  dispatches: number
  /**
   * Datagram batches this thread moved with one system call each (`sendmmsg`/`recvmmsg`, as
   * `sendMany`, `recvMany` and datagram receives use on Linux): it stays 0 where the OS has no
   * such call or a sandbox refuses it, and datagrams then move one per call.
   */
  batches: number
  /**
   * The kernel poller this thread waits on (absent where the event loop watches each socket
   * itself: `SOCKET2_POLLER=uvpoll` or `thread`). Its events since it was made, whichever
   * thread drained them: `kept` by the thread that drained them (its own), `routed` to the
   * thread that owns their socket (threads sharing it with `epollFd(fd)`), `dropped` because
   * that thread had gone; and `drained`, the events this thread took from it, its own and the
   * others' (how the work spreads over the threads sharing it).
   */
  poller?: { threads: number; kept: number; routed: number; dropped: number; drained: number }
}

/**
 * Counts for the calling thread (each worker has its own), cheap enough to log per request: a
 * program whose `waiting` keeps growing has operations nobody completes; `sockets` growing
 * without bound is a leak.
 *
 * @example
 * const { sockets, waiting } = stats()
 */
export function stats(): Stats {
  const c = counters
  const s: Stats = {
    sockets: c.sockets,
    waiting: { read: c.read, write: c.write },
    timers: pendingTimers(),
    wakeups: c.wakeups,
    dispatches: c.dispatches,
    batches: native.batches(),
  }
  if (native.hubStats(hubBytes) === hub.length) {
    const [threads, kept, routed, dropped, drained] = hub
    s.poller = { threads: threads!, kept: kept!, routed: routed!, dropped: dropped!, drained: drained! }
  }
  return s
}
