/**
 * What every workload shares: the run length, interleaved rounds with medians, and the row
 * that ends up in the table and in results.json.
 */
import { type AddressInfo, type Server } from 'node:net'
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

/** Makes a node:net server listen on HOST and an ephemeral port; returns the port. */
export async function listenNode(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  return (server.address() as AddressInfo).port
}

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

/** Every round's numbers from each implementation, or why it has none. */
export type Samples<K extends string> = Record<K, number[][] | Unavailable>

/**
 * Runs every implementation once per round, in turn, so a slow phase of the machine hits them
 * all alike; returns every round's numbers. Each round starts with the next implementation, so
 * none always runs first (after the previous workload's garbage) or last. An implementation that
 * throws is reported as unavailable with its error rather than ending the whole benchmark.
 */
export async function interleave<K extends string>(impls: Record<K, Impl>, rounds = ROUNDS): Promise<Samples<K>> {
  const samples = new Map<K, number[][]>()
  const out = {} as Samples<K>
  for (const k of Object.keys(impls) as K[]) {
    const impl = impls[k]
    if (impl instanceof Unavailable) out[k] = impl
    else samples.set(k, [])
  }
  for (let r = 0; r < rounds; r++) {
    const order = [...samples.keys()]
    for (let j = 0; j < order.length; j++) {
      const k = order[(r + j) % order.length]!
      try {
        samples.get(k)!.push(await (impls[k] as Run)())
      } catch (e) {
        out[k] = new Unavailable(`failed: ${e instanceof Error ? e.message : String(e)}`)
        samples.delete(k)
      }
    }
  }
  for (const [k, xs] of samples) out[k] = xs
  // socket2's (and each other poller backend's) spread against node.
  for (const k of Object.keys(out) as K[]) {
    if (k === 'node' || k === 'c') continue
    const spread = ratios(out[k], out['node' as K], 0)
    if (spread !== undefined && spread.length > 1) {
      console.error(`  ${k}/node per round: ${spread[0]!.toFixed(2)}x to ${spread[spread.length - 1]!.toFixed(2)}x`)
    }
  }
  return out
}

/** Number `i` of each round of `a` divided by the same round's of `b`, sorted. */
function ratios(a: number[][] | Unavailable | undefined, b: number[][] | Unavailable | undefined, i: number): number[] | undefined {
  if (a === undefined || b === undefined || a instanceof Unavailable || b instanceof Unavailable) return undefined
  return a.map((x, r) => x[i]! / b[r]![i]!).sort((p, q) => p - q)
}

/**
 * The median of `a`'s number `i` over the rounds, or null with a note saying why it is
 * missing.
 */
export function pick(workload: string, who: string, r: number[][] | Unavailable, i = 0): number | null {
  if (!(r instanceof Unavailable)) return median(r.map((x) => x[i]!))
  const note = `${who} n/a in '${workload}': ${r.reason}`
  if (!notes.includes(note)) notes.push(note)
  return null
}

/**
 * `a`/`b` for number `i`: the median of the ratios of the two runs of each round, not the ratio
 * of the medians. The two runs of a round are seconds apart, so a phase of this machine that
 * slows both cancels out; across rounds it does not (one run's medians may come from a fast
 * phase and the other's from a slow one).
 */
export function pairedRatio(a: number[][] | Unavailable, b: number[][] | Unavailable, i = 0): number | null {
  const rs = ratios(a, b, i)
  return rs === undefined ? null : median(rs)
}

export interface Row {
  workload: string
  socket2: number | null
  node: number | null
  c: number | null
  /** socket2/node, paired by round (see `pairedRatio`): for memory and CPU, lower is better. */
  ratio: number | null
  /** socket2/C, paired the same way. */
  ratioC: number | null
  target: string
  unit: string
}

/** Notes printed under the table: why a value is 'n/a'. */
export const notes: string[] = []

function num(x: number | null): string {
  if (x === null) return 'n/a'
  return x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)
}

function ratio(r: number | null): string {
  return r === null ? 'n/a' : `${r.toFixed(2)}x`
}

/** Prints the table: workload, socket2, node, C, socket2/node, socket2/C, target, unit. */
export function printTable(rows: Row[]): void {
  const cells = [
    ['workload', 'socket2', 'node', 'C', 'socket2/node', 'socket2/C', 'target', 'unit'],
    ...rows.map((r) => [r.workload, num(r.socket2), num(r.node), num(r.c), ratio(r.ratio), ratio(r.ratioC), r.target, r.unit]),
  ]
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  for (const line of cells) {
    // Text columns (workload, target, unit) align left, numbers right.
    console.log(line.map((cell, i) => (i === 0 || i >= 6 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd())
  }
  for (const n of notes) console.log(`note: ${n}`)
}
