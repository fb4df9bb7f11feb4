// What npm users get: the packed main package and platform packages, installed from their
// tarballs into an empty folder and used as the README shows.
import test from 'ava'
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { emulated, onlyOn } from './util.ts'

const require = createRequire(import.meta.url)
const { platformAbi, targetAbi } = require('../scripts/platform.js') as {
  platformAbi(): string
  targetAbi(triple: string): string
}

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const PLATFORMS = [
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
  'win32-arm64-msvc',
]
const host = platformAbi()
const hostBinary = `socket2.${host}.node`

/**
 * The optionalDependencies of the published main package: `napi prepublish -t npm` writes one
 * per napi.targets entry, at the package's version (the source manifest has none until those
 * packages exist on the registry, or npm ci would refuse the lockfile).
 */
function publishedOptionalDependencies(): Record<string, string> {
  return Object.fromEntries(pkg.napi.targets.map((t: string) => [`socket2-${targetAbi(t)}`, pkg.version]))
}

function npm(args: string[], opts: SpawnSyncOptions = {}): string {
  // npm is a .cmd script on Windows, which only a shell runs.
  const r = spawnSync('npm', args, { encoding: 'utf8', shell: process.platform === 'win32', ...opts })
  if (r.error || r.status !== 0) throw new Error(`npm ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}\n${r.stderr}`)
  return String(r.stdout)
}

/** The host's platform package folder, with the host build copied in (npm pack ships what is there). */
function hostPlatformDir(): string | null {
  if (!PLATFORMS.includes(host)) return null
  const dir = join(root, 'npm', host)
  if (!existsSync(join(dir, hostBinary))) {
    if (!existsSync(join(root, hostBinary))) return null
    copyFileSync(join(root, hostBinary), join(dir, hostBinary))
  }
  return dir
}

type Packed = { filename: string; files: { path: string }[] }

function packList(dir: string): string[] {
  const [packed] = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir })) as Packed[]
  return packed.files.map((f) => f.path).sort()
}

test('the 8 platform packages are the napi targets, each at the main version with os, cpu and libc of its name', (t) => {
  t.deepEqual(pkg.napi.targets.map(targetAbi).sort(), [...PLATFORMS].sort())
  t.deepEqual(readdirSync(join(root, 'npm')).sort(), [...PLATFORMS].sort())
  const published = publishedOptionalDependencies()
  t.deepEqual(Object.keys(published).sort(), PLATFORMS.map((p) => `socket2-${p}`).sort())
  // Committed once the platform packages are published: then they must say the same.
  if (pkg.optionalDependencies) t.deepEqual(pkg.optionalDependencies, published)
  for (const p of PLATFORMS) {
    const sub = JSON.parse(readFileSync(join(root, 'npm', p, 'package.json'), 'utf8'))
    const [os, cpu, abi] = p.split('-')
    t.is(sub.name, `socket2-${p}`)
    t.is(sub.version, published[sub.name], `${p} version`)
    t.deepEqual(sub.os, [os], `${p} os`)
    t.deepEqual(sub.cpu, [cpu], `${p} cpu`)
    t.deepEqual(sub.libc, os === 'linux' ? [abi === 'musl' ? 'musl' : 'glibc'] : undefined, `${p} libc`)
    t.is(sub.main, `socket2.${p}.node`)
    t.deepEqual(sub.files, [`socket2.${p}.node`])
    t.true(existsSync(join(root, 'npm', p, 'README.md')), `${p} README.md`)
  }
})

test('the loader and the install script share one musl detection', (t) => {
  const loader = readFileSync(join(root, 'binding.js'), 'utf8')
  t.true(loader.includes("require('./scripts/platform.js')"), 'binding.js requires scripts/platform.js (run npm run build, not napi build alone)')
  t.false(/const isMusl\s*=/.test(loader), 'binding.js has no musl detection of its own')
  t.true(readFileSync(join(root, 'scripts', 'install.js'), 'utf8').includes("require('./platform.js')"))
  t.true(pkg.files.includes('scripts/platform.js'))
})

// Under wine or qemu-user (npm run test:platforms) the npm on hand is the host's, and packing
// does not depend on the platform: the native runs check it.
const packing = onlyOn(!emulated, `packing runs natively, not under ${emulated}`)

packing('npm pack ships the built JS, typings, loader and install scripts: no sources, tests or binaries', (t) => {
  const files = packList(root)
  const sources = ['index.ts', ...readdirSync(join(root, 'src')).filter((f) => f.endsWith('.ts')).map((f) => `src/${f}`)]
  const dist = sources.flatMap((f) => [`dist/${f.replace(/\.ts$/, '.js')}`, `dist/${f.replace(/\.ts$/, '.d.ts')}`])
  const expected = ['package.json', 'README.md', 'index.d.ts', 'binding.js', 'binding.d.ts', 'scripts/install.js', 'scripts/platform.js', ...dist]
  if (existsSync(join(root, 'LICENSE'))) expected.push('LICENSE')
  t.deepEqual(files, expected.sort())
})

const platformDir = hostPlatformDir()

onlyOn(!emulated && platformDir !== null, emulated ? `packing runs natively, not under ${emulated}` : `no ${hostBinary} built on this ${host} host`)(
  'npm pack of the platform package ships its package.json, README and the one .node',
  (t) => {
    t.deepEqual(packList(platformDir!), ['README.md', 'package.json', hostBinary])
  },
)

/** The README's quick start, printing what comes back. */
function quickStart(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes("from 'socket2'"))
  if (!block) throw new Error('README.md has no ts block importing socket2')
  const recv = /^( *)const n = await c\.recv\(buf\).*$/m
  if (!recv.test(block)) throw new Error('the README quick start no longer receives into `n`; update package.spec.ts')
  return block.replace(recv, (line, indent) => `${line}\n${indent}console.log('echo: ' + new TextDecoder().decode(buf.subarray(0, n)))`)
}

const installing = onlyOn(
  !emulated && host === 'linux-x64-gnu' && platformDir !== null,
  emulated ? `installing runs natively, not under ${emulated}` : `runs on linux-x64-gnu with its addon built; this is ${host}`,
)

installing('installed from its tarballs into an empty folder, the README quick start echoes over TCP as ESM and CommonJS', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'socket2-pack-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const [mainPacked] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: root })) as Packed[]
  const [platformPacked] = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: platformDir! })) as Packed[]

  // Publish as napi prepublish does: the main manifest names the 8 platform packages.
  const stage = join(tmp, 'stage')
  mkdirSync(stage)
  spawnSync('tar', ['-xzf', join(tmp, mainPacked.filename), '-C', stage], { stdio: 'inherit' })
  const manifest = JSON.parse(readFileSync(join(stage, 'package', 'package.json'), 'utf8'))
  manifest.optionalDependencies = publishedOptionalDependencies()
  writeFileSync(join(stage, 'package', 'package.json'), JSON.stringify(manifest, null, 2))
  const mainTgz = join(tmp, 'socket2-published.tgz')
  t.is(spawnSync('tar', ['-czf', mainTgz, '-C', stage, 'package']).status, 0)

  // A user's `npm install socket2`, with the two tarballs standing in for the registry: npm takes
  // the platform package that fits from them, and skips the other 7 optional ones it cannot
  // fetch (--offline, an empty cache), as it skips those that do not fit this os/cpu/libc.
  const app = join(tmp, 'app')
  mkdirSync(app)
  // npm holds dependency install scripts back until approved; approve ours to see what it does.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, allowScripts: { socket2: true } }))
  const install = npm(
    ['install', '--offline', '--no-audit', '--no-fund', '--cache', join(tmp, 'cache'), '--foreground-scripts', mainTgz, join(tmp, platformPacked.filename)],
    { cwd: app },
  )
  t.notRegex(install, /building from source|socket2: /, 'the install script found the platform package')
  const installed = join(app, 'node_modules', 'socket2')
  t.false(existsSync(join(installed, hostBinary)), 'no addon was built into the package')
  t.true(existsSync(join(app, 'node_modules', `socket2-${host}`, hostBinary)))
  // Run again by hand: it loads the addon and says nothing.
  const again = spawnSync(process.execPath, [join(installed, 'scripts', 'install.js')], { encoding: 'utf8' })
  t.is(again.status, 0)
  t.is(again.stdout + again.stderr, '')

  const esm = quickStart()
  const cjs = `(async () => {\n${esm.replace(/^import (\{[^}]*\}) from 'socket2'$/m, "const $1 = require('socket2')")}\n})()`
  t.not(cjs, esm)
  writeFileSync(join(app, 'quick.mjs'), esm)
  writeFileSync(join(app, 'quick.cjs'), cjs)
  for (const file of ['quick.mjs', 'quick.cjs']) {
    const r = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 30_000 })
    t.is(r.stderr, '', file)
    t.is(r.stdout, 'echo: hello\n', file)
    t.is(r.status, 0, file)
  }
  const resolved = spawnSync(process.execPath, ['-p', "require.resolve('socket2')"], { cwd: app, encoding: 'utf8' }).stdout.trim()
  t.is(resolved, join(installed, 'dist', 'index.js'), 'the quick start used the installed package, not the work tree')
})
