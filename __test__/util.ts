/** Helpers shared by the specs: real loopback sockets, bounded waits, temp paths. */
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { clock, newthread, raw, type Socket, tcp, type Tcp } from 'socket2'

/** A listening TCP server on 127.0.0.1 (or ::1) and an ephemeral port. */
export async function listener(family: 'inet' | 'inet6' = 'inet'): Promise<Tcp> {
  const s = tcp(family)
  await s.listen(family === 'inet' ? '127.0.0.1' : '::1', 0)
  return s
}

/**
 * A listener with backlog 1 that never accepts, its queue filled (closed when the test ends): on
 * Linux the accept queue holds 2 connections (backlog + 1) and the SYN of a third is dropped, so
 * a connect to it stays in progress.
 */
export async function fullListener(t: ExecutionContext): Promise<Tcp> {
  const l = tcp()
  closing(t, l)
  await l.listen(1, '127.0.0.1', 0)
  for (let i = 0; i < 2; i++) {
    const f = tcp()
    closing(t, f)
    await within(f.connect(l.localAddr(), clock() + 2))
  }
  return l
}

/** A connected pair: [client, server-side socket, listener]. */
export async function pair(family: 'inet' | 'inet6' = 'inet'): Promise<[Tcp, Tcp, Tcp]> {
  const l = await listener(family)
  const c = tcp(family)
  const [[s], ] = await Promise.all([l.accept(), c.connect(l.localAddr())])
  return [c, s, l]
}

/** Rejects after `ms` so a hang fails the test instead of stalling the run. */
export function within<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
  })
  return Promise.race([p, guard]).finally(() => clearTimeout(t))
}

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(): [string, () => void] {
  const dir = mkdtempSync(join(tmpdir(), 'socket2-test-'))
  return [dir, () => rmSync(dir, { recursive: true, force: true })]
}

/** Detaches `buf`'s ArrayBuffer, as transferring it to a worker would. */
export function detach(buf: Uint8Array): void {
  structuredClone(buf.buffer, { transfer: [buf.buffer as ArrayBuffer] })
}

/** Reads until end of stream; returns everything received. */
export async function readAll(s: Tcp, chunk = 65536): Promise<Buffer> {
  const buf = new Uint8Array(chunk)
  const parts: Buffer[] = []
  for (let n; (n = await s.recv(buf)) > 0; ) parts.push(Buffer.from(buf.subarray(0, n)))
  return Buffer.concat(parts)
}

/**
 * Serves one connection as an echo, reading `chunk` bytes at a time: sends back what it
 * receives until end of stream, then closes it.
 */
export async function echo(c: Tcp, chunk = 65536): Promise<void> {
  const buf = new Uint8Array(chunk)
  try {
    for (let n; (n = await c.recv(buf)) > 0; ) await c.send(buf, n)
  } finally {
    c.close()
  }
}

/**
 * Sends `data` from `c` in a thread of its own and half-closes after it, while reading: returns
 * everything that came back (an echo's answer).
 */
export async function roundTrip(c: Tcp, data: string | Uint8Array): Promise<Buffer> {
  const sender = newthread(async () => {
    await c.send(data)
    c.shutdown('w')
  })
  const [, got] = await Promise.all([sender.done, readAll(c)])
  return got
}

/** Whether this process may open raw sockets (root or CAP_NET_RAW). */
export function rawAllowed(): boolean {
  try {
    raw().close()
    return true
  } catch {
    return false
  }
}

/** Closes the sockets when the test ends, whatever its outcome. */
export function closing(t: ExecutionContext, ...socks: Socket[]): void {
  t.teardown(() => {
    for (const s of socks) s.close()
  })
}

/** Whether a command is on the PATH. */
export function has(cmd: string): boolean {
  const names = process.platform === 'win32' ? [`${cmd}.exe`, `${cmd}.cmd`] : [cmd]
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of names) {
      try {
        accessSync(join(dir, name), fsConstants.X_OK)
        return true
      } catch {}
    }
  }
  return false
}

/** The gate of a test that makes a certificate (examples/cert.ts runs the openssl command). */
export const withOpenssl = (): Gated => onlyOn(has('openssl'), 'needs the openssl command to make a test certificate')

// ---------------------------------------------------------------------------------------------
// Platform gates

/** The emulator `npm run test:platforms` runs this suite under: 'wine', 'qemu' or undefined. */
export const emulated = process.env.SOCKET2_EMULATED
export const linux = process.platform === 'linux'
export const windows = process.platform === 'win32'

/**
 * Extra milliseconds to allow a child node process, on top of a test's bound: one started under
 * an emulator takes seconds just to start (about 4 s under qemu, 3 s for five at once under
 * wine), and a spec starts several at once.
 */
export const childStart = emulated ? 30_000 : 0

/** Options qemu-user 7.2 does not emulate (set or get fails ENOPROTOOPT, EINVAL or EFAULT). */
export const qemuLacks = new Set(emulated === 'qemu' ? ['so_mark', 'so_bindtodevice', 'ip_multicast_if', 'ipv6_multicast_if'] : [])

type Body = (t: ExecutionContext) => unknown
/** `test` or `test.serial`, possibly skipped: what `onlyOn` returns. */
export interface Gated {
  (title: string, body: Body): void
  serial(title: string, body: Body): void
}

/**
 * `test` where the test applies, else `test.skip` with ` (skipped: <reason>)` appended to the
 * title, since ava's skip carries no reason of its own.
 */
export function onlyOn(applies: boolean, reason: string): Gated {
  const skip = (title: string, body: Body): void => test.skip(`${title} (skipped: ${reason})`, body)
  if (!applies) return Object.assign(skip, { serial: skip })
  return Object.assign((title: string, body: Body) => test(title, body), {
    serial: (title: string, body: Body) => test.serial(title, body),
  })
}

/** A test of Linux behaviour; `what` says which (the reason shown elsewhere). */
export const linuxOnly = (what: string): Gated => onlyOn(linux, `Linux only: ${what}`)

/** Tests of a close that resets (linger 0): under wine a close never resets, the peer reads a clean end of stream (as measured). */
export const resets = (): Gated => onlyOn(emulated !== 'wine', 'wine closes gracefully where Windows resets')

/** Tests that wait for an ICMP error on a UDP socket: wine never reports one (as measured). */
export const udpIcmpErrors = (): Gated => onlyOn(emulated !== 'wine', 'wine does not report ICMP port unreachable to UDP sockets')
