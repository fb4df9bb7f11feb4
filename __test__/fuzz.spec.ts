/**
 * Property test over the whole public API: random calls, with arguments of random types and
 * values, in random orders, on sockets in random states. Every call must end in a value or in
 * one of the documented errors (TypeError/RangeError with their codes, synchronously; a
 * SocketError whose code is the OS's or ours), and once the sockets are closed every promise
 * must settle: no crash, no hang, no error of the wrong kind, no descriptor left open.
 *
 * 10,000 cases by default; SOCKET2_FUZZ_RUNS sets another count. A failure prints fast-check's
 * seed and the shrunk case, which replay with SOCKET2_FUZZ_SEED and SOCKET2_FUZZ_PATH.
 */
import { readdirSync, rmSync } from 'node:fs'
import { constants } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import fc from 'fast-check'
import * as api from 'socket2'
import { Address, clock, codes, optionNames, SocketError, tcp, Thread, udp } from 'socket2'
import { publicSurface, type Member } from './surface'
import { emulated, rawAllowed, tempDir, within } from './util'

const RUNS = Number(process.env.SOCKET2_FUZZ_RUNS ?? 10_000)

/** Thrown by the functions the fuzz hands to newthread: a thread's own error, not the library's. */
class FuzzError extends Error {}

/** The states a case can put its sockets in; `busy` has operations pending in two threads. */
const allStates = [
  'unbound',
  'unbound6',
  'unboundUnix',
  'listening',
  'listeningUnix',
  'connected',
  'halfClosed',
  'busy',
  'closed',
  'udpBound',
  'udpUnbound',
  'udpUnix',
  'raw',
  'addrinfo',
  'freedAddrinfo',
  'address',
] as const
type State = (typeof allStates)[number]

/** Whether this platform makes unix sockets of `kind` (wine has none; Windows no datagrams). */
function unixOf(kind: typeof tcp | typeof udp): boolean {
  try {
    kind('unix').close()
    return true
  } catch {
    return false
  }
}
const unixStream = unixOf(tcp)
const unixDatagram = unixOf(udp)
/** The states this platform can make. */
const states = allStates.filter((s) => (s === 'unboundUnix' || s === 'listeningUnix' ? unixStream : s === 'udpUnix' ? unixDatagram : true))

// ip_hdrincl is left out: with it a raw send carries an IP header of the fuzz's making, whose
// destination need not be this machine.
const options = optionNames()
  .map((o) => o.name)
  .filter((n) => n !== 'ip_hdrincl')

const strings = [
  '', 'tcp', 'udp', 'raw', 'inet', 'inet6', 'unix', 'ip', 'ipv6', 'icmp', 'icmpv6', 'igmp', 'sctp',
  'r', 'w', 'rw', 'x', '*', '127.0.0.1', '::1', '0.0.0.0', '::', '::ffff:127.0.0.1', 'localhost',
  'fe80::1%lo', '127.0.0.1:80', 'http', 'echo', '65536', '-1', '1e3', 'no-such-host.invalid',
  'passive', 'canonname', 'cannonname', 'numerichost', 'numericserv', 'all', 'v4mapped',
  'addrconfig', 'bogus', 'nul\0byte', '\0abstract', 'a'.repeat(200), 'é😀', 'toString', '__proto__',
]

/** How an argument is made, resolved against the case's world when the call runs. */
type Recipe =
  | ['value', unknown]
  | ['option', number]
  | ['buffer', number, number]
  | ['subject', number]
  | ['addressOf', number]
  | ['expires', number]
  | ['object', number]
  | ['path', number]

const bufferSizes = [0, 1, 7, 64, 1500, 65536, 65508, 1 << 20, 4 << 20]
const bufferKinds = ['Uint8Array', 'Buffer', 'subarray', 'detached', 'Uint16Array', 'DataView', 'ArrayBuffer', 'lying', 'shared'] as const

// Weighted towards what the calls take (buffers, addresses, deadlines), so that enough calls
// get past validation to reach the sockets.
const recipe: fc.Arbitrary<Recipe> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(
      fc.constant('value' as const),
      fc.oneof(
        fc.constantFrom(undefined, null, true, false, 0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 53, NaN, Infinity, -Infinity, 65535, 65536, 1n, Symbol('fuzz')),
        fc.integer({ min: -10, max: 70_000 }),
        fc.double(),
        fc.constantFrom(...strings),
        // Names only of letters: a random digit string would be an IPv4 literal somewhere else.
        fc.stringMatching(/^[a-z]{1,6}$/),
      ),
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constant('option' as const), fc.nat(options.length - 1)) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('buffer' as const), fc.nat(bufferSizes.length - 1), fc.nat(bufferKinds.length - 1)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('subject' as const), fc.nat(7)) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('addressOf' as const), fc.nat(7)) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('expires' as const), fc.constantFrom(-1, 0, 0.001, 0.02, 1e9)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('object' as const), fc.nat(9)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('path' as const), fc.nat(3)) },
)

/** One call: on which subject (0 is the module), which member, with which arguments. */
interface Call {
  subject: number
  member: number
  construct: boolean
  args: Recipe[]
}

const call: fc.Arbitrary<Call> = fc.record({
  subject: fc.nat(8),
  member: fc.nat(63),
  construct: fc.boolean(),
  args: fc.array(recipe, { maxLength: 6 }),
})

const theCase = fc.record({
  states: fc.array(fc.constantFrom(...states), { minLength: 1, maxLength: 4 }),
  calls: fc.array(call, { minLength: 1, maxLength: 12 }),
})

const surface = publicSurface()
const canRaw = rawAllowed()

/** What the cases did, for the log. */
const tally = { cases: 0, calls: 0, values: 0, thrown: new Map<string, number>(), rejected: new Map<string, number>(), resolved: 0 }
const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1)

/** A case's sockets, addresses and pending promises, and what to close when it ends. */
class World {
  subjects: object[] = [api]
  sockets: api.Socket[] = []
  pending: Promise<void>[] = []
  problems: string[] = []
  ending = false
  polled = false

  constructor(readonly dir: string) {}

  own<T extends api.Socket>(s: T): T {
    this.sockets.push(s)
    if (this.ending) s.close()
    return s
  }

  /** Records every socket a result holds, so the case closes it. */
  adopt(v: unknown): void {
    if (v instanceof api.Socket) this.own(v)
    else if (Array.isArray(v)) for (const x of v) this.adopt(x)
  }

  /** Watches a promise: its outcome is checked, and the case waits for it to settle. */
  watch(what: string, p: Promise<unknown>): void {
    this.pending.push(
      p.then(
        (v) => {
          tally.resolved++
          this.adopt(v)
        },
        (e: unknown) => {
          const kind = classify(e)
          count(tally.rejected, kind)
          if (!rejectionAllowed(e)) this.problems.push(`${what} rejected with ${describe(e)}`)
        },
      ),
    )
  }

  async build(state: State, i: number): Promise<void> {
    const add = (v: object): void => void this.subjects.push(v)
    switch (state) {
      case 'unbound':
        return add(this.own(tcp()))
      case 'unbound6':
        return add(this.own(tcp('inet6')))
      case 'unboundUnix':
        return add(this.own(tcp('unix')))
      case 'listening': {
        const l = this.own(tcp())
        await l.listen('127.0.0.1', 0)
        return add(l)
      }
      case 'listeningUnix': {
        const l = this.own(tcp('unix'))
        await l.listen(join(this.dir, `l${i}`))
        return add(l)
      }
      case 'connected':
      case 'halfClosed':
      case 'busy': {
        const l = this.own(tcp())
        await l.listen('127.0.0.1', 0)
        const c = this.own(tcp())
        const [[s]] = await Promise.all([l.accept(), c.connect(l.localAddr())])
        this.own(s)
        if (state === 'halfClosed') c.shutdown('w')
        if (state === 'busy') {
          // One thread reads and one writes the same socket, and one waits in accept: all
          // pending when the fuzz's calls start.
          this.watch('busy recv', api.newthread(() => c.recv(new Uint8Array(64))).done)
          this.watch('busy send', api.newthread(() => c.send(new Uint8Array(8 << 20))).done)
          this.watch('busy accept', api.newthread(() => l.accept()).done)
        }
        add(c)
        return add(s)
      }
      case 'closed': {
        const s = this.own(udp())
        s.close()
        return add(s)
      }
      case 'udpBound': {
        const u = this.own(udp())
        await u.bind('127.0.0.1', 0)
        return add(u)
      }
      case 'udpUnbound':
        return add(this.own(udp('inet6')))
      case 'udpUnix': {
        const u = this.own(udp('unix'))
        await u.bind(join(this.dir, `u${i}`))
        return add(u)
      }
      case 'raw':
        return add(canRaw ? this.own(api.raw()) : this.own(udp()))
      case 'addrinfo':
        return add(await api.addr('127.0.0.1', 0, 'tcp'))
      case 'freedAddrinfo': {
        const ai = await api.addr('::1', 9, 'udp', 'inet6')
        ai.free()
        return add(ai)
      }
      case 'address':
        return add(new Address('inet', '127.0.0.1', 9))
    }
  }

  resolve(r: Recipe): unknown {
    switch (r[0]) {
      case 'value':
        return r[1]
      case 'option':
        return options[r[1]]
      case 'buffer':
        return buffer(bufferSizes[r[1]]!, bufferKinds[r[2]]!)
      case 'subject':
        return this.subjects[r[1] % this.subjects.length]
      case 'addressOf': {
        const s = this.subjects[r[1] % this.subjects.length]
        try {
          return s instanceof api.Socket ? s.localAddr() : s
        } catch {
          return undefined
        }
      }
      case 'expires':
        return clock() + r[1]
      case 'object':
        return objects()[r[1]]
      case 'path':
        return [join(this.dir, 'l0'), join(this.dir, `p${r[1]}`), '@socket2-fuzz', join(this.dir, 'x'.repeat(120))][r[1]]
    }
  }

  /** Makes one call; records its outcome. */
  run(c: Call): void {
    const subject = this.subjects[c.subject % this.subjects.length]!
    const members = membersOf(subject)
    if (members.length === 0) return
    const m = members[c.member % members.length]!
    const args = harmless(m, bounded(m, c.args.map((r) => this.resolve(r))))
    const what = `${nameOf(subject)}.${String(m.name)}(${args.map(describe).join(', ')})`
    tally.calls++
    const file = m.name === 'detach' ? unixFile(subject) : undefined
    let v: unknown
    try {
      v = invoke(subject, m, args, c.construct)
    } catch (e) {
      count(tally.thrown, classify(e))
      if (!thrownAllowed(e, m) && !asError(m, args)) this.problems.push(`${what} threw ${describe(e)}`)
      return
    }
    tally.values++
    // The descriptor detach gives up is the caller's to close, and its unix socket file with it:
    // through a socket adopting it, the one way that closes a Windows socket handle too.
    if (m.name === 'detach' && typeof v === 'number') {
      api.adopt(v).close()
      if (file !== undefined) rmSync(file, { force: true })
    }
    if (m.name === 'poll') this.polled = true
    this.adopt(v)
    if (v instanceof Promise) this.watch(what, v)
    else if (v instanceof Thread) this.watch(what, v.done)
  }

  /** Closes everything, then waits (bounded) for every pending promise. */
  async end(): Promise<void> {
    this.ending = true
    for (const s of this.sockets) s.close()
    // poll() without a timeout waits for the next event batch: give it one.
    if (this.polled) await wake()
    await within(Promise.all(this.pending), 10_000).catch((e: Error) => this.problems.push(`pending after close: ${e.message}`))
    for (const s of this.sockets) s.close()
  }
}

/** Makes one I/O event: a datagram to a socket waiting for it. */
async function wake(): Promise<void> {
  const u = udp()
  try {
    await u.bind('127.0.0.1', 0)
    const got = u.recv(new Uint8Array(1))
    await u.send('x', u.localAddr())
    await got
  } finally {
    u.close()
  }
}

function buffer(size: number, kind: (typeof bufferKinds)[number]): unknown {
  switch (kind) {
    case 'Uint8Array':
      return new Uint8Array(size)
    case 'Buffer':
      return Buffer.alloc(size)
    case 'subarray':
      return new Uint8Array(size + 16).subarray(8, 8 + size)
    case 'detached': {
      const b = new Uint8Array(size)
      structuredClone(b.buffer, { transfer: [b.buffer] })
      return b
    }
    case 'Uint16Array':
      return new Uint16Array(size >> 1)
    case 'DataView':
      return new DataView(new ArrayBuffer(size))
    case 'ArrayBuffer':
      return new ArrayBuffer(size)
    case 'lying':
      return Object.defineProperty(new Uint8Array(size), 'byteLength', { value: size + 4096 })
    case 'shared':
      return new Uint8Array(new SharedArrayBuffer(Math.max(size, 1)))
  }
}

function objects(): unknown[] {
  const revoked = Proxy.revocable({}, {})
  revoked.revoke()
  return [
    {},
    [],
    ['passive', 'v4mapped'],
    { multiaddr: '224.0.0.251' },
    { multiaddr: 'ff02::fb', interface: 1 },
    revoked.proxy,
    () => undefined,
    () => {
      throw new FuzzError('thrown by a thread')
    },
    Object.create(Address.prototype),
    new Proxy(new Uint8Array(8), {}),
  ]
}

/**
 * The waits a call asks for are not hangs: a sleep, poll or start longer than a case is cut to a
 * short one, so each case ends in bounded time.
 */
function bounded(m: Member, args: unknown[]): unknown[] {
  const x = args[0]
  if (typeof x !== 'number' || !(x > 0.02)) return args
  if (m.name === 'sleep' || m.name === 'poll' || m.name === 'start') return [0.02, ...args.slice(1)]
  if (m.name === 'sleepUntil' && x > clock() + 0.02) return [clock() + 0.02, ...args.slice(1)]
  return args
}

/** The unix socket file a socket is bound to, if any. */
function unixFile(subject: object): string | undefined {
  if (!(subject instanceof api.Socket) || subject.closed || subject.family() !== 'unix') return undefined
  const a = subject.localAddr().address
  return a !== '' && !a.startsWith('\0') ? a : undefined
}

/**
 * adopt takes over whatever open descriptor it is given, and a small number is this process's
 * stdio or the test runner's IPC socket: a descriptor number is swapped for one far above any
 * open one (its type and range checks still run on the other values).
 */
function harmless(m: Member, args: unknown[]): unknown[] {
  const x = args[0]
  if (m.name !== 'adopt' || typeof x !== 'number' || !Number.isInteger(x) || x < 0) return args
  return [0x3fffffff, ...args.slice(1)]
}

function invoke(subject: object, m: Member, args: unknown[], construct: boolean): unknown {
  const target = subject as Record<string | symbol, unknown>
  if (m.kind === 'getter') return target[m.name]
  const f = target[m.name] as (...a: unknown[]) => unknown
  if (m.kind === 'class') return construct ? Reflect.construct(f, args) : undefined
  return Reflect.apply(f, subject, args)
}

/** The public members of a subject's class, or the module's functions and constructible classes. */
function membersOf(subject: object): Member[] {
  if (subject === api) return surface.module
  for (const [cls, members] of surface.classes) {
    if (subject instanceof (api as unknown as Record<string, new () => object>)[cls]!) return members
  }
  return []
}

function nameOf(subject: object): string {
  return subject === api ? 'socket2' : subject.constructor.name
}

function classify(e: unknown): string {
  if (e instanceof Error) return `${e.name} ${(e as { code?: string }).code ?? '(no code)'}`
  return typeof e
}

const ownCodes = new Set(Object.keys(codes))
const argCodes: Record<string, string[]> = {
  TypeError: ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE'],
  RangeError: ['ERR_OUT_OF_RANGE'],
}

/**
 * A SocketError whose code is ours, a getaddrinfo code, or the OS's for its errno (on Windows a
 * socket error's errno is its WSAE* number, under the POSIX name).
 */
function validSocketError(e: unknown): boolean {
  if (!(e instanceof SocketError)) return false
  if (ownCodes.has(e.code)) return e.message.length > 0
  if (e.code.startsWith('EAI_')) return e.syscall === 'getaddrinfo'
  const errnos = constants.errno as Record<string, number>
  const n = [errnos[e.code], errnos[`WSA${e.code}`]]
  return e.errno !== undefined && n.includes(e.errno) && typeof e.syscall === 'string'
}

/**
 * Thrown synchronously: argument misuse (TypeError/RangeError with Node's codes), our own
 * SocketError codes (use after close or free), or, from a call that returns no promise, an OS
 * error. A call that returns a promise reports OS and lookup failures by rejecting it.
 */
function thrownAllowed(e: unknown, m: Member): boolean {
  if (touchedRevoked(e)) return true
  if (e instanceof TypeError || e instanceof RangeError) return argCodes[e.name]?.includes((e as { code?: string }).code ?? '') ?? false
  if (!validSocketError(e)) return false
  return !m.async || ownCodes.has((e as SocketError).code)
}

/**
 * Whether constructing one of the API's Error classes threw where `new Error(args[0])` throws
 * too: the message is converted to a string as Error's is, and one that cannot be (a detached
 * array) throws the same.
 */
function asError(m: Member, args: unknown[]): boolean {
  const cls = (api as unknown as Record<string | symbol, unknown>)[m.name]
  if (m.kind !== 'class' || !(typeof cls === 'function' && cls.prototype instanceof Error)) return false
  try {
    new Error(args[0] as string)
    return false
  } catch {
    return true
  }
}

/**
 * The engine's own TypeError from looking at a revoked Proxy the fuzz passed: the caller's
 * argument threw, as any object whose every property access throws would.
 */
function touchedRevoked(e: unknown): boolean {
  return e instanceof TypeError && /on a proxy that has been revoked/.test(e.message)
}

/** Rejected: a SocketError (never misuse, which throws), or the error a fuzz thread threw. */
function rejectionAllowed(e: unknown): boolean {
  return e instanceof FuzzError || validSocketError(e)
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? v.slice(0, 24) + '...' : v)
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'symbol') return v.toString()
  if (typeof v === 'function') return 'function'
  if (typeof v !== 'object' || v === null) return String(v)
  if (v === api) return 'socket2'
  // A revoked Proxy throws on every look at it, instanceof included.
  try {
    if (v instanceof Error) return `${v.name}(${(v as { code?: string }).code ?? ''}: ${v.message})`
    return ArrayBuffer.isView(v) ? `${v.constructor.name}(${v.byteLength})` : (v.constructor?.name ?? 'Object')
  } catch {
    return 'a revoked Proxy'
  }
}

/**
 * Descriptors the count may grow by that are not the library's: under wine the count is of wine's
 * own unix descriptors, which include a few per Windows thread it starts (a late thread of a
 * pool, say). A leak per case would still show as thousands over the run.
 */
const slack = emulated === 'wine' ? 4 : 0

/** Open descriptors of this process (Linux), else undefined. */
function fds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return undefined
  }
}

test.serial(`${RUNS} random call sequences on sockets in random states each end in a value or a documented error, and never hang or leak`, async (t) => {
  t.timeout(Math.max(120_000, RUNS * 60))
  const [dir, cleanup] = tempDir()
  t.teardown(cleanup)
  // One case of every state first: what the runtime opens once (the lookup threads' files,
  // say) is then open before the count.
  const warm = new World(dir)
  for (const [i, s] of states.entries()) await warm.build(s, i)
  await api.addr('localhost', 0, 'tcp')
  await warm.end()
  const before = fds()
  const seed = process.env.SOCKET2_FUZZ_SEED
  await fc.assert(
    fc.asyncProperty(theCase, async ({ states: wanted, calls }) => {
      tally.cases++
      const world = new World(dir)
      try {
        for (const [i, s] of wanted.entries()) await world.build(s, i)
        for (const c of calls) world.run(c)
      } finally {
        await world.end()
      }
      if (world.problems.length > 0) throw new Error(world.problems.join('\n'))
    }),
    {
      numRuns: RUNS,
      includeErrorInReport: true,
      ...(seed !== undefined && { seed: Number(seed), path: process.env.SOCKET2_FUZZ_PATH }),
    },
  )
  t.log(`cases ${tally.cases}, calls ${tally.calls}: ${tally.values} returned, ${tally.resolved} promises resolved`)
  t.log(`thrown: ${JSON.stringify(Object.fromEntries(tally.thrown))}`)
  t.log(`rejected: ${JSON.stringify(Object.fromEntries(tally.rejected))}`)
  // A close that lingers (so_linger with data queued) runs on a thread of its own and holds its
  // descriptor until the kernel gives up: waited for here, bounded, before the count.
  for (let i = 0; i < 200 && before !== undefined && fds()! > before + slack; i++) await new Promise((r) => setTimeout(r, 50))
  if (before !== undefined) t.true(fds()! <= before + slack, `every descriptor the cases opened is closed: ${before} before, ${fds()} after`)
  else t.pass()
})

test('new SocketError(message, code, null) makes an error without fields, as leaving them out does (found by the fuzz)', (t) => {
  const e = new SocketError('m', 'ECONNRESET', null as unknown as undefined)
  t.is(e.code, 'ECONNRESET')
  t.is(e.errno, undefined)
  t.is(e.syscall, undefined)
})
