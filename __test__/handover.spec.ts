import test from 'ava'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readdirSync } from 'node:fs'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { adopt, clock, SocketError, Tcp, tcp, Udp, udp } from 'socket2'
import { linuxOnly, windows, listener, pair, readAll, within } from './util.ts'

const fixture = fileURLToPath(new URL('./fixtures/handover-worker.mjs', import.meta.url))

/** Open descriptors of this process, where the OS lists them. */
function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

test('a listener in the main thread hands each connection to a worker, which serves it with the data sent before the handover', async (t) => {
  const server = await listener()
  const w = new Worker(fixture)
  try {
    const clients = 6
    const sent = Array.from({ length: clients }, (_, i) => randomBytes(1000 + i * 7919))
    const echoed = sent.map(async (data) => {
      await using c = tcp()
      await c.connect(server.localAddr(), clock() + 10)
      for (let off = 0; off < data.length; ) off += await c.send(data.subarray(off), undefined, clock() + 10)
      c.shutdown('w')
      return await readAll(c)
    })
    for (let i = 0; i < clients; i++) {
      const [conn] = await server.accept(clock() + 10)
      // The client's bytes are already in the kernel's buffer of this socket: they must move with it.
      w.postMessage(conn.detach())
      t.true(conn.closed)
    }
    const got = await within(Promise.all(echoed), 20_000)
    for (let i = 0; i < clients; i++) t.true(got[i]!.equals(sent[i]!), `client ${i}`)
    w.postMessage('stop')
    const [served] = (await within(once(w, 'message'), 10_000)) as [number]
    t.is(served, clients)
  } finally {
    server.close()
    await w.terminate()
  }
})

test('detach leaves the socket closed, rejects its waiting recv with ERR_SOCKET_CLOSED, and keeps the descriptor open for adopt', async (t) => {
  const [a, b, server] = await pair()
  const waiting = a.recv(new Uint8Array(8))
  const fd = a.detach()
  t.true(Number.isInteger(fd) && fd >= 0)
  await t.throwsAsync(waiting, { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
  t.throws(() => a.detach(), { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
  t.throws(() => a.fd, { code: 'ERR_SOCKET_CLOSED' })
  const again = adopt(fd)
  if (!(again instanceof Tcp)) return t.fail('not a Tcp')
  t.is(again.type(), 'tcp')
  t.is(again.family(), 'inet')
  t.is(again.protocol(), 'tcp')
  await b.send('still here')
  const buf = new Uint8Array(16)
  const n = await again.recv(buf, undefined, clock() + 5)
  t.is(Buffer.from(buf.subarray(0, n)).toString(), 'still here')
  again.close()
  b.close()
  server.close()
})

test('a detached listener adopted again accepts; kind and family come from the descriptor', async (t) => {
  const s = tcp('inet6')
  await s.listen('::1', 0)
  const port = s.localAddr().port
  const l = adopt(s.detach(), 'tcp')
  t.is(l.family(), 'inet6')
  t.is(l.localAddr().port, port)
  await using c = tcp('inet6')
  const [[conn]] = await within(Promise.all([l.accept(clock() + 5), c.connect('::1', port, clock() + 5)]))
  conn.close()
  l.close()
})

test('a udp socket hands over too, its queued datagram included', async (t) => {
  const a = udp()
  await a.bind('127.0.0.1', 0)
  const b = udp()
  await b.send('queued', undefined, a.localAddr())
  const moved = adopt(a.detach())
  if (!(moved instanceof Udp)) return t.fail('not a Udp')
  const buf = new Uint8Array(16)
  const [n, from] = await moved.recv(buf, undefined, clock() + 5)
  t.is(Buffer.from(buf.subarray(0, n)).toString(), 'queued')
  t.is(from.port, b.localAddr().port)
  moved.close()
  b.close()
})

test('adopt refuses what is not an open socket with the OS code, and bad arguments with TypeError/RangeError', (t) => {
  // Winsock has no EBADF for handles: a handle that is no open socket is WSAENOTSOCK.
  const noDescriptor = windows ? 'ENOTSOCK' : 'EBADF'
  t.throws(() => adopt(0x3fffffff), { instanceOf: SocketError, code: noDescriptor, message: new RegExp(`^adopt ${noDescriptor}`) })
  const file = openSync(fileURLToPath(import.meta.url), 'r')
  try {
    t.throws(() => adopt(file), { instanceOf: SocketError, code: 'ENOTSOCK' })
  } finally {
    closeSync(file)
  }
  t.throws(() => adopt('3' as unknown as number), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => adopt(1.5), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => adopt(-1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => adopt(3, 'sctp' as 'tcp'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
})

test('adopt with the wrong kind throws EPROTOTYPE and leaves the descriptor to its owner', async (t) => {
  const s = udp()
  await s.bind('127.0.0.1', 0)
  const fd = s.detach()
  t.throws(() => adopt(fd, 'tcp'), { instanceOf: SocketError, code: 'EPROTOTYPE' })
  const u = adopt(fd, 'udp')
  t.is(u.localAddr().family, 'inet')
  u.close()
})

linuxOnly('counts descriptors in /proc/self/fd').serial('detach then adopt then close leaks no descriptor', async (t) => {
  const before = openFds()
  for (let i = 0; i < 20; i++) {
    const s = tcp()
    await s.listen('127.0.0.1', 0)
    adopt(s.detach()).close()
  }
  t.is(openFds(), before)
})

linuxOnly('receives take two datagrams per syscall there')('detach throws EBUSY while a datagram received in a batch is kept, and works once it is read', async (t) => {
  const a = udp()
  await a.bind('127.0.0.1', 0)
  const b = udp()
  await b.send('one', undefined, a.localAddr())
  await b.send('two', undefined, a.localAddr())
  const buf = new Uint8Array(16)
  await a.recv(buf, undefined, clock() + 5)
  t.throws(() => a.detach(), { instanceOf: SocketError, code: 'EBUSY' })
  const [n] = await a.recv(buf, undefined, clock() + 5)
  t.is(Buffer.from(buf.subarray(0, n)).toString(), 'two')
  adopt(a.detach()).close()
  b.close()
})

linuxOnly('counts descriptors in /proc/self/fd').serial('a worker terminated mid-transfer with adopted connections closes them, leaks no descriptor, and another worker keeps serving', async (t) => {
  const server = await listener()
  const before = openFds()
  const doomed = new Worker(fixture)
  const spared = new Worker(fixture)
  try {
    // A client that keeps sending to the doomed worker's echo, until its connection is reset.
    let served!: () => void
    const echoing = new Promise<void>((resolve) => (served = resolve))
    const streaming = (async () => {
      const c = tcp()
      try {
        await c.connect(server.localAddr(), clock() + 10)
        const chunk = new Uint8Array(16384)
        const buf = new Uint8Array(65536)
        for (;;) {
          await c.send(chunk, undefined, clock() + 10)
          if ((await c.recv(buf, undefined, clock() + 10)) === 0) return 'EOF'
          served()
        }
      } catch (e) {
        return (e as SocketError).code
      } finally {
        c.close()
      }
    })()
    const [first] = await server.accept(clock() + 10)
    doomed.postMessage(first.detach())
    // Terminated once it serves: a descriptor still in flight would be nobody's (see the README).
    await within(echoing, 10_000)
    await within(doomed.terminate(), 10_000)
    // Its end closed with the worker: the client sees the connection end, not a hang.
    const ended = await within(streaming, 15_000)
    t.true(['ECONNRESET', 'EPIPE', 'EOF'].includes(ended), ended)

    const data = randomBytes(50_000)
    const echoed = (async () => {
      await using c = tcp()
      await c.connect(server.localAddr(), clock() + 10)
      for (let off = 0; off < data.length; ) off += await c.send(data.subarray(off), undefined, clock() + 10)
      c.shutdown('w')
      return await readAll(c)
    })()
    const [second] = await server.accept(clock() + 10)
    spared.postMessage(second.detach())
    t.true((await within(echoed, 10_000)).equals(data))
    spared.postMessage('stop')
    t.is(((await within(once(spared, 'message'), 10_000)) as [number])[0], 1)
    await within(spared.terminate(), 10_000)
    // At most as many as before: the runtime may have closed one of its own meanwhile.
    t.true(openFds() <= before, `${openFds()} open, ${before} before`)
  } finally {
    server.close()
    await doomed.terminate()
    await spared.terminate()
  }
})
