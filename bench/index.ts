// npm run bench [-- --quick] [-- --only=udp] [-- --rounds=N] [-- --pin]: every workload with
// socket2, with node:net / node:dgram, and with a C epoll program (the practical limit), client
// and server in one process (TCP ping-pong also with the servers in a second process), in at
// least 9 interleaved rounds. Prints each one's median, the median of the ratios of the runs
// paired by round with their lowest and highest, and whether that median meets the row's target,
// as a table, and writes them to bench/results.json (not when --only picks some workloads, by a
// word of their names). --quick, to stay under two minutes, makes the runs shorter, skips the
// bonus rows (no target) and gives the idle rows, three child processes a round, 3 rounds of
// fewer connections: a check, not a verdict. --pin puts each process on a core of its own (see
// harness.ts).
// The ping-pong and UDP workloads run socket2 with every poller backend of the platform (one
// row each, the backend in brackets: this process's, then the others in processes of their
// own, backends.ts), and in Bun and Deno against their own node:net / node:dgram.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Backend, backendTarget, closeBackends, here, inBackend, inRuntime, others } from './backends'
import { type Request } from './backend-child'
import { nodeBulk, socket2Bulk } from './bulk'
import { c } from './c'
import { nodeChurn, socket2Churn } from './churn'
import { BATCH, nodeDatagrams, socket2Datagrams } from './datagrams'
import { type Impl, interleave, met, MIN_ROUNDS, now, pairedRatio, pick, pin, pinSelf, printTable, quick, type Row, type Samples, SECONDS, Unavailable } from './harness'
import { idle, marginal } from './idle'
import { nodeLookups, socket2Lookups } from './lookup'
import { nodePingPong, socket2PingPong } from './pingpong'
import { remotePingPong } from './remote'
import { nodeTls, socket2Tls } from './tls'
import { nodeUdp, socket2Udp } from './udp'
import { nodeResponses, socket2Responses } from './vectored'

const IN_FLIGHT = 32
/** Each idle round starts three processes with two fds per connection: fewer under --quick. */
const IDLE_PAIRS = quick ? 2000 : 9000
const IDLE_ROUNDS = quick ? 3 : MIN_ROUNDS

if (pin) pinSelf()

const started = now()
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).toLowerCase()

function wanted(name: string): boolean {
  return only === undefined || name.toLowerCase().includes(only)
}

/** Runs one workload's implementations in interleaved rounds; logs progress to stderr. */
async function measure<K extends string>(name: string, impls: Record<K, Impl>, rounds?: number): Promise<Samples<K>> {
  const r = await interleave(impls, rounds)
  console.error(`[${(now() - started).toFixed(0)} s] ${name}`)
  return r
}

/** socket2's run of `request` in each of the other backends, for `measure`. */
function otherBackends(request: Request): Record<string, Impl> {
  return Object.fromEntries(others.map((b) => [b, inBackend(b, request)]))
}

/**
 * The rows of a workload measured with every backend: this process's socket2, then each
 * other backend's, each named in its row and compared with the same rounds' node and C.
 */
function perBackend(workload: string, unit: string, target: string, r: Samples<string>, i = 0): Row[] {
  const row = (b: Backend, t: string, socket2: Samples<'socket2'>['socket2']) =>
    compare(`${workload} [${b}]`, unit, t, { socket2, node: r.node!, c: r.c! }, i)
  return [row(here, target, r.socket2!), ...others.map((b) => row(b, i === 0 ? backendTarget[b] : 'none', r[b]!))]
}

/** A row of number `i`: each implementation's median, and the ratios paired by round. */
function compare(workload: string, unit: string, target: string, r: Samples<'socket2' | 'node' | 'c'>, i = 0): Row {
  const ratio = pairedRatio(r.socket2, r.node, i)
  const ratioC = pairedRatio(r.socket2, r.c, i)
  return {
    workload,
    socket2: pick(workload, 'socket2', r.socket2, i),
    node: pick(workload, 'node', r.node, i),
    c: pick(workload, 'C', r.c, i),
    ratio,
    ratioC,
    target,
    met: met(target, ratio, ratioC),
    unit,
  }
}

/** Run by run (paired by round), `a`'s first number over `b`'s. */
function per(a: number[][] | Unavailable, b: number[][] | Unavailable): number[][] | Unavailable {
  if (a instanceof Unavailable) return a
  if (b instanceof Unavailable) return b
  return a.map((run, k) => [run[0]! / b[k]![0]!])
}

async function main(): Promise<void> {
  const rows: Row[] = []

  const pp1Name = 'TCP ping-pong 64 B, 1 connection'
  const cpuName = 'CPU per round trip, 1-connection ping-pong (lower is better)'
  if (wanted(pp1Name) || wanted(cpuName)) {
    const pp1 = await measure(pp1Name, {
      socket2: () => socket2PingPong(1, SECONDS),
      node: () => nodePingPong(1, SECONDS),
      c: c('pingpong', 1, SECONDS),
      ...otherBackends({ workload: 'pingpong', conns: 1, seconds: SECONDS }),
    })
    rows.push(...perBackend(pp1Name, 'round trips/s', '>= 1.25x node', pp1))
    // The same runs' second number.
    rows.push(...perBackend(cpuName, 'CPU µs', '<= 0.8x node', pp1, 1))
  }

  const pp32Name = `TCP ping-pong 64 B, ${IN_FLIGHT} connections`
  if (wanted(pp32Name)) {
    const pp32 = await measure(pp32Name, {
      socket2: () => socket2PingPong(IN_FLIGHT, SECONDS),
      node: () => nodePingPong(IN_FLIGHT, SECONDS),
      c: c('pingpong', IN_FLIGHT, SECONDS),
      ...otherBackends({ workload: 'pingpong', conns: IN_FLIGHT, seconds: SECONDS }),
    })
    rows.push(...perBackend(pp32Name, 'round trips/s', '>= 1.4x node', pp32))
  }

  // The bonus variant: each library's servers in a second process. No target is set for it.
  for (const conns of [1, IN_FLIGHT]) {
    const name = `TCP ping-pong 64 B, ${conns === 1 ? '1 connection' : `${conns} connections`}, server in a second process`
    if (quick || !wanted(name)) continue
    const r = await measure(name, {
      socket2: remotePingPong('socket2', conns, SECONDS),
      node: remotePingPong('node', conns, SECONDS),
      c: remotePingPong('c', conns, SECONDS),
      ...otherBackends({ workload: 'remote', conns, seconds: SECONDS }),
    })
    rows.push(...perBackend(name, 'round trips/s', 'none (bonus)', r))
  }

  // Servers on several cores of a second process, the load from the C client: socket2's worker
  // threads (so_reuseport listeners) against node's cluster, 2 workers, and each one's scaling
  // from 1 worker to 2 (its own 2-worker rate over its 1-worker rate, paired by round).
  const multiName = `TCP ping-pong 64 B, ${IN_FLIGHT} connections, echo server on 2 workers (socket2 worker_threads vs node cluster), C client process`
  const scalingName = 'Scaling of that server from 1 worker to 2 (2-worker over 1-worker round trips/s)'
  if (wanted(multiName)) {
    const reuseport = process.platform === 'linux' ? undefined : new Unavailable('so_reuseport spreads connections on Linux only')
    const r = await measure(multiName, {
      socket2: reuseport ?? remotePingPong('socket2', IN_FLIGHT, SECONDS, 2),
      node: remotePingPong('node', IN_FLIGHT, SECONDS, 2),
      one: reuseport ?? remotePingPong('socket2', IN_FLIGHT, SECONDS, 1),
      nodeOne: remotePingPong('node', IN_FLIGHT, SECONDS, 1),
      c: new Unavailable('no C baseline: the C server runs on one core'),
    })
    rows.push(compare(multiName, 'round trips/s', '>= 1.3x node', r))
    rows.push(compare(scalingName, 'x (2 workers / 1)', '>= 1.0x node', { socket2: per(r.socket2, r.one), node: per(r.node, r.nodeOne), c: r.c }))
  }

  // What one kernel poller for both workers costs: the same server, its workers sharing the
  // main thread's poller (epollFd(fd)), against each with its own. The "node" column here is
  // socket2 with pollers of their own.
  const sharedName = `Same server, its 2 workers sharing one kernel poller (socket2 shared vs socket2 own pollers), C client process`
  if (!quick && wanted(sharedName)) {
    const own = process.platform === 'linux' ? undefined : new Unavailable('so_reuseport spreads connections on Linux only')
    const r = await measure(sharedName, {
      socket2: own ?? remotePingPong('socket2-shared', IN_FLIGHT, SECONDS, 2),
      node: own ?? remotePingPong('socket2', IN_FLIGHT, SECONDS, 2),
      c: new Unavailable('no C baseline: the C server runs on one core'),
    })
    rows.push(compare(sharedName, 'round trips/s', 'none (measured)', r))
  }

  // One set of runs, two rows: node's two ways of reading against the same socket2 and C.
  const bulkName = 'TCP bulk, 64 KiB sends, 1 connection'
  if (wanted(bulkName)) {
    const bulk = await measure(bulkName, {
      socket2: () => socket2Bulk(SECONDS),
      data: () => nodeBulk(SECONDS, 'data'),
      onread: () => nodeBulk(SECONDS, 'onread'),
      c: c('bulk', SECONDS),
    })
    rows.push(compare(`${bulkName} (node 'data')`, 'MB/s', '>= 1.5x node, >= 0.8x C', { ...bulk, node: bulk.data }))
    rows.push(compare(`${bulkName} (node onread)`, 'MB/s', '>= 1.0x node, >= 0.8x C', { ...bulk, node: bulk.onread }))
  }

  // TLS over toDuplex against TLS over node:net: both encrypt alike, the transports differ.
  const tlsName = 'TLS bulk, 64 KiB writes, 1 connection (socket2 toDuplex vs node:net)'
  if (wanted(tlsName)) {
    const r = await measure(tlsName, {
      socket2: () => socket2Tls(SECONDS),
      node: () => nodeTls(SECONDS),
      c: new Unavailable('no C baseline: the C program speaks no TLS'),
    })
    rows.push(compare(tlsName, 'MB/s', 'none (measured)', r))
  }

  const churnName = `connect + accept + 1 exchange + close, ${IN_FLIGHT} in flight`
  if (wanted(churnName)) {
    const churn = await measure(churnName, {
      socket2: () => socket2Churn(IN_FLIGHT, SECONDS),
      node: () => nodeChurn(IN_FLIGHT, SECONDS),
      c: c('churn', IN_FLIGHT, SECONDS),
    })
    rows.push(compare(churnName, 'connections/s', '>= 1.1x node', churn))
  }

  const udpName = 'UDP ping-pong 64 B'
  if (wanted(udpName)) {
    const udp = await measure(udpName, {
      socket2: socket2Udp(SECONDS),
      node: () => nodeUdp(SECONDS),
      c: c('udp', SECONDS),
      ...otherBackends({ workload: 'udp', conns: 1, seconds: SECONDS }),
    })
    rows.push(...perBackend(udpName, 'round trips/s', '>= 1.5x node', udp))
  }

  // socket2 where its thread backend is the one it has: in Bun and Deno, against each runtime's
  // own node:net / node:dgram, both in the same process of that runtime.
  for (const runtime of ['bun', 'deno'] as const) {
    const where = `in ${runtime === 'bun' ? 'Bun' : 'Deno'} [thread]`
    const noC = new Unavailable('no C run inside another runtime')
    for (const [name, request] of [
      [`${pp1Name}, ${where}`, { workload: 'pingpong', conns: 1, seconds: SECONDS }],
      [`${pp32Name}, ${where}`, { workload: 'pingpong', conns: IN_FLIGHT, seconds: SECONDS }],
      [`${udpName}, ${where}`, { workload: 'udp', conns: 1, seconds: SECONDS }],
    ] as const) {
      if (!wanted(name)) continue
      const r = await measure(name, { socket2: inRuntime(runtime, request), node: inRuntime(runtime, { ...request, impl: 'node' }), c: noC })
      rows.push(compare(name, 'round trips/s', backendTarget.thread, r))
    }
  }

  // One set of runs, two rows: socket2's single calls and its batches against the same node.
  const oneWayName = 'UDP one way 64 B, sender and receiver threads'
  if (wanted(oneWayName)) {
    const noC = new Unavailable('no C baseline for this workload')
    const oneWay = await measure(oneWayName, {
      single: socket2Datagrams(SECONDS, false),
      batch: socket2Datagrams(SECONDS, true),
      node: () => nodeDatagrams(SECONDS),
      c: noC,
    })
    rows.push(compare(`${oneWayName}, socket2 send/recv`, 'datagrams/s', '>= 1.5x node', { ...oneWay, socket2: oneWay.single }))
    rows.push(compare(`${oneWayName}, socket2 sendMany/recvMany of ${BATCH}`, 'datagrams/s', '>= 3x node', { ...oneWay, socket2: oneWay.batch }))
  }

  const responseName = 'TCP responses, 200 B header + 16 KiB body (node: cork, 2 writes)'
  if (wanted(responseName)) {
    const responses = await measure(responseName, {
      socket2: () => socket2Responses(SECONDS),
      node: () => nodeResponses(SECONDS),
      c: new Unavailable('no C baseline for this workload'),
    })
    rows.push(compare(responseName, 'responses/s', '>= 1.3x node', responses))
  }

  // The issue's row: each end waits for data as its library waits (socket2: a thread parked in
  // recv). The second row is the socket's own cost: nothing waits on a socket2 end (a pool's
  // idle connections); node's sockets are the same minus their 'data' handler.
  for (const [open, what, target] of [
    [false, 'both ends in process, each waiting for data', '<= 0.5x node'],
    [true, 'both ends in process, nothing waiting', 'none (the socket alone)'],
  ] as const) {
    const idleName = `${IDLE_PAIRS} idle connections, ${what} (lower is better)`
    if (!wanted(idleName)) continue
    const idles = await measure(
      idleName,
      { socket2: idle('socket2', IDLE_PAIRS, open), node: idle('node', IDLE_PAIRS, open), c: idle('c', IDLE_PAIRS) },
      IDLE_ROUNDS,
    )
    rows.push(compare(idleName, 'KiB RSS per connection', target, idles))
  }

  // Beside the issue's row, not instead of it: what one more waiting connection adds, without
  // the young generation's fixed cost that the average spreads over the connections.
  const marginalName = `${IDLE_PAIRS} idle connections, each waiting: RSS added per connection from ${Math.round(IDLE_PAIRS / 3)} to ${IDLE_PAIRS}, young generation held small (lower is better)`
  if (wanted(marginalName)) {
    const added = await measure(
      marginalName,
      { socket2: marginal('socket2', IDLE_PAIRS), node: marginal('node', IDLE_PAIRS), c: new Unavailable('no young generation in C: see the waiting row') },
      IDLE_ROUNDS,
    )
    rows.push(compare(marginalName, 'KiB RSS per connection', 'none (the marginal cost; the waiting row is judged)', added))
  }

  for (const [host, kind] of [
    ['localhost', 'name'],
    ['127.0.0.1', 'numeric'],
  ] as const) {
    const name = `addr('${host}') vs dns.lookup (${kind}), 16 in flight`
    if (!wanted(name)) continue
    const r = await measure(name, {
      socket2: () => socket2Lookups(host, SECONDS),
      node: () => nodeLookups(host, SECONDS),
      c: new Unavailable('no C baseline: a lookup is not a socket workload'),
    })
    rows.push(compare(name, 'lookups/s', '>= 1.0x node', r))
  }

  closeBackends()
  console.error(`[${(now() - started).toFixed(0)} s] done`)
  printTable(rows)
  if (only === undefined) writeFileSync(join(__dirname, 'results.json'), JSON.stringify(rows, null, 2) + '\n')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
