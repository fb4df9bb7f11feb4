/**
 * Socket options by the seed's names (`so_reuseaddr`, `tcp_nodelay`...), typed from the native
 * option table: booleans, integers, seconds, and `so_linger` as seconds or `false`.
 */
import native from './binding'
import { argRange, argType, errnoException, SocketError } from './errors'

/** The value type of each option kind. */
export type OptionValue = boolean | number

interface Row {
  kind: string
  platforms: string
  supported: boolean
  settable: boolean
}

const rows = new Map<string, Row>(native.optionTable().map((r) => [r.name, r]))

/** Every option name the table knows, with its kind and platforms (for docs and tests). */
export function optionNames(): { name: string; kind: string; platforms: string; supported: boolean; settable: boolean }[] {
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

/** Validates and encodes a value for the native setter. */
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
  const e = native.setopt(id, r.name, encode(r, value))
  if (e < 0) throw errnoException(-e, 'setsockopt')
}

/** `getsockopt` on socket `id`. */
export function getopt(id: number, name: unknown): OptionValue {
  const r = row(name)
  const v = native.getopt(id, r.name)
  if (v.errno !== 0) throw errnoException(v.errno, 'getsockopt')
  return decode(r.kind, v.value)
}
