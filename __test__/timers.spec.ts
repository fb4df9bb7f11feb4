/**
 * Time: clock(), sleep(), sleepUntil() and the timer heap behind them (shared with every
 * `expires` deadline). A sleep never ends early; late, by at most `LATE`: a bound for a loaded
 * machine (five times wider under an emulator, which runs JavaScript tens of times slower), which
 * still fails a sleep left to some later event instead of its own timer.
 */
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { clock, newthread, poll, sleep, sleepUntil } from 'socket2'
import { childStart, emulated, pair, within } from './util.ts'

const LATE = emulated ? 5 : 1

test.serial('sleeps in different threads wake in deadline order, none early and none more than a second late', async (t) => {
  // Each thread's deadline is its own start plus its sleep: the threads start one after the
  // other, so the wake order is checked against the deadlines, not against the sleeps alone.
  const woke: number[] = []
  const late: number[] = []
  const threads = [0.03, 0.01, 0.02].map((s) =>
    newthread(async () => {
      const deadline = clock() + s
      await sleep(s)
      late.push(clock() - deadline)
      woke.push(deadline)
    }),
  )
  await within(Promise.all(threads.map((th) => th.done)))
  t.is(woke.length, 3)
  t.deepEqual(woke, [...woke].sort((a, b) => a - b))
  for (const l of late) t.true(l >= 0 && l < LATE, `woke ${l * 1000} ms late`)
})

test.serial('sleepUntil(clock() + x) never resumes before clock() + x', async (t) => {
  const xs = [0, 0.0001, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
  await within(
    Promise.all(
      xs.map(async (x) => {
        const target = clock() + x
        await sleepUntil(target)
        const now = clock()
        t.true(now >= target, `sleepUntil(+${x}) resumed ${(target - now) * 1000} ms early`)
        t.true(now - target < LATE, `sleepUntil(+${x}) resumed ${(now - target) * 1000} ms late`)
      }),
    ),
  )
})

test('sleep(0), a negative sleep and sleepUntil in the past resolve on the next timer turn', async (t) => {
  const t0 = clock()
  await within(Promise.all([sleep(0), sleep(-1), sleepUntil(clock() - 10), sleepUntil(0)]), LATE * 1000)
  t.true(clock() - t0 < LATE)
})

test('a sleep does not resolve within the same microtask drain', async (t) => {
  let woke = false
  const p = sleep(0).then(() => {
    woke = true
  })
  for (let i = 0; i < 100; i++) await Promise.resolve()
  t.false(woke)
  await within(p)
  t.true(woke)
})

test('many concurrent sleeps all fire, each on time, in deadline order', async (t) => {
  const n = 2000
  const t0 = clock()
  const targets = Array.from({ length: n }, (_, i) => t0 + ((i * 7919) % n) / n / 10) // 0..0.1 s, shuffled
  const fired: number[] = []
  let early = 0
  await within(
    Promise.all(
      targets.map(async (target) => {
        await sleepUntil(target)
        if (clock() < target) early++
        fired.push(target)
      }),
    ),
    10_000,
  )
  t.is(fired.length, n)
  t.is(early, 0)
  t.true(
    fired.every((x, i) => i === 0 || fired[i - 1]! <= x),
    'sleeps fired out of deadline order',
  )
  // sleep(s) too: all of them fire.
  let count = 0
  await within(Promise.all(Array.from({ length: 500 }, (_, i) => sleep((i % 10) / 1000).then(() => count++))))
  t.is(count, 500)
})

test('deadlines cancelled from the middle of the heap leave the remaining sleeps in order and on time', async (t) => {
  const [c, s, l] = await pair()
  try {
    const t0 = clock()
    // Timers that are cancelled before they fire: recv deadlines that data beats, and poll
    // timeouts that an I/O event beats.
    const buf = new Uint8Array(1)
    const reader = (async () => {
      let got = 0
      for (let i = 0; i < 20; i++) got += await s.recv(buf, 1, clock() + 5 + i / 10)
      return got
    })()
    const polls = Array.from({ length: 50 }, (_, i) => poll(2 + i / 50))
    const targets = Array.from({ length: 300 }, (_, i) => t0 + 0.005 + ((i * 37) % 300) / 300 / 10)
    const fired: number[] = []
    let early = 0
    const sleeps = Promise.all(
      targets.map(async (target) => {
        await sleepUntil(target)
        if (clock() < target) early++
        fired.push(target)
      }),
    )
    for (let i = 0; i < 20; i++) {
      await sleep(0.002)
      await c.send(buf)
    }
    t.is(await within(reader), 20)
    t.deepEqual(await within(Promise.all(polls)), polls.map(() => true))
    await within(sleeps)
    t.is(early, 0)
    t.is(fired.length, targets.length)
    t.true(
      fired.every((x, i) => i === 0 || fired[i - 1]! <= x),
      'sleeps fired out of deadline order',
    )
  } finally {
    for (const x of [c, s, l]) x.close()
  }
})

test('clock() is monotonic and counts seconds', async (t) => {
  let prev = clock()
  t.is(typeof prev, 'number')
  t.true(Number.isFinite(prev) && prev >= 0)
  for (let i = 0; i < 100_000; i++) {
    const now = clock()
    if (now < prev) return t.fail(`clock() went back from ${prev} to ${now}`)
    prev = now
  }
  const c0 = clock()
  const d0 = Date.now()
  await new Promise((resolve) => setTimeout(resolve, 200))
  const dc = clock() - c0
  const dd = (Date.now() - d0) / 1000
  t.true(dc >= 0.19 && dc < 2, `clock() advanced ${dc} over a 200 ms setTimeout`)
  t.true(Math.abs(dc - dd) < 0.05, `clock() advanced ${dc}s while Date advanced ${dd}s`)
})

test('sleep() and sleepUntil() with a non-number throw TypeError ERR_INVALID_ARG_TYPE synchronously', (t) => {
  // Once they returned a rejected promise with a TypeError without a code.
  const ignore = (): void => {}
  for (const v of ['x', NaN, undefined, null, {}]) {
    t.throws(() => void sleep(v as never).catch(ignore), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
    t.throws(() => void sleepUntil(v as never).catch(ignore), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  }
})

const execFileAsync = promisify(execFile)
const longSleep = fileURLToPath(new URL('./fixtures/long-sleep.mjs', import.meta.url))

/** Runs the fixture without blocking this process's loop (the other tests time sleeps). */
async function runLongSleep(seconds: string): Promise<{ warnings: number; names: string[]; cpuMs: number }> {
  const { stdout } = await within(execFileAsync(process.execPath, [longSleep, seconds], { encoding: 'utf8', timeout: 10_000 + childStart }), 15_000 + childStart)
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

test('a pending sleep of a few hours does not warn', async (t) => {
  const out = await runLongSleep('10000')
  t.is(out.warnings, 0)
})

test('a sleep beyond setTimeout’s 24.8-day limit (or Infinity) does not overflow setTimeout', async (t) => {
  // Armed with the full delay, Node clamps it to 1 ms with a TimeoutOverflowWarning, and the
  // heap re-arms it every millisecond until the deadline.
  for (const s of ['3000000', 'Infinity']) {
    const out = await runLongSleep(s)
    t.deepEqual(out.names, [], `sleep(${s}): ${out.warnings} warnings`)
  }
})

test('clock() is one clock for the process: a Worker reads a time between the two its parent read around it', async (t) => {
  // A Worker's performance.now() starts from its own origin, later than the main thread's.
  const before = clock()
  const w = new Worker(fileURLToPath(new URL('./fixtures/clock.mjs', import.meta.url)))
  try {
    const [theirs] = (await within(once(w, 'message'), 10_000)) as [number]
    const after = clock()
    // The offset of each thread is sampled to well under a millisecond.
    t.true(theirs >= before - 0.001 && theirs <= after + 0.001, `${before} <= ${theirs} <= ${after}`)
  } finally {
    await w.terminate()
  }
})
