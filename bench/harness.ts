/**
 * What every workload shares: the run length, interleaved rounds with medians, pinning, and the
 * row that ends up in the table and in results.json.
 */
import { execFileSync } from 'node:child_process'
import { type AddressInfo, type Server } from 'node:net'
import { performance } from 'node:perf_hooks'

export const quick = process.argv.includes('--quick')
/**
 * `--pin`: this process (the clients, and the servers of the in-process rows) on core 0, a
 * second process (the servers of the two-process rows) on core 1, so neither end migrates or
 * shares a core with the other.
 */
export const pin = process.argv.includes('--pin')
/** The fewest rounds: a median and a spread of fewer paired ratios flip with the machine. */
export const MIN_ROUNDS = 9
/** `--rounds=N` (at least 9): more rounds steady the medians on a noisy machine. */
const roundsArg = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length))
/** Rounds per workload: every implementation runs once per round, in turn (interleaved). */
export const ROUNDS = Number.isInteger(roundsArg) && roundsArg >= MIN_ROUNDS ? roundsArg : MIN_ROUNDS
/** Length of one timed run: `--quick` keeps the rounds and shortens the runs. */
export const SECONDS = quick ? 0.25 : 1

/** Pins this process, every thread of it, to core 0 (`--pin`); its children inherit that. */
export function pinSelf(): void {
  execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' })
}

/** `[cmd, args]` to start a second process on core 1 under `--pin`, else unchanged. */
export function onServerCore(cmd: string, args: string[]): [string, string[]] {
  return pin ? ['taskset', ['-c', '1', cmd, ...args]] : [cmd, args]
}
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
 * A median of paired ratios and, for how far to trust it, the lowest and highest of them and
 * how many rounds there were.
 */
export interface Paired {
  median: number
  min: number
  max: number
  rounds: number
}

/**
 * `a`/`b` for number `i`: the median of the ratios of the two runs of each round, not the ratio
 * of the medians. The two runs of a round are seconds apart, so a phase of this machine that
 * slows both cancels out; across rounds it does not (one run's medians may come from a fast
 * phase and the other's from a slow one).
 */
export function pairedRatio(a: number[][] | Unavailable, b: number[][] | Unavailable, i = 0): Paired | null {
  const rs = ratios(a, b, i)
  return rs === undefined ? null : { median: median(rs), min: rs[0]!, max: rs[rs.length - 1]!, rounds: rs.length }
}

/**
 * Whether the medians meet `target`, written as the table shows it: clauses like `>= 1.5x node`
 * or `<= 0.8x C`, joined by commas, all of which must hold. Null when there is none to check
 * (`none (bonus)`) or a ratio it needs is missing.
 */
export function met(target: string, ratio: Paired | null, ratioC: Paired | null): boolean | null {
  const clauses = [...target.matchAll(/(>=|<=) ([\d.]+)x (node|C)\b/g)]
  if (clauses.length === 0) return null
  let all = true
  for (const [, cmp, x, vs] of clauses) {
    const r = vs === 'node' ? ratio : ratioC
    if (r === null) return null
    all &&= cmp === '>=' ? r.median >= Number(x) : r.median <= Number(x)
  }
  return all
}

export interface Row {
  workload: string
  socket2: number | null
  node: number | null
  c: number | null
  /** socket2/node, paired by round (see `pairedRatio`): for memory and CPU, lower is better. */
  ratio: Paired | null
  /** socket2/C, paired the same way. */
  ratioC: Paired | null
  target: string
  /** Whether the medians meet `target` (see `met`). */
  met: boolean | null
  unit: string
}

/** Notes printed under the table: why a value is 'n/a'. */
export const notes: string[] = []

function num(x: number | null): string {
  if (x === null) return 'n/a'
  return x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)
}

/** A paired ratio as `1.21x (1.10-1.30)`: the median, then the lowest and highest round. */
function ratio(r: Paired | null): string {
  return r === null ? 'n/a' : `${r.median.toFixed(2)}x (${r.min.toFixed(2)}-${r.max.toFixed(2)})`
}

function verdict(m: boolean | null): string {
  return m === null ? '-' : m ? 'yes' : 'NO'
}

/**
 * Prints the table: workload, socket2, node, C, socket2/node, socket2/C (each ratio the median
 * with the lowest and highest round), rounds, target, met, unit.
 */
export function printTable(rows: Row[]): void {
  const cells = [
    ['workload', 'socket2', 'node', 'C', 'socket2/node (min-max)', 'socket2/C (min-max)', 'rounds', 'target', 'met', 'unit'],
    ...rows.map((r) => [
      r.workload,
      num(r.socket2),
      num(r.node),
      num(r.c),
      ratio(r.ratio),
      ratio(r.ratioC),
      String((r.ratio ?? r.ratioC)?.rounds ?? '-'),
      r.target,
      verdict(r.met),
      r.unit,
    ]),
  ]
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)))
  for (const line of cells) {
    // Text columns (workload, target, met, unit) align left, numbers right.
    console.log(line.map((cell, i) => (i === 0 || i >= 7 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd())
  }
  for (const n of notes) console.log(`note: ${n}`)
}
