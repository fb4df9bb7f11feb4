#!/usr/bin/env node
// Runs on `npm install`. Uses the prebuilt binary when one fits this platform (the
// optional dependency socket2-<platform>, or a local build); otherwise builds the native addon
// from source with cargo, so a clone or an unusual platform still installs.
'use strict'
const { spawnSync } = require('node:child_process')
const { copyFileSync, existsSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')

function loads() {
  try {
    require(join(root, 'binding.js'))
    return true
  } catch {
    return false
  }
}

function isMusl() {
  if (process.platform !== 'linux') return false
  const report = process.report && process.report.getReport()
  return !(report && report.header && report.header.glibcVersionRuntime)
}

/** The napi-rs platform suffix the loader looks for: linux-x64-gnu, darwin-arm64, win32-x64-msvc. */
function platformAbi() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function libraryName() {
  if (process.platform === 'win32') return 'socket2_node.dll'
  if (process.platform === 'darwin') return 'libsocket2_node.dylib'
  return 'libsocket2_node.so'
}

if (process.env.SOCKET2_SKIP_BUILD !== '1' && !loads()) {
  if (!existsSync(join(root, 'crates', 'node', 'Cargo.toml'))) {
    console.error(`socket2: no prebuilt binary for ${platformAbi()} and no sources to build one.`)
    process.exit(1)
  }
  console.log(`socket2: no prebuilt binary for ${platformAbi()}; building from source with cargo...`)
  const r = spawnSync('cargo', ['build', '--release', '-p', 'socket2-node'], { cwd: root, stdio: 'inherit' })
  if (r.error || r.status !== 0) {
    console.error('socket2: the native build failed. Install Rust (https://rustup.rs) and run `npm install` again.')
    process.exit(1)
  }
  const target = process.env.CARGO_TARGET_DIR || join(root, 'target')
  copyFileSync(join(target, 'release', libraryName()), join(root, `socket2.${platformAbi()}.node`))
  if (!loads()) {
    console.error('socket2: the freshly built addon does not load.')
    process.exit(1)
  }
  console.log('socket2: native addon built.')
}
