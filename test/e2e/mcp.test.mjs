// End-to-end: the official MCP conformance runner (@modelcontextprotocol/conformance) against
// /mcp of `npm run dev`, the Worker as wrangler builds and serves it (its [alias]es included).
// The runner sends no Authorization header, so it talks to a small proxy on loopback that adds a
// Bearer token for the MCP server (RFC 8707 `resource`), got with the demo user alice.
// Only the scenarios that fit any server run: ours has tools but no prompts, resources,
// logging, sampling or elicitation.
//
//   node --test test/e2e/mcp.test.mjs
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { devServer } from './dev-server.mjs'

const PORT = 8799
const PROXY_PORT = 8800
const server = devServer(PORT)
const BASE = server.base
const PROXY = `http://127.0.0.1:${PROXY_PORT}`
const require = createRequire(import.meta.url)
const RUNNER = join(
  dirname(require.resolve('@modelcontextprotocol/conformance/package.json')),
  'dist',
  'index.js',
)
const SCENARIOS = ['server-initialize', 'ping', 'tools-list']
const VERSIONS = ['2025-06-18', '2025-11-25']

let proxy
const HOP_BY_HOP = new Set([
  'connection',
  'content-encoding',
  'content-length',
  'keep-alive',
  'transfer-encoding',
])

/** Forwards every request to the dev server with `token` as its Bearer credential. */
function bearerProxy(token) {
  return createServer(async (req, res) => {
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const headers = { ...req.headers, host: `127.0.0.1:${PORT}`, authorization: `Bearer ${token}` }
    for (const name of HOP_BY_HOP) delete headers[name]
    try {
      const answer = await fetch(`${BASE}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      })
      const body = Buffer.from(await answer.arrayBuffer())
      // fetch has decoded the body: its length and encoding are this proxy's to state.
      const sent = Object.fromEntries(
        [...answer.headers].filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
      )
      res.writeHead(answer.status, { ...sent, 'content-length': body.byteLength })
      res.end(body)
    } catch (err) {
      res.writeHead(502).end(String(err))
    }
  })
}

/** Runs the conformance runner; resolves to its exit code and output. */
function conformance(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (c) => (output += c))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

before(async () => {
  const busy = await fetch(BASE).then(
    () => true,
    () => false,
  )
  if (busy) throw new Error(`something already answers on ${BASE}; stop it first`)
  server.start()
  await server.waitForHealth()
  const res = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      username: 'alice',
      password: 'wonderland',
      resource: `${BASE}/mcp`,
    }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  const { access_token: token } = await res.json()
  proxy = bearerProxy(token)
  await new Promise((resolve) => proxy.listen(PROXY_PORT, '127.0.0.1', resolve))
})

after(async () => {
  await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve()))
  await server.stop()
})

test('the runner itself is refused without a token: 401 naming the MCP server’s metadata', async () => {
  const res = await fetch(`${BASE}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  })
  assert.equal(res.status, 401)
  assert.match(
    res.headers.get('WWW-Authenticate'),
    new RegExp(`resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp"`),
  )
})

for (const version of VERSIONS) {
  for (const scenario of SCENARIOS) {
    test(`conformance: ${scenario} (${version})`, async () => {
      const { code, output } = await conformance([
        'server',
        '--url',
        `${PROXY}/mcp`,
        '--scenario',
        scenario,
        '--spec-version',
        version,
      ])
      assert.equal(code, 0, output)
      assert.doesNotMatch(output, /FAIL/, output)
      // Every check of the scenario ran and passed, and there was at least one.
      assert.match(output, /Passed: ([1-9]\d*)\/\1, 0 failed/, output)
    })
  }
}
