/**
 * UDP ping-pong: a connected client sends 64 B, the server echoes each datagram to its sender.
 * Round trips/s.
 */
import { createSocket } from 'node:dgram'
import * as socket2 from 'socket2'
import { HOST, type Impl, MSG, now, RECV_BUF, Unavailable } from './harness'

/** udp() is newer than the rest of the library; without it the row says so. */
const udp = (socket2 as { udp?: typeof socket2.udp }).udp

export function socket2Udp(seconds: number): Impl {
  if (udp === undefined) return new Unavailable('this socket2 has no udp()')
  return async () => {
    const server = udp()
    await server.bind(HOST, 0)
    const client = udp()
    await client.bind(HOST, 0)
    await client.connect(server.localAddr())
    const echo = socket2.newthread(async () => {
      const buf = Buffer.allocUnsafe(RECV_BUF)
      for (;;) {
        let got: [number, socket2.Address]
        try {
          got = await server.recv(buf)
        } catch (e) {
          // server.close() below ends the loop.
          if ((e as socket2.SocketError).code === 'ERR_SOCKET_CLOSED') return
          throw e
        }
        await server.send(buf, got[0], got[1])
      }
    }).done
    let trips = 0
    const t0 = now()
    const end = t0 + seconds
    const msg = Buffer.alloc(MSG)
    const buf = Buffer.allocUnsafe(RECV_BUF)
    while (now() < end) {
      await client.send(msg)
      await client.recv(buf)
      trips++
    }
    const result = [trips / (now() - t0)]
    client.close()
    server.close()
    await echo
    return result
  }
}

/** node:dgram written the usual way: a connected client, echo in the 'message' handler. */
export async function nodeUdp(seconds: number): Promise<number[]> {
  const server = createSocket('udp4')
  server.on('message', (m, from) => server.send(m, from.port, from.address))
  await new Promise<void>((resolve) => server.bind(0, HOST, resolve))
  const client = createSocket('udp4')
  await new Promise<void>((resolve) => client.connect(server.address().port, HOST, resolve))
  const msg = Buffer.alloc(MSG)
  let trips = 0
  const t0 = now()
  const end = t0 + seconds
  await new Promise<void>((resolve, reject) => {
    client.on('error', reject)
    client.on('message', () => {
      trips++
      if (now() < end) client.send(msg)
      else resolve()
    })
    client.send(msg)
  })
  const result = [trips / (now() - t0)]
  await Promise.all([new Promise<void>((r) => client.close(r)), new Promise<void>((r) => server.close(r))])
  return result
}
