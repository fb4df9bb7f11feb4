// Electron smoke test (the electron job in .github/workflows/CI.yml): Electron's main process
// loads socket2 (a Node-API addon, so the binary built for Node loads without a rebuild) and
// echoes over loopback TCP. Exits 0 when 'hello' comes back, 1 otherwise. Under plain node
// (`node __test__/electron/main.cjs`) it runs the same check without Electron.
'use strict'
const electron = process.versions.electron ? require('electron') : null

function exit(code) {
  if (electron) electron.app.exit(code)
  else process.exit(code)
}

async function echo() {
  const { tcp, newthread, start, clock } = require('socket2')
  const server = tcp()
  await server.listen('127.0.0.1', 0)
  let got = ''
  newthread(async () => {
    const [c] = await server.accept()
    const buf = new Uint8Array(64)
    for (let n; (n = await c.recv(buf)) > 0; ) await c.send(buf, n)
    c.close()
  })
  newthread(async () => {
    const c = tcp()
    await c.connect(server.localAddr(), clock() + 5)
    await c.send('hello')
    c.shutdown('w')
    const buf = new Uint8Array(64)
    const n = await c.recv(buf)
    got = Buffer.from(buf.subarray(0, n)).toString()
    c.close()
    server.close()
  })
  await start()
  return got
}

async function main() {
  // A hung echo fails the job rather than waiting for the CI timeout.
  setTimeout(() => {
    console.error('socket2 electron smoke: timed out')
    exit(1)
  }, 20_000).unref()
  try {
    const got = await echo()
    const where = electron ? `electron ${process.versions.electron}` : `node ${process.version}`
    console.log(`socket2 electron smoke (${where}): echoed ${JSON.stringify(got)}`)
    exit(got === 'hello' ? 0 : 1)
  } catch (err) {
    console.error(err)
    exit(1)
  }
}

if (electron) electron.app.whenReady().then(main)
else main()
