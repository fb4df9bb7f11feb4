// A smoke test for runtimes ava cannot drive (Bun, Deno): the package imported as an ES module,
// TCP echo, a deadline that fires, a UDP round trip. CommonJS because Deno loads a Node-API addon
// only from a .cjs script. Prints one "ok <check>" or "not ok <check>: <error>" line per check
// and exits 1 when any failed.
'use strict'
const { clock, tcp, udp } = require('../../dist/index.js')

const checks = {
  // Deno treats a package's .js files as ES modules unless its package.json says commonjs.
  async 'import from an ES module'() {
    const m = await import('socket2')
    if (typeof m.tcp !== 'function' || typeof m.newthread !== 'function') throw new Error(`import('socket2') gave ${Object.keys(m)}`)
  },

  async 'tcp echo'() {
    const l = tcp()
    await l.listen('127.0.0.1', 0)
    const c = tcp()
    const [[s]] = await Promise.all([l.accept(), c.connect(l.localAddr())])
    const buf = new Uint8Array(64)
    const server = (async () => {
      for (let n; (n = await s.recv(buf)) > 0; ) await s.send(buf, n)
      s.close()
    })()
    await c.send('hello socket2')
    c.shutdown('w')
    const got = new Uint8Array(64)
    let len = 0
    for (let n; (n = await c.recv(got.subarray(len))) > 0; ) len += n
    await server
    c.close()
    l.close()
    const text = Buffer.from(got.subarray(0, len)).toString()
    if (text !== 'hello socket2') throw new Error(`echo returned ${JSON.stringify(text)}`)
  },

  async 'deadline ETIMEDOUT'() {
    const l = tcp()
    await l.listen('127.0.0.1', 0)
    const c = tcp()
    const [[s]] = await Promise.all([l.accept(), c.connect(l.localAddr())])
    const start = clock()
    try {
      await c.recv(new Uint8Array(16), undefined, start + 0.2)
      throw new Error('recv with nothing to read returned before its deadline')
    } catch (e) {
      if (e.code !== 'ETIMEDOUT') throw e
    } finally {
      c.close()
      s.close()
      l.close()
    }
    const waited = clock() - start
    if (waited < 0.15) throw new Error(`deadline fired after ${waited.toFixed(3)} s, before its time`)
  },

  async 'udp round trip'() {
    const a = udp()
    const b = udp()
    await a.bind('127.0.0.1', 0)
    await b.bind('127.0.0.1', 0)
    const buf = new Uint8Array(64)
    await a.send('ping', undefined, b.localAddr())
    const [n, from] = await b.recv(buf, undefined, clock() + 5)
    await b.send(buf, n, from)
    const [m] = await a.recv(buf, undefined, clock() + 5)
    a.close()
    b.close()
    const text = Buffer.from(buf.subarray(0, m)).toString()
    if (text !== 'ping') throw new Error(`udp returned ${JSON.stringify(text)}`)
  },
}

;(async () => {
  let failed = 0
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check()
      console.log(`ok ${name}`)
    } catch (e) {
      failed++
      console.log(`not ok ${name}: ${e && e.stack ? e.stack.split('\n')[0] : e}`)
    }
  }
  // No process.exit: the runtime ends by itself, so a crash in socket2's teardown at exit (a
  // runtime's own Node-API rules there) fails the row.
  process.exitCode = failed > 0 ? 1 : 0
})()
