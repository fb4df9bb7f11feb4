/**
 * TLS bulk transfer over one connection, both ends in this process: the server end writes
 * 64 KiB chunks for `seconds` (waiting for 'drain' when write() says so), the client end counts
 * what it reads. socket2 carries the TLS streams through `toDuplex` (a TLSSocket on each end of
 * a socket2 connection); node carries them on node:net (`tls.createServer`, `tls.connect`).
 * Both pay for the same encryption: the difference is the transport under it. MB/s (10^6 bytes).
 */
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { connect, createSecureContext, createServer, type TLSSocket, TLSSocket as TlsSocket } from 'node:tls'
import { tcp, toDuplex } from 'socket2'
import { selfSigned } from '../examples/cert'
import { HOST, now } from './harness'

const CHUNK = Buffer.alloc(65536, 1)
let credentials: { key: Buffer; cert: Buffer } | undefined

/** Made once, on first use: a run of another workload needs no openssl. */
function certificate(): { key: Buffer; cert: Buffer } {
  return (credentials ??= selfSigned())
}

/** Writes CHUNK until `seconds` pass, honouring backpressure, then ends. */
function pump(s: TLSSocket, seconds: number): void {
  const end = now() + seconds
  const write = (): void => {
    while (now() < end) if (!s.write(CHUNK)) return
    s.end()
  }
  s.on('drain', write)
  write()
}

/** Counts the bytes `s` reads until its end; MB/s from `t0`. */
async function drain(s: TLSSocket, t0: () => number): Promise<number[]> {
  let bytes = 0
  s.on('data', (d: Buffer) => (bytes += d.length))
  await once(s, 'end')
  return [bytes / (now() - t0()) / 1e6]
}

export async function socket2Tls(seconds: number): Promise<number[]> {
  const { key, cert } = certificate()
  const server = tcp()
  await server.listen(HOST, 0)
  const c = tcp()
  const [[s]] = await Promise.all([server.accept(), c.connect(server.localAddr())])
  server.close()
  let t0 = 0
  const sender = new TlsSocket(toDuplex(s), { isServer: true, secureContext: createSecureContext({ key, cert }) })
  sender.on('secure', () => {
    t0 = now()
    pump(sender, seconds)
  })
  const reader = connect({ socket: toDuplex(c), servername: 'localhost', ca: cert })
  const r = await drain(reader, () => t0)
  reader.destroy()
  sender.destroy()
  return r
}

export async function nodeTls(seconds: number): Promise<number[]> {
  const { key, cert } = certificate()
  let t0 = 0
  const server = createServer({ key, cert }, (s) => {
    t0 = now()
    pump(s, seconds)
  })
  server.listen(0, HOST)
  await once(server, 'listening')
  const reader = connect({ host: HOST, port: (server.address() as AddressInfo).port, servername: 'localhost', ca: cert })
  const r = await drain(reader, () => t0)
  reader.destroy()
  await new Promise((resolve) => server.close(resolve))
  return r
}
