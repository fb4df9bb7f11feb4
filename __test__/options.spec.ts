import { readFileSync } from 'node:fs'
import test, { type ExecutionContext } from 'ava'
import { optionNames, type OptionValue, raw, type Socket, SocketError, type Tcp, tcp, udp } from 'socket2'
import { emulated, linux, linuxOnly, listener, onlyOn, pair, qemuLacks, rawAllowed, windows, within } from './util.ts'

const badType = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
const badRange = { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }

/** A fresh socket closed when the test ends. */
function fresh(t: ExecutionContext, family: 'inet' | 'inet6' = 'inet'): Tcp {
  const s = tcp(family)
  t.teardown(() => s.close())
  return s
}

test('so_reuseaddr is off on a fresh socket, and reads back as set', (t) => {
  const s = fresh(t)
  t.is(s.getopt('so_reuseaddr'), false)
  s.setopt('so_reuseaddr', true)
  t.is(s.getopt('so_reuseaddr'), true)
  s.setopt('so_reuseaddr', false)
  t.is(s.getopt('so_reuseaddr'), false)
})

onlyOn(!windows, 'Windows lets a bind take a TIME_WAIT port without SO_REUSEADDR')('so_reuseaddr lets a listener bind the port of a connection still in TIME_WAIT', async (t) => {
  // Linux lets a bind share a port with a TIME_WAIT connection only when both set SO_REUSEADDR.
  const l = tcp()
  t.teardown(() => l.close())
  l.setopt('so_reuseaddr', true) // inherited by the accepted socket
  await within(l.listen('127.0.0.1', 0))
  const port = l.localAddr().port
  const c = fresh(t)
  const [[s]] = await within(Promise.all([l.accept(), c.connect(l.localAddr())]))
  t.teardown(() => s.close())
  l.close()
  s.close() // the side that closes first keeps TIME_WAIT
  t.is(await within(c.recv(new Uint8Array(1))), 0)
  c.close()
  const without = fresh(t)
  await t.throwsAsync(within(without.listen('127.0.0.1', port)), { instanceOf: SocketError, code: 'EADDRINUSE' })
  const again = fresh(t)
  again.setopt('so_reuseaddr', true)
  await within(again.listen('127.0.0.1', port))
  t.is(again.localAddr().port, port)
})

test('so_keepalive is off on a fresh socket, and reads back as set', (t) => {
  const s = fresh(t)
  t.is(s.getopt('so_keepalive'), false)
  s.setopt('so_keepalive', true)
  t.is(s.getopt('so_keepalive'), true)
  s.setopt('so_keepalive', false)
  t.is(s.getopt('so_keepalive'), false)
})

test('so_linger is false on a fresh socket, and reads back seconds, 0 and false', (t) => {
  const s = fresh(t)
  t.is(s.getopt('so_linger'), false)
  s.setopt('so_linger', 5)
  t.is(s.getopt('so_linger'), 5)
  s.setopt('so_linger', 0)
  t.is(s.getopt('so_linger'), 0)
  s.setopt('so_linger', false)
  t.is(s.getopt('so_linger'), false)
})

test('so_linger of a fraction of a second rounds up to 1 s: close stays graceful (FIN, not RST)', async (t) => {
  const [c, s, l] = await pair()
  t.teardown(() => [c, s, l].forEach((x) => x.close()))
  c.setopt('so_linger', 0.5)
  t.is(c.getopt('so_linger'), 1)
  await within(c.send('bye'))
  c.close()
  const buf = new Uint8Array(16)
  t.is(await within(s.recv(buf)), 3)
  t.is(await within(s.recv(buf)), 0) // end of stream, not ECONNRESET
})

linuxOnly('so_bindtodevice and tcp_congestion are Linux options')('a text value with a NUL byte is refused with ERR_INVALID_ARG_VALUE (the OS would read up to it)', (t) => {
  const s = fresh(t)
  const u = udp()
  t.teardown(() => u.close())
  const bad = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' }
  t.throws(() => s.setopt('so_bindtodevice', 'lo\0junk'), bad)
  t.throws(() => s.setopt('tcp_congestion', 'cubic\0'), bad)
  t.throws(() => u.setopt('ip_add_membership', '224.0.0.251\0x'), bad)
  t.throws(() => u.setopt('ip_add_membership', { multiaddr: '224.0.0.251', interface: '127.0.0.1\0' }), bad)
})

for (const name of ['so_rcvbuf', 'so_sndbuf']) {
  test(`${name} reads back at least the size set`, (t) => {
    const s = fresh(t)
    t.true((s.getopt(name) as number) > 0)
    s.setopt(name, 65536)
    t.true((s.getopt(name) as number) >= 65536)
    s.setopt(name, 8192)
    const small = s.getopt(name) as number
    t.true(small >= 8192)
    t.true(small < 65536)
  })
}

test('so_error is 0 on a fresh socket and on a connected one', async (t) => {
  t.is(fresh(t).getopt('so_error'), 0)
  const [c, s, l] = await pair()
  t.teardown(() => [c, s, l].forEach((x) => x.close()))
  t.is(c.getopt('so_error'), 0)
  t.is(s.getopt('so_error'), 0)
})

test('tcp_nodelay is on by default, on clients and on the sockets a listener accepts, and can be turned off', async (t) => {
  const s = fresh(t)
  t.is(s.getopt('tcp_nodelay'), true)
  s.setopt('tcp_nodelay', false)
  t.is(s.getopt('tcp_nodelay'), false)
  s.setopt('tcp_nodelay', true)
  t.is(s.getopt('tcp_nodelay'), true)
  const [c, a, l] = await pair()
  t.teardown(() => [c, a, l].forEach((x) => x.close()))
  t.is(c.getopt('tcp_nodelay'), true)
  t.is(a.getopt('tcp_nodelay'), true)
  c.setopt('tcp_nodelay', false)
  t.is(c.getopt('tcp_nodelay'), false)
})

test('so_type reads SOCK_STREAM and so_acceptconn tells a listener', async (t) => {
  const s = fresh(t)
  t.is(s.getopt('so_type'), 1) // SOCK_STREAM on Linux
  t.is(s.getopt('so_acceptconn'), false)
  const l = await listener()
  t.teardown(() => l.close())
  t.is(l.getopt('so_acceptconn'), true)
})

test('options set on a listener are inherited by the sockets it accepts', async (t) => {
  const l = tcp()
  t.teardown(() => l.close())
  l.setopt('so_keepalive', true)
  l.setopt('tcp_nodelay', true)
  await l.listen('127.0.0.1', 0)
  const c = fresh(t)
  const [[s]] = await within(Promise.all([l.accept(), c.connect(l.localAddr())]))
  t.teardown(() => s.close())
  t.is(s.getopt('so_keepalive'), true)
  t.is(s.getopt('tcp_nodelay'), true)
})

// ---------------------------------------------------------------------------------------------
// Every option of the table

/**
 * The index of the loopback interface (for ipv6_multicast_if and IPv6 memberships): macOS's lo0
 * and Windows' loopback are interface 1.
 */
const loIndex = linux ? Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8')) : 1

/** Whether this process may open raw sockets (ip_hdrincl and raw sockets need one). */
const privileged = rawAllowed()

/** Sensible values to set, by name; options not listed get one by their kind. */
const sensible: Record<string, OptionValue> = {
  so_bindtodevice: 'lo',
  so_mark: 7,
  so_priority: 3,
  so_rcvbuf: 65536,
  so_rcvlowat: 16,
  so_sndbuf: 65536,
  so_rcvtimeo: 1.5,
  so_sndtimeo: 2.5, // a multiple of 4 ms: the kernel keeps jiffies
  so_linger: 7,
  ip_multicast_if: '127.0.0.1',
  ip_multicast_ttl: 4,
  ip_tos: 0x10,
  ip_ttl: 42,
  ipv6_multicast_hops: 4,
  ipv6_multicast_if: loIndex,
  ipv6_unicast_hops: 42,
  tcp_congestion: 'reno', // always built in
  tcp_fastopen: 5,
  tcp_keepcnt: 5,
  tcp_keepidle: 30,
  tcp_keepintvl: 10,
  tcp_maxseg: 1200,
  tcp_notsent_lowat: 16384,
  tcp_user_timeout: 2.5,
}

/** The group each membership option joins or leaves (on loopback), and its join/leave pair. */
const memberships: Record<string, { group: OptionValue; join: string; leave: string }> = {
  ip_add_membership: { group: { multiaddr: '224.0.0.251', interface: '127.0.0.1' }, join: 'ip_add_membership', leave: 'ip_drop_membership' },
  ip_drop_membership: { group: { multiaddr: '224.0.0.251', interface: '127.0.0.1' }, join: 'ip_add_membership', leave: 'ip_drop_membership' },
  ipv6_join_group: { group: { multiaddr: 'ff02::fb', interface: loIndex }, join: 'ipv6_join_group', leave: 'ipv6_leave_group' },
  ipv6_leave_group: { group: { multiaddr: 'ff02::fb', interface: loIndex }, join: 'ipv6_join_group', leave: 'ipv6_leave_group' },
}

/** Options the OS refuses to set on this platform although the table has a setter, with its error. */
const refusedHere: Record<string, string> = process.platform === 'linux' ? { so_sndlowat: 'ENOPROTOOPT' } : {}

/** Datagram-only options Linux refuses on a stream socket, with the error it gives. */
const notForStream: Record<string, string> = {
  ip_multicast_ttl: 'EINVAL',
  ipv6_multicast_hops: 'ENOPROTOOPT',
}

/** Options whose value the kernel may round up (Linux doubles buffer sizes). */
const atLeast = new Set(['so_rcvbuf', 'so_sndbuf'])

function valueFor(name: string, kind: string, current: OptionValue): OptionValue {
  if (name in sensible) return sensible[name]!
  switch (kind) {
    case 'boolean':
      return !current
    case 'integer':
    case 'string':
      return current // unknown meaning: setting the current value must still work
    default:
      return 3
  }
}

/**
 * A fresh socket of the kind an option belongs to, closed when the test ends: tcp_* and so_* on
 * TCP, ip_* on IPv4 UDP, ipv6_* on IPv6 UDP, ip_hdrincl on an IPv4 raw socket, memberships on
 * a UDP socket bound to '*'. `undefined` when the kind needs a privilege this process lacks.
 */
async function socketFor(t: ExecutionContext, name: string): Promise<Socket | undefined> {
  let s: Socket
  if (name === 'ip_hdrincl') {
    if (!privileged) return undefined
    s = raw()
  } else if (name.startsWith('ipv6_')) s = udp('inet6')
  else if (name.startsWith('ip_')) s = udp('inet')
  else s = tcp('inet')
  t.teardown(() => s.close())
  if (name in memberships) await within(s.bind('*', 0))
  return s
}

function typeOfKind(kind: string, v: OptionValue): boolean {
  switch (kind) {
    case 'boolean':
      return typeof v === 'boolean'
    case 'linger':
      return v === false || (typeof v === 'number' && v >= 0)
    case 'string':
      return typeof v === 'string'
    default:
      return typeof v === 'number' && v >= 0
  }
}

test('optionNames lists each option once with its kind, and tells which are supported, settable and readable', (t) => {
  const names = optionNames()
  t.true(names.length > 0)
  t.is(new Set(names.map((o) => o.name)).size, names.length)
  for (const o of names) {
    t.regex(o.name, /^(so|ip|ipv6|tcp)_[a-z0-9_]+$/)
    t.true(['boolean', 'integer', 'seconds', 'linger', 'string', 'membership'].includes(o.kind), `${o.name}: kind ${o.kind}`)
    t.is(typeof o.platforms, 'string')
    t.is(typeof o.supported, 'boolean')
    t.is(typeof o.settable, 'boolean')
    t.is(typeof o.readable, 'boolean')
    if (o.supported) {
      // Memberships are set-only; everything else can be read.
      t.is(o.readable, o.kind !== 'membership', o.name)
      if (o.kind === 'membership') t.true(o.settable, o.name)
    } else {
      // An option this platform lacks can be neither set nor read (setopt/getopt say why).
      t.false(o.settable, o.name)
      t.false(o.readable, o.name)
    }
  }
  const byName = new Map(names.map((o) => [o.name, o]))
  for (const name of ['so_reuseaddr', 'so_keepalive', 'so_linger', 'so_rcvbuf', 'so_sndbuf', 'so_error', 'tcp_nodelay']) {
    t.true(byName.get(name)?.supported, name)
  }
  t.false(byName.get('so_error')?.settable)
  t.is(byName.get('so_linger')?.kind, 'linger')
  for (const name of ['so_bindtodevice', 'tcp_congestion', 'ip_multicast_if']) t.is(byName.get(name)?.kind, 'string', name)
  for (const name of ['ip_add_membership', 'ip_drop_membership', 'ipv6_join_group', 'ipv6_leave_group']) {
    t.is(byName.get(name)?.kind, 'membership', name)
  }
  if (process.platform === 'linux') {
    t.deepEqual(
      names.filter((o) => !o.supported).map((o) => o.name),
      [],
      'every row exists on Linux',
    )
  }
})

test('every supported settable option reads back the value set, on a socket of its kind', async (t) => {
  const checked: string[] = []
  const refused: string[] = []
  const skipped: string[] = []
  const notEmulated: string[] = []
  for (const o of optionNames()) {
    if (!o.supported || !o.settable) continue
    if (qemuLacks.has(o.name)) {
      notEmulated.push(o.name)
      continue
    }
    const s = await socketFor(t, o.name)
    if (s === undefined) {
      skipped.push(o.name)
      continue
    }
    const m = memberships[o.name]
    if (m !== undefined) {
      // Set-only: the effect shows in what the kernel says to the same request repeated.
      if (o.name === m.join) {
        s.setopt(o.name, m.group)
        t.throws(() => s.setopt(o.name, m.group), { instanceOf: SocketError, code: 'EADDRINUSE' }, `${o.name} twice`)
      } else {
        s.setopt(m.join, m.group)
        s.setopt(o.name, m.group)
        // wine answers EINVAL to leaving a group not joined.
        const notJoined = emulated === 'wine' ? 'EINVAL' : 'EADDRNOTAVAIL'
        t.throws(() => s.setopt(o.name, m.group), { instanceOf: SocketError, code: notJoined }, `${o.name} twice`)
      }
      checked.push(o.name)
      continue
    }
    const current = s.getopt(o.name)
    t.true(typeOfKind(o.kind, current), `${o.name}: ${String(current)} is not a ${o.kind}`)
    const value = valueFor(o.name, o.kind, current)
    if (o.name === 'so_mark' && process.getuid?.() !== 0) {
      // Needs CAP_NET_ADMIN.
      t.throws(() => s.setopt(o.name, value), { instanceOf: SocketError, code: 'EPERM' }, o.name)
      refused.push(o.name)
      continue
    }
    const code = refusedHere[o.name]
    if (code !== undefined) {
      t.throws(() => s.setopt(o.name, value), { instanceOf: SocketError, code }, o.name)
      t.is(s.getopt(o.name), current, `${o.name} changed although refused`)
      refused.push(o.name)
      continue
    }
    s.setopt(o.name, value)
    const got = s.getopt(o.name)
    if (atLeast.has(o.name)) t.true((got as number) >= (value as number), `${o.name}: ${got} < ${value}`)
    else t.is(got, value, o.name)
    checked.push(o.name)
  }
  t.log(`checked ${checked.length}: ${checked.join(' ')}`)
  if (refused.length > 0) t.log(`refused by the OS here: ${refused.join(' ')}`)
  if (skipped.length > 0) t.log(`skipped (needs privilege): ${skipped.join(' ')}`)
  if (notEmulated.length > 0) t.log(`skipped (not emulated by qemu): ${notEmulated.join(' ')}`)
  // Nothing settable was left out.
  const settable = optionNames().filter((o) => o.supported && o.settable)
  t.is(checked.length + refused.length + skipped.length + notEmulated.length, settable.length)
  for (const name of ['so_reuseaddr', 'so_keepalive', 'so_linger', 'so_rcvbuf', 'so_sndbuf', 'tcp_nodelay', 'ip_add_membership', 'so_bindtodevice']) {
    // so_bindtodevice exists on Linux only.
    if (settable.some((o) => o.name === name) && !qemuLacks.has(name)) t.true(checked.includes(name), name)
  }
})

onlyOn(linux && emulated !== 'qemu', linux ? 'qemu-user 7.2 does not emulate getsockopt(SO_BINDTODEVICE)' : 'Linux only: so_bindtodevice and tcp_congestion')('text options clear and switch: so_bindtodevice back to none, tcp_congestion between algorithms', (t) => {
  const s = tcp()
  t.teardown(() => s.close())
  t.is(s.getopt('so_bindtodevice'), '')
  s.setopt('so_bindtodevice', 'lo')
  t.is(s.getopt('so_bindtodevice'), 'lo')
  s.setopt('so_bindtodevice', '')
  t.is(s.getopt('so_bindtodevice'), '')
  const initial = s.getopt('tcp_congestion')
  t.true(typeof initial === 'string' && initial.length > 0)
  s.setopt('tcp_congestion', 'reno')
  t.is(s.getopt('tcp_congestion'), 'reno')
  s.setopt('tcp_congestion', initial)
  t.is(s.getopt('tcp_congestion'), initial)
})

linuxOnly('the errors listed are the ones Linux gives')('datagram-only options are refused on a stream socket with the OS error', (t) => {
  for (const [name, code] of Object.entries(notForStream)) {
    const s = fresh(t, name.startsWith('ipv6_') ? 'inet6' : 'inet')
    t.throws(() => s.setopt(name, sensible[name]!), { instanceOf: SocketError, code }, name)
  }
  const s = fresh(t)
  t.throws(() => s.setopt('ip_add_membership', '224.0.0.251'), { instanceOf: SocketError, code: 'EPROTO' })
})

test('every supported readable option can be read on a fresh socket of its kind', async (t) => {
  for (const o of optionNames()) {
    if (!o.supported || !o.readable || qemuLacks.has(o.name)) continue
    const s = await socketFor(t, o.name)
    if (s === undefined) continue
    const v = s.getopt(o.name)
    t.true(typeOfKind(o.kind, v), `${o.name}: ${String(v)} is not a ${o.kind}`)
  }
})

onlyOn(!windows, 'tcp_keepidle is not in the option table on Windows')('setting a TCP keepalive parameter changes only that parameter, not so_keepalive', (t) => {
  for (const [name, value] of [
    ['tcp_keepcnt', 5],
    ['tcp_keepidle', 30],
    ['tcp_keepintvl', 10],
  ] as const) {
    const s = fresh(t)
    const idle = s.getopt('tcp_keepidle')
    const intvl = s.getopt('tcp_keepintvl')
    const cnt = s.getopt('tcp_keepcnt')
    s.setopt(name, value)
    t.is(s.getopt(name), value, name)
    t.is(s.getopt('so_keepalive'), false, `${name} turned so_keepalive on`)
    if (name !== 'tcp_keepidle') t.is(s.getopt('tcp_keepidle'), idle, name)
    if (name !== 'tcp_keepintvl') t.is(s.getopt('tcp_keepintvl'), intvl, name)
    if (name !== 'tcp_keepcnt') t.is(s.getopt('tcp_keepcnt'), cnt, name)
  }
})

// ---------------------------------------------------------------------------------------------
// Misuse

test('an unknown option name throws TypeError ERR_INVALID_ARG_TYPE from setopt and getopt', (t) => {
  const s = fresh(t)
  t.throws(() => s.setopt('so_bogus', true), badType)
  t.throws(() => s.getopt('so_bogus'), badType)
  t.throws(() => s.getopt('SO_REUSEADDR'), badType)
  t.throws(() => s.getopt(''), badType)
  t.throws(() => s.setopt(42 as never, true), badType)
  t.throws(() => s.getopt(undefined as never), badType)
  t.throws(() => s.getopt('toString'), badType)
  t.throws(() => s.getopt('__proto__'), badType)
})

test('a value of the wrong type throws TypeError ERR_INVALID_ARG_TYPE and changes nothing', (t) => {
  const s = fresh(t)
  t.throws(() => s.setopt('so_reuseaddr', 1), badType)
  t.throws(() => s.setopt('tcp_nodelay', 'yes' as never), badType)
  t.throws(() => s.setopt('so_keepalive', undefined as never), badType)
  t.throws(() => s.setopt('so_rcvbuf', true), badType)
  t.throws(() => s.setopt('so_rcvbuf', 1.5), badType)
  t.throws(() => s.setopt('so_rcvbuf', '65536' as never), badType)
  t.throws(() => s.setopt('ip_ttl', NaN), badType)
  t.throws(() => s.setopt('so_rcvtimeo', '1' as never), badType)
  t.throws(() => s.setopt('so_rcvtimeo', NaN), badType)
  t.throws(() => s.setopt('so_linger', true), badType)
  t.throws(() => s.setopt('so_linger', '5' as never), badType)
  t.throws(() => s.setopt('so_linger', NaN), badType)
  t.is(s.getopt('so_reuseaddr'), false)
  t.is(s.getopt('so_linger'), false)
})

/** Values of the wrong type for each kind of option. */
const wrongType: Record<string, unknown[]> = {
  boolean: [1, 0, 'yes', null, undefined, {}],
  integer: [true, 1.5, '1', NaN, null, undefined, {}],
  seconds: [true, '1', NaN, null, undefined, {}],
  linger: [true, '5', NaN, null, undefined],
  string: [5, true, null, undefined, {}, ['lo']],
  membership: [5, true, null, undefined, {}, ['224.0.0.251'], { multiaddr: 5 }, { interface: '127.0.0.1' }, { multiaddr: '224.0.0.251', interface: true }],
}

test('a value of the wrong type for its kind throws TypeError ERR_INVALID_ARG_TYPE for every settable option, and changes nothing', async (t) => {
  const kinds = new Set<string>()
  for (const o of optionNames()) {
    if (!o.supported || !o.settable) continue
    const bad = wrongType[o.kind]
    t.truthy(bad, `no wrong values listed for kind ${o.kind}`)
    if (qemuLacks.has(o.name)) continue
    const s = await socketFor(t, o.name)
    if (s === undefined || bad === undefined) continue
    kinds.add(o.kind)
    const before = o.readable ? s.getopt(o.name) : undefined
    for (const v of bad) t.throws(() => s.setopt(o.name, v as never), badType, `${o.name} = ${JSON.stringify(v)}`)
    if (o.readable) t.deepEqual(s.getopt(o.name), before, o.name)
  }
  t.deepEqual([...kinds].sort(), ['boolean', 'integer', 'linger', 'membership', 'seconds', 'string'])
})

test('getopt of a write-only option (a membership) throws TypeError ERR_INVALID_ARG_TYPE', async (t) => {
  const writeOnly = optionNames().filter((o) => o.supported && !o.readable)
  t.deepEqual(writeOnly.map((o) => o.name).sort(), ['ip_add_membership', 'ip_drop_membership', 'ipv6_join_group', 'ipv6_leave_group'])
  for (const o of writeOnly) {
    const s = await socketFor(t, o.name)
    t.throws(() => s!.getopt(o.name), badType, o.name)
  }
})

onlyOn(linux && emulated !== 'qemu', linux ? 'qemu-user 7.2 does not emulate IP_MULTICAST_IF' : 'Linux only: so_bindtodevice and tcp_congestion, and the errors Linux gives')('a text value of the right type that the OS cannot use throws SocketError with its code', (t) => {
  const s = fresh(t)
  t.throws(() => s.setopt('so_bindtodevice', 'nosuchdev0'), { instanceOf: SocketError, code: 'ENODEV' })
  t.throws(() => s.setopt('tcp_congestion', 'no-such-algorithm'), { instanceOf: SocketError, code: 'ENOENT' })
  const u = udp()
  t.teardown(() => u.close())
  t.throws(() => u.setopt('ip_multicast_if', 'not an address'), { instanceOf: SocketError, code: 'EINVAL' })
  t.throws(() => u.setopt('ip_multicast_if', '::1'), { instanceOf: SocketError, code: 'EINVAL' })
  t.throws(() => u.setopt('ip_add_membership', 'not an address'), { instanceOf: SocketError, code: 'EINVAL' })
  t.throws(() => u.setopt('ip_add_membership', '10.0.0.1'), { instanceOf: SocketError, code: 'EINVAL' }) // not a group
  const u6 = udp('inet6')
  t.teardown(() => u6.close())
  t.throws(() => u6.setopt('ipv6_join_group', { multiaddr: 'ff02::fb', interface: 999999 }), { instanceOf: SocketError, code: 'ENODEV' })
  t.throws(() => u6.setopt('ipv6_multicast_if', 999999), { instanceOf: SocketError, code: 'ENODEV' })
})

// Library bug: the membership interface is not checked against the option's family. README: "an
// IPv4 address (ip_*) or an interface index (ipv6_*)". An index for ip_* and an interface name
// for ipv6_* reach the native parser and fail as SocketError EINVAL, not as the TypeError that
// the issue asks for wrongly typed values.
test('a membership interface of the wrong type for its family throws TypeError', async (t) => {
  const u = udp()
  t.teardown(() => u.close())
  await within(u.bind('*', 0))
  t.throws(() => u.setopt('ip_add_membership', { multiaddr: '224.0.0.251', interface: 1 }), badType)
  const u6 = udp('inet6')
  t.teardown(() => u6.close())
  await within(u6.bind('*', 0))
  t.throws(() => u6.setopt('ipv6_join_group', { multiaddr: 'ff02::fb', interface: 'lo' }), badType)
})

const absent = optionNames().filter((o) => !o.supported)

onlyOn(absent.length > 0, `every option in the table exists on ${process.platform}`)('an option absent on this platform throws SocketError ERR_SOCKET_OPTION_UNSUPPORTED naming its platforms', (t) => {
  const s = fresh(t)
  for (const o of absent) {
    const e = t.throws(() => s.getopt(o.name), { instanceOf: SocketError, code: 'ERR_SOCKET_OPTION_UNSUPPORTED' }, o.name)
    t.true(e?.message.includes(o.platforms), o.name)
    t.throws(() => s.setopt(o.name, false), { instanceOf: SocketError, code: 'ERR_SOCKET_OPTION_UNSUPPORTED' }, o.name)
  }
})

test('a value out of range throws RangeError ERR_OUT_OF_RANGE', (t) => {
  const s = fresh(t)
  t.throws(() => s.setopt('so_rcvbuf', -1), badRange)
  t.throws(() => s.setopt('ip_ttl', 2 ** 31), badRange)
  t.throws(() => s.setopt('so_rcvtimeo', -0.5), badRange)
  t.throws(() => s.setopt('so_linger', -1), badRange)
  t.throws(() => s.setopt('so_linger', 65536), badRange)
})

test('setting a read-only option throws TypeError ERR_INVALID_ARG_TYPE', (t) => {
  const s = fresh(t)
  const readOnly = optionNames().filter((o) => o.supported && !o.settable)
  t.true(readOnly.some((o) => o.name === 'so_error'))
  for (const o of readOnly) {
    const v = s.getopt(o.name)
    t.throws(() => s.setopt(o.name, v), badType, o.name)
  }
  t.throws(() => s.setopt('so_error', 0), badType)
  t.throws(() => s.setopt('so_type', 1), badType)
})

linuxOnly('the errors listed are the ones Linux gives (wine accepts IPV6_V6ONLY on an IPv4 socket)')('the OS refusing an option throws SocketError from setopt and getopt', (t) => {
  const s = fresh(t) // an IPv4 socket has no IPPROTO_IPV6 options
  t.throws(() => s.setopt('ipv6_v6only', true), { instanceOf: SocketError, code: 'ENOPROTOOPT' })
  t.throws(() => s.getopt('ipv6_unicast_hops'), { instanceOf: SocketError, code: 'EOPNOTSUPP' })
})

test('setopt and getopt on a closed socket throw SocketError ERR_SOCKET_CLOSED', (t) => {
  const s = tcp()
  s.close()
  t.throws(() => s.setopt('tcp_nodelay', true), { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
  t.throws(() => s.getopt('tcp_nodelay'), { instanceOf: SocketError, code: 'ERR_SOCKET_CLOSED' })
})
