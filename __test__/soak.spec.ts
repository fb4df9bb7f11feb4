/**
 * Nothing lost, nothing leaked, load held. Two profiles: `quick` (the default, in `npm test`) and
 * `full` (`npm run soak`: SOCKET2_SOAK=full), the sizes: 1 GiB transfers, 100,000
 * connect/accept/close cycles and timeouts, 10,000 closes while waiting, 1,000,000 round trips,
 * 100,000 lookups, 9,000 connections. Each test logs its figures; `npm run soak` prints them as
 * the summary.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import test, { type ExecutionContext } from 'ava'
import { addr, clock, newthread, SocketError, tcp, type Tcp, udp } from 'socket2'
// @ts-expect-error: a plain ES module shared with the worker, without typings
import { chunks, sha256 } from './fixtures/soak-data.mjs'
import { childStart, closing, linux, onlyOn, pair, within } from './util'

const full = process.env.SOCKET2_SOAK === 'full'
const MiB = 1 << 20
const size = {
  transfer: full ? 1024 * MiB : 64 * MiB,
  cycles: full ? 100_000 : 2_000,
  timeouts: full ? 100_000 : 2_000,
  closes: full ? 10_000 : 2_000,
  roundTrips: full ? 1_000_000 : 50_000,
  lookups: full ? 100_000 : 10_000,
  connections: full ? 9_000 : 1_000,
}
/** What a test may take: the full profile's runs take minutes. */
const bound = full ? 30 * 60_000 : 60_000
/**
 * How much RSS may grow from the warmed-up start to the end of a long loop. Node's heap and
 * allocator keep slack of their own (a young generation is 16 MiB), so growth under this is
 * not a leak; a per-iteration leak of even 100 bytes over 1,000,000 round trips exceeds it.
 */
const RSS_BOUND = 48 * MiB

const unixLike = onlyOn(linux, 'counts descriptors in /proc and raises RLIMIT_NOFILE with a POSIX shell')
const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`

function fds(): number {
  return readdirSync('/proc/self/fd').length
}

/** Sends the pattern's first `bytes` bytes. */
async function sendPattern(c: Tcp, bytes: number): Promise<void> {
  for (const chunk of chunks(bytes) as Iterable<Uint8Array>) await c.send(chunk)
  c.shutdown('w')
}

/** Receives until end of stream: the count and sha256. */
async function receiveHashed(c: Tcp): Promise<{ received: number; sha256: string }> {
  const hash = createHash('sha256')
  const buf = new Uint8Array(256 << 10)
  let received = 0
  for (let n; (n = await c.recv(buf)) > 0; received += n) hash.update(buf.subarray(0, n))
  return { received, sha256: hash.digest('hex') }
}

function rate(t: ExecutionContext, what: string, bytes: number, seconds: number): void {
  t.log(`${what}: ${mib(bytes)} in ${seconds.toFixed(2)} s, ${(bytes / MiB / seconds).toFixed(0)} MiB/s, sha256 checked`)
}

test.serial(`${mib(size.transfer)} through socket2 on both ends arrive with the same sha256`, async (t) => {
  t.timeout(bound)
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const began = clock()
  const [, got] = await Promise.all([newthread(sendPattern, c, size.transfer).done, receiveHashed(s)])
  rate(t, 'one way', size.transfer, clock() - began)
  t.deepEqual(got, { received: size.transfer, sha256: sha256(size.transfer) })
})

test.serial(`${mib(size.transfer)} each way at once (full duplex) arrive with the same sha256`, async (t) => {
  t.timeout(bound)
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const began = clock()
  const [, , there, back] = await Promise.all([
    newthread(sendPattern, c, size.transfer).done,
    newthread(sendPattern, s, size.transfer).done,
    receiveHashed(s),
    receiveHashed(c),
  ])
  rate(t, 'full duplex', 2 * size.transfer, clock() - began)
  const want = { received: size.transfer, sha256: sha256(size.transfer) }
  t.deepEqual([there, back], [want, want])
})

test.serial(`${mib(size.transfer)} each way between the main thread and a worker (each with its own poller) arrive with the same sha256`, async (t) => {
  t.timeout(bound)
  const l = tcp()
  closing(t, l)
  await l.listen('127.0.0.1', 0)
  const began = clock()
  const w = new Worker(fileURLToPath(new URL('./fixtures/soak-worker.mjs', import.meta.url)), {
    workerData: { port: l.localAddr().port, bytes: size.transfer },
  })
  const fromWorker = new Promise((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  const [c] = await within(l.accept(), 10_000)
  closing(t, c)
  const [, mine, theirs] = await Promise.all([newthread(sendPattern, c, size.transfer).done, receiveHashed(c), fromWorker])
  rate(t, 'across a worker, both ways', 2 * size.transfer, clock() - began)
  const want = { received: size.transfer, sha256: sha256(size.transfer) }
  t.deepEqual([mine, theirs], [want, want])
})

/** Runs `body`, logging descriptors and RSS before (after a warm-up) and after; fds must return. */
async function leakRun(t: ExecutionContext, what: string, warmUp: () => Promise<void>, body: () => Promise<void>): Promise<void> {
  t.timeout(bound)
  await warmUp()
  const fd0 = fds()
  const rss0 = process.memoryUsage.rss()
  const began = clock()
  await body()
  const fd1 = fds()
  const rss1 = process.memoryUsage.rss()
  t.log(`${what}: fds ${fd0} -> ${fd1}, RSS ${mib(rss0)} -> ${mib(rss1)} (${(clock() - began).toFixed(1)} s)`)
  t.true(fd1 <= fd0, `descriptors ${fd0} before, ${fd1} after`)
  t.true(rss1 - rss0 < RSS_BOUND, `RSS grew by ${mib(rss1 - rss0)}`)
}

/** Runs `n` tasks, `width` at a time. */
async function inBatches(n: number, width: number, task: () => Promise<void>): Promise<void> {
  for (let done = 0; done < n; done += width) await Promise.all(Array.from({ length: Math.min(width, n - done) }, task))
}

unixLike.serial(`${size.cycles} connect/accept/close cycles leave the descriptors as they were`, async (t) => {
  const l = tcp()
  closing(t, l)
  await l.listen('127.0.0.1', 0)
  const cycle = async (): Promise<void> => {
    const c = tcp()
    const [[s]] = await Promise.all([l.accept(), c.connect(l.localAddr())])
    c.close()
    s.close()
  }
  // One at a time: accept takes one waiter per listener.
  await leakRun(t, `${size.cycles} connect/accept/close`, () => inBatches(100, 1, cycle), () => inBatches(size.cycles, 1, cycle))
})

unixLike.serial(`${size.timeouts} receives that time out (each closing its socket) leave the descriptors as they were`, async (t) => {
  const timeOut = async (): Promise<void> => {
    const u = udp()
    await u.bind('127.0.0.1', 0)
    await t.throwsAsync(u.recv(new Uint8Array(8), undefined, clock() + 0.001), { instanceOf: SocketError, code: 'ETIMEDOUT' })
    t.true(u.closed)
  }
  await leakRun(t, `${size.timeouts} timeouts`, () => inBatches(100, 100, timeOut), () => inBatches(size.timeouts, 1000, timeOut))
})

unixLike.serial(`${size.closes} sockets closed while a thread waits on them leave the descriptors as they were`, async (t) => {
  const closeWaiting = async (): Promise<void> => {
    const [c, s, l] = await pair()
    const waiting = newthread(() => c.recv(new Uint8Array(8))).done
    c.close()
    await t.throwsAsync(waiting, { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
    s.close()
    l.close()
  }
  await leakRun(t, `${size.closes} closes while waiting`, () => inBatches(100, 50, closeWaiting), () => inBatches(size.closes, 50, closeWaiting))
})

unixLike.serial(`RSS stays within ${mib(RSS_BOUND)} over ${size.roundTrips} round trips`, async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const echo = newthread(async () => {
    const buf = new Uint8Array(64)
    for (let n; (n = await s.recv(buf)) > 0; ) await s.send(buf, n)
  })
  const ping = new Uint8Array(64).fill(1)
  const pong = new Uint8Array(64)
  const trips = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await c.send(ping)
      for (let got = 0; got < 64; ) got += await c.recv(pong.subarray(got))
    }
  }
  await leakRun(t, `${size.roundTrips} round trips`, () => trips(size.roundTrips / 10), () => trips(size.roundTrips))
  c.shutdown('w')
  await echo.done
})

unixLike.serial(`RSS stays within ${mib(RSS_BOUND)} over ${size.lookups} addr()/free() calls`, async (t) => {
  const lookup = async (): Promise<void> => {
    const ai = await addr('localhost', 80, 'tcp')
    ai.free()
  }
  await leakRun(t, `${size.lookups} addr()/free()`, () => inBatches(1000, 16, lookup), () => inBatches(size.lookups, 16, lookup))
})

unixLike(`${size.connections} concurrent connections, both ends in one process, all echo their own data, then close`, (t) => {
  t.timeout(bound)
  // Both ends of every connection and a little over: the soft limit is raised to the hard one.
  const r = spawnSync('sh', ['-c', 'ulimit -n $(ulimit -Hn) && exec "$0" "$@"', process.execPath, fileURLToPath(new URL('./fixtures/soak-load.mjs', import.meta.url)), String(size.connections)], {
    encoding: 'utf8',
    timeout: bound + childStart,
  })
  t.is(r.status, 0, `${r.signal ?? ''} ${r.stderr}`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
  t.log(`load: ${out.connections} connections held (${out.open} descriptors), ${out.checked} echoes checked, fds ${out.before} -> ${out.after}`)
  t.like(out, { connections: size.connections, checked: size.connections, after: out.before })
  t.true(out.open >= 2 * size.connections)
})
