/**
 * Process lifecycle: the library keeps Node's loop alive exactly while an operation waits, so
 * an idle program exits by itself and a program waiting in accept or recv does not. Each case
 * runs a fixture in a child process.
 */
import test from 'ava'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { clock, tcp } from 'socket2'
import { childStart, emulated, onlyOn, tempDir, within } from './util.ts'

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

interface Child {
  proc: ChildProcess
  /** Resolves once the child exited and its output was read: the exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stdout(): string
  stderr(): string
  /** Resolves with the first stdout line matching `re`. */
  line(re: RegExp): Promise<RegExpMatchArray>
}

function run(name: string, ...args: string[]): Child {
  return runWith([], name, ...args)
}

/** `run` with Node options (`--expose-gc`...). */
function runWith(nodeArgs: string[], name: string, ...args: string[]): Child {
  const proc = spawn(process.execPath, [...nodeArgs, fixture(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  // 'close', not 'exit': 'exit' can come before the last of stderr has been read.
  const exited = once(proc, 'close').then(([code, signal]) => ({ code, signal }) as { code: number | null; signal: NodeJS.Signals | null })
  return {
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    line: (re) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.match(re)
          if (m) {
            proc.stdout!.off('data', check)
            resolve(m)
          }
        }
        proc.stdout!.on('data', check)
        exited.then(() => reject(new Error(`exited before printing ${re}: ${err}`)))
        check()
      }),
  }
}

/** Kills the child if it still runs (cleanup for failing tests). */
function reap(c: Child): void {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL')
}

for (const mode of ['plain', 'sleep', 'threads', 'deadline', 'poll']) {
  test(`an idle program exits by itself with code 0 after closing its sockets (${mode})`, async (t) => {
    const c = run('idle-exit.mjs', mode)
    try {
      const { code, signal } = await within(c.exited, 5000 + childStart)
      t.is(signal, null)
      t.is(code, 0, c.stderr())
      t.is(c.stdout().trim(), `done ${mode}`)
    } finally {
      reap(c)
    }
  })
}

test('a program with a thread waiting in accept stays alive', async (t) => {
  const c = run('accept-wait.mjs')
  try {
    await within(c.line(/listening (\d+)/), 5000 + childStart)
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.is(c.proc.exitCode, null, `exited early: ${c.stderr()}`)
    t.is(c.proc.signalCode, null)
    t.true(c.proc.kill('SIGTERM'))
    const { signal } = await within(c.exited, 5000 + childStart)
    t.is(signal, 'SIGTERM')
  } finally {
    reap(c)
  }
})

test('a program stays alive while it waits in accept and then in recv, and exits once its thread is done', async (t) => {
  const c = run('accept-wait.mjs', 'once')
  const client = tcp()
  try {
    const [, port] = await within(c.line(/listening (\d+)/), 5000 + childStart)
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.is(c.proc.exitCode, null, 'exited while waiting in accept')
    await client.connect('127.0.0.1', Number(port), clock() + 5)
    await within(c.line(/accepted/), 5000 + childStart)
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.is(c.proc.exitCode, null, 'exited while waiting in recv')
    await client.send('z')
    const buf = new Uint8Array(1)
    t.is(await within(client.recv(buf)), 1)
    t.is(buf[0], 'z'.charCodeAt(0))
    const { code, signal } = await within(c.exited, 5000 + childStart)
    t.is(signal, null)
    t.is(code, 0, c.stderr())
    t.regex(c.stdout(), /closed/)
  } finally {
    client.close()
    reap(c)
  }
})

for (const mode of ['unawaited', 'start', 'after-run', 'second']) {
  test(`a thread's error is never dropped: the program exits non-zero and prints it (${mode})`, async (t) => {
    const c = run('thread-error.mjs', mode)
    try {
      const { code } = await within(c.exited, 5000 + childStart)
      t.not(code, 0)
      t.regex(c.stderr(), /thread failed on purpose/)
    } finally {
      reap(c)
    }
  })
}

onlyOn(emulated !== 'wine', 'the fixture drops a unix socket; wine has no AF_UNIX')('a socket dropped without close() is closed once collected; one a thread waits on is not', async (t) => {
  const [dir, cleanup] = tempDir()
  const c = runWith(['--expose-gc'], 'dropped.mjs', dir)
  try {
    const { code } = await within(c.exited, 10_000 + childStart)
    t.is(code, 0, c.stderr())
    const lines = c.stdout().trim().split('\n')
    t.regex(lines[0]!, /^closed (\d+) of \1$/)
    t.deepEqual(lines.slice(1), ['unix file removed', 'port free', 'retaken file kept', 'parked: still here'])
  } finally {
    reap(c)
    cleanup()
  }
})

test('the README\'s first example runs as printed and exits by itself', (t) => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
  const code = /```ts\n(import \{ tcp, newthread, start, clock \} from 'socket2'[\s\S]*?)```/.exec(readme)?.[1]
  t.truthy(code, 'the example is where the README starts its API tour')
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code!], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 10_000 + childStart,
  })
  t.is(r.status, 0, r.stderr)
})
