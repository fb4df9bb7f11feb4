/**
 * `toDuplex(socket)`: a connected stream socket as a `stream.Duplex`, so that what Node builds on
 * streams (`node:tls`, `node:http`'s `createConnection`, `stream.pipeline`) runs over socket2.
 */
import { Duplex } from 'node:stream'
import { argRange, argType } from './errors'
import { Tcp } from './tcp'

/** What `toDuplex` takes besides the socket. */
export interface DuplexOptions {
  /**
   * Whether the writable side stays open after the readable side ended (the peer's FIN), as
   * `node:net`'s option of that name. TLS and HTTP end their own side when they are done.
   * @default true
   */
  allowHalfOpen?: boolean
  /**
   * Bytes one `recv` may read: each read allocates a buffer of this size and pushes the part
   * that was filled.
   * @default 65536
   */
  readSize?: number
}

/** The duplex over a socket; its own class so `instanceof` and stack traces name it. */
class SocketDuplex extends Duplex {
  readonly #sock: Tcp
  readonly #readSize: number
  /** Whether a `recv` loop runs: `_read` is called again while one is under way. */
  #reading = false

  constructor(sock: Tcp, allowHalfOpen: boolean, readSize: number) {
    super({ allowHalfOpen })
    this.#sock = sock
    this.#readSize = readSize
  }

  /** The socket under the stream (read or write it yourself only once the stream is done). */
  get socket(): Tcp {
    return this.#sock
  }

  override _read(): void {
    if (this.#reading) return
    this.#reading = true
    this.#pump().catch((e: NodeJS.ErrnoException) => {
      // A recv cut short by destroy(), or by the owner closing the socket under the stream, is
      // no error of the stream: it ends as destroy() ends it. Nothing read is lost.
      if (this.destroyed) return
      this.destroy(e.code === 'ERR_SOCKET_CLOSED' && this.#sock.closed ? undefined : e)
    })
  }

  /**
   * Receives and pushes until the consumer wants no more (`push` is false) or end of stream.
   * The flag drops in the same step as the last push: a `_read` that comes in between must
   * start the next loop, since the stream asks once per push.
   */
  async #pump(): Promise<void> {
    for (;;) {
      const buf = Buffer.allocUnsafe(this.#readSize)
      let n: number
      try {
        n = await this.#sock.recv(buf)
      } catch (e) {
        this.#reading = false
        throw e
      }
      if (n === 0) {
        this.#reading = false
        this.push(null)
        return
      }
      // A short read copies out, so a small chunk does not pin a whole read buffer in the queue.
      const more = this.push(n * 2 < buf.length ? Buffer.from(buf.subarray(0, n)) : buf.subarray(0, n))
      if (!more) {
        this.#reading = false
        return
      }
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    this.#send(chunk, done)
  }

  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    this.#send(Buffer.concat(chunks.map((c) => c.chunk)), done)
  }

  #send(bytes: Buffer, done: (e?: Error | null) => void): void {
    // Resolves once every byte is in the kernel's buffer: the Writable's queue holds the rest,
    // so `write()` returning false is the backpressure of the socket itself.
    this.#sock.send(bytes).then(
      () => done(),
      (e: Error) => done(e),
    )
  }

  override _final(done: (e?: Error | null) => void): void {
    try {
      this.#sock.shutdown('w')
      done()
    } catch (e) {
      done(e as Error)
    }
  }

  override _destroy(e: Error | null, done: (e?: Error | null) => void): void {
    this.#sock.close()
    done(e)
  }
}

/**
 * A `stream.Duplex` over a connected TCP (or unix stream) socket: reads are `recv`s, writes
 * are `send`s (a write completes once the kernel took its bytes, so backpressure reaches the
 * writer), `end()` is `shutdown('w')` once the writes are out, the readable side ends at the
 * peer's FIN, and `destroy()` closes the socket (closing the socket destroys the stream, with no
 * error). Socket errors (`ECONNRESET`...) are the stream's `'error'`. The stream owns the socket from then on: do not `recv` or `send` on it
 * yourself, since two readers or writers at once get `ERR_SOCKET_BUSY`.
 *
 * Throws `TypeError` `ERR_INVALID_ARG_TYPE` for anything but a TCP socket, `SocketError`
 * `ERR_SOCKET_CLOSED` for a closed one and `ENOTCONN` for one not connected.
 *
 * @example
 * const c = tcp(); await c.connect('example.com', 443)
 * const t = tls.connect({ socket: toDuplex(c), servername: 'example.com' })
 */
export function toDuplex(socket: Tcp, options: DuplexOptions = {}): Duplex & { readonly socket: Tcp } {
  if (!(socket instanceof Tcp)) throw argType('socket', 'a connected tcp() socket', socket)
  if (typeof options !== 'object' || options === null) throw argType('options', 'an object', options)
  const { allowHalfOpen = true, readSize = 65536 } = options
  if (typeof allowHalfOpen !== 'boolean') throw argType('options.allowHalfOpen', 'a boolean', allowHalfOpen)
  if (!Number.isInteger(readSize)) throw argType('options.readSize', 'an integer', readSize)
  if (readSize < 1) throw argRange('options.readSize', 'at least 1', readSize)
  socket.remoteAddr() // ERR_SOCKET_CLOSED or ENOTCONN, thrown now rather than from the first read
  return new SocketDuplex(socket, allowHalfOpen, readSize)
}
