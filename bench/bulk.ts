/**
 * TCP bulk transfer over one connection: the accepted end sends 64 KiB chunks for `seconds`,
 * the connecting end reads into a 64 KiB buffer until end of stream. MB/s (10^6 bytes).
 */
import { createServer, connect, type Socket } from 'node:net'
import { newthread, tcp } from 'socket2'
import { HOST, listenNode, now, RECV_BUF } from './harness'

const CHUNK = 65536

export async function socket2Bulk(seconds: number): Promise<number[]> {
  const server = tcp()
  await server.listen(HOST, 0)
  const c = tcp()
  const [[s]] = await Promise.all([server.accept(), c.connect(server.localAddr())])
  server.close()
  c.setopt('tcp_nodelay', true)
  s.setopt('tcp_nodelay', true)
  let bytes = 0
  const t0 = now()
  const end = t0 + seconds
  await Promise.all([
    newthread(async () => {
      const chunk = Buffer.alloc(CHUNK)
      while (now() < end) await s.send(chunk)
      s.close()
    }).done,
    newthread(async () => {
      const buf = Buffer.allocUnsafe(RECV_BUF)
      for (let n; (n = await c.recv(buf)) > 0; ) bytes += n
      c.close()
    }).done,
  ])
  return [bytes / (now() - t0) / 1e6]
}

/**
 * node:net: the sender writes until write() returns false and resumes on 'drain'. The reader
 * either takes 'data' events (a fresh Buffer each) or uses the `onread` option, which reads
 * into one reused buffer.
 */
export async function nodeBulk(seconds: number, reader: 'data' | 'onread'): Promise<number[]> {
  const chunk = Buffer.alloc(CHUNK)
  let t0 = 0
  const server = createServer((s) => {
    s.setNoDelay(true)
    t0 = now()
    const end = t0 + seconds
    const pump = (): void => {
      while (now() < end) if (!s.write(chunk)) return
      s.end()
    }
    s.on('drain', pump)
    pump()
  })
  const port = await listenNode(server)
  let bytes = 0
  await new Promise<void>((resolve, reject) => {
    const onread = {
      buffer: Buffer.allocUnsafe(RECV_BUF),
      callback: (n: number): boolean => {
        bytes += n
        return true // keep reading
      },
    }
    const c: Socket =
      reader === 'onread' ? connect({ port, host: HOST, onread }) : connect(port, HOST).on('data', (d) => (bytes += d.length))
    c.on('connect', () => c.setNoDelay(true))
    c.on('error', reject)
    c.on('close', () => resolve())
  })
  const result = [bytes / (now() - t0) / 1e6]
  await new Promise((resolve) => server.close(resolve))
  return result
}
