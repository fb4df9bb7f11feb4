/**
 * What UDP and raw sockets share: one datagram per `send`, one per `recv`, the sender's
 * address with each, and `connect` to set a default peer.
 */
import native from './binding'
import { Address, type AddressLike, resolveTarget, WIRE_MAX } from './addr'
import { constants } from 'node:os'
import { argType, errnoException, SocketError } from './errors'
import { AGAIN, attempt, WOULD_BLOCK } from './scheduler'
import { BufferOp, checkExpires, nativeAddress, Socket, span } from './socket'

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
  send(data: string | Uint8Array, ...args: unknown[]): Promise<number> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
    // The call forms above, told apart by where the address (a string, false or an object) sits.
    const at = args.findIndex(isTarget)
    if (at > 1) throw argType('maxlen', 'a number or undefined', args[0])
    const maxlen = at === 0 ? undefined : args[0]
    const target = at < 0 ? undefined : args[at]
    const port = typeof target === 'string' || target === false ? args[at + 1] : undefined
    const rest = at < 0 ? 1 : typeof target === 'object' ? at + 1 : at + 2
    const expires = args[rest]
    if (args.length > rest + 1 && args.slice(rest + 1).some((a) => a !== undefined)) {
      throw argType('expires', 'the last argument', args[rest + 1])
    }
    const len = span(buf, maxlen, 'data')
    const deadline = checkExpires(expires)
    this.id('send')
    const busy = this.io.busy(1, 'send')
    if (busy !== undefined) return busy
    if (target === undefined) return this.#send(buf as Uint8Array, len, undefined, deadline)
    const addrs = resolveTarget(target, port, this.type(), this.family(), undefined)
    return Array.isArray(addrs)
      ? this.#send(buf as Uint8Array, len, addrs[0], deadline)
      : addrs.then((a) => this.#send(buf as Uint8Array, len, a[0], deadline))
  }

  #send(buf: Uint8Array, len: number, to: Address | undefined, expires: number | undefined): Promise<number> {
    const op = new SendToOp(this, buf, len, to)
    return attempt(op) ?? this.io.park(1, op, expires)
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
    this.id('recv')
    const busy = this.io.busy(0, 'recv')
    if (busy !== undefined) return busy
    const op = new RecvFromOp(this, buf, len)
    return attempt(op) ?? this.io.park(0, op, deadline)
  }
}

class SendToOp extends BufferOp<Datagram, number> {
  constructor(
    sock: Datagram,
    buf: Uint8Array,
    len: number,
    readonly to: Address | undefined,
  ) {
    super(sock, buf, len)
  }
  get syscall(): string {
    return 'send'
  }
  retry(): number | typeof AGAIN {
    const id = this.sock.id('send')
    const to = this.to
    const n =
      to === undefined
        ? native.send(id, this.buf, 0, this.len)
        : native.sendTo(id, this.buf, 0, this.len, to.wire())
    if (n === WOULD_BLOCK) return AGAIN
    if (n < 0) throw errnoException(-n, 'send', to)
    return n
  }
}

class RecvFromOp extends BufferOp<Datagram, [number, Address]> {
  get syscall(): string {
    return 'recv'
  }
  retry(): [number, Address] | typeof AGAIN {
    const n = native.recvFrom(this.sock.id('recv'), this.buf, 0, this.len, meta)
    if (n === WOULD_BLOCK) return AGAIN
    if (n < 0) throw errnoException(-n, 'recv')
    const from = this.sock.sender()
    if (meta[0] !== 0) {
      throw new SocketError(`recv EMSGSIZE ${from} (datagram longer than ${this.len} bytes)`, 'EMSGSIZE', {
        errno: constants.errno.EMSGSIZE,
        syscall: 'recv',
        address: from.address,
        port: from.port,
      })
    }
    return [n, from]
  }
}
