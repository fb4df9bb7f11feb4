/**
 * TCP ping-pong: `conns` connections, each a client sending 64 B and waiting for the echo.
 * Reports round trips/s and process CPU µs per round trip (user + system, every thread; with
 * the servers in another process, the clients' only).
 */
import { createServer, connect, type Socket } from 'node:net'
import { newthread, tcp, type Tcp } from 'socket2'
import { HOST, listenNode, MSG, now, RECV_BUF } from './harness'

/** socket2's echo server for one connection: a thread per connection. */
export async function socket2Echo(s: Tcp): Promise<void> {
  // Node's sockets get setNoDelay(true): the same on both ends here.
  s.setopt('tcp_nodelay', true)
  const buf = Buffer.allocUnsafe(RECV_BUF)
  for (let n; (n = await s.recv(buf)) > 0; ) await s.send(buf, n)
  s.close()
}

/** node:net's echo server for one connection, written the usual way. */
export function nodeEcho(s: Socket): void {
  s.setNoDelay(true)
  s.on('data', (d) => s.write(d))
}

/**
 * The clients run here; the echo servers run in this process, or, given `port`, in another
 * process listening there (echo-child.ts).
 */
export async function socket2PingPong(conns: number, seconds: number, port?: number): Promise<number[]> {
  const server = port === undefined ? tcp() : undefined
  await server?.listen(HOST, 0)
  const clients: Tcp[] = []
  const echoes: Promise<unknown>[] = []
  for (let i = 0; i < conns; i++) {
    const c = tcp()
    if (server === undefined) await c.connect(HOST, port)
    else {
      const [[s]] = await Promise.all([server.accept(), c.connect(server.localAddr())])
      echoes.push(newthread(socket2Echo, s).done)
    }
    c.setopt('tcp_nodelay', true)
    clients.push(c)
  }
  server?.close()
  let trips = 0
  const t0 = now()
  const cpu0 = process.cpuUsage()
  const end = t0 + seconds
  const threads = clients.map((c) =>
    newthread(async () => {
      const msg = Buffer.alloc(MSG)
      const buf = Buffer.allocUnsafe(RECV_BUF)
      while (now() < end) {
        await c.send(msg)
        for (let got = 0; got < MSG; ) {
          const n = await c.recv(buf)
          if (n === 0) throw new Error('ping-pong: unexpected end of stream')
          got += n
        }
        trips++
      }
      c.close()
    }).done,
  )
  await Promise.all([...threads, ...echoes])
  return [trips / (now() - t0), cpuMicros(cpu0) / trips]
}

/** node:net written the usual way: setNoDelay(true), echo in the 'data' handler. */
export async function nodePingPong(conns: number, seconds: number, port?: number): Promise<number[]> {
  const server = port === undefined ? createServer(nodeEcho) : undefined
  const target = server === undefined ? (port as number) : await listenNode(server)
  const msg = Buffer.alloc(MSG)
  let trips = 0
  let t0 = 0
  let cpu0 = process.cpuUsage()
  await new Promise<void>((resolve, reject) => {
    let open = conns
    let connected = 0
    const clients = Array.from({ length: conns }, () => {
      const c = connect(target, HOST)
      c.on('error', reject)
      c.on('connect', () => {
        c.setNoDelay(true)
        // The clock starts once every connection is up, as for socket2.
        if (++connected < conns) return
        t0 = now()
        cpu0 = process.cpuUsage()
        const end = t0 + seconds
        for (const client of clients) {
          let got = 0
          client.on('data', (d) => {
            for (got += d.length; got >= MSG; got -= MSG) {
              trips++
              if (now() < end) client.write(msg)
              else client.end()
            }
          })
          client.write(msg)
        }
      })
      c.on('close', () => {
        if (--open === 0) resolve()
      })
      return c
    })
  })
  const result = [trips / (now() - t0), cpuMicros(cpu0) / trips]
  if (server !== undefined) await new Promise((resolve) => server.close(resolve))
  return result
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since)
  return d.user + d.system
}
