import { createHash, randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import test, { type ExecutionContext } from 'ava'
import { Address, AddrInfo, clock, newthread, SocketError, sleep, start, tcp, type Tcp } from 'socket2'
import { closing, detach, echo, fullListener, linuxOnly, listener, onlyOn, pair, readAll, resets, roundTrip, windows, within } from './util.ts'

// Every test here shares the one scheduler (`start()` waits for every live thread), and the
// deadline tests check timing: run them one at a time.
const serial = test.serial

/** A loopback port that nothing listens on: bound by a listener that is then closed. */
async function closedPort(family: 'inet' | 'inet6' = 'inet'): Promise<number> {
  const l = await listener(family)
  const port = l.localAddr().port
  l.close()
  return port
}

/** Reads exactly `n` bytes (fails on an early end of stream). */
async function readExact(s: Tcp, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n)
  let off = 0
  while (off < n) {
    const got = await s.recv(buf.subarray(off))
    if (got === 0) throw new Error(`end of stream after ${off} of ${n} bytes`)
    off += got
  }
  return buf
}

/** Whether `p` has settled by the time the event loop turns once (setImmediate). */
async function settlesAtOnce(p: Promise<unknown>): Promise<boolean> {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((resolve) => setImmediate(resolve))
  return settled
}

/**
 * Asserts that a deadline fired not before `expires` (the heap fires an entry only once
 * clock() reaches it) and within a second after: a bound for a loaded machine, which still fails
 * a deadline left to some later event instead of its own timer.
 */
function firedAtDeadline(t: ExecutionContext, expires: number): void {
  const now = clock()
  t.true(now >= expires, `fired ${((expires - now) * 1000).toFixed(1)} ms early`)
  t.true(now <= expires + 1, `fired ${((now - expires) * 1000).toFixed(1)} ms late`)
}

const timeout = { instanceOf: SocketError, code: 'ETIMEDOUT', message: 'timeout' }
const closedError = { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' }

// ---------------------------------------------------------------------------------------------
// Data transfer

serial('echo round trip through threads', async (t) => {
  const server = await listener()
  newthread(async () => echo((await server.accept())[0], 4096))
  let got = ''
  newthread(async () => {
    const c = tcp()
    await c.connect(server.localAddr(), clock() + 5)
    got = (await roundTrip(c, 'hello')).toString()
    c.close()
  })
  await within(start())
  server.close()
  t.is(got, 'hello')
})

serial('pair helper connects', async (t) => {
  const [c, s, l] = await pair()
  t.is(c.remoteAddr().port, l.localAddr().port)
  for (const x of [c, s, l]) x.close()
})

serial('16 MiB sent by one thread arrive byte for byte in another', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = randomBytes(16 * 1024 * 1024)
  const sender = newthread(async () => {
    const n = await c.send(data)
    c.shutdown('w')
    return n
  })
  const receiver = newthread(async () => readAll(s))
  const [sent, got] = (await within(Promise.all([sender.done, receiver.done]), 30000)) as [number, Buffer]
  t.is(sent, data.length)
  t.is(got.length, data.length)
  t.is(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'))
  t.true(got.equals(data))
})

serial('send sends only the first maxlen bytes, counting UTF-8 bytes for strings', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  t.is(await within(c.send(Buffer.from('abcdef'), 3)), 3)
  t.is(await within(c.send('héllo')), 6)
  t.is(await within(c.send(new Uint8Array(0))), 0)
  c.shutdown('w')
  t.is((await within(readAll(s))).toString(), 'abchéllo')
})

serial('strings arrive as their UTF-8 bytes: whole, cut by maxlen, empty, and too large to send at once', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  // Every width of UTF-8 (1 to 4 bytes), and a lone surrogate (sent as U+FFFD, as Buffer.from does).
  const mixed = 'aé€😀\ud800z'
  // 12 MiB of text: more than the socket buffers hold, so the send waits and resumes midway.
  const big = 'ü€x😀'.repeat(1024 * 1024)
  const sender = newthread(async () => {
    const counts = [await c.send(mixed), await c.send('héllo', 2), await c.send(''), await c.send(big)]
    c.shutdown('w')
    return counts
  })
  const receiver = newthread(async () => readAll(s))
  const [counts, got] = (await within(Promise.all([sender.done, receiver.done]), 30000)) as [number[], Buffer]
  const expected = Buffer.concat([Buffer.from(mixed), Buffer.from('héllo').subarray(0, 2), Buffer.from(big)])
  t.deepEqual(counts, [Buffer.byteLength(mixed), 2, 0, Buffer.byteLength(big)])
  t.is(got.length, expected.length)
  t.true(got.equals(expected))
})

serial('recv reads at most maxlen bytes into the start of the buffer', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  await within(c.send('0123456789'))
  const buf = Buffer.alloc(8, '.')
  t.is(await within(s.recv(buf, 3)), 3)
  t.is(buf.toString(), '012.....')
  c.shutdown('w')
  t.is((await within(readAll(s))).toString(), '3456789')
})

serial('after the peer shuts down writing, recv reads to EOF while the other direction still works', async (t) => {
  // The HTTP-pipelining case: the server answers and half-closes; the client reads the answer to
  // EOF, then still sends; the server still receives, then reads to the client's EOF.
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const server = newthread(async () => {
    const req = (await readExact(s, 4)).toString()
    await s.send(`re:${req}`)
    s.shutdown('w')
    return (await readAll(s)).toString()
  })
  const client = newthread(async () => {
    await c.send('req1')
    const answer = (await readAll(c)).toString()
    const buf = new Uint8Array(16)
    const again = await c.recv(buf) // EOF stays EOF
    await c.send('req2 after EOF')
    c.shutdown('w')
    return [answer, again]
  })
  const [rest, [answer, again]] = (await within(Promise.all([server.done, client.done]))) as [string, [string, number]]
  t.is(answer, 're:req1')
  t.is(again, 0)
  t.is(rest, 'req2 after EOF')
})

// ---------------------------------------------------------------------------------------------
// Close: RST vs FIN


resets().serial('recv in the peer rejects with ECONNRESET when a socket closes with unread data pending', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  await within(c.send('never read by s'))
  await sleep(0.02) // let it land in s's receive queue
  const waiting = c.recv(new Uint8Array(64))
  s.close() // unread data: RST
  const e = await t.throwsAsync(within(waiting), { instanceOf: SocketError, code: 'ECONNRESET' })
  t.is(e?.syscall, 'recv')
})

serial('recv in the peer resolves 0 (EOF) when a socket closes cleanly', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  await within(c.send('ping'))
  t.is((await within(readExact(s, 4))).toString(), 'ping')
  const waiting = c.recv(new Uint8Array(64))
  s.close() // nothing unread: FIN
  t.is(await within(waiting), 0)
  t.is(await within(c.recv(new Uint8Array(64))), 0)
})

resets().serial('close with so_linger 0 resets the connection: the peer sees ECONNRESET', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  s.setopt('so_linger', 0)
  s.close()
  await sleep(0.02)
  await t.throwsAsync(within(c.recv(new Uint8Array(64))), { instanceOf: SocketError, code: 'ECONNRESET' })
})

onlyOn(!windows, 'Windows has no EPIPE: a send after a reset fails ECONNRESET again').serial('send rejects with ECONNRESET after the peer reset the connection, then with EPIPE', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  s.setopt('so_linger', 0)
  s.close()
  await sleep(0.02)
  const e = await t.throwsAsync(within(c.send('x')), { instanceOf: SocketError, code: 'ECONNRESET' })
  t.is(e?.syscall, 'send')
  await t.throwsAsync(within(c.send('x')), { instanceOf: SocketError, code: 'EPIPE' })
})

serial("after shutdown('r') recv resolves 0 while sending still works", async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  c.shutdown('r')
  t.is(await within(c.recv(new Uint8Array(8))), 0)
  await within(c.send('still writing'))
  c.shutdown('w')
  t.is((await within(readAll(s))).toString(), 'still writing')
})

linuxOnly('counts descriptors in /proc/self/fd').serial('accepting a connection reset while queued leaves no descriptor behind', async (t) => {
  const fds = (): number => readdirSync('/proc/self/fd').length
  const l = await listener()
  closing(t, l)
  const c = tcp()
  await within(c.connect(l.localAddr()))
  c.setopt('so_linger', 0)
  c.close() // RST while the connection waits in the accept queue
  await sleep(0.02)
  const before = fds()
  let accepted: Tcp | undefined
  try {
    ;[accepted] = await within(l.accept(clock() + 1))
  } catch (e) {
    t.log(`accept rejected: ${(e as Error).message}`)
  }
  accepted?.close()
  t.is(fds(), before, 'descriptor leaked')
  // The listener keeps working.
  const c2 = tcp()
  closing(t, c2)
  const [[s2]] = await within(Promise.all([l.accept(clock() + 1), c2.connect(l.localAddr())]))
  closing(t, s2)
  t.false(l.closed)
})

// ---------------------------------------------------------------------------------------------
// Connect

serial('connect rejects with ECONNREFUSED naming the address and port when nothing listens', async (t) => {
  const port = await closedPort()
  const c = tcp()
  closing(t, c)
  const p = c.connect('127.0.0.1', port, clock() + 5)
  const e = await t.throwsAsync(within(p), { instanceOf: SocketError, code: 'ECONNREFUSED' })
  t.is(e?.message, `connect ECONNREFUSED 127.0.0.1:${port}`)
  t.is(e?.address, '127.0.0.1')
  t.is(e?.port, port)
  t.is(e?.syscall, 'connect')
  t.is(typeof e?.errno, 'number')
})

serial('connect to an Address over ::1 rejects with ECONNREFUSED and a bracketed message', async (t) => {
  const port = await closedPort('inet6')
  const c = tcp('inet6')
  closing(t, c)
  const e = await t.throwsAsync(within(c.connect(new Address('inet6', '::1', port))), {
    instanceOf: SocketError,
    code: 'ECONNREFUSED',
  })
  t.is(e?.message, `connect ECONNREFUSED [::1]:${port}`)
  t.is(e?.address, '::1')
  t.is(e?.port, port)
})

serial('connect deadline fires when the listener drops the SYN: ETIMEDOUT and the socket is closed', async (t) => {
  const l = await fullListener(t)
  const c = tcp()
  closing(t, c)
  const expires = clock() + 0.2
  await t.throwsAsync(within(c.connect(l.localAddr(), expires)), timeout)
  firedAtDeadline(t, expires)
  t.true(c.closed)
  t.throws(() => c.localAddr(), closedError)
})

serial('connect deadline does not fire when the connection is made in time', async (t) => {
  const l = await listener()
  const c = tcp()
  closing(t, l, c)
  const expires = clock() + 0.1
  await within(c.connect(l.localAddr(), expires))
  const [s] = await within(l.accept())
  closing(t, s)
  await sleep(expires + 0.05 - clock())
  t.false(c.closed)
  await within(c.send('still open'))
  t.is((await within(readExact(s, 10))).toString(), 'still open')
})

// ---------------------------------------------------------------------------------------------
// Accept

serial('accept deadline fires when nobody connects: ETIMEDOUT and the listener is closed', async (t) => {
  const l = await listener()
  closing(t, l)
  const expires = clock() + 0.15
  await t.throwsAsync(within(l.accept(expires)), timeout)
  firedAtDeadline(t, expires)
  t.true(l.closed)
})

serial('accept deadline does not fire when a client connects in time', async (t) => {
  const l = await listener()
  closing(t, l)
  const expires = clock() + 0.2
  const connector = newthread(async () => {
    await sleep(0.03)
    const c = tcp()
    closing(t, c)
    await c.connect(l.localAddr())
    return c
  })
  const [s] = await within(l.accept(expires))
  closing(t, s)
  await within(connector.done)
  await sleep(expires + 0.05 - clock())
  t.false(l.closed)
  // The listener still accepts.
  const c2 = tcp()
  closing(t, c2)
  const [[s2]] = await within(Promise.all([l.accept(clock() + 1), c2.connect(l.localAddr())]))
  closing(t, s2)
  t.pass()
})

// ---------------------------------------------------------------------------------------------
// Recv / send deadlines

serial('recv deadline fires when no data comes: ETIMEDOUT, socket closed, peer sees EOF', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const expires = clock() + 0.15
  await t.throwsAsync(within(c.recv(new Uint8Array(16), undefined, expires)), timeout)
  firedAtDeadline(t, expires)
  t.true(c.closed)
  t.is(await within(s.recv(new Uint8Array(16))), 0)
})

serial('data that came before the deadline is received even when the loop was busy past it: no ETIMEDOUT, no reset', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const buf = new Uint8Array(64)
  const got = c.recv(buf, undefined, clock() + 0.05)
  await within(s.send('in time'))
  // Busy past the deadline: libuv then runs the timer before it polls for the data.
  const until = Date.now() + 100
  while (Date.now() < until);
  const n = await within(got)
  t.is(Buffer.from(buf.subarray(0, n)).toString(), 'in time')
  t.false(c.closed)
  await within(c.send('ok'))
  t.is(await within(s.recv(buf)), 2) // the peer was not reset
})

serial('recv deadline does not fire when data comes in time', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  newthread(async () => {
    await sleep(0.03)
    await s.send('late but in time')
  })
  const buf = new Uint8Array(64)
  const expires = clock() + 0.2
  const n = await within(c.recv(buf, undefined, expires))
  t.is(Buffer.from(buf.subarray(0, n)).toString(), 'late but in time')
  await sleep(expires + 0.05 - clock())
  t.false(c.closed)
  await within(s.send('x'))
  t.is(await within(c.recv(buf)), 1)
})

serial('send deadline fires when the peer never reads: ETIMEDOUT and the socket is closed', async (t) => {
  const l = tcp()
  closing(t, l)
  l.setopt('so_rcvbuf', 4096) // inherited by the accepted socket
  await l.listen('127.0.0.1', 0)
  const c = tcp()
  closing(t, c)
  c.setopt('so_sndbuf', 4096)
  const [[s]] = await within(Promise.all([l.accept(), c.connect(l.localAddr())]))
  closing(t, s)
  const expires = clock() + 0.2
  await t.throwsAsync(within(c.send(Buffer.alloc(8 * 1024 * 1024), undefined, expires)), timeout)
  firedAtDeadline(t, expires)
  t.true(c.closed)
})

serial('send deadline does not fire when the peer reads in time', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = randomBytes(4 * 1024 * 1024)
  const reader = newthread(async () => readExact(s, data.length))
  const expires = clock() + 5
  t.is(await within(c.send(data, undefined, expires), 6000), data.length)
  t.true(((await within(reader.done)) as Buffer).equals(data))
  t.false(c.closed)
})

serial('a deadline already past rejects a waiting recv with ETIMEDOUT at once', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const called = clock()
  await t.throwsAsync(within(c.recv(new Uint8Array(16), undefined, called - 1)), timeout)
  firedAtDeadline(t, called) // the deadline is long past: it fires on the next timer turn
  t.true(c.closed)
})

serial('a deadline already past does not fail a recv whose data is already there', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  await within(s.send('ready'))
  await sleep(0.02)
  const buf = new Uint8Array(16)
  t.is(await within(c.recv(buf, undefined, clock() - 1)), 5)
  t.false(c.closed)
})

serial('a deadline beyond the range of setTimeout neither fires nor makes Node warn', async (t) => {
  // Node clamps a setTimeout delay above 2^31-1 ms to 1 ms and emits TimeoutOverflowWarning.
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const warnings: string[] = []
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  // Node timers, not sleep(): the far deadline must be the earliest entry of the timer heap.
  const later = (ms: number, data: string): NodeJS.Timeout => setTimeout(() => void s.send(data), ms)
  const buf = new Uint8Array(16)
  later(50, 'a')
  t.is(await within(c.recv(buf, undefined, clock() + 30 * 86400)), 1) // 30 days
  later(50, 'b')
  t.is(await within(c.recv(buf, undefined, Infinity)), 1)
  await new Promise((resolve) => setTimeout(resolve, 10)) // warnings are emitted on a later tick
  t.false(c.closed)
  t.is(warnings.length, 0, `${warnings.length} warnings, the first: ${warnings[0]}`)
})

// ---------------------------------------------------------------------------------------------
// Close while waiting, busy sockets

serial('recv rejects with ERR_SOCKET_CLOSED at once when another thread closes the socket', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const reader = newthread(async () => c.recv(new Uint8Array(16)))
  await sleep(0.02)
  c.close()
  t.true(await settlesAtOnce(reader.done))
  await t.throwsAsync(reader.done, closedError)
  t.true(c.closed)
})

serial('accept rejects with ERR_SOCKET_CLOSED at once when another thread closes the listener', async (t) => {
  const l = await listener()
  closing(t, l)
  const acceptor = newthread(async () => l.accept())
  await sleep(0.02)
  l.close()
  t.true(await settlesAtOnce(acceptor.done))
  await t.throwsAsync(acceptor.done, closedError)
})

serial('send rejects with ERR_SOCKET_CLOSED at once when another thread closes the socket', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const sender = newthread(async () => c.send(Buffer.alloc(64 * 1024 * 1024)))
  await sleep(0.02)
  c.close()
  t.true(await settlesAtOnce(sender.done))
  await t.throwsAsync(sender.done, closedError)
})

serial('connect rejects with ERR_SOCKET_CLOSED at once when another thread closes the socket', async (t) => {
  const l = await fullListener(t)
  const c = tcp()
  closing(t, c)
  const connector = newthread(async () => c.connect(l.localAddr()))
  await sleep(0.05)
  c.close()
  t.true(await settlesAtOnce(connector.done))
  await t.throwsAsync(connector.done, closedError)
})

serial('the ERR_SOCKET_CLOSED of an interrupted accept or connect names that call as syscall', async (t) => {
  const l = await fullListener(t)
  const c = tcp()
  const l2 = await listener()
  closing(t, c, l2)
  const connecting = c.connect(l.localAddr())
  const accepting = l2.accept()
  await sleep(0.02)
  c.close()
  l2.close()
  const ec = await t.throwsAsync(within(connecting), closedError)
  const ea = await t.throwsAsync(within(accepting), closedError)
  t.is(ec?.syscall, 'connect')
  t.is(ea?.syscall, 'accept')
})

serial('a second concurrent accept rejects with ERR_SOCKET_BUSY and the first still accepts', async (t) => {
  const l = await listener()
  closing(t, l)
  const first = l.accept(clock() + 5)
  await t.throwsAsync(within(l.accept()), { instanceOf: SocketError, code: 'ERR_SOCKET_BUSY' })
  const c = tcp()
  closing(t, c)
  await within(c.connect(l.localAddr()))
  const [s] = await within(first)
  closing(t, s)
  t.false(l.closed)
})

serial('a second connect while one is under way rejects ERR_SOCKET_BUSY and leaves the first alone', async (t) => {
  const full = await fullListener(t) // its SYN is dropped: the first connect stays in progress
  const other = await listener()
  closing(t, other)
  const c = tcp()
  closing(t, c)
  const expires = clock() + 0.3
  const first = c.connect(full.localAddr(), expires)
  t.false(await settlesAtOnce(first))
  // What a name with two addresses gives; the second connect must not try them (a failure on
  // the first would replace the socket the first connect waits on).
  const two = new (AddrInfo as unknown as new (a: Address[], type: string, protocol: string) => AddrInfo)(
    [full.localAddr(), other.localAddr()],
    'tcp',
    'tcp',
  )
  const e = await t.throwsAsync(within(c.connect(two)), { instanceOf: SocketError, code: 'ERR_SOCKET_BUSY' })
  t.is(e?.syscall, 'connect')
  await t.throwsAsync(within(c.connect(other.localAddr())), { instanceOf: SocketError, code: 'ERR_SOCKET_BUSY' })
  // The first ends by its own deadline, never connected to `other`.
  await t.throwsAsync(within(first), { instanceOf: SocketError, code: 'ETIMEDOUT' })
  firedAtDeadline(t, expires)
})

serial('a second concurrent recv rejects with ERR_SOCKET_BUSY and no data is lost', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const bufA = new Uint8Array(64)
  const bufB = new Uint8Array(64)
  const a = newthread(async () => c.recv(bufA))
  const b = newthread(async () => c.recv(bufB))
  await t.throwsAsync(within(b.done), { instanceOf: SocketError, code: 'ERR_SOCKET_BUSY' })
  t.false(c.closed)
  await within(s.send('first'))
  const n = (await within(a.done)) as number
  t.is(Buffer.from(bufA.subarray(0, n)).toString(), 'first')
  // The rejected reader can read the next message: the socket is intact.
  await within(s.send('second'))
  s.shutdown('w')
  t.is((await within(readAll(c))).toString(), 'second')
})

serial('a second concurrent send rejects with ERR_SOCKET_BUSY and does not interleave data', async (t) => {
  const l = tcp()
  closing(t, l)
  l.setopt('so_rcvbuf', 4096)
  await l.listen('127.0.0.1', 0)
  const c = tcp()
  closing(t, c)
  c.setopt('so_sndbuf', 4096)
  const [[s]] = await within(Promise.all([l.accept(), c.connect(l.localAddr())]))
  closing(t, s)
  const data = Buffer.alloc(2 * 1024 * 1024, 'a')
  const a = newthread(async () => {
    const n = await c.send(data)
    c.shutdown('w')
    return n
  })
  const b = newthread(async () => c.send('b'))
  await t.throwsAsync(within(b.done), { instanceOf: SocketError, code: 'ERR_SOCKET_BUSY' })
  const got = await within(readAll(s), 10000)
  t.is((await within(a.done)) as number, data.length)
  t.is(got.length, data.length)
  t.true(got.equals(data))
})

// ---------------------------------------------------------------------------------------------
// Argument errors: synchronous, by class and code

const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
const badRange = { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }

serial('tcp() throws TypeError for a bad family or protocol', (t) => {
  t.throws(() => tcp('ipx' as never), badType)
  t.throws(() => tcp(4 as never), badType)
  t.throws(() => tcp('inet', 'bogus' as never), badType)
  t.throws(() => tcp('inet', 6 as never), badType)
  // Inherited names of a plain object are not protocols either.
  t.throws(() => tcp('inet', 'toString' as never), badType)
  t.throws(() => tcp('inet', 'constructor' as never), badType)
})

serial('tcp() throws the OS error for a protocol the socket type does not support', (t) => {
  t.throws(() => tcp('inet', 'udp' as never), { instanceOf: SocketError, code: 'EPROTONOSUPPORT' })
})

serial('recv throws TypeError/RangeError synchronously for bad buf, maxlen and expires', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const buf = new Uint8Array(8)
  t.throws(() => c.recv('buf' as never), badType)
  t.throws(() => c.recv([1, 2, 3] as never), badType)
  t.throws(() => c.recv(new ArrayBuffer(8) as never), badType)
  t.throws(() => c.recv(undefined as never), badType)
  t.throws(() => c.recv(buf, '4' as never), badType)
  t.throws(() => c.recv(buf, 1.5), badType)
  t.throws(() => c.recv(buf, NaN), badType)
  t.throws(() => c.recv(buf, 9), badRange)
  t.throws(() => c.recv(buf, -1), badRange)
  t.throws(() => c.recv(buf, 0), badRange)
  t.throws(() => c.recv(new Uint8Array(0)), badRange)
  t.throws(() => c.recv(buf, undefined, '1' as never), badType)
  t.throws(() => c.recv(buf, undefined, NaN), badType)
  t.false(c.closed)
  // Nothing was consumed or left waiting: the socket still reads.
  await within(s.send('ok'))
  t.is(await within(c.recv(buf, 2, clock() + 5)), 2)
})

serial('send throws TypeError/RangeError synchronously for bad data, maxlen and expires', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = new Uint8Array(8)
  t.throws(() => c.send(42 as never), badType)
  t.throws(() => c.send(undefined as never), badType)
  t.throws(() => c.send({} as never), badType)
  t.throws(() => c.send(new ArrayBuffer(8) as never), badType)
  t.throws(() => c.send(data, '4' as never), badType)
  t.throws(() => c.send(data, 2.5), badType)
  t.throws(() => c.send(data, 9), badRange)
  t.throws(() => c.send('four', 5), badRange)
  t.throws(() => c.send(data, -1), badRange)
  t.throws(() => c.send(data, undefined, 'soon' as never), badType)
  t.throws(() => c.send(data, undefined, NaN), badType)
  c.shutdown('w')
  t.is((await within(readAll(s))).length, 0)
})

serial('what is not a real Uint8Array is refused with ERR_INVALID_ARG_TYPE; one from another realm is taken', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const fake = [
    new Proxy(new Uint8Array(8), {}), // passes instanceof, holds no typed array itself
    Object.setPrototypeOf({}, Uint8Array.prototype),
    new Uint16Array(4),
    new DataView(new ArrayBuffer(8)),
  ]
  for (const f of fake) {
    t.throws(() => c.send(f as never), badType)
    t.throws(() => c.recv(f as never), badType)
  }
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke() // even describing it in the message throws
  t.throws(() => c.send(proxy as never), badType)
  // A Uint8Array made in another realm (vm, a test runner's sandbox) is a Uint8Array.
  const foreign = runInNewContext('new Uint8Array([104, 105])') as Uint8Array
  t.false(foreign instanceof Uint8Array)
  t.is(await within(c.send(foreign)), 2)
  const into = runInNewContext('new Uint8Array(8)') as Uint8Array
  t.is(await within(s.recv(into)), 2)
  t.is(Buffer.from(into.subarray(0, 2)).toString(), 'hi')
})

serial('connect throws TypeError synchronously for bad host, port and expires', (t) => {
  const c = tcp()
  closing(t, c)
  t.throws(() => c.connect(42 as never, 80), badType)
  t.throws(() => c.connect('', 80), badType)
  t.throws(() => c.connect('127.0.0.1', -1), badType)
  t.throws(() => c.connect('127.0.0.1', 65536), badType)
  t.throws(() => c.connect('127.0.0.1', 1.5), badType)
  t.throws(() => c.connect('127.0.0.1', '' as never), badType)
  t.throws(() => c.connect('127.0.0.1', true as never), badType)
  t.throws(() => c.connect('127.0.0.1', 80, 'soon' as never), badType)
  t.throws(() => c.connect(new Address('inet', '127.0.0.1', 9), 'soon' as never), badType)
  t.false(c.closed)
})

serial('listen throws synchronously for a bad backlog, host or port', (t) => {
  const s = tcp()
  closing(t, s)
  t.throws(() => s.listen(-1, '127.0.0.1', 0), badRange)
  t.throws(() => s.listen(1.5, '127.0.0.1', 0), badRange)
  t.throws(() => s.listen(NaN, '127.0.0.1', 0), badRange)
  t.throws(() => s.listen(1, 42 as never, 0), badType)
  t.throws(() => s.listen(1, '', 0), badType)
  t.throws(() => s.listen(1, '127.0.0.1', -1), badType)
  t.throws(() => s.listen(1, '127.0.0.1', 70000), badType)
  t.throws(() => s.listen('127.0.0.1', 0.5), badType)
  t.throws(() => s.listen(1, '127.0.0.1', 0, 'nosuchflag' as never), badType)
  t.throws(() => s.listen({} as never, 0), badType)
  t.false(s.closed)
})

serial('accept and shutdown throw TypeError synchronously for bad expires and how', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  t.throws(() => l.accept('soon' as never), badType)
  t.throws(() => l.accept(NaN), badType)
  t.throws(() => c.shutdown('x' as never), badType)
  t.throws(() => c.shutdown('wr' as never), badType)
  t.throws(() => c.shutdown(1 as never), badType)
  t.throws(() => c.shutdown(null as never), badType)
  t.false(l.closed)
  t.false(c.closed)
})

serial('every call on a closed socket throws SocketError ERR_SOCKET_CLOSED synchronously; close is idempotent', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  c.close()
  l.close()
  t.true(c.closed)
  t.notThrows(() => c.close())
  t.true(c.closed)
  const buf = new Uint8Array(8)
  t.throws(() => c.recv(buf), closedError)
  t.throws(() => c.recv(buf, 4, clock() + 1), closedError)
  t.throws(() => c.send('x'), closedError)
  t.throws(() => c.send(buf, 4, clock() + 1), closedError)
  t.throws(() => c.connect('127.0.0.1', 9), closedError)
  t.throws(() => c.connect(new Address('inet', '127.0.0.1', 9)), closedError)
  t.throws(() => c.bind('127.0.0.1', 0), closedError)
  t.throws(() => c.listen('127.0.0.1', 0), closedError)
  t.throws(() => c.shutdown('w'), closedError)
  t.throws(() => c.setopt('tcp_nodelay', true), closedError)
  t.throws(() => c.getopt('tcp_nodelay'), closedError)
  t.throws(() => c.localAddr(), closedError)
  t.throws(() => c.remoteAddr(), closedError)
  t.throws(() => c.fd, closedError)
  t.throws(() => l.accept(), closedError)
  t.throws(() => l.accept(clock() + 1), closedError)
  // Identity survives close.
  t.is(c.type(), 'tcp')
  t.is(c.family(), 'inet')
})

serial('remoteAddr and shutdown throw ENOTCONN on a socket that is not connected', (t) => {
  const s = tcp()
  closing(t, s)
  t.throws(() => s.remoteAddr(), { instanceOf: SocketError, code: 'ENOTCONN' })
  t.throws(() => s.shutdown('w'), { instanceOf: SocketError, code: 'ENOTCONN' })
})

// ---------------------------------------------------------------------------------------------
// Buffers that change under a waiting operation

const outOfBounds = { instanceOf: SocketError, code: 'ERR_BUFFER_OUT_OF_BOUNDS' }

/** A resizable ArrayBuffer (ES2024, in Node 20; the TypeScript lib used here predates it). */
type Resizable = ArrayBuffer & { resize(n: number): void }
const ResizableArrayBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable

/** A buffer larger than loopback takes before the peer reads, and how to spoil it. */
const spoilers: [string, () => [Uint8Array, () => void]][] = [
  [
    'detached',
    () => {
      const buf = new Uint8Array(8 << 20)
      return [buf, () => detach(buf)]
    },
  ],
  [
    'shrunk (resizable)',
    () => {
      const ab = new ResizableArrayBuffer(8 << 20, { maxByteLength: 8 << 20 })
      return [new Uint8Array(ab), () => ab.resize(16)]
    },
  ],
]

for (const [how, make] of spoilers) {
  serial(`a send waiting for room whose buffer is ${how} rejects ERR_BUFFER_OUT_OF_BOUNDS, not a spin`, async (t) => {
    const [c, s, l] = await pair()
    closing(t, c, s, l)
    const [buf, spoil] = make()
    const sent = c.send(buf)
    t.false(await settlesAtOnce(sent))
    spoil()
    // Drained, the socket reports room: the retry finds the buffer changed and must not loop.
    const drained = readAll(s)
    await t.throwsAsync(within(sent), outOfBounds)
    c.close()
    await within(drained)
  })
}

serial('a recv waiting for data whose buffer is detached rejects ERR_BUFFER_OUT_OF_BOUNDS; the data waits for the next recv', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const buf = new Uint8Array(64)
  const got = s.recv(buf)
  t.false(await settlesAtOnce(got))
  detach(buf)
  await c.send('hello')
  // Not 0, which would read as end of stream.
  await t.throwsAsync(within(got), outOfBounds)
  t.is((await within(readExact(s, 5))).toString(), 'hello')
})

serial('a typed array whose byteLength lies is refused by send and recv with ERR_BUFFER_OUT_OF_BOUNDS', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const liar = new Uint8Array(4)
  Object.defineProperty(liar, 'byteLength', { value: 8 })
  await t.throwsAsync(within(c.send(liar)), outOfBounds)
  await c.send('abcd')
  await t.throwsAsync(within(s.recv(liar)), outOfBounds)
  // Nothing was taken from the stream.
  t.is((await within(readExact(s, 4))).toString(), 'abcd')
})

// ---------------------------------------------------------------------------------------------
// Addresses, identity, fd, listen

serial('localAddr, remoteAddr and the addresses accept returns agree', async (t) => {
  const l = await listener()
  const c = tcp()
  closing(t, l, c)
  const [[s, remote, local]] = await within(Promise.all([l.accept(), c.connect(l.localAddr())]))
  closing(t, s)
  const la = l.localAddr()
  t.is(la.family, 'inet')
  t.is(la.address, '127.0.0.1')
  t.true(la.port > 0)
  t.is(la.toString(), `127.0.0.1:${la.port}`)
  t.deepEqual([local.address, local.port, local.family], [la.address, la.port, la.family])
  t.deepEqual([s.localAddr().address, s.localAddr().port], [la.address, la.port])
  t.deepEqual([c.remoteAddr().address, c.remoteAddr().port], [la.address, la.port])
  const cl = c.localAddr()
  t.is(cl.address, '127.0.0.1')
  t.not(cl.port, 0)
  t.deepEqual([remote.address, remote.port, remote.family], [cl.address, cl.port, cl.family])
  t.deepEqual([s.remoteAddr().address, s.remoteAddr().port], [cl.address, cl.port])
  t.is(remote.toString(), cl.toString())
})

serial('an accepted socket has the type, family and protocol of its listener', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  t.is(s.type(), 'tcp')
  t.is(s.family(), 'inet')
  t.is(l.protocol(), 'tcp')
  t.is(c.protocol(), 'tcp')
  t.is(s.protocol(), l.protocol())
})

serial('fd is a descriptor number above stdio, distinct per socket', async (t) => {
  const a = tcp()
  const b = tcp('inet6')
  closing(t, a, b)
  for (const s of [a, b]) {
    t.is(typeof s.fd, 'number')
    t.true(Number.isInteger(s.fd))
    t.true(s.fd > 2)
  }
  t.not(a.fd, b.fd)
})

serial('listen binds to the given address when the socket is unbound', async (t) => {
  const s = tcp()
  closing(t, s)
  t.throws(() => s.remoteAddr(), { instanceOf: SocketError, code: 'ENOTCONN' })
  await within(s.listen('127.0.0.1', 0))
  const a = s.localAddr()
  t.is(a.address, '127.0.0.1')
  t.true(a.port > 0)
  t.true(s.getopt('so_acceptconn') as boolean)
  const c = tcp()
  closing(t, c)
  const [[x]] = await within(Promise.all([s.accept(), c.connect('127.0.0.1', a.port)]))
  closing(t, x)
  t.pass()
})

serial('listen on a bound socket ignores its address arguments and keeps the bound one', async (t) => {
  const s = tcp()
  closing(t, s)
  await within(s.bind('127.0.0.1', 0))
  const bound = s.localAddr()
  t.true(bound.port > 0)
  const other = bound.port === 65535 ? bound.port - 1 : bound.port + 1
  await within(s.listen(4, '127.0.0.1', other))
  t.deepEqual([s.localAddr().address, s.localAddr().port], [bound.address, bound.port])
  const c = tcp()
  closing(t, c)
  const [[x]] = await within(Promise.all([s.accept(), c.connect(bound)]))
  closing(t, x)
  t.is(c.remoteAddr().port, bound.port)
})

serial('listen and bind reject (not throw) with EADDRINUSE when the port is taken', async (t) => {
  const l = await listener()
  const a = tcp()
  const b = tcp()
  closing(t, l, a, b)
  const port = l.localAddr().port
  let p: Promise<void> | undefined
  t.notThrows(() => {
    p = a.listen('127.0.0.1', port)
  })
  const e = await t.throwsAsync(within(p!), { instanceOf: SocketError, code: 'EADDRINUSE' })
  t.is(e?.message, `bind EADDRINUSE 127.0.0.1:${port}`)
  t.is(e?.port, port)
  let q: Promise<void> | undefined
  t.notThrows(() => {
    q = b.bind('127.0.0.1', port)
  })
  await t.throwsAsync(within(q!), { instanceOf: SocketError, code: 'EADDRINUSE' })
})

serial('listen accepts an Address to bind to', async (t) => {
  const port = await closedPort()
  const s = tcp()
  closing(t, s)
  await within(s.listen(new Address('inet', '127.0.0.1', port)))
  t.is(s.localAddr().port, port)
})

// ---------------------------------------------------------------------------------------------
// IPv6 and concurrency

serial('echo round trip over IPv6 loopback ::1', async (t) => {
  const l = await listener('inet6')
  closing(t, l)
  const la = l.localAddr()
  t.is(la.family, 'inet6')
  t.is(la.address, '::1')
  t.is(la.toString(), `[::1]:${la.port}`)
  newthread(async () => {
    const [c, remote] = await l.accept(clock() + 5)
    t.is(remote.address, '::1')
    t.is(remote.family, 'inet6')
    await echo(c, 4096)
  })
  let got = ''
  newthread(async () => {
    const c = tcp('inet6')
    try {
      await c.connect('::1', la.port, clock() + 5)
      t.is(c.remoteAddr().toString(), la.toString())
      got = (await roundTrip(c, 'hello over v6')).toString()
    } finally {
      c.close()
    }
  })
  await within(start())
  t.is(got, 'hello over v6')
})

serial('32 clients echo through one server at once', async (t) => {
  const N = 32
  const l = await listener()
  closing(t, l)
  const served: Tcp[] = []
  t.teardown(() => served.forEach((s) => s.close()))
  newthread(async () => {
    for (let i = 0; i < N; i++) {
      const [c] = await l.accept(clock() + 10)
      served.push(c)
      newthread(() => echo(c, 1000)) // chunks smaller than a message: many round trips
    }
  })
  const sent: Buffer[] = []
  const got: Buffer[] = []
  const clients: Tcp[] = []
  t.teardown(() => clients.forEach((c) => c.close()))
  for (let i = 0; i < N; i++) {
    sent.push(randomBytes(64 * 1024 + i))
    newthread(async () => {
      const c = tcp()
      clients.push(c)
      await c.connect(l.localAddr(), clock() + 10)
      got[i] = await roundTrip(c, sent[i]!)
      c.close()
    })
  }
  await within(start(), 20000)
  for (let i = 0; i < N; i++) t.true(got[i]?.equals(sent[i]!), `client ${i}`)
})
