/**
 * What UDP and raw sockets share: one datagram per `send`, one per `recv`, the sender's
 * address with each, and `connect` to set a default peer.
 */
import native from './binding'
import { Address, type AddressLike, resolveTarget, WIRE_MAX } from './addr'
import { constants } from 'node:os'
import { argType, errnoException, ioError, SocketError } from './errors'
import { AGAIN, completed, failed, Op, WOULD_BLOCK } from './scheduler'
import { BufferOp, checkExpires, nativeAddress, payload, sendOnce, sendSize, Socket, span } from './socket'

function isTarget(v: unknown): boolean {
  return typeof v === 'string' || v === false || (typeof v === 'object' && v !== null)
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
   * connected. Raw sockets need no port. Resolves with the byte count.
   */
  send(data: string | Uint8Array, target: AddressLike, expires?: number): Promise<number>
  send(data: string | Uint8Array, host: string | false, port?: number | string, expires?: number): Promise<number>
  send(data: string | Uint8Array, maxlen: number | undefined, target: AddressLike, expires?: number): Promise<number>
  send(
    data: string | Uint8Array,
    maxlen: number | undefined,
    host: string | false,
    port?: number | string,
    expires?: number,
  ): Promise<number>
  send(data: string | Uint8Array, maxlen?: number, expires?: number): Promise<number>
  send(data: string | Uint8Array, a?: unknown, b?: unknown, c?: unknown, d?: unknown): Promise<number> {
    // The call forms above, told apart by where the address (a string, false or an object) sits.
    let maxlen: unknown
    let target: unknown
    let port: unknown
    let expires: unknown
    let extra: unknown
    if (isTarget(a)) {
      target = a
      if (typeof a === 'object') [expires, extra] = [b, c !== undefined ? c : d]
      else [port, expires, extra] = [b, c, d]
    } else if (isTarget(b)) {
      ;[maxlen, target] = [a, b]
      if (typeof b === 'object') [expires, extra] = [c, d]
      else [port, expires] = [c, d]
    } else if (isTarget(c)) {
      throw argType('maxlen', 'a number or undefined', a)
    } else {
      ;[maxlen, expires, extra] = [a, b, c !== undefined ? c : d]
    }
    for (let i = 5; i < arguments.length && extra === undefined; i++) extra = arguments[i]
    if (extra !== undefined) throw argType('expires', 'the last argument', extra)
    const len = sendSize(data, maxlen)
    const deadline = checkExpires(expires)
    const id = this.id('send')
    const busy = this.io.busy(1, 'send')
    if (busy !== undefined) return busy
    const out = payload(data, maxlen)
    if (target === undefined) return this.#send(id, out, len, undefined, deadline)
    if (Address.is(target)) return this.#send(id, out, len, target, deadline)
    const addrs = resolveTarget(target, port, this.type(), this.family(), undefined)
    return Array.isArray(addrs)
      ? this.#send(id, out, len, addrs[0], deadline)
      : addrs.then((a) => this.#send(this.id('send'), out, len, a[0], deadline))
  }

  #send(id: number, data: string | Uint8Array, len: number, to: Address | undefined, expires: number | undefined): Promise<number> {
    // The common case, sent at once, allocates no op.
    let n: number | typeof AGAIN
    try {
      n = sendDatagram(id, data, len, to)
    } catch (e) {
      return failed(e as Error)
    }
    return n !== AGAIN ? completed(n) : this.io.park(1, new SendToOp(this, data, len, to), expires)
  }

  /**
   * Receives one datagram into `buf` (at most `maxlen` bytes): `[length, sender]`. A datagram
   * longer than the space given is not cut silently: the call rejects with `EMSGSIZE` (the
   * first `maxlen` bytes are in `buf`, the kernel dropped the rest). An empty datagram gives
   * length 0.
   */
  recv(buf: Uint8Array, maxlen?: number, expires?: number): Promise<[number, Address]> {
    const len = span(buf, maxlen, 'buf')
    const deadline = checkExpires(expires)
    const id = this.id('recv')
    const busy = this.io.busy(0, 'recv')
    if (busy !== undefined) return busy
    // A datagram already there: no op is allocated.
    let got: [number, Address] | typeof AGAIN
    try {
      got = this.receiveOnce(id, buf, len)
    } catch (e) {
      return failed(e as Error)
    }
    return got !== AGAIN ? completed(got) : this.io.park(0, new RecvFromOp(this, buf, len), deadline)
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
