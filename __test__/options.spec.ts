import test, { type ExecutionContext } from 'ava'
import { optionNames, type OptionValue, SocketError, type Tcp, tcp } from 'socket2'
import { listener, pair, within } from './util.ts'

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

test('so_reuseaddr lets a listener bind the port of a connection still in TIME_WAIT', async (t) => {
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

test('tcp_nodelay is off on a fresh socket, and reads back as set, also on a connected socket', async (t) => {
  const s = fresh(t)
  t.is(s.getopt('tcp_nodelay'), false)
  s.setopt('tcp_nodelay', true)
  t.is(s.getopt('tcp_nodelay'), true)
  s.setopt('tcp_nodelay', false)
  t.is(s.getopt('tcp_nodelay'), false)
  const [c, a, l] = await pair()
  t.teardown(() => [c, a, l].forEach((x) => x.close()))
  c.setopt('tcp_nodelay', true)
  t.is(c.getopt('tcp_nodelay'), true)
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

/** Sensible values to set, by name; options not listed get one by their kind. */
const sensible: Record<string, OptionValue> = {
  so_mark: 7,
  so_priority: 3,
  so_rcvbuf: 65536,
  so_sndbuf: 65536,
  so_rcvtimeo: 1.5,
  so_sndtimeo: 2.5, // a multiple of 4 ms: the kernel keeps jiffies
  so_linger: 7,
  ip_multicast_ttl: 4,
  ip_tos: 0x10,
  ip_ttl: 42,
  ipv6_multicast_hops: 4,
  ipv6_unicast_hops: 42,
  tcp_keepcnt: 5,
  tcp_keepidle: 30,
  tcp_keepintvl: 10,
  tcp_maxseg: 1200,
  tcp_user_timeout: 2.5,
}

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
      return current // unknown meaning: setting the current value must still work
    case 'seconds':
      return 3
    default:
      return 3
  }
}

test('optionNames lists each option once with its kind, and tells which are supported and settable', (t) => {
  const names = optionNames()
  t.true(names.length > 0)
  t.is(new Set(names.map((o) => o.name)).size, names.length)
  for (const o of names) {
    t.regex(o.name, /^(so|ip|ipv6|tcp)_[a-z0-9_]+$/)
    t.true(['boolean', 'integer', 'seconds', 'linger'].includes(o.kind), `${o.name}: kind ${o.kind}`)
    t.is(typeof o.platforms, 'string')
    t.is(typeof o.supported, 'boolean')
    t.is(typeof o.settable, 'boolean')
  }
  const byName = new Map(names.map((o) => [o.name, o]))
  for (const name of ['so_reuseaddr', 'so_keepalive', 'so_linger', 'so_rcvbuf', 'so_sndbuf', 'so_error', 'tcp_nodelay']) {
    t.true(byName.get(name)?.supported, name)
  }
  t.false(byName.get('so_error')?.settable)
  t.is(byName.get('so_linger')?.kind, 'linger')
})

test('every supported settable option of a TCP socket reads back the value set', (t) => {
  const checked: string[] = []
  for (const o of optionNames()) {
    if (!o.supported || !o.settable) continue
    const s = fresh(t, o.name.startsWith('ipv6_') ? 'inet6' : 'inet')
    const current = s.getopt(o.name)
    t.is(typeof current, o.kind === 'boolean' ? 'boolean' : o.kind === 'linger' ? (current === false ? 'boolean' : 'number') : 'number', o.name)
    const value = valueFor(o.name, o.kind, current)
    if (o.name === 'so_mark' && process.getuid?.() !== 0) {
      // Needs CAP_NET_ADMIN.
      t.throws(() => s.setopt(o.name, value), { instanceOf: SocketError, code: 'EPERM' }, o.name)
      continue
    }
    const refused = notForStream[o.name]
    if (refused !== undefined) {
      t.throws(() => s.setopt(o.name, value), { instanceOf: SocketError, code: refused }, o.name)
      continue
    }
    s.setopt(o.name, value)
    const got = s.getopt(o.name)
    if (atLeast.has(o.name)) t.true((got as number) >= (value as number), `${o.name}: ${got} < ${value}`)
    else t.is(got, value, o.name)
    checked.push(o.name)
  }
  t.log(`checked ${checked.length}: ${checked.join(' ')}`)
  for (const name of ['so_reuseaddr', 'so_keepalive', 'so_linger', 'so_rcvbuf', 'so_sndbuf', 'tcp_nodelay']) {
    t.true(checked.includes(name), name)
  }
})

test('every supported option can be read on a fresh socket of its family', (t) => {
  for (const o of optionNames()) {
    if (!o.supported) continue
    const s = fresh(t, o.name.startsWith('ipv6_') ? 'inet6' : 'inet')
    const v = s.getopt(o.name)
    if (o.kind === 'boolean') t.is(typeof v, 'boolean', o.name)
    else if (o.kind === 'linger') t.true(v === false || (typeof v === 'number' && v >= 0), o.name)
    else t.true(typeof v === 'number' && v >= 0, `${o.name}: ${String(v)}`)
  }
})

test('setting a TCP keepalive parameter changes only that parameter, not so_keepalive', (t) => {
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

test('the OS refusing an option throws SocketError from setopt and getopt', (t) => {
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
