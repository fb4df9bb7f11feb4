/**
 * Responses with a header and a body: a client sends a 64 B request, the server answers with a
 * 200 B header and a 16 KiB body, one connection, responses/s. socket2 sends both with one
 * vectored `send([header, body])`; node corks the socket around two writes, its own way of
 * making them one `writev`.
 */
import { createServer, connect, type Socket } from 'node:net'
import { newthread, tcp, type Tcp } from 'socket2'
import { HOST, listenNode, MSG, now, RECV_BUF } from './harness'

const HEADER = 200
const BODY = 16384
const RESPONSE = HEADER + BODY

async function socket2Serve(s: Tcp): Promise<void> {
  s.setopt('tcp_nodelay', true)
  const header = Buffer.alloc(HEADER, 'h')
  const body = Buffer.alloc(BODY, 'b')
  const buf = Buffer.allocUnsafe(RECV_BUF)
  while ((await s.recv(buf)) > 0) await s.send([header, body])
  s.close()
}

export async function socket2Responses(seconds: number): Promise<number[]> {
  const server = tcp()
  await server.listen(HOST, 0)
  const c = tcp()
  const [[s]] = await Promise.all([server.accept(), c.connect(server.localAddr())])
  server.close()
  c.setopt('tcp_nodelay', true)
  const served = newthread(socket2Serve, s).done
  let responses = 0
  const t0 = now()
  const end = t0 + seconds
  await newthread(async () => {
    const req = Buffer.alloc(MSG)
    const buf = Buffer.allocUnsafe(RECV_BUF)
    while (now() < end) {
      await c.send(req)
      for (let got = 0; got < RESPONSE; ) {
        const n = await c.recv(buf)
        if (n === 0) throw new Error('responses: unexpected end of stream')
        got += n
      }
      responses++
    }
    c.close()
  }).done
  const result = [responses / (now() - t0)]
  await served
  return result
}

/** node:net written the usual way: cork, write the header, write the body, uncork. */
export async function nodeResponses(seconds: number): Promise<number[]> {
  const header = Buffer.alloc(HEADER, 'h')
  const body = Buffer.alloc(BODY, 'b')
  const server = createServer((s) => {
    s.setNoDelay(true)
    s.on('data', () => {
      s.cork()
      s.write(header)
      s.write(body)
      s.uncork()
    })
  })
  const port = await listenNode(server)
  const req = Buffer.alloc(MSG)
  let responses = 0
  let t0 = 0
  await new Promise<void>((resolve, reject) => {
    const c: Socket = connect(port, HOST)
    c.on('error', reject)
    c.on('close', () => resolve())
    c.on('connect', () => {
      c.setNoDelay(true)
      t0 = now()
      const end = t0 + seconds
      let got = 0
      c.on('data', (d) => {
        got += d.length
        if (got < RESPONSE) return
        got -= RESPONSE
        responses++
        if (now() < end) c.write(req)
        else c.end()
      })
      c.write(req)
    })
  })
  const result = [responses / (now() - t0)]
  await new Promise((resolve) => server.close(resolve))
  return result
}
