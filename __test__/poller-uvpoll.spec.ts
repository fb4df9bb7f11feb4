import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** Runs a fixture with the uv_poll-per-socket backend (Windows's) forced. */
function inUvpollMode(path: string) {
  return spawnSync(process.execPath, [path], {
    env: { ...process.env, SOCKET2_POLLER: 'uvpoll' },
    encoding: 'utf8',
    timeout: 20_000,
  })
}

test('the uv_poll-per-socket backend echoes 1 MiB, fires deadlines and lets the program exit', (t) => {
  const r = inUvpollMode(fixture('poller-mode.mjs'))
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
  t.true(out.echoed)
  t.is(out.timeout.code, 'ETIMEDOUT')
  t.true(out.timeout.closed)
  // Never early; late by at most a bound for a loaded machine.
  t.true(out.timeout.late >= 0 && out.timeout.late < 1, `late by ${out.timeout.late}`)
})

test('with a uv_poll per socket, a socket reusing a closed one\'s fd at once gets its own data only, and unread data is disarmed, not polled at every loop turn', (t) => {
  const r = inUvpollMode(fixture('uvpoll.mjs'))
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
  t.true(out.reused, 'the new socket did not get the closed socket\'s fd')
  t.is(out.closedWait, 'ERR_SOCKET_CLOSED')
  t.is(out.got, 'new')
  // A handle left armed on readable data would keep the loop spinning for the whole sleep.
  t.true(out.busy < 0.5, `the process was busy ${(out.busy * 100).toFixed(0)}% of an idle sleep`)
  t.is(out.unread, 'x')
  t.is(out.rearmed, 'y')
})
