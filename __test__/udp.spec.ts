/**
 * UDP sockets on loopback: one datagram per send and per recv, the sender's address to reply
 * to, truncation reported, deadlines, connected sockets, broadcast and multicast.
 */
import { randomBytes } from 'node:crypto'
import test, { type ExecutionContext } from 'ava'
import { addr, Address, clock, newthread, SocketError, sleep, start, udp, type Udp } from 'socket2'
import { closing, detach, emulated, onlyOn, udpIcmpErrors, within } from './util.ts'

const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
const badRange = { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }
const closedError = { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' }
const timeout = { instanceOf: SocketError, code: 'ETIMEDOUT', message: 'timeout' }

/** A UDP socket bound to loopback and an ephemeral port, closed when the test ends. */
async function bound(t: ExecutionContext, family: 'inet' | 'inet6' = 'inet'): Promise<Udp> {
  const s = udp(family)
  closing(t, s)
  await within(s.bind(family === 'inet' ? '127.0.0.1' : '::1', 0))
  return s
}

/** Receives one datagram (within 2 s) and returns its bytes and sender. */
async function recvOne(s: Udp, size = 65536): Promise<[Buffer, Address]> {
  const buf = Buffer.alloc(size)
  const [n, from] = await within(s.recv(buf, undefined, clock() + 2))
  return [buf.subarray(0, n), from]
}

// ---------------------------------------------------------------------------------------------
// Identity

test("udp() makes an IPv4 UDP socket; family 'inet6' an IPv6 one; so_type is SOCK_DGRAM", (t) => {
  const a = udp()
  const b = udp('inet6')
  closing(t, a, b)
  t.is(a.type(), 'udp')
  t.is(a.family(), 'inet')
  t.is(a.protocol(), 'udp')
  t.is(b.family(), 'inet6')
  t.is(b.protocol(), 'udp')
  t.is(a.getopt('so_type'), 2) // SOCK_DGRAM on Linux
  t.is(b.getopt('so_type'), 2)
})

test('udp() with a wrong family or protocol name throws TypeError at once', (t) => {
  t.throws(() => udp('ipx' as never), badType)
  t.throws(() => udp('inet', 'sctp' as never), badType)
  t.throws(() => udp(5 as never), badType)
  t.throws(() => udp('inet', 'hasOwnProperty' as never), badType)
})

// ---------------------------------------------------------------------------------------------
// Round trips

for (const family of ['inet', 'inet6'] as const) {
  const host = family === 'inet' ? '127.0.0.1' : '::1'
  test(`a datagram over ${host} arrives with the sender's address, and a reply sent to that address comes back`, async (t) => {
    const server = await bound(t, family)
    const client = await bound(t, family)
    t.is(await within(client.send('ping?', undefined, server.localAddr())), 5)
    const [req, from] = await recvOne(server)
    t.is(req.toString(), 'ping?')
    t.true(from instanceof Address)
    t.is(from.family, family)
    t.is(from.address, host)
    t.is(from.port, client.localAddr().port)
    t.is(await within(server.send(Buffer.from(`pong to ${from}`), undefined, from)), 8 + from.toString().length)
    const [reply, replyFrom] = await recvOne(client)
    t.is(reply.toString(), `pong to ${family === 'inet' ? `127.0.0.1:${from.port}` : `[::1]:${from.port}`}`)
    t.is(replyFrom.port, server.localAddr().port)
  })
}

test('send takes the destination as host and port, as an Address, or as an AddrInfo', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  const port = server.localAddr().port
  await within(client.send('host+port', undefined, '127.0.0.1', port))
  await within(client.send('port string', undefined, '127.0.0.1', String(port)))
  await within(client.send('address', undefined, new Address('inet', '127.0.0.1', port)))
  await within(client.send('addrinfo', undefined, await addr('127.0.0.1', port, 'udp')))
  await within(client.send('loopback', undefined, false, port))
  await within(client.send('localhost', undefined, 'localhost', port))
  const got: string[] = []
  for (let i = 0; i < 6; i++) got.push((await recvOne(server))[0].toString())
  t.deepEqual(got, ['host+port', 'port string', 'address', 'addrinfo', 'loopback', 'localhost'])
})

test('maxlen can be left out: the destination follows the data (host and port, Address, AddrInfo, false)', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  const port = server.localAddr().port
  t.is(await within(client.send('host+port', '127.0.0.1', port)), 9)
  t.is(await within(client.send('with expires', '127.0.0.1', port, clock() + 2)), 12)
  await within(client.send('address', server.localAddr()))
  await within(client.send('address+expires', server.localAddr(), clock() + 2)) // an address has no port: expires follows
  await within(client.send('addrinfo', await addr('127.0.0.1', port, 'udp')))
  await within(client.send('loopback', false, port))
  const got: string[] = []
  for (let i = 0; i < 6; i++) got.push((await recvOne(server))[0].toString())
  t.deepEqual(got, ['host+port', 'with expires', 'address', 'address+expires', 'addrinfo', 'loopback'])
})

test('send sends the first maxlen bytes as one datagram, counting UTF-8 bytes for strings', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  t.is(await within(client.send(Buffer.from('abcdef'), 3, server.localAddr())), 3)
  t.is(await within(client.send('héllo', undefined, '127.0.0.1', server.localAddr().port)), 6)
  t.is(await within(client.send(new Uint8Array([1, 2, 3, 4]), 4, '127.0.0.1', server.localAddr().port, clock() + 2)), 4)
  t.is((await recvOne(server))[0].toString(), 'abc')
  t.is((await recvOne(server))[0].toString(), 'héllo')
  t.deepEqual([...(await recvOne(server))[0]], [1, 2, 3, 4])
})

test('recv puts the datagram at the start of the buffer and leaves the rest untouched', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  await within(client.send('0123', undefined, server.localAddr()))
  const buf = Buffer.alloc(10, '.')
  const [n] = await within(server.recv(buf))
  t.is(n, 4)
  t.is(buf.toString(), '0123......')
})

test('an empty datagram is received with length 0 and its sender', async (t) => {
  const server = await bound(t)
  const client = await bound(t)
  t.is(await within(client.send(new Uint8Array(0), undefined, server.localAddr())), 0)
  t.is(await within(client.send('', undefined, server.localAddr())), 0)
  const buf = Buffer.alloc(16, '.')
  for (let i = 0; i < 2; i++) {
    const [n, from] = await within(server.recv(buf))
    t.is(n, 0)
    t.is(from.port, client.localAddr().port)
  }
  t.is(buf.toString(), '.'.repeat(16))
})

test('datagrams keep their boundaries: two sends are two recvs, never merged', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  await within(client.send('first', undefined, server.localAddr()))
  await within(client.send('second', undefined, server.localAddr()))
  t.is((await recvOne(server))[0].toString(), 'first')
  t.is((await recvOne(server))[0].toString(), 'second')
})

test.serial('1,000 datagrams of mixed sizes up to 65,507 bytes arrive in order with their contents', async (t) => {
  const receiver = udp()
  closing(t, receiver)
  receiver.setopt('so_rcvbuf', 8 * 1024 * 1024) // the kernel caps it at rmem_max (and doubles it)
  await receiver.bind('127.0.0.1', 0)
  const sender = await bound(t)
  // Pace the sender so loopback never drops: the receiver acks every `window` datagrams, and
  // `window` of the largest datagrams (a 64 KiB datagram costs up to 128 KiB of buffer) fit.
  const rcvbuf = receiver.getopt('so_rcvbuf') as number
  const window = Math.max(1, Math.min(32, Math.floor(rcvbuf / (140 * 1024))))
  t.log(`so_rcvbuf ${rcvbuf}, ack every ${window}`)
  const count = 1000
  const sizes = Array.from({ length: count }, (_, i) =>
    i % 10 === 0 ? 65507 : i % 10 === 1 ? 0 : i % 10 === 2 ? 1 : Math.floor(Math.random() * 65508),
  )
  const payloads = sizes.map((n) => randomBytes(n))

  const send = newthread(async () => {
    const ack = Buffer.alloc(4)
    for (let i = 0; i < count; i++) {
      t.is(await sender.send(payloads[i]!, undefined, receiver.localAddr(), clock() + 5), sizes[i])
      if ((i + 1) % window === 0 || i === count - 1) {
        const [n] = await sender.recv(ack, undefined, clock() + 5)
        if (n !== 4 || ack.readUInt32BE(0) !== i + 1) throw new Error(`bad ack after ${i + 1}`)
      }
    }
  })
  const recv = newthread(async () => {
    const buf = Buffer.alloc(65536)
    const ack = Buffer.alloc(4)
    let bad = 0
    for (let i = 0; i < count; i++) {
      const [n, from] = await receiver.recv(buf, undefined, clock() + 5)
      if (n !== sizes[i] || !buf.subarray(0, n).equals(payloads[i]!)) bad++
      if ((i + 1) % window === 0 || i === count - 1) {
        ack.writeUInt32BE(i + 1, 0)
        await receiver.send(ack, undefined, from)
      }
    }
    return bad
  })
  const [, bad] = await within(Promise.all([send.done, recv.done]), 60_000)
  t.is(bad, 0)
})

test('a burst queued before the first recv arrives whole and in order, each datagram with its own sender', async (t) => {
  const server = await bound(t)
  const [a, b] = [await bound(t), await bound(t)]
  const sent: [string, Udp][] = []
  for (let i = 0; i < 20; i++) {
    const from = i % 3 === 0 ? b : a
    const msg = `datagram ${i} `.repeat(i + 1)
    await within(from.send(msg, undefined, server.localAddr()))
    sent.push([msg, from])
  }
  await sleep(0.05)
  for (const [msg, from] of sent) {
    const [data, sender] = await recvOne(server)
    t.is(data.toString(), msg)
    t.deepEqual(sender, from.localAddr())
  }
  await t.throwsAsync(within(server.recv(Buffer.alloc(64), undefined, clock() + 0.1)), timeout)
})

udpIcmpErrors()('a refused send\'s error is reported by the next recv (before queued datagrams, as the kernel orders them), and nothing queued is lost', async (t) => {
  const server = await bound(t)
  const client = await bound(t)
  await within(client.connect(server.localAddr()))
  await within(server.send('hi', undefined, client.localAddr()))
  await within(server.send('there', undefined, client.localAddr()))
  const port = server.localAddr().port
  server.close()
  await within(client.send('anyone?'))
  await sleep(0.05)
  const refused = { instanceOf: SocketError, code: 'ECONNREFUSED' }
  await t.throwsAsync(within(client.recv(Buffer.alloc(8), undefined, clock() + 2)), refused)
  for (const msg of ['hi', 'there']) {
    const [data, from] = await recvOne(client)
    t.is(data.toString(), msg)
    t.is(from.port, port)
  }
  await t.throwsAsync(within(client.recv(Buffer.alloc(8), undefined, clock() + 0.1)), timeout)
})

test('a string is sent as one datagram of its UTF-8 bytes, to an address and to the connected peer', async (t) => {
  const server = await bound(t)
  const client = await bound(t)
  const text = 'dätägram €😀'
  t.is(await within(client.send(text, server.localAddr())), Buffer.byteLength(text))
  t.deepEqual(await recvOne(server), [Buffer.from(text), client.localAddr()])
  await within(client.connect(server.localAddr()))
  const long = 'ж'.repeat(30000) // 60,000 bytes: the scratch buffer grows to it
  t.is(await within(client.send(long)), 60000)
  t.true((await recvOne(server))[0].equals(Buffer.from(long)))
  t.is(await within(client.send('')), 0)
  t.is((await recvOne(server))[0].length, 0)
})

test('a datagram over the IPv4 maximum (65,507 bytes) rejects send with EMSGSIZE', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  const e = await t.throwsAsync(within(client.send(Buffer.alloc(65508), undefined, server.localAddr())), {
    instanceOf: SocketError,
    code: 'EMSGSIZE',
  })
  t.is(e?.syscall, 'send')
  t.is(e?.port, server.localAddr().port)
  t.false(client.closed)
})

// ---------------------------------------------------------------------------------------------
// Truncation

test('a datagram longer than maxlen rejects recv with EMSGSIZE, leaves its first maxlen bytes in buf, and the next datagram is whole', async (t) => {
  const server = await bound(t)
  const client = await bound(t)
  await within(client.send('0123456789', undefined, server.localAddr()))
  await within(client.send('next', undefined, server.localAddr()))
  const buf = Buffer.alloc(16, '.')
  const e = await t.throwsAsync(within(server.recv(buf, 4)), { instanceOf: SocketError, code: 'EMSGSIZE' })
  t.is(e?.syscall, 'recv')
  t.is(e?.address, '127.0.0.1')
  t.is(e?.port, client.localAddr().port)
  t.is(buf.toString(), '0123............')
  t.false(server.closed)
  const [n] = await within(server.recv(buf))
  t.is(buf.subarray(0, n).toString(), 'next')
})

test('a datagram longer than the whole buffer (no maxlen) rejects recv with EMSGSIZE', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  await within(client.send('abcdef', undefined, server.localAddr()))
  const buf = Buffer.alloc(5)
  await t.throwsAsync(within(server.recv(buf)), { instanceOf: SocketError, code: 'EMSGSIZE' })
  t.is(buf.toString(), 'abcde')
})

test('maxlen 0 receives an empty datagram, and reports a non-empty one as EMSGSIZE', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  await within(client.send('', undefined, server.localAddr()))
  await within(client.send('x', undefined, server.localAddr()))
  const buf = Buffer.alloc(4)
  t.is((await within(server.recv(buf, 0)))[0], 0)
  await t.throwsAsync(within(server.recv(buf, 0)), { instanceOf: SocketError, code: 'EMSGSIZE' })
})

// ---------------------------------------------------------------------------------------------
// Deadlines and waiting

test.serial('recv deadline fires when no datagram comes: ETIMEDOUT and the socket is closed', async (t) => {
  const s = await bound(t)
  const expires = clock() + 0.15
  await t.throwsAsync(within(s.recv(Buffer.alloc(16), undefined, expires)), timeout)
  const now = clock()
  t.true(now >= expires - 0.005, `fired ${((expires - now) * 1000).toFixed(1)} ms early`)
  t.true(now <= expires + 0.05, `fired ${((now - expires) * 1000).toFixed(1)} ms late`)
  t.true(s.closed)
  t.throws(() => s.recv(Buffer.alloc(16)), closedError)
  t.throws(() => s.send('x', undefined, '127.0.0.1', 9), closedError)
})

test.serial('recv deadline does not fire when a datagram comes in time', async (t) => {
  const s = await bound(t)
  const client = udp()
  closing(t, client)
  newthread(async () => {
    await sleep(0.03)
    await client.send('in time', undefined, s.localAddr())
  })
  const expires = clock() + 0.2
  const [got] = await within(recvOneBy(s, expires))
  t.is(got.toString(), 'in time')
  await sleep(expires + 0.05 - clock())
  t.false(s.closed)
})

async function recvOneBy(s: Udp, expires: number): Promise<[Buffer, Address]> {
  const buf = Buffer.alloc(64)
  const [n, from] = await s.recv(buf, undefined, expires)
  return [buf.subarray(0, n), from]
}

test('a second recv while one waits rejects ERR_SOCKET_BUSY; close rejects the waiting one with ERR_SOCKET_CLOSED', async (t) => {
  const s = await bound(t)
  const waiting = s.recv(Buffer.alloc(8))
  await t.throwsAsync(within(s.recv(Buffer.alloc(8))), { instanceOf: SocketError, code: 'ERR_SOCKET_BUSY' })
  s.close()
  await t.throwsAsync(within(waiting), closedError)
})

test('a recv waiting for a datagram whose buffer is detached rejects ERR_BUFFER_OUT_OF_BOUNDS; the datagram stays queued', async (t) => {
  const [a, b] = [await bound(t), await bound(t)]
  const buf = new Uint8Array(64)
  const waiting = a.recv(buf)
  detach(buf)
  await b.send('kept', undefined, a.localAddr())
  await t.throwsAsync(within(waiting), { instanceOf: SocketError, code: 'ERR_BUFFER_OUT_OF_BOUNDS' })
  const [got, from] = await within(recvOne(a))
  t.is(got.toString(), 'kept')
  t.is(from.port, b.localAddr().port)
})

test.serial('an echo thread answers client threads, each reply going to the sender it came from', async (t) => {
  const server = await bound(t)
  const clients = await Promise.all([bound(t), bound(t), bound(t)])
  const got: string[] = []
  newthread(async () => {
    const buf = Buffer.alloc(64)
    for (let i = 0; i < clients.length; i++) {
      const [n, from] = await server.recv(buf, undefined, clock() + 2)
      await server.send(buf, n, from)
    }
  })
  clients.forEach((c, i) =>
    newthread(async () => {
      await sleep(0.005 * i)
      await c.send(`client ${i}`, undefined, server.localAddr())
      const buf = Buffer.alloc(64)
      const [n] = await c.recv(buf, undefined, clock() + 2)
      got[i] = buf.subarray(0, n).toString()
    }),
  )
  await within(start())
  t.deepEqual(got, ['client 0', 'client 1', 'client 2'])
})

// ---------------------------------------------------------------------------------------------
// Argument misuse and OS errors

test('send argument misuse throws synchronously', (t) => {
  const s = udp()
  closing(t, s)
  t.throws(() => s.send(42 as never, undefined, '127.0.0.1', 9), badType)
  t.throws(() => s.send(null as never, undefined, '127.0.0.1', 9), badType)
  t.throws(() => s.send(Buffer.alloc(4), 5, '127.0.0.1', 9), badRange)
  t.throws(() => s.send(Buffer.alloc(4), -1, '127.0.0.1', 9), badRange)
  t.throws(() => s.send(Buffer.alloc(4), 1.5, '127.0.0.1', 9), badType)
  t.throws(() => s.send('x', undefined, '127.0.0.1', 70000), badType)
  t.throws(() => s.send('x', undefined, '127.0.0.1', -1), badType)
  t.throws(() => s.send('x', undefined, '127.0.0.1', 9, 'soon' as never), badType)
  t.throws(() => s.send('x', undefined, new Address('inet', '127.0.0.1', 9), 'soon' as never), badType)
  t.throws(() => s.send('x', undefined, NaN), badType) // connected form, bad expires
  t.throws(() => s.send('x', '127.0.0.1', 70000), badType) // maxlen left out
  t.throws(() => s.send('x', undefined, '', 9), badType)
  // Anything after the last argument must be undefined (null too is refused).
  const loose = s.send.bind(s) as (...a: unknown[]) => unknown
  t.throws(() => loose('x', new Address('inet', '127.0.0.1', 9), 1, null), badType)
  t.throws(() => loose('x', 1, 1, null), badType)
  t.throws(() => loose('x', undefined, '127.0.0.1', 9, undefined, 0), badType)
})

test('an explicit undefined after the last argument is accepted', async (t) => {
  const server = await bound(t)
  const s = udp()
  closing(t, s)
  const send = s.send as (...a: unknown[]) => Promise<number>
  t.is(await within(send.call(s, 'x', undefined, server.localAddr(), undefined, undefined)), 1)
  t.is((await recvOne(server))[0].toString(), 'x')
})

test('recv argument misuse throws synchronously', (t) => {
  const s = udp()
  closing(t, s)
  t.throws(() => s.recv('buffer' as never), badType)
  t.throws(() => s.recv(new ArrayBuffer(8) as never), badType)
  t.throws(() => s.recv(Buffer.alloc(8), 9), badRange)
  t.throws(() => s.recv(Buffer.alloc(8), -1), badRange)
  t.throws(() => s.recv(Buffer.alloc(8), 1.5), badType)
  t.throws(() => s.recv(Buffer.alloc(8), undefined, 'later' as never), badType)
})

test('bind and connect argument misuse throws synchronously', (t) => {
  const s = udp()
  closing(t, s)
  t.throws(() => s.bind('127.0.0.1', 65536), badType)
  t.throws(() => s.bind(42 as never), badType)
  t.throws(() => s.connect(42 as never), badType)
  t.throws(() => s.connect('127.0.0.1', '-1'), badType)
})

test('every call on a closed UDP socket throws ERR_SOCKET_CLOSED synchronously', (t) => {
  const s = udp()
  s.close()
  s.close() // idempotent
  t.true(s.closed)
  t.throws(() => s.send('x', undefined, '127.0.0.1', 9), closedError)
  t.throws(() => s.recv(Buffer.alloc(8)), closedError)
  t.throws(() => s.bind('127.0.0.1', 0), closedError)
  t.throws(() => s.connect('127.0.0.1', 9), closedError)
  t.throws(() => s.localAddr(), closedError)
  t.throws(() => s.setopt('so_broadcast', true), closedError)
})

test('send without an address on an unconnected socket rejects with EDESTADDRREQ', async (t) => {
  const s = udp()
  closing(t, s)
  const e = await t.throwsAsync(within(s.send('nowhere')), { instanceOf: SocketError, code: 'EDESTADDRREQ' })
  t.is(e?.syscall, 'send')
})

test('send to a host that does not resolve rejects with EAI_NONAME', async (t) => {
  const s = udp()
  closing(t, s)
  await t.throwsAsync(within(s.send('x', undefined, 'no-such-host.invalid', 9), 15_000), { instanceOf: SocketError, code: 'EAI_NONAME' })
})

test('binding a port another socket holds rejects with EADDRINUSE', async (t) => {
  const a = await bound(t)
  const b = udp()
  closing(t, b)
  const e = await t.throwsAsync(within(b.bind(a.localAddr())), { instanceOf: SocketError, code: 'EADDRINUSE' })
  t.is(e?.syscall, 'bind')
})

test('an unbound socket gets an ephemeral port with its first send', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  t.is(client.localAddr().port, 0)
  await within(client.send('x', undefined, server.localAddr()))
  const port = client.localAddr().port
  t.true(port > 0)
  t.is((await recvOne(server))[1].port, port)
})

// ---------------------------------------------------------------------------------------------
// Connected UDP

test('connect sets the default peer: send needs no address and remoteAddr names the peer', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  await within(client.connect(server.localAddr()))
  t.deepEqual(client.remoteAddr(), server.localAddr())
  t.is(await within(client.send('no address')), 10)
  t.is(await within(client.send(Buffer.from('with maxlen'), 4)), 4)
  t.is(await within(client.send('with expires', undefined, clock() + 2)), 12)
  t.is((await recvOne(server))[0].toString(), 'no address')
  t.is((await recvOne(server))[0].toString(), 'with')
  t.is((await recvOne(server))[0].toString(), 'with expires')
})

test('connect also takes host and port', async (t) => {
  const server = await bound(t)
  const client = udp()
  closing(t, client)
  await within(client.connect('127.0.0.1', server.localAddr().port))
  t.is(client.remoteAddr().port, server.localAddr().port)
  await within(client.send('hp'))
  t.is((await recvOne(server))[0].toString(), 'hp')
})

test('a connected socket receives only from its peer', async (t) => {
  const server = await bound(t)
  const stranger = await bound(t)
  const client = await bound(t)
  await within(client.connect(server.localAddr()))
  await within(stranger.send('from a stranger', undefined, client.localAddr()))
  await within(server.send('from the peer', undefined, client.localAddr()))
  const [got, from] = await recvOne(client)
  t.is(got.toString(), 'from the peer')
  t.deepEqual(from, server.localAddr())
  // The stranger's datagram was dropped by the kernel, not queued behind.
  await t.throwsAsync(within(client.recv(Buffer.alloc(64), undefined, clock() + 0.1)), timeout)
})

udpIcmpErrors()('a connected socket whose peer port is closed: recv rejects with ECONNREFUSED and the socket stays open', async (t) => {
  const gone = udp()
  await gone.bind('127.0.0.1', 0)
  const port = gone.localAddr().port
  gone.close()
  const client = udp()
  closing(t, client)
  await within(client.connect('127.0.0.1', port))
  await within(client.send('anyone?'))
  const e = await t.throwsAsync(within(client.recv(Buffer.alloc(8), undefined, clock() + 2)), {
    instanceOf: SocketError,
    code: 'ECONNREFUSED',
  })
  t.is(e?.syscall, 'recv')
  t.false(client.closed)
})

// ---------------------------------------------------------------------------------------------
// Broadcast and multicast

test('so_broadcast is off on a fresh UDP socket and reads back as set', (t) => {
  const s = udp()
  closing(t, s)
  t.is(s.getopt('so_broadcast'), false)
  s.setopt('so_broadcast', true)
  t.is(s.getopt('so_broadcast'), true)
  s.setopt('so_broadcast', false)
  t.is(s.getopt('so_broadcast'), false)
})

test.serial('a send to 127.255.255.255 rejects with EACCES without so_broadcast; with it a socket bound to * receives it', async (t) => {
  const receiver = udp()
  closing(t, receiver)
  await receiver.bind('*', 0)
  const port = receiver.localAddr().port
  const sender = udp()
  closing(t, sender)
  await t.throwsAsync(within(sender.send('denied', undefined, '127.255.255.255', port)), { instanceOf: SocketError, code: 'EACCES' })
  sender.setopt('so_broadcast', true)
  t.is(await within(sender.send('broadcast', undefined, '127.255.255.255', port)), 9)
  const [got, from] = await recvOne(receiver)
  t.is(got.toString(), 'broadcast')
  t.is(from.address, '127.0.0.1')
  t.is(from.port, sender.localAddr().port)
})

onlyOn(emulated !== 'qemu', 'qemu-user 7.2 does not emulate IP_MULTICAST_IF').serial('a member of 224.0.0.251 on loopback receives the group datagrams, and after leaving no longer does', async (t) => {
  const group = { multiaddr: '224.0.0.251', interface: '127.0.0.1' }
  const receiver = udp()
  closing(t, receiver)
  await receiver.bind('*', 0)
  const port = receiver.localAddr().port
  receiver.setopt('ip_add_membership', group)
  const sender = udp()
  closing(t, sender)
  sender.setopt('ip_multicast_if', '127.0.0.1')
  t.is(sender.getopt('ip_multicast_if'), '127.0.0.1')
  t.is(sender.getopt('ip_multicast_loop'), true)
  sender.setopt('ip_multicast_ttl', 1)
  t.is(await within(sender.send('to the group', undefined, '224.0.0.251', port)), 12)
  const [got, from] = await recvOne(receiver)
  t.is(got.toString(), 'to the group')
  t.is(from.address, '127.0.0.1')
  t.is(from.port, sender.localAddr().port)

  receiver.setopt('ip_drop_membership', group)
  await within(sender.send('after leaving', undefined, '224.0.0.251', port))
  await t.throwsAsync(within(receiver.recv(Buffer.alloc(64), undefined, clock() + 0.2)), timeout)
})

onlyOn(emulated !== 'wine', 'wine answers EINVAL to leaving a group not joined')('joining a group twice rejects with EADDRINUSE; leaving one not joined with EADDRNOTAVAIL', (t) => {
  const s = udp()
  closing(t, s)
  s.setopt('ip_add_membership', '224.0.0.251')
  t.throws(() => s.setopt('ip_add_membership', '224.0.0.251'), { instanceOf: SocketError, code: 'EADDRINUSE' })
  s.setopt('ip_drop_membership', '224.0.0.251')
  t.throws(() => s.setopt('ip_drop_membership', '224.0.0.251'), { instanceOf: SocketError, code: 'EADDRNOTAVAIL' })
  t.throws(() => s.setopt('ip_add_membership', '10.0.0.1'), { instanceOf: SocketError, code: 'EINVAL' }) // not a group
})
