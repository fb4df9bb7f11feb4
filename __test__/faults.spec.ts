/** Faults a review found: each test here failed before its fix. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { clock, SocketError } from 'socket2'
import { childStart, closing, linuxOnly, onlyOn, pair, readAll, windows, within } from './util'

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** Runs a fixture in a child node whose RLIMIT_NOFILE is `limit` (the shell's `ulimit -n`). */
function withFdLimit(limit: number, path: string) {
  return spawnSync('sh', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, path], {
    encoding: 'utf8',
    timeout: 20_000 + childStart,
  })
}

onlyOn(!windows, 'needs a POSIX shell for ulimit')('an accept loop that fails with EMFILE at once still lets a timer run, which frees a descriptor, and then accepts', (t) => {
  const r = withFdLimit(128, fixture('emfile-accept.mjs'))
  t.is(r.status, 0, `${r.signal ?? ''} ${r.stderr}`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!)
  t.is(out.accepted, 1)
  t.true(out.errors.EMFILE > 0, JSON.stringify(out.errors))
  t.deepEqual(Object.keys(out.errors), ['EMFILE'])
})

test('a timer callback that throws reaches uncaughtException and later sleeps still end', (t) => {
  const r = spawnSync(process.execPath, [fixture('timer-throws.mjs')], { encoding: 'utf8', timeout: 20_000 + childStart })
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { caught: 'boom', slept: true })
})

test('a send whose deadline passes after part went out rejects ETIMEDOUT with bytesSent, exactly what the peer then reads', async (t) => {
  const [c, s, l] = await pair()
  closing(t, c, s, l)
  const data = new Uint8Array(32 << 20).map((_, i) => i % 251)
  const err = await within(
    t.throwsAsync(c.send(data, undefined, clock() + 0.2), { instanceOf: SocketError, code: 'ETIMEDOUT' }),
  )
  const sent: number = err?.bytesSent ?? -1
  t.true(sent > 0 && sent < data.length, `bytesSent ${err?.bytesSent}`)
  // The force-close sends FIN after what the kernel took: the peer reads exactly that.
  const got = await within(readAll(s))
  t.is(got.length, sent)
  t.true(got.equals(data.subarray(0, got.length)))
})

linuxOnly('the fixture finds the poller\'s fds in /proc/self/fd')('when the epoll fd Node\'s loop watches is closed (and its number reused), a wait without a deadline, later waits and poll() reject with the OS error', (t) => {
  const r = spawnSync(process.execPath, [fixture('poller-failure.mjs')], {
    env: { ...process.env, SOCKET2_POLLER: 'uv' },
    encoding: 'utf8',
    timeout: 20_000 + childStart,
  })
  t.is(r.status, 0, `${r.signal ?? ''} ${r.stderr}`)
  // The kernel drops a closed fd from libuv's epoll set without a word: the datagram sent after
  // the close wakes nothing, and the first wait learns of the failure from the library's own
  // check. epoll_wait on a number that is no longer an epoll fd: EINVAL.
  t.deepEqual(r.stdout.trim().split('\n'), ['first: EINVAL poll', 'second: EINVAL poll', 'poll: EINVAL poll'])
})

for (const mode of ['uv', 'uvpoll', 'thread']) {
  test(`the module loaded twice in one thread (a fresh module registry) works in both copies (${mode} poller)`, (t) => {
    const r = spawnSync(process.execPath, [fixture('two-loads.mjs')], {
      env: { ...process.env, SOCKET2_POLLER: mode },
      encoding: 'utf8',
      timeout: 20_000 + childStart,
    })
    t.is(r.status, 0, r.stderr)
    t.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { copies: true, got: 'ping' })
  })
}
