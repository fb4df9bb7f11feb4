/**
 * What UDP and raw sockets share: one datagram per `send`, one per `recv`, the sender's
 * address with each, many per call with `sendMany`/`recvMany`, and `connect` to set a default
 * peer.
 */
import { abortable, deadlineOf, type Expires, signalOf } from './abort'
import native, { constants as nativeConstants } from './binding'
import { Address, AddrInfo, type AddressLike, resolveTarget, WIRE_MAX } from './addr'
import { constants } from 'node:os'
import { argRange, argType, errnoException, ioError, SocketError } from './errors'
import { AGAIN, completed, failed, Op, WOULD_BLOCK } from './scheduler'
import { BufferOp, isArray, isBytes, nativeAddress, payload, sendOnce, sendSize, Socket, span } from './socket'

/** The most datagrams one `sendMany` or `recvMany` takes. */
export const MAX_BATCH = nativeConstants.maxBatch

/** A datagram for `sendMany`: its bytes (a string as UTF-8) and, unless connected, where to. */
export interface Message {
  data: string | Uint8Array
  /** The destination; without one, the connected peer. */
  to?: AddressLike
}

/** A datagram `recvMany` received into the buffer at the same index. */
export interface Received {
  /** The bytes in the buffer (all of the datagram unless `truncated`). */
  length: number
  from: Address
  /** The datagram was longer than its buffer: the kernel dropped the rest. */
  truncated: boolean
}

/** Whether `v` is a datagram's destination: a host (a string, `false` for loopback) or an address object. */
function isDestination(v: unknown): boolean {
  return typeof v === 'string' || v === false || Address.is(v) || AddrInfo.is(v)
}

/** A `send` call decoded by `decodeSend`: one object, refilled by every call (no allocation). */
const form = { maxlen: undefined as unknown, target: undefined as unknown, port: undefined as unknown, expires: undefined as unknown }

/**
 * Decodes the call forms of a datagram `send` (its arguments after `data`) into `form`:
 *   send(data, address | ai, expires?)         send(data, host, port?, expires?)
 *   send(data, maxlen, address | ai, expires?) send(data, maxlen, host, port?, expires?)
 *   send(data, maxlen?, expires?)              once connected
 * told apart by where the destination sits. `expires` is a `clock()` time or
 * `{ expires?, signal? }`, so an options object is never a destination. Returns how many of
 * the arguments the form has: any after them must be undefined.
 */
function decodeSend(a: unknown, b: unknown, c: unknown, d: unknown): number {
  form.maxlen = form.target = form.port = form.expires = undefined
  if (isDestination(a)) return destination(a, b, c, 0)
  form.maxlen = a
  if (isDestination(b)) return destination(b, c, d, 1)
  // A destination after one more argument: `maxlen` is what was wrong.
  if (isDestination(c)) throw argType('maxlen', 'a number or undefined', a)
  form.expires = b
  return 2
}

/** The rest of a form from its destination on: `address, expires?` or `host, port?, expires?`. */
function destination(target: unknown, x: unknown, y: unknown, before: number): number {
  form.target = target
  if (typeof target === 'object') {
    form.expires = x
    return before + 2
  }
  form.port = x
  form.expires = y
  return before + 3
}

/** `[truncated, wire length, sender's wire form]` of the last datagram received. */
const meta = new Uint8Array(2 + WIRE_MAX)

/** Bytes per datagram in `batchMeta`. */
const STRIDE = nativeConstants.metaStride
/**
 * What `recvMany` received, one record of `STRIDE` bytes per datagram: `[length (int32),
 * truncated, wire length, sender's wire form]`. Made on first use.
 */
let batchMeta: Uint8Array | undefined
/** `batchMeta`'s lengths: element `i * STRIDE / 4`. */
let batchLengths: Int32Array | undefined

/** Validates a batch argument: an array of 1 to MAX_BATCH elements. */
function batchOf(v: unknown, name: string): readonly unknown[] {
  if (!isArray(v)) throw argType(name, 'an array', v)
  if (v.length === 0 || v.length > MAX_BATCH) throw argRange(`${name}.length`, `from 1 to ${MAX_BATCH}`, v.length)
  return v
}

/**
 * `sendMany`'s messages as the native side takes them: the bytes, and the destinations in wire
 * form (undefined when none has one). Messages that are all bytes pass as they are.
 */
function outgoing(msgs: readonly unknown[], sock: Datagram): [Uint8Array[], (Uint8Array | undefined)[] | undefined] {
  let bufs: Uint8Array[] | undefined
  let wires: (Uint8Array | undefined)[] | undefined
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]
    if (isBytes(m)) {
      bufs?.push(m)
      wires?.push(undefined)
      continue
    }
    bufs ??= (msgs as Uint8Array[]).slice(0, i)
    let data: unknown = m
    let to: unknown
    if (typeof m === 'object' && m !== null) ({ data, to } = m as Message)
    if (typeof data === 'string') data = Buffer.from(data, 'utf8')
    else if (!isBytes(data)) throw argType(m === data ? `msgs[${i}]` : `msgs[${i}].data`, 'a Uint8Array, a string or { data, to? }', data)
    bufs.push(data as Uint8Array)
    if (to === undefined) {
      wires?.push(undefined)
      continue
    }
    if (!Address.is(to) && !AddrInfo.is(to)) throw argType(`msgs[${i}].to`, 'an Address or AddrInfo', to)
    wires ??= new Array<Uint8Array | undefined>(i).fill(undefined)
    wires.push((resolveTarget(to, undefined, sock.type(), sock.family(), undefined) as Address[])[0]!.wire())
  }
  return [bufs ?? (msgs as Uint8Array[]), wires]
}

/** A datagram socket: UDP, unix datagram, or raw. */
export class Datagram extends Socket {
  /** The last sender, reused while datagrams keep coming from it (no allocation per datagram). */
  #last: Address | undefined

  /** @internal The sender of the datagram just received, from `meta`. */
  sender(): Address {
    return this.from(meta, 2, meta[1]!, -1)
  }

  /**
   * The sender whose wire form is the `n` bytes of `bytes` at `at`: the last one when they are
   * its own, else the native side's (`lastPeer`, or `receivedFrom(batch)` for a batch's).
   */
  private from(bytes: Uint8Array, at: number, n: number, batch: number): Address {
    const last = this.#last?.wire()
    if (last !== undefined && last.length === n) {
      let same = true
      for (let i = 0; i < n && same; i++) same = last[i] === bytes[at + i]
      if (same) return this.#last!
    }
    const peer = batch < 0 ? native.lastPeer() : native.receivedFrom(batch)
    this.#last = nativeAddress(peer, 'recv').setWire(bytes.slice(at, at + n))
    return this.#last
  }

  /**
   * Connects: sets the default peer for `send(data)` and filters what `recv` receives to it.
   * `connect(address | ai)` or `connect(host, port)`.
   */
  connect(target: AddressLike | string | false, port?: number | string): Promise<void> {
    this.id('connect')
    const addrs = resolveTarget(target, port, this.type(), this.family(), undefined)
    const go = (a: Address[]): void => {
      const e = native.connect(this.id('connect'), a[0]!.family, a[0]!.address, a[0]!.port, a[0]!.scopeId)
      if (e < 0) throw errnoException(-e, 'connect', a[0])
    }
    return Array.isArray(addrs) ? Promise.resolve().then(() => go(addrs)) : addrs.then(go)
  }

  /**
   * Sends `data` (or its first `maxlen` bytes) as one datagram, never split:
   * `send(data, maxlen?, address | host, port?, expires?)`, or `send(data, maxlen?, expires?)` once
   * connected. Raw sockets need no port. Resolves with the byte count. `expires` is a `clock()`
   * time or `{ expires?, signal? }`: either closes the socket when it fires (ETIMEDOUT,
   * AbortError) while the datagram waits for buffer space.
   */
  send(data: string | Uint8Array, target: AddressLike, expires?: Expires): Promise<number>
  send(data: string | Uint8Array, host: string | false, port?: number | string, expires?: Expires): Promise<number>
  send(data: string | Uint8Array, maxlen: number | undefined, target: AddressLike, expires?: Expires): Promise<number>
  send(
    data: string | Uint8Array,
    maxlen: number | undefined,
    host: string | false,
    port?: number | string,
    expires?: Expires,
  ): Promise<number>
  send(data: string | Uint8Array, maxlen?: number, expires?: Expires): Promise<number>
  send(data: string | Uint8Array, a?: unknown, b?: unknown, c?: unknown, d?: unknown): Promise<number> {
    const used = decodeSend(a, b, c, d)
    for (let i = used + 1; i < arguments.length; i++) {
      if (arguments[i] !== undefined) throw argType('expires', 'the last argument', arguments[i])
    }
    const { maxlen, target, port, expires } = form
    const len = sendSize(data, maxlen)
    const id = this.begin(1, 'send', expires)
    if (typeof id !== 'number') return id
    // Read now: a lookup may come first, and the call's wait is what it was called with.
    const deadline = deadlineOf(expires)
    const signal = signalOf(expires)
    const out = payload(data, maxlen)
    if (target === undefined) return this.sendNow(id, out, len, undefined, deadline, signal)
    if (Address.is(target)) return this.sendNow(id, out, len, target, deadline, signal)
    const addrs = resolveTarget(target, port, this.type(), this.family(), undefined)
    if (Array.isArray(addrs)) return this.sendNow(id, out, len, addrs[0], deadline, signal)
    // An abort during the lookup closes the socket at once, as while waiting to send.
    const looked = signal === undefined ? addrs : abortable(addrs, signal, () => this.close())
    return looked.then((a) => this.sendNow(this.id('send'), out, len, a[0], deadline, signal))
  }

  private sendNow(
    id: number,
    data: string | Uint8Array,
    len: number,
    to: Address | undefined,
    expires: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    // The common case, sent at once, allocates no op.
    let n: number | typeof AGAIN
    try {
      n = sendDatagram(id, data, len, to)
    } catch (e) {
      return failed(e as Error)
    }
    return n !== AGAIN ? completed(n) : this.io.park(1, new SendToOp(this, data, len, to), expires, signal)
  }

  /**
   * Receives one datagram into `buf` (at most `maxlen` bytes): `[length, sender]`. A datagram
   * longer than the space given is not cut silently: the call rejects with `EMSGSIZE` (the
   * first `maxlen` bytes are in `buf`, the kernel dropped the rest). An empty datagram gives
   * length 0. On `expires` (or the options' `signal`) the socket is closed and the call rejects
   * with ETIMEDOUT (or AbortError).
   */
  recv(buf: Uint8Array, maxlen?: number, expires?: Expires): Promise<[number, Address]> {
    const len = span(buf, maxlen, 'buf')
    const id = this.begin(0, 'recv', expires)
    if (typeof id !== 'number') return id
    // A datagram already there: no op is allocated.
    let got: [number, Address] | typeof AGAIN
    try {
      got = this.receiveOnce(id, buf, len)
    } catch (e) {
      return failed(e as Error)
    }
    return got !== AGAIN ? completed(got) : this.wait(0, new RecvFromOp(this, buf, len), expires)
  }

  /**
   * @internal One receive of at most `len` bytes into `buf`: `[length, sender]`, AGAIN, or
   * throws its error (EMSGSIZE for a datagram longer than `len`).
   */
  receiveOnce(id: number, buf: Uint8Array, len: number): [number, Address] | typeof AGAIN {
    const n = native.recvFrom(id, buf, 0, len, meta)
    if (n === WOULD_BLOCK) return AGAIN
    if (n < 0) throw ioError(-n, 'recv')
    const from = this.sender()
    if (meta[0] !== 0) {
      throw new SocketError(`recv EMSGSIZE ${from} (datagram longer than ${len} bytes)`, 'EMSGSIZE', {
        errno: constants.errno.EMSGSIZE,
        syscall: 'recv',
        address: from.address,
        port: from.port,
      })
    }
    return [n, from]
  }

  /**
   * Sends many datagrams with one call (`sendmmsg` on Linux; one send each elsewhere, with the
   * same outcome), in order, each whole: a message is bytes or a string for the connected peer,
   * or `{ data, to }` with an `Address` or `AddrInfo`. Waits while none can go, then resolves
   * with how many went: fewer than all when the send buffer filled, or when one failed after
   * others went (send the rest again: `msgs.slice(n)`; that one then reports its error). At most
   * `MAX_BATCH` (1024) messages.
   *
   * @example
   * const n = await u.sendMany([a, b, { data: c, to: other }])
   */
  sendMany(msgs: readonly (string | Uint8Array | Message)[], expires?: Expires): Promise<number> {
    const [bufs, wires] = outgoing(batchOf(msgs, 'msgs'), this)
    const id = this.begin(1, 'sendMany', expires)
    if (typeof id !== 'number') return id
    let n: number | typeof AGAIN
    try {
      n = sendBatch(id, bufs, wires)
    } catch (e) {
      return failed(e as Error)
    }
    return n !== AGAIN ? completed(n) : this.wait(1, new SendManyOp(this, bufs, wires), expires)
  }

  /**
   * Receives many datagrams with one call (`recvmmsg` on Linux; one receive each elsewhere, with
   * the same outcome), one into each buffer in order: waits for the first, then takes what is
   * queued, up to one per buffer. Resolves with one `{ length, from, truncated }` per datagram
   * (fewer than the buffers when fewer were queued). A datagram longer than its buffer is cut
   * and marked `truncated`. The buffers must not overlap. At most `MAX_BATCH` (1024) buffers.
   *
   * @example
   * const bufs = Array.from({ length: 32 }, () => Buffer.alloc(2048))
   * for (const { length, from } of await u.recvMany(bufs)) ...
   */
  recvMany(bufs: readonly Uint8Array[], expires?: Expires): Promise<Received[]> {
    const list = batchOf(bufs, 'bufs')
    for (let i = 0; i < list.length; i++) if (!isBytes(list[i])) throw argType(`bufs[${i}]`, 'a Uint8Array or Buffer', list[i])
    const id = this.begin(0, 'recvMany', expires)
    if (typeof id !== 'number') return id
    // Overlapping buffers throw a TypeError from here, at once.
    const n = receiveBatch(id, list as Uint8Array[])
    if (n === WOULD_BLOCK) return this.wait(0, new RecvManyOp(this, list as Uint8Array[]), expires)
    if (n < 0) return failed(ioError(-n, 'recvMany'))
    return completed(this.received(n))
  }

  /** @internal The `n` datagrams the last `recvMany` received, from `batchMeta`. */
  received(n: number): Received[] {
    const out = new Array<Received>(n)
    for (let i = 0, at = 0; i < n; i++, at += STRIDE) {
      out[i] = { length: batchLengths![at >> 2]!, from: this.from(batchMeta!, at + 6, batchMeta![at + 5]!, i), truncated: batchMeta![at + 4] !== 0 }
    }
    return out
  }
}

/** One `sendMany` call: the count, AGAIN, or throws its error. */
function sendBatch(id: number, bufs: Uint8Array[], wires: (Uint8Array | undefined)[] | undefined): number | typeof AGAIN {
  const n = native.sendMany(id, bufs, bufs.length, wires)
  if (n === WOULD_BLOCK) return AGAIN
  if (n < 0) throw ioError(-n, 'sendMany')
  return n
}

/** One `recvMany` call into `batchMeta`: the count or `-errno`. */
function receiveBatch(id: number, bufs: Uint8Array[]): number {
  if (batchMeta === undefined) {
    batchMeta = new Uint8Array(MAX_BATCH * STRIDE)
    batchLengths = new Int32Array(batchMeta.buffer)
  }
  return native.recvMany(id, bufs, bufs.length, batchMeta)
}

/** A `sendMany` waiting for buffer space for its first datagram. */
class SendManyOp extends Op<number> {
  constructor(
    readonly sock: Datagram,
    readonly bufs: Uint8Array[],
    readonly wires: (Uint8Array | undefined)[] | undefined,
  ) {
    super()
  }
  get syscall(): string {
    return 'sendMany'
  }
  retry(): number | typeof AGAIN {
    return sendBatch(this.sock.id('sendMany'), this.bufs, this.wires)
  }
}

/** A `recvMany` waiting for its first datagram. */
class RecvManyOp extends Op<Received[]> {
  constructor(
    readonly sock: Datagram,
    readonly bufs: Uint8Array[],
  ) {
    super()
  }
  get syscall(): string {
    return 'recvMany'
  }
  retry(): Received[] | typeof AGAIN {
    const n = receiveBatch(this.sock.id('recvMany'), this.bufs)
    if (n === WOULD_BLOCK) return AGAIN
    if (n < 0) throw ioError(-n, 'recvMany')
    return this.sock.received(n)
  }
}

/** A datagram send waiting for buffer space: the datagram goes whole or not at all. */
class SendToOp extends Op<number> {
  constructor(
    readonly sock: Datagram,
    readonly data: string | Uint8Array,
    readonly len: number,
    readonly to: Address | undefined,
  ) {
    super()
  }
  get syscall(): string {
    return 'send'
  }
  retry(): number | typeof AGAIN {
    return sendDatagram(this.sock.id('send'), this.data, this.len, this.to)
  }
}

/**
 * One datagram send of `len` bytes of `data` to the connected peer or to `to`: the count,
 * AGAIN, or throws its error (also for an address with no wire form, a unix path too long).
 */
function sendDatagram(id: number, data: string | Uint8Array, len: number, to: Address | undefined): number | typeof AGAIN {
  const n = sendOnce(id, data, len, to?.wire())
  if (n === WOULD_BLOCK) return AGAIN
  if (n < 0) throw ioError(-n, 'send', to)
  return n
}

class RecvFromOp extends BufferOp<Datagram, [number, Address]> {
  get syscall(): string {
    return 'recv'
  }
  retry(): [number, Address] | typeof AGAIN {
    return this.sock.receiveOnce(this.sock.id('recv'), this.buf, this.len)
  }
}
