#!/usr/bin/env node
// `npm run size` (and the last step of `npm test`): builds the Worker exactly as `wrangler deploy`
// would upload it and fails when its gzip size exceeds the budget. The size is measured the way
// wrangler reports "Total Upload … gzip": every uploaded module concatenated, then gzipped.
// The budget is ours, far below the platform's size limits: a smaller script starts faster in a
// cold isolate, and the first request of every new isolate waits for it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { wrangler } from './local-db.mjs'

// 150 until federation, whose OpenID Connect validation is oauth4webapi's (18 KiB gzipped) by design:
// a maintained library, not hand-written checks. 165 until the MCP server, whose protocol is the
// MCP SDK's and its validator @cfworker/json-schema's (51 KiB gzipped, with ajv and the SDK's Zod 3
// paths left out by wrangler.toml's [alias]), and Client ID Metadata Documents with
// private_key_jwt (5.5 KiB); then passkeys, whose WebAuthn checks are @simplewebauthn/server's,
// with the ASN.1 and X.509 code it brings (about 140 KiB gzipped, loaded lazily so a cold start
// does not evaluate it): docs/performance.md, "Bundle budget".
const BUDGET_KIB = 380

/** Builds the production bundle into `outdir`; throws when wrangler fails. */
export async function buildBundle(outdir) {
  const code = await wrangler(['deploy', '--dry-run', '--outdir', outdir], { quiet: true })
  if (code !== 0) throw new Error(`wrangler deploy --dry-run exited with ${code}`)
}

/** The uploaded modules' total and gzip sizes in KiB (source maps and wrangler's README are not uploaded). */
export function bundleSize(outdir) {
  const modules = readdirSync(outdir)
    .filter((f) => !f.endsWith('.map') && f !== 'README.md')
    .map((f) => readFileSync(join(outdir, f)))
  const all = Buffer.concat(modules)
  return { kib: all.byteLength / 1024, gzipKib: gzipSync(all).byteLength / 1024 }
}

if (import.meta.main) {
  const outdir = mkdtempSync(join(tmpdir(), 'todo-auth-size-'))
  try {
    await buildBundle(outdir)
    const { kib, gzipKib } = bundleSize(outdir)
    const verdict = gzipKib <= BUDGET_KIB ? 'within' : 'OVER'
    console.log(
      `bundle: ${kib.toFixed(2)} KiB, gzip ${gzipKib.toFixed(2)} KiB (${verdict} the ${BUDGET_KIB} KiB budget)`,
    )
    if (gzipKib > BUDGET_KIB) process.exitCode = 1
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}
