import * as s from 'socket2'
async function lookups(seconds, once) {
  let n = 0; const t0 = performance.now(); const end = t0 + seconds * 1000
  const worker = async () => { while (performance.now() < end) { await once(); n++ } }
  await Promise.all(Array.from({ length: 16 }, worker))
  return Math.round(n / (performance.now() - t0) * 1000)
}
console.log('num', await lookups(3, () => s.addr('127.0.0.1', 80, 'tcp', 'inet')))
