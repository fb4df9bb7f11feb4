/**
 * The scheduler: the dispatch that the native poller calls once per wake-up (and that drains
 * the poller again from a microtask while it finds events), the waiters it resumes, the
 * cooperative budget, and threads (`newthread`, `poll`, `start`, `stop`).
 *
 * An operation first tries its syscall. Only when that would block does it wait: it is parked
 * on its socket's direction (`Io.park`), and the dispatch retries it when the poller reports that
 * direction ready. Native code never creates promises.
 */
import { abortable, abortError, signalOf } from './abort'
import native, { INDEX_MASK, READ, WRITE } from './binding'
import { debug, debugging } from './debug'
import { argType, errnoException, ownError, timeoutError } from './errors'
import { counters } from './stats'
import { at, clock, type Timer } from './timers'

/** `[index, bits]` pairs written by the native drain. */
const events = new Int32Array(2048)
/** Shared with native code: `[waiters, refed, inDispatch, resume]`. */
const control = new Int32Array(4)
const WAITERS = 0
const REFED = 1
const IN_DISPATCH = 2
const RESUME = 3

/**
 * How readiness reaches this thread:
 * - `'uv'`: Node's loop polls the poller's epoll/kqueue fd with one `uv_poll` (the default on
 *   Linux and macOS);
 * - `'uvpoll'`: Node's loop polls each socket with a `uv_poll` of its own (the default on
 *   Windows, where libuv polls sockets through AFD on Node's IOCP, and the loop cannot poll
 *   mio's IOCP);
 * - `'thread'`: a poller thread waits and wakes the loop (Bun and Deno, which have no libuv).
 *
 * `SOCKET2_POLLER` picks one of them where it can work (`'uv'` not on Windows; only `'thread'`
 * in Bun and Deno).
 */
export type PollerMode = 'uv' | 'uvpoll' | 'thread'

function choosePoller(): PollerMode {
  if ('bun' in process.versions || 'Deno' in globalThis) return 'thread'
  const asked = process.env.SOCKET2_POLLER
  if (asked === 'thread' || asked === 'uvpoll' || (asked === 'uv' && process.platform !== 'win32')) return asked
  return process.platform === 'win32' ? 'uvpoll' : 'uv'
}

export const pollerMode: PollerMode = choosePoller()

/** The would-block sentinel: a negated EAGAIN. */
export const WOULD_BLOCK: number = native.init(wake, events, control, pollerMode)

/** Immediate completions a thread may make before it yields to the event loop once. */
const BUDGET = 128
let budget = BUDGET

/** Sockets by table index, for the dispatch. */
const table: (Io | undefined)[] = []
/** `poll()` calls waiting for the next event batch. */
let pollers: ((ready: boolean) => void)[] = []

function addWaiter(): void {
  if (checker === undefined && pollerMode !== 'uvpoll') checker = setInterval(checkPoller, CHECK_MS).unref()
  control[WAITERS]!++
  // Inside a dispatch the native side settles the ref when it returns.
  if (control[REFED] === 0 && control[IN_DISPATCH] === 0) native.refLoop()
}

function removeWaiter(): void {
  if (--control[WAITERS]! === 0 && control[REFED] === 1 && control[IN_DISPATCH] === 0) native.unrefLoop()
}

/**
 * The errno the OS poller failed with, once it did (0 while it works): nothing would wake a
 * waiting operation again, so every wait rejects with it (syscall `'poll'`).
 */
let broken = 0

function pollerFailure(): Error {
  return errnoException(broken, 'poll')
}

/** The native poller's call into JavaScript: a wake-up with `n` events (see `dispatch`). */
function wake(n: number): void {
  counters.wakeups++
  dispatch(n)
}

/** `dispatch(n)`: `n` event pairs are in `events`; a negative `n` is the poller's failure. */
function dispatch(n: number): void {
  if (n < 0) return fail(-n)
  counters.dispatches++
  if (debugging) debug('wake: %d events', n)
  budget = BUDGET
  for (let i = 0; i < 2 * n; i += 2) {
    const io = table[events[i]!]
    if (io === undefined) continue
    const bits = events[i + 1]!
    // Write side first: a connect in progress must read the socket's pending error before a
    // parked recv could consume it.
    if (bits & WRITE && io.w !== undefined) io.ready(1)
    if (bits & READ && io.r !== undefined) io.ready(0)
  }
  if (pollers.length > 0) {
    const p = pollers
    pollers = []
    for (const resolve of p) resolve(true)
  }
  // Queued after the continuations resumed above, so it runs once they have started. Only where
  // a drain asks the OS (not with libuv's socket handles, which report only when the loop polls:
  // a redrain would find nothing).
  if (n > 0 && !redrainQueued && pollerMode !== 'uvpoll') {
    redrainQueued = true
    settled.then(redrain)
  }
}

/** Whether a `redrain` is queued. */
let redrainQueued = false
const settled = Promise.resolve()

/**
 * Runs as a microtask after the continuations this dispatch resumed have started: their sends
 * may have made other parked operations ready (the other end of a connection in this
 * process), and draining the poller now dispatches those in the same callback scope rather
 * than in a new one. The native side bounds the chain by time, so the loop still gets its turn.
 */
function redrain(): void {
  redrainQueued = false
  const n = native.redrain()
  if (n !== 0) dispatch(n)
  else if (control[RESUME] === 1) {
    // The time is up with events maybe left, under a poller thread: the next wake-up is made
    // from an immediate, so the loop goes on in between.
    control[RESUME] = 0
    setImmediate(resume)
  }
}

function resume(): void {
  native.resume()
}

/**
 * Dispatches the readiness the poller holds now, for a deadline about to fire: libuv runs
 * timers before it polls, so after a busy stretch an operation whose data (or room, or
 * connection) came before its deadline would otherwise time out with it unread.
 */
function catchUp(): void {
  const n = native.drainNow()
  if (n !== 0) dispatch(n)
}

/**
 * How often the poller is checked while operations wait, where its fd is watched (by libuv, or
 * by the poller thread). Nothing else notices it closed behind the library's back: the kernel
 * drops it from the watching epoll set without an event, and the waits would hang. The check is
 * a drain, as before a deadline fires, so it also delivers readiness a lost wake-up would have
 * left behind.
 */
const CHECK_MS = 1000
let checker: NodeJS.Timeout | undefined

function checkPoller(): void {
  if (control[WAITERS] !== 0) return catchUp()
  clearInterval(checker)
  checker = undefined
}

// A poller whose wake source failed to start is reported now: every wait then rejects with it.
catchUp()

/** The poller failed: rejects every waiting operation and `poll()` with its error. */
function fail(errno: number): void {
  broken = errno
  for (const io of table) io?.fail()
  const p = pollers
  pollers = []
  for (const done of p) done(false) // rejects: `broken` is set
}

/**
 * Counts an operation that completed without waiting; after `BUDGET` of them in a row, returns a
 * promise that yields to the event loop once (so two peers in one process cannot starve timers
 * and other I/O by ping-ponging inside one microtask drain). Every dispatch refills the budget.
 */
function spend(): Promise<void> | undefined {
  if (--budget > 0) return undefined
  budget = BUDGET
  return new Promise((resolve) => setImmediate(resolve))
}

/** What `Op.retry` returns while the operation still has to wait. */
export const AGAIN: unique symbol = Symbol('socket2.again')

/**
 * A parked operation. The dispatch retries it when its direction becomes ready: `retry` makes
 * the syscall and returns the result, `AGAIN` to keep waiting, or throws the failure. Retrying
 * inside the dispatch (rather than resuming an async function that retries) saves a microtask
 * hop per wake-up and keeps a parked operation small: this object and its promise.
 */
export abstract class Op<T> {
  /**
   * Settles the op's promise. Its reject function is not kept (a parked op is smaller without
   * it): `reject` resolves with a rejected promise, two microtask turns later, on paths that
   * fail.
   */
  declare resolve: (v: T | PromiseLike<T>) => void
  declare timer: Timer | undefined
  /** The socket, which a deadline closes. Only a waiting op ties it to the table. */
  abstract readonly sock: {
    close(): void
    /** @internal */
    readonly io: Io
  }
  /** The call's name, for errors (`recv`, `accept`...). */
  abstract readonly syscall: string
  abstract retry(): T | typeof AGAIN
  /**
   * Stores, not class fields (`declare` above): every kind of op runs this constructor, and V8
   * defines a class field through the runtime once the site has seen more than four maps, on
   * every op made; TCP ops and datagram ops together are more than four. `resolve` comes when
   * the op parks.
   */
  constructor() {
    this.timer = undefined
  }
  reject(e: Error): void {
    this.resolve(Promise.reject(e))
  }
  /** The error its deadline rejects it with. */
  timedOut(): Error {
    return timeoutError(this.syscall)
  }
  /** The error the abort of its `signal` rejects it with. */
  aborted(signal: AbortSignal): Error {
    return abortError(signal)
  }
  /**
   * The abort of the signal it waits with (kept in `signals`): the op is its own listener, so a
   * wait with a signal allocates no closure.
   */
  handleEvent(): void {
    const io = this.sock.io
    const op = this as Op<unknown>
    if (io.r === op) io.abort(0, op)
    else if (io.w === op) io.abort(1, op)
  }
}

/**
 * The signals that parked operations wait with, by op (the op is the abort listener): a table
 * rather than a field of every op, since most wait without one (8 B less per waiting op).
 */
const signals = new Map<Op<unknown>, AbortSignal>()

/**
 * Tries `op` at once, the fast path: a settled promise when it completes (or fails) without
 * waiting, counted against the cooperative budget; `undefined` when it must be parked.
 */
export function attempt<T>(op: Op<T>): Promise<T> | undefined {
  let v: T | typeof AGAIN
  try {
    v = op.retry()
  } catch (e) {
    return failed(e as Error)
  }
  return v === AGAIN ? undefined : completed(v)
}

/** The promise of an operation that completed without waiting, counted against the budget. */
export function completed<T>(v: T): Promise<T> {
  const y = spend()
  return y === undefined ? Promise.resolve(v) : y.then(() => v)
}

/**
 * The rejection of an operation that failed without waiting, counted against the budget like a
 * completion: a retry loop on an error that repeats at once (EMFILE in accept) must not starve
 * the timers and closes that would end it.
 */
export function failed(e: Error): Promise<never> {
  const y = spend()
  return y === undefined ? Promise.reject(e) : y.then(() => Promise.reject(e))
}

/**
 * A socket's waiting state: at most one parked operation per direction (0 read, 1 write). It
 * does not point back at its socket, so a socket nobody holds and no operation waits on can be
 * collected (and closed, see socket.ts) although the table keeps its Io.
 */
export class Io {
  r: Op<unknown> | undefined
  w: Op<unknown> | undefined

  /**
   * `id`: the socket's native id (renewed sockets keep their slot, so their index); once closed,
   * its complement, which is negative (ids are below 2^31): no separate flag, 8 B less per socket.
   */
  constructor(public id: number) {
    table[this.index] = this
  }

  /** Whether the socket was closed (or detached). */
  get closed(): boolean {
    return this.id < 0
  }

  /** The socket's index in the table, from its id, open or closed (not kept beside it). */
  get index(): number {
    return (this.id < 0 ? ~this.id : this.id) & INDEX_MASK
  }

  /**
   * Parks `op` on direction `dir` until the dispatch finishes it. With `expires`, it rejects
   * with ETIMEDOUT at that `clock()` time and the socket is force-closed; with `signal`, its
   * abort does the same with AbortError.
   */
  park<T>(dir: 0 | 1, op: Op<T>, expires: number | undefined, signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(ownError('ERR_SOCKET_CLOSED', op.syscall))
    if (broken !== 0) return Promise.reject(pollerFailure())
    const busy = this.busy(dir, op.syscall)
    if (busy !== undefined) return busy
    return new Promise<T>((resolve) => {
      op.resolve = resolve
      if (dir === 0) {
        this.r = op as Op<unknown>
        counters.read++
      } else {
        this.w = op as Op<unknown>
        counters.write++
      }
      addWaiter()
      if (debugging) debug('wait: %s on #%d', op.syscall, this.index)
      if (expires !== undefined) op.timer = at(expires, () => this.expire(dir, op as Op<unknown>))
      if (signal !== undefined) {
        signals.set(op as Op<unknown>, signal)
        signal.addEventListener('abort', op)
      }
    })
  }

  /**
   * The ERR_SOCKET_BUSY rejection when an operation already waits on `dir`, else undefined.
   * Callers check before their first syscall, so a second reader never takes the first's data.
   */
  busy(dir: 0 | 1, syscall: string): Promise<never> | undefined {
    const waiting = dir === 0 ? this.r : this.w
    return waiting === undefined ? undefined : Promise.reject(ownError('ERR_SOCKET_BUSY', syscall))
  }

  private expire(dir: 0 | 1, op: Op<unknown>): void {
    // What came before the deadline completes the operation, even if the loop was too busy to
    // dispatch it in time; then the op is no longer parked here. With a handle per socket
    // libuv has not polled yet (timers run first): the OS is asked about this socket.
    catchUp()
    if (pollerMode === 'uvpoll' && this.closed === false && native.readyNow(this.index, dir === 0) !== 0) this.ready(dir)
    if (this.take(dir) !== op) return
    if (debugging) debug('deadline: %s on #%d', op.syscall, this.index)
    op.reject(op.timedOut())
    op.sock.close()
  }

  /**
   * @internal The abort of the signal `op`, parked on `dir`, waits with: like its deadline,
   * with AbortError.
   */
  abort(dir: 0 | 1, op: Op<unknown>): void {
    const signal = signals.get(op)!
    this.take(dir)
    if (debugging) debug('abort: %s on #%d', op.syscall, this.index)
    op.reject(op.aborted(signal))
    op.sock.close()
  }

  private take(dir: 0 | 1): Op<unknown> | undefined {
    const op = dir === 0 ? this.r : this.w
    if (op === undefined) return undefined
    if (dir === 0) {
      this.r = undefined
      counters.read--
    } else {
      this.w = undefined
      counters.write--
    }
    op.timer?.cancel()
    const signal = signals.size === 0 ? undefined : signals.get(op)
    if (signal !== undefined) {
      signal.removeEventListener('abort', op)
      signals.delete(op)
    }
    removeWaiter()
    return op
  }

  /** Retries the operation parked on `dir`; finishes it unless it must wait again. */
  ready(dir: 0 | 1): void {
    const op = dir === 0 ? this.r : this.w
    if (op === undefined) return
    let v: unknown
    try {
      v = op.retry()
    } catch (e) {
      this.take(dir)
      op.reject(e as Error)
      return
    }
    if (v === AGAIN) return
    this.take(dir)
    op.resolve(v)
  }

  /** Rejects both parked operations with the poller's failure. */
  fail(): void {
    this.rejectWaiting(pollerFailure)
  }

  /** Marks the socket closed and rejects both parked operations with ERR_SOCKET_CLOSED. */
  close(): void {
    if (this.closed) return
    if (table[this.index] === this) table[this.index] = undefined
    this.id = ~this.id
    this.rejectWaiting((syscall) => ownError('ERR_SOCKET_CLOSED', syscall))
  }

  /** Takes both parked operations off their directions and rejects each with `error(syscall)`. */
  private rejectWaiting(error: (syscall: string) => Error): void {
    for (const dir of [0, 1] as const) {
      const op = this.take(dir)
      op?.reject(error(op.syscall))
    }
  }
}

/** Forgets the Io at `index`: its socket was collected (nothing can be waiting on it). */
export function forget(index: number): void {
  table[index] = undefined
}

/** Threads started and not yet ended. */
let live = 0

/** A thread: an async function started by `newthread`. `done` settles with its outcome. */
export class Thread {
  /** Resolves with the function's return value, or rejects with what it threw. */
  readonly done: Promise<unknown>
  /** @internal Runs `body` now; the thread is live until what it returns settles. */
  constructor(body: () => unknown) {
    // Live before the body runs, so a body that ends synchronously is accounted for.
    live++
    let result: Promise<unknown>
    try {
      result = Promise.resolve(body())
    } catch (e) {
      result = Promise.reject(e)
    }
    // A derived promise, not an async wrapper: a parked thread then costs its own frame only.
    // Its handlers are shared but for the bound one that needs `done`, so a thread adds this
    // object, `done`, its reaction and one bound function. `result` is handled here; `done`
    // rejects on its own, so an error nobody awaits still surfaces as an unhandled rejection
    // unless a start() running when it is thrown takes it.
    this.done = result.then(returned, threw.bind(this))
  }
}

function returned(v: unknown): unknown {
  ended()
  return v
}

/**
 * Whether a start() takes the error is decided here, when it is thrown, and nowhere earlier: a
 * run that ended (by its timeout, stop(), or an earlier error) takes nothing.
 */
function threw(this: Thread, e: unknown): never {
  ended()
  const r = runner
  if (r !== undefined) {
    this.done.catch(ignore) // start() reports it
    r.fail(e)
  }
  throw e
}

function ended(): void {
  live--
  queueMicrotask(finishIfIdle)
}

function finishIfIdle(): void {
  if (live === 0) runner?.finish()
}

interface Runner {
  promise: Promise<void>
  /** Resolves the run: every thread ended, `stop()`, or the timeout. */
  finish(): void
  /** Rejects the run with what a thread threw, whatever it is (`undefined` too). */
  fail(e: unknown): void
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
  return new Thread(() => fn(...args))
}

/** What `poll()` and `start()` take in place of their `timeout`. */
export interface RunOptions {
  /** Seconds to wait at most. */
  timeout?: number
  /** Its abort rejects the call with AbortError (the threads stay where they are). */
  signal?: AbortSignal
}

/** The seconds in a `timeout` argument: a number, or the options' `timeout`, validated. */
function timeoutOf(arg: unknown): number | undefined {
  if (arg === undefined) return undefined
  const [what, seconds] = typeof arg === 'object' && arg !== null ? ['options.timeout', (arg as RunOptions).timeout] : ['timeout', arg]
  if (seconds !== undefined && (typeof seconds !== 'number' || Number.isNaN(seconds))) {
    throw argType(what, typeof arg === 'object' ? 'a number of seconds' : 'a number of seconds or { timeout?, signal? }', seconds)
  }
  return seconds
}

/**
 * Waits for the next batch of I/O events and resumes the threads it wakes: `true`, or `false`
 * when `timeout` seconds pass first (default: wait without limit). Rejects if the OS poller
 * failed, and with AbortError when the options' `signal` aborts.
 *
 * @example
 * while (await poll(1)) {}   // until a second passes with no event
 */
export function poll(timeout?: number | RunOptions): Promise<boolean> {
  const seconds = timeoutOf(timeout)
  const signal = signalOf(timeout)
  if (broken !== 0) return Promise.reject(pollerFailure())
  let done!: (ready: boolean) => void
  const polled = new Promise<boolean>((resolve, reject) => {
    let timer: Timer | undefined
    done = (ready: boolean): void => {
      timer?.cancel()
      removeWaiter()
      if (broken !== 0) reject(pollerFailure())
      else resolve(ready)
    }
    addWaiter()
    pollers.push(done)
    if (seconds !== undefined) {
      timer = at(clock() + seconds, () => {
        pollers = pollers.filter((p) => p !== done)
        done(false)
      })
    }
  })
  if (signal === undefined) return polled
  return abortable(polled, signal, () => {
    if (!pollers.includes(done)) return
    pollers = pollers.filter((p) => p !== done)
    done(false)
  })
}

/**
 * Runs until every thread has finished, `stop()` is called, or `timeout` seconds pass.
 * Rejects with the first error thrown by a thread while it runs; errors thrown after it ended
 * surface on their threads as usual. A `start()` during another returns the running one. A
 * thread that awaits `start()` waits for itself: only the timeout or `stop()` ends that run.
 * With the options' `signal`, its abort ends the run too, rejecting with AbortError.
 *
 * @example
 * newthread(server); newthread(client); await start(10)
 */
export function start(timeout?: number | RunOptions): Promise<void> {
  const seconds = timeoutOf(timeout)
  const signal = signalOf(timeout)
  if (runner !== undefined) return signal === undefined ? runner.promise : abortable(runner.promise, signal)
  if (signal?.aborted) return Promise.reject(abortError(signal))
  let timer: Timer | undefined
  let settle!: (failed: boolean, e?: unknown) => void
  const abort = (): void => settle(true, abortError(signal!))
  const promise = new Promise<void>((resolve, reject) => {
    settle = (failed, e) => {
      if (runner?.promise !== promise) return
      runner = undefined
      timer?.cancel()
      signal?.removeEventListener('abort', abort)
      if (failed) reject(e)
      else resolve()
    }
  })
  const finish = (): void => settle(false)
  runner = { promise, finish, fail: (e) => settle(true, e) }
  if (live === 0) {
    finish()
    return promise
  }
  if (seconds !== undefined) timer = at(clock() + seconds, () => finish())
  signal?.addEventListener('abort', abort, { once: true })
  return promise
}

/** Makes the running `start()` resolve now; threads stay where they are. */
export function stop(): void {
  runner?.finish()
}
