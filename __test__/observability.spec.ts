/**
 * Observability: `stats()` counts for the calling thread, and `NODE_DEBUG=socket2` logs through
 * util.debuglog (and prints nothing without it).
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { clock, newthread, sleep, type Stats, stats, udp } from 'socket2'
import { childStart, closing, emulated, pair, within } from './util.ts'

const fixture = fileURLToPath(new URL('./fixtures/debug-log.mjs', import.meta.url))

test.serial('stats() counts open sockets, waits by direction and timers, and they return to where they were', async (t) => {
  const before = stats()
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const u = udp()
  closing(t, u)
  t.is(stats().sockets, before.sockets + 4)

  s.setopt('so_rcvbuf', 4096)
  c.setopt('so_sndbuf', 4096)
  const reading = c.recv(new Uint8Array(8), undefined, clock() + 30)
  const writing = c.send(Buffer.alloc(8 << 20)) // the peer never reads: it waits for room
  const slept = sleep(30)
  const now = stats()
  t.deepEqual(now.waiting, { read: before.waiting.read + 1, write: before.waiting.write + 1 })
  t.is(now.timers, before.timers + 2)

  c.close()
  await t.throwsAsync(reading, { code: 'ERR_SOCKET_CLOSED' })
  await t.throwsAsync(writing, { code: 'ERR_SOCKET_CLOSED' })
  u.close()
  const after = stats()
  t.is(after.sockets, before.sockets + 2)
  t.deepEqual(after.waiting, before.waiting)
  t.is(after.timers, before.timers + 1, 'the sleep is still pending, the deadline is gone')
  void slept
})

test.serial('stats() counts wake-ups and dispatches as operations wait and are woken', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const before = stats()
  const echo = newthread(async () => {
    const b = new Uint8Array(1)
    for (let i = 0; i < 50; i++) {
      await s.recv(b)
      await s.send(b)
    }
  })
  const b = new Uint8Array(1)
  for (let i = 0; i < 50; i++) {
    await c.send(b)
    await c.recv(b)
  }
  await within(echo.done)
  const after = stats()
  t.true(after.wakeups > before.wakeups, `wake-ups ${before.wakeups} -> ${after.wakeups}`)
  t.true(after.dispatches >= after.wakeups - before.wakeups + before.dispatches, 'each wake-up is a dispatch')
})

test('stats() is cheap enough to call per request: 100,000 calls well under a second', (t) => {
  const t0 = clock()
  let n = 0
  for (let i = 0; i < 100_000; i++) n += stats().sockets
  // An emulator runs each call into the addon (one per stats()) about 200 times slower.
  const bound = emulated ? 30 : 1
  t.true(clock() - t0 < bound, `${((clock() - t0) * 10).toFixed(2)} µs per call`)
  t.true(n >= 0)
})

test.serial('stats() in a worker counts the worker\'s sockets and waits, not its parent\'s', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const parked = c.recv(new Uint8Array(1))
  const mine = stats()
  const w = new Worker(fileURLToPath(new URL('./fixtures/worker-stats.mjs', import.meta.url)))
  const [theirs] = (await within(once(w, 'message'), 10_000 + childStart)) as [Stats]
  t.is(theirs.sockets, 3)
  t.deepEqual(theirs.waiting, { read: 1, write: 0 })
  t.is(stats().sockets, mine.sockets)
  t.deepEqual(stats().waiting, mine.waiting)
  t.is((await within(once(w, 'exit'), 10_000))[0], 0)
  c.close()
  await t.throwsAsync(parked, { code: 'ERR_SOCKET_CLOSED' })
})

const run = promisify(execFile)

test('NODE_DEBUG=socket2 logs opens, closes, waits, wake-ups, deadlines and aborts through util.debuglog', async (t) => {
  const { stderr } = await run(process.execPath, [fixture], { env: { ...process.env, NODE_DEBUG: 'socket2' }, timeout: 20_000 + childStart })
  const lines = stderr.split('\n').filter((l) => l !== '')
  const prefix = /^SOCKET2 \d+: /
  t.true(lines.length > 0 && lines.every((l) => prefix.test(l)), stderr)
  const said = (re: RegExp): boolean => lines.some((l) => re.test(l.replace(prefix, '')))
  t.true(said(/^open: tcp inet #\d+$/), 'open')
  t.true(said(/^wait: recv on #\d+$/), 'wait')
  t.true(said(/^wake: \d+ events$/), 'wake')
  t.true(said(/^deadline: recv on #\d+$/), 'deadline')
  t.true(said(/^abort: recv on #\d+$/), 'abort')
  t.true(said(/^close: #\d+$/), 'close')
})

test('without NODE_DEBUG the same program prints nothing', async (t) => {
  const env = { ...process.env }
  delete env.NODE_DEBUG
  const { stdout, stderr } = await run(process.execPath, [fixture], { env, timeout: 20_000 + childStart })
  t.is(stdout, '')
  t.is(stderr, '')
})
