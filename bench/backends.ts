/**
 * socket2 with each poller backend other than the one this process runs (src/scheduler.ts
 * chooses one when socket2 loads), and in Bun and Deno: each in a child process of its own
 * (backend-child.ts), kept for the whole run and asked for one timed run at a time, so its
 * rounds interleave with the others' like any implementation's.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type Request } from './backend-child'
import { type Impl, pin, Unavailable } from './harness'

export type Backend = 'uv' | 'uvpoll' | 'thread'

/** The backend of this process, as src/scheduler.ts chooses it. */
export const here: Backend = (['uv', 'uvpoll', 'thread'] as const).find((b) => b === process.env.SOCKET2_POLLER) ?? (process.platform === 'win32' ? 'uvpoll' : 'uv')

/** The other backends this platform has (no `uv` on Windows: the loop cannot poll an IOCP). */
export const others: Backend[] = (['uv', 'uvpoll', 'thread'] as const).filter((b) => b !== here && !(b === 'uv' && process.platform === 'win32'))

/** What each row of a backend aims at (the targets). */
export const backendTarget: Record<Backend, string> = {
  uv: '>= 1.25x node',
  uvpoll: '>= 1.0x node',
  thread: '>= 0.8x node',
}

interface Child {
  process: ChildProcess
  replies: AsyncIterator<string>
}

/** Each backend's or runtime's process, started at its first request. */
const children = new Map<string, Child>()

const script = join(__dirname, 'backend-child.ts')

/** The process `key` names, started with `command` the first time. */
function child(key: string, command: () => [string, string[]], env: NodeJS.ProcessEnv = {}): Child {
  let c = children.get(key)
  if (c === undefined) {
    const [cmd, args] = command()
    const p = spawn(cmd, args, { cwd: join(__dirname, '..'), env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] })
    c = { process: p, replies: createInterface({ input: p.stdout! })[Symbol.asyncIterator]() }
    children.set(key, c)
  }
  return c
}

/** One timed run of `request` in the process `key` names. */
async function ask(key: string, c: Child, request: Request): Promise<number[]> {
  c.process.stdin!.write(JSON.stringify(request) + '\n')
  const line = await c.replies.next()
  if (line.done === true) throw new Error(`the ${key} process exited`)
  const reply = JSON.parse(line.value) as { numbers: number[] } | { error: string }
  if ('error' in reply) throw new Error(reply.error)
  return reply.numbers
}

/** One timed run of `request` in `backend`'s process. */
export function inBackend(backend: Backend, request: Request): Impl {
  // --pin goes along: the process inherits core 0, and its echo servers must go to core 1.
  const args = ['--import', 'tsx', script, ...(pin ? ['--pin'] : [])]
  return () => ask(backend, child(backend, () => [process.execPath, args], { SOCKET2_POLLER: backend }), request)
}

/** The runtimes besides Node that socket2 runs in, always with its `thread` backend. */
export type Runtime = 'bun' | 'deno'

/**
 * One timed run of `request` in a Bun or Deno process (socket2's run, or with `impl: 'node'` the
 * runtime's own node:net / node:dgram). Linux x64 only, where the registry has both builds.
 */
export function inRuntime(runtime: Runtime, request: Request): Impl {
  if (process.platform !== 'linux' || process.arch !== 'x64') return new Unavailable('Bun and Deno are fetched as linux-x64 builds')
  return async () => {
    // Fetched from the registry on first use (lib.mjs unpacks it once into target/).
    const { runtimeCommand } = await import('../scripts/platforms/lib.mjs')
    return ask(runtime, child(runtime, () => runtimeCommand(runtime, script)), request)
  }
}

/** Ends every backend's and runtime's process (they exit when their stdin closes). */
export function closeBackends(): void {
  for (const c of children.values()) c.process.stdin!.end()
}
