import test from 'ava'
import { clock, newthread, start, tcp } from 'socket2'
import { listener, pair, readAll, within } from './util.ts'

test('echo round trip through threads', async (t) => {
  const server = await listener()
  newthread(async () => {
    const [c] = await server.accept()
    const buf = new Uint8Array(4096)
    for (let n; (n = await c.recv(buf)) > 0; ) await c.send(buf, n)
    c.close()
  })
  let got = ''
  newthread(async () => {
    const c = tcp()
    await c.connect(server.localAddr(), clock() + 5)
    await c.send('hello')
    c.shutdown('w')
    got = (await readAll(c)).toString()
    c.close()
  })
  await within(start())
  server.close()
  t.is(got, 'hello')
})

test('pair helper connects', async (t) => {
  const [c, s, l] = await pair()
  t.is(c.remoteAddr().port, l.localAddr().port)
  for (const x of [c, s, l]) x.close()
})
