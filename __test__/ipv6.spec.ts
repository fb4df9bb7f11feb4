/**
 * IPv6: TCP and UDP over ::1, ipv6_v6only on and off, dual-stack listeners on '*' with IPv4
 * peers shown as v4-mapped addresses, and scope ids of link-local addresses (exchanged over a
 * link-local address in a network namespace of the test's own).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test from 'ava'
import { addr, Address, clock, newthread, SocketError, start, tcp, udp } from 'socket2'
import { childStart, closing, echo, has, linux, linuxOnly, onlyOn, readAll, roundTrip, udpIcmpErrors, within } from './util.ts'

const execFileAsync = promisify(execFile)
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

// ---------------------------------------------------------------------------------------------
// Over ::1

test.serial('a TCP echo over ::1: the addresses are IPv6 and the data comes back byte for byte', async (t) => {
  const server = tcp('inet6')
  closing(t, server)
  await within(server.listen('::1', 0))
  t.is(server.localAddr().family, 'inet6')
  t.is(server.localAddr().address, '::1')
  t.is(server.localAddr().toString(), `[::1]:${server.localAddr().port}`)
  const data = randomBytes(1 << 20)
  newthread(async () => {
    const [c, remote, local] = await server.accept(clock() + 5)
    t.is(remote.address, '::1')
    t.is(remote.family, 'inet6')
    t.deepEqual(local, server.localAddr())
    await echo(c)
  })
  let echoed: Buffer | undefined
  newthread(async () => {
    const c = tcp('inet6')
    closing(t, c)
    await c.connect('::1', server.localAddr().port, clock() + 5)
    t.deepEqual(c.remoteAddr(), server.localAddr())
    echoed = await roundTrip(c, data)
  })
  await within(start(), 20_000)
  t.true(echoed?.equals(data))
})

test("false is ::1 and '*' is :: for family inet6", async (t) => {
  const l = tcp('inet6')
  const u = udp('inet6')
  closing(t, l, u)
  await within(l.listen(false, 0))
  t.is(l.localAddr().address, '::1')
  await within(u.bind('*', 0))
  t.is(u.localAddr().address, '::')
})

onlyOn(linux, "EAI_ADDRFAMILY is glibc's answer")('an IPv6 socket given an IPv4 literal rejects with EAI_ADDRFAMILY (glibc) and connects nowhere', async (t) => {
  const c = tcp('inet6')
  closing(t, c)
  const e = await t.throwsAsync(within(c.connect('127.0.0.1', 9)), { instanceOf: SocketError, code: 'EAI_ADDRFAMILY' })
  t.is(e?.syscall, 'getaddrinfo')
  t.false(c.closed)
})

// ---------------------------------------------------------------------------------------------
// Dual stack and ipv6_v6only

test('ipv6_v6only is off on a fresh IPv6 socket (Linux default) and reads back as set', (t) => {
  const s = tcp('inet6')
  closing(t, s)
  t.is(s.getopt('ipv6_v6only'), false)
  s.setopt('ipv6_v6only', true)
  t.is(s.getopt('ipv6_v6only'), true)
  s.setopt('ipv6_v6only', false)
  t.is(s.getopt('ipv6_v6only'), false)
})

test("a dual-stack listener on '*' accepts an IPv4 client, shown as ::ffff:127.0.0.1 on both ends", async (t) => {
  const server = tcp('inet6')
  closing(t, server)
  await within(server.listen('*', 0))
  t.is(server.localAddr().address, '::')
  const port = server.localAddr().port
  const client = tcp()
  closing(t, client)
  const [[s, remote, local]] = await within(Promise.all([server.accept(), client.connect('127.0.0.1', port)]))
  closing(t, s)
  t.is(remote.family, 'inet6')
  t.is(remote.address, '::ffff:127.0.0.1')
  t.is(remote.port, client.localAddr().port)
  t.is(remote.toString(), `[::ffff:127.0.0.1]:${remote.port}`)
  t.deepEqual(local, new Address('inet6', '::ffff:127.0.0.1', port))
  await within(client.send('v4 over v6'))
  client.shutdown('w')
  t.is((await within(readAll(s))).toString(), 'v4 over v6')
  // An IPv6 client is accepted by the same listener.
  const c6 = tcp('inet6')
  closing(t, c6)
  const [[s6, r6]] = await within(Promise.all([server.accept(), c6.connect('::1', port)]))
  closing(t, s6)
  t.is(r6.address, '::1')
})

test("with ipv6_v6only on, a listener on '*' refuses an IPv4 client (ECONNREFUSED) and still accepts IPv6", async (t) => {
  const server = tcp('inet6')
  closing(t, server)
  server.setopt('ipv6_v6only', true)
  await within(server.listen('*', 0))
  const port = server.localAddr().port
  const v4 = tcp()
  closing(t, v4)
  await t.throwsAsync(within(v4.connect('127.0.0.1', port, clock() + 2)), { instanceOf: SocketError, code: 'ECONNREFUSED' })
  const v6 = tcp('inet6')
  closing(t, v6)
  const [[s, remote]] = await within(Promise.all([server.accept(), v6.connect('::1', port)]))
  closing(t, s)
  t.is(remote.address, '::1')
})

test('with ipv6_v6only on, the IPv4 port stays free for an IPv4 socket', async (t) => {
  const v6 = udp('inet6')
  closing(t, v6)
  v6.setopt('ipv6_v6only', true)
  await within(v6.bind('*', 0))
  const v4 = udp()
  closing(t, v4)
  await within(v4.bind('*', v6.localAddr().port))
  t.is(v4.localAddr().port, v6.localAddr().port)
  const dual = udp('inet6')
  closing(t, dual)
  await t.throwsAsync(within(dual.bind('*', v6.localAddr().port)), { instanceOf: SocketError, code: 'EADDRINUSE' })
})

test("a dual-stack UDP socket receives an IPv4 datagram from ::ffff:127.0.0.1, and its reply to that address reaches the IPv4 sender", async (t) => {
  const server = udp('inet6')
  closing(t, server)
  await within(server.bind('*', 0))
  const client = udp()
  closing(t, client)
  await within(client.bind('127.0.0.1', 0))
  await within(client.send('v4 datagram', undefined, '127.0.0.1', server.localAddr().port))
  const buf = Buffer.alloc(64)
  const [n, from] = await within(server.recv(buf, undefined, clock() + 2))
  t.is(buf.subarray(0, n).toString(), 'v4 datagram')
  t.deepEqual(from, new Address('inet6', '::ffff:127.0.0.1', client.localAddr().port))
  await within(server.send(buf, n, from))
  const [m, replyFrom] = await within(client.recv(buf, undefined, clock() + 2))
  t.is(m, n)
  t.is(replyFrom.family, 'inet')
  t.is(replyFrom.address, '127.0.0.1')
  t.is(replyFrom.port, server.localAddr().port)
})

udpIcmpErrors()('with ipv6_v6only on, an IPv4 datagram is not delivered: a connected IPv4 sender sees ECONNREFUSED', async (t) => {
  const server = udp('inet6')
  closing(t, server)
  server.setopt('ipv6_v6only', true)
  await within(server.bind('*', 0))
  const client = udp()
  closing(t, client)
  await within(client.connect('127.0.0.1', server.localAddr().port))
  await within(client.send('refused'))
  await t.throwsAsync(within(client.recv(Buffer.alloc(8), undefined, clock() + 2)), { instanceOf: SocketError, code: 'ECONNREFUSED' })
})

test('an IPv6 socket connects to an IPv4 listener through its v4-mapped address', async (t) => {
  const server = tcp()
  closing(t, server)
  await within(server.listen('127.0.0.1', 0))
  const c = tcp('inet6')
  closing(t, c)
  const [[s, remote]] = await within(Promise.all([server.accept(), c.connect('::ffff:127.0.0.1', server.localAddr().port)]))
  closing(t, s)
  t.is(remote.family, 'inet')
  t.is(remote.address, '127.0.0.1')
  t.is(c.remoteAddr().address, '::ffff:127.0.0.1')
})

// ---------------------------------------------------------------------------------------------
// Scope ids

linuxOnly("the interface named lo, its index in /sys/class/net")("a link-local address with an interface name resolves with that interface's index as scopeId", async (t) => {
  const lo = Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8'))
  const a = (await within(addr('fe80::1%lo', 80, 'udp', 'inet6'))).toAddress()
  t.is(a.address, 'fe80::1')
  t.is(a.scopeId, lo)
  t.is(a.toString(), `[fe80::1%${lo}]:80`)
  const numeric = (await within(addr(`fe80::1%${lo}`, 80, 'udp', 'inet6'))).toAddress()
  t.is(numeric.scopeId, lo)
  t.is(new Address('inet6', '::1', 80).scopeId, 0)
  t.is(new Address('inet6', '::1', 80).toString(), '[::1]:80')
})

test('an unknown interface name in a scoped address rejects with EAI_NONAME', async (t) => {
  const e = await t.throwsAsync(within(addr('fe80::1%nosuchif0', 80, 'udp', 'inet6')), { instanceOf: SocketError, code: 'EAI_NONAME' })
  t.is(e?.syscall, 'getaddrinfo')
})

const namespaced = onlyOn(has('unshare') && has('ip') && process.getuid?.() === 0, 'needs root, unshare and ip (Linux network namespaces)')
namespaced('over a link-local address (in a network namespace of its own), senders and peers carry the scope id, and replies to them arrive', async (t) => {
  const args = ['-n', 'sh', '-c', 'ip link set lo up && ip addr add fe80::1/64 dev lo nodad && exec "$0" "$1"', process.execPath, fixture('link-local.mjs')]
  const { stdout } = await within(execFileAsync('unshare', args, { encoding: 'utf8', timeout: 15_000 + childStart }), 20_000 + childStart)
  const out = JSON.parse(stdout.trim())
  const lo = out.loIndex as number
  const scoped = (text: RegExp) => ({ family: 'inet6', address: 'fe80::1', scopeId: lo, text })
  const like = (got: { text: string }, want: ReturnType<typeof scoped>, what: string): void => {
    t.regex(got.text, want.text, what)
    t.deepEqual({ ...got, text: undefined }, { ...want, text: undefined }, what)
  }
  like(out.resolved, scoped(new RegExp(`^\\[fe80::1%${lo}\\]:0$`)), 'resolved')
  like(out.bound, scoped(new RegExp(`^\\[fe80::1%${lo}\\]:\\d+$`)), 'bound')
  t.is(out.datagram, 'over link-local')
  like(out.from, scoped(new RegExp(`^\\[fe80::1%${lo}\\]:\\d+$`)), 'sender')
  t.is(out.reply, 'over link-local')
  like(out.accepted, scoped(/./), 'accepted peer')
  like(out.connectedTo, scoped(/./), 'connected peer')
})
