/**
 * The scheduler: newthread, start/stop, poll and the cooperative budget. start()/stop() and
 * poll() act on process-wide state, so every test that uses them is serial (ava runs serial
 * tests before the concurrent ones of the file).
 */
import test from 'ava'
import { clock, newthread, poll, sleep, start, stop, tcp, Thread, type Tcp } from 'socket2'
import { listener, pair, within } from './util.ts'

test.serial('newthread runs the function synchronously until its first await', async (t) => {
  const seen: string[] = []
  const th = newthread(async () => {
    seen.push('before')
    await sleep(0.001)
    seen.push('after')
  })
  t.deepEqual(seen, ['before'])
  t.true(th instanceof Thread)
  await within(th.done)
  t.deepEqual(seen, ['before', 'after'])
})

test.serial('newthread passes its extra arguments to the function', async (t) => {
  const th = newthread(async (a: number, b: string) => `${b}${a + 1}`, 41, 'n=')
  t.is(await within(th.done), 'n=42')
})

test.serial('thread.done resolves with the return value (async and plain functions)', async (t) => {
  const a = newthread(async () => {
    await sleep(0.001)
    return { x: 1 }
  })
  const b = newthread(() => 7)
  t.deepEqual(await within(a.done), { x: 1 })
  t.is(await within(b.done), 7)
})

test.serial('a function that throws before its first await rejects done, newthread itself does not throw', async (t) => {
  const err = new Error('sync boom')
  let th: Thread | undefined
  t.notThrows(() => {
    th = newthread(() => {
      throw err
    })
  })
  await t.throwsAsync(within(th!.done), { is: err })
})

test.serial('start() with no live thread resolves at once', async (t) => {
  await t.notThrowsAsync(within(start(), 1000))
})

test.serial('start() resolves when every thread has ended, including threads started by threads', async (t) => {
  const order: string[] = []
  newthread(async () => {
    await sleep(0.01)
    order.push('parent')
    newthread(async () => {
      await sleep(0.02)
      order.push('child')
      newthread(async () => {
        await sleep(0.01)
        order.push('grandchild')
      })
    })
  })
  newthread(async () => {
    await sleep(0.005)
    order.push('sibling')
  })
  await within(start())
  t.deepEqual(order, ['sibling', 'parent', 'child', 'grandchild'])
})

test.serial('a second start() while one runs returns the running promise', async (t) => {
  const th = newthread(() => sleep(0.02))
  const p = start()
  t.is(start(), p)
  await within(p)
  await th.done
})

test.serial('start() rejects with the first error a thread throws, and that thread.done rejects with it', async (t) => {
  const err = new Error('boom')
  const late = new Error('later')
  const bad = newthread(async () => {
    await sleep(0.01)
    throw err
  })
  const later = newthread(async () => {
    await sleep(0.03)
    throw late
  })
  await t.throwsAsync(within(start()), { is: err })
  await t.throwsAsync(within(bad.done), { is: err })
  // The other thread keeps running after start() returned; its error stays on its own done.
  await t.throwsAsync(within(later.done), { is: late })
})

/** How `p` settles: `{ value }` or `{ error }` (which may be `undefined`). */
function outcome(p: Promise<unknown>): Promise<{ value: unknown } | { error: unknown }> {
  return within(p.then((value) => ({ value }), (error: unknown) => ({ error })))
}

test.serial('start() rejects even when a thread throws undefined, and does not resolve while others run', async (t) => {
  const bad = newthread(async () => {
    await sleep(0.01)
    throw undefined
  })
  let otherEnded = false
  const other = newthread(async () => {
    await sleep(0.05)
    otherEnded = true
  })
  t.deepEqual(await outcome(start()), { error: undefined })
  t.false(otherEnded) // start() ended for the error, not because every thread had finished
  t.deepEqual(await outcome(bad.done), { error: undefined })
  await within(other.done)
})

test.serial('start() called inside a thread waits for that thread too: it ends by its timeout, without a crash', async (t) => {
  const th = newthread(async () => {
    await start(0.05)
    return 'after'
  })
  t.is(await within(th.done), 'after')
})

test.serial('start() rejects with the error of a thread that throws synchronously while start() runs', async (t) => {
  const err = new TypeError('sync in child')
  let child: Thread | undefined
  const parent = newthread(async () => {
    await sleep(0.005)
    child = newthread(() => {
      throw err
    })
    await sleep(0.05)
    return 'parent done'
  })
  await t.throwsAsync(within(start()), { is: err })
  await t.throwsAsync(within(child!.done), { is: err })
  t.is(await within(parent.done), 'parent done')
})

test.serial('start(timeout) resolves after the timeout while a thread still sleeps', async (t) => {
  let woke = false
  const th = newthread(async () => {
    await sleep(0.4)
    woke = true
  })
  const t0 = clock()
  await within(start(0.05))
  const took = clock() - t0
  t.true(took >= 0.05, `returned early, after ${took}s`)
  t.true(took < 0.05 + 0.25, `returned late, after ${took}s`)
  t.false(woke)
  await within(th.done)
  t.true(woke)
})

test.serial('stop() makes a running start() resolve while threads stay where they are', async (t) => {
  const server = await listener()
  let accepted = false
  const waiter = newthread(async () => {
    await server.accept()
    accepted = true
  })
  newthread(async () => {
    await sleep(0.02)
    stop()
  })
  await within(start())
  t.false(accepted)
  // The thread still waits in accept; closing the socket ends it.
  server.close()
  await t.throwsAsync(within(waiter.done), { code: 'ERR_SOCKET_CLOSED' })
})

test.serial('stop() with no start() running does nothing', (t) => {
  t.notThrows(() => stop())
})

test.serial('start() after stop() waits for the threads still alive', async (t) => {
  let done = false
  const th = newthread(async () => {
    await sleep(0.05)
    done = true
  })
  setTimeout(stop, 5)
  await within(start())
  t.false(done)
  await within(start())
  t.true(done)
  await th.done
})

test.serial('poll(timeout) resolves false when no I/O event arrives', async (t) => {
  const t0 = clock()
  t.false(await within(poll(0.03)))
  t.true(clock() - t0 >= 0.03)
})

test.serial('poll(timeout) resolves true when an I/O event arrives', async (t) => {
  const [c, s, l] = await pair()
  try {
    const buf = new Uint8Array(1)
    // A reader waiting in recv registers the socket with the poller.
    const reader = newthread(() => s.recv(buf))
    await sleep(0.02) // events of the registration itself, if any, pass
    let settled = false
    const p = poll(5).then((v) => {
      settled = true
      return v
    })
    await sleep(0.03)
    t.false(settled, 'poll() resolved with no I/O')
    await c.send('x')
    t.true(await within(p))
    t.is(await within(reader.done), 1)
    t.is(buf[0], 'x'.charCodeAt(0))
  } finally {
    for (const x of [c, s, l]) x.close()
  }
})

test.serial('poll() without timeout resolves true on the next I/O event (a connection to accept)', async (t) => {
  const server = await listener()
  const c = tcp()
  try {
    const acceptor = newthread(() => server.accept())
    const p = poll()
    await c.connect(server.localAddr())
    t.true(await within(p))
    const [s] = (await within(acceptor.done)) as [Tcp]
    s.close()
  } finally {
    c.close()
    server.close()
  }
})

test.serial('a timer fires during a same-process TCP ping-pong that never waits on its own (the budget)', async (t) => {
  const [c, s, l] = await pair()
  try {
    const N = 2000
    // Keep a few bytes in flight each way so that, with the microtasks of both threads
    // interleaving, recv always finds data: without the budget the loop would never reach the
    // event loop and no timer could fire before it ended.
    const INFLIGHT = 4
    let i = 0
    let sleptAt = -1
    let timeoutAt = -1
    sleep(0.001).then(() => {
      sleptAt = i
    })
    setTimeout(() => {
      timeoutAt = i
    }, 0)
    const run = async (x: Tcp, count: boolean): Promise<void> => {
      const one = new Uint8Array(1)
      await x.send(new Uint8Array(INFLIGHT))
      for (let k = 0; k < N; k++) {
        await x.recv(one)
        await x.send(one)
        if (count) i = k + 1
      }
    }
    const a = newthread(run, c, true)
    const b = newthread(run, s, false)
    await within(Promise.all([a.done, b.done]), 20_000)
    t.is(i, N)
    t.true(sleptAt >= 0 && sleptAt < N, `sleep(0.001) fired at iteration ${sleptAt} of ${N}`)
    t.true(timeoutAt >= 0 && timeoutAt < N, `setTimeout(0) fired at iteration ${timeoutAt} of ${N}`)
  } finally {
    for (const x of [c, s, l]) x.close()
  }
})

test.serial('timers, immediates and nextTicks run during a same-process ping-pong whose every recv waits (the re-drain bound)', async (t) => {
  const [c, s, l] = await pair()
  try {
    // One byte in flight: every recv parks, and every wake-up's dispatch resumes a thread
    // whose send readies the other end, which the dispatch's re-drain picks up at once. Only
    // the re-drain's time bound hands the loop back before the ping-pong ends.
    const N = 5000
    let i = 0
    let timeoutAt = -1
    let immediateAt = -1
    let tickAt = -1
    setTimeout(() => {
      timeoutAt = i
    }, 0)
    setImmediate(() => {
      immediateAt = i
    })
    const run = async (x: Tcp, first: boolean): Promise<void> => {
      const one = new Uint8Array(1)
      if (first) await x.send(one)
      for (let k = 0; k < N; k++) {
        await x.recv(one)
        if (first && k === 10) process.nextTick(() => (tickAt = i))
        if (first) i = k + 1
        if (!first || k < N - 1) await x.send(one)
      }
    }
    const a = newthread(run, c, true)
    const b = newthread(run, s, false)
    await within(Promise.all([a.done, b.done]), 20_000)
    t.is(i, N)
    t.true(timeoutAt >= 0 && timeoutAt < N, `setTimeout(0) ran at round trip ${timeoutAt} of ${N}`)
    t.true(immediateAt >= 0 && immediateAt < N, `setImmediate ran at round trip ${immediateAt} of ${N}`)
    t.true(tickAt > 10 && tickAt < N, `a nextTick queued at round trip 11 ran at ${tickAt} of ${N}`)
  } finally {
    for (const x of [c, s, l]) x.close()
  }
})

test('newthread(notAFunction) throws TypeError ERR_INVALID_ARG_TYPE', (t) => {
  for (const v of [undefined, null, 1, 'f', {}, Promise.resolve()]) {
    t.throws(() => newthread(v as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  }
})

test('start() and poll() with a non-number timeout (or options.timeout) throw TypeError ERR_INVALID_ARG_TYPE synchronously', (t) => {
  for (const v of ['x', NaN, null, { timeout: 'x' }, { timeout: NaN }, true]) {
    t.throws(() => start(v as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
    t.throws(() => poll(v as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  }
})
