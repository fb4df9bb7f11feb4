/**
 * socket2 with each poller backend other than the one this process runs (src/scheduler.ts
 * chooses one when socket2 loads): each in a child process of its own (backend-child.ts), kept
 * for the whole run and asked for one timed run at a time, so its rounds interleave with the
 * others' like any implementation's.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type Request } from './backend-child'
import { type Impl } from './harness'

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

const children = new Map<Backend, Child>()

function child(backend: Backend): Child {
  let c = children.get(backend)
  if (c === undefined) {
    const p = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'backend-child.ts')], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, SOCKET2_POLLER: backend },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    c = { process: p, replies: createInterface({ input: p.stdout! })[Symbol.asyncIterator]() }
    children.set(backend, c)
  }
  return c
}

/** One timed run of `request` in `backend`'s process. */
export function inBackend(backend: Backend, request: Request): Impl {
  return async () => {
    const c = child(backend)
    c.process.stdin!.write(JSON.stringify(request) + '\n')
    const line = await c.replies.next()
    if (line.done === true) throw new Error(`the ${backend} process exited`)
    const reply = JSON.parse(line.value) as { numbers: number[] } | { error: string }
    if ('error' in reply) throw new Error(reply.error)
    return reply.numbers
  }
}

/** Ends every backend process (they exit when their stdin closes). */
export function closeBackends(): void {
  for (const c of children.values()) c.process.stdin!.end()
}
