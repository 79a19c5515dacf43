// End-to-end: the account page, passkeys and the pages people trust, in Debian's headless
// Chromium against `npm run dev`, with Chrome's virtual authenticator (CDP WebAuthn domain) as the
// passkey and axe-core checking each page. Passkeys need a domain name as RP ID, so the server
// runs with ISSUER=http://localhost:8794 and is reached as localhost (docs/web.md).
//
//   npm run test:e2e       (needs /usr/bin/chromium: apt-get install -y chromium)
//   npm run screenshots    the same run, saving docs/img/*.png on the way
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { chromium } from 'playwright-core'
import { devServer } from './dev-server.mjs'

const PORT = 8794
const BASE = `http://localhost:${PORT}`
const state = mkdtempSync(join(tmpdir(), 'todo-auth-account-'))
const server = devServer(PORT, ['--persist-to', state, '--var', `ISSUER:${BASE}`])
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
)
const PHONE = { width: 390, height: 844 }

let browser

before(async () => {
  const busy = await fetch(`${BASE}/healthz`).then(
    () => true,
    () => false,
  )
  if (busy) throw new Error(`something already answers on ${BASE}; stop it first`)
  server.start()
  await server.waitForHealth()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
  })
})

after(async () => {
  await browser?.close()
  await server.stop()
  rmSync(state, { recursive: true, force: true })
})

let users = 0
/** A new account, through self-registration (on under `npm run dev`). */
async function newUser(name = 'Ada Lovelace') {
  const user = {
    username: `e2e${Date.now().toString(36)}${users++}`,
    password: 'a passphrase for the test',
  }
  const res = await fetch(`${BASE}/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...user, name }),
  })
  assert.equal(res.status, 201, await res.text())
  return user
}

/**
 * A phone-sized page with a virtual platform authenticator (discoverable credentials, user
 * verification) that answers every ceremony by itself. `autofill: false` makes the page believe
 * the browser has no passkey autofill (conditional mediation), which the virtual authenticator
 * would otherwise answer on arrival: the button is then the only way, as in many browsers.
 */
async function openPage({ authenticator = true, autofill = true } = {}) {
  const context = await browser.newContext({ viewport: PHONE })
  const page = await context.newPage()
  const problems = []
  page.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`))
  page.on('pageerror', (err) => problems.push(`exception: ${err.message}`))
  if (!autofill)
    await page.addInitScript(() => {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false
    })
  let authenticatorId
  let cdp
  if (authenticator) {
    cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    ;({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }))
  }
  const credentials = async () =>
    (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials
  const presence = (enabled) =>
    cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled })
  return { page, problems, credentials, presence, close: () => context.close() }
}

async function screenshot(page, name, fullPage = false) {
  if (!SCREENSHOT_DIR) return
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png`, fullPage })
}

/**
 * The page passes axe-core (WCAG 2.x A and AA rules) with no serious or critical violation, fits
 * 390 px without scrolling sideways, and every control has an accessible name. axe is put in
 * through the DevTools protocol (page.evaluate), which the page's CSP does not govern, so the
 * page is checked under its real policy.
 */
async function checkAccessible(page, what) {
  // Not page.addScriptTag: it adds an inline <script>, which the pages' CSP refuses (and reports).
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE)
  const { violations } = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }),
  )
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  assert.deepEqual(bad, [], `${what}: axe`)
  const wide = await page.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(wide <= PHONE.width, `${what}: ${wide} px wide at ${PHONE.width} px`)
}

/** Signs in on /account with the password. */
async function passwordSignIn(page, user) {
  await page.goto(`${BASE}/account`)
  await page.getByLabel('Username').fill(user.username)
  await page.getByLabel('Password').fill(user.password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Your account' }).waitFor()
}

/** Adds a passkey from the account page (signed in just now, so the sign-in is fresh). */
async function addPasskey(page, name) {
  await page.getByLabel('Name for the new passkey').fill(name)
  await page.getByRole('button', { name: 'Add a passkey' }).click()
  await page.getByText('The passkey is added.').waitFor()
}

test('a person adds a passkey, signs in with it, renames and removes it; removed, it no longer signs in', async () => {
  const user = await newUser()
  const { page, problems, credentials, close } = await openPage({ autofill: false })
  await page.goto(`${BASE}/account`)
  await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor()
  await checkAccessible(page, 'the login page of /account')
  await passwordSignIn(page, user)
  await addPasskey(page, 'Laptop')
  assert.equal((await credentials()).length, 1)
  await checkAccessible(page, 'the account page')

  await page.getByRole('button', { name: 'Sign out of this browser' }).click()
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await page.getByRole('heading', { name: 'Your account' }).waitFor()
  await page.getByText('with the passkey “Laptop”').waitFor()

  await page.getByRole('textbox', { name: 'New name' }).fill('Work laptop')
  await page.getByRole('button', { name: 'Rename Laptop' }).click()
  await page.getByText('The passkey is renamed.').waitFor()
  // Signed in with that passkey a moment ago: fresh enough to remove it. Its sign-in ends too.
  await page.getByRole('button', { name: 'Remove Work laptop' }).click()
  await page.getByRole('heading', { name: 'Log in' }).waitFor()

  // The authenticator still holds the credential; the server no longer takes it (a 400 page).
  assert.equal((await credentials()).length, 1)
  assert.deepEqual(problems, [])
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await page.getByText('That passkey did not sign you in').waitFor()
  assert.deepEqual(problems, [
    'console: Failed to load resource: the server responded with a status of 400 (Bad Request)',
  ])
  await close()
})

test('the web app’s login page signs in with a passkey from the username field’s autofill', async () => {
  const user = await newUser()
  const { page, problems, presence, close } = await openPage()
  await passwordSignIn(page, user)
  await addPasskey(page, 'Phone')
  // The login page the sign-out leads to would take the passkey from its autofill at once.
  await presence(false)
  await page.getByRole('button', { name: 'Sign out of this browser' }).click()
  await page.getByRole('heading', { name: 'Log in' }).waitFor()
  await presence(true)

  // A browser without the passkey, to show the page as it first looks.
  const bare = await openPage({ authenticator: false, autofill: false })
  await bare.page.goto(`${BASE}/`)
  await bare.page.getByRole('button', { name: 'Log in' }).click()
  await bare.page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor()
  await checkAccessible(bare.page, 'the login page of the code flow')
  await screenshot(bare.page, 'login-passkey')
  await bare.close()

  // With the passkey, the autofill answers by itself (the virtual authenticator picks it).
  await page.goto(`${BASE}/`)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Your lists' }).waitFor()
  await page.goto(`${BASE}/account`)
  await page.getByText('with the passkey “Phone”').waitFor()
  assert.deepEqual(problems, [])
  await close()
})

test('ending another session from the account page kills its token at the next request', async () => {
  const user = await newUser()
  const login = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    headers: { 'User-Agent': 'curl/8.5.0' },
    body: new URLSearchParams({ grant_type: 'password', ...user }),
  })
  assert.equal(login.status, 200)
  const { access_token } = await login.json()
  const todos = () =>
    fetch(`${BASE}/api/todos`, { headers: { Authorization: `Bearer ${access_token}` } })
  assert.equal((await todos()).status, 200)

  const { page, problems, close } = await openPage({ authenticator: false })
  await passwordSignIn(page, user)
  const session = page.locator('li', { hasText: 'A password login without an app' })
  await session.getByText('curl from 127.0.0.0/24').waitFor()
  await session.getByRole('button', { name: /^Sign out A password login/ }).click()
  await page.getByText('That session is ended').waitFor()
  assert.equal((await todos()).status, 401)
  assert.deepEqual(problems, [])
  await close()
})

test('the consent page is keyboard-safe, and withdrawing the app ends its refresh token', async () => {
  const user = await newUser()
  // The app's redirect URI: a listener of this test on loopback (RFC 8252 §7.3), which says "back".
  const app = createServer((_req, res) => res.end('back'))
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve))
  const redirect = `http://127.0.0.1:${app.address().port}/cb`
  const registered = await fetch(`${BASE}/auth/clients`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: 'Planner Pro', redirect_uris: [redirect] }),
  })
  assert.equal(registered.status, 201, await registered.clone().text())
  const { client_id } = await registered.json()
  const verifier = 'e2e-verifier-0123456789-abcdefghijklmnopqrstuvwxyz'
  const challenge = Buffer.from(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)),
  ).toString('base64url')

  const { page, problems, close } = await openPage({ autofill: false })
  await passwordSignIn(page, user)
  await addPasskey(page, 'Laptop')
  const query = new URLSearchParams({
    response_type: 'code',
    client_id,
    redirect_uri: redirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'e2e',
    scope: 'read write',
  })
  await page.goto(`${BASE}/auth/authorize?${query}`)
  await page.getByRole('heading', { name: /Allow Planner Pro/ }).waitFor()
  await checkAccessible(page, 'the consent page')
  await screenshot(page, 'consent')
  // Enter on arrival allows nothing: nothing is focused.
  await page.keyboard.press('Enter')
  assert.match(page.url(), /\/auth\/authorize\?/)
  // The keyboard reaches Deny before Allow.
  const order = []
  for (let i = 0; i < 12 && order.length < 2; i++) {
    await page.keyboard.press('Tab')
    const name = await page.evaluate(() => document.activeElement?.textContent?.trim())
    if (name === 'Deny' || name === 'Allow') order.push(name)
  }
  assert.deepEqual(order, ['Deny', 'Allow'])
  await page.keyboard.press('Enter') // on Allow
  await page.waitForURL(`${redirect}?**`)
  const code = new URL(page.url()).searchParams.get('code')
  const token = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirect,
      client_id,
      code_verifier: verifier,
    }),
  })
  assert.equal(token.status, 200)
  const { refresh_token } = await token.json()

  await page.goto(`${BASE}/account`)
  await page.getByRole('button', { name: 'Withdraw access of Planner Pro' }).waitFor()
  await checkAccessible(page, 'the account page with an app')
  await screenshot(page, 'account', true)
  await page.getByRole('button', { name: 'Withdraw access of Planner Pro' }).click()
  await page.getByText('The app’s access is withdrawn').waitFor()
  const refreshed = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token, client_id }),
  })
  assert.equal(refreshed.status, 400)
  assert.equal((await refreshed.json()).error, 'invalid_grant')
  assert.deepEqual(problems, [])
  await close()
  app.close()
})

test('the device page is approved with a passkey, and says so as a success', async () => {
  const user = await newUser()
  const started = await fetch(`${BASE}/auth/device_authorization`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: 'todo-cli' }),
  })
  assert.equal(started.status, 200)
  const { device_code, user_code } = await started.json()

  const { page, problems, close } = await openPage({ autofill: false })
  await passwordSignIn(page, user)
  await addPasskey(page, 'Phone')
  await page.getByRole('button', { name: 'Sign out of this browser' }).click()

  await page.goto(`${BASE}/device?user_code=${user_code}`)
  await checkAccessible(page, 'the device code page')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
  await page.getByRole('heading', { name: /on a device as/ }).waitFor()
  await checkAccessible(page, 'the device approval page')
  await screenshot(page, 'device')
  // Deny is focused: Enter would deny. Allow is chosen on purpose.
  assert.equal(await page.evaluate(() => document.activeElement?.textContent?.trim()), 'Deny')
  await page.getByRole('button', { name: 'Allow' }).click()
  const done = page.getByRole('status')
  await done.waitFor()
  assert.match(await done.textContent(), /is signed in/)
  assert.equal(await done.getAttribute('class'), 'notice success')
  await checkAccessible(page, 'the device done page')

  const poll = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code,
      client_id: 'todo-cli',
    }),
  })
  assert.equal(poll.status, 200)
  assert.deepEqual(problems, [])
  await close()
})
