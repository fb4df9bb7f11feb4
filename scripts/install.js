#!/usr/bin/env node
// Runs on `npm install`. Uses the prebuilt binary when one fits this platform (the optional
// dependency socket2-<platform>, or a local build); otherwise builds the native addon from source
// with cargo, so a clone or an unusual platform still installs. It never fails the install: with
// no binary and no way to build one it says which platform it found and what to do, and the
// first use of the package (require, the tests, the demo) fails loudly instead.
'use strict'
const { spawnSync } = require('node:child_process')
const { copyFileSync, existsSync } = require('node:fs')
const { join } = require('node:path')
const { platformAbi, targetAbi } = require('./platform.js')

const root = join(__dirname, '..')

function loads() {
  try {
    require(join(root, 'binding.js'))
    return true
  } catch {
    return false
  }
}

function libraryName() {
  if (process.platform === 'win32') return 'socket2_node.dll'
  if (process.platform === 'darwin') return 'libsocket2_node.dylib'
  return 'libsocket2_node.so'
}

function hasCargo() {
  const r = spawnSync('cargo', ['--version'], { stdio: 'ignore' })
  return !r.error && r.status === 0
}

/** Says what is missing and how to get it; the install goes on (exit 0). */
function giveUp(why) {
  const { napi } = require(join(root, 'package.json'))
  const supported = (napi && napi.targets ? napi.targets.map(targetAbi) : []).join(', ')
  console.warn(
    [
      `socket2: ${why}`,
      `socket2: detected platform ${platformAbi()} (node ${process.version}); prebuilt binaries exist for ${supported}.`,
      "socket2: on a supported platform, make sure optional dependencies are installed (no --omit=optional or --no-optional).",
      'socket2: elsewhere, build it: install Rust (https://rustup.rs), then in a clone of socket2 run `npm install && npm run build`.',
      'socket2: until then, loading socket2 throws.',
    ].join('\n'),
  )
  process.exit(0)
}

function build() {
  if (!existsSync(join(root, 'crates', 'node', 'Cargo.toml'))) giveUp(`no prebuilt binary for ${platformAbi()} and no sources to build one.`)
  if (!hasCargo()) giveUp(`no prebuilt binary for ${platformAbi()} and no cargo to build one.`)
  console.log(`socket2: no prebuilt binary for ${platformAbi()}; building from source with cargo...`)
  const r = spawnSync('cargo', ['build', '--release', '-p', 'socket2-node'], { cwd: root, stdio: 'inherit' })
  if (r.error || r.status !== 0) giveUp('the native build failed (its output is above).')
  const target = process.env.CARGO_TARGET_DIR || join(root, 'target')
  copyFileSync(join(target, 'release', libraryName()), join(root, `socket2.${platformAbi()}.node`))
  if (!loads()) giveUp('the freshly built addon does not load.')
  console.log('socket2: native addon built.')
}

if (process.env.SOCKET2_SKIP_BUILD !== '1' && !loads()) build()
