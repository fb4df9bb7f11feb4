/**
 * Cancellation: the `{ expires?, signal? }` options object accepted wherever an `expires` is,
 * and the `AbortError` an aborted operation rejects with. An abort acts like an expired deadline
 * (the socket is closed), only the error differs. An operation given no signal pays nothing: the
 * decoding below returns at its first test for a number or `undefined`.
 */
import { argType } from './errors'

/**
 * Node's error for an aborted operation (as `fs`, `timers/promises` and `events.once` throw
 * it): `name` `'AbortError'`, `code` `'ABORT_ERR'`, `cause` the signal's `reason`.
 */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR'
  /**
   * On a TCP `send` aborted while it waited for room: how many bytes of the data went out before
   * (the peer gets them; the rest was not sent), as on a send whose deadline passed.
   */
  readonly bytesSent?: number
  constructor(message = 'The operation was aborted', options?: { cause?: unknown; bytesSent?: number }) {
    super(message, options)
    this.name = 'AbortError'
    if (options?.bytesSent !== undefined) this.bytesSent = options.bytesSent
  }
}

/** What an operation that may wait takes in place of `expires`. */
export interface WaitOptions {
  /** An absolute `clock()` time in seconds: past it, the socket is closed (ETIMEDOUT). */
  expires?: number
  /** Aborting it closes the socket, and the operation rejects with `AbortError`. */
  signal?: AbortSignal
}

/** The `expires` argument of a call that may wait: a `clock()` time, the options, or nothing. */
export type Expires = number | WaitOptions | undefined

/** The AbortError for `signal`, which is aborted (after `bytesSent` bytes of a send went out). */
export function abortError(signal: AbortSignal, bytesSent?: number): AbortError {
  return new AbortError(undefined, { cause: signal.reason, bytesSent })
}

/**
 * The deadline in `arg` (an `expires` number, or the options' `expires`), validated; `what`
 * names the argument in errors.
 */
export function deadlineOf(arg: unknown, what = 'expires'): number | undefined {
  if (arg === undefined || arg === null) return undefined
  if (typeof arg === 'number') {
    if (Number.isNaN(arg)) throw argType(what, 'an absolute clock() time in seconds', arg)
    return arg
  }
  if (typeof arg !== 'object') throw argType(what, 'an absolute clock() time in seconds or { expires?, signal? }', arg)
  const expires = (arg as WaitOptions).expires
  if (expires === undefined) return undefined
  if (typeof expires !== 'number' || Number.isNaN(expires)) {
    throw argType(`${what}.expires`, 'an absolute clock() time in seconds', expires)
  }
  return expires
}

/** The signal in an options argument, validated as Node does (`validateAbortSignal`). */
export function signalOf(arg: unknown, what = 'options'): AbortSignal | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined
  const signal = (arg as WaitOptions).signal
  if (signal === undefined) return undefined
  if (!isSignal(signal)) throw argType(`${what}.signal`, 'an AbortSignal', signal)
  return signal
}

function isSignal(s: unknown): s is AbortSignal {
  return typeof s === 'object' && s !== null && 'aborted' in s && typeof (s as AbortSignal).addEventListener === 'function'
}

/**
 * `p`, or its rejection with AbortError when `signal` aborts first (then `onAbort` runs); the
 * listener is removed once either settles. For the steps that park no operation: a lookup, a
 * sleep, a `poll()`.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort?.()
    return Promise.reject(abortError(signal))
  }
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort?.()
      reject(abortError(signal))
    }
    signal.addEventListener('abort', abort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', abort)
        reject(e)
      },
    )
  })
}
