/**
 * Raw sockets (ICMP echo to 127.0.0.1 and ::1, a hand-built IP header with ip_hdrincl), the
 * error without CAP_NET_RAW, and the unprivileged ICMP datagram ("ping") socket, tested in a
 * network namespace of its own. Privileged cases run as root only; the others run children.
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { cpSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import test, { type ExecutionContext } from 'ava'
import { addr, clock, raw, type Raw, SocketError, sleep, udp } from 'socket2'
import { childStart, closing, emulated, has, linux, onlyOn, rawAllowed, tempDir, within } from './util.ts'

const execFileAsync = promisify(execFile)
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }

/** Whether this process may open raw sockets (ip_hdrincl and raw sockets need one). */
const privileged = rawAllowed()
const asRoot = onlyOn(privileged, 'needs root or CAP_NET_RAW')
/** Raw sockets as Linux has them: BSDs never hand UDP or TCP to a raw socket, and take ip_hdrincl's lengths in host order. */
const linuxRaw = onlyOn(privileged && linux, privileged ? 'Linux raw socket behaviour' : 'needs root or CAP_NET_RAW')
const isRoot = process.getuid?.() === 0
const raw6 = onlyOn(privileged && emulated !== 'wine', privileged ? 'wine has no raw ICMPv6 socket (EPROTONOSUPPORT)' : 'needs root or CAP_NET_RAW')

/** The Internet checksum (RFC 1071); 0 over a message that carries a valid one. */
function checksum(b: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) + (i + 1 < b.length ? b[i + 1]! : 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** An ICMP (type 8) or ICMPv6 (type 128) echo request; ICMPv6 checksums are the kernel's job. */
function echoRequest(type: 8 | 128, id: number, seq: number, payload: Buffer): Buffer {
  const pkt = Buffer.concat([Buffer.alloc(8), payload])
  pkt[0] = type
  pkt.writeUInt16BE(id, 4)
  pkt.writeUInt16BE(seq, 6)
  if (type === 8) pkt.writeUInt16BE(checksum(pkt), 2)
  return pkt
}

/** The IPv6 pseudo-header of an ICMPv6 message of `length` bytes from ::1 to ::1 (RFC 4443). */
function pseudoHeader6(length: number): Buffer {
  const h = Buffer.alloc(40)
  h[15] = 1
  h[31] = 1
  h.writeUInt32BE(length, 32)
  h[39] = 58
  return h
}

/**
 * Reads packets until `match` accepts one (a raw ICMP socket also sees other ICMP traffic,
 * including our own outgoing request on loopback).
 */
async function recvUntil(s: Raw, match: (pkt: Buffer) => boolean, expires: number): Promise<[Buffer, string[]]> {
  const buf = Buffer.alloc(65536)
  const skipped: string[] = []
  for (;;) {
    const [n] = await s.recv(buf, undefined, expires)
    const pkt = Buffer.from(buf.subarray(0, n))
    if (match(pkt)) return [pkt, skipped]
    skipped.push(pkt.toString('hex'))
  }
}

// ---------------------------------------------------------------------------------------------
// Identity and misuse

raw6("raw() makes an ICMP socket over IPv4; raw('inet6') an ICMPv6 one; so_type is SOCK_RAW", (t) => {
  const a = raw()
  const b = raw('inet6')
  const c = raw('inet', 'udp')
  closing(t, a, b, c)
  t.is(a.type(), 'raw')
  t.is(a.family(), 'inet')
  t.is(a.protocol(), 'icmp')
  t.is(b.family(), 'inet6')
  t.is(b.protocol(), 'icmpv6')
  t.is(c.protocol(), 'udp')
  t.is(a.getopt('so_type'), 3) // SOCK_RAW on Linux
})

test("raw() with family 'unix', an unknown family or an unknown protocol throws TypeError at once", (t) => {
  t.throws(() => raw('unix' as never), badType)
  t.throws(() => raw('ipx' as never), badType)
  t.throws(() => raw('inet', 'sctp' as never), badType)
  t.throws(() => raw('inet', 'valueOf' as never), badType)
})

// ---------------------------------------------------------------------------------------------
// ICMP echo

asRoot('an ICMP echo request to 127.0.0.1 gets a type 0 reply with our id, seq and payload, after an IP header, checksums valid', async (t) => {
  const s = raw()
  closing(t, s)
  const id = randomInt(1, 0xffff)
  const seq = randomInt(1, 0xffff)
  const payload = Buffer.from('socket2 raw echo')
  const req = echoRequest(8, id, seq, payload)
  t.is(await within(s.send(req, undefined, '127.0.0.1')), req.length)
  const ours = (p: Buffer, type: number): boolean => {
    const icmp = p.subarray((p[0]! & 0x0f) * 4)
    return icmp[0] === type && icmp.readUInt16BE(4) === id && icmp.readUInt16BE(6) === seq
  }
  // The socket sees our own request go out on loopback first, then the kernel's reply.
  const [pkt, skipped] = await within(recvUntil(s, (p) => ours(p, 0), clock() + 2))
  t.log(`skipped ${skipped.length} other packet(s)`)
  const ihl = (pkt[0]! & 0x0f) * 4
  t.is(pkt[0]! >> 4, 4, 'IPv4')
  t.is(ihl, 20, 'no IP options')
  t.is(pkt.readUInt16BE(2), pkt.length, 'IP total length')
  t.is(pkt[9], 1, 'protocol ICMP')
  t.true(pkt[8]! > 0, 'ttl')
  t.deepEqual([...pkt.subarray(12, 16)], [127, 0, 0, 1], 'source')
  t.deepEqual([...pkt.subarray(16, 20)], [127, 0, 0, 1], 'destination')
  t.is(checksum(pkt.subarray(0, ihl)), 0, 'IP header checksum')
  const reply = pkt.subarray(ihl)
  t.is(reply[0], 0, 'echo reply')
  t.is(reply[1], 0, 'code')
  t.is(reply.readUInt16BE(4), id)
  t.is(reply.readUInt16BE(6), seq)
  t.is(checksum(reply), 0, 'ICMP checksum')
  t.true(reply.subarray(8).equals(payload))
})

asRoot('the sender of a raw ICMP packet is an address with port 0', async (t) => {
  const s = raw()
  closing(t, s)
  const id = randomInt(1, 0xffff)
  await within(s.send(echoRequest(8, id, 1, Buffer.alloc(0)), undefined, '127.0.0.1'))
  const buf = Buffer.alloc(1500)
  const [n, from] = await within(s.recv(buf, undefined, clock() + 2))
  t.true(n >= 28)
  t.is(from.family, 'inet')
  t.is(from.address, '127.0.0.1')
  t.is(from.port, 0)
})

raw6('an ICMPv6 echo request to ::1 gets a type 129 reply with our id, seq and payload, no IP header, checksum valid', async (t) => {
  const s = raw('inet6')
  closing(t, s)
  const id = randomInt(1, 0xffff)
  const seq = randomInt(1, 0xffff)
  const payload = Buffer.from('socket2 raw echo v6')
  const req = echoRequest(128, id, seq, payload)
  t.is(await within(s.send(req, undefined, '::1')), req.length)
  const buf = Buffer.alloc(1500)
  let reply: Buffer | undefined
  const expires = clock() + 2
  while (reply === undefined) {
    const [n, from] = await within(s.recv(buf, undefined, expires))
    const p = Buffer.from(buf.subarray(0, n))
    if (p[0] === 129 && p.readUInt16BE(4) === id && p.readUInt16BE(6) === seq) {
      t.is(from.address, '::1')
      t.is(from.family, 'inet6')
      reply = p
    }
  }
  t.is(reply.length, 8 + payload.length, 'the ICMPv6 message alone')
  t.is(reply[1], 0, 'code')
  t.true(reply.subarray(8).equals(payload))
  t.is(checksum(Buffer.concat([pseudoHeader6(reply.length), reply])), 0, 'ICMPv6 checksum over the pseudo-header')
})

linuxRaw('with ip_hdrincl the IPv4 header we build goes out as is, and the echo is answered', async (t) => {
  const s = raw()
  closing(t, s)
  t.is(s.getopt('ip_hdrincl'), false)
  s.setopt('ip_hdrincl', true)
  t.is(s.getopt('ip_hdrincl'), true)
  const id = randomInt(1, 0xffff)
  const icmp = echoRequest(8, id, 3, Buffer.from('hdrincl'))
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip.writeUInt16BE(20 + icmp.length, 2)
  ip[8] = 33 // an unusual TTL, to recognise our header in the copy of the request
  ip[9] = 1
  Buffer.from([127, 0, 0, 1]).copy(ip, 12)
  Buffer.from([127, 0, 0, 1]).copy(ip, 16)
  t.is(await within(s.send(Buffer.concat([ip, icmp]), undefined, '127.0.0.1')), 20 + icmp.length)
  const mine = (type: number) => (p: Buffer) => p[20] === type && p.readUInt16BE(24) === id
  const [request] = await within(recvUntil(s, mine(8), clock() + 2))
  t.is(request[8], 33, 'our TTL')
  const [reply] = await within(recvUntil(s, mine(0), clock() + 2))
  t.is(checksum(reply.subarray(20)), 0)
})

linuxRaw("raw('inet', 'udp') sees a UDP datagram sent over loopback, with its IP and UDP headers", async (t) => {
  const s = raw('inet', 'udp')
  const a = udp()
  const b = udp()
  closing(t, s, a, b)
  await b.bind('127.0.0.1', 0)
  await a.bind('127.0.0.1', 0)
  s.setopt('so_rcvbuf', 4 * 1024 * 1024)
  const tag = `raw sees ${randomInt(1e9)}`
  // The raw socket sees every UDP packet of the host's loopback, other programs' too, and may
  // drop ours when they flood it: resend until it shows up.
  let seen = false
  const resend = (async () => {
    for (let i = 0; i < 40 && !seen; i++) {
      await a.send(tag, undefined, b.localAddr())
      await sleep(0.05)
    }
  })()
  const [pkt] = await within(recvUntil(s, (p) => p.subarray(28).toString() === tag, clock() + 2)).finally(() => (seen = true))
  await within(resend)
  t.is(pkt[9], 17, 'protocol UDP')
  t.is(pkt.readUInt16BE(20), a.localAddr().port, 'source port')
  t.is(pkt.readUInt16BE(22), b.localAddr().port, 'destination port')
  t.is(pkt.readUInt16BE(24), 8 + tag.length, 'UDP length')
})

// Library bug: names cannot be looked up for raw sockets. The port defaults to '0' and is passed
// to getaddrinfo as the service, which glibc refuses for SOCK_RAW (EAI_SERVICE, "Servname not
// supported for ai_socktype"); a raw lookup needs a null service. IP literals take the fast path
// and work.
test("addr(name, undefined, 'raw') resolves a host name (it rejects with EAI_SERVICE)", async (t) => {
  const ai = await within(addr('localhost', undefined, 'raw'))
  t.is(ai.address, '127.0.0.1')
})

asRoot('a raw socket sends to a host name (the lookup rejects with EAI_SERVICE)', async (t) => {
  const s = raw()
  closing(t, s)
  const id = randomInt(1, 0xffff)
  await within(s.send(echoRequest(8, id, 1, Buffer.alloc(0)), undefined, 'localhost'))
  const [pkt] = await within(recvUntil(s, (p) => p[20] === 0 && p.readUInt16BE(24) === id, clock() + 2))
  t.is(pkt[20], 0)
})

// ---------------------------------------------------------------------------------------------
// Without the privilege

interface Attempt {
  created: boolean
  name?: string
  isError?: boolean
  code?: string
  errno?: number
  syscall?: string
  returned?: string
}

function checkDenied(t: ExecutionContext, out: Record<string, Attempt>): void {
  for (const key of ['raw4', 'raw6', 'rawUdp']) {
    const a = out[key]!
    t.false(a.created, `${key} was created`)
    t.is(a.name, 'SocketError', key)
    t.true(a.isError, key)
    t.is(a.code, 'EPERM', key) // Linux's answer to socket(SOCK_RAW) without CAP_NET_RAW (EACCES elsewhere)
    t.is(a.syscall, 'socket', key)
    t.is(typeof a.errno, 'number', key)
  }
  // Only raw sockets need the privilege.
  t.deepEqual(out.udp, { created: true, returned: 'Udp' })
}

/**
 * A world-readable copy of a fixture and of the package it imports: another uid may not read
 * the checkout (a clone under a private home, a private temp folder).
 */
function worldReadable(t: ExecutionContext, name: string): string {
  const [dir, cleanup] = tempDir()
  t.teardown(cleanup)
  const root = fileURLToPath(new URL('..', import.meta.url))
  const pkg = join(dir, 'node_modules', 'socket2')
  const natives = readdirSync(root).filter((f) => f.endsWith('.node'))
  for (const f of ['package.json', 'binding.js', 'dist', join('scripts', 'platform.js'), ...natives]) {
    cpSync(join(root, f), join(pkg, f), { recursive: true })
  }
  cpSync(fixture(name), join(dir, name))
  execFileSync('chmod', ['-R', 'a+rX', dir])
  return join(dir, name)
}

const unprivileged = onlyOn(has('setpriv') && isRoot, 'needs root and setpriv (Linux)')
unprivileged('without privilege (uid 65534), raw() throws SocketError EPERM synchronously; udp() still works', async (t) => {
  const { stdout } = await within(
    execFileAsync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, worldReadable(t, 'raw-unprivileged.mjs')], {
      encoding: 'utf8',
      timeout: 15_000 + childStart,
    }),
    20_000 + childStart,
  )
  const out = JSON.parse(stdout.trim())
  t.is(out.uid, 65534)
  checkDenied(t, out)
})

const withoutCap = onlyOn(has('capsh') && isRoot, 'needs root and capsh (Linux capabilities)')
withoutCap('as root without CAP_NET_RAW, raw() throws SocketError EPERM synchronously', async (t) => {
  const { stdout } = await within(
    execFileAsync('capsh', ['--drop=cap_net_raw', '--', '-c', 'exec "$0" "$1"', process.execPath, fixture('raw-unprivileged.mjs')], {
      encoding: 'utf8',
      timeout: 15_000 + childStart,
    }),
    20_000 + childStart,
  )
  const out = JSON.parse(stdout.trim())
  t.is(out.uid, 0)
  checkDenied(t, out)
})

// ---------------------------------------------------------------------------------------------
// The unprivileged ICMP datagram socket, in a network namespace of its own

/** Runs the ping-socket fixture in a new network namespace; `open` widens ping_group_range. */
async function inNamespace(open: boolean): Promise<Record<string, any>> {
  const setup = open ? "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647'" : 'ip link set lo up'
  const args = ['-n', 'sh', '-c', `${setup} && exec "$0" "$1" ${open ? '' : 'denied'}`, process.execPath, fixture('ping-socket.mjs')]
  const { stdout } = await within(execFileAsync('unshare', args, { encoding: 'utf8', timeout: 15_000 + childStart }), 20_000 + childStart)
  return JSON.parse(stdout.trim())
}

const namespaced = onlyOn(has('unshare') && has('ip') && has('sysctl') && isRoot, 'needs root, unshare, ip and sysctl (Linux network namespaces, ping sockets)')

namespaced("udp('inet', 'icmp') throws SocketError EACCES synchronously when ping_group_range excludes the caller's group", async (t) => {
  const out = await inNamespace(false)
  t.deepEqual(out.range, ['1', '0'])
  for (const key of ['v4', 'v6']) {
    t.deepEqual(out[key], { created: false, name: 'SocketError', code: 'EACCES', syscall: 'socket' }, key)
  }
})

namespaced('the ping socket echoes 127.0.0.1 and ::1: the kernel sets the id to its port and delivers replies alone, no IP header', async (t) => {
  const out = await inNamespace(true)
  t.deepEqual(out.range, ['0', '2147483647'])
  for (const [key, family, address, type, protocol] of [
    ['v4', 'inet', '127.0.0.1', 0, 'icmp'],
    ['v6', 'inet6', '::1', 129, 'icmpv6'],
  ] as const) {
    const r = out[key]
    t.is(r.error, undefined, `${key}: ${r.error}`)
    t.is(r.type, 'udp', key)
    t.is(r.protocol, protocol, key)
    t.is(r.n, r.sent, `${key}: the reply is the ICMP message alone`)
    t.deepEqual(r.from, { family, address }, key)
    t.is(r.replyType, type, `${key}: the first datagram is the reply, never our own request`)
    t.is(r.code, 0, key)
    t.is(r.id, r.port, `${key}: id rewritten to the local port`)
    t.is(r.seq, 7, key)
    t.true(r.payloadMatches, key)
    t.true(r.checksumValid, key)
  }
})

onlyOn(process.getuid !== undefined, 'uids and EPERM are POSIX')('in this process raw() makes a socket as root, else throws SocketError EPERM at once', (t) => {
  t.log(`uid ${process.getuid?.()}, raw sockets ${privileged ? 'allowed' : 'denied'}`)
  if (isRoot) t.true(privileged)
  if (!privileged) {
    t.throws(() => raw(), { instanceOf: SocketError, code: 'EPERM' })
  }
})
