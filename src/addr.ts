/**
 * Addresses: `addr()` lookups (getaddrinfo off the JS thread, IP literals synchronously),
 * `AddrInfo` result lists, and `Address`, the single address that sockets report and accept.
 */
import { isIP } from 'node:net'
import native, { constants } from './binding'
import { argType, errnoException, lookupError, ownError, SocketError } from './errors'

export type SocketType = 'tcp' | 'udp' | 'raw'
export type Family = 'inet' | 'inet6' | 'unix'
export type Protocol = 'ip' | 'ipv6' | 'tcp' | 'udp' | 'raw' | 'icmp' | 'igmp' | 'icmpv6'
export type AddrFlag =
  | 'passive'
  | 'canonname'
  | 'cannonname'
  | 'numerichost'
  | 'numericserv'
  | 'all'
  | 'v4mapped'
  | 'addrconfig'

/** IANA protocol numbers (the same on every platform). */
export const protocols: Record<Protocol, number> = {
  ip: 0,
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  ipv6: 41,
  icmpv6: 58,
  raw: 255,
}
const protocolNames = new Map(Object.entries(protocols).map(([k, v]) => [v, k as Protocol]))

const c = constants
const aiFlags = new Map(c.aiFlags.map((n, i) => [n, c.aiValues[i]!]))
aiFlags.set('cannonname', aiFlags.get('canonname')!)
const socktypes: Record<SocketType, number> = { tcp: c.sockStream, udp: c.sockDgram, raw: c.sockRaw }
const socktypeNames = new Map(Object.entries(socktypes).map(([k, v]) => [v, k as SocketType]))
const afs: Record<'inet' | 'inet6', number> = { inet: c.afInet, inet6: c.afInet6 }

/** Room for the longest wire form: a tag byte and a unix path. */
export const WIRE_MAX = 128

/**
 * One socket address: what `localAddr()`, `remoteAddr()`, `accept()` and `udp.recv()` return,
 * and what every call that takes an address accepts.
 */
export class Address {
  /** The wire form for the native side, computed once (see `wire()`). */
  #wire: Uint8Array | undefined

  constructor(
    /** `'inet'`, `'inet6'` or `'unix'`. */
    readonly family: Family,
    /** The IP address (`'127.0.0.1'`, `'::1'`) or the unix path. */
    readonly address: string,
    /** The port; 0 for unix sockets. */
    readonly port: number,
    /** The IPv6 scope id (link-local addresses), else 0. */
    readonly scopeId = 0,
  ) {}

  /**
   * @internal The compact byte form a datagram's destination crosses to the native side in,
   * so a reused address is parsed once, not per send.
   */
  wire(): Uint8Array {
    if (this.#wire === undefined) {
      const out = new Uint8Array(WIRE_MAX)
      const n = native.encodeAddress(this.family, this.address, this.port, this.scopeId, out)
      if (n < 0) throw errnoException(-n, 'send', this)
      this.#wire = out.subarray(0, n)
    }
    return this.#wire
  }

  /** @internal Records the wire form the native side reported for this address. */
  setWire(w: Uint8Array): this {
    this.#wire = w
    return this
  }

  /** `'127.0.0.1:80'`, `'[::1]:80'`, or the unix path (`@name` for a Linux abstract name). */
  toString(): string {
    if (this.family === 'unix') return this.address.startsWith('\0') ? '@' + this.address.slice(1) : this.address
    const host = this.family === 'inet6' ? `[${this.address}${this.scopeId ? '%' + this.scopeId : ''}]` : this.address
    return `${host}:${this.port}`
  }
}

interface Entry {
  addr: Address
  type: SocketType | undefined
  protocol: Protocol | undefined
  canonname: string | undefined
}

/**
 * The result of `addr()`: a list of resolved addresses, walked with `next()` or iterated.
 * Each `AddrInfo` is a view of one entry of the list.
 */
export class AddrInfo {
  readonly #list: { entries: Entry[]; freed: boolean }
  readonly #i: number

  /** @internal */
  constructor(list: { entries: Entry[]; freed: boolean }, i = 0) {
    this.#list = list
    this.#i = i
  }

  #entry(): Entry {
    if (this.#list.freed) throw ownError('ERR_ADDR_FREED')
    return this.#list.entries[this.#i]!
  }

  /** The next address of the list, or `null`. */
  next(): AddrInfo | null {
    this.#entry()
    return this.#i + 1 < this.#list.entries.length ? new AddrInfo(this.#list, this.#i + 1) : null
  }

  /** Iterates this address and the ones after it. */
  *addrs(): IterableIterator<AddrInfo> {
    for (let ai: AddrInfo | null = this; ai !== null; ai = ai.next()) yield ai
  }

  [Symbol.iterator](): IterableIterator<AddrInfo> {
    return this.addrs()
  }

  /** `'tcp'`, `'udp'`, `'raw'`, or `undefined` when the lookup did not say. */
  type(): SocketType | undefined {
    return this.#entry().type
  }

  /** `'inet'`, `'inet6'` or `'unix'`. */
  family(): Family {
    return this.#entry().addr.family
  }

  /** `'tcp'`, `'udp'`, `'icmp'`..., or `undefined`. */
  protocol(): Protocol | undefined {
    return this.#entry().protocol
  }

  /** The canonical name (asked for with the `canonname` flag), else `undefined`. */
  name(): string | undefined {
    this.#entry()
    return this.#list.entries[0]!.canonname
  }

  /** This entry as an `Address`. */
  toAddress(): Address {
    return this.#entry().addr
  }

  get address(): string {
    return this.#entry().addr.address
  }

  get port(): number {
    return this.#entry().addr.port
  }

  /** `'127.0.0.1:80'`, `'[::1]:80'`. */
  toString(): string {
    return this.#entry().addr.toString()
  }

  /** Releases the list; idempotent. Later use of any of its entries throws ERR_ADDR_FREED. */
  free(): void {
    this.#list.freed = true
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.#list.freed
  }
}

/** The arguments of `addr()` after validation. */
interface Query {
  host: string | undefined
  port: string
  type: SocketType
  family: Family
  protocol: number
  flags: number
}

function flagsOf(flags: unknown): number {
  if (flags === undefined || flags === null) return 0
  const list = typeof flags === 'string' ? flags.split(/\s+/).filter(Boolean) : flags
  if (!Array.isArray(list)) throw argType('flags', 'a flag name or an array of flag names', flags)
  let bits = 0
  for (const f of list) {
    const v = typeof f === 'string' ? aiFlags.get(f) : undefined
    if (v === undefined) throw argType('flags', `one of ${[...aiFlags.keys()].join(', ')}`, f)
    bits |= v
  }
  return bits
}

function query(
  host?: unknown,
  port?: unknown,
  type?: unknown,
  family: unknown = 'inet',
  protocol: unknown = undefined,
  flags: unknown = undefined,
): Query {
  if (type !== 'tcp' && type !== 'udp' && type !== 'raw') throw argType('type', "'tcp', 'udp' or 'raw'", type)
  if (family !== 'inet' && family !== 'inet6' && family !== 'unix') {
    throw argType('family', "'inet', 'inet6' or 'unix'", family)
  }
  if (protocol !== undefined && !(typeof protocol === 'string' && protocol in protocols)) {
    throw argType('protocol', Object.keys(protocols).join(', '), protocol)
  }
  const v6 = family === 'inet6'
  if (family === 'unix' && (typeof host !== 'string' || host === '' || host === '*')) {
    // '*' and false name IP addresses; a unix socket needs its path spelled out.
    throw argType('host', 'a socket path (or @name for an abstract socket)', host)
  }
  let h: string | undefined
  if (host === undefined || host === null || host === '*') h = v6 ? '::' : '0.0.0.0'
  else if (host === false) h = v6 ? '::1' : '127.0.0.1'
  else if (typeof host === 'string' && host.length > 0) h = host
  else throw argType('host', "a host name, an IP address, '*', false or a path", host)
  let p: string
  if (port === undefined || port === null) p = '0'
  else if (typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) p = String(port)
  else if (typeof port === 'string' && /^\d+$/.test(port) && Number(port) <= 65535) p = String(Number(port))
  // A name, not a number in disguise: '-1' and '70000' are refused like -1 and 70000.
  else if (typeof port === 'string' && port.length > 0 && !/^[-+]?\d+$/.test(port)) p = port
  else throw argType('port', 'an integer from 0 to 65535 or a service name', port)
  return {
    host: h,
    port: p,
    type,
    family,
    protocol: protocol === undefined ? 0 : protocols[protocol as Protocol],
    flags: flagsOf(flags),
  }
}

function fromEntries(q: Query, r: ReturnType<typeof native.lookupSync>): AddrInfo {
  if (r.code) throw lookupError(r.code, r.errno, q.host)
  if (r.entries.length === 0) throw lookupError('EAI_NONAME', 0, q.host)
  const entries = r.entries.map((e) => ({
    addr: new Address(e.family as Family, e.address, e.port, e.scopeId),
    type: socktypeNames.get(e.socktype),
    protocol: protocolNames.get(e.protocol),
    canonname: e.canonname ?? undefined,
  }))
  return new AddrInfo({ entries, freed: false })
}

/** The synchronous answer where no lookup is needed: unix paths and IP literals. */
function fastPath(q: Query): AddrInfo | undefined {
  // getaddrinfo reports the kind's own protocol when none is asked for (none for raw).
  const proto = q.protocol !== 0 ? q.protocol : q.type === 'raw' ? 0 : protocols[q.type]
  const one = (addr: Address, canon?: string): AddrInfo =>
    new AddrInfo({
      entries: [{ addr, type: q.type, protocol: protocolNames.get(proto), canonname: canon }],
      freed: false,
    })
  if (q.family === 'unix') {
    // `@name` spells a Linux abstract name (a leading NUL byte).
    const path = q.host!.startsWith('@') ? '\0' + q.host!.slice(1) : q.host!
    return one(new Address('unix', path, 0))
  }
  const ip = isIP(q.host!)
  const port = Number(q.port)
  // Scoped IPv6 literals (fe80::1%eth0) need getaddrinfo to resolve the interface name.
  if (ip === 0 || !Number.isInteger(port) || q.host!.includes('%')) return undefined
  // Let getaddrinfo decide (and word the error) when the literal's family differs.
  if ((ip === 6) !== (q.family === 'inet6')) return undefined
  const canon = q.flags & aiFlags.get('canonname')! ? q.host : undefined
  return one(new Address(q.family, q.host!, port), canon)
}

type AddrArgs =
  | [ai: AddrInfo]
  | [
      host: string | false | undefined,
      port: number | string | undefined,
      type: SocketType,
      family?: Family,
      protocol?: Protocol,
      flags?: AddrFlag | AddrFlag[],
    ]

function isAddrInfo(v: unknown): v is AddrInfo {
  return v instanceof AddrInfo
}

/**
 * Looks up an address, off the JavaScript thread (IP literals, `'*'`, `false` and unix paths are
 * answered at once). `addr(ai)` passes an `AddrInfo` through.
 *
 * @param host a name, an IP literal, `'*'` (all interfaces, the default), `false` (loopback), or a path for `'unix'`
 * @param port a number or a service name such as `'http'`; default 0
 * @param type `'tcp'`, `'udp'` or `'raw'`
 * @param family `'inet'` (default), `'inet6'` or `'unix'`
 * @param protocol default: the type's
 * @param flags getaddrinfo flags
 * @example
 * const ai = await addr('localhost', 80, 'tcp')
 * for (const a of ai) console.log(a.toString())
 */
export function addr(...args: AddrArgs): Promise<AddrInfo> {
  if (isAddrInfo(args[0])) return Promise.resolve(args[0])
  const q = query(...(args as Parameters<typeof query>))
  const fast = fastPath(q)
  if (fast !== undefined) return Promise.resolve(fast)
  return lookupAsync(q)
}

async function lookupAsync(q: Query): Promise<AddrInfo> {
  const fam = q.family === 'unix' ? 0 : afs[q.family]
  const r = await native.lookup(q.host, q.port, fam, socktypes[q.type], q.protocol, q.flags)
  return fromEntries(q, r)
}

/** `addr()` that blocks the thread for name lookups: for scripts and setup code. */
export function addrSync(...args: AddrArgs): AddrInfo {
  if (isAddrInfo(args[0])) return args[0]
  const q = query(...(args as Parameters<typeof query>))
  const fast = fastPath(q)
  if (fast !== undefined) return fast
  const fam = q.family === 'unix' ? 0 : afs[q.family]
  return fromEntries(q, native.lookupSync(q.host, q.port, fam, socktypes[q.type], q.protocol, q.flags))
}

/** Anything a socket call accepts as an address: an `AddrInfo`, an `Address`, or `host, port`. */
export type AddressLike = AddrInfo | Address

/**
 * Resolves a socket call's address arguments (`ai`, `address`, or `host, port`) for a socket of
 * `type` and `family`. Validation errors throw at once; lookup failures reject.
 */
export function resolveTarget(
  target: unknown,
  port: unknown,
  type: SocketType,
  family: Family,
  flags: unknown,
): Promise<Address[]> | Address[] {
  if (target instanceof Address) return [target]
  if (isAddrInfo(target)) {
    if (target.freed) throw ownError('ERR_ADDR_FREED')
    return [...target].map((a) => a.toAddress())
  }
  const q = query(target, port, type, family, undefined, flags)
  const fast = fastPath(q)
  if (fast !== undefined) return [fast.toAddress()]
  return lookupAsync(q).then((ai) => [...ai].map((a) => a.toAddress()))
}

export { SocketError }
