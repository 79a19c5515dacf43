#!/usr/bin/env node
// `node scripts/cold-start.mjs [runs]` (through npm's PATH, for Node 24): what a fresh isolate
// costs before and at its first request. The production bundle (`wrangler deploy --dry-run`) is
// served by workerd through Miniflare's API, `runs` times (default 7), each in a new workerd
// process, so each request below is its isolate's first of its kind:
//
//   ready        new Miniflare(…) to `mf.ready`: workerd starts and compiles and runs the bundle's
//                top level (the MCP SDK's schemas are built there, for every route)
//   first /mcp   the first POST /mcp (tools/list with a token for it): McpServer, the tools'
//                JSON Schemas, one D1 round trip
//   next /mcp    the same request again, warm
//   first api    in a second process per run: GET /api/todos first, as a REST client would
//
// Medians, in ms, wall clock on loopback. It also builds nothing else and sends traffic only to
// 127.0.0.1. Figures and how to read them: docs/performance.md, "A fresh isolate".
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { Miniflare } from 'miniflare'
import { unstable_readConfig } from 'wrangler'
import { buildBundle, bundleSize } from './bundle-size.mjs'
import { setupLocalDatabase } from './local-db.mjs'

const RUNS = Number(process.argv[2] ?? 7)
// A fixed port: on loopback the issuer is the origin, so tokens hold from one process to the next.
const PORT = Number(process.env.COLD_PORT ?? 8796)
const ORIGIN = `http://127.0.0.1:${PORT}`
const DIST = resolve('.cold/dist')
const STATE = resolve('.cold/state')
const config = unstable_readConfig({ config: 'wrangler.toml' })
const text = (value) => ({ type: 'text', value: String(value) })
const secret = randomBytes(32).toString('base64url')

rmSync('.cold', { recursive: true, force: true })
await buildBundle(DIST)
await setupLocalDatabase({ persistTo: STATE })
const script = readFileSync(resolve(DIST, 'index.js'), 'utf8')

async function start() {
  const env = Object.fromEntries(Object.entries(config.vars).map(([k, v]) => [k, text(v)]))
  for (const d of config.d1_databases) env[d.binding] = { type: 'd1', id: d.database_id }
  env.JWT_SECRET = text(secret)
  env.BCRYPT_COST = text(4)
  const began = performance.now()
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: PORT,
    enableDevRegistry: false,
    telemetry: { enabled: false },
    logRequests: false,
    cf: false,
    resourcePersistencePath: resolve(STATE, 'v3'),
    workers: [
      {
        config: {
          name: 'todo-auth',
          compatibilityDate: config.compatibility_date,
          compatibilityFlags: config.compatibility_flags,
          manifest: {
            mainModule: 'index.js',
            modulesRoot: DIST,
            modules: { 'index.js': { type: 'esm', contents: script } },
          },
          env,
        },
      },
    ],
  })
  await mf.ready
  return { mf, ready: performance.now() - began }
}

async function timed(request) {
  const began = performance.now()
  const res = await request()
  await res.arrayBuffer()
  if (!res.ok) throw new Error(`cold-start: ${res.status} from ${res.url}`)
  return performance.now() - began
}

const rpc = (token) => () =>
  fetch(`${ORIGIN}/mcp`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  })

async function tokenFor(resource) {
  const body = new URLSearchParams({
    grant_type: 'password',
    username: 'alice',
    password: 'wonderland',
    ...(resource && { resource }),
  })
  const res = await fetch(`${ORIGIN}/auth/token`, { method: 'POST', body })
  if (!res.ok) throw new Error(`cold-start: no token (${res.status})`)
  return (await res.json()).access_token
}

// Tokens for the demo user alice, from a process of their own: one for each resource.
const first = await start()
const mcpToken = await tokenFor(`${ORIGIN}/mcp`)
const apiToken = await tokenFor()
await first.mf.dispose()

const rows = { ready: [], 'first /mcp': [], 'next /mcp': [], 'first api': [] }
for (let i = 0; i < RUNS; i++) {
  // A new workerd process for each first request: each starts its isolate afresh.
  const a = await start()
  rows.ready.push(a.ready)
  rows['first /mcp'].push(await timed(rpc(mcpToken)))
  rows['next /mcp'].push(await timed(rpc(mcpToken)))
  await a.mf.dispose()
  const b = await start()
  const todos = () =>
    fetch(`${ORIGIN}/api/todos`, { headers: { Authorization: `Bearer ${apiToken}` } })
  rows['first api'].push(await timed(todos))
  await b.mf.dispose()
}

const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]
const { kib, gzipKib } = bundleSize(DIST)
console.log(
  `cold-start: bundle ${kib.toFixed(1)} KiB (gzip ${gzipKib.toFixed(1)} KiB); ${RUNS} runs`,
)
for (const [name, xs] of Object.entries(rows))
  console.log(
    `${name.padEnd(12)} median ${median(xs).toFixed(1)} ms  (${xs.map((x) => x.toFixed(0)).join(' ')})`,
  )
rmSync('.cold', { recursive: true, force: true })
