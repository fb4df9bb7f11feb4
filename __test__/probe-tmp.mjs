import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const native = require('../binding.js')
let blocks = 0, firstBlockAt = -1, iA = 0
const origRecv = native.recv
native.recv = (...a) => { const n = origRecv(...a); if (n < 0) { blocks++; if (firstBlockAt < 0) firstBlockAt = iA } return n }
const { tcp, newthread, sleep, clock } = await import('socket2')
const l = tcp(); await l.listen('127.0.0.1', 0)
const c = tcp()
const [[s]] = await Promise.all([l.accept(), c.connect(l.localAddr())])
const N = 2000, K = Number(process.argv[2] ?? 1)
let firedAt = -1, toAt = -1
const t0 = clock()
sleep(0.001).then(() => { firedAt = iA })
setTimeout(() => { toAt = iA }, 0)
const run = async (x, count) => { const one = new Uint8Array(1); await x.send(new Uint8Array(K)); for (let i = 0; i < N; i++) { await x.recv(one); await x.send(one); if (count) iA = i } }
const a = newthread(run, c, true), b = newthread(run, s, false)
await Promise.all([a.done, b.done])
console.log('K', K, 'elapsed', (clock() - t0).toFixed(4), 'firedAt', firedAt, 'toAt', toAt, 'blocks', blocks, 'firstBlockAt', firstBlockAt)
for (const x of [c, s, l]) x.close()
