/**
 * Cancellation: `{ expires?, signal? }` in place of `expires`, and `sleep`/`poll`/`start` with a
 * signal. An abort acts like a deadline (the socket is closed, waits on the other direction
 * reject ERR_SOCKET_CLOSED) but rejects with AbortError, whose cause is the signal's reason.
 */
import test, { type ExecutionContext } from 'ava'
import { getEventListeners } from 'node:events'
import {
  AbortError,
  clock,
  newthread,
  poll,
  sleep,
  sleepUntil,
  start,
  stats,
  tcp,
  type Tcp,
  udp,
} from 'socket2'
import { closing, fullListener, linuxOnly, pair, readAll, within } from './util.ts'

const closedError = { code: 'ERR_SOCKET_CLOSED' }
const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }

/** Asserts `e` is the AbortError of a signal aborted with `reason`. */
function isAbort(t: ExecutionContext, e: unknown, reason: unknown): void {
  t.true(e instanceof AbortError)
  t.true(e instanceof Error)
  const err = e as AbortError
  t.is(err.name, 'AbortError')
  t.is(err.code, 'ABORT_ERR')
  t.is(err.cause, reason)
}

/** The abort listeners on `signal` now. */
function listeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length
}

test('aborting a waiting recv closes the socket; it rejects AbortError with the reason as cause, a send waiting on it ERR_SOCKET_CLOSED', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  c.setopt('so_sndbuf', 4096)
  s.setopt('so_rcvbuf', 4096)
  const ac = new AbortController()
  const recv = c.recv(new Uint8Array(16), undefined, { signal: ac.signal })
  // A send that fills the buffers and waits for room (the peer never reads).
  const send = c.send(Buffer.alloc(8 << 20))
  t.is(listeners(ac.signal), 1)
  const reason = new Error('user gave up')
  ac.abort(reason)
  isAbort(t, await t.throwsAsync(within(recv)), reason)
  await t.throwsAsync(within(send), closedError)
  t.true(c.closed)
  t.is(listeners(ac.signal), 0)
})

test('a signal aborted before the call rejects at once without the syscall: the data is not sent, the socket closes', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const ac = new AbortController()
  ac.abort()
  isAbort(t, await t.throwsAsync(c.send('never sent', undefined, { signal: ac.signal })), ac.signal.reason)
  t.true(c.closed)
  t.is((await within(readAll(s))).length, 0) // only the FIN of the close came
  t.is(listeners(ac.signal), 0)
})

test('an already aborted signal rejects recv, accept and a datagram send at once, and shutdown throws AbortError', async (t) => {
  const signal = AbortSignal.abort('why')
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  isAbort(t, await t.throwsAsync(s.recv(new Uint8Array(8), undefined, { signal })), 'why')
  isAbort(t, await t.throwsAsync(l.accept({ signal })), 'why')
  t.true(l.closed)
  isAbort(t, t.throws(() => c.shutdown('w', { signal })), 'why')
  t.true(c.closed)
  const u = udp()
  closing(t, u)
  isAbort(t, await t.throwsAsync(u.send('x', '127.0.0.1', 9, { signal })), 'why')
  t.true(u.closed)
})

test.serial('aborting a waiting accept closes the listener and rejects AbortError', async (t) => {
  const l = tcp()
  closing(t, l)
  await l.listen('127.0.0.1', 0)
  const ac = new AbortController()
  const accepted = l.accept({ signal: ac.signal, expires: clock() + 10 })
  ac.abort()
  isAbort(t, await t.throwsAsync(within(accepted)), ac.signal.reason)
  t.true(l.closed)
  t.is(stats().timers, 0, 'the deadline beside the signal was cancelled')
})

linuxOnly('a full accept queue drops the SYN, so a connect stays in progress')(
  'aborting a connect in progress closes the socket and rejects AbortError',
  async (t) => {
    const l = await fullListener(t)
    const c = tcp()
    closing(t, c)
    const connecting = c.connect(l.localAddr(), { signal: AbortSignal.timeout(100) })
    const e = await t.throwsAsync(within(connecting))
    t.is((e as AbortError).name, 'AbortError')
    t.is(((e as AbortError).cause as DOMException).name, 'TimeoutError')
    t.true(c.closed)
  },
)

test('connect(host, port, { signal }) and connect(address, { signal }) take the options in the place of expires', async (t) => {
  const l = tcp()
  closing(t, l)
  await l.listen('127.0.0.1', 0)
  const signal = new AbortController().signal
  for (const go of [(c: Tcp) => c.connect('127.0.0.1', l.localAddr().port, { signal }), (c: Tcp) => c.connect(l.localAddr(), { signal })]) {
    const c = tcp()
    closing(t, c)
    await within(go(c))
    const [a] = await within(l.accept({ signal }))
    a.close()
    t.false(c.closed)
  }
  t.is(listeners(signal), 0)
})

test('an abort during the name lookup rejects connect and a datagram send with AbortError and closes the socket', async (t) => {
  const l = tcp()
  closing(t, l)
  await l.listen('127.0.0.1', 0)
  const c = tcp()
  closing(t, c)
  const ac = new AbortController()
  // 'localhost' is looked up on libuv's pool: the abort below comes before its answer.
  const connecting = c.connect('localhost', l.localAddr().port, { signal: ac.signal })
  const u = udp()
  closing(t, u)
  const sending = u.send('x', 'localhost', 9, { signal: ac.signal })
  ac.abort('changed my mind')
  isAbort(t, await t.throwsAsync(within(connecting)), 'changed my mind')
  isAbort(t, await t.throwsAsync(within(sending)), 'changed my mind')
  t.true(c.closed)
  t.true(u.closed)
  t.is(listeners(ac.signal), 0)
})

test('aborting a waiting UDP recv closes the socket and rejects AbortError', async (t) => {
  const u = udp()
  closing(t, u)
  await u.bind('127.0.0.1', 0)
  const ac = new AbortController()
  const got = u.recv(new Uint8Array(64), undefined, { signal: ac.signal })
  ac.abort()
  isAbort(t, await t.throwsAsync(within(got)), ac.signal.reason)
  t.true(u.closed)
})

test('an abort after the operation completed changes nothing: the socket stays open', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const ac = new AbortController()
  const got = c.recv(new Uint8Array(8), undefined, { signal: ac.signal })
  await s.send('hi')
  t.is(await within(got), 2)
  ac.abort()
  t.false(c.closed)
  t.is(await within(c.send('still open')), 10)
})

test('a send aborted after part went out rejects AbortError with bytesSent, exactly what the peer then reads', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = new Uint8Array(32 << 20).map((_, i) => i % 251)
  const e = await t.throwsAsync(within(c.send(data, undefined, { signal: AbortSignal.timeout(200) })), { instanceOf: AbortError })
  const sent = e?.bytesSent ?? -1
  t.true(sent > 0 && sent < data.length, `bytesSent ${e?.bytesSent}`)
  // The close sends FIN after what the kernel took: the peer reads exactly that.
  const got = await within(readAll(s))
  t.is(got.length, sent)
  t.true(got.equals(data.subarray(0, got.length)))
})

test('a deadline that fires first wins (ETIMEDOUT) and removes the abort listener', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const ac = new AbortController()
  await t.throwsAsync(within(c.recv(new Uint8Array(8), undefined, { expires: clock() + 0.05, signal: ac.signal })), { code: 'ETIMEDOUT' })
  t.is(listeners(ac.signal), 0)
  t.true(c.closed)
})

test.serial('sleep and sleepUntil with a signal reject AbortError when it aborts, and their timer is gone', async (t) => {
  const before = stats().timers
  const ac = new AbortController()
  const slept = sleep(60, { signal: ac.signal })
  const until = sleepUntil(clock() + 60, { signal: ac.signal })
  t.is(stats().timers, before + 2)
  ac.abort('enough')
  isAbort(t, await t.throwsAsync(within(slept)), 'enough')
  isAbort(t, await t.throwsAsync(within(until)), 'enough')
  t.is(stats().timers, before)
  t.is(listeners(ac.signal), 0)
  isAbort(t, await t.throwsAsync(sleep(0, { signal: ac.signal })), 'enough')
  await within(sleep(0.01, { signal: new AbortController().signal }))
})

test.serial('poll({ signal }) and start({ signal }) reject AbortError when it aborts; the threads stay where they are', async (t) => {
  const ac = new AbortController()
  const polled = poll({ signal: ac.signal, timeout: 30 })
  ac.abort()
  isAbort(t, await t.throwsAsync(within(polled)), ac.signal.reason)
  t.is(stats().timers, 0)

  const gate = new AbortController()
  const th = newthread(() => sleep(30, { signal: gate.signal }))
  const run = new AbortController()
  const running = start({ signal: run.signal })
  run.abort('stop the run')
  isAbort(t, await t.throwsAsync(within(running)), 'stop the run')
  gate.abort()
  await t.throwsAsync(within(th.done), { name: 'AbortError' })
  isAbort(t, await t.throwsAsync(start({ signal: run.signal })), 'stop the run')
})

test('a signal that is not an AbortSignal, or options of the wrong type, throw TypeError ERR_INVALID_ARG_TYPE synchronously', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const u = udp()
  closing(t, u)
  const buf = new Uint8Array(8)
  for (const signal of [5, 'abort', {}, { aborted: false }, null]) {
    const o = { signal } as never
    t.throws(() => c.recv(buf, undefined, o), badType)
    t.throws(() => c.send(buf, undefined, o), badType)
    t.throws(() => l.accept(o), badType)
    t.throws(() => c.connect(l.localAddr(), o), badType)
    t.throws(() => c.shutdown('w', o), badType)
    t.throws(() => u.send(buf, '127.0.0.1', 9, o), badType)
    t.throws(() => u.recv(buf, undefined, o), badType)
    t.throws(() => sleep(1, o), badType)
    t.throws(() => sleepUntil(1, o), badType)
    t.throws(() => poll(o), badType)
    t.throws(() => start(o), badType)
  }
  t.throws(() => c.recv(buf, undefined, { expires: 'soon' } as never), badType)
  t.throws(() => sleep(1, 5 as never), badType)
  t.throws(() => poll({ timeout: 'x' } as never), badType)
  t.false(c.closed)
  t.false(l.closed)
})

test.serial('100,000 operations on one long-lived signal leave no listener behind and no warning', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const warnings: Error[] = []
  const onWarning = (w: Error): void => void warnings.push(w)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const { signal } = new AbortController()
  const N = 100_000
  const one = new Uint8Array(1)
  let parked = 0
  // Ping-pong: each recv waits for the other side's send, so it parks with the signal.
  const echo = newthread(async () => {
    const b = new Uint8Array(1)
    for (let i = 0; i < N; i++) {
      await s.recv(b, undefined, { signal })
      await s.send(b, undefined, { signal })
    }
  })
  for (let i = 0; i < N; i++) {
    await c.send(one, undefined, { signal })
    const got = c.recv(one, undefined, { signal })
    parked = Math.max(parked, listeners(signal))
    await got
  }
  await within(echo.done, 60_000)
  t.is(listeners(signal), 0)
  t.true(parked >= 1 && parked <= 2, `at most two operations waited at once (${parked})`)
  t.deepEqual(warnings, [])
  t.deepEqual(stats().waiting, { read: 0, write: 0 })
})
