/**
 * Idle connections: RSS per connection, each library in a child process of its own
 * (idle-child.ts; the C program's `idle` mode). Both ends are in the child, so every
 * connection takes two fds: the child's shell raises the soft fd limit to the hard one.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { cBinary, cMissing } from './c'
import { type Impl, Unavailable } from './harness'

/** Runs `cmd args` with the soft fd limit raised to the hard limit; the number it prints. */
function withFds(cmd: string, args: string[]): number[] {
  const out = execFileSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', cmd, ...args], {
    cwd: join(__dirname, '..'),
    encoding: 'utf8',
  })
  return [Number(out.trim())]
}

/** Descriptors the child needs besides the connections' (listener, stdio, node's own). */
const SPARE_FDS = 100

function fdShortage(pairs: number): Unavailable | undefined {
  const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
  if (hard === 'unlimited' || Number(hard) >= 2 * pairs + SPARE_FDS) return undefined
  return new Unavailable(`${pairs} connections need ${2 * pairs + SPARE_FDS} fds; the hard limit is ${hard}`)
}

/**
 * `pairs` idle connections in a child of `lib`: each end waiting for data, or with `open`, each
 * end just open (see idle-child.ts; C's ends are registered for reading either way).
 */
export function idle(lib: 'socket2' | 'node' | 'c', pairs: number, open = false): Impl {
  const missing = fdShortage(pairs) ?? (lib === 'c' ? cMissing : undefined)
  if (missing !== undefined) return missing
  return () => withFds(...childOf(lib, pairs, open, []))
}

/** The command and arguments of one idle child of `lib`, node's run with `flags`. */
function childOf(lib: 'socket2' | 'node' | 'c', pairs: number, open: boolean, flags: string[]): [string, string[]] {
  if (lib === 'c') return [cBinary, ['idle', String(pairs)]]
  const child = [join(__dirname, 'idle-child.ts'), lib, String(pairs), ...(open ? ['open'] : [])]
  return [process.execPath, ['--expose-gc', ...flags, '--import', 'tsx', ...child]]
}

/**
 * What one more waiting connection costs: the RSS added by `pairs` connections less that added
 * by a third as many, per connection between the two (each in a child of its own). V8's young
 * generation is held at its smallest (1 MB semi-spaces) in both: left alone it grows while the
 * connections are made, to about 32 MB whatever their number (node's as well), a fixed cost
 * that the average over `pairs` (the `idle` row) spreads over the connections.
 */
export function marginal(lib: 'socket2' | 'node', pairs: number): Impl {
  const missing = fdShortage(pairs)
  if (missing !== undefined) return missing
  const few = Math.round(pairs / 3)
  const added = (n: number): number => withFds(...childOf(lib, n, false, ['--max-semi-space-size=1']))[0]! * n
  return () => {
    const small = added(few)
    return [(added(pairs) - small) / (pairs - few)]
  }
}
