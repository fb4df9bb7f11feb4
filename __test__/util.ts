/** Helpers shared by the specs: real loopback sockets, bounded waits, temp paths. */
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { type Socket, tcp, type Tcp } from 'socket2'

/** A listening TCP server on 127.0.0.1 (or ::1) and an ephemeral port. */
export async function listener(family: 'inet' | 'inet6' = 'inet'): Promise<Tcp> {
  const s = tcp(family)
  await s.listen(family === 'inet' ? '127.0.0.1' : '::1', 0)
  return s
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

/** Reads until end of stream; returns everything received. */
export async function readAll(s: Tcp, chunk = 65536): Promise<Buffer> {
  const buf = new Uint8Array(chunk)
  const parts: Buffer[] = []
  for (let n; (n = await s.recv(buf)) > 0; ) parts.push(Buffer.from(buf.subarray(0, n)))
  return Buffer.concat(parts)
}

/** Closes the sockets when the test ends, whatever its outcome. */
export function closing(t: ExecutionContext, ...socks: Socket[]): void {
  t.teardown(() => {
    for (const s of socks) s.close()
  })
}

/** Whether a command is on the PATH. */
export function has(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(`${dir}/${cmd}`, fsConstants.X_OK)
      return true
    } catch {}
  }
  return false
}
