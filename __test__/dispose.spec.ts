/**
 * Disposal and iteration, written as users write them: `using` / `await using` close sockets and
 * free address lists at the end of their block (this file type-checks under `tsc --strict`), and
 * a listening socket is an async iterable of its connections.
 */
import test from 'ava'
import { addr, AddrInfo, newthread, type Socket, tcp, type Tcp, udp } from 'socket2'
import { closing, listener, within } from './util.ts'

test('Symbol.dispose and Symbol.asyncDispose exist, as Node defines them where the runtime lacks them', (t) => {
  t.is(typeof Symbol.dispose, 'symbol')
  t.is(typeof Symbol.asyncDispose, 'symbol')
  const s = tcp()
  t.is(typeof s[Symbol.dispose], 'function')
  t.is(typeof s[Symbol.asyncDispose], 'function')
  s.close()
})

test('await using closes a socket when its block ends, also when the block throws', async (t) => {
  let kept: Socket | undefined
  {
    await using s = tcp()
    await s.listen('127.0.0.1', 0)
    kept = s
    t.false(s.closed)
  }
  t.true(kept.closed)

  let thrown: Tcp | undefined
  await t.throwsAsync(
    (async () => {
      await using c = tcp()
      thrown = c
      throw new Error('in the block')
    })(),
    { message: 'in the block' },
  )
  t.true(thrown!.closed)
})

test('using closes sockets of every kind, in reverse order, and frees an AddrInfo', async (t) => {
  const order: string[] = []
  let ai: AddrInfo | undefined
  {
    using u = udp()
    using c = tcp()
    using a = await addr('127.0.0.1', 80, 'tcp')
    ai = a
    // Dispose runs c's then u's close: record it through the sockets' state.
    const closeOf = (name: string, s: Socket) => {
      const close = s.close.bind(s)
      s.close = () => {
        order.push(name)
        close()
      }
    }
    closeOf('udp', u)
    closeOf('tcp', c)
  }
  t.deepEqual(order, ['tcp', 'udp'])
  t.true(ai.freed)
})

test('a dispose after close() is harmless (close is idempotent)', async (t) => {
  await using s = tcp()
  s.close()
  t.true(s.closed)
})

test('for await over a listener yields accept() results and ends when the server is closed', async (t) => {
  const server = await listener()
  closing(t, server)
  const clients = newthread(async () => {
    for (let i = 0; i < 3; i++) {
      await using c = tcp()
      await c.connect(server.localAddr())
      await c.send(`client ${i}`)
    }
  })
  const got: string[] = []
  const served = (async () => {
    for await (const [c, remote, local] of server) {
      t.is(local.port, server.localAddr().port)
      t.is(remote.address, '127.0.0.1')
      const buf = new Uint8Array(64)
      const n = await c.recv(buf)
      got.push(Buffer.from(buf.subarray(0, n)).toString())
      c.close()
      if (got.length === 3) server.close() // from inside the loop: the next accept ends it
    }
    return 'ended'
  })()
  await within(clients.done)
  t.is(await within(served), 'ended')
  t.deepEqual(got, ['client 0', 'client 1', 'client 2'])
})

test('closing the server from another thread ends a for await that is waiting in accept', async (t) => {
  const server = await listener()
  closing(t, server)
  const loop = (async () => {
    let n = 0
    for await (const [c] of server) {
      c.close()
      n++
    }
    return n
  })()
  setTimeout(() => server.close(), 20)
  t.is(await within(loop), 0)
})

test('break leaves the server open: a second loop takes the next connection', async (t) => {
  const server = await listener()
  closing(t, server)
  const connect = async (): Promise<void> => {
    const c = tcp()
    closing(t, c)
    await c.connect(server.localAddr())
  }
  await within(connect())
  for await (const [c] of server) {
    c.close()
    break
  }
  t.false(server.closed)
  await within(connect())
  for await (const [c] of server) {
    c.close()
    break
  }
  t.false(server.closed)
})

test('iterating a socket that is not listening throws the accept error (EINVAL) from the loop', async (t) => {
  await using s = tcp()
  const e = await t.throwsAsync(
    (async () => {
      for await (const _ of s) t.fail()
    })(),
    { code: 'EINVAL' },
  )
  t.is((e as { syscall?: string }).syscall, 'accept')
})
