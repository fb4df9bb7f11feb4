// npm run bench [-- --quick]: each workload with socket2 and with node:net in the same process
// and the same run, in interleaved rounds; prints medians and the socket2/node ratio.
import { createServer, connect, type Socket as NetSocket } from 'node:net'
import { clock, newthread, tcp, type Tcp } from 'socket2'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 3 : 5
const SECONDS = quick ? 1 : 2
const MSG = 64

interface Row {
  workload: string
  socket2: number
  node: number
  ratio: number
  unit: string
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

/** socket2: `conns` connections, each a client thread and a server thread ping-ponging 64 B. */
async function pingPongSocket2(conns: number, seconds: number): Promise<number> {
  const server = tcp()
  await server.listen('127.0.0.1', 0)
  const end = clock() + seconds
  let trips = 0
  const threads = []
  for (let i = 0; i < conns; i++) {
    const c = tcp()
    const [[s]] = await Promise.all([server.accept(), c.connect(server.localAddr())])
    for (const x of [c, s]) x.setopt('tcp_nodelay', true)
    threads.push(
      newthread(async (sock: Tcp) => {
        const buf = new Uint8Array(MSG)
        for (;;) {
          let got = 0
          while (got < MSG) {
            const n = await sock.recv(buf, MSG - got)
            if (n === 0) return sock.close()
            got += n
          }
          await sock.send(buf)
        }
      }, s).done,
      newthread(async (sock: Tcp) => {
        const buf = new Uint8Array(MSG)
        while (clock() < end) {
          await sock.send(buf)
          let got = 0
          while (got < MSG) got += await sock.recv(buf, MSG - got)
          trips++
        }
        sock.close()
      }, c).done,
    )
  }
  await Promise.all(threads)
  server.close()
  return trips / seconds
}

/** node:net: the same, written the way a Node developer would (echo in 'data'). */
function pingPongNode(conns: number, seconds: number): Promise<number> {
  return new Promise((resolve) => {
    const msg = Buffer.alloc(MSG)
    const server = createServer((s) => {
      s.setNoDelay(true)
      s.on('data', (d) => s.write(d))
      s.on('error', () => {})
    })
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      const end = clock() + seconds
      let trips = 0
      let open = conns
      for (let i = 0; i < conns; i++) {
        const c: NetSocket = connect(port, '127.0.0.1', () => {
          c.setNoDelay(true)
          c.write(msg)
        })
        let got = 0
        c.on('data', (d) => {
          got += d.length
          if (got < MSG) return
          got -= MSG
          trips++
          if (clock() < end) c.write(msg)
          else c.end()
        })
        c.on('close', () => {
          if (--open === 0) server.close(() => resolve(trips / seconds))
        })
      }
    })
  })
}

async function compare(workload: string, unit: string, a: () => Promise<number>, b: () => Promise<number>): Promise<Row> {
  const xs: number[] = []
  const ys: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    xs.push(await a())
    ys.push(await b())
  }
  const row = { workload, socket2: median(xs), node: median(ys), ratio: median(xs) / median(ys), unit }
  console.log(
    `${workload.padEnd(34)} ${row.socket2.toFixed(0).padStart(10)} ${row.node.toFixed(0).padStart(10)} ${row.ratio.toFixed(2).padStart(8)}  ${unit}`,
  )
  return row
}

async function main(): Promise<void> {
  console.log(`${'workload'.padEnd(34)} ${'socket2'.padStart(10)} ${'node'.padStart(10)} ${'ratio'.padStart(8)}  unit`)
  await compare('TCP ping-pong 64 B, 1 connection', 'round trips/s', () => pingPongSocket2(1, SECONDS), () => pingPongNode(1, SECONDS))
  await compare('TCP ping-pong 64 B, 32 connections', 'round trips/s', () => pingPongSocket2(32, SECONDS), () => pingPongNode(32, SECONDS))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
