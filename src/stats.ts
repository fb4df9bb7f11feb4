/**
 * Counters for `stats()`: what this thread (the main thread or one worker) holds and has done.
 * The modules that do the work bump them in place, so keeping them costs an increment and
 * reading them allocates one small object.
 */
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
  return {
    sockets: c.sockets,
    waiting: { read: c.read, write: c.write },
    timers: pendingTimers(),
    wakeups: c.wakeups,
    dispatches: c.dispatches,
  }
}
