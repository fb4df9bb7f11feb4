/**
 * What every socket kind shares: identity (`type/family/protocol`), `bind`, options,
 * addresses, `fd`, and `close`.
 */
import { lstatSync, unlinkSync } from 'node:fs'
import { resolve } from 'node:path'
import { isUint8Array } from 'node:util/types'
import { abortError, deadlineOf, signalOf } from './abort'
import native from './binding'
import { debug, debugging } from './debug'
import './dispose'
import { Address, type AddressLike, type Family, familyOf, type Protocol, protocolName, protocolOf, protocols, resolveTarget, type SocketType } from './addr'
import { argRange, argType, errnoException, ownError } from './errors'
import { getopt, type OptionValue, setopt } from './options'
import { forget, Io, Op } from './scheduler'
import { counters } from './stats'

/** Validates `buf` and `maxlen` for recv/send; returns the byte count to use. */
export function span(buf: unknown, maxlen: unknown, what: string): number {
  if (!isBytes(buf)) throw argType(what, 'a Uint8Array or Buffer', buf)
  return counted(buf.byteLength, maxlen)
}

/**
 * Whether `b` is a real Uint8Array (a Buffer is one). The common case passes the first test,
 * which compiles to two type checks. A Proxy, or an object given Uint8Array's prototype, has no
 * typed array inside: `isView` is false, and `instanceof` (which a revoked Proxy would make
 * throw) is not reached. An array of another realm (`vm`, a test runner's sandbox) fails
 * `instanceof` and is recognised by its internal type.
 */
export function isBytes(b: unknown): b is Uint8Array {
  return (ArrayBuffer.isView(b) && b instanceof Uint8Array) || isUint8Array(b)
}

/** Whether `v` is an array; false (rather than a throw) for a revoked Proxy. */
export function isArray(v: unknown): v is readonly unknown[] {
  try {
    return Array.isArray(v)
  } catch {
    return false
  }
}

/** Validates `maxlen` against data of `size` bytes; returns the byte count to use. */
export function counted(size: number, maxlen: unknown): number {
  if (maxlen === undefined || maxlen === null) return size
  if (typeof maxlen !== 'number' || !Number.isInteger(maxlen)) throw argType('maxlen', 'an integer', maxlen)
  if (maxlen < 0 || maxlen > size) throw argRange('maxlen', `from 0 to the data's length in bytes (${size})`, maxlen)
  return maxlen
}

/** Validates what a send takes, `data` and `maxlen`; returns the byte count to send. */
export function sendSize(data: unknown, maxlen: unknown): number {
  if (typeof data === 'string') return counted(Buffer.byteLength(data, 'utf8'), maxlen)
  return span(data, maxlen, 'data')
}

/**
 * What a send hands to the native side: bytes, or a whole string, which the native side
 * encodes itself (no intermediate Buffer). Part of a string (`maxlen`) is cut from its bytes.
 */
export function payload(data: string | Uint8Array, maxlen: unknown): string | Uint8Array {
  return typeof data === 'string' && maxlen !== undefined && maxlen !== null ? Buffer.from(data, 'utf8') : data
}

/** One send syscall of `len` bytes of `data` to the connected peer, or to `wire`. */
export function sendOnce(id: number, data: string | Uint8Array, len: number, wire: Uint8Array | undefined): number {
  if (typeof data === 'string') return native.sendText(id, data, len, wire)
  return wire === undefined ? native.send(id, data, 0, len) : native.sendTo(id, data, 0, len, wire)
}

/** A unix socket file a socket created by binding: its absolute path and identity. */
interface UnixFile {
  path: string
  dev: number
  ino: number
}

/**
 * The unix socket files that sockets created by binding, by their Io (which closing needs, and
 * which outlives a dropped socket): a table rather than a field, so other sockets pay nothing.
 */
const unixFiles = new WeakMap<Io, UnixFile>()

/**
 * Closes the OS socket and removes the unix socket file it created, if that file is still the
 * one it created: by then (a socket collected long after it was dropped) the path may belong to
 * another socket, which must keep its file.
 */
function release(r: Io): void {
  native.close(r.id)
  const f = unixFiles.get(r)
  if (f === undefined) return
  try {
    const now = lstatSync(f.path)
    if (now.dev === f.dev && now.ino === f.ino) unlinkSync(f.path)
  } catch {}
}

/**
 * Closes sockets dropped without `close()` once they are collected, as the seed did. A socket
 * that an operation waits on is never collected: the waiting op holds it. Registered without an
 * unregister token (the registry's map of tokens costs about 40 B a socket): one closed or
 * detached before it was collected is skipped here instead.
 */
const dropped = new FinalizationRegistry<Io>((r) => {
  if (r.closed) return
  release(r)
  forget(r.index)
  counters.sockets--
  if (debugging) debug('close: #%d (collected)', r.index)
})

/** What `renew()` re-applies to a socket's replacement: one field in the socket, not two. */
class Kept {
  /** Options set so far. */
  readonly opts = new Map<string, OptionValue>()
  /** The explicit bind. */
  bound: Address | undefined = undefined
}

/** @internal Proves a constructor call comes from this library (sockets come from `tcp()`...). */
export const kCreate = Symbol('socket2.create')

/** The socket types and families, by their number in a socket's `#kind`. */
const TYPES: readonly SocketType[] = ['tcp', 'udp', 'raw']
const FAMILIES: readonly Family[] = ['inet', 'inet6', 'unix']

/** A socket of any kind. Made by `tcp()`, `udp()` or `raw()`. */
export class Socket {
  /**
   * Type, family and protocol number in one small integer, `type | family << 2 | protocol << 4`
   * (one field rather than three: 16 B less per socket).
   */
  readonly #kind: number
  /** What `renew()` re-applies; absent until an option is set or the socket bound. */
  #kept: Kept | undefined
  /**
   * @internal The waiting state the dispatch resumes, with the native id (`io.id`, negative
   * once closed), which `close()` and the closing of a collected socket need.
   */
  readonly io: Io

  /** @internal */
  constructor(key: symbol, type: SocketType, family: Family, protocol: number, id: number) {
    if (key !== kCreate) throw new TypeError('Sockets are made by tcp(), not constructed directly')
    this.#kind = TYPES.indexOf(type) | (FAMILIES.indexOf(family) << 2) | (protocol << 4)
    this.io = new Io(id)
    dropped.register(this, this.io)
    counters.sockets++
    if (debugging) debug('open: %s %s #%d', type, family, this.io.index)
  }

  /** @internal The native id; throws ERR_SOCKET_CLOSED after `close()`. */
  id(syscall: string): number {
    const id = this.io.id
    if (id < 0) throw ownError('ERR_SOCKET_CLOSED', syscall)
    return id
  }

  /** `'tcp'`, `'udp'` or `'raw'`. */
  type(): SocketType {
    return TYPES[this.#kind & 3]!
  }

  /** `'inet'`, `'inet6'` or `'unix'`. */
  family(): Family {
    return FAMILIES[(this.#kind >> 2) & 3]!
  }

  /** `'tcp'`, `'udp'`, `'icmp'`... (the kind's default when none was given). */
  protocol(): Protocol {
    const p = this.protocolNumber
    return (p !== 0 && protocolName(p)) || this.type()
  }

  /** @internal The IANA protocol number given at creation (0: the kind's default). */
  get protocolNumber(): number {
    return this.#kind >> 4
  }

  /** Whether `close()` was called (or a deadline closed the socket). */
  get closed(): boolean {
    return this.io.closed
  }

  /**
   * The OS descriptor (fd on Unix, SOCKET on Windows), for interop. Do not close it yourself, and
   * keep this object while you use it: the descriptor closes with the socket, also when a socket
   * dropped without `close()` is collected.
   */
  get fd(): number {
    return Number(native.fd(this.id('fd')))
  }

  /**
   * Binds to an address: `bind(address)`, `bind(ai)` or `bind(host, port, flags?)`; host `'*'`
   * (default) is every interface.
   */
  bind(target?: AddressLike | string | false, port?: number | string, flags?: string | string[]): Promise<void> {
    const id = this.id('bind')
    const addrs = resolveTarget(target, port, this.type(), this.family(), flags ?? 'passive')
    return Array.isArray(addrs) ? this.bindTo(id, addrs) : addrs.then((a) => this.bindTo(this.id('bind'), a))
  }

  private async bindTo(id: number, addrs: Address[]): Promise<void> {
    this.bindSync(id, addrs[0]!)
  }

  /** @internal Binds to one resolved address; throws the OS error. */
  bindSync(id: number, a: Address): void {
    const e = native.bind(id, a.family, a.address, a.port, a.scopeId)
    if (e < 0) throw errnoException(-e, 'bind', a)
    ;(this.#kept ??= new Kept()).bound = a
    if (a.family === 'unix' && a.address !== '' && !a.address.startsWith('\0')) {
      const path = resolve(a.address)
      try {
        const { dev, ino } = lstatSync(path)
        unixFiles.set(this.io, { path, dev, ino })
      } catch {}
    }
  }

  /**
   * @internal Replaces the OS socket after a failed connect (it cannot connect again), keeping
   * this object, its options and its explicit binding.
   */
  renew(): void {
    const id = native.reopen(this.id('connect'))
    if (id < 0) throw errnoException(-id, 'socket')
    // Same slot, new generation: the old socket's late events cannot reach the new one.
    this.io.id = id
    const kept = this.#kept
    if (kept === undefined) return
    for (const [name, value] of kept.opts) setopt(id, name, value)
    if (kept.bound !== undefined) this.bindSync(id, kept.bound)
  }

  /** Sets a socket option (see the README's table): `s.setopt('so_reuseaddr', true)`. */
  setopt(name: string, value: OptionValue): void {
    setopt(this.id('setsockopt'), name, value)
    ;(this.#kept ??= new Kept()).opts.set(name, value)
  }

  /** Reads a socket option: `s.getopt('so_rcvbuf')`. */
  getopt(name: string): OptionValue {
    return getopt(this.id('getsockopt'), name)
  }

  /** The address the socket is bound to. */
  localAddr(): Address {
    return this.address(false)
  }

  /** The address of the connected peer (ENOTCONN when not connected). */
  remoteAddr(): Address {
    return this.address(true)
  }

  private address(peer: boolean): Address {
    const syscall = peer ? 'getpeername' : 'getsockname'
    return nativeAddress(native.address(this.id(syscall), peer), syscall)
  }

  /**
   * Closes the socket. For TCP the kernel sends RST when unread data is pending or `so_linger`
   * is 0, else FIN. A unix socket file the socket created by binding is removed. Idempotent.
   * Every operation waiting on the socket, in any thread, rejects at once with ERR_SOCKET_CLOSED.
   */
  close(): void {
    if (this.io.closed) return
    release(this.io)
    this.gone('close')
  }

  /**
   * Gives the socket up without closing it and returns its OS descriptor (fd on Unix, SOCKET on
   * Windows), which is then yours: hand it to `adopt(fd)` in this or another thread (send the
   * number with `postMessage`), or to another library. Exactly one owner at a time: after
   * `detach()` this object is closed (every operation waiting on it, in any thread, rejects with
   * ERR_SOCKET_CLOSED, as on `close()`), and data the kernel holds, received but not yet read,
   * stays with the descriptor. A unix socket file it created stays too.
   *
   * Throws SocketError `EBUSY` on a datagram socket that holds a datagram received in a batch
   * (receive it first), `ERR_SOCKET_CLOSED` after `close()`.
   *
   * @example
   * worker.postMessage(conn.detach())   // in the worker: const conn = adopt(fd, 'tcp')
   */
  detach(): number {
    const fd = native.detach(this.id('detach'))
    if (fd < 0) throw errnoException(-fd, 'detach')
    this.gone('detach')
    return fd
  }

  /**
   * The socket left this object (closed or detached): waiting operations reject. Here and in
   * the socket kinds, helpers are `private` rather than `#` methods: a class with `#` methods
   * stores its brand in every instance.
   */
  private gone(how: string): void {
    counters.sockets--
    if (debugging) debug('%s: #%d', how, this.io.index)
    this.io.close()
  }

  /** Closes the socket (`using s = tcp()`): the same as `close()`. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** Closes the socket (`await using s = tcp()`): the same as `close()`, which never waits. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close()
    return Promise.resolve()
  }

  /**
   * @internal The opening of a call that may wait on direction `dir` (0 read, 1 write):
   * validates `expires` (TypeError), then gives the socket's id (ERR_SOCKET_CLOSED once
   * closed), or the promise that ends the call at once: ERR_SOCKET_BUSY while an operation
   * waits on `dir`, AbortError for an already aborted signal.
   */
  begin(dir: 0 | 1, syscall: string, expires: unknown): number | Promise<never> {
    deadlineOf(expires)
    const signal = signalOf(expires)
    const id = this.id(syscall)
    const busy = this.io.busy(dir, syscall)
    if (busy !== undefined) return busy
    if (signal?.aborted) return this.aborted(signal)
    return id
  }

  /**
   * @internal Parks `op` on `dir` until it completes, the deadline in `expires` passes or its
   * signal aborts. `expires` is read again here, on the path that waits only, so that the path
   * that does not carries nothing from `begin`.
   */
  wait<T>(dir: 0 | 1, op: Op<T>, expires: unknown): Promise<T> {
    return this.io.park(dir, op, deadlineOf(expires), signalOf(expires))
  }

  /**
   * @internal An operation called with an already aborted signal: the socket closes as on an
   * abort while waiting, and no syscall is made.
   */
  aborted(signal: AbortSignal): Promise<never> {
    this.close()
    return Promise.reject(abortError(signal))
  }
}

/** An address as the native side reports it (`errno` non-zero on failure). */
interface NativeAddress {
  family: string
  address: string
  port: number
  scopeId: number
  errno: number
}

/** Converts an address from the native side, throwing its error. */
export function nativeAddress(a: NativeAddress, syscall: string): Address {
  if (a.errno !== 0) throw errnoException(a.errno, syscall)
  return new Address(a.family as Family, a.address, a.port, a.scopeId)
}

/** An operation on a caller's buffer: the socket, the buffer and how many of its bytes. */
export abstract class BufferOp<S extends Socket, T> extends Op<T> {
  constructor(
    readonly sock: S,
    readonly buf: Uint8Array,
    readonly len: number,
  ) {
    super()
  }
}

/** Opens a native socket: the id, or throws the OS error (EACCES/EPERM for raw without privilege). */
export function openSocket(type: SocketType, family: Family, protocol: number): number {
  const id = native.open(type, family, protocol)
  if (id < 0) throw errnoException(-id, 'socket')
  return id
}

/** Validates the `family` and `protocol` arguments of the socket constructors. */
export function socketArgs(family: unknown, protocol: unknown, def: Protocol): [Family, number] {
  const fam = familyOf(family)
  if (protocol === undefined) return [fam, fam === 'unix' ? 0 : protocols[def]]
  return [fam, protocolOf(protocol)]
}
