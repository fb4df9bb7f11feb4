/**
 * Connection churn: `inflight` clients, each in a loop of connect, send 64 B, read the echo,
 * close. The server accepts, echoes, and closes at end of stream. Connections/s.
 */
import { createServer, connect } from 'node:net'
import { newthread, type SocketError, start, tcp, type Tcp } from 'socket2'
import { HOST, listenNode, MSG, now, RECV_BUF } from './harness'

export async function socket2Churn(inflight: number, seconds: number): Promise<number[]> {
  const server = tcp()
  await server.listen(HOST, 0)
  const addr = server.localAddr()
  const serve = async (s: Tcp): Promise<void> => {
    s.setopt('tcp_nodelay', true)
    const buf = Buffer.allocUnsafe(RECV_BUF)
    for (let n; (n = await s.recv(buf)) > 0; ) await s.send(buf, n)
    s.close()
  }
  newthread(async () => {
    for (;;) {
      try {
        newthread(serve, (await server.accept())[0])
      } catch (e) {
        // server.close() below ends the accept loop.
        if ((e as SocketError).code === 'ERR_SOCKET_CLOSED') return
        throw e
      }
    }
  })
  let done = 0
  const t0 = now()
  const end = t0 + seconds
  const clients = Array.from(
    { length: inflight },
    () =>
      newthread(async () => {
        const msg = Buffer.alloc(MSG)
        const buf = Buffer.allocUnsafe(RECV_BUF)
        while (now() < end) {
          const c = tcp()
          c.setopt('tcp_nodelay', true)
          await c.connect(addr)
          await c.send(msg)
          for (let got = 0; got < MSG; ) {
            const n = await c.recv(buf)
            if (n === 0) throw new Error('churn: unexpected end of stream')
            got += n
          }
          c.close()
          done++
        }
      }).done,
  )
  await Promise.all(clients)
  const elapsed = now() - t0
  server.close()
  // Until the last server thread has seen its client's end of stream.
  await start()
  return [done / elapsed]
}

/** node:net: the client destroys its socket once the echo is in (socket2 and C close). */
export async function nodeChurn(inflight: number, seconds: number): Promise<number[]> {
  const server = createServer((s) => {
    s.setNoDelay(true)
    s.on('data', (d) => s.write(d))
  })
  const port = await listenNode(server)
  const msg = Buffer.alloc(MSG)
  let done = 0
  const t0 = now()
  const end = t0 + seconds
  await new Promise<void>((resolve, reject) => {
    let active = inflight
    const client = (): void => {
      const c = connect(port, HOST)
      let got = 0
      c.on('error', reject)
      c.on('connect', () => {
        c.setNoDelay(true)
        c.write(msg)
      })
      c.on('data', (d) => {
        if ((got += d.length) < MSG) return
        c.destroy()
        done++
        if (now() < end) client()
        else if (--active === 0) resolve()
      })
    }
    for (let i = 0; i < inflight; i++) client()
  })
  const result = [done / (now() - t0)]
  await new Promise((resolve) => server.close(resolve))
  return result
}
