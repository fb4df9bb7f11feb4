/**
 * toDuplex: a connected socket as a stream.Duplex, carrying node:tls both ways, node:http and
 * stream.pipeline, checked byte for byte; backpressure, half-close, destroy and errors.
 */
import test, { type ExecutionContext } from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer as httpServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Duplex, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { connect as tlsConnect, createSecureContext, createServer as tlsServer, TLSSocket } from 'node:tls'
import { newthread, tcp, type Tcp, toDuplex, udp } from 'socket2'
import { selfSigned } from '../examples/cert.ts'
import { closing, echo, has, pair, readAll, resets, withOpenssl, within } from './util.ts'

// Made once for the TLS tests, where the openssl command exists (they are skipped elsewhere).
const { key, cert } = has('openssl') ? selfSigned() : { key: Buffer.alloc(0), cert: Buffer.alloc(0) }
const MiB = 1 << 20

/**
 * A connected pair (closed when the test ends) whose kernel buffers are 64 KiB each way, so
 * that a few MiB fill them. Not smaller: with 8 KiB windows loopback TCP itself stalls on
 * delayed acknowledgements.
 */
async function narrowPair(t: ExecutionContext): Promise<[Tcp, Tcp]> {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  for (const x of [c, s]) for (const o of ['so_sndbuf', 'so_rcvbuf']) x.setopt(o, 65536)
  return [c, s]
}

/** Collects a readable stream. */
async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of r) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

withOpenssl()('tls.connect({ socket: toDuplex(c) }) talks to a node:tls server: 1 MiB each way, byte for byte', async (t) => {
  const server = tlsServer({ key, cert }, (s) => s.pipe(s)) // an echo over TLS
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const c = tcp()
  closing(t, c)
  await within(c.connect('127.0.0.1', (server.address() as AddressInfo).port))
  const secure = tlsConnect({ socket: toDuplex(c), servername: 'localhost', ca: cert })
  await within(once(secure, 'secureConnect'))
  t.true(secure.authorized)
  const data = randomBytes(MiB)
  const got = collect(secure)
  secure.end(data)
  t.true((await within(got, 20_000)).equals(data))
  await within(once(secure, 'close'))
  t.true(c.closed, 'the stream closed its socket when both sides were done')
})

withOpenssl()('new tls.TLSSocket(toDuplex(accepted), { isServer: true }) serves a node:tls client', async (t) => {
  const l = tcp()
  closing(t, l)
  await l.listen('127.0.0.1', 0)
  const data = randomBytes(MiB)
  const serving = newthread(async () => {
    const [c] = await l.accept()
    const s = new TLSSocket(toDuplex(c), { isServer: true, secureContext: createSecureContext({ key, cert }) })
    // Echo what the client sends, then end: pipe() ends the writable side at the client's end.
    s.pipe(s)
    await once(s, 'close')
    return c.closed
  })
  const client = tlsConnect({ host: '127.0.0.1', port: l.localAddr().port, servername: 'localhost', ca: cert })
  await within(once(client, 'secureConnect'))
  const got = collect(client)
  client.end(data)
  t.true((await within(got, 20_000)).equals(data))
  t.true(await within(serving.done))
})

test('http.request({ createConnection }) over toDuplex: a 1 MiB body up and its digest and body back', async (t) => {
  const server = httpServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      res.setHeader('x-sha256', createHash('sha256').update(body).digest('hex'))
      res.end(body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const c = tcp()
  closing(t, c)
  const port = (server.address() as AddressInfo).port
  await within(c.connect('127.0.0.1', port))
  const body = randomBytes(MiB)
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', createConnection: () => toDuplex(c) })
  req.end(body)
  const [res] = (await within(once(req, 'response'))) as [import('node:http').IncomingMessage]
  t.is(res.statusCode, 200)
  t.is(res.headers['x-sha256'], createHash('sha256').update(body).digest('hex'))
  t.true((await within(collect(res), 20_000)).equals(body))
})

test('stream.pipeline of 4 MiB through an echo peer comes back byte for byte', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const peer = newthread(echo, s)
  const data = randomBytes(4 * MiB)
  const chunks = function* () {
    for (let off = 0; off < data.length; off += 100_000) yield data.subarray(off, off + 100_000)
  }
  const parts: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      parts.push(chunk)
      done()
    },
  })
  await within(pipeline(Readable.from(chunks()), toDuplex(c), sink), 20_000)
  t.true(Buffer.concat(parts).equals(data))
  await within(peer.done)
  t.true(c.closed)
})

test('write backpressure: write() turns false and stays so while the peer does not read; drain comes once it reads', async (t) => {
  const [c, s] = await narrowPair(t)
  const d = toDuplex(c)
  const data = randomBytes(8 * MiB) // far more than both kernel buffers hold
  t.false(d.write(data))
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.true(d.writableNeedDrain, 'still waiting: nothing was read')
  t.true(d.writableLength > 0)
  const drained = once(d, 'drain')
  const reader = readAll(s)
  await within(drained, 20_000)
  d.end()
  t.true((await within(reader, 20_000)).equals(data))
})

test('read backpressure: a paused stream stops receiving, so the peer blocks; resume takes the rest', async (t) => {
  const [c, s] = await narrowPair(t)
  const d = toDuplex(c)
  d.pause()
  let sent = 0
  const total = 8 * MiB
  const sender = newthread(async () => {
    const chunk = Buffer.alloc(64 * 1024, 1)
    while (sent < total) sent += await s.send(chunk)
    s.shutdown('w')
  })
  d.read(0) // starts the first read, which fills the readable buffer and stops
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.true(sent < total, `the sender is held back (${sent} of ${total} bytes sent)`)
  t.true(d.readableLength <= d.readableHighWaterMark + 65536)
  const got = await within(collect(d), 20_000)
  t.is(got.length, total)
  await within(sender.done)
})

test('end() is shutdown("w"): the peer reads end of stream, and the duplex still reads until the peer ends', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const d = toDuplex(c)
  const closed = once(d, 'close')
  d.end('bye')
  t.is((await within(readAll(s))).toString(), 'bye')
  t.false(c.closed)
  const got = collect(d)
  await s.send('after your end')
  s.shutdown('w')
  t.is((await within(got)).toString(), 'after your end')
  await within(closed)
  t.true(c.closed)
})

// Both ways of ending a stream while its read waits close the socket with no error; the peer
// sees an end with nothing before it.
for (const [title, end] of [
  ['destroy() closes the socket while a read waits, without an error', (d: Duplex) => d.destroy()],
  ['closing the socket under a reading stream ends the stream as destroy() does, without an error', (_d: Duplex, c: Tcp) => c.close()],
] as const) {
  test(title, async (t) => {
    const [c, s, l] = await pair()
    closing(t, c, s, l)
    const d = toDuplex(c)
    const errors: Error[] = []
    d.on('error', (e) => errors.push(e))
    d.resume()
    await new Promise((resolve) => setImmediate(resolve))
    end(d, c)
    await within(once(d, 'close'))
    t.true(c.closed)
    t.true(d.destroyed)
    t.deepEqual(errors, [])
    t.is((await within(readAll(s))).length, 0)
  })
}

resets()('a reset from the peer is the stream error ECONNRESET', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const d = toDuplex(c)
  d.resume()
  s.setopt('so_linger', 0)
  s.close() // RST
  const [e] = (await within(once(d, 'error'))) as [NodeJS.ErrnoException]
  t.is(e.code, 'ECONNRESET')
  t.true(c.closed)
})

test('toDuplex misuse: not a TCP socket or bad options throw TypeError/RangeError; a closed or unconnected socket throws its SocketError', async (t) => {
  const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
  const u = udp()
  closing(t, u)
  t.throws(() => toDuplex(u as never), badType)
  t.throws(() => toDuplex({} as never), badType)
  t.throws(() => toDuplex(undefined as never), badType)
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  t.throws(() => toDuplex(c, null as never), badType)
  t.throws(() => toDuplex(c, { allowHalfOpen: 1 as never }), badType)
  t.throws(() => toDuplex(c, { readSize: 1.5 }), badType)
  t.throws(() => toDuplex(c, { readSize: 0 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  const fresh = tcp()
  closing(t, fresh)
  t.throws(() => toDuplex(fresh), { code: 'ENOTCONN' })
  fresh.close()
  t.throws(() => toDuplex(fresh), { code: 'ERR_SOCKET_CLOSED' })
  t.is(toDuplex(c).socket, c)
})
