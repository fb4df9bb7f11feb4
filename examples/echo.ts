// An echo server, the shape of most socket2 servers: `for await` over the listener hands out
// each connection, a thread per connection serves it, and closing the listener ends the loop.
// Three clients talk to it: each sends a line, half-closes with shutdown('w') (the server's
// recv then returns 0, its cue to finish), and reads the echo back until end of stream.
//
//   node --import tsx examples/echo.ts [port=0]
import { clock, newthread, start, tcp, type Tcp } from 'socket2'

const port = Number(process.argv[2] ?? 0)

/** Echoes one connection until the client half-closes; every wait gives up after 5 seconds. */
async function serve(c: Tcp): Promise<void> {
  await using conn = c // closed when this function returns, whatever happens
  const buf = new Uint8Array(4096)
  for (let n; (n = await conn.recv(buf, undefined, clock() + 5)) > 0; ) await conn.send(buf, n)
}

async function client(server: Tcp, i: number): Promise<string> {
  await using c = tcp()
  await c.connect(server.localAddr(), clock() + 5)
  await c.send(`hello ${i}`)
  c.shutdown('w')
  const buf = new Uint8Array(64)
  let got = ''
  for (let n; (n = await c.recv(buf, undefined, clock() + 5)) > 0; ) got += Buffer.from(buf.subarray(0, n)).toString()
  return got
}

async function main(): Promise<void> {
  const server = tcp()
  await server.listen('127.0.0.1', port)
  console.log(`echo server on ${server.localAddr()}`)

  newthread(async () => {
    for await (const [c, remote] of server) {
      console.log(`server: connection from ${remote}`)
      newthread(serve, c)
    }
    console.log('server: closed')
  })

  newthread(async () => {
    const answers = await Promise.all([0, 1, 2].map((i) => client(server, i)))
    answers.forEach((a, i) => console.log(`client ${i}: "${a}"`))
    server.close() // ends the for await above
  })

  await start()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
