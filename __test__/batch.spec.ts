/**
 * Batched I/O: `sendMany`/`recvMany` on datagram sockets (sendmmsg/recvmmsg on Linux, a loop
 * of single calls elsewhere) and vectored TCP `send([...])`, each checked byte for byte,
 * partial batches and full buffers included, and their misuse.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test, { type ExecutionContext } from 'ava'
import { clock, newthread, SocketError, start, udp, type Udp } from 'socket2'
import { childStart, closing, emulated, has, linux, onlyOn, pair, readAll, tempDir, windows, within } from './util.ts'

const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
const badRange = { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }
const closedError = { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' }
const unixDatagrams = onlyOn(!windows, 'Windows has no unix datagram sockets (and wine no AF_UNIX)')

/** Two UDP sockets bound to loopback, `tx` connected to `rx`; closed when the test ends. */
async function udpPair(t: ExecutionContext): Promise<[Udp, Udp]> {
  const rx = udp()
  const tx = udp()
  closing(t, rx, tx)
  await within(rx.bind('127.0.0.1', 0))
  await within(tx.bind('127.0.0.1', 0))
  await within(tx.connect(rx.localAddr()))
  return [rx, tx]
}

/** `count` buffers of `size` bytes. */
function buffers(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, () => Buffer.alloc(size))
}

// ---------------------------------------------------------------------------------------------
// sendMany / recvMany

test('sendMany sends bytes, strings and { data, to } in order; recvMany receives each byte for byte with its sender', async (t) => {
  const [rx, tx] = await udpPair(t)
  const other = udp()
  closing(t, other)
  await within(other.bind('127.0.0.1', 0))
  const sent = [randomBytes(1), randomBytes(700), randomBytes(1400), Buffer.alloc(0)]
  const n = await within(tx.sendMany([sent[0]!, 'text', { data: sent[1]! }, { data: sent[2]!, to: rx.localAddr() }, sent[3]!]))
  t.is(n, 5)
  // Another sender's datagram in the same batch: each datagram has its own sender.
  t.is(await within(other.sendMany([{ data: 'other', to: rx.localAddr() }])), 1)
  const bufs = buffers(8, 2048)
  const got = await within(rx.recvMany(bufs, clock() + 2))
  t.is(got.length, 6)
  const expected = [sent[0]!, Buffer.from('text'), sent[1]!, sent[2]!, sent[3]!, Buffer.from('other')]
  got.forEach((d, i) => {
    t.deepEqual(bufs[i]!.subarray(0, d.length), expected[i], `datagram ${i}`)
    t.false(d.truncated)
    t.is(d.from.toString(), (i < 5 ? tx : other).localAddr().toString())
  })
  // The same sender's address is one object, reused.
  t.is(got[0]!.from, got[4]!.from)
})

test('recvMany takes what is queued, up to one datagram per buffer: partial batches in order, nothing lost', async (t) => {
  const [rx, tx] = await udpPair(t)
  const sent = Array.from({ length: 7 }, (_, i) => randomBytes(10 + i))
  t.is(await within(tx.sendMany(sent)), 7)
  const received: Buffer[] = []
  for (const count of [3, 2, 8]) {
    const bufs = buffers(count, 64)
    const got = await within(rx.recvMany(bufs, clock() + 2))
    t.is(got.length, Math.min(count, 7 - received.length))
    got.forEach((d, i) => received.push(bufs[i]!.subarray(0, d.length)))
  }
  t.deepEqual(received, sent)
})

test('recvMany after a single recv gets the datagrams still queued first, in order', async (t) => {
  const [rx, tx] = await udpPair(t)
  t.is(await within(tx.sendMany(['a', 'b', 'c'])), 3)
  const one = Buffer.alloc(8)
  const [n] = await within(rx.recv(one))
  t.is(one.subarray(0, n).toString(), 'a')
  const bufs = buffers(4, 8)
  const got = await within(rx.recvMany(bufs, clock() + 2))
  t.deepEqual(
    got.map((d, i) => bufs[i]!.subarray(0, d.length).toString()),
    ['b', 'c'],
  )
})

test('recvMany marks a datagram longer than its buffer truncated, keeping its first bytes', async (t) => {
  const [rx, tx] = await udpPair(t)
  const long = randomBytes(100)
  t.is(await within(tx.sendMany([long, 'short'])), 2)
  const bufs = [Buffer.alloc(10), Buffer.alloc(10)]
  const got = await within(rx.recvMany(bufs, clock() + 2))
  t.deepEqual(
    got.map((d) => [d.length, d.truncated]),
    [
      [10, true],
      [5, false],
    ],
  )
  t.deepEqual(bufs[0], long.subarray(0, 10))
  t.is(bufs[1]!.subarray(0, 5).toString(), 'short')
})

test('recvMany waits for the first datagram; its deadline closes the socket with ETIMEDOUT', async (t) => {
  const [rx, tx] = await udpPair(t)
  const bufs = buffers(4, 64)
  const waiting = rx.recvMany(bufs)
  setTimeout(() => void tx.send('late'), 20)
  const got = await within(waiting)
  t.is(got.length, 1)
  t.is(bufs[0]!.subarray(0, got[0]!.length).toString(), 'late')
  await t.throwsAsync(within(rx.recvMany(bufs, clock() + 0.05)), { instanceOf: SocketError, code: 'ETIMEDOUT' })
  t.true(rx.closed)
})

test('recvMany rejects with ERR_SOCKET_CLOSED when another thread closes the socket', async (t) => {
  const [rx] = await udpPair(t)
  const th = newthread(async () => rx.recvMany(buffers(2, 16)))
  newthread(async () => rx.close())
  await t.throwsAsync(within(th.done as Promise<unknown>), closedError)
  await within(start())
})

unixDatagrams('sendMany into a full buffer reports the part that went, waits to send the rest, and every byte arrives in order', async (t) => {
  const [dir, cleanup] = tempDir()
  t.teardown(cleanup)
  const rx = udp('unix')
  const tx = udp('unix')
  closing(t, rx, tx)
  await within(rx.bind(join(dir, 'rx.sock')))
  await within(tx.connect(rx.localAddr()))
  const sent = Array.from({ length: 1024 }, (_, i) => randomBytes(100 + (i % 50)))
  // The receiver's queue holds fewer: the batch stops where it filled.
  const first = await within(tx.sendMany(sent))
  t.true(first > 0 && first < sent.length, `sent ${first} of ${sent.length} before the buffer filled`)
  // The rest waits for room, which the receiver makes below.
  const rest = (async () => {
    let off = first
    while (off < sent.length) off += await tx.sendMany(sent.slice(off), clock() + 5)
    return off
  })()
  const received: Buffer[] = []
  while (received.length < sent.length) {
    const bufs = buffers(64, 256)
    const got = await within(rx.recvMany(bufs, clock() + 5))
    got.forEach((d, i) => {
      t.false(d.truncated)
      received.push(bufs[i]!.subarray(0, d.length))
    })
  }
  t.is(await within(rest), sent.length)
  t.true(
    received.every((r, i) => r.equals(sent[i]!)),
    'every datagram arrived whole and in order',
  )
})

test('sendMany and recvMany refuse bad batches at once: not an array, wrong elements, none or too many', async (t) => {
  const [rx, tx] = await udpPair(t)
  t.throws(() => tx.sendMany('data' as never), badType)
  const { proxy, revoke } = Proxy.revocable([], {})
  revoke()
  t.throws(() => tx.sendMany(proxy as never), badType)
  t.throws(() => tx.sendMany([Buffer.from('a'), 5 as never]), { ...badType, message: /msgs\[1\]/ })
  t.throws(() => tx.sendMany([{ data: 5 } as never]), { ...badType, message: /msgs\[0\]\.data/ })
  t.throws(() => tx.sendMany([{ data: 'x', to: '127.0.0.1' as never }]), { ...badType, message: /msgs\[0\]\.to/ })
  t.throws(() => tx.sendMany([]), badRange)
  t.throws(() => tx.sendMany(Array.from({ length: 1025 }, () => 'x')), badRange)
  t.throws(() => tx.sendMany(['x'], 'soon' as never), badType)
  t.throws(() => rx.recvMany(Buffer.alloc(8) as never), badType)
  t.throws(() => rx.recvMany([Buffer.alloc(8), 'text' as never]), { ...badType, message: /bufs\[1\]/ })
  t.throws(() => rx.recvMany([]), badRange)
  t.throws(() => rx.recvMany(buffers(1025, 1)), badRange)
  const shared = Buffer.alloc(64)
  t.throws(() => rx.recvMany([shared.subarray(0, 40), shared.subarray(32, 64)]), { ...badType, message: /overlap/ })
  // Refused at once: nothing was sent, nothing taken from the queue.
  t.is(await within(tx.sendMany(['kept'])), 1)
  const bufs = buffers(2, 8)
  const got = await within(rx.recvMany(bufs, clock() + 2))
  t.is(bufs[0]!.subarray(0, got[0]!.length).toString(), 'kept')
})

test('sendMany and recvMany on a closed socket throw ERR_SOCKET_CLOSED at once', async (t) => {
  const [rx, tx] = await udpPair(t)
  rx.close()
  tx.close()
  t.throws(() => tx.sendMany(['x']), closedError)
  t.throws(() => rx.recvMany(buffers(1, 8)), closedError)
})

test('sendMany on an unconnected socket without addresses rejects with the OS error EDESTADDRREQ', async (t) => {
  const s = udp()
  closing(t, s)
  await within(s.bind('127.0.0.1', 0))
  await t.throwsAsync(within(s.sendMany(['x'])), { instanceOf: SocketError, code: 'EDESTADDRREQ' })
})

/** Whether `path` is an executable file. */
function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** nftables' `nft`, by its own path: `nft` on a test's PATH may be an npm package's binary. */
const nft = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find(executable)
const firewalled = onlyOn(
  linux && process.getuid?.() === 0 && has('unshare') && has('ip') && nft !== undefined,
  'needs Linux, root, unshare, ip and nft (a network namespace with a firewall of its own)',
)
firewalled('a firewall refusing a destination (EPERM) fails that sendMany, and batching stays on for the rest', async (t) => {
  // Dropped by an output rule, a datagram fails its send with EPERM, as a seccomp filter
  // refusing sendmmsg would fail it: that must stay one destination's error.
  const rule = `${nft} add table inet t && ${nft} add chain inet t out "{ type filter hook output priority 0; }" && ${nft} add rule inet t out udp dport 9 drop`
  const fixture = fileURLToPath(new URL('./fixtures/filtered-batch.mjs', import.meta.url))
  const args = ['-n', 'sh', '-c', `ip link set lo up && ${rule} && exec "$0" "$1" 9`, process.execPath, fixture]
  const run = promisify(execFile)('unshare', args, { encoding: 'utf8', timeout: 15_000 + childStart })
  const out = JSON.parse((await within(run, 20_000 + childStart)).stdout.trim())
  const refused = { name: 'SocketError', code: 'EPERM', syscall: 'sendMany' }
  t.deepEqual(out.filtered, refused)
  t.deepEqual(out.open, { sent: 3 })
  t.is(out.openBatches, 1, 'one sendmmsg for the open destination after the refusal')
  // A batch refused after its first datagram: that one went, the refusal shows on the next.
  t.deepEqual(out.mixed, { sent: 1 })
  t.deepEqual(out.mixedRest, refused)
  t.deepEqual(out.after, { sent: 1 })
  t.is(out.afterBatches, 1)
  t.deepEqual(out.received, ['1', '2', '3', '4', '6'])
})

// ---------------------------------------------------------------------------------------------
// Vectored TCP send

test('send([...]) sends buffers and strings as one stream, byte for byte, and resolves with the total', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const header = Buffer.from('HTTP/1.1 200 OK\r\n\r\n')
  const body = randomBytes(16384)
  t.is(await within(c.send([header, body, '', 'tail ✓', new Uint8Array(0)])), header.length + body.length + Buffer.byteLength('tail ✓'))
  t.is(await within(c.send([])), 0)
  c.shutdown('w')
  t.deepEqual(await within(readAll(s)), Buffer.concat([header, body, Buffer.from('tail ✓')]))
})

test('send([...]) larger than the socket buffer, over more than 1024 buffers, waits and sends everything in order', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const parts = Array.from({ length: 3000 }, (_, i) => randomBytes(1 + ((i * 997) % 3000)))
  const total = parts.reduce((n, p) => n + p.length, 0)
  const reading = readAll(s)
  t.is(await within(c.send(parts, undefined, clock() + 10)), total)
  c.shutdown('w')
  t.true((await within(reading)).equals(Buffer.concat(parts)))
})

const natively = onlyOn(!emulated, 'moves 4 GiB, too slow under an emulator')
natively('send([...]) of more than 4 GiB in all (buffers repeated in the array) sends every byte in order past 2^32', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  // 257 buffers of 2^24 + 1 bytes: 2^32 is no multiple of the size, so an offset cut to 32 bits
  // would resend bytes from another place in the buffers, not the same bytes.
  const size = 2 ** 24 + 1
  const first = randomBytes(size)
  const rest = randomBytes(size)
  const parts = [first, ...Array<Buffer>(256).fill(rest)]
  const total = parts.length * size
  t.true(total > 2 ** 32)
  const sending = c.send(parts, undefined, clock() + 60)
  // Compares the stream with the buffers as it arrives: where it first differs, if it does.
  const buf = Buffer.alloc(4 * 2 ** 20)
  let got = 0
  let differs = -1
  for (let at = 0, skip = 0, n; got < total && (n = await s.recv(buf, undefined, clock() + 60)) > 0; got += n) {
    for (let i = 0; i < n && differs < 0; ) {
      const part = parts[at]!
      const k = Math.min(n - i, part.length - skip)
      if (!buf.subarray(i, i + k).equals(part.subarray(skip, skip + k))) differs = got + i
      i += k
      skip += k
      if (skip === part.length) [at, skip] = [at + 1, 0]
    }
  }
  t.is(differs, -1, 'the first byte that differs')
  t.is(await within(sending, 60_000), total)
  t.is(got, total)
})

test('send([...], maxlen) sends the first maxlen bytes of the concatenation', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  t.is(await within(c.send(['abc', Buffer.from('defg'), 'hij'], 5)), 5)
  c.shutdown('w')
  t.is((await within(readAll(s))).toString(), 'abcde')
})

test('send([...]) refuses wrong elements, maxlen past the total, and a closed socket at once', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  t.throws(() => c.send(['a', 5 as never]), { ...badType, message: /data\[1\]/ })
  t.throws(() => c.send([Buffer.from('ab')], 3), badRange)
  t.throws(() => c.send([Buffer.from('ab')], 1.5), badType)
  c.close()
  t.throws(() => c.send(['a']), closedError)
})
