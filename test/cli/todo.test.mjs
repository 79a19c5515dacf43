// The todo CLI (scripts/todo.mjs) against a real local server: `wrangler dev` on its own state
// directory and port, seeded as `npm run dev` seeds it (scripts/local-db.mjs: alice, todo-cli).
// The person's side of each login (the verification page, the login and consent forms) is done
// by this test over HTTP, as a browser would send it. Steps build on each other, like a session.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { setupLocalDatabase } from '../../scripts/local-db.mjs'

const require = createRequire(import.meta.url)
const WRANGLER = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js')
const STATE = mkdtempSync(join(tmpdir(), 'todo-auth-todo-cli-'))
const CONFIG = mkdtempSync(join(tmpdir(), 'todo-auth-todo-config-'))
const TOKENS = join(CONFIG, 'todo-auth', 'tokens.json')
const ALICE = { username: 'alice', password: 'wonderland' }

let server
let output = ''
let BASE

/** A port nobody listens on now. */
const freePort = () =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })

/** Runs `npm run todo -- ...args` (minus npm); `onOutput` sees stdout as it comes. */
function todo(args, onOutput = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/todo.mjs', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // BROWSER=true: the "browser" the CLI opens does nothing; this test is the browser.
      env: { ...process.env, XDG_CONFIG_HOME: CONFIG, TODO_AUTH_SERVER: BASE, BROWSER: 'true' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s) => {
      stdout += s
      onOutput(stdout)
    })
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const ok = (res) => assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`)

/** Resolves to the first match of `pattern` in the CLI's output so far. */
function waitFor(pattern) {
  let found
  const promise = new Promise((resolve) => (found = resolve))
  return {
    promise,
    onOutput: (stdout) => {
      const m = stdout.match(pattern)
      if (m) found(m)
    },
  }
}

/** A browser: one cookie jar (the sign-in cookie), forms sent from our own origin. */
class Browser {
  cookie = ''
  async get(url) {
    return this.keep(await fetch(url, { headers: this.headers(), redirect: 'manual' }))
  }
  async post(path, fields) {
    return this.keep(
      await fetch(`${BASE}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          ...this.headers(),
          Origin: BASE,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(fields).toString(),
      }),
    )
  }
  headers() {
    return this.cookie ? { Cookie: this.cookie } : {}
  }
  keep(res) {
    const set = res.headers.get('Set-Cookie')
    if (set) this.cookie = set.split(';')[0]
    return res
  }
}

const requestToken = (html) => {
  const m = html.match(/name="request" value="([^"]+)"/)
  assert.ok(m, html.slice(0, 400))
  return m[1]
}

const savedTokens = () => JSON.parse(readFileSync(TOKENS, 'utf8'))

before(async () => {
  await setupLocalDatabase({ persistTo: STATE })
  const port = await freePort()
  BASE = `http://127.0.0.1:${port}`
  server = spawn(
    process.execPath,
    [
      WRANGLER,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--persist-to',
      STATE,
      '--var',
      `ISSUER:${BASE}`,
      '--var',
      'JWT_SECRET:todo-cli-test-secret-0123456789abcdef0123456789',
    ],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    },
  )
  for (const stream of [server.stdout, server.stderr]) stream.on('data', (s) => (output += s))
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`)
    if (
      await fetch(`${BASE}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return
    await sleep(300)
  }
  throw new Error(`wrangler dev did not answer:\n${output}`)
})

after(async () => {
  if (server?.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve))
    process.kill(-server.pid, 'SIGTERM')
    await Promise.race([exited, sleep(10_000)])
  }
  rmSync(STATE, { recursive: true, force: true })
  rmSync(CONFIG, { recursive: true, force: true })
})

describe('npm run todo', () => {
  it('refuses to work before a login', async () => {
    const res = await todo(['list'])
    assert.equal(res.code, 1)
    assert.match(res.stderr, /not logged in/)
  })

  it('logs in with the device flow, once the person enters the code and allows it', async () => {
    const code = waitFor(/enter the code ([A-Z]{4}-[A-Z]{4})/)
    const login = todo(['login', '--device'], code.onOutput)
    const [, userCode] = await code.promise
    const browser = new Browser()
    const page = await browser.get(`${BASE}/device`)
    const codeStep = await browser.post('/device/code', {
      request: requestToken(await page.text()),
      user_code: userCode.toLowerCase(),
    })
    const loginStep = await browser.post('/device/login', {
      request: requestToken(await codeStep.text()),
      ...ALICE,
    })
    const consent = await loginStep.text()
    assert.match(consent, /todo CLI/)
    const done = await browser.post('/device/decision', {
      request: requestToken(consent),
      decision: 'allow',
    })
    assert.match(await done.text(), /Device connected/)
    const res = await login
    ok(res)
    assert.match(res.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+ \(scope read write\)/)
    // Only the user may read the tokens.
    assert.equal(statSync(TOKENS).mode & 0o777, 0o600)
    assert.equal(statSync(dirname(TOKENS)).mode & 0o777, 0o700)
  })

  it('adds, lists and completes todos', async () => {
    assert.match((await todo(['list'])).stdout, /No todos\./)
    const added = await todo(['add', 'Buy milk'])
    ok(added)
    const id = added.stdout.match(/\(([\w-]+)\)/)[1]
    assert.match((await todo(['list'])).stdout, new RegExp(`\\[ \\] Buy milk  \\(${id}\\)`))
    ok(await todo(['done', id]))
    assert.match((await todo(['list'])).stdout, /\[x\] Buy milk/)
  })

  it('refreshes an expired access token by rotation', async () => {
    const before = savedTokens()
    writeFileSync(TOKENS, JSON.stringify({ ...before, expires_at: 0 }), { mode: 0o600 })
    ok(await todo(['list']))
    const after = savedTokens()
    assert.notEqual(after.refresh_token, before.refresh_token)
    assert.notEqual(after.access_token, before.access_token)
    // The old refresh token was rotated away: presenting it again is reuse.
    const replay = await fetch(`${BASE}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: before.refresh_token,
        client_id: 'todo-cli',
      }).toString(),
    })
    assert.equal(replay.status, 400)
  })

  it('logs in with the browser on a loopback redirect, and logout revokes the login', async () => {
    // The replay above ended that session (RFC 9700 §4.14): log in again, in the browser.
    const url = waitFor(/visit:\n(\S+)/)
    const login = todo(['login', '--browser'], url.onOutput)
    const [, authorizeUrl] = await url.promise
    const asked = new URL(authorizeUrl)
    assert.equal(asked.searchParams.get('code_challenge_method'), 'S256')
    assert.match(asked.searchParams.get('redirect_uri'), /^http:\/\/127\.0\.0\.1:\d+\/callback$/)
    const browser = new Browser()
    const loginPage = await browser.get(authorizeUrl)
    const consentPage = await browser.post('/auth/authorize/login', {
      request: requestToken(await loginPage.text()),
      ...ALICE,
    })
    const back = await browser.post('/auth/authorize/consent', {
      request: requestToken(await consentPage.text()),
      decision: 'allow',
    })
    assert.equal(back.status, 303)
    const callback = await fetch(back.headers.get('Location'))
    assert.equal(callback.status, 200)
    ok(await login)
    assert.match((await todo(['list'])).stdout, /\[x\] Buy milk/)

    const { refresh_token } = savedTokens()
    const out = await todo(['logout'])
    ok(out)
    assert.match(out.stdout, /Logged out\./)
    assert.throws(() => statSync(TOKENS))
    const revoked = await fetch(`${BASE}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token,
        client_id: 'todo-cli',
      }).toString(),
    })
    assert.equal(revoked.status, 400)
  })

  it('explains its usage', async () => {
    const res = await todo(['done'])
    assert.equal(res.code, 2)
    assert.match(res.stderr, /done needs a todo id/)
  })
})
