#!/usr/bin/env node
// `npm run bench`: the production bundle served by workerd through Miniflare's API, with a fresh
// local D1 under .bench/, loaded with autocannon over loopback. No wrangler dev proxy in the path:
// on this 2-core machine it halves the requests per second (docs/performance.md).
//
//   npm run bench               build, migrate, seed, load every route, compare login failures
//   npm run bench -- --serve    build, migrate, seed the demo users, serve on BENCH_PORT and wait
//   npm run bench -- --bcrypt   bcrypt's cost per cost factor, measured in workerd
//
// Figures and how to read them: docs/performance.md.
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
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

const PORT = Number(process.env.BENCH_PORT ?? 8788)
const ORIGIN = `http://127.0.0.1:${PORT}`
const DIST = resolve('.bench/dist')
const STATE = resolve('.bench/state')
/** Production's cost, whatever wrangler.toml says today: the bench must pay what users pay. */
const BCRYPT_COST = 10
/** Per route, with 10 connections: five routes keep the whole run well under three minutes. */
const DURATION_SECONDS = 10
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

/** Builds, migrates and seeds a fresh D1, then serves the bundle with production settings. */
async function startServer() {
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
    // The layout `wrangler d1 … --persist-to .bench/state` writes, so both see the same database.
    resourcePersistencePath: resolve(STATE, 'v3'),
    workers: [
      worker('todo-auth', { 'index.js': readFileSync(resolve(DIST, 'index.js'), 'utf8') }, env),
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
    await createTodo(db, ids['bench-reader'], {
      title: `Todo number ${i}`,
      description: 'A description of moderate length.',
      completed: i % 2 === 1,
    })
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
  return { title, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 }
}

async function loadRoutes() {
  const reader = await login('bench-reader')
  const writer = await login('bench-writer')
  const auth = (t) => ({ Authorization: `Bearer ${t.access_token}` })
  // Unmeasured: a fresh isolate first compiles the app and warms D1's page cache.
  await autocannon({
    url: `${ORIGIN}/api/todos`,
    connections: CONNECTIONS,
    duration: 3,
    headers: auth(reader),
  })
  const results = []
  results.push(
    await load(`GET /api/todos (${TODOS_LISTED} todos)`, '/api/todos', { headers: auth(reader) }),
  )
  results.push(
    await load('POST /api/todos', '/api/todos', {
      method: 'POST',
      headers: { ...auth(writer), 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Benchmark todo', description: 'Created under load.' }),
    }),
  )
  results.push(
    await load('GET /profile (Basic, same credentials)', '/profile', {
      headers: { Authorization: `Basic ${btoa(`bench-reader:${PASSWORD}`)}` },
    }),
  )
  let next = 0
  results.push(
    await load('POST /auth/token (password)', '/auth/token', {
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
    }),
  )

  // Each refresh token works once, so every connection keeps a rotation chain going: a request
  // takes a live token from the pool and its response puts the successor back.
  const pool = await Promise.all(loginNames.map((name) => login(name).then((t) => t.refresh_token)))
  results.push(
    await load('POST /auth/token (refresh)', '/auth/token', {
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
    }),
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
    const baseline = results[0].rps
    console.log(
      `\n${'route'.padEnd(40)} ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}  cost vs list`,
    )
    for (const r of results)
      console.log(
        `${r.title.padEnd(40)} ${ms(r.rps)} ${ms(r.p50)} ${ms(r.p99)}  ${(baseline / r.rps).toFixed(1).padStart(6)}x`,
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
