/**
 * A program with open sockets and operations pending in threads exits cleanly: on
 * process.exit, on an uncaught error, on SIGTERM with a handler, and when its threads end;
 * in both poller modes.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { childStart, onlyOn, windows, within } from './util'

const fixture = fileURLToPath(new URL('./fixtures/exit-modes.mjs', import.meta.url))

/** Runs the fixture in `mode`: its exit code, signal and output. */
function run(mode: string, poller: string): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  const child = spawn(process.execPath, [fixture, mode], { env: { ...process.env, SOCKET2_POLLER: poller } })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (err += d))
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })))
}

for (const poller of ['uv', 'thread']) {
  test(`process.exit with operations pending exits with its code (${poller} poller)`, async (t) => {
    const r = await within(run('exit', poller), 20_000 + childStart)
    t.deepEqual([r.code, r.signal, r.out.trim()], [0, null, 'ready'], r.err)
  })

  test(`an uncaught error with operations pending exits with code 1 and prints it (${poller} poller)`, async (t) => {
    const r = await within(run('uncaught', poller), 20_000 + childStart)
    t.deepEqual([r.code, r.signal, r.out.trim()], [1, null, 'ready'])
    t.regex(r.err, /Error: boom/)
  })

  onlyOn(!windows, 'Windows runs no SIGTERM handler: a kill ends the process at once')(`SIGTERM with a handler that closes the sockets: every wait rejects ERR_SOCKET_CLOSED and the program ends by itself (${poller} poller)`, async (t) => {
    const r = await within(run('sigterm', poller), 20_000 + childStart)
    t.deepEqual([r.code, r.signal], [0, null], r.err)
    t.deepEqual(r.out.trim().split('\n'), ['ready', JSON.stringify(['ERR_SOCKET_CLOSED', 'ERR_SOCKET_CLOSED', 'ERR_SOCKET_CLOSED'])])
  })

  test(`a program whose threads end (their sockets closed) exits by itself with code 0 (${poller} poller)`, async (t) => {
    const r = await within(run('threads-end', poller), 20_000 + childStart)
    t.deepEqual([r.code, r.signal, r.out.trim()], [0, null, 'ready'], r.err)
  })
}
