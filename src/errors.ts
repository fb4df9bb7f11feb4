/**
 * Errors: one `SocketError` class with Node's conventions (`code`, `errno`, `syscall`,
 * `address`, `port`; message `connect ECONNREFUSED 127.0.0.1:9`), and the registry of this
 * library's own codes. A code, once published, keeps its meaning and is never reused; the
 * messages may change.
 */
import { constants } from 'node:os'

/** Our own codes (not OS errors), alphabetical. */
export const codes = {
  /** The address object was freed with `free()`. */
  ERR_ADDR_FREED: 'address was freed',
  /**
   * The buffer does not hold the bytes a send or receive was given: it was detached or shrunk
   * while the operation waited, or its `byteLength` was not its own. Nothing was sent or
   * received (a datagram stays queued).
   */
  ERR_BUFFER_OUT_OF_BOUNDS: 'the buffer no longer holds the bytes the operation was given',
  /** Another thread already waits on this direction of the socket. */
  ERR_SOCKET_BUSY: 'another operation is already waiting on this socket',
  /** The socket is closed (by `close()`, or by an expired deadline). */
  ERR_SOCKET_CLOSED: 'socket is closed',
  /** An option exists, but not on this platform. */
  ERR_SOCKET_OPTION_UNSUPPORTED: 'socket option is not available on this platform',
  /** A call exists, but not on this platform (`iocp()` outside Windows, `epollFd()` on it). */
  ERR_SOCKET_UNSUPPORTED_PLATFORM: 'this call is not available on this platform',
} as const

export type Code = keyof typeof codes

const errnoNames: Map<number, string> = (() => {
  const m = new Map<number, string>()
  for (const [name, n] of Object.entries(constants.errno)) {
    // Windows socket errors are WSAE*: present them with their POSIX names.
    const posix = name.startsWith('WSAE') ? name.slice(3) : name
    if (!m.has(n) || !name.startsWith('WSAE')) m.set(n, posix)
  }
  return m
})()

/** The name of an OS error number (`111` -> `'ECONNREFUSED'` on Linux). */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`
}

/** Where an error happened: the peer or bound address involved. */
export interface ErrorAddress {
  address?: string
  port?: number
}

/**
 * Every error that comes from a socket or a lookup: an OS error (`code` is its name, `errno`
 * its number), a lookup failure (`code` is the getaddrinfo name, e.g. `EAI_NONAME`), an expired
 * deadline (`ETIMEDOUT`, message `timeout`), or one of this library's `ERR_*` codes.
 */
export class SocketError extends Error {
  /** Stable identifier: `ECONNREFUSED`, `EAI_NONAME`, `ERR_SOCKET_CLOSED`... */
  readonly code: string
  /** The OS error number, where one exists. */
  readonly errno?: number
  /** The call that failed: `connect`, `recv`, `getaddrinfo`... */
  readonly syscall?: string
  /** The address involved, where there is one. */
  readonly address?: string
  /** The port involved, where there is one. */
  readonly port?: number
  /**
   * On a TCP `send` whose deadline passed (`ETIMEDOUT`): how many bytes of the data went out
   * before it did (the peer gets them; the rest was not sent).
   */
  readonly bytesSent?: number

  constructor(
    message: string,
    code: string,
    fields: { errno?: number; syscall?: string; bytesSent?: number } & ErrorAddress = {},
  ) {
    super(message)
    this.name = 'SocketError'
    this.code = code
    // `null` from a JavaScript caller means no fields, as leaving the argument out does.
    fields ??= {}
    if (fields.errno !== undefined) this.errno = fields.errno
    if (fields.syscall !== undefined) this.syscall = fields.syscall
    if (fields.address !== undefined) this.address = fields.address
    if (fields.port !== undefined) this.port = fields.port
    if (fields.bytesSent !== undefined) this.bytesSent = fields.bytesSent
  }
}

function where(at?: ErrorAddress): string {
  if (!at?.address) return ''
  if (at.port === undefined || at.port === 0) return ` ${at.address}`
  return at.address.includes(':') ? ` [${at.address}]:${at.port}` : ` ${at.address}:${at.port}`
}

/** An OS error: `errnoException(111, 'connect', {address, port})` -> `connect ECONNREFUSED 127.0.0.1:9`. */
export function errnoException(errno: number, syscall: string, at?: ErrorAddress): SocketError {
  const code = errnoName(errno)
  return new SocketError(`${syscall} ${code}${where(at)}`, code, { errno, syscall, ...at })
}

/**
 * The error of a send or receive that failed with `errno`. EFAULT is the binding's word for a
 * range its buffer does not hold (see ERR_BUFFER_OUT_OF_BOUNDS): the kernel never sees it.
 */
export function ioError(errno: number, syscall: string, at?: ErrorAddress): SocketError {
  return errnoName(errno) === 'EFAULT' ? ownError('ERR_BUFFER_OUT_OF_BOUNDS', syscall) : errnoException(errno, syscall, at)
}

/** One of our own `ERR_*` errors. */
export function ownError(code: Code, syscall?: string): SocketError {
  return new SocketError(codes[code], code, syscall === undefined ? {} : { syscall })
}

/** The error of an expired deadline: code `ETIMEDOUT`, message `timeout`. */
export function timeoutError(syscall: string, bytesSent?: number): SocketError {
  const errno = constants.errno.ETIMEDOUT
  return new SocketError('timeout', 'ETIMEDOUT', { errno, syscall, bytesSent })
}

/** A lookup failure: `getaddrinfo EAI_NONAME nosuchhost.invalid`. */
export function lookupError(code: string, errno: number, host?: string): SocketError {
  const fields: { errno?: number; syscall: string; address?: string } = { syscall: 'getaddrinfo' }
  if (errno) fields.errno = errno
  if (host) fields.address = host
  return new SocketError(`getaddrinfo ${code}${host ? ' ' + host : ''}`, code, fields)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return `'${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v).slice(1, -1)}' (string)`
  if (typeof v === 'object' || typeof v === 'function') {
    // A revoked Proxy, or a getter that throws, must not replace the error being reported.
    try {
      return `an instance of ${v.constructor?.name ?? 'Object'}`
    } catch {
      return 'an object'
    }
  }
  return `${String(v)} (${typeof v})`
}

/** `Expected <arg> to be <what>, got <value>`, as `Kind` with Node's `code`. */
function argError<E extends Error>(Kind: new (message: string) => E, code: string, name: string, what: string, got: unknown): E {
  const e = new Kind(`Expected \`${name}\` to be ${what}, got ${describe(got)}`)
  Object.defineProperty(e, 'code', { value: code, enumerable: true })
  return e
}

/** A TypeError with code ERR_INVALID_ARG_TYPE: the argument is of the wrong type. */
export function argType(name: string, what: string, got: unknown): TypeError {
  return argError(TypeError, 'ERR_INVALID_ARG_TYPE', name, what, got)
}

/**
 * A TypeError with code ERR_INVALID_ARG_VALUE: the type is right, the value is not (a path with
 * a NUL byte).
 */
export function argValue(name: string, what: string, got: unknown): TypeError {
  return argError(TypeError, 'ERR_INVALID_ARG_VALUE', name, what, got)
}

/** A RangeError with code ERR_OUT_OF_RANGE. */
export function argRange(name: string, what: string, got: unknown): RangeError {
  return argError(RangeError, 'ERR_OUT_OF_RANGE', name, what, got)
}
