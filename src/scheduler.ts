/**
 * The scheduler: the dispatch that the native poller calls once per wake-up, the waiters it
 * resumes, the cooperative budget, and threads (`newthread`, `poll`, `start`, `stop`).
 *
 * An operation first tries its syscall. Only when that would block does it wait: it parks one
 * resolver on its socket's direction (`Io.wait`), and the dispatch resolves it when the poller
 * reports that direction ready. Native code never creates promises.
 */
import native, { INDEX_MASK, READ, WRITE } from './binding'
import { argType, ownError, timeoutError } from './errors'
import { at, clock, type Timer } from './timers'

/** `[index, bits]` pairs written by the native drain. */
const events = new Int32Array(2048)
/** Shared with native code: `[waiters, refed, inDispatch]`. */
const control = new Int32Array(3)
const WAITERS = 0
const REFED = 1
const IN_DISPATCH = 2

/**
 * How readiness reaches this thread: `'uv'`, Node's loop polls the poller's fd (Linux, macOS);
 * `'thread'`, a poller thread wakes the loop (Windows, whose IOCP has no fd, and Bun and Deno,
 * which have no `uv_poll`). `SOCKET2_POLLER=thread` forces the thread mode anywhere.
 */
export const pollerMode: 'uv' | 'thread' =
  process.env.SOCKET2_POLLER === 'thread' ||
  process.platform === 'win32' ||
  'bun' in process.versions ||
  'Deno' in globalThis
    ? 'thread'
    : 'uv'

/** The would-block sentinel: a negated EAGAIN. */
export const WOULD_BLOCK: number = native.init(dispatch, events, control, pollerMode)

/** Immediate completions a thread may make before it yields to the event loop once. */
const BUDGET = 128
let budget = BUDGET

/** Sockets by table index, for the dispatch. */
const table: (Io | undefined)[] = []
/** `poll()` calls waiting for the next event batch. */
let pollers: ((ready: boolean) => void)[] = []

function addWaiter(): void {
  control[WAITERS]!++
  // Inside a dispatch the native side settles the ref when it returns.
  if (control[REFED] === 0 && control[IN_DISPATCH] === 0) native.refLoop()
}

function removeWaiter(): void {
  if (--control[WAITERS]! === 0 && control[REFED] === 1 && control[IN_DISPATCH] === 0) native.unrefLoop()
}

function dispatch(n: number): void {
  budget = BUDGET
  for (let i = 0; i < 2 * n; i += 2) {
    const io = table[events[i]!]
    if (io === undefined) continue
    const bits = events[i + 1]!
    if (bits & READ && io.r !== undefined) io.settle(0)
    if (bits & WRITE && io.w !== undefined) io.settle(1)
  }
  if (pollers.length > 0) {
    const p = pollers
    pollers = []
    for (const resolve of p) resolve(true)
  }
}

/**
 * Counts an operation that completed without waiting; after `BUDGET` of them in a row, returns a
 * promise that yields to the event loop once (so two peers in one process cannot starve timers
 * and other I/O by ping-ponging inside one microtask drain). Every dispatch refills the budget.
 */
export function spend(): Promise<void> | undefined {
  if (--budget > 0) return undefined
  budget = BUDGET
  return new Promise((resolve) => setImmediate(resolve))
}

interface Waiter {
  resolve(): void
  reject(e: Error): void
  timer: Timer | undefined
  syscall: string
}

/** A socket's waiting state: at most one waiter per direction (0 read, 1 write). */
export class Io {
  r: Waiter | undefined
  w: Waiter | undefined
  closed = false

  constructor(readonly index: number) {
    table[index] = this
  }

  /**
   * Waits until the poller reports direction `dir` ready. With `expires`, rejects with
   * ETIMEDOUT at that `clock()` time and calls `onExpire` (which force-closes the socket).
   */
  wait(dir: 0 | 1, expires: number | undefined, syscall: string, onExpire: () => void): Promise<void> {
    if (this.closed) return Promise.reject(ownError('ERR_SOCKET_CLOSED', syscall))
    if ((dir === 0 ? this.r : this.w) !== undefined) return Promise.reject(ownError('ERR_SOCKET_BUSY', syscall))
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined, syscall }
      if (dir === 0) this.r = w
      else this.w = w
      addWaiter()
      if (expires !== undefined) {
        w.timer = at(expires, () => {
          if (this.take(dir) !== w) return
          reject(timeoutError(syscall))
          onExpire()
        })
      }
    })
  }

  private take(dir: 0 | 1): Waiter | undefined {
    const w = dir === 0 ? this.r : this.w
    if (w === undefined) return undefined
    if (dir === 0) this.r = undefined
    else this.w = undefined
    w.timer?.cancel()
    removeWaiter()
    return w
  }

  /** Resumes the waiter of `dir`. */
  settle(dir: 0 | 1): void {
    this.take(dir)?.resolve()
  }

  /** Marks the socket closed and rejects both waiters with ERR_SOCKET_CLOSED. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (table[this.index] === this) table[this.index] = undefined
    for (const dir of [0, 1] as const) {
      const w = this.take(dir)
      w?.reject(ownError('ERR_SOCKET_CLOSED', w.syscall))
    }
  }
}

/** The table index of a socket id. */
export function indexOf(id: number): number {
  return id & INDEX_MASK
}

const live = new Set<Thread>()

/** A thread: an async function started by `newthread`. `done` settles with its outcome. */
export class Thread {
  /** Resolves with the function's return value, or rejects with what it threw. */
  readonly done: Promise<unknown>
  /** @internal */
  constructor(run: (self: Thread) => Promise<unknown>) {
    // Live before the body runs, so a body that ends synchronously is accounted for.
    live.add(this)
    this.done = run(this)
  }
}

interface Runner {
  promise: Promise<void>
  finish(e?: unknown): void
}
let runner: Runner | undefined

function ignore(): void {}

/**
 * Starts `fn(...args)` at once: it runs synchronously up to its first wait, then the caller
 * continues (the seed's `newthread`). If it throws while `start()` runs, `start()` rejects with
 * the error; otherwise the rejection of `thread.done` surfaces as usual (await it, or Node
 * reports it as unhandled). An error is never dropped.
 *
 * @example
 * newthread(async () => { const [c] = await server.accept(); ... })
 */
export function newthread<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): Thread {
  if (typeof fn !== 'function') throw argType('fn', 'a function', fn)
  const t = new Thread(async (self) => {
    try {
      return await fn(...args)
    } catch (e) {
      const r = runner
      if (r !== undefined) {
        // After this body returns (it may not have yet, if fn threw synchronously).
        queueMicrotask(() => {
          self.done.catch(ignore) // start() reports it
          r.finish(e)
        })
      }
      throw e
    } finally {
      live.delete(self)
      queueMicrotask(() => {
        if (live.size === 0) runner?.finish()
      })
    }
  })
  if (runner !== undefined) t.done.catch(ignore)
  return t
}

/**
 * Waits for the next batch of I/O events and resumes the threads it wakes: `true`, or `false`
 * when `timeout` seconds pass first (default: wait without limit).
 */
export function poll(timeout?: number): Promise<boolean> {
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
    throw argType('timeout', 'a number of seconds', timeout)
  }
  return new Promise<boolean>((resolve) => {
    let timer: Timer | undefined
    const done = (ready: boolean): void => {
      timer?.cancel()
      removeWaiter()
      resolve(ready)
    }
    addWaiter()
    pollers.push(done)
    if (timeout !== undefined) {
      timer = at(clock() + timeout, () => {
        pollers = pollers.filter((p) => p !== done)
        done(false)
      })
    }
  })
}

/**
 * Runs until every thread has finished, `stop()` is called, or `timeout` seconds pass.
 * Rejects with the first error thrown by a thread while it runs. A `start()` during another
 * returns the running one.
 */
export function start(timeout?: number): Promise<void> {
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout))) {
    throw argType('timeout', 'a number of seconds', timeout)
  }
  if (runner !== undefined) return runner.promise
  let timer: Timer | undefined
  let finish!: (e?: unknown) => void
  const promise = new Promise<void>((resolve, reject) => {
    finish = (e?: unknown) => {
      if (runner?.promise !== promise) return
      runner = undefined
      timer?.cancel()
      if (e === undefined) resolve()
      else reject(e)
    }
  })
  runner = { promise, finish }
  for (const t of live) t.done.catch(ignore)
  if (live.size === 0) finish()
  else if (timeout !== undefined) timer = at(clock() + timeout, () => finish())
  return promise
}

/** Makes the running `start()` resolve now; threads stay where they are. */
export function stop(): void {
  runner?.finish()
}
