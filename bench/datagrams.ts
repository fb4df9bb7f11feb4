/**
 * One-way datagram throughput: a sender thread sends 64 B datagrams to a receiver in the same
 * process for `seconds`; datagrams received per second. socket2 with one call per datagram and
 * with batches of 32 (`sendMany`/`recvMany`), node:dgram with 32 sends a turn. Loopback drops
 * what the receiver's buffer cannot hold and only what arrives counts, so every sender yields
 * to the event loop (where the receiver runs) after each 128 datagrams, as socket2's
 * cooperative budget makes its single calls do.
 */
import { createSocket } from 'node:dgram'
import * as socket2 from 'socket2'
import { HOST, type Impl, MSG, now, RECV_BUF, Unavailable } from './harness'

/** Datagrams per batch. */
export const BATCH = 32
/** Datagrams a sender sends before it yields to the event loop. */
const TURN = 128

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** sendMany/recvMany are newer than udp(); without them the row says so. */
const batches = typeof (socket2.Udp?.prototype as { sendMany?: unknown } | undefined)?.sendMany === 'function'

/** Ends a receive loop when the socket is closed under it. */
function closed(e: unknown): boolean {
  return (e as socket2.SocketError).code === 'ERR_SOCKET_CLOSED'
}

export function socket2Datagrams(seconds: number, batch: boolean): Impl {
  if (batch && !batches) return new Unavailable('this socket2 has no sendMany/recvMany')
  return async () => {
    const rx = socket2.udp()
    await rx.bind(HOST, 0)
    const tx = socket2.udp()
    await tx.connect(rx.localAddr())
    let got = 0
    const receiver = socket2.newthread(async () => {
      try {
        if (batch) {
          const bufs = Array.from({ length: BATCH }, () => Buffer.allocUnsafe(RECV_BUF))
          for (;;) got += (await rx.recvMany(bufs)).length
        }
        const buf = Buffer.allocUnsafe(RECV_BUF)
        for (;;) {
          await rx.recv(buf)
          got++
        }
      } catch (e) {
        if (!closed(e)) throw e
      }
    }).done
    const t0 = now()
    const end = t0 + seconds
    await socket2.newthread(async () => {
      const msg = Buffer.alloc(MSG)
      const msgs = Array.from({ length: BATCH }, () => msg)
      for (let sent = 0; now() < end; ) {
        sent += batch ? await tx.sendMany(msgs) : await tx.send(msg)
        if (sent >= TURN) {
          sent = 0
          await yieldToLoop()
        }
      }
    }).done
    const result = [got / (now() - t0)]
    tx.close()
    rx.close()
    await receiver
    return result
  }
}

/**
 * node:dgram: a connected sender sends 128 datagrams a turn (its callbacks come on the next
 * tick, so a chain of sends from them would never let the receiver run).
 */
export async function nodeDatagrams(seconds: number): Promise<number[]> {
  const rx = createSocket('udp4')
  let got = 0
  rx.on('message', () => got++)
  await new Promise<void>((resolve) => rx.bind(0, HOST, resolve))
  const tx = createSocket('udp4')
  await new Promise<void>((resolve) => tx.connect(rx.address().port, HOST, resolve))
  const msg = Buffer.alloc(MSG)
  const t0 = now()
  const end = t0 + seconds
  let failure: Error | null = null
  const sent = (e: Error | null): void => {
    failure ??= e
  }
  while (now() < end && failure === null) {
    for (let i = 0; i < TURN; i++) tx.send(msg, sent)
    await yieldToLoop()
  }
  if (failure !== null) throw failure
  const result = [got / (now() - t0)]
  await Promise.all([new Promise<void>((r) => tx.close(r)), new Promise<void>((r) => rx.close(r))])
  return result
}
