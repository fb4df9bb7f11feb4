/**
 * One socket waits again and again in the same direction. Each wait parks (the syscall said
 * "would block") and must be woken by the next event of that direction: on Windows, mio reports
 * a direction once per arming, so a socket that is not re-armed after its first event waits
 * here until the guard fails it. Every step is bounded by `within`.
 */
import test, { type ExecutionContext } from 'ava'
import { clock, sleep, tcp, udp } from 'socket2'
import { closing, listener, pair, within } from './util.ts'

const ROUNDS = 4

/** Asserts that `p` has not settled once the loop has turned: the operation is parked. */
async function parked(t: ExecutionContext, p: Promise<unknown>, what: string): Promise<void> {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  await new Promise((resolve) => setImmediate(resolve))
  t.false(settled, `${what} completed without waiting: this round proves nothing`)
}

test('recv waits, is woken, and waits again on the same socket', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const buf = new Uint8Array(16)
  for (let i = 0; i < ROUNDS; i++) {
    const got = c.recv(buf)
    await parked(t, got, `recv ${i}`)
    t.is(await s.send(`m${i}`), 2)
    t.is(await within(got), 2)
    t.is(Buffer.from(buf.subarray(0, 2)).toString(), `m${i}`)
  }
})

test('accept waits, is woken, and waits again on the same listener', async (t) => {
  const l = await listener()
  closing(t, l)
  for (let i = 0; i < ROUNDS; i++) {
    const accepted = l.accept()
    await parked(t, accepted, `accept ${i}`)
    const c = tcp()
    closing(t, c)
    await within(c.connect(l.localAddr(), clock() + 5))
    const [s, remote] = await within(accepted)
    closing(t, s)
    t.is(remote.port, c.localAddr().port)
  }
})

test('a UDP recv waits, is woken, and waits again on the same socket', async (t) => {
  const a = udp()
  const b = udp()
  closing(t, a, b)
  await a.bind('127.0.0.1', 0)
  await b.bind('127.0.0.1', 0)
  const buf = new Uint8Array(16)
  for (let i = 0; i < ROUNDS; i++) {
    const got = a.recv(buf)
    await parked(t, got, `recv ${i}`)
    t.is(await b.send(`d${i}`, undefined, a.localAddr()), 2)
    const [n, from] = await within(got)
    t.is(Buffer.from(buf.subarray(0, n)).toString(), `d${i}`)
    t.is(from.port, b.localAddr().port)
  }
})

test('a send into a full buffer waits, is woken, and waits again on the same socket', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  // Buffers left as the OS sizes them: tiny ones make loopback TCP crawl on window updates.
  const chunk = new Uint8Array(16 << 20).fill(7)
  const sink = new Uint8Array(65536)
  for (let i = 0; i < ROUNDS; i++) {
    // 16 MiB fit in no loopback socket's buffers: the send parks until the peer reads.
    const sent = c.send(chunk)
    await parked(t, sent, `send ${i}`)
    let read = 0
    for (let reads = 1; read < chunk.byteLength; reads++) {
      const n = await within(s.recv(sink))
      t.true(n > 0 && sink.subarray(0, n).every((b) => b === 7))
      read += n
      // Pause now and then so that the sender's buffer fills and it waits again.
      if (reads % 8 === 0) await sleep(0.001)
    }
    t.is(await within(sent), chunk.byteLength)
  }
})

test('reads and writes alternate on one socket, each waiting in turn', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const [buf, answer] = [new Uint8Array(16), new Uint8Array(16)]
  for (let i = 0; i < ROUNDS; i++) {
    // c waits to read; s answers; then s waits to read what c sends back.
    const got = c.recv(buf)
    await parked(t, got, `client recv ${i}`)
    const back = s.recv(answer)
    await parked(t, back, `server recv ${i}`)
    await s.send('ping')
    t.is(await within(got), 4)
    await c.send('pong')
    t.is(await within(back), 4)
    t.is(Buffer.from(buf.subarray(0, 4)).toString() + Buffer.from(answer.subarray(0, 4)).toString(), 'pingpong')
  }
})
