/**
 * The echo servers of the two-process ping-pong, in a process of their own:
 * `echo-child.ts socket2|node [workers]` listens on an ephemeral port, prints it, and echoes
 * every connection as the in-process ping-pong's servers do, until its stdin ends.
 *
 * With `workers`, the server runs on that many cores, each library its own way: socket2 on
 * worker_threads of this process, each with its own `so_reuseport` listener on the one port
 * (the kernel spreads connections by hash; Linux); node with `cluster`, a process per worker,
 * the primary accepting and handing connections out in turn (its default off Windows).
 * `socket2-shared`: socket2's workers as above, all sharing the main thread's kernel poller
 * (`epollFd(fd)`), to measure what sharing costs.
 */
import cluster from 'node:cluster'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { epollFd, newthread, tcp } from 'socket2'
import { HOST, listenNode } from './harness'
import { nodeEcho, socket2Echo } from './pingpong'

/** A socket2 echo server on `port` (0: any), with `so_reuseport` when others share it. */
async function socket2Server(port: number, shared: boolean): Promise<number> {
  const server = tcp()
  if (shared) server.setopt('so_reuseport', true)
  await server.listen(HOST, port)
  newthread(async () => {
    for (;;) {
      const [c] = await server.accept()
      // The client's connections may end in a reset when it exits: not an error of the server's.
      newthread(socket2Echo, c).done.catch(() => c.close())
    }
  })
  return server.localAddr().port
}

/** Starts `n` socket2 workers on one port (the first picks it), sharing this thread's poller
 * when `share`: the port. */
async function socket2Workers(n: number, share: boolean): Promise<number> {
  let port = 0
  const poller = share ? epollFd() : undefined
  for (let i = 0; i < n; i++) {
    // A worker does not take over its parent's hooks: it boots from a line of CommonJS that
    // loads tsx and this file, as examples/workers.ts explains.
    const w = new Worker(`require('tsx/cjs'); require(${JSON.stringify(__filename)})`, { eval: true, workerData: { port, poller } })
    w.unref()
    ;[port] = (await once(w, 'message')) as [number]
  }
  return port
}

/** Starts `n` node cluster workers, which all get the primary's one port: the port. */
async function nodeWorkers(n: number): Promise<number> {
  let port = 0
  for (let i = 0; i < n; i++) {
    const w = cluster.fork()
    ;[port] = (await once(w, 'message')) as [number]
  }
  return port
}

async function listen(lib: string | undefined, workers: number | undefined): Promise<number> {
  if (lib === 'socket2') return workers === undefined ? socket2Server(0, false) : socket2Workers(workers, false)
  if (lib === 'socket2-shared' && workers !== undefined) return socket2Workers(workers, true)
  if (lib === 'node') return workers === undefined ? listenNode(createServer(nodeEcho)) : nodeWorkers(workers)
  throw new Error('usage: echo-child.ts socket2|node [workers] | socket2-shared workers')
}

if (!isMainThread) {
  const { port, poller } = workerData as { port: number; poller?: number }
  if (poller !== undefined) epollFd(poller)
  socket2Server(port, true).then((port) => parentPort!.postMessage(port))
} else if (cluster.isWorker) {
  // listen(0) in cluster workers: the primary makes one listener, on one port, for all of them.
  // The client's connections may end in a reset when it exits: not an error of the server's.
  const server = createServer((s) => {
    s.on('error', () => {})
    nodeEcho(s)
  })
  listenNode(server).then((port) => process.send!(port))
} else {
  const workers = process.argv[3] === undefined ? undefined : Number(process.argv[3])
  listen(process.argv[2], workers).then(
    (port) => {
      console.log(port)
      // The parent ends stdin when it is done: then the listeners and connections go at once
      // (cluster workers exit with their primary's IPC channel).
      process.stdin.on('end', () => process.exit(0)).resume()
    },
    (e) => {
      console.error(e)
      process.exit(1)
    },
  )
}
