import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childStart, linuxOnly } from './util.ts'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** Runs a fixture with the poller backend `mode` forced. */
function inMode(mode: 'thread' | 'uvpoll', path: string) {
  return spawnSync(process.execPath, [path], {
    env: { ...process.env, SOCKET2_POLLER: mode },
    encoding: 'utf8',
    timeout: 20_000 + childStart,
  })
}

for (const [mode, what] of [
  ['thread', 'the poller-thread backend'],
  ['uvpoll', 'the uv_poll-per-socket backend'],
] as const) {
  test(`${what} echoes 1 MiB, fires deadlines and lets the program exit`, (t) => {
    const r = inMode(mode, fixture('poller-mode.mjs'))
    t.is(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
    t.true(out.echoed)
    t.is(out.timeout.code, 'ETIMEDOUT')
    t.true(out.timeout.closed)
    // Never early; late by at most a bound for a loaded machine.
    t.true(out.timeout.late >= 0 && out.timeout.late < 1, `late by ${out.timeout.late}`)
  })
}

test('with a uv_poll per socket, a socket reusing a closed one\'s fd at once gets its own data only, and unread data is disarmed, not polled at every loop turn', (t) => {
  const r = inMode('uvpoll', fixture('uvpoll.mjs'))
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

const failing = fixture('poller-failure.mjs')

linuxOnly("the fixture finds the poller's epoll fd in /proc/self/fd")('when the poller thread fails (its epoll fd closed and the number reused), a wait without a deadline, later waits and poll() reject with the OS error', (t) => {
  const r = inMode('thread', failing)
  t.is(r.status, 0, r.stderr)
  // As under uv: the kernel drops the closed fd from the thread's epoll set without a word, and
  // the first wait learns of the failure from the library's own check; what waits afterwards
  // fails at once. epoll_wait on a number that is no longer an epoll fd: EINVAL.
  t.deepEqual(r.stdout.trim().split('\n'), ['first: EINVAL poll', 'second: EINVAL poll', 'poll: EINVAL poll'])
})
