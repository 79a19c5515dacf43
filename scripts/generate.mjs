#!/usr/bin/env node
// `npm run generate`: rewrites every generated file the repository tracks (docs/contributing.md,
// "Generated files", lists them). Run it after changing a route, a schema, a statement, a
// migration or wrangler.toml, and commit what it changed.
//
// `--check` (the second step of `npm test`) only checks worker-configuration.d.ts, because
// wrangler's own hint names the wrong command (`wrangler types`, without --strict-vars=false).
// The two other files are checked where they are made, by the tests that make them, during
// `vitest run`; their failures name this command too.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const bin = (pkg, file) => join(dirname(require.resolve(`${pkg}/package.json`)), file)
const WRANGLER = bin('wrangler', 'bin/wrangler.js')
const VITEST = bin('vitest', 'vitest.mjs')

const WRANGLER_TYPES = ['types', '--strict-vars=false']
/** The tests that write docs/generated/query-plans.txt and test/generated/openapi.d.ts. */
const GENERATING_TESTS = ['test/db/query-plans.test.ts', 'test/node/openapi.test.ts']

/** Runs a JS tool on this Node (the project's own, ≥ 22, through npm); returns its exit code. */
const run = (script, args) =>
  spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' }).status ?? 1

if (process.argv.includes('--check')) {
  if (run(WRANGLER, [...WRANGLER_TYPES, '--check']) !== 0) {
    console.error('worker-configuration.d.ts is stale: run `npm run generate`')
    process.exitCode = 1
  }
} else {
  const started = performance.now()
  // --update=all writes the tests' file snapshots even where CI=true would refuse to.
  process.exitCode =
    run(WRANGLER, WRANGLER_TYPES) || run(VITEST, ['run', '--update=all', ...GENERATING_TESTS])
  const seconds = ((performance.now() - started) / 1000).toFixed(0)
  console.log(`npm run generate: ${process.exitCode ? 'failed' : 'done'} in ${seconds} s`)
}
