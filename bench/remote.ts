/**
 * TCP ping-pong with the echo servers in a second process (echo-child.ts, or the C program's
 * echo mode) and the clients in this one: one process per end, as between two programs,
 * over loopback. Every event then crosses processes, so the in-process variant's shortcut (the
 * peer's reply ready in the same dispatch) is not there for anyone. Round trips/s.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { cBinary, cMissing, runC } from './c'
import { type Impl, onServerCore } from './harness'
import { nodePingPong, socket2PingPong } from './pingpong'

/** `socket2-shared`: socket2's workers sharing one kernel poller (see echo-child.ts). */
type Lib = 'socket2' | 'socket2-shared' | 'node' | 'c'

/** The echo server of `lib`, on `workers` cores when given (see echo-child.ts). */
function echoServer(lib: Lib, workers?: number): ChildProcess {
  const stdio: ['pipe', 'pipe', 'inherit'] = ['pipe', 'pipe', 'inherit']
  const child = ['--import', 'tsx', join(__dirname, 'echo-child.ts'), lib, ...(workers === undefined ? [] : [String(workers)])]
  const [cmd, args] = lib === 'c' ? onServerCore(cBinary, ['echo']) : onServerCore(process.execPath, child)
  return spawn(cmd, args, { cwd: join(__dirname, '..'), stdio })
}

/** The port the child prints first; throws if it exits before (`exited`). */
async function portOf(child: ChildProcess, exited: Promise<unknown>): Promise<number> {
  const lines = createInterface({ input: child.stdout! })
  const first = once(lines, 'line').then(([line]) => Number(line))
  const port = await Promise.race([first, exited.then(() => undefined)])
  lines.close()
  if (port === undefined) throw new Error('the echo server exited before listening')
  return port
}

/**
 * Ping-pong against `lib`'s echo server in a second process. With `workers`, that server runs on
 * that many cores (socket2 worker_threads or a node cluster), and the load comes from the C
 * client, the same for both, which leaves the cores to the servers as far as a client can.
 */
export function remotePingPong(lib: Lib, conns: number, seconds: number, workers?: number): Impl {
  if ((lib === 'c' || workers !== undefined) && cMissing !== undefined) return cMissing
  return async () => {
    const child = echoServer(lib, workers)
    const exited = once(child, 'exit')
    try {
      const port = await portOf(child, exited)
      if (workers !== undefined) return runC(['pingclient', port, conns, seconds])
      if (lib === 'socket2') return await socket2PingPong(conns, seconds, port)
      if (lib === 'node') return await nodePingPong(conns, seconds, port)
      return runC(['pingclient', port, conns, seconds])
    } finally {
      child.stdin!.end()
      await exited
    }
  }
}
