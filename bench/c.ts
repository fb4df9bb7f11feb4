/**
 * The C baseline: bench/c/epoll.c, compiled with the system `cc` on first use (and again when
 * the source is newer than the cached bench/c/epoll.bin).
 */
import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { type Impl, Unavailable } from './harness'

const source = join(__dirname, 'c', 'epoll.c')
export const cBinary = join(__dirname, 'c', 'epoll.bin')

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs
  } catch {
    return -1
  }
}

function build(): Unavailable | undefined {
  if (process.platform !== 'linux') return new Unavailable('the C program uses epoll (Linux only)')
  if (mtime(cBinary) >= mtime(source)) return undefined
  try {
    execFileSync('cc', ['-O2', '-o', cBinary, source], { stdio: ['ignore', 'ignore', 'pipe'] })
    return undefined
  } catch (e) {
    return new Unavailable(`cannot build bench/c/epoll.c with cc: ${(e as Error).message.split('\n')[0]}`)
  }
}

/** Why the C program cannot run, or undefined once it is built. */
export const cMissing = build()

/** A run of the C program in one mode (`c('pingpong', 1, 2)`): the numbers it prints. */
export function c(...args: (string | number)[]): Impl {
  return cMissing ?? (() => runC(args))
}

/** Runs the C program (built) in one mode: the numbers it prints. */
export function runC(args: (string | number)[]): number[] {
  return execFileSync(cBinary, args.map(String), { encoding: 'utf8' }).trim().split(/\s+/).map(Number)
}
