// Which prebuilt binary fits this machine. The one musl detection of the package: the loader
// (binding.js, see scripts/patch-loader.js) and the install script both ask here, so they can
// never disagree about which socket2-<platform> package or socket2.<platform>.node to use.
'use strict'
const { readFileSync } = require('node:fs')

let musl = null

/** Whether this is Linux on musl libc (Alpine): `ldd` names it, or the process report does. */
function isMusl() {
  if (process.platform !== 'linux') return false
  if (musl === null) musl = fromLdd() ?? fromReport() ?? fromLddVersion()
  return musl
}

function fromLdd() {
  try {
    return readFileSync('/usr/bin/ldd', 'utf-8').includes('musl')
  } catch {
    return null
  }
}

function fromReport() {
  if (!process.report || typeof process.report.getReport !== 'function') return null
  process.report.excludeNetwork = true
  const report = process.report.getReport()
  if (!report) return null
  if (report.header && report.header.glibcVersionRuntime) return false
  return Array.isArray(report.sharedObjects) && report.sharedObjects.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-'))
}

function fromLddVersion() {
  try {
    return require('node:child_process').execSync('ldd --version', { encoding: 'utf8', stdio: 'pipe' }).includes('musl')
  } catch {
    return false // unknown: glibc is the likelier guess
  }
}

/** The napi-rs platform suffix of this machine: linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc. */
function platformAbi() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The suffix of a Rust target triple as napi-rs names it: x86_64-unknown-linux-musl -> linux-x64-musl. */
function targetAbi(triple) {
  const [arch, , sys, abi] = triple.split('-')
  const cpu = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[arch] ?? arch
  if (triple.endsWith('-apple-darwin')) return `darwin-${cpu}`
  return `${sys === 'windows' ? 'win32' : sys}-${cpu}-${abi}`
}

module.exports = { isMusl, platformAbi, targetAbi }
