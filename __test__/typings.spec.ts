/**
 * The published typings, checked by `tsc -p __test__/tsconfig.json`: the API as users write it,
 * with explicit annotations (each must compile), and misuse marked `@ts-expect-error` (each must
 * be a type error; at run time it throws, and the test asserts that too). Runs for real on
 * loopback.
 */
import test from 'ava'
import type { Duplex } from 'node:stream'
import {
  AbortError,
  addr,
  adopt,
  epollFd,
  iocp,
  type Raw,
  addrSync,
  Address,
  AddrInfo,
  clock,
  newthread,
  poll,
  sleep,
  sleepUntil,
  SocketError,
  start,
  stop,
  tcp,
  Thread,
  udp,
  type AddrFlag,
  type AddressLike,
  type Family,
  type OptionValue,
  type Protocol,
  type SocketType,
  type Membership,
  type Message,
  type Received,
  type Tcp,
  type Udp,
  stats,
  toDuplex,
  type DuplexOptions,
  type Expires,
  type RunOptions,
  type SleepOptions,
  type Stats,
  type WaitOptions,
} from 'socket2'
import { within } from './util.ts'

/** True exactly when X and Y are the same type. */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false
/** Compiles only when its type argument is `true`. */
const exact = <T extends true>(v: T): T => v

const ARG = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }

test('the API as users write it, with explicit types, runs on loopback', async (t) => {
  const server: Tcp = tcp()
  const family: Family = server.family()
  const kind: SocketType = server.type()
  const proto: Protocol = server.protocol()
  t.deepEqual([family, kind, proto], ['inet', 'tcp', 'tcp'])

  const listening: Promise<void> = server.listen('127.0.0.1', 0)
  await listening
  const local: Address = server.localAddr()
  const port: number = local.port
  t.true(port > 0)

  const flags: AddrFlag[] = ['canonname']
  const ai: AddrInfo = await addr('localhost', port, 'tcp', 'inet', 'tcp', flags)
  const name: string | undefined = ai.name()
  const next: AddrInfo | null = ai.next()
  const all: AddrInfo[] = [...ai]
  const target: AddressLike = ai
  t.is(name, 'localhost')
  t.is(next, null)
  t.is(all.length, 1)
  const sync: AddrInfo = addrSync(false, port, 'tcp')
  const type: SocketType | undefined = sync.type()
  t.is(type, 'tcp')

  const echo: Thread = newthread(
    async (s: Tcp, greeting: string): Promise<number> => {
      const [c, ra, la]: [Tcp, Address, Address] = await s.accept(clock() + 5)
      t.is(la.port, port)
      t.is(ra.address, '127.0.0.1')
      const buf: Uint8Array = new Uint8Array(64)
      const n: number = await c.recv(buf, undefined, clock() + 5)
      const parts: (string | Uint8Array)[] = [greeting, buf.subarray(0, n)]
      const sent: number = await c.send(parts)
      c.close()
      return sent
    },
    server,
    'hi ',
  )

  const client: Tcp = tcp('inet', 'tcp')
  const nodelay: OptionValue = client.getopt('tcp_nodelay')
  client.setopt('tcp_nodelay', !nodelay)
  await client.connect(target, clock() + 5)
  const sent: number = await client.send('there')
  t.is(sent, 5)
  client.shutdown('w')
  const buf: Buffer = Buffer.alloc(64)
  let got = ''
  for (let n: number; (n = await client.recv(buf, 64, clock() + 5)) > 0; ) got += buf.toString('utf8', 0, n)
  t.is(got, 'hi there')

  const started: Promise<void> = start(5)
  await within(started)
  const result: unknown = await echo.done
  t.is(result, 8)

  const ready: boolean = await poll(0.001)
  t.false(ready)
  const now: number = clock()
  const slept: void = await sleep(0.001)
  await sleepUntil(now + 0.002)
  t.is(slept, undefined)
  stop()

  const eof: number = await client.recv(buf)
  t.is(eof, 0)
  client.close()
  server.close()
  const closed: boolean = client.closed
  t.true(closed)
  try {
    await client.recv(buf)
  } catch (e: unknown) {
    if (!(e instanceof SocketError)) throw e
    const code: string = e.code
    const syscall: string | undefined = e.syscall
    t.is(code, 'ERR_SOCKET_CLOSED')
    t.is(syscall, 'recv')
  }
})

test('the declared types of the main calls are exact', (t) => {
  t.true(exact<Equal<ReturnType<typeof tcp>, Tcp>>(true))
  t.true(exact<Equal<ReturnType<Tcp['accept']>, Promise<[Tcp, Address, Address]>>>(true))
  t.true(exact<Equal<ReturnType<Tcp['recv']>, Promise<number>>>(true))
  t.true(exact<Equal<ReturnType<Tcp['send']>, Promise<number>>>(true))
  t.true(exact<Equal<ReturnType<Tcp['connect']>, Promise<void>>>(true))
  t.true(exact<Equal<ReturnType<typeof addr>, Promise<AddrInfo>>>(true))
  t.true(exact<Equal<ReturnType<typeof addrSync>, AddrInfo>>(true))
  t.true(exact<Equal<ReturnType<AddrInfo['next']>, AddrInfo | null>>(true))
  t.true(exact<Equal<ReturnType<typeof poll>, Promise<boolean>>>(true))
  t.true(exact<Equal<ReturnType<typeof start>, Promise<void>>>(true))
  t.true(exact<Equal<ReturnType<typeof newthread>, Thread>>(true))
  t.true(exact<Equal<ReturnType<typeof clock>, number>>(true))
  t.true(exact<Equal<SocketError['code'], string>>(true))
})

test('handover and the poller have exact types: detach gives a number, adopt a socket of the kind asked', async (t) => {
  t.true(exact<Equal<ReturnType<Tcp['detach']>, number>>(true))
  t.true(exact<Equal<ReturnType<Udp['detach']>, number>>(true))
  t.true(exact<Equal<ReturnType<typeof epollFd>, number>>(true))
  t.true(exact<Equal<ReturnType<typeof iocp>, number>>(true))
  t.true(exact<Equal<Parameters<typeof epollFd>, [fd?: number]>>(true))
  const s: Tcp = tcp()
  await s.listen('127.0.0.1', 0)
  const fd: number = s.detach()
  const l: Tcp = adopt(fd, 'tcp')
  l.close()
  const u: Udp = udp()
  const any: Tcp | Udp | Raw = adopt(u.detach())
  any.close()
  // @ts-expect-error: the kind is 'tcp', 'udp' or 'raw'
  t.throws(() => adopt(0x3fffffff, 'sctp'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  // @ts-expect-error: the descriptor is a number
  t.throws(() => adopt('3'), ARG)
})

test('the Node idioms have exact types: options in place of expires, AbortError, toDuplex, stats, disposal, iteration', async (t) => {
  t.true(exact<Equal<ReturnType<typeof toDuplex>, Duplex & { readonly socket: Tcp }>>(true))
  t.true(exact<Equal<ReturnType<typeof stats>, Stats>>(true))
  t.true(exact<Equal<Stats['waiting'], { read: number; write: number }>>(true))
  t.true(exact<Equal<Stats['poller'], { threads: number; kept: number; routed: number; dropped: number; drained: number } | undefined>>(true))
  t.true(exact<Equal<AbortError['code'], 'ABORT_ERR'>>(true))
  t.true(exact<Equal<Parameters<Tcp['accept']>, [expires?: Expires]>>(true))
  t.true(exact<Equal<Expires, number | WaitOptions | undefined>>(true))
  t.true(exact<Equal<ReturnType<Tcp[typeof Symbol.asyncIterator]>, AsyncGenerator<[Tcp, Address, Address], void, undefined>>>(true))
  const opts: WaitOptions = { expires: clock() + 5, signal: new AbortController().signal }
  const run: RunOptions = { timeout: 1, signal: opts.signal! }
  const nap: SleepOptions = { signal: opts.signal! }
  const d: DuplexOptions = { allowHalfOpen: false, readSize: 4096 }
  t.truthy(run && nap && d)
  await using s: Tcp = tcp()
  const disposable: AsyncDisposable & Disposable = s
  t.is(typeof disposable[Symbol.asyncDispose], 'function')
  using ai: AddrInfo = addrSync('127.0.0.1', 80, 'tcp')
  const freeable: Disposable = ai
  t.is(typeof freeable[Symbol.dispose], 'function')
  t.throws(() => {
    // @ts-expect-error: a signal is an AbortSignal
    void s.recv(new Uint8Array(1), undefined, { signal: 'stop' })
  }, ARG)
  using u = udp()
  t.throws(() => {
    // @ts-expect-error: toDuplex takes a TCP socket
    toDuplex(u)
  }, ARG)
})

test('misuse the types reject also throws at run time', async (t) => {
  const c: Tcp = tcp()
  try {
    t.throws(() => {
      // @ts-expect-error: the family is a name
      tcp(4)
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: no such family
      tcp('inet7')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: a stream socket cannot be UDP
      tcp('inet', 'udp')
    }, { instanceOf: SocketError, code: 'EPROTONOSUPPORT' })
    t.throws(() => {
      // @ts-expect-error: recv fills a buffer
      void c.recv('text')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: send takes bytes or a string
      void c.send(42)
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: expires is a clock() number
      void c.recv(new Uint8Array(1), undefined, 'soon')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: how is 'r', 'w' or 'rw'
      c.shutdown('x')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: a host is a string or false
      void c.connect(42, 80)
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: no such socket type
      void addr(false, 80, 'sctp')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: no such flag
      void addr(false, 80, 'tcp', 'inet', undefined, 'bogus')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: the port is a number or a service name
      addrSync(false, true, 'tcp')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: newthread runs a function
      newthread(42)
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: timeouts are seconds
      void start('1')
    }, ARG)
    t.throws(() => {
      // @ts-expect-error: timeouts are seconds
      void poll('1')
    }, ARG)
    // Wrong thread arguments are a type error only; the thread still runs.
    // @ts-expect-error: the function takes a number
    const th: Thread = newthread(async (n: number) => n, 'x')
    t.is(await within(th.done), 'x')
    // @ts-expect-error: recv resolves with a count
    const wrong: string = 1 as Awaited<ReturnType<Tcp['recv']>>
    t.is(typeof wrong, 'number')
  } finally {
    c.close()
  }
})

test('datagram sockets as users write them, with explicit types', async (t) => {
  const a: Udp = udp()
  const b: Udp = udp('inet')
  try {
    const bound: Promise<void> = a.bind('127.0.0.1', 0)
    await bound
    const to: Address = a.localAddr()
    const sent: number = await b.send('ping', undefined, to)
    const buf = new Uint8Array(64)
    const [n, from]: [number, Address] = await within(a.recv(buf, undefined, clock() + 5))
    t.is(n, sent)
    const replied: number = await a.send(buf, n, from.address, from.port)
    t.is(replied, n)
    const group: Membership = { multiaddr: '224.0.0.251', interface: '127.0.0.1' }
    const v: OptionValue = group
    t.truthy(v)
    // @ts-expect-error the data must be a string or a Uint8Array
    t.throws(() => b.send(42, undefined, to), ARG)
    const msgs: (string | Uint8Array | Message)[] = [{ data: 'one', to }, { data: buf.subarray(0, 2), to }, { data: 'three', to }]
    const went: number = await b.sendMany(msgs, clock() + 5)
    const got: Received[] = await within(a.recvMany([new Uint8Array(8), new Uint8Array(8), new Uint8Array(8)], clock() + 5))
    const first: { length: number; from: Address; truncated: boolean } = got[0]!
    t.true(went === 3 && first.length === 3 && !first.truncated)
    // @ts-expect-error a message's address is an Address or AddrInfo, not a host name
    t.throws(() => b.sendMany([{ data: 'x', to: '127.0.0.1' }]), ARG)
  } finally {
    a.close()
    b.close()
  }
})
