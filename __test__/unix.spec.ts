/**
 * Unix sockets: tcp('unix') streams and udp('unix') datagrams with a path as the host, Linux
 * abstract names ('@name' or a leading NUL), the socket file removed by close(), and the
 * errors of long, missing and taken paths.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { Address, clock, newthread, SocketError, start, tcp, udp } from 'socket2'
import { closing, echo, emulated, linuxOnly, onlyOn, readAll, roundTrip, tempDir, windows, within } from './util.ts'

const streams = onlyOn(emulated !== 'wine', 'wine has no AF_UNIX')
const datagrams = onlyOn(!windows, 'Windows has no unix datagram sockets (and wine no AF_UNIX)')
const abstract = linuxOnly('abstract unix socket names')

/** A temp directory removed when the test ends. */
function dir(t: ExecutionContext): string {
  const [d, cleanup] = tempDir()
  t.teardown(cleanup)
  return d
}

/** A Linux abstract socket name no other test or process uses. */
function abstractName(): string {
  return `@socket2-test-${process.pid}-${randomBytes(6).toString('hex')}`
}

// ---------------------------------------------------------------------------------------------
// Streams

datagrams("tcp('unix') and udp('unix') make unix stream and datagram sockets", (t) => {
  const s = tcp('unix')
  const d = udp('unix')
  closing(t, s, d)
  t.is(s.family(), 'unix')
  t.is(s.type(), 'tcp')
  t.is(d.family(), 'unix')
  t.is(d.type(), 'udp')
  t.is(s.getopt('so_type'), 1) // SOCK_STREAM
  t.is(d.getopt('so_type'), 2) // SOCK_DGRAM
})

streams.serial('a unix stream echo: the listener reports its path, the data comes back byte for byte', async (t) => {
  const path = join(dir(t), 'echo.sock')
  const server = tcp('unix')
  closing(t, server)
  await within(server.listen(path))
  t.deepEqual(server.localAddr(), new Address('unix', path, 0))
  t.is(server.localAddr().toString(), path)
  t.true(statSync(path).isSocket())
  const data = randomBytes(1 << 20)
  newthread(async () => {
    const [c, remote, local] = await server.accept(clock() + 5)
    t.is(remote.family, 'unix')
    t.is(remote.address, '') // the client did not bind: unnamed
    t.is(local.address, path)
    await echo(c)
  })
  let echoed: Buffer | undefined
  newthread(async () => {
    const c = tcp('unix')
    closing(t, c)
    await c.connect(path, undefined, clock() + 5)
    t.is(c.remoteAddr().address, path)
    echoed = await roundTrip(c, data)
  })
  await within(start(), 20_000)
  t.true(echoed?.equals(data))
})

streams('connect also takes an Address of family unix', async (t) => {
  const path = join(dir(t), 'addr.sock')
  const server = tcp('unix')
  const client = tcp('unix')
  closing(t, server, client)
  await within(server.listen(path))
  const [[s]] = await within(Promise.all([server.accept(), client.connect(new Address('unix', path, 0))]))
  closing(t, s)
  await within(client.send('via Address'))
  client.shutdown('w')
  t.is((await within(readAll(s))).toString(), 'via Address')
})

streams('closing a listener removes the socket file it created; closing an accepted socket does not', async (t) => {
  const path = join(dir(t), 'listener.sock')
  const server = tcp('unix')
  const client = tcp('unix')
  closing(t, server, client)
  await within(server.listen(path))
  t.true(existsSync(path))
  const [[s]] = await within(Promise.all([server.accept(), client.connect(path)]))
  s.close()
  client.close()
  t.true(existsSync(path), 'closing the accepted socket removed the file')
  server.close()
  t.false(existsSync(path))
  // The path is free again.
  const again = tcp('unix')
  closing(t, again)
  await within(again.listen(path))
  t.true(existsSync(path))
})

streams('close() leaves the file alone when another socket has taken the path since, and removes it by its absolute path', async (t) => {
  const path = join(dir(t), 'taken.sock')
  const old = tcp('unix')
  const taker = tcp('unix')
  const client = tcp('unix')
  closing(t, old, taker, client)
  await within(old.listen(path))
  unlinkSync(path) // as a server does with a stale file before listening again
  await within(taker.listen(path))
  old.close()
  t.true(existsSync(path), "the old socket's close removed the new socket's file")
  await within(Promise.all([taker.accept(), client.connect(path)]))
  // Bound by a relative path, removed from where it was made whatever the working directory is.
  const home = process.cwd()
  const rel = tcp('unix')
  closing(t, rel)
  // The bind happens within the call: the working directory is restored before anything else
  // in this file runs.
  process.chdir(dir(t))
  let listening: Promise<void>
  try {
    listening = rel.listen('relative.sock')
  } finally {
    process.chdir(home)
  }
  await within(listening)
  rel.close()
  t.false(existsSync(join(dir(t), 'relative.sock')))
})

streams('connecting to a path where nothing exists rejects with ENOENT naming the path', async (t) => {
  const path = join(dir(t), 'missing.sock')
  const c = tcp('unix')
  closing(t, c)
  const e = await t.throwsAsync(within(c.connect(path)), { instanceOf: SocketError, code: 'ENOENT' })
  t.is(e?.syscall, 'connect')
  t.is(e?.address, path)
})

streams('connecting to the path of a closed listener rejects with ENOENT (its file is gone)', async (t) => {
  const path = join(dir(t), 'gone.sock')
  const server = tcp('unix')
  await within(server.listen(path))
  server.close()
  const c = tcp('unix')
  closing(t, c)
  await t.throwsAsync(within(c.connect(path)), { instanceOf: SocketError, code: 'ENOENT' })
})

streams('connecting to a regular file rejects with ECONNREFUSED', async (t) => {
  const path = join(dir(t), 'plain-file')
  writeFileSync(path, 'not a socket')
  const c = tcp('unix')
  closing(t, c)
  await t.throwsAsync(within(c.connect(path)), { instanceOf: SocketError, code: 'ECONNREFUSED' })
})

streams("listening on a path that exists rejects with EADDRINUSE, and the failed socket's close leaves the file alone", async (t) => {
  const d = dir(t)
  const file = join(d, 'taken')
  writeFileSync(file, 'keep me')
  const a = tcp('unix')
  await t.throwsAsync(within(a.listen(file)), { instanceOf: SocketError, code: 'EADDRINUSE' })
  a.close()
  t.is(readFileSync(file, 'utf8'), 'keep me')
  const sock = join(d, 'live.sock')
  const owner = tcp('unix')
  closing(t, owner)
  await within(owner.listen(sock))
  const b = udp('unix')
  await t.throwsAsync(within(b.bind(sock)), { instanceOf: SocketError, code: 'EADDRINUSE' })
  b.close()
  t.true(existsSync(sock), "the failed bind's close removed the owner's socket file")
})

// ---------------------------------------------------------------------------------------------
// Datagrams

datagrams('unix datagrams: both ends bound to paths exchange datagrams, the reply going to the sender reported', async (t) => {
  const d = dir(t)
  const a = udp('unix')
  const b = udp('unix')
  closing(t, a, b)
  await within(a.bind(join(d, 'a.sock')))
  await within(b.bind(join(d, 'b.sock')))
  t.is(await within(a.send('request', undefined, b.localAddr())), 7)
  const buf = Buffer.alloc(64)
  const [n, from] = await within(b.recv(buf, undefined, clock() + 2))
  t.is(buf.subarray(0, n).toString(), 'request')
  t.deepEqual(from, new Address('unix', join(d, 'a.sock'), 0))
  t.is(await within(b.send(Buffer.from('reply'), undefined, from)), 5)
  const [m, replyFrom] = await within(a.recv(buf, undefined, clock() + 2))
  t.is(buf.subarray(0, m).toString(), 'reply')
  t.is(replyFrom.address, join(d, 'b.sock'))
  // A path as the host works for send too.
  await within(a.send('by path', undefined, join(d, 'b.sock')))
  const [k] = await within(b.recv(buf, undefined, clock() + 2))
  t.is(buf.subarray(0, k).toString(), 'by path')
})

datagrams('unix datagrams keep their boundaries; truncation and empty datagrams behave as over UDP', async (t) => {
  const d = dir(t)
  const a = udp('unix')
  const b = udp('unix')
  closing(t, a, b)
  await within(b.bind(join(d, 'b.sock')))
  for (const m of ['one', '', 'three is long']) await within(a.send(m, undefined, b.localAddr()))
  const buf = Buffer.alloc(64)
  t.is((await within(b.recv(buf)))[0], 3)
  t.is((await within(b.recv(buf)))[0], 0)
  await t.throwsAsync(within(b.recv(buf, 5)), { instanceOf: SocketError, code: 'EMSGSIZE' })
  t.is(buf.subarray(0, 5).toString(), 'three')
})

datagrams('a datagram from an unbound unix socket shows an empty sender address, which cannot be replied to (EINVAL)', async (t) => {
  const d = dir(t)
  const server = udp('unix')
  const anon = udp('unix')
  closing(t, server, anon)
  await within(server.bind(join(d, 's.sock')))
  await within(anon.send('anonymous', undefined, join(d, 's.sock')))
  const [n, from] = await within(server.recv(Buffer.alloc(64)))
  t.is(n, 9)
  t.deepEqual(from, new Address('unix', '', 0))
  await t.throwsAsync(within(server.send('reply', undefined, from)), { instanceOf: SocketError, code: 'EINVAL' })
})

datagrams('a connected unix datagram socket sends without an address', async (t) => {
  const d = dir(t)
  const server = udp('unix')
  const client = udp('unix')
  closing(t, server, client)
  await within(server.bind(join(d, 's.sock')))
  await within(client.connect(join(d, 's.sock')))
  t.is(client.remoteAddr().address, join(d, 's.sock'))
  await within(client.send('connected'))
  const buf = Buffer.alloc(64)
  const [n] = await within(server.recv(buf))
  t.is(buf.subarray(0, n).toString(), 'connected')
})

datagrams('sending a datagram to a path where nothing exists rejects with ENOENT', async (t) => {
  const s = udp('unix')
  closing(t, s)
  await t.throwsAsync(within(s.send('x', undefined, join(dir(t), 'nobody'))), { instanceOf: SocketError, code: 'ENOENT' })
})

datagrams('closing a bound unix datagram socket removes its file', async (t) => {
  const path = join(dir(t), 'dgram.sock')
  const s = udp('unix')
  closing(t, s)
  await within(s.bind(path))
  t.true(statSync(path).isSocket())
  s.close()
  t.false(existsSync(path))
})

// ---------------------------------------------------------------------------------------------
// Abstract names

abstract("an abstract name ('@name') works for streams, shows as '@name', and creates no file", async (t) => {
  const name = abstractName()
  const server = tcp('unix')
  const client = tcp('unix')
  closing(t, server, client)
  const d = dir(t)
  const before = readdirSync(d)
  await within(server.listen(name))
  t.is(server.localAddr().address, '\0' + name.slice(1))
  t.is(server.localAddr().toString(), name)
  const [[s]] = await within(Promise.all([server.accept(), client.connect(name)]))
  closing(t, s)
  t.is(client.remoteAddr().toString(), name)
  await within(client.send('abstract'))
  client.shutdown('w')
  t.is((await within(readAll(s))).toString(), 'abstract')
  t.deepEqual(readdirSync(d), before)
})

abstract('an abstract name is spelled with a leading NUL too', async (t) => {
  const name = abstractName()
  const server = tcp('unix')
  const client = tcp('unix')
  closing(t, server, client)
  await within(server.listen('\0' + name.slice(1)))
  t.is(server.localAddr().toString(), name)
  const [[s]] = await within(Promise.all([server.accept(), client.connect(name)]))
  closing(t, s)
  t.pass()
})

streams('a path with a NUL byte is refused with ERR_INVALID_ARG_VALUE (the OS would cut it there)', (t) => {
  const [dir, cleanup] = tempDir()
  t.teardown(cleanup)
  const s = tcp('unix')
  closing(t, s)
  const bad = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' }
  t.throws(() => s.listen(join(dir, 'a\0b')), bad)
  t.throws(() => s.connect(join(dir, 'a\0b')), bad)
  t.throws(() => new Address('unix', join(dir, 'a\0b'), 0), bad)
  t.deepEqual(readdirSync(dir), []) // nothing was created under the cut name
})

abstract('an abstract name may hold NUL', async (t) => {
  const s = tcp('unix')
  closing(t, s)
  const name = '\0' + abstractName().slice(1) + '\0tail'
  await within(s.listen(name))
  t.is(s.localAddr().address, name)
})

abstract('abstract datagram sockets exchange datagrams and report abstract senders', async (t) => {
  const [na, nb] = [abstractName(), abstractName()]
  const a = udp('unix')
  const b = udp('unix')
  closing(t, a, b)
  await within(a.bind(na))
  await within(b.bind(nb))
  await within(a.send('hello', undefined, nb))
  const buf = Buffer.alloc(64)
  const [n, from] = await within(b.recv(buf, undefined, clock() + 2))
  t.is(buf.subarray(0, n).toString(), 'hello')
  t.is(from.toString(), na)
  await within(b.send('back', undefined, from))
  const [m] = await within(a.recv(buf, undefined, clock() + 2))
  t.is(buf.subarray(0, m).toString(), 'back')
})

abstract('an abstract name in use rejects with EADDRINUSE, and is free again once its socket is closed', async (t) => {
  const name = abstractName()
  const a = tcp('unix')
  const b = tcp('unix')
  closing(t, a, b)
  await within(a.listen(name))
  await t.throwsAsync(within(b.listen(name)), { instanceOf: SocketError, code: 'EADDRINUSE' })
  a.close()
  const c = tcp('unix')
  closing(t, c)
  await within(c.listen(name))
  t.is(c.localAddr().toString(), name)
})

// ---------------------------------------------------------------------------------------------
// Long paths

linuxOnly('a unix path of 107 bytes (macOS takes 103)')('a path of 107 bytes binds; 108 bytes and more reject with ENAMETOOLONG from bind, listen, connect and send', async (t) => {
  const d = dir(t)
  const pad = (n: number): string => join(d, 'p'.repeat(n - d.length - 1))
  const ok = udp('unix')
  closing(t, ok)
  t.is(Buffer.byteLength(pad(107)), 107)
  await within(ok.bind(pad(107)))
  t.is(ok.localAddr().address, pad(107))
  const long = pad(108)
  const tooLong = { instanceOf: SocketError, code: 'ENAMETOOLONG' }
  const sockets = [udp('unix'), tcp('unix'), tcp('unix'), udp('unix')] as const
  closing(t, ...sockets)
  const e = await t.throwsAsync(within(sockets[0].bind(long)), tooLong)
  t.is(e?.syscall, 'bind')
  t.is(e?.address, long)
  await t.throwsAsync(within(sockets[1].listen(long)), tooLong)
  t.is((await t.throwsAsync(within(sockets[2].connect(long + 'x'.repeat(200))), tooLong))?.syscall, 'connect')
  t.is((await t.throwsAsync(within(sockets[3].send('x', undefined, long)), tooLong))?.syscall, 'send')
  t.false(existsSync(long))
})

abstract('an abstract name of up to 107 bytes after the @ binds; a longer one rejects with ENAMETOOLONG', async (t) => {
  const base = abstractName()
  const ok = udp('unix')
  const bad = udp('unix')
  closing(t, ok, bad)
  const name = base + 'n'.repeat(107 - (base.length - 1))
  await within(ok.bind(name))
  t.is(ok.localAddr().toString(), name)
  await t.throwsAsync(within(bad.bind(name + 'n')), { instanceOf: SocketError, code: 'ENAMETOOLONG' })
})

// ---------------------------------------------------------------------------------------------
// No path

// Library bug: for family 'unix' the IP defaults are used as paths. `listen()` / `listen('*')` /
// `bind()` create a socket file named "0.0.0.0", and `listen(false)` one named "127.0.0.1", in
// the current directory, instead of refusing (a unix socket needs a path or an '@name').
datagrams.serial("a unix socket given no path ('*', false or nothing) throws TypeError instead of creating a file named after an IP address", async (t) => {
  const d = dir(t)
  const cwd = process.cwd()
  process.chdir(d)
  t.teardown(() => process.chdir(cwd)) // teardowns run last first: the sockets close in d
  /** What `make` threw synchronously, or what its promise rejected with, or 'resolved'. */
  const outcome = async (make: () => Promise<void>): Promise<unknown> => {
    let p: Promise<void>
    try {
      p = make()
    } catch (e) {
      return e
    }
    return within(p).then(
      () => 'resolved',
      (e: unknown) => `rejected (not thrown): ${String(e)}`,
    )
  }
  const cases: [string, () => Promise<void>][] = []
  for (const [what, host] of [
    ['listen()', undefined],
    ["listen('*')", '*'],
    ['listen(false)', false],
  ] as const) {
    const s = tcp('unix')
    closing(t, s)
    cases.push([what, () => s.listen(host as never)])
  }
  const u = udp('unix')
  closing(t, u)
  cases.push(['bind()', () => u.bind()])
  for (const [what, make] of cases) {
    const got = await outcome(make)
    t.true(got instanceof TypeError && (got as { code?: string }).code === 'ERR_INVALID_ARG_TYPE', `${what}: ${String(got)}`)
  }
  t.deepEqual(readdirSync(d), [], 'files created in the current directory')
})
