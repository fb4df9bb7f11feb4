// A server on several worker threads. On Linux each worker opens its own listener on the same
// port with `so_reuseport`, and the kernel spreads incoming connections across them by hash;
// nothing is shared but the port. Elsewhere (macOS accepts the option but sends every connection
// to one listener; Windows has no such option) the main thread accepts, and hands each
// connection to the next worker in turn: `detach()` gives up its descriptor, `adopt()` takes it
// over in the worker, with whatever the client already sent. The main thread then connects a few
// clients, and each answer names the worker that served it. With `shared` (Linux, macOS), every
// worker also waits on the main thread's kernel poller (`epollFd(fd)`) instead of one of its own.
//
//   node --import tsx examples/workers.ts [workers=2] [clients=8] [reuseport|handover] [shared]
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads'
import { once } from 'node:events'
import { adopt, clock, epollFd, newthread, tcp, type Tcp } from 'socket2'

/** What the main thread tells each worker: how the port is shared, and the poller to share. */
interface Setup {
  port: number
  mode: string
  poller?: number
}

/** The way to share the port: the fourth argument, else `so_reuseport` on Linux only. */
const mode = isMainThread ? (process.argv[4] ?? (process.platform === 'linux' ? 'reuseport' : 'handover')) : (workerData as Setup).mode
const reuseport = mode === 'reuseport'

/** Answers one client with the name of this worker. */
async function serve(conn: Tcp): Promise<void> {
  try {
    const buf = new Uint8Array(64)
    await conn.recv(buf, undefined, clock() + 5)
    await conn.send(`served by worker ${threadId}`)
  } finally {
    conn.close()
  }
}

/**
 * In a worker: with `so_reuseport`, listen on `port` (0: any), report it and serve until the
 * main thread says stop; else serve each connection the main thread hands over.
 */
async function worker({ port, poller }: Setup): Promise<void> {
  // Before the worker's first socket: from here on its sockets are registered there.
  if (poller !== undefined) epollFd(poller)
  if (!reuseport) {
    parentPort!.on('message', (fd: number | 'stop') => {
      if (fd === 'stop') parentPort!.close()
      else newthread(serve, adopt(fd, 'tcp'))
    })
    parentPort!.postMessage(0)
    return
  }
  const server = tcp()
  server.setopt('so_reuseport', true) // before binding: every listener on the port needs it
  await server.listen('127.0.0.1', port)
  parentPort!.once('message', () => server.close()) // 'stop': ends the for await below
  parentPort!.postMessage(server.localAddr().port)
  for await (const [c] of server) newthread(serve, c)
}

async function main(): Promise<void> {
  const workers = Number(process.argv[2] ?? 2)
  const clients = Number(process.argv[3] ?? 8)
  const poller = process.argv[5] === 'shared' ? epollFd() : undefined

  // With so_reuseport the first worker picks the port and the others join it.
  const pool: Worker[] = []
  let port = 0
  for (let i = 0; i < workers; i++) {
    // The worker runs this same file, so it needs the TypeScript loader too: a worker does not
    // take over its parent's hooks. It starts as a line of CommonJS that loads both, which works
    // whatever else NODE_OPTIONS imports; compiled to .js, `new Worker(__filename)` would do.
    const boot = `require('tsx/cjs'); require(${JSON.stringify(__filename)})`
    const setup: Setup = { port, mode, poller }
    const w = new Worker(boot, { eval: true, workerData: setup })
    pool.push(w)
    ;[port] = (await once(w, 'message')) as [number]
  }
  const server = reuseport ? undefined : tcp()
  if (server !== undefined) {
    await server.listen('127.0.0.1', 0)
    port = server.localAddr().port
    newthread(async () => {
      let next = 0
      for await (const [c] of server) pool[next++ % pool.length]!.postMessage(c.detach())
    })
  }
  const sharing = poller === undefined ? '' : `, sharing poller ${poller}`
  console.log(`${workers} workers ${reuseport ? 'listening' : 'served by one listener'} on 127.0.0.1:${port}${sharing}`)

  const answers = await Promise.all(
    Array.from({ length: clients }, async () => {
      await using c = tcp()
      await c.connect('127.0.0.1', port, clock() + 5)
      await c.send('hi')
      const buf = new Uint8Array(64)
      const n = await c.recv(buf, undefined, clock() + 5)
      return Buffer.from(buf.subarray(0, n)).toString()
    }),
  )
  for (const [i, a] of answers.entries()) console.log(`client ${i}: ${a}`)
  const counts = new Map<string, number>()
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1)
  console.log(`${counts.size} of ${workers} workers served clients`)

  server?.close()
  for (const w of pool) w.postMessage('stop')
  await Promise.all(pool.map((w) => once(w, 'exit')))
  console.log('workers exited')
}

;(isMainThread ? main() : worker(workerData as Setup)).catch((e) => {
  console.error(e)
  process.exit(1)
})
