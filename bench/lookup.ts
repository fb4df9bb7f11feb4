/**
 * Address lookups with 16 in flight: socket2's addr() against dns.lookup (both IPv4, both on
 * libuv's thread pool when a name must be resolved). Lookups/s.
 */
import { lookup } from 'node:dns/promises'
import { addr } from 'socket2'
import { now } from './harness'

const IN_FLIGHT = 16

async function lookups(seconds: number, once: () => Promise<unknown>): Promise<number[]> {
  let n = 0
  const t0 = now()
  const end = t0 + seconds
  const worker = async (): Promise<void> => {
    while (now() < end) {
      await once()
      n++
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return [n / (now() - t0)]
}

export function socket2Lookups(host: string, seconds: number): Promise<number[]> {
  return lookups(seconds, () => addr(host, 80, 'tcp', 'inet'))
}

export function nodeLookups(host: string, seconds: number): Promise<number[]> {
  return lookups(seconds, () => lookup(host, { family: 4 }))
}
