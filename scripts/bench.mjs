#!/usr/bin/env node
// `npm run bench`: the production bundle served by workerd through Miniflare's API, with a fresh
// local D1 under .bench/, loaded with autocannon over loopback. No wrangler dev proxy in the path:
// on this 2-core machine it halves the requests per second (docs/performance.md).
//
//   npm run bench               build, migrate, seed, load every route, compare login failures
//   npm run bench -- --serve    build, migrate, seed the demo users, serve on BENCH_PORT and wait
//   npm run bench -- --bcrypt   bcrypt's cost per cost factor, measured in workerd
//   npm run bench -- --profile  a CPU profile of GET /api/todos under load (workerd's inspector)
//
// Figures and how to read them: docs/performance.md.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import bcrypt from 'bcryptjs'
import { Miniflare } from 'miniflare'
import { unstable_readConfig } from 'wrangler'
import { buildBundle, bundleSize } from './bundle-size.mjs'
import { setupLocalDatabase } from './local-db.mjs'
import './src-modules.mjs'

const { insertUser } = await import('../src/db/users.ts')
const { createTodo } = await import('../src/db/todos.ts')
const { run } = await import('../src/db/query.ts')

const PORT = Number(process.env.BENCH_PORT ?? 8788)
const ORIGIN = `http://127.0.0.1:${PORT}`
const INSPECTOR_PORT = Number(process.env.BENCH_INSPECTOR_PORT ?? 9239)
const DIST = resolve('.bench/dist')
const STATE = resolve('.bench/state')
/** Production's cost, whatever wrangler.toml says today: the bench must pay what users pay. */
const BCRYPT_COST = 10
/**
 * Per route: ROUNDS rounds, each loading the route then its floor for DURATION_SECONDS, so that
 * the machine's other load hits both alike; five routes keep the run under three minutes.
 */
const DURATION_SECONDS = 3
const ROUNDS = 3
/** Host header that Miniflare routes to the floor Worker (see FLOOR). */
const FLOOR_HOST = 'floor.bench'
const CONNECTIONS = 10
const TODOS_LISTED = 20
/** Login failures timed per group; both groups together stay under the per-IP limit of 100. */
const FAILURE_SAMPLES = 40
const PASSWORD = 'bench password 1'
const BCRYPT_SAMPLES = 9

const wranglerConfig = unstable_readConfig({ config: 'wrangler.toml' })
const text = (value) => ({ type: 'text', value: String(value) })

/** Shared Miniflare options: loopback only, no dev registry, telemetry or request log. */
const isolated = {
  host: '127.0.0.1',
  enableDevRegistry: false,
  telemetry: { enabled: false },
  logRequests: false,
  cf: false,
}

/** A Worker as wrangler.toml describes it, from one ES module (path → name in the manifest). */
const worker = (name, modules, env = {}) => ({
  config: {
    name,
    compatibilityDate: wranglerConfig.compatibility_date,
    compatibilityFlags: wranglerConfig.compatibility_flags,
    manifest: {
      mainModule: Object.keys(modules)[0],
      modulesRoot: DIST,
      modules: Object.fromEntries(
        Object.entries(modules).map(([n, contents]) => [n, { type: 'esm', contents }]),
      ),
    },
    env,
  },
})

/**
 * The floor of the runtime: a bare Worker that does the least a Bearer request must — verify the
 * HS256 token with crypto.subtle (key imported once), then one D1 batch of the session check and
 * the route's statement — and nothing else: no router, no middleware, no validation. GET lists the
 * caller's todos as the app does; POST inserts one into their default list.
 */
const FLOOR = `const encoder = new TextEncoder()
let key
const bytes = (part) =>
  Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
const denied = () => new Response(null, { status: 401 })
export default {
  async fetch(request, env) {
    const [header, payload, signature] = (request.headers.get('Authorization') ?? '').slice(7).split('.')
    key ??= await crypto.subtle.importKey('raw', encoder.encode(env.JWT_SECRET),
      { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    const signed = encoder.encode(header + '.' + payload)
    if (!(await crypto.subtle.verify('HMAC', key, bytes(signature), signed))) return denied()
    const claims = JSON.parse(new TextDecoder().decode(bytes(payload)))
    const now = Math.floor(Date.now() / 1000)
    if (claims.exp <= now) return denied()
    const check = env.DB.prepare(\`SELECT u.role, u.scopes, s.scope FROM sessions s
      JOIN users u ON u.id = s.user_id WHERE s.id = ?1 AND s.user_id = ?2
      AND s.revoked_at IS NULL AND s.expires_at > ?3 AND u.disabled = 0\`).bind(claims.sid, claims.sub, now)
    const columns = 'id, list_id, title, description, completed, created_at, updated_at'
    const route = request.method === 'POST'
      ? env.DB.prepare(\`INSERT INTO todos
          (id, owner_id, list_id, title, description, completed, created_at, updated_at)
          SELECT ?2, owner_id, id, ?3, ?4, 0, ?5, ?5 FROM lists WHERE owner_id = ?1 AND is_default = 1
          RETURNING \${columns}\`).bind(claims.sub, crypto.randomUUID(), 'Floor todo', '',
          new Date().toISOString())
      : env.DB.prepare(\`SELECT \${columns} FROM todos WHERE owner_id = ?1
          ORDER BY created_at DESC, rowid DESC LIMIT 50 OFFSET 0\`).bind(claims.sub)
    const [session, rows] = await env.DB.batch([check, route])
    if (session.results.length === 0) return denied()
    const todos = rows.results.map((t) => ({ ...t, completed: t.completed === 1 }))
    return Response.json(request.method === 'POST' ? todos[0] : todos,
      { status: request.method === 'POST' ? 201 : 200 })
  },
}`

/** The floor Worker, on the same D1, reached by the Host header FLOOR_HOST. */
function floorWorker(env) {
  const floor = worker('floor', { 'floor.js': FLOOR }, env)
  floor.config.triggers = [{ type: 'fetch', pattern: `${FLOOR_HOST}/*` }]
  return floor
}

/** Builds, migrates and seeds a fresh D1, then serves the bundle with production settings. */
async function startServer({ inspectorPort } = {}) {
  rmSync('.bench', { recursive: true, force: true })
  await buildBundle(DIST)
  await setupLocalDatabase({ persistTo: STATE })
  const env = Object.fromEntries(Object.entries(wranglerConfig.vars).map(([k, v]) => [k, text(v)]))
  for (const d of wranglerConfig.d1_databases) env[d.binding] = { type: 'd1', id: d.database_id }
  env.JWT_SECRET = text(randomBytes(32).toString('base64url'))
  env.BCRYPT_COST = text(BCRYPT_COST)
  const mf = new Miniflare({
    ...isolated,
    port: PORT,
    ...(inspectorPort && { inspectorPort }),
    // The layout `wrangler d1 … --persist-to .bench/state` writes, so both see the same database.
    resourcePersistencePath: resolve(STATE, 'v3'),
    workers: [
      worker('todo-auth', { 'index.js': readFileSync(resolve(DIST, 'index.js'), 'utf8') }, env),
      floorWorker({ JWT_SECRET: env.JWT_SECRET, DB: env.DB }),
    ],
  })
  await mf.ready
  return mf
}

const post = (path, body, headers = {}) =>
  fetch(`${ORIGIN}${path}`, { method: 'POST', headers, body })
const tokenForm = (fields) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
})

async function login(username) {
  const { body, headers } = tokenForm({ grant_type: 'password', username, password: PASSWORD })
  const res = await post('/auth/token', body, headers)
  if (res.status !== 200)
    throw new Error(`bench login as ${username}: ${res.status} ${await res.text()}`)
  return res.json()
}

// Password grants rotate over one user per connection: concurrent checks for ONE username are
// throttled by design (more than LOGIN_MAX_FAILURES in flight meet the lock; docs/security.md).
const loginNames = Array.from({ length: CONNECTIONS }, (_, i) => `bench-login-${i}`)

/** Bench users (one hash, made once) and the todos the list route returns. */
async function seed(mf) {
  const db = await mf.getD1Database('DB')
  const hash = bcrypt.hashSync(PASSWORD, BCRYPT_COST)
  const names = [
    'bench-reader',
    'bench-writer',
    ...loginNames,
    ...Array.from({ length: FAILURE_SAMPLES }, (_, i) => `bench-known-${i}`),
  ]
  const ids = Object.fromEntries(names.map((n) => [n, crypto.randomUUID()]))
  // The Worker's own inserts: the bench writes no SQL of its own. The todos go into the
  // reader's default list, which the users_default_list trigger made.
  await db.batch(
    names.map((n) => insertUser(db, ids[n], { username: n, passwordHash: hash, name: n })),
  )
  for (let i = 0; i < TODOS_LISTED; i++)
    await run(
      db,
      createTodo(db, ids['bench-reader'], {
        title: `Todo number ${i}`,
        description: 'A description of moderate length.',
        completed: i % 2 === 1,
      }),
    )
}

/** Drives one route for DURATION_SECONDS; a non-2xx answer means the bench is wrong, so it fails. */
async function load(title, path, opts = {}) {
  const result = await autocannon({
    url: `${ORIGIN}${path}`,
    connections: CONNECTIONS,
    duration: DURATION_SECONDS,
    ...opts,
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(
      `${title}: ${result.non2xx} non-2xx answers, ${result.errors} errors (${JSON.stringify(result.statusCodeStats)})`,
    )
  }
  return { rps: result.requests.average, p50: result.latency.p50, total: result.requests.total }
}

/** The workerd processes under this one (Miniflare's), found through /proc. */
function workerdPids() {
  const children = new Map()
  const comm = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const ppid = Number(stat.slice(close + 2).split(' ')[1])
      comm.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close))
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {} // gone meanwhile
  }
  const found = []
  const queue = [process.pid]
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()) ?? []) {
      if (comm.get(child) === 'workerd') found.push(child)
      queue.push(child)
    }
  }
  return found
}

/** User plus system CPU time of the processes, in ms (Linux clock ticks of 10 ms). */
const cpuMs = (pids) =>
  pids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return sum + (Number(fields[11]) + Number(fields[12])) * 10
  }, 0)

/** One load, with the CPU the workerd process spent on it per request. */
async function measured(pids, title, path, opts) {
  const before = cpuMs(pids)
  const r = await load(title, path, opts)
  return { ...r, cpu: (cpuMs(pids) - before) / r.total }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/**
 * Each route against its floor: ROUNDS times the route then the floor Worker doing the least the
 * route must (the todo list's floor for routes that have none of their own), back to back, so
 * that the machine's other load moves both alike; medians over the rounds.
 */
async function againstFloor(pids, title, path, opts, floor) {
  const rounds = []
  for (let i = 0; i < ROUNDS; i++) {
    const app = await measured(pids, title, path, typeof opts === 'function' ? await opts() : opts)
    const bare = await measured(pids, `floor of ${title}`, floor.path, floor.opts)
    rounds.push({ app, bare, ratio: app.rps / bare.rps })
  }
  return {
    title,
    rps: median(rounds.map((r) => r.app.rps)),
    p50: median(rounds.map((r) => r.app.p50)),
    cpu: median(rounds.map((r) => r.app.cpu)),
    floorRps: median(rounds.map((r) => r.bare.rps)),
    floorCpu: median(rounds.map((r) => r.bare.cpu)),
    ratio: median(rounds.map((r) => r.ratio)),
  }
}

async function loadRoutes() {
  const pids = workerdPids()
  if (pids.length === 0) throw new Error('bench: no workerd process found under this one')
  const reader = await login('bench-reader')
  const writer = await login('bench-writer')
  const auth = (t) => ({ Authorization: `Bearer ${t.access_token}` })
  const floorOf = (t, method = 'GET') => ({
    path: '/api/todos',
    opts: {
      method,
      headers: { ...auth(t), host: FLOOR_HOST, 'Content-Type': 'application/json' },
      ...(method === 'POST' && { body: '{}' }),
    },
  })
  const listFloor = floorOf(reader)
  // Unmeasured: a fresh isolate first compiles the app and warms D1's page cache.
  for (const warm of [{ headers: auth(reader) }, listFloor.opts])
    await autocannon({ url: `${ORIGIN}/api/todos`, connections: CONNECTIONS, duration: 2, ...warm })
  const results = []
  results.push(
    await againstFloor(
      pids,
      `GET /api/todos (${TODOS_LISTED} todos)`,
      '/api/todos',
      { headers: auth(reader) },
      listFloor,
    ),
  )
  results.push(
    await againstFloor(
      pids,
      'POST /api/todos',
      '/api/todos',
      {
        method: 'POST',
        headers: { ...auth(writer), 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: 'Benchmark todo', description: 'Created under load.' }),
      },
      floorOf(writer, 'POST'),
    ),
  )
  results.push(
    await againstFloor(
      pids,
      'GET /profile (Basic, same credentials)',
      '/profile',
      { headers: { Authorization: `Basic ${btoa(`bench-reader:${PASSWORD}`)}` } },
      listFloor,
    ),
  )
  let next = 0
  results.push(
    await againstFloor(
      pids,
      'POST /auth/token (password)',
      '/auth/token',
      {
        requests: [
          {
            method: 'POST',
            headers: tokenForm({}).headers,
            setupRequest: (req) => ({
              ...req,
              body: new URLSearchParams({
                grant_type: 'password',
                username: loginNames[next++ % loginNames.length],
                password: PASSWORD,
              }).toString(),
            }),
          },
        ],
      },
      listFloor,
    ),
  )

  // Each refresh token works once, so every connection keeps a rotation chain going: a request
  // takes a live token from the pool and its response puts the successor back. A fresh pool per
  // round: the answers in flight when a round ends are dropped, and their successors with them.
  const refreshes = async () => {
    const pool = await Promise.all(loginNames.map((n) => login(n).then((t) => t.refresh_token)))
    return {
      requests: [
        {
          method: 'POST',
          path: '/auth/token',
          headers: tokenForm({}).headers,
          setupRequest: (req) => ({
            ...req,
            body: new URLSearchParams({
              grant_type: 'refresh_token',
              refresh_token: pool.pop() ?? 'exhausted',
            }).toString(),
          }),
          onResponse: (status, body) => status === 200 && pool.push(JSON.parse(body).refresh_token),
        },
      ],
    }
  }
  results.push(
    await againstFloor(pids, 'POST /auth/token (refresh)', '/auth/token', refreshes, listFloor),
  )
  return results
}

/**
 * The no-enumeration claim, timed: failed password grants for unknown usernames and for known
 * users with a wrong password, interleaved so that drift hits both alike. Each known user fails
 * once and each unknown name is new, so no per-username lockout is reached.
 */
async function compareFailures() {
  const times = { unknown: [], known: [] }
  const attempt = async (group, username) => {
    const { body, headers } = tokenForm({
      grant_type: 'password',
      username,
      password: 'not the password',
    })
    const started = performance.now()
    const res = await post('/auth/token', body, headers)
    const answer = `${res.status} ${await res.text()}`
    times[group].push(performance.now() - started)
    return answer
  }
  const answers = new Set()
  for (let i = 0; i < FAILURE_SAMPLES; i++) {
    answers.add(await attempt('unknown', `bench-nobody-${i}`))
    answers.add(await attempt('known', `bench-known-${i}`))
  }
  if (answers.size !== 1)
    throw new Error(`failures were not answered alike: ${[...answers].join(' | ')}`)
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
  return { unknown: mean(times.unknown), known: mean(times.known), answer: [...answers][0] }
}

/**
 * bcrypt per cost factor inside workerd: a tiny Worker (bcryptjs only, not the app) hashes once
 * per request. An isolate runs one request's JavaScript at a time, so a request's wall time minus
 * that of an empty request is the hash's CPU time; the minimum of several is the least disturbed
 * by the other processes sharing the machine, the median shows what a busy machine gives.
 */
async function measureBcrypt() {
  const hasher = `import bcrypt from 'bcryptjs'
export default {
  fetch(request) {
    const cost = Number(new URL(request.url).searchParams.get('cost'))
    if (cost > 0) bcrypt.hashSync('correct horse battery staple', cost)
    return new Response(null, { status: 204 })
  },
}`
  const bcryptjs = readFileSync(fileURLToPath(import.meta.resolve('bcryptjs')), 'utf8')
  const mf = new Miniflare({
    ...isolated,
    port: 0,
    workers: [worker('bcrypt', { 'hasher.js': hasher, bcryptjs })],
  })
  try {
    const timings = async (cost, samples) => {
      const times = []
      for (let i = 0; i <= samples; i++) {
        const started = performance.now()
        await (await mf.dispatchFetch(`http://bench/?cost=${cost}`)).arrayBuffer()
        if (i > 0) times.push(performance.now() - started) // the first of each may take a cold path
      }
      times.sort((a, b) => a - b)
      return { min: times[0], median: times[Math.floor(times.length / 2)] }
    }
    await timings(8, 5) // lets the JIT compile bcrypt's inner loop before anything is timed
    const empty = await timings(0, 21)
    const rows = []
    for (const cost of [4, 5, 6, 7, 8, 9, 10, 11, 12]) {
      const t = await timings(cost, BCRYPT_SAMPLES)
      rows.push({ cost, min: t.min - empty.median, median: t.median - empty.median })
    }
    return rows
  } finally {
    await mf.dispose()
  }
}

/**
 * A CPU profile of the app serving GET /api/todos under load, through workerd's inspector (the
 * Chrome DevTools protocol over a WebSocket: Profiler.start, load, Profiler.stop). Writes
 * .bench/todos.cpuprofile (open it in Chrome DevTools) and prints the frames with the most self
 * time, grouped by function and script.
 */
async function profile(seconds = 8) {
  const { WebSocket } = await import('ws')
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json()
  const target = targets.find((t) => t.title?.includes('todo-auth')) ?? targets[0]
  const ws = new WebSocket(target.webSocketDebuggerUrl)
  await new Promise((ok, fail) => ws.once('open', ok).once('error', fail))
  let id = 0
  const pending = new Map()
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data))
    pending.get(msg.id)?.(msg.result)
    pending.delete(msg.id)
  })
  const send = (method, params = {}) =>
    new Promise((ok) => {
      pending.set(++id, ok)
      ws.send(JSON.stringify({ id, method, params }))
    })
  const reader = await login('bench-reader')
  const headers = { Authorization: `Bearer ${reader.access_token}` }
  await autocannon({ url: `${ORIGIN}/api/todos`, connections: CONNECTIONS, duration: 2, headers })
  await send('Profiler.enable')
  await send('Profiler.setSamplingInterval', { interval: 100 })
  await send('Profiler.start')
  const run = await load('profile', '/api/todos', { headers, duration: seconds })
  const { profile: cpu } = await send('Profiler.stop')
  ws.close()
  writeFileSync(resolve('.bench/todos.cpuprofile'), JSON.stringify(cpu))
  const interval = (cpu.endTime - cpu.startTime) / cpu.samples.length / 1000
  const self = new Map()
  let total = 0
  for (const node of cpu.nodes) {
    const { functionName, url, lineNumber } = node.callFrame
    const where = url ? `${url.split('/').pop()}:${lineNumber + 1}` : ''
    const key = `${functionName || '(anonymous)'} ${where}`.trim()
    const ms = (node.hitCount ?? 0) * interval
    self.set(key, (self.get(key) ?? 0) + ms)
    total += ms
  }
  const perRequest = (x) => (x / run.total).toFixed(4)
  console.log(
    `profile: ${run.total} requests in ${seconds} s, ${total.toFixed(0)} ms sampled, ${perRequest(total)} ms per request`,
  )
  console.log(`${'self ms/req'.padStart(11)} ${'share'.padStart(6)}  frame`)
  for (const [key, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(
      `${perRequest(ms).padStart(11)} ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${key}`,
    )
}

const ms = (x) => x.toFixed(1).padStart(7)
/** The 1-minute load average: other processes on the machine move every figure. */
const loadAverage = () => loadavg()[0].toFixed(2)
const args = process.argv.slice(2)

if (args.includes('--bcrypt')) {
  console.log(
    `bench: bcryptjs in workerd (compatibility_date ${wranglerConfig.compatibility_date}), ${cpus().length} CPUs, load ${loadAverage()}, ${BCRYPT_SAMPLES} hashes per cost`,
  )
  console.log(`cost ${'min ms'.padStart(7)} ${'median'.padStart(7)}`)
  for (const r of await measureBcrypt())
    console.log(`${String(r.cost).padStart(4)} ${ms(r.min)} ${ms(r.median)}`)
} else if (args.includes('--profile')) {
  const mf = await startServer({ inspectorPort: INSPECTOR_PORT })
  try {
    await seed(mf)
    await profile()
  } finally {
    await mf.dispose()
  }
} else if (args.includes('--serve')) {
  const mf = await startServer()
  console.log(
    `bench: serving the production bundle on ${ORIGIN} (demo users alice/wonderland, admin/secret); Ctrl-C stops it`,
  )
  const stop = () => mf.dispose().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
} else {
  const started = performance.now()
  const mf = await startServer()
  try {
    const { kib, gzipKib } = bundleSize(DIST)
    console.log(
      `bench: bundle ${kib.toFixed(1)} KiB (gzip ${gzipKib.toFixed(1)} KiB); ${cpus().length} CPUs, load ${loadAverage()}; node ${process.version}; ${CONNECTIONS} connections, ${DURATION_SECONDS} s per route`,
    )
    await seed(mf)
    const results = await loadRoutes()
    const failures = await compareFailures()
    console.log(
      `\n${'route'.padEnd(40)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'CPU ms'.padStart(7)} ${'floor/s'.padStart(8)} ${'floor CPU'.padStart(9)}  vs floor`,
    )
    for (const r of results)
      console.log(
        `${r.title.padEnd(40)} ${ms(r.rps)} ${ms(r.p50)} ${r.cpu.toFixed(2).padStart(7)} ${ms(r.floorRps).padStart(8)} ${r.floorCpu.toFixed(2).padStart(9)}  ${r.ratio.toFixed(2).padStart(6)}x`,
      )
    console.log(
      `(${ROUNDS} alternating rounds of ${DURATION_SECONDS} s per route and floor, medians; CPU ms: user + system time of workerd per request; vs floor: req/s of the route / req/s of the floor Worker)`,
    )
    console.log(
      `\nfailed password grants, ${FAILURE_SAMPLES} of each, all answered ${failures.answer}`,
    )
    console.log(
      `  unknown user: mean ${failures.unknown.toFixed(1)} ms; known user, wrong password: mean ${failures.known.toFixed(1)} ms; ratio ${(failures.known / failures.unknown).toFixed(3)}`,
    )
    console.log(
      `\nbench: done in ${((performance.now() - started) / 1000).toFixed(0)} s; load ${loadAverage()}`,
    )
  } finally {
    await mf.dispose()
  }
}
