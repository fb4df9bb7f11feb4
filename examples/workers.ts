// A server on several worker threads: each worker opens its own listener on the same port with
// `so_reuseport`, and the kernel spreads incoming connections across them (Linux balances by
// hash; macOS and the BSDs accept it too; Windows has no such option). Each worker has its own
// poller and serves its connections with `for await`; nothing is shared but the port. The main
// thread then connects a few clients, and each answer names the worker that served it.
//
//   node --import tsx examples/workers.ts [workers=2] [clients=8]
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads'
import { once } from 'node:events'
import { clock, newthread, tcp } from 'socket2'

/** In a worker: listen on `port` (0: any), report it, serve until the main thread says stop. */
async function worker(port: number): Promise<void> {
  const server = tcp()
  server.setopt('so_reuseport', true) // before binding: every listener on the port needs it
  await server.listen('127.0.0.1', port)
  parentPort!.once('message', () => server.close()) // 'stop': ends the for await below
  parentPort!.postMessage(server.localAddr().port)
  for await (const [c] of server) {
    newthread(async () => {
      await using conn = c
      const buf = new Uint8Array(64)
      await conn.recv(buf, undefined, clock() + 5)
      await conn.send(`served by worker ${threadId}`)
    })
  }
}

async function main(): Promise<void> {
  const workers = Number(process.argv[2] ?? 2)
  const clients = Number(process.argv[3] ?? 8)

  // The first worker picks the port; the others join it.
  const pool: Worker[] = []
  let port = 0
  for (let i = 0; i < workers; i++) {
    // The worker runs this same file, so it needs the TypeScript loader too (a worker does not
    // take over the --import hooks of its parent); compiled to .js it would need no execArgv.
    const w = new Worker(__filename, { workerData: port, execArgv: ['--require', 'tsx/cjs'] })
    pool.push(w)
    ;[port] = (await once(w, 'message')) as [number]
  }
  console.log(`${workers} workers listening on 127.0.0.1:${port}`)

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

  for (const w of pool) w.postMessage('stop')
  await Promise.all(pool.map((w) => once(w, 'exit')))
  console.log('workers exited')
}

;(isMainThread ? main() : worker(workerData as number)).catch((e) => {
  console.error(e)
  process.exit(1)
})
