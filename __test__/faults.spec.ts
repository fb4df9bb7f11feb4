/** Faults a review found: each test here failed before its fix. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { childStart, onlyOn, windows } from './util'

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
