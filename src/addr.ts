/**
 * Addresses: `addr()` lookups (getaddrinfo off the JS thread, IP literals synchronously),
 * `AddrInfo` result lists, and `Address`, the single address that sockets report and accept.
 */
import { isIP } from 'node:net'
import native, { constants } from './binding'
import './dispose'
import { argRange, argType, argValue, errnoException, lookupError, ownError, SocketError } from './errors'

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
/** Protocol names by number: an array, as an answer for a literal reads it on every call. */
const protocolNames: (Protocol | undefined)[] = []
for (const [name, n] of Object.entries(protocols)) protocolNames[n] = name as Protocol

/** The name of IANA protocol number `n`, or undefined for one without a name here. */
export function protocolName(n: number): Protocol | undefined {
  return protocolNames[n]
}

const c = constants
const aiFlags = new Map(c.aiFlags.map((n, i) => [n, c.aiValues[i]!]))
aiFlags.set('cannonname', aiFlags.get('canonname')!)
const CANONNAME = aiFlags.get('canonname')!
const socktypes: Record<SocketType, number> = { tcp: c.sockStream, udp: c.sockDgram, raw: c.sockRaw }
const socktypeNames = new Map(Object.entries(socktypes).map(([k, v]) => [v, k as SocketType]))
const afs: Record<'inet' | 'inet6', number> = { inet: c.afInet, inet6: c.afInet6 }

/** `v` as a Family; throws TypeError for anything else. */
function checkFamily(v: unknown): Family {
  if (v !== 'inet' && v !== 'inet6' && v !== 'unix') throw argType('family', "'inet', 'inet6' or 'unix'", v)
  return v
}

/** Throws TypeError unless `v` is a number, RangeError unless an integer from 0 to `max`. */
function checkUint(name: string, v: unknown, max: number): void {
  if (typeof v !== 'number') throw argType(name, 'an integer', v)
  if (!(Number.isInteger(v) && v >= 0 && v <= max)) throw argRange(name, `an integer from 0 to ${max}`, v)
}

/**
 * Throws ERR_INVALID_ARG_VALUE for a NUL byte in `s`: the OS would read the text only up to it.
 * A Linux abstract socket name (`abstract`: one that starts with NUL) may hold any byte.
 */
export function noNul(name: string, s: string, abstract = false): void {
  if (s.includes('\0') && !(abstract && s.startsWith('\0'))) throw argValue(name, 'a string without NUL bytes', s)
}

/** Room for the longest wire form: a tag byte and a unix path. */
export const WIRE_MAX = 128

/**
 * One socket address: what `localAddr()`, `remoteAddr()`, `accept()` and `udp.recv()` return,
 * and what every call that takes an address accepts.
 */
export class Address {
  /** The wire form for the native side, computed once (see `wire()`). */
  #wire: Uint8Array | undefined

  /** Throws TypeError/RangeError for a field no socket address can have. */
  constructor(
    /** `'inet'`, `'inet6'` or `'unix'`. */
    readonly family: Family,
    /** The IP address (`'127.0.0.1'`, `'::1'`) or the unix path. */
    readonly address: string,
    /** The port; 0 for unix sockets. */
    readonly port: number,
    /** The IPv6 scope id (link-local addresses), else 0. */
    readonly scopeId = 0,
  ) {
    // Cheap enough for every accepted connection; a wrong field would otherwise be converted
    // silently by the binding (a port wrapped modulo 2^32, a family ignored).
    checkFamily(family)
    if (typeof address !== 'string') throw argType('address', 'a string', address)
    if (family === 'unix') noNul('address', address, true)
    checkUint('port', port, 65535)
    checkUint('scopeId', scopeId, 0xffffffff)
  }

  /**
   * @internal Whether `v` was made by this constructor: an object that only has Address's
   * prototype (`Object.create`) would pass `instanceof` and then fail on the private field.
   */
  static is(v: unknown): v is Address {
    return typeof v === 'object' && v !== null && #wire in v
  }

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

/**
 * The result of `addr()`: a list of resolved addresses, walked with `next()` or iterated.
 * Each `AddrInfo` is a view of one entry of the list; the first entry's view (the head) also
 * holds the list's freed state, so a literal's answer is one object. Kind and protocol are the
 * list's: getaddrinfo is always asked for one socket type, so its entries agree on both.
 */
export class AddrInfo {
  readonly #addrs: readonly Address[]
  readonly #type: SocketType | undefined
  readonly #protocol: Protocol | undefined
  readonly #canonname: string | undefined
  readonly #head: AddrInfo
  readonly #i: number
  #freed = false

  /** @internal The list's head, or (with `head`) the view of its entry `i`. */
  constructor(
    addrs: readonly Address[],
    type: SocketType | undefined,
    protocol: Protocol | undefined,
    canonname: string | undefined,
    head?: AddrInfo,
    i = 0,
  ) {
    this.#addrs = addrs
    this.#type = type
    this.#protocol = protocol
    this.#canonname = canonname
    this.#head = head ?? this
    this.#i = i
  }

  /** @internal Whether `v` was made by this constructor (see `Address.is`). */
  static is(v: unknown): v is AddrInfo {
    return typeof v === 'object' && v !== null && #head in v
  }

  /** Throws ERR_ADDR_FREED once the list is freed. */
  #live(): this {
    if (this.#head.#freed) throw ownError('ERR_ADDR_FREED')
    return this
  }

  #addr(): Address {
    return this.#live().#addrs[this.#i]!
  }

  /** The next address of the list, or `null`. */
  next(): AddrInfo | null {
    const i = this.#live().#i + 1
    return i < this.#addrs.length ? new AddrInfo(this.#addrs, this.#type, this.#protocol, this.#canonname, this.#head, i) : null
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
    return this.#live().#type
  }

  /** `'inet'`, `'inet6'` or `'unix'`. */
  family(): Family {
    return this.#addr().family
  }

  /** `'tcp'`, `'udp'`, `'icmp'`..., or `undefined`. */
  protocol(): Protocol | undefined {
    return this.#live().#protocol
  }

  /** The canonical name (asked for with the `canonname` flag), else `undefined`. */
  name(): string | undefined {
    return this.#live().#canonname
  }

  /** This entry as an `Address`. */
  toAddress(): Address {
    return this.#addr()
  }

  get address(): string {
    return this.#addr().address
  }

  get port(): number {
    return this.#addr().port
  }

  /** `'127.0.0.1:80'`, `'[::1]:80'`. */
  toString(): string {
    return this.#addr().toString()
  }

  /** Releases the list; idempotent. Later use of any of its entries throws ERR_ADDR_FREED. */
  free(): void {
    this.#head.#freed = true
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.#head.#freed
  }

  /** Frees the list (`using ai = await addr(...)`): the same as `free()`. */
  [Symbol.dispose](): void {
    this.free()
  }
}

/** The arguments of `addr()` after validation. */
interface Query {
  host: string
  /** A port number, or a service name for getaddrinfo. */
  port: number | string
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

function typeOf(type: unknown): SocketType {
  if (type !== 'tcp' && type !== 'udp' && type !== 'raw') throw argType('type', "'tcp', 'udp' or 'raw'", type)
  return type
}

/** A `family` argument, validated (`'inet'` when left out). */
export function familyOf(family: unknown): Family {
  return family === undefined ? 'inet' : checkFamily(family)
}

/** A `protocol` name, validated, as its number (0, the kind's default, when left out). */
export function protocolOf(protocol: unknown): number {
  if (protocol === undefined) return 0
  // Own names only: 'toString' is `in` every object.
  if (!(typeof protocol === 'string' && Object.hasOwn(protocols, protocol))) {
    throw argType('protocol', Object.keys(protocols).join(', '), protocol)
  }
  return protocols[protocol as Protocol]
}

function hostOf(host: unknown, family: Family): string {
  const v6 = family === 'inet6'
  if (family === 'unix' && (typeof host !== 'string' || host === '' || host === '*')) {
    // '*' and false name IP addresses; a unix socket needs its path spelled out.
    throw argType('host', 'a socket path (or @name for an abstract socket)', host)
  }
  if (host === undefined || host === null || host === '*') return v6 ? '::' : '0.0.0.0'
  if (host === false) return v6 ? '::1' : '127.0.0.1'
  // A NUL byte is refused where the text would reach getaddrinfo (see answer()), and in a unix
  // path by the Address it becomes (where an abstract name may hold NUL).
  if (typeof host === 'string' && host.length > 0) return host
  throw argType('host', "a host name, an IP address, '*', false or a path", host)
}

/** A port number, or a service name for getaddrinfo. */
function portOf(port: unknown): number | string {
  if (port === undefined || port === null) return 0
  if (typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) return port
  if (typeof port === 'string' && /^\d+$/.test(port) && Number(port) <= 65535) return Number(port)
  // A name, not a number in disguise: '-1' and '70000' are refused like -1 and 70000.
  if (typeof port === 'string' && port.length > 0 && !/^[-+]?\d+$/.test(port)) {
    noNul('port', port)
    return port
  }
  throw argType('port', 'an integer from 0 to 65535 or a service name', port)
}

/**
 * Validates `addr()`'s arguments: the answer at once where no lookup is needed (a literal or a
 * path, the common case, which makes no query object), else the query for getaddrinfo.
 */
function answer(host: unknown, port: unknown, type: unknown, family: unknown, protocol: unknown, flags: unknown): AddrInfo | Query {
  const t = typeOf(type)
  const f = familyOf(family)
  const proto = protocolOf(protocol)
  const h = hostOf(host, f)
  const p = portOf(port)
  const bits = flagsOf(flags)
  const lit = literal(h, p, t, f, proto, bits)
  if (lit !== undefined) return lit
  noNul('host', h)
  return { host: h, port: p, type: t, family: f, protocol: proto, flags: bits }
}

function fromEntries(q: Query, r: ReturnType<typeof native.lookupSync>): AddrInfo {
  if (r.code) throw lookupError(r.code, r.errno, q.host)
  if (r.entries.length === 0) throw lookupError('EAI_NONAME', 0, q.host)
  const first = r.entries[0]!
  return new AddrInfo(
    r.entries.map((e) => new Address(e.family as Family, e.address, e.port, e.scopeId)),
    socktypeNames.get(first.socktype),
    protocolName(first.protocol),
    first.canonname ?? undefined,
  )
}

/**
 * IP literals answered lately, by host text: the one-address list of each (Addresses are
 * immutable and AddrInfo never changes its list, so lists are shared). A program that keeps
 * naming the same peer skips the literal's parse; a full table is simply emptied.
 */
const literals = new Map<string, readonly Address[]>()
const LITERALS_MAX = 256

/**
 * The answer for a TCP or UDP IP literal answered lately with the same port and family and no
 * protocol or flags, else undefined. A program that keeps naming its peer takes this path on
 * every call, and it checks nothing: each argument equals one that was checked when the entry
 * was made. (The full checks cost about a third of a literal's answer.) Callers try it before
 * `answer()`.
 */
function knownLiteral(host: unknown, port: unknown, type: unknown, family: unknown, protocol: unknown, flags: unknown): AddrInfo | undefined {
  if (typeof host !== 'string' || protocol !== undefined || flags !== undefined || (type !== 'tcp' && type !== 'udp')) return undefined
  const list = remembered(host, port, family === undefined ? 'inet' : family)
  // getaddrinfo reports the kind's own protocol, named as the kind.
  return list === undefined ? undefined : new AddrInfo(list, type, type, undefined)
}

/** The remembered list of literal `host` if its address has this port and family, else undefined. */
function remembered(host: string, port: unknown, family: unknown): readonly Address[] | undefined {
  const list = literals.get(host)
  const a = list?.[0]
  return a !== undefined && a.port === port && a.family === family ? list : undefined
}

/** The one-address list of an IP literal of `family`, or undefined for anything else. */
function ipLiteral(host: string, port: number, family: Family): readonly Address[] | undefined {
  const known = remembered(host, port, family)
  if (known !== undefined) return known
  // A scoped IPv6 literal (fe80::1%eth0) needs getaddrinfo to resolve the interface name.
  if (host.includes('%')) return undefined
  const ip = isIP(host)
  // Let getaddrinfo decide (and word the error) when the literal's family differs.
  if (ip === 0 || (ip === 6) !== (family === 'inet6')) return undefined
  if (literals.size >= LITERALS_MAX) literals.clear()
  // Frozen: every answer for this literal shares it, so no caller may change it for the others.
  const fresh = new Address(family, host, port)
  Object.freeze(fresh)
  const list = [fresh]
  literals.set(host, list)
  return list
}

/** The answer where no lookup is needed, unix paths and IP literals; else undefined. */
function literal(host: string, port: number | string, type: SocketType, family: Family, protocol: number, flags: number): AddrInfo | undefined {
  let addrs: readonly Address[] | undefined
  if (family === 'unix') {
    // `@name` spells a Linux abstract name (a leading NUL byte).
    addrs = [new Address('unix', host.startsWith('@') ? '\0' + host.slice(1) : host, 0)]
  } else {
    // A service name needs getaddrinfo.
    addrs = typeof port === 'number' ? ipLiteral(host, port, family) : undefined
    if (addrs === undefined) return undefined
  }
  // getaddrinfo reports the kind's own protocol when none is asked for (none for raw); tcp and
  // udp name their protocols as themselves.
  const proto = protocol !== 0 ? protocolName(protocol) : type === 'raw' ? undefined : type
  const canon = flags & CANONNAME && family !== 'unix' ? host : undefined
  return new AddrInfo(addrs, type, proto, canon)
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
export function addr(...args: AddrArgs): Promise<AddrInfo>
export function addr(host?: unknown, port?: unknown, type?: unknown, family?: unknown, protocol?: unknown, flags?: unknown): Promise<AddrInfo> {
  // First, and apart from the other forms: JIT feedback from name lookups then cannot slow it.
  const known = knownLiteral(host, port, type, family, protocol, flags)
  if (known !== undefined) return Promise.resolve(known)
  if (AddrInfo.is(host)) return Promise.resolve(host)
  const a = answer(host, port, type, family, protocol, flags)
  return AddrInfo.is(a) ? Promise.resolve(a) : lookupAsync(a)
}

/** A query as getaddrinfo's arguments: host, service, family, socket type, protocol, flags. */
function hints(q: Query): Parameters<typeof native.lookupSync> {
  return [q.host, String(q.port), q.family === 'unix' ? 0 : afs[q.family], socktypes[q.type], q.protocol, q.flags]
}

async function lookupAsync(q: Query): Promise<AddrInfo> {
  return fromEntries(q, await native.lookup(...hints(q)))
}

/** `addr()` that blocks the thread for name lookups: for scripts and setup code. */
export function addrSync(...args: AddrArgs): AddrInfo
export function addrSync(host?: unknown, port?: unknown, type?: unknown, family?: unknown, protocol?: unknown, flags?: unknown): AddrInfo {
  const known = knownLiteral(host, port, type, family, protocol, flags)
  if (known !== undefined) return known
  if (AddrInfo.is(host)) return host
  const a = answer(host, port, type, family, protocol, flags)
  return AddrInfo.is(a) ? a : fromEntries(a, native.lookupSync(...hints(a)))
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
  if (Address.is(target)) return [target]
  if (AddrInfo.is(target)) {
    if (target.freed) throw ownError('ERR_ADDR_FREED')
    return addresses(target)
  }
  const a = knownLiteral(target, port, type, family, undefined, flags) ?? answer(target, port, type, family, undefined, flags)
  return AddrInfo.is(a) ? addresses(a) : lookupAsync(a).then(addresses)
}

function addresses(ai: AddrInfo): Address[] {
  return [...ai].map((a) => a.toAddress())
}

export { SocketError }
