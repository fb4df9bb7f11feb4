/**
 * Socket options by the seed's names (`so_reuseaddr`, `tcp_nodelay`...), typed from the native
 * option table: booleans, integers, seconds, `so_linger` as seconds or `false`, text (device and
 * algorithm names, addresses), and multicast memberships.
 */
import { noNul } from './addr'
import native from './binding'
import { argRange, argType, errnoException, SocketError } from './errors'

/**
 * A multicast group to join or leave: the group address, and the interface (an IPv4 address
 * for `ip_*`, an interface index for `ipv6_*`; default: the system's choice).
 */
export interface Membership {
  multiaddr: string
  interface?: string | number
}

/** The value type of each option kind. */
export type OptionValue = boolean | number | string | Membership

interface Row {
  kind: string
  platforms: string
  supported: boolean
  settable: boolean
  readable: boolean
}

const rows = new Map<string, Row>(native.optionTable().map((r) => [r.name, r]))

/** Every option name the table knows, with its kind and platforms (for docs and tests). */
export function optionNames(): {
  name: string
  kind: string
  platforms: string
  supported: boolean
  settable: boolean
  readable: boolean
}[] {
  return [...rows].map(([name, r]) => ({ name, ...r }))
}

function row(name: unknown): Row & { name: string } {
  if (typeof name !== 'string') throw argType('name', 'an option name', name)
  const r = rows.get(name)
  if (r === undefined) throw argType('name', `a known option name (${[...rows.keys()].join(', ')})`, name)
  if (!r.supported) {
    throw new SocketError(`${name} is not available on ${process.platform} (only on: ${r.platforms})`, 'ERR_SOCKET_OPTION_UNSUPPORTED', {
      syscall: 'setsockopt',
    })
  }
  return { name, ...r }
}

/** Validates and encodes a text or membership value for the native setter. */
function encodeText(r: Row & { name: string }, value: unknown): string {
  if (typeof value === 'string') {
    // The OS would read a name or an address only up to a NUL.
    noNul(r.name, value)
    return value
  }
  if (r.kind === 'string') throw argType(r.name, 'a string', value)
  const m = value as Membership | null
  if (typeof m !== 'object' || m === null || typeof m.multiaddr !== 'string') {
    throw argType(r.name, 'a group address or { multiaddr, interface? }', value)
  }
  noNul(`${r.name}.multiaddr`, m.multiaddr)
  if (m.interface === undefined) return m.multiaddr
  // IPv4 names the interface by its address, IPv6 by its index.
  if (r.name.startsWith('ipv6_')) {
    if (typeof m.interface !== 'number' || !Number.isInteger(m.interface) || m.interface < 0) {
      throw argType(`${r.name}.interface`, 'an interface index (a non-negative integer)', m.interface)
    }
  } else if (typeof m.interface !== 'string') {
    throw argType(`${r.name}.interface`, "the interface's IPv4 address", m.interface)
  } else {
    noNul(`${r.name}.interface`, m.interface)
  }
  return `${m.multiaddr}|${m.interface}`
}

/** Validates and encodes a numeric value for the native setter. */
function encode(r: Row & { name: string }, value: unknown): number {
  switch (r.kind) {
    case 'boolean':
      if (typeof value !== 'boolean') throw argType(r.name, 'a boolean', value)
      return value ? 1 : 0
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw argType(r.name, 'an integer', value)
      if (value < 0 || value > 0x7fffffff) throw argRange(r.name, 'from 0 to 2147483647', value)
      return value
    case 'seconds':
      if (typeof value !== 'number' || Number.isNaN(value)) throw argType(r.name, 'a number of seconds', value)
      if (value < 0 || value > 0x7fffffff) throw argRange(r.name, 'a non-negative number of seconds', value)
      return value
    default: // linger
      if (value === false) return -1
      if (typeof value !== 'number' || Number.isNaN(value)) throw argType(r.name, 'a number of seconds or false', value)
      if (value < 0 || value > 0xffff) throw argRange(r.name, 'from 0 to 65535 seconds', value)
      return value
  }
}

function decode(kind: string, v: number): OptionValue {
  if (kind === 'boolean') return v !== 0
  if (kind === 'linger') return v < 0 ? false : v
  return v
}

/** `setsockopt` on socket `id`. Throws TypeError/RangeError for misuse, SocketError for the OS. */
export function setopt(id: number, name: unknown, value: unknown): void {
  const r = row(name)
  if (!r.settable) throw argType('name', 'a settable option', `${r.name} (read-only)`)
  const text = r.kind === 'string' || r.kind === 'membership'
  const e = text ? native.setoptText(id, r.name, encodeText(r, value)) : native.setopt(id, r.name, encode(r, value))
  if (e < 0) throw errnoException(-e, 'setsockopt')
}

/** `getsockopt` on socket `id`. */
export function getopt(id: number, name: unknown): OptionValue {
  const r = row(name)
  if (!r.readable) throw argType('name', 'a readable option', `${r.name} (write-only)`)
  if (r.kind === 'string') {
    const t = native.getoptText(id, r.name)
    if (t.errno !== 0) throw errnoException(t.errno, 'getsockopt')
    return t.value
  }
  const v = native.getopt(id, r.name)
  if (v.errno !== 0) throw errnoException(v.errno, 'getsockopt')
  return decode(r.kind, v.value)
}
