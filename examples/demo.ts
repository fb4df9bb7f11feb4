// The library's main job in one screen: an echo server and several client threads, each
// with a deadline, on loopback. One client talks to a server that never answers, so its
// deadline fires: the socket is closed and the recv rejects with ETIMEDOUT.
import { clock, newthread, sleep, start, tcp, type Tcp } from 'socket2'

const t0 = clock()
const ms = () => `${((clock() - t0) * 1000).toFixed(1).padStart(6)} ms`

async function main(): Promise<void> {
  const echo = tcp()
  await echo.listen('127.0.0.1', 0)
  const silent = tcp()
  await silent.listen('127.0.0.1', 0)
  console.log(`${ms()}  echo server on ${echo.localAddr()}, silent server on ${silent.localAddr()}`)

  // The echo server: one thread per connection, echoing until the client half-closes.
  newthread(async () => {
    for (let served = 0; served < 4; served++) {
      const [c, remote] = await echo.accept(clock() + 5)
      newthread(async (conn: Tcp) => {
        const buf = new Uint8Array(4096)
        for (let n; (n = await conn.recv(buf, undefined, clock() + 5)) > 0; ) await conn.send(buf, n)
        conn.close()
        console.log(`${ms()}  server: ${remote} done`)
      }, c)
    }
    echo.close()
  })

  // Four clients: connect, send, half-close, read the echo back, all within 2 seconds.
  for (let i = 1; i <= 4; i++) {
    newthread(async () => {
      await sleep(0.01 * i)
      const c = tcp()
      const deadline = clock() + 2
      await c.connect(echo.localAddr(), deadline)
      await c.send(`hello from client ${i}`, undefined, deadline)
      c.shutdown('w')
      const buf = new Uint8Array(64)
      let got = ''
      for (let n; (n = await c.recv(buf, undefined, deadline)) > 0; ) got += Buffer.from(buf.subarray(0, n)).toString()
      c.close()
      console.log(`${ms()}  client ${i}: echoed "${got}"`)
    })
  }

  // A client whose server never answers: the deadline closes the socket.
  newthread(async () => {
    const c = tcp()
    await c.connect(silent.localAddr())
    await c.send('anyone there?')
    try {
      await c.recv(new Uint8Array(64), undefined, clock() + 0.2)
    } catch (e) {
      const err = e as Error & { code?: string }
      console.log(`${ms()}  impatient client: ${err.code} (${err.message}); socket closed: ${c.closed}`)
    }
    silent.close()
  })

  await start()
  console.log(`${ms()}  all threads finished`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
