/**
 * Time: `clock()` and one timer structure for every `sleep` and every `expires` deadline, a
 * binary min-heap on absolute `clock()` times driven by a single Node timer armed for the
 * earliest entry. An operation without a deadline costs nothing here.
 */
import { performance } from 'node:perf_hooks'
import { abortable, signalOf } from './abort'
import native from './binding'
import { argType } from './errors'

/**
 * What to add to this thread's `performance.now()` to read the process-wide clock, in ms.
 * Both read the same OS monotonic clock, so the offset does not drift and is sampled once: the
 * native read nearest to the middle of the shortest of a few windows of two `performance.now()`
 * calls, which bounds the error by that window (well under a microsecond).
 */
const offsetMs: number = (() => {
  let best = Infinity
  let offset = 0
  for (let i = 0; i < 5; i++) {
    const before = performance.now()
    const shared = native.clockMs()
    const after = performance.now()
    if (after - before < best) {
      best = after - before
      offset = shared - (before + after) / 2
    }
  }
  return offset
})()

/**
 * Monotonic time in seconds (the seed's `time.clock()`), one clock for the whole process: a
 * value read in one thread (or Worker) means the same instant in every other, so an `expires`
 * computed in one thread and sent to another is right there. Its origin is unspecified (the
 * first use in the process); only differences and comparisons mean anything.
 */
export function clock(): number {
  return (performance.now() + offsetMs) / 1000
}

/** A scheduled callback; `cancel()` it when the operation finishes first. */
export interface Timer {
  readonly at: number
  cancel(): void
}

class Entry implements Timer {
  /** Position in the heap, -1 once fired or cancelled. */
  pos = -1
  constructor(
    readonly at: number,
    readonly fn: () => void,
  ) {}
  cancel(): void {
    if (this.pos >= 0) remove(this)
  }
}

/** The longest delay setTimeout takes (about 24.8 days). */
const MAX_DELAY = 0x7fffffff

const heap: Entry[] = []
/** The one Node timer, armed for `armedAt` (ms, `clock()` × 1000). */
let timer: NodeJS.Timeout | undefined
let armedAt = Infinity

function swap(i: number, j: number): void {
  const a = heap[i]!
  const b = heap[j]!
  heap[i] = b
  heap[j] = a
  a.pos = j
  b.pos = i
}

function up(i: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1
    if (heap[p]!.at <= heap[i]!.at) break
    swap(i, p)
    i = p
  }
}

function down(i: number): void {
  for (;;) {
    const l = 2 * i + 1
    const r = l + 1
    let m = i
    if (l < heap.length && heap[l]!.at < heap[m]!.at) m = l
    if (r < heap.length && heap[r]!.at < heap[m]!.at) m = r
    if (m === i) return
    swap(i, m)
    i = m
  }
}

function remove(e: Entry): void {
  const i = e.pos
  const last = heap.pop()!
  e.pos = -1
  if (last !== e) {
    heap[i] = last
    last.pos = i
    up(i)
    down(last.pos)
  }
  if (heap.length === 0) disarm()
}

function disarm(): void {
  if (timer !== undefined) clearTimeout(timer)
  timer = undefined
  armedAt = Infinity
}

function arm(): void {
  const first = heap[0]
  if (first === undefined) return disarm()
  const atMs = first.at * 1000
  if (timer !== undefined && armedAt <= atMs) return
  if (timer !== undefined) clearTimeout(timer)
  armedAt = atMs
  // setTimeout takes at most 2^31-1 ms; a later deadline re-arms when that fires.
  timer = setTimeout(fire, Math.min(MAX_DELAY, Math.max(0, Math.ceil(atMs - clock() * 1000))))
}

function fire(): void {
  timer = undefined
  armedAt = Infinity
  const now = clock()
  // A callback that throws ends this round and reaches 'uncaughtException' as thrown from the
  // Node timer, but the timer is armed again first: later sleeps and deadlines still fire.
  try {
    while (heap.length > 0 && heap[0]!.at <= now) {
      const e = heap[0]!
      remove(e)
      e.fn()
    }
  } finally {
    arm()
  }
}

/** Runs `fn` at absolute `clock()` time `at` (at once, on the next timer turn, if past). */
export function at(t: number, fn: () => void): Timer {
  const e = new Entry(t, fn)
  e.pos = heap.length
  heap.push(e)
  up(e.pos)
  if (e.pos === 0) arm()
  return e
}

/** Number of pending timers (for tests and diagnostics). */
export function pendingTimers(): number {
  return heap.length
}

/** What `sleep` and `sleepUntil` take after the time. */
export interface SleepOptions {
  /** Its abort ends the sleep early, rejecting with AbortError. */
  signal?: AbortSignal
}

/**
 * Resolves at absolute `clock()` time `t` without blocking other threads; rejects with
 * AbortError if the options' `signal` aborts first (at once if it already has).
 */
export function sleepUntil(t: number, options?: SleepOptions): Promise<void> {
  if (typeof t !== 'number' || Number.isNaN(t)) throw argType('t', 'an absolute clock() time in seconds', t)
  return sleepOn(t, options)
}

/**
 * Resolves after `s` seconds without blocking other threads; rejects with AbortError if the
 * options' `signal` aborts first.
 *
 * @example
 * await sleep(0.5, { signal: AbortSignal.timeout(100) })   // rejects after 0.1 s
 */
export function sleep(s: number, options?: SleepOptions): Promise<void> {
  if (typeof s !== 'number' || Number.isNaN(s)) throw argType('s', 'a number of seconds', s)
  return sleepOn(clock() + s, options)
}

function sleepOn(t: number, options: SleepOptions | undefined): Promise<void> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw argType('options', 'an object', options)
  const signal = signalOf(options)
  let timer!: Timer
  const slept = new Promise<void>((resolve) => {
    timer = at(t, resolve)
  })
  return signal === undefined ? slept : abortable(slept, signal, () => timer.cancel())
}
