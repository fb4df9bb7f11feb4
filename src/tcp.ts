/**
 * TCP (and unix stream) sockets: listen, connect, accept, send, recv, shutdown.
 */
import { abortable, abortError, deadlineOf, type Expires, signalOf } from './abort'
import native from './binding'
import { Address, type AddressLike, resolveTarget } from './addr'
import { argRange, argType, errnoException, type ErrorAddress, ioError, ownError, timeoutError } from './errors'
import { AGAIN, attempt, completed, failed, Op, WOULD_BLOCK } from './scheduler'
import { BufferOp, counted, isArray, isBytes, kCreate, nativeAddress, openSocket, payload, sendOnce, sendSize, Socket, socketArgs, span } from './socket'

/** The most bytes one vectored send is asked for, so that counts stay 32-bit integers. */
const MAX_VECTORED = 2 ** 30

/** Largest backlog; the kernel clamps it to its own maximum (`somaxconn`). */
const MAX_BACKLOG = 0x7fffffff

/** Whether `v` is an address object (an Address, AddrInfo or `{ address, port }`), not a host. */
function isAddressObject(v: unknown): v is AddressLike {
  return typeof v === 'object' && v !== null
}

/**
 * The call forms of `listen`, `[backlog, target, port, flags]`:
 *   listen(backlog?, address | ai)   listen(backlog?, host, port, flags?)
 * The backlog is told apart by being a number (a port comes after a host, never first).
 */
function listenForm(a: unknown, b: unknown, c: unknown, d: unknown): [unknown, unknown, unknown, unknown] {
  return typeof a === 'number' ? [a, b, c, d] : [undefined, a, b, c]
}

/**
 * The call forms of `connect`, `[target, port, expires]`:
 *   connect(address | ai, expires?)   connect(host, port, expires?)
 * where `expires` is a `clock()` time or `{ expires?, signal? }`.
 */
function connectForm(a: unknown, b: unknown, c: unknown): [unknown, unknown, unknown] {
  return isAddressObject(a) ? [a, undefined, b] : [a, b, c]
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
    const [requested, to, p, f] = listenForm(backlog, target, port, flags)
    if (requested !== undefined && !(Number.isInteger(requested) && (requested as number) >= 0)) {
      throw argRange('backlog', 'a non-negative integer', requested)
    }
    const id = this.id('listen')
    const n = Math.min((requested as number | undefined) ?? MAX_BACKLOG, MAX_BACKLOG)
    const bound = native.address(id, false)
    const unbound = bound.errno !== 0 || (bound.port === 0 && this.family() !== 'unix') || (this.family() === 'unix' && bound.address === '')
    if (!unbound) return this.listenOn(id, n)
    const addrs = resolveTarget(to, p, 'tcp', this.family(), f ?? 'passive')
    if (Array.isArray(addrs)) return this.bindListen(n, addrs)
    return addrs.then((a) => this.bindListen(n, a))
  }

  private async bindListen(backlog: number, addrs: Address[]): Promise<void> {
    const id = this.id('listen')
    this.bindSync(id, addrs[0]!)
    return this.listenOn(id, backlog)
  }

  private async listenOn(id: number, backlog: number): Promise<void> {
    const e = native.listen(id, backlog)
    if (e < 0) throw errnoException(-e, 'listen')
  }

  /**
   * Connects: `connect(address | ai, expires?)` or `connect(host, port, expires?)`. Each
   * resolved address is tried in turn; the last error is thrown if none answers. An unbound
   * socket gets the kernel's implicit bind. On expiry the socket is closed and the call rejects
   * with ETIMEDOUT; when `signal` aborts (during the lookup too), the same with AbortError.
   *
   * @example
   * await c.connect('example.com', 80, { expires: clock() + 5, signal })
   */
  connect(target: AddressLike, expires?: Expires): Promise<void>
  connect(host: string | false, port?: number | string, expires?: Expires): Promise<void>
  connect(a: AddressLike | string | false, b?: number | string | Expires, c?: Expires): Promise<void> {
    const [target, port, wait] = connectForm(a, b, c)
    const deadline = deadlineOf(wait)
    const signal = signalOf(wait)
    this.id('connect')
    if (connecting.has(this)) return Promise.reject(ownError('ERR_SOCKET_BUSY', 'connect'))
    if (signal?.aborted) return this.aborted(signal)
    const addrs = resolveTarget(target as AddressLike | string | false, port as number | string | undefined, 'tcp', this.family(), undefined)
    return this.connectTo(addrs, deadline, signal)
  }

  /** Tries each address in turn; marked as connecting from its synchronous start to its end. */
  private async connectTo(target: Address[] | Promise<Address[]>, expires: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    connecting.add(this)
    try {
      const addrs = Array.isArray(target) ? target : await (signal === undefined ? target : abortable(target, signal, () => this.close()))
      let last: Error | undefined
      for (const a of addrs) {
        if (last !== undefined) this.renew()
        let e = native.connect(this.id('connect'), a.family, a.address, a.port, a.scopeId)
        // An immediate outcome (a unix socket's, a refusal) counts against the budget too.
        e = await (e === WOULD_BLOCK ? this.io.park(1, new ConnectOp(this), expires, signal) : completed(e))
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
   * closed and the call rejects with ETIMEDOUT; when `signal` aborts, the same with AbortError.
   */
  accept(expires?: Expires): Promise<[Tcp, Address, Address]> {
    const id = this.begin(0, 'accept', expires)
    if (typeof id !== 'number') return id
    const op = new AcceptOp(this)
    return attempt(op) ?? this.wait(0, op, expires)
  }

  /**
   * A listening socket is an async iterable of its connections, `accept()` after `accept()`.
   * The loop ends when the server is closed (from another thread, or by a deadline); `break`
   * (or a `throw` out of the loop) leaves the server open. Any other accept error (`EMFILE`)
   * is thrown by the loop.
   *
   * @example
   * for await (const [c, remote] of server) newthread(serve, c, remote)
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<[Tcp, Address, Address], void, undefined> {
    for (;;) {
      let conn: [Tcp, Address, Address]
      try {
        conn = await this.accept()
      } catch (e) {
        if (this.closed && (e as { code?: unknown }).code === 'ERR_SOCKET_CLOSED') return
        throw e
      }
      yield conn
    }
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
   * closed and the call rejects with ETIMEDOUT; when the options' `signal` aborts, the same with
   * AbortError (`expires` may be `{ expires?, signal? }`).
   *
   * @example
   * await c.send([header, body])
   */
  send(data: string | Uint8Array | readonly (string | Uint8Array)[], maxlen?: number, expires?: Expires): Promise<number> {
    if (isArray(data)) return this.sendVectored(data, maxlen, expires)
    const len = sendSize(data, maxlen)
    const id = this.begin(1, 'send', expires)
    if (typeof id !== 'number') return id
    // The common case, everything sent at once, allocates no op (nor a Buffer for a string).
    const out = payload(data as string | Uint8Array, maxlen)
    const n = sendOnce(id, out, len, undefined)
    if (n === len) return completed(n)
    const op = new SendOp(this, typeof out === 'string' ? Buffer.from(out, 'utf8') : out, len)
    if (n > 0) op.off = n
    else if (n !== WOULD_BLOCK) return failed(ioError(-n, 'send', this.peer()))
    return attempt(op) ?? this.wait(1, op, expires)
  }

  private sendVectored(data: readonly unknown[], maxlen: unknown, expires: unknown): Promise<number> {
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
    const id = this.begin(1, 'send', expires)
    if (typeof id !== 'number') return id
    if (len === 0) return completed(0)
    const n = native.sendVectored(id, all, 0, Math.min(len, MAX_VECTORED))
    if (n === len) return completed(n)
    if (n < 0 && n !== WOULD_BLOCK) return failed(ioError(-n, 'send', this.peer()))
    // Its own copy of the array: the caller may change theirs while this waits.
    const op = new SendVectoredOp(this, all.slice(), len)
    if (n > 0) op.advance(n)
    return attempt(op) ?? this.wait(1, op, expires)
  }

  /**
   * Receives at most `maxlen` bytes (default: the buffer's length) into `buf`: the count, 0 at
   * end of stream. On expiry the socket is closed and the call rejects with ETIMEDOUT; when the
   * options' `signal` aborts, the same with AbortError (`expires` may be `{ expires?, signal? }`).
   *
   * @example
   * const n = await c.recv(buf, undefined, { expires: clock() + 5, signal })
   */
  recv(buf: Uint8Array, maxlen?: number, expires?: Expires): Promise<number> {
    const len = span(buf, maxlen, 'buf')
    if (len === 0) throw argRange('maxlen', 'at least 1 (0 would read as end of stream)', maxlen ?? 0)
    const id = this.begin(0, 'recv', expires)
    if (typeof id !== 'number') return id
    // Data already there: no op is allocated.
    const n = native.recv(id, buf, 0, len)
    if (n >= 0) return completed(n)
    if (n !== WOULD_BLOCK) return failed(ioError(-n, 'recv', this.peer()))
    return this.wait(0, new RecvOp(this, buf, len), expires)
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
   * accepted for the seed's signature and checked, but never needed: shutdown does not wait. An
   * already aborted `signal` closes the socket instead and throws AbortError.
   */
  shutdown(how: 'r' | 'w' | 'rw' = 'rw', expires?: Expires): void {
    if (how !== 'r' && how !== 'w' && how !== 'rw') throw argType('how', "'r', 'w' or 'rw'", how)
    deadlineOf(expires)
    const signal = signalOf(expires)
    const id = this.id('shutdown')
    if (signal?.aborted) {
      this.close()
      throw abortError(signal)
    }
    const e = native.shutdown(id, how)
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
  /** Counts `n` more bytes sent. */
  advance(n: number): void {
    this.off += n
  }
  retry(): number | typeof AGAIN {
    const id = this.sock.id('send')
    while (this.off < this.len) {
      const n = this.sendFrom(id, this.off, this.len - this.off)
      if (n === WOULD_BLOCK) return AGAIN
      if (n < 0) throw ioError(-n, 'send', this.sock.peer())
      this.advance(n)
    }
    return this.len
  }
  timedOut(): Error {
    return timeoutError('send', this.off)
  }
  aborted(signal: AbortSignal): Error {
    return abortError(signal, this.off)
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

/**
 * A vectored send. `off` counts into the concatenation of all the buffers, past 2^32 in a long
 * send; the native call is given only what is left: the buffers not yet sent whole (the op's
 * own array, whose head drops as they go) and the bytes of the first one already sent.
 */
class SendVectoredOp extends StreamSendOp {
  /** Bytes of `bufs[0]` already sent. */
  skip = 0
  constructor(
    sock: Tcp,
    readonly bufs: Uint8Array[],
    len: number,
  ) {
    super(sock, len)
  }
  sendFrom(id: number, _off: number, len: number): number {
    return native.sendVectored(id, this.bufs, this.skip, Math.min(len, MAX_VECTORED))
  }
  override advance(n: number): void {
    super.advance(n)
    let skip = this.skip + n
    let done = 0
    while (done < this.bufs.length && skip >= this.bufs[done]!.byteLength) skip -= this.bufs[done++]!.byteLength
    if (done > 0) this.bufs.splice(0, done)
    this.skip = skip
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
 * Makes a TCP socket (`family` `'inet'` by default; `'unix'` makes a unix stream socket),
 * non-blocking and close-on-exec, with `tcp_nodelay` on. Throws `TypeError` for an unknown
 * family or protocol and `SocketError` when the OS refuses (`EMFILE`, `EPROTONOSUPPORT`).
 * Platforms: all; `'unix'` on Windows needs a Windows with `AF_UNIX`.
 *
 * @example
 * const c = tcp(); await c.connect('127.0.0.1', 80, clock() + 5)
 */
export function tcp(family: 'inet' | 'inet6' | 'unix' = 'inet', protocol?: 'tcp' | 'ip' | 'ipv6'): Tcp {
  const [fam, proto] = socketArgs(family, protocol, 'tcp')
  return new Tcp(kCreate, 'tcp', fam, proto, openSocket('tcp', fam, fam === 'unix' ? 0 : proto))
}
