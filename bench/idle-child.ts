/**
 * One idle-connection measurement, in a process of its own so one library's heap does not
 * pollute the other's: `idle-child.ts socket2|node PAIRS [open]` opens PAIRS connections with
 * both ends in this process, each end waiting for data the way its library waits (an echo at
 * rest), and prints the RSS they added per connection, in KiB, after a GC (run with
 * --expose-gc). With `open`, the ends just stay open: no socket2 operation waits (a pool's idle
 * connections), and node's sockets have no 'data' handler (they still read: node always does).
 */
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { newthread, tcp, type Tcp } from 'socket2'
import { HOST, listenNode, RECV_BUF } from './harness'

/** Connections opened at a time: well inside the listen backlog. */
const BATCH = 250
/** The socket2 ends nothing waits on, held so that they stay open. */
const kept: Tcp[] = []

/**
 * socket2: a thread parked in recv() on each end (with `open`, none). They share one buffer:
 * nothing arrives, and the row is about the library's cost per connection, not the caller's
 * choice of buffers.
 */
async function socket2Pairs(pairs: number, open: boolean): Promise<void> {
  const server = tcp()
  await server.listen(HOST, 0)
  const buf = Buffer.allocUnsafe(RECV_BUF)
  const echo = async (s: Tcp): Promise<void> => {
    for (let n; (n = await s.recv(buf)) > 0; ) await s.send(buf, n)
  }
  const atRest = (s: Tcp): unknown => (open ? kept.push(s) : newthread(echo, s))
  for (let i = 0; i < pairs; i += BATCH) {
    const clients = Array.from({ length: Math.min(BATCH, pairs - i) }, () => tcp())
    const connected = Promise.all(clients.map((c) => c.connect(server.localAddr())))
    for (const _ of clients) atRest((await server.accept())[0])
    await connected
    for (const c of clients) atRest(c)
  }
}

/** node:net: an echo 'data' handler on each end, as a server would have (with `open`, none). */
async function nodePairs(pairs: number, open: boolean): Promise<void> {
  const echo = (s: Socket): Socket => (open ? s : s.on('data', (d) => s.write(d)))
  let accepted = 0
  let allAccepted!: () => void
  const all = new Promise<void>((resolve) => (allAccepted = resolve))
  const server = createServer((s) => {
    echo(s)
    if (++accepted === pairs) allAccepted()
  })
  const port = await listenNode(server)
  for (let i = 0; i < pairs; i += BATCH) {
    const clients = Array.from({ length: Math.min(BATCH, pairs - i) }, () => echo(connect(port, HOST)))
    await Promise.all(clients.map((c) => once(c, 'connect')))
  }
  await all
}

function settledRss(): number {
  // Twice: the first collection's finalizers may free more.
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage.rss()
}

async function main(): Promise<void> {
  const [lib, n, mode] = process.argv.slice(2)
  const pairs = Number(n)
  const openPairs = lib === 'socket2' ? socket2Pairs : lib === 'node' ? nodePairs : undefined
  if (openPairs === undefined || !(pairs > 0) || (mode !== undefined && mode !== 'open')) {
    throw new Error('usage: idle-child.ts socket2|node PAIRS [open]')
  }
  const before = settledRss()
  await openPairs(pairs, mode === 'open')
  console.log((settledRss() - before) / 1024 / pairs)
  // The connections stay open to the end: exiting closes them all at once.
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
