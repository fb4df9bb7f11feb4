/**
 * Threads sharing one kernel poller (`epollFd(fd)` in a Worker): each thread's events reach it
 * and no other, while workers start, stop and are terminated mid-traffic; the thread that made
 * the poller can end first; nothing leaks.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { epollFd, stats, tcp } from 'socket2'
import { echoRounds } from './fixtures/echo-rounds.mjs'
import { childStart, emulated, linux, onlyOn, windows, within } from './util.ts'

const fixture = fileURLToPath(new URL('./fixtures/shared-echo.mjs', import.meta.url))
const uv = (process.env.SOCKET2_POLLER ?? 'uv') === 'uv'
const sharing = onlyOn(!windows && uv, 'a poller descriptor to share: epoll or kqueue, watched by the loop (the default backend)')

interface Shared {
  w: Worker
  /** The descriptor the worker's poller ended up with. */
  fd: Promise<number>
  running: Promise<void>
  done: Promise<{ threads: number; kept: number; routed: number; dropped: number; drained: number }>
  exit: Promise<number>
}

/** A worker running `shared-echo.mjs`, every message listened for from the start. */
function start(workerData: { poller?: number; rounds: number; id: number }): Shared {
  const w = new Worker(fixture, { workerData })
  const failed = new Promise<never>((_, reject) => w.once('error', reject))
  failed.catch(() => {})
  const message = <T>(key: string) =>
    Promise.race([
      failed,
      new Promise<T>((resolve) => {
        const on = (m: Record<string, unknown>) => {
          if (key in m) {
            w.off('message', on)
            resolve((key === 'fd' ? m.fd : m.stats) as T)
          }
        }
        w.on('message', on)
      }),
    ])
  return {
    w,
    fd: message<number>('fd'),
    running: message<void>('running'),
    done: message('done'),
    exit: new Promise((resolve) => w.once('exit', resolve)),
  }
}

/** `rounds` checked echo round trips in this thread. */
const echo = (rounds: number) => echoRounds('main', rounds)

/** This process's open descriptors (Linux), or -1. */
const fds = () => (linux ? readdirSync('/proc/self/fd').length : -1)

/** Whether the descriptor count comes back to at most `before` (waiting, bounded: a thread's
 * teardown closes its handles in a later loop turn). A leak is at least one per worker. */
async function settles(before: number): Promise<boolean> {
  for (let i = 0; i < 200 && fds() > before; i++) await new Promise((r) => setTimeout(r, 10))
  return fds() <= before
}

const threads = () => stats().poller?.threads

/** Round trips and workers, a tenth as many under an emulator (every worker boots a whole Node
 * there, many times slower), so a test stays within ava's timeout. */
const scaled = (n: number) => (emulated ? Math.ceil(n / 10) : n)

for (const n of [2, 4]) {
  sharing.serial(`${n} workers share the main thread's poller, each with checked echoes, beside the main thread's own`, async (t) => {
    const fd = epollFd()
    const before = fds()
    const routed = stats().poller!.routed
    const ws = Array.from({ length: n }, (_, id) => start({ poller: fd, rounds: 400, id }))
    t.deepEqual(await within(Promise.all(ws.map((w) => w.fd)), 10_000 + childStart), ws.map(() => fd))
    await within(echo(400), 30_000 + childStart)
    const done = await within(Promise.all(ws.map((w) => w.done)), 30_000 + childStart)
    // Counts are the poller's, whichever thread reads them.
    t.true(done.every((s) => s.threads >= 1 && s.threads <= n + 1))
    t.deepEqual(await within(Promise.all(ws.map((w) => w.exit)), 10_000 + childStart), ws.map(() => 0))
    t.is(threads(), 1, 'each worker left the poller as it ended')
    t.true(stats().poller!.routed > routed, 'events of one thread were drained by another and routed to it')
    t.true(await settles(before), `${fds()} descriptors open, ${before} before`)
  })
}

sharing.serial('a thread that waits for nothing stops watching the shared poller: the others\' traffic does not wake it', async (t) => {
  const fd = epollFd()
  const before = stats().poller!
  const ws = [0, 1].map((id) => start({ poller: fd, rounds: 500, id }))
  await within(Promise.all(ws.map((w) => w.done)), 30_000 + childStart)
  await within(Promise.all(ws.map((w) => w.exit)), 10_000 + childStart)
  const after = stats().poller!
  // Thousands of events went through the poller; this thread drained at most a few, while it
  // still watched at the start.
  t.true(after.kept + after.routed - before.kept - before.routed > 2000)
  t.true(after.drained - before.drained < 20, `${after.drained - before.drained} drained here`)
})

sharing.serial('a worker terminated mid-traffic leaves the poller: no crash, no descriptor leaked, the others go on', async (t) => {
  const fd = epollFd()
  const before = fds()
  const doomed = start({ poller: fd, rounds: 0, id: 0 })
  const others = [1, 2].map((id) => start({ poller: fd, rounds: scaled(3000), id }))
  await within(doomed.running, 10_000 + childStart)
  t.is(await within(doomed.w.terminate(), 10_000 + childStart), 1)
  await within(Promise.all(others.map((w) => w.done)), 60_000 + childStart)
  await within(echo(100), 10_000 + childStart)
  await within(Promise.all(others.map((w) => w.exit)), 10_000 + childStart)
  t.is(threads(), 1)
  t.true(await settles(before), `${fds()} descriptors open, ${before} before`)
})

sharing.serial(`${scaled(10) * 5} workers come and go on one poller, half terminated mid-traffic, with traffic between`, async (t) => {
  const fd = epollFd()
  const before = fds()
  for (let batch = 0; batch < scaled(10); batch++) {
    const ws = Array.from({ length: 5 }, (_, i) => start({ poller: fd, rounds: i % 2 ? 0 : 30, id: batch * 5 + i }))
    await within(echo(20), 10_000 + childStart)
    for (const [i, w] of ws.entries()) {
      if (i % 2) {
        await within(w.running, 10_000 + childStart)
        await within(w.w.terminate(), 10_000 + childStart)
      } else await within(w.done, 10_000 + childStart)
    }
    await within(Promise.all(ws.map((w) => w.exit)), 10_000 + childStart)
  }
  t.is(threads(), 1)
  await within(echo(100), 10_000 + childStart)
  t.true(await settles(before), `${fds()} descriptors open, ${before} before`)
})

sharing.serial('the thread that made a poller can end first: the others keep it, and it can still be joined', async (t) => {
  const maker = start({ rounds: 0, id: 0 })
  const fd = await within(maker.fd, 10_000 + childStart)
  t.not(fd, epollFd())
  // Runs until terminated: still a member when the maker goes.
  const stays = start({ poller: fd, rounds: 0, id: 1 })
  let staysExited = false
  void stays.exit.then(() => (staysExited = true))
  t.is(await within(stays.fd, 10_000 + childStart), fd)
  await within(Promise.all([maker.running, stays.running]), 10_000 + childStart)
  t.is(await within(maker.w.terminate(), 10_000 + childStart), 1)
  const late = start({ poller: fd, rounds: scaled(200), id: 2 })
  t.is(await within(late.fd, 10_000 + childStart), fd)
  const s = await within(late.done, 60_000 + childStart)
  t.is(s.threads, 2, 'the late worker and the one that stayed')
  t.is(await within(late.exit, 10_000 + childStart), 0)
  t.false(staysExited, 'the worker that stayed is still echoing')
  t.is(await within(stays.w.terminate(), 10_000 + childStart), 1)
})

sharing.serial('an event another thread drained wakes its owner: a worker whose loop was blocked while the main thread drained its data still gets it', async (t) => {
  const l = tcp()
  await l.listen('127.0.0.1', 0)
  const gate = new Int32Array(new SharedArrayBuffer(4))
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const { epollFd, stats, tcp } = require(workerData.entry)
     epollFd(workerData.poller)
     let before
     const c = tcp()
     c.connect('127.0.0.1', workerData.port).then(() => {
       const buf = new Uint8Array(16)
       // Parked with no deadline: only an event, or the bell of a routed one, wakes it.
       c.recv(buf).then((n) => parentPort.postMessage(Buffer.from(buf.subarray(0, n)).toString() + ' ' + (stats().wakeups - before)))
       parentPort.postMessage('parked')
       before = stats().wakeups
       // The loop is blocked until the main thread has drained the data's event.
       Atomics.wait(workerData.gate, 0, 0)
     })`,
    { eval: true, workerData: { poller: epollFd(), port: l.localAddr().port, gate, entry: require.resolve('socket2') } },
  )
  const next = () => new Promise<string>((resolve) => w.once('message', resolve))
  w.on('error', (e) => t.fail(String(e)))
  try {
    const parked = next()
    const [s] = await within(l.accept(), 10_000 + childStart)
    t.is(await within(parked, 10_000 + childStart), 'parked')
    const routed = stats().poller!.routed
    // A thread watches a shared poller while it waits for something (an accept nobody will
    // satisfy, here); only this thread's loop runs now: it drains the worker's event and
    // routes it.
    const waiting = l.accept().catch(() => {})
    await s.send('routed')
    for (let i = 0; i < 500 && stats().poller!.routed === routed; i++) await new Promise((r) => setTimeout(r, 10))
    t.true(stats().poller!.routed > routed, 'the main thread drained the worker\'s event')
    const got = next()
    Atomics.store(gate, 0, 1)
    Atomics.notify(gate, 0)
    // Woken by its loop (the bell the main thread rang), not found by the check a thread with
    // waiting operations makes once a second, which is no wake-up.
    t.regex(await within(got, 10_000 + childStart), /^routed [1-9]\d*$/)
    s.close()
    l.close()
    await waiting
  } finally {
    l.close()
    await w.terminate()
  }
})

onlyOn(!windows && uv, 'the default backend')('epollFd(fd) refuses a descriptor that is no thread\'s poller (EINVAL) and a thread with sockets open (EBUSY), then shares once they are closed', async (t) => {
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const { epollFd, tcp } = require(workerData.entry)
     const code = (f) => { try { return f() } catch (e) { return e.code + ' ' + e.name + ': ' + e.message } }
     const own = epollFd()
     const notPoller = code(() => epollFd(0))
     const s = tcp()
     const busy = code(() => epollFd(workerData.main))
     s.close()
     parentPort.postMessage([own, notPoller, busy, code(() => epollFd(workerData.main)), epollFd()])`,
    { eval: true, workerData: { main: epollFd(), entry: require.resolve('socket2') } },
  )
  try {
    const [[own, notPoller, busy, shared, after]] = (await within(new Promise((r) => w.once('message', (m) => r([m]))), 10_000 + childStart)) as [[number, string, string, number, number]]
    t.not(own, epollFd())
    t.regex(notPoller, /^EINVAL SocketError: epoll_fd EINVAL: not the poller descriptor/)
    t.regex(busy, /^EBUSY SocketError: epoll_fd EBUSY: this thread has sockets open/)
    t.is(shared, epollFd())
    t.is(after, epollFd())
  } finally {
    await w.terminate()
  }
})

onlyOn(!windows, 'the thread backend has an epoll or kqueue fd to name here')('with a poller thread (SOCKET2_POLLER=thread) epollFd(fd) throws ENOTSUP: that poller is not shared', (t) => {
  const r = spawnSync(
    process.execPath,
    ['-e', `const { epollFd } = require(${JSON.stringify(require.resolve('socket2'))}); try { epollFd(epollFd() + 1000) } catch (e) { console.log(e.code, e.message) }`],
    { env: { ...process.env, SOCKET2_POLLER: 'thread' }, encoding: 'utf8', timeout: 20_000 + childStart },
  )
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /^ENOTSUP epoll_fd ENOTSUP: a poller thread waits on this thread's poller/)
})
