/**
 * Peers that misbehave: a reset in the middle of a transfer (either way), a peer that never
 * reads, one that sends a byte at a time, a listener whose backlog is full, and a close that the
 * kernel would make wait. Each ends in the documented outcome, without a hang or a leak.
 */
import { readdirSync } from 'node:fs'
import test from 'ava'
import { clock, SocketError, tcp, type Tcp } from 'socket2'
import { closing, echo, linux, onlyOn, pair, readAll, resets, roundTrip, within } from './util'

/** Open descriptors of this process (Linux's /proc). */
function fds(): number {
  return readdirSync('/proc/self/fd').length
}


/** A transfer big enough that the sender waits for room in the peer's window. */
const pattern = (n: number): Buffer => Buffer.alloc(n, 'socket2 reliability ')

test('close() with so_linger set returns at once while unsent data waits for a peer that does not read, and the data still arrives, then a clean end', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  // A blocking close would take the whole linger time: 30 s, against a bound of 10 s.
  c.setopt('so_linger', 30)
  const data = pattern(8 << 20)
  const sending = c.send(data)
  const closed = t.throwsAsync(sending, { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
  // Let the send fill both buffers first, so the close has data to linger on.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const before = clock()
  c.close()
  t.true(clock() - before < 10, `close() took ${(clock() - before).toFixed(1)} s`)
  await closed
  // The kernel lingers as asked: what it took goes out, then FIN (not a reset).
  const got = await within(readAll(s), 20_000)
  t.true(got.length > 0)
  t.true(got.equals(data.subarray(0, got.length)))
})

resets()('a reset from the sender in the middle of a transfer ends the reader\'s recv loop with ECONNRESET, after bytes that are a prefix of what was sent', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = pattern(64 << 20)
  const sending = c.send(data).catch((e: unknown) => e)
  const buf = new Uint8Array(65536)
  let got = 0
  const first = await within(s.recv(buf))
  t.true(buf.subarray(0, first).every((b, i) => b === data[i]))
  got += first
  // so_linger 0: close sends RST instead of FIN, with most of the data still unsent.
  c.setopt('so_linger', 0)
  c.close()
  t.like(await sending, { code: 'ERR_SOCKET_CLOSED' })
  const err = await within(
    t.throwsAsync(
      (async () => {
        for (let n; (n = await s.recv(buf)) > 0; ) got += n
      })(),
      { instanceOf: SocketError, code: 'ECONNRESET' },
    ),
  )
  t.is(err?.syscall, 'recv')
  t.true(got < data.length)
})

resets()('a reset from the reader in the middle of a transfer rejects the waiting send with ECONNRESET', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const sending = c.send(pattern(64 << 20))
  const buf = new Uint8Array(65536)
  await within(s.recv(buf))
  // Unread data pending: close resets the connection.
  s.close()
  const err = await within(t.throwsAsync(sending, { instanceOf: SocketError, code: 'ECONNRESET' }))
  t.is(err?.syscall, 'send')
})

test('a peer that sends one byte at a time delivers every byte, in order', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256))
  const byByte = (async () => {
    for (let i = 0; i < data.length; i++) t.is(await c.send(data.subarray(i, i + 1)), 1)
    c.shutdown('w')
  })()
  const [got] = await within(Promise.all([readAll(s), byByte]), 30_000)
  t.true(got.equals(data))
})

onlyOn(linux, 'the accept queue of backlog + 1 and the dropped SYN are Linux behaviour; counts descriptors in /proc').serial(
  'with the backlog full a connect times out with ETIMEDOUT; the queued connections are then accepted and echo, and no descriptor is left',
  async (t) => {
    const before = fds()
    const l = tcp()
    closing(t, l)
    await l.listen(1, '127.0.0.1', 0)
    const queued: Tcp[] = []
    for (let i = 0; i < 2; i++) {
      const c = tcp()
      closing(t, c)
      await within(c.connect(l.localAddr(), clock() + 2))
      queued.push(c)
    }
    const late = tcp()
    closing(t, late)
    await within(t.throwsAsync(late.connect(l.localAddr(), clock() + 0.3), { instanceOf: SocketError, code: 'ETIMEDOUT' }))
    t.true(late.closed)
    for (const c of queued) {
      const [s] = await within(l.accept())
      const served = echo(s)
      t.is((await within(roundTrip(c, 'queued'))).toString(), 'queued')
      await served
      c.close()
    }
    l.close()
    t.true(fds() <= before, `${before} descriptors before, ${fds()} after`)
  },
)

onlyOn(linux, 'counts descriptors in /proc').serial('a send to a peer that never reads ends at its deadline with ETIMEDOUT and bytesSent, and leaves no descriptor', async (t) => {
  const before = fds()
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const err = await within(t.throwsAsync(c.send(pattern(32 << 20), undefined, clock() + 0.2), { instanceOf: SocketError, code: 'ETIMEDOUT' }))
  t.true((err?.bytesSent ?? 0) > 0)
  t.true(c.closed)
  s.close()
  l.close()
  t.true(fds() <= before, `${before} descriptors before, ${fds()} after`)
})
