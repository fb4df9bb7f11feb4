import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const fixture = fileURLToPath(new URL('./fixtures/thread-mode.mjs', import.meta.url))

test('the poller-thread backend echoes 1 MiB, fires deadlines and lets the program exit', (t) => {
  const r = spawnSync(process.execPath, [fixture], {
    env: { ...process.env, SOCKET2_POLLER: 'thread' },
    encoding: 'utf8',
    timeout: 20_000,
  })
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
  t.true(out.echoed)
  t.is(out.timeout.code, 'ETIMEDOUT')
  t.true(out.timeout.closed)
  t.true(out.timeout.late >= -0.005 && out.timeout.late < 0.05, `late by ${out.timeout.late}`)
})
