import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { linuxOnly } from './util.ts'

const fixture = fileURLToPath(new URL('./fixtures/poller-mode.mjs', import.meta.url))

/** Runs a fixture with the poller-thread backend forced. */
function inThreadMode(path: string) {
  return spawnSync(process.execPath, [path], {
    env: { ...process.env, SOCKET2_POLLER: 'thread' },
    encoding: 'utf8',
    timeout: 20_000,
  })
}

test('the poller-thread backend echoes 1 MiB, fires deadlines and lets the program exit', (t) => {
  const r = inThreadMode(fixture)
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
  t.true(out.echoed)
  t.is(out.timeout.code, 'ETIMEDOUT')
  t.true(out.timeout.closed)
  // Never early; late by at most a bound for a loaded machine.
  t.true(out.timeout.late >= 0 && out.timeout.late < 1, `late by ${out.timeout.late}`)
})

const failing = fileURLToPath(new URL('./fixtures/poller-failure.mjs', import.meta.url))

linuxOnly("the fixture finds the poller's epoll fd in /proc/self/fd")('when the poller thread fails (its epoll fd closed and the number reused), waiting operations and poll() reject with the OS error', (t) => {
  const r = inThreadMode(failing)
  t.is(r.status, 0, r.stderr)
  // The datagram that woke the thread still arrives; what waits afterwards fails at once
  // (not by its 5 s deadline). epoll_wait on a number that is no longer an epoll fd: EINVAL.
  t.deepEqual(r.stdout.trim().split('\n'), ['first: 4 bytes', 'second: EINVAL poll', 'poll: EINVAL poll'])
})
