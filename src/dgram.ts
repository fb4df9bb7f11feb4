/**
 * What UDP and raw sockets share: one datagram per `send`, one per `recv`, the sender's
 * address with each, and `connect` to set a default peer.
 */
import { abortable, deadlineOf, type Expires, signalOf } from './abort'
import native from './binding'
import { Address, AddrInfo, type AddressLike, resolveTarget, WIRE_MAX } from './addr'
import { constants } from 'node:os'
import { argType, errnoException, ioError, SocketError } from './errors'
import { AGAIN, completed, failed, Op, WOULD_BLOCK } from './scheduler'
import { BufferOp, nativeAddress, payload, sendOnce, sendSize, Socket, span } from './socket'

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

/** A datagram socket: UDP, unix datagram, or raw. */
export class Datagram extends Socket {
  /** The last sender, reused while datagrams keep coming from it (no allocation per datagram). */
  #last: Address | undefined

  /** @internal The sender of the datagram just received, from `meta`. */
  sender(): Address {
    const n = meta[1]!
    const last = this.#last?.wire()
    if (last !== undefined && last.length === n) {
      let same = true
      for (let i = 0; i < n && same; i++) same = last[i] === meta[2 + i]
      if (same) return this.#last!
    }
    this.#last = nativeAddress(native.lastPeer(), 'recv').setWire(meta.slice(2, 2 + n))
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
    const deadline = deadlineOf(expires)
    const signal = signalOf(expires)
    const id = this.id('send')
    const busy = this.io.busy(1, 'send')
    if (busy !== undefined) return busy
    if (signal?.aborted) return this.aborted(signal)
    const out = payload(data, maxlen)
    if (target === undefined) return this.#send(id, out, len, undefined, deadline, signal)
    if (Address.is(target)) return this.#send(id, out, len, target, deadline, signal)
    const addrs = resolveTarget(target, port, this.type(), this.family(), undefined)
    if (Array.isArray(addrs)) return this.#send(id, out, len, addrs[0], deadline, signal)
    // An abort during the lookup closes the socket at once, as while waiting to send.
    const looked = signal === undefined ? addrs : abortable(addrs, signal, () => this.close())
    return looked.then((a) => this.#send(this.id('send'), out, len, a[0], deadline, signal))
  }

  #send(
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
    const deadline = deadlineOf(expires)
    const signal = signalOf(expires)
    const id = this.id('recv')
    const busy = this.io.busy(0, 'recv')
    if (busy !== undefined) return busy
    if (signal?.aborted) return this.aborted(signal)
    // A datagram already there: no op is allocated.
    let got: [number, Address] | typeof AGAIN
    try {
      got = this.receiveOnce(id, buf, len)
    } catch (e) {
      return failed(e as Error)
    }
    return got !== AGAIN ? completed(got) : this.io.park(0, new RecvFromOp(this, buf, len), deadline, signal)
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
