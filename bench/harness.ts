/**
 * What every workload shares: the run length, interleaved rounds with medians, and the row
 * that ends up in the table and in results.json.
 */
import { performance } from 'node:perf_hooks'

export const quick = process.argv.includes('--quick')
/** `--rounds=N`: more rounds steady the medians on a noisy machine. */
const roundsArg = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length))
/** Rounds per workload: every implementation runs once per round, in turn (interleaved). */
export const ROUNDS = Number.isInteger(roundsArg) && roundsArg > 0 ? roundsArg : quick ? 3 : 5
/** Length of one timed run. */
export const SECONDS = quick ? 1 : 2
/** The ping-pong message. */
export const MSG = 64
/**
 * Every reader (socket2, node, C) reads into a 64 KiB buffer, the size Node's own reads use,
 * rather than asking for exactly the bytes it expects; and every TCP connection has
 * TCP_NODELAY on both ends (node: setNoDelay(true); socket2: setopt('tcp_nodelay', true)).
 * Like is compared with like.
 */
export const RECV_BUF = 65536
/** Every server listens here; a fresh port per run. */
export const HOST = '127.0.0.1'

/** Monotonic seconds. */
export function now(): number {
  return performance.now() / 1000
}

/** One timed run: one or more numbers (ping-pong also reports CPU per round trip). */
export type Run = () => Promise<number[]> | number[]

/** An implementation that cannot run here: why, shown as 'n/a' with a note. */
export class Unavailable {
  constructor(readonly reason: string) {}
}

export type Impl = Run | Unavailable

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/**
 * Runs every implementation once per round, in turn, so a slow phase of the machine hits them
 * all alike; returns the median of each reported number. An implementation that throws is
 * reported as unavailable with its error rather than ending the whole benchmark.
 */
export async function interleave<K extends string>(
  impls: Record<K, Impl>,
  rounds = ROUNDS,
): Promise<Record<K, number[] | Unavailable>> {
  const samples = new Map<K, number[][]>()
  const out = {} as Record<K, number[] | Unavailable>
  const keys = Object.keys(impls) as K[]
  for (const k of keys) {
    const impl = impls[k]
    if (impl instanceof Unavailable) out[k] = impl
    else samples.set(k, [])
  }
  for (let r = 0; r < rounds; r++) {
    for (const [k, xs] of samples) {
      try {
        xs.push(await (impls[k] as Run)())
      } catch (e) {
        out[k] = new Unavailable(`failed: ${e instanceof Error ? e.message : String(e)}`)
        samples.delete(k)
      }
    }
  }
  for (const [k, xs] of samples) out[k] = xs[0]!.map((_, i) => median(xs.map((x) => x[i]!)))
  // The spread of socket2's first number against node's, round by round: how much to trust
  // the median's ratio on this machine.
  const [a, b] = [samples.get('socket2' as K), samples.get('node' as K)]
  if (a !== undefined && b !== undefined && a.length === b.length && a.length > 1) {
    const ratios = a.map((x, r) => x[0]! / b[r]![0]!).sort((p, q) => p - q)
    console.error(`  socket2/node per round: ${ratios[0]!.toFixed(2)}x to ${ratios[ratios.length - 1]!.toFixed(2)}x`)
  }
  return out
}

/** A row of the table and of bench/results.json (`null`: not available). */
export interface Row {
  workload: string
  socket2: number | null
  node: number | null
  c: number | null
  /** socket2/node. */
  ratio: number | null
  target: string
  unit: string
}

/** Notes printed under the table: why a value is 'n/a'. */
export const notes: string[] = []

/** Metric `i` of a result, or null (noting why) when the implementation was unavailable. */
export function pick(workload: string, who: string, r: number[] | Unavailable, i = 0): number | null {
  if (!(r instanceof Unavailable)) return r[i]!
  const note = `${who} n/a in '${workload}': ${r.reason}`
  if (!notes.includes(note)) notes.push(note)
  return null
}

export function row(workload: string, unit: string, target: string, socket2: number | null, node: number | null, c: number | null): Row {
  return { workload, socket2, node, c, ratio: socket2 !== null && node !== null ? socket2 / node : null, target, unit }
}

function num(x: number | null): string {
  if (x === null) return 'n/a'
  return x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)
}

function ratio(a: number | null, b: number | null): string {
  return a === null || b === null ? 'n/a' : `${(a / b).toFixed(2)}x`
}

/** Prints the table: workload, socket2, node, C, socket2/node, socket2/C, target, unit. */
export function printTable(rows: Row[]): void {
  const cells = [
    ['workload', 'socket2', 'node', 'C', 'socket2/node', 'socket2/C', 'target', 'unit'],
    ...rows.map((r) => [r.workload, num(r.socket2), num(r.node), num(r.c), ratio(r.socket2, r.node), ratio(r.socket2, r.c), r.target, r.unit]),
  ]
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  for (const line of cells) {
    // Text columns (workload, target, unit) align left, numbers right.
    console.log(line.map((cell, i) => (i === 0 || i >= 6 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd())
  }
  for (const n of notes) console.log(`note: ${n}`)
}
