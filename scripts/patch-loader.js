#!/usr/bin/env node
// Runs after `napi build --js binding.js` (the build scripts in package.json): swaps the musl
// detection napi-rs writes into the loader for a require of scripts/platform.js, the one the
// install script uses too. The rest of the loader stays generated, so new exports and the
// version checks keep following the crate and package.json. Idempotent; fails loudly when the
// generated text no longer has the expected shape, rather than leaving two detections.
'use strict'
const { readFileSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

const file = join(__dirname, '..', process.argv[2] ?? 'binding.js')
const shared = "const { isMusl } = require('./scripts/platform.js')"
let js = readFileSync(file, 'utf8')

if (!js.includes(shared)) {
  const start = js.indexOf('const isMusl = () => {')
  const end = js.indexOf('function requireNative()')
  if (start < 0 || end < start) {
    console.error(`patch-loader: ${file} has no isMusl block before requireNative(); update scripts/patch-loader.js`)
    process.exit(1)
  }
  const note = '// The musl detection shared with scripts/install.js (put here by scripts/patch-loader.js).'
  js = `${js.slice(0, start)}${note}\n${shared}\n\n${js.slice(end)}`
  // Drop the import the generated detection used, unless something else still reads files.
  const unused = js.replace("const { readFileSync } = require('fs')\n", '')
  if (!unused.includes('readFileSync')) js = unused
  writeFileSync(file, js)
}
