// socket2's side of a workload in a process of its own, whose poller backend is the one its
// SOCKET2_POLLER names (the backend is chosen once, when socket2 loads), or in Bun or Deno (which
// run this file too; socket2 runs its thread backend there). Reads one request per line on
// stdin, runs it, and prints its numbers (or its error) as one JSON line; it stays up across
// rounds, so its code is as warm as the main process's. Exits when stdin closes.
import { createInterface } from 'node:readline'
import { type Run } from './harness'
import { nodePingPong, socket2PingPong } from './pingpong'
import { nodeUdp, socket2Udp } from './udp'

/** What the main process asks for. */
export interface Request {
  workload: 'pingpong' | 'remote' | 'udp'
  conns: number
  seconds: number
  /** `node`: the runtime's own node:net / node:dgram instead of socket2 (pingpong and udp). */
  impl?: 'node'
}

async function run(r: Request): Promise<number[]> {
  const node = r.impl === 'node'
  if (r.workload === 'pingpong') return (node ? nodePingPong : socket2PingPong)(r.conns, r.seconds)
  if (r.workload === 'udp') return node ? nodeUdp(r.seconds) : (socket2Udp(r.seconds) as Run)()
  // Loaded only here: it finds its child's file through __dirname, which Deno's ES modules lack.
  const { remotePingPong } = await import('./remote')
  return (remotePingPong('socket2', r.conns, r.seconds) as Run)()
}

async function main(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    let reply: { numbers: number[] } | { error: string }
    try {
      reply = { numbers: await run(JSON.parse(line) as Request) }
    } catch (e) {
      reply = { error: e instanceof Error ? e.message : String(e) }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  }
}

void main()
