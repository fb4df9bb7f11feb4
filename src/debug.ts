/**
 * `NODE_DEBUG=socket2`: a line on stderr for each socket opened and closed, each operation that
 * waits and each wake-up, and each deadline or abort that fires, through `util.debuglog` (so
 * the lines read `SOCKET2 <pid>: ...` like Node's own sections). Call sites test `debugging`
 * first: with the section off they build no message, and the test is a constant.
 */
import { debuglog } from 'node:util'

/** Logs a line under the `socket2` section (printf-style, as `util.format`). */
export const debug = debuglog('socket2')

/** Whether NODE_DEBUG names `socket2`, decided once at load as Node decides its own sections. */
export const debugging: boolean = debug.enabled
