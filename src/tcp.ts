/**
 * TCP (and unix stream) sockets: listen, connect, accept, send, recv, shutdown.
 */
import native from './binding'
import { Address, type AddressLike, resolveTarget } from './addr'
import { argRange, argType, errnoException, type ErrorAddress, ioError, ownError, timeoutError } from './errors'
import { AGAIN, attempt, completed, failed, Op, WOULD_BLOCK } from './scheduler'
import { BufferOp, checkExpires, counted, isArray, isBytes, kCreate, nativeAddress, openSocket, payload, sendOnce, sendSize, Socket, socketArgs, span } from './socket'

/** The most bytes one vectored send is asked for, so that counts stay 32-bit integers. */
const MAX_VECTORED = 2 ** 30

/** Largest backlog; the kernel clamps it to its own maximum (`somaxconn`). */
const MAX_BACKLOG = 0x7fffffff

function isTarget(v: unknown): v is AddressLike {
  return typeof v === 'object' && v !== null
}

/**
 * The sockets a connect is under way on, its lookup included: a second connect would try its
 * addresses on the same OS socket, and on a failure replace that socket (`renew`) under the
 * first. A set rather than a field: an idle socket pays nothing for it.
 */
const connecting = new WeakSet<Tcp>()

/** A TCP socket (a unix stream socket with family `'unix'`). Made by `tcp()` or `accept()`. */
export class Tcp extends Socket {
  /**
   * Listens: `listen(backlog?, address | host, port, flags?)`. Binds first (to `host, port`, or
   * `'*'` and any port) unless already bound, in which case the address is ignored. The backlog
   * defaults to the maximum the system allows.
   *
   * @example
   * const server = tcp(); await server.listen('127.0.0.1', 0)
   */
  listen(
    backlog?: number | AddressLike | string | false,
    target?: AddressLike | string | number | false,
    port?: number | string,
    flags?: string | string[],
  ): Promise<void> {
    if (typeof backlog !== 'number') {
      ;[flags, port, target, backlog] = [port as string | string[] | undefined, target as number | string, backlog, undefined]
    }
    if (backlog !== undefined && !(Number.isInteger(backlog) && (backlog as number) >= 0)) {
      throw argRange('backlog', 'a non-negative integer', backlog)
    }
    const id = this.id('listen')
    const n = Math.min((backlog as number | undefined) ?? MAX_BACKLOG, MAX_BACKLOG)
    const bound = native.address(id, false)
    const unbound = bound.errno !== 0 || (bound.port === 0 && this.family() !== 'unix') || (this.family() === 'unix' && bound.address === '')
    if (!unbound) return this.#listen(id, n)
    const addrs = resolveTarget(target, port, 'tcp', this.family(), flags ?? 'passive')
    if (Array.isArray(addrs)) return this.#bindListen(n, addrs)
    return addrs.then((a) => this.#bindListen(n, a))
  }

  async #bindListen(backlog: number, addrs: Address[]): Promise<void> {
    const id = this.id('listen')
    this.bindSync(id, addrs[0]!)
    return this.#listen(id, backlog)
  }

  async #listen(id: number, backlog: number): Promise<void> {
    const e = native.listen(id, backlog)
    if (e < 0) throw errnoException(-e, 'listen')
  }

  /**
   * Connects: `connect(address | ai, expires?)` or `connect(host, port, expires?)`. Each
   * resolved address is tried in turn; the last error is thrown if none answers. An unbound
   * socket gets the kernel's implicit bind. On expiry the socket is closed and the call rejects
   * with ETIMEDOUT.
   */
  connect(target: AddressLike | string | false, port?: number | string, expires?: number): Promise<void> {
    if (isTarget(target)) {
      expires = port as number | undefined
      port = undefined
    }
    const deadline = checkExpires(expires)
    this.id('connect')
    if (connecting.has(this)) return Promise.reject(ownError('ERR_SOCKET_BUSY', 'connect'))
    return this.#connect(resolveTarget(target, port, 'tcp', this.family(), undefined), deadline)
  }

  /** Tries each address in turn; marked as connecting from its synchronous start to its end. */
  async #connect(target: Address[] | Promise<Address[]>, expires: number | undefined): Promise<void> {
    connecting.add(this)
    try {
      const addrs = Array.isArray(target) ? target : await target
      let last: Error | undefined
      for (const a of addrs) {
        if (last !== undefined) this.renew()
        let e = native.connect(this.id('connect'), a.family, a.address, a.port, a.scopeId)
        // An immediate outcome (a unix socket's, a refusal) counts against the budget too.
        e = await (e === WOULD_BLOCK ? this.io.park(1, new ConnectOp(this), expires) : completed(e))
        if (e === 0) return
        last = errnoException(-e, 'connect', a)
      }
      throw last
    } finally {
      connecting.delete(this)
    }
  }

  /**
   * Accepts a connection: `[client, remoteAddr, localAddr]`. On expiry the listening socket is
   * closed and the call rejects with ETIMEDOUT.
   */
  accept(expires?: number): Promise<[Tcp, Address, Address]> {
    const deadline = checkExpires(expires)
    this.id('accept')
    const op = new AcceptOp(this)
    const busy = this.io.busy(0, 'accept')
    if (busy !== undefined) return busy
    return attempt(op) ?? this.io.park(0, op, deadline)
  }

  /** @internal Wraps a freshly accepted socket id. */
  adopt(c: number): [Tcp, Address, Address] {
    const client = new Tcp(kCreate, 'tcp', this.family(), this.protocolNumber, c)
    try {
      return [client, nativeAddress(native.lastPeer(), 'accept'), client.localAddr()]
    } catch (e) {
      client.close()
      throw e
    }
  }

  /**
   * Sends all of `data` (or its first `maxlen` bytes) before resolving with the count. Strings
   * are sent as UTF-8. An array of buffers and strings is sent as their concatenation with
   * vectored sends (`writev`), one syscall for a header and a body. On expiry the socket is
   * closed and the call rejects with ETIMEDOUT.
   *
   * @example
   * await c.send([header, body])
   */
  send(data: string | Uint8Array | readonly (string | Uint8Array)[], maxlen?: number, expires?: number): Promise<number> {
    if (isArray(data)) return this.#sendVectored(data, maxlen, expires)
    const len = sendSize(data, maxlen)
    const deadline = checkExpires(expires)
    const id = this.id('send')
    const busy = this.io.busy(1, 'send')
    if (busy !== undefined) return busy
    // The common case, everything sent at once, allocates no op (nor a Buffer for a string).
    const out = payload(data as string | Uint8Array, maxlen)
    const n = sendOnce(id, out, len, undefined)
    if (n === len) return completed(n)
    const op = new SendOp(this, typeof out === 'string' ? Buffer.from(out, 'utf8') : out, len)
    if (n > 0) op.off = n
    else if (n !== WOULD_BLOCK) return failed(ioError(-n, 'send', this.peer()))
    return attempt(op) ?? this.io.park(1, op, deadline)
  }

  #sendVectored(data: readonly unknown[], maxlen: unknown, expires: unknown): Promise<number> {
    // Strings become bytes in a copy of the array; an array of bytes alone passes as it is.
    let bufs: Uint8Array[] | undefined
    let total = 0
    for (let i = 0; i < data.length; i++) {
      let b = data[i]
      if (typeof b === 'string') b = Buffer.from(b, 'utf8')
      else if (!isBytes(b)) throw argType(`data[${i}]`, 'a Uint8Array, Buffer or string', b)
      if (b !== data[i]) bufs ??= (data as Uint8Array[]).slice(0, i)
      bufs?.push(b as Uint8Array)
      total += (b as Uint8Array).byteLength
    }
    const all = bufs ?? (data as Uint8Array[])
    const len = counted(total, maxlen)
    const deadline = checkExpires(expires)
    const id = this.id('send')
    const busy = this.io.busy(1, 'send')
    if (busy !== undefined) return busy
    if (len === 0) return completed(0)
    const n = native.sendVectored(id, all, 0, Math.min(len, MAX_VECTORED))
    if (n === len) return completed(n)
    if (n < 0 && n !== WOULD_BLOCK) return failed(ioError(-n, 'send', this.peer()))
    // Its own copy of the array: the caller may change theirs while this waits.
    const op = new SendVectoredOp(this, all.slice(), len)
    if (n > 0) op.off = n
    return attempt(op) ?? this.io.park(1, op, deadline)
  }

  /**
   * Receives at most `maxlen` bytes (default: the buffer's length) into `buf`: the count, 0 at
   * end of stream. On expiry the socket is closed and the call rejects with ETIMEDOUT.
   */
  recv(buf: Uint8Array, maxlen?: number, expires?: number): Promise<number> {
    const len = span(buf, maxlen, 'buf')
    if (len === 0) throw argRange('maxlen', 'at least 1 (0 would read as end of stream)', maxlen ?? 0)
    const deadline = checkExpires(expires)
    const id = this.id('recv')
    const busy = this.io.busy(0, 'recv')
    if (busy !== undefined) return busy
    // Data already there: no op is allocated.
    const n = native.recv(id, buf, 0, len)
    if (n >= 0) return completed(n)
    if (n !== WOULD_BLOCK) return failed(ioError(-n, 'recv', this.peer()))
    return this.io.park(0, new RecvOp(this, buf, len), deadline)
  }

  /** @internal The peer, for error messages; undefined when not connected. */
  peer(): ErrorAddress | undefined {
    try {
      return this.remoteAddr()
    } catch {
      return undefined
    }
  }

  /**
   * Shuts down one or both directions (`'r'`, `'w'`, `'rw'`; default `'rw'`) without blocking.
   * `'w'` sends FIN after the data already queued. Throws the OS error (ENOTCONN). `expires` is
   * accepted for the seed's signature and checked, but never needed: shutdown does not wait.
   */
  shutdown(how: 'r' | 'w' | 'rw' = 'rw', expires?: number): void {
    if (how !== 'r' && how !== 'w' && how !== 'rw') throw argType('how', "'r', 'w' or 'rw'", how)
    checkExpires(expires)
    const e = native.shutdown(this.id('shutdown'), how)
    if (e < 0) throw errnoException(-e, 'shutdown')
  }
}

class RecvOp extends BufferOp<Tcp, number> {
  get syscall(): string {
    return 'recv'
  }
  retry(): number | typeof AGAIN {
    const n = native.recv(this.sock.id('recv'), this.buf, 0, this.len)
    if (n === WOULD_BLOCK) return AGAIN
    if (n < 0) throw ioError(-n, 'recv', this.sock.peer())
    return n
  }
}

/** Sends until every byte is out: one op may take several wake-ups. */
abstract class StreamSendOp extends Op<number> {
  off = 0
  constructor(
    readonly sock: Tcp,
    readonly len: number,
  ) {
    super()
  }
  get syscall(): string {
    return 'send'
  }
  /** One send of at most `len` bytes from `off`: the count or `-errno`. */
  abstract sendFrom(id: number, off: number, len: number): number
  retry(): number | typeof AGAIN {
    const id = this.sock.id('send')
    while (this.off < this.len) {
      const n = this.sendFrom(id, this.off, this.len - this.off)
      if (n === WOULD_BLOCK) return AGAIN
      if (n < 0) throw ioError(-n, 'send', this.sock.peer())
      this.off += n
    }
    return this.len
  }
  timedOut(): Error {
    return timeoutError('send', this.off)
  }
}

class SendOp extends StreamSendOp {
  constructor(
    sock: Tcp,
    readonly buf: Uint8Array,
    len: number,
  ) {
    super(sock, len)
  }
  sendFrom(id: number, off: number, len: number): number {
    return native.send(id, this.buf, off, len)
  }
}

/** A vectored send: `off` counts into the concatenation of `bufs`. */
class SendVectoredOp extends StreamSendOp {
  constructor(
    sock: Tcp,
    readonly bufs: Uint8Array[],
    len: number,
  ) {
    super(sock, len)
  }
  sendFrom(id: number, off: number, len: number): number {
    return native.sendVectored(id, this.bufs, off, Math.min(len, MAX_VECTORED))
  }
}

class AcceptOp extends Op<[Tcp, Address, Address]> {
  constructor(readonly sock: Tcp) {
    super()
  }
  get syscall(): string {
    return 'accept'
  }
  retry(): [Tcp, Address, Address] | typeof AGAIN {
    const c = native.accept(this.sock.id('accept'))
    if (c === WOULD_BLOCK) return AGAIN
    if (c < 0) throw errnoException(-c, 'accept')
    return this.sock.adopt(c)
  }
}

/** Completes a connect in progress: 0, or the connection's negated error number. */
class ConnectOp extends Op<number> {
  constructor(readonly sock: Tcp) {
    super()
  }
  get syscall(): string {
    return 'connect'
  }
  retry(): number | typeof AGAIN {
    const e = native.finishConnect(this.sock.id('connect'))
    return e === WOULD_BLOCK ? AGAIN : e
  }
}

/**
 * Makes a TCP socket (`family` `'inet'` by default; `'unix'` makes a unix stream socket).
 *
 * @example
 * const c = tcp(); await c.connect('127.0.0.1', 80, clock() + 5)
 */
export function tcp(family: 'inet' | 'inet6' | 'unix' = 'inet', protocol?: 'tcp' | 'ip' | 'ipv6'): Tcp {
  const [fam, proto] = socketArgs(family, protocol, 'tcp')
  return new Tcp(kCreate, 'tcp', fam, proto, openSocket('tcp', fam, fam === 'unix' ? 0 : proto))
}
