import test from 'ava'
import { createRequire } from 'node:module'
import { Address, AddrInfo, clock, Socket, SocketError, tcp } from 'socket2'
import { listener, within } from './util.ts'

/** A closed port on loopback: bound, then closed, so nothing listens there. */
async function deadAddress(): Promise<Address> {
  const s = tcp()
  await s.bind('127.0.0.1', 0)
  const a = s.localAddr()
  s.close()
  return a
}

/** An AddrInfo list as getaddrinfo returns it for a name with several addresses. */
function list(...addrs: Address[]): AddrInfo {
  const Ctor = AddrInfo as unknown as new (addrs: Address[], type: string, protocol: string) => AddrInfo
  return new Ctor(addrs, 'tcp', 'tcp')
}

test('connect tries the next address after a refusal, keeping options and the binding', async (t) => {
  const l = await listener()
  const c = tcp()
  try {
    c.setopt('tcp_nodelay', true)
    await c.bind('127.0.0.1', 0)
    await within(c.connect(list(await deadAddress(), l.localAddr()), clock() + 5))
    t.is(c.remoteAddr().port, l.localAddr().port)
    t.true(c.getopt('tcp_nodelay'))
    t.is(c.localAddr().address, '127.0.0.1')
  } finally {
    c.close()
    l.close()
  }
})

test('connect rejects with the last error when every address refuses', async (t) => {
  const c = tcp()
  const [a, b] = [await deadAddress(), await deadAddress()]
  try {
    const e = await t.throwsAsync(within(c.connect(list(a, b))), { instanceOf: SocketError, code: 'ECONNREFUSED' })
    t.is(e?.port, b.port)
  } finally {
    c.close()
  }
})

test('a Socket cannot be constructed directly, so no table slot is taken over', (t) => {
  const Ctor = Socket as unknown as new () => Socket
  t.throws(() => new Ctor(), { instanceOf: TypeError })
})

test('shutdown takes the seed\'s expires argument and never waits on it', async (t) => {
  const l = await listener()
  const c = tcp()
  try {
    await within(c.connect(l.localAddr()))
    t.throws(() => c.shutdown('w', 'soon' as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
    c.shutdown('w', clock() - 1) // already past: still fine, shutdown does not wait
    t.false(c.closed)
  } finally {
    c.close()
    l.close()
  }
})

test('the package entry loads with require() as well as import', (t) => {
  const required = createRequire(import.meta.url)('socket2') as typeof import('socket2')
  t.is(typeof required.tcp, 'function')
  t.is(required.SocketError, SocketError) // one module instance, whichever way it was loaded
})

test('a refused connect reports ECONNREFUSED even while another thread waits in recv on the socket', async (t) => {
  const c = tcp()
  try {
    const dead = await deadAddress()
    const connecting = c.connect(dead)
    const reading = c.recv(new Uint8Array(8)).then(
      () => 'resolved',
      (e: SocketError) => e.code,
    )
    await t.throwsAsync(within(connecting), { instanceOf: SocketError, code: 'ECONNREFUSED' })
    c.close()
    // The recv ends with an error (the refusal, not connected, or the close), never as data or
    // end of stream.
    t.true(['ECONNREFUSED', 'ENOTCONN', 'ERR_SOCKET_CLOSED'].includes(await within(reading)))
  } finally {
    c.close()
  }
})
