// End-to-end: "Continue with" an upstream OpenID provider that nobody here wrote, node-oidc-provider
// (its dev login and consent pages), started by this test on loopback beside `npm run dev`, which
// allows loopback http issuers (ALLOW_INSECURE_IDP). Headless Chromium starts at the web client,
// signs in through the provider, and lands on the todo list of a new local user.
//
//   npm run test:e2e       (needs /usr/bin/chromium)
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, test } from 'node:test'
import Provider from 'oidc-provider'
import { chromium } from 'playwright-core'
import { devServer } from './dev-server.mjs'

const PORT = 8793
const server = devServer(PORT)
const BASE = server.base
const IDP_PORT = 8797
const IDP = `http://127.0.0.1:${IDP_PORT}`
// Each run makes its own provider (the local D1 persists between runs) and deletes it at the end.
const PROVIDER_ID = `e2e-${randomBytes(4).toString('hex')}`
const CLIENT = { client_id: 'todo-auth', client_secret: randomBytes(24).toString('base64url') }
const ADMIN = { username: 'admin', password: 'secret' } // seeded by npm run dev

let idp
let browser
let adminToken

/** node-oidc-provider with one client, todo-auth; any login name is an account. */
function startProvider() {
  const provider = new Provider(IDP, {
    clients: [
      {
        ...CLIENT,
        redirect_uris: [`${BASE}/auth/federate/${PROVIDER_ID}/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username'],
    },
    // The email and username in the ID token itself, which is all todo-auth reads.
    conformIdTokenClaims: false,
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
    },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: `${id}@example.com`,
          email_verified: true,
          preferred_username: id,
        }),
      }
    },
  })
  return new Promise((resolve) => {
    const http = provider.listen(IDP_PORT, '127.0.0.1', () => resolve(http))
  })
}

const api = async (path, init = {}) => {
  const res = await fetch(`${BASE}${path}`, {
    ...init,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
  })
  return { status: res.status, body: res.status === 204 ? null : await res.json() }
}

before(async () => {
  for (const url of [BASE, IDP]) {
    const busy = await fetch(url).then(
      () => true,
      () => false,
    )
    if (busy) throw new Error(`something already answers on ${url}; stop it first`)
  }
  idp = await startProvider()
  server.start()
  await server.waitForHealth()
  const token = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', ...ADMIN }),
  })
  assert.equal(token.status, 200, 'the seeded admin logs in')
  adminToken = (await token.json()).access_token
  const created = await api('/admin/identity-providers', {
    method: 'POST',
    body: JSON.stringify({
      id: PROVIDER_ID,
      name: 'Local OIDC',
      issuer: IDP,
      ...CLIENT,
      allow_signup: true,
    }),
  })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  assert.equal(created.body.redirect_uri, `${BASE}/auth/federate/${PROVIDER_ID}/callback`)
  assert.equal('client_secret' in created.body, false)
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
  })
})

after(async () => {
  await browser?.close()
  if (adminToken) await api(`/admin/identity-providers/${PROVIDER_ID}`, { method: 'DELETE' })
  await server.stop()
  await new Promise((resolve) => (idp ? idp.close(resolve) : resolve()))
})

test('"Continue with" node-oidc-provider creates and signs in a new user, who sees their todos', async () => {
  const context = await browser.newContext()
  // The provider's dev pages import a web font; nothing here reaches the Internet.
  await context.route(/^https:\/\//, (route) => route.abort())
  const page = await context.newPage()
  const login = `fed${randomBytes(4).toString('hex')}`

  await page.goto(`${BASE}/`)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(/\/auth\/authorize\?/)
  await page.getByRole('link', { name: 'Continue with Local OIDC' }).click()

  // node-oidc-provider's own pages: any login, then consent.
  await page.waitForURL(`${IDP}/**`, { waitUntil: 'commit' })
  await page.locator('input[name="login"]').fill(login)
  await page.locator('input[name="password"]').fill('anything')
  await page.getByRole('button', { name: 'Sign-in' }).click()
  await page.getByRole('button', { name: 'Continue' }).click()

  await page.getByRole('heading', { name: 'Your lists' }).waitFor()
  await page.getByRole('heading', { level: 2, name: 'Todos' }).waitFor()
  assert.equal(new URL(page.url()).origin, BASE)

  const title = `Federated · ${login}`
  await page.getByLabel('New todo').fill(title)
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await page.getByRole('checkbox', { name: title }).waitFor()

  // A new local user, created and signed in through the provider.
  const trail = await api(`/admin/audit?username=${login}`)
  const events = trail.body.map((e) => e.event).sort()
  assert.deepEqual(events, ['code_exchange', 'federated_login', 'user_created'])
  await context.close()
})
