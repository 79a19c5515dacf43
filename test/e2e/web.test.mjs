// End-to-end: the web client at / and the API reference at /docs, in Debian's headless Chromium
// against `npm run dev` (which migrates the local D1 and seeds alice/wonderland).
//
//   npm run test:e2e       (needs /usr/bin/chromium: apt-get install -y chromium)
//   npm run screenshots    the same run, saving docs/img/*.png on the way
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { chromium } from 'playwright-core'
import { devServer } from './dev-server.mjs'

const PORT = 8791
const server = devServer(PORT)
const BASE = server.base
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
const ALICE = { username: 'alice', password: 'wonderland' }

let browser

before(async () => {
  const busy = await fetch(BASE).then(
    () => true,
    () => false,
  )
  if (busy)
    throw new Error(`something already answers on ${BASE}; stop it first, or this would test it`)
  server.start()
  await server.waitForHealth()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
})

after(async () => {
  await browser?.close()
  await server.stop()
})

/** A fresh page that records console errors, uncaught exceptions and failed or refused requests. */
async function openPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } })
  const page = await context.newPage()
  const problems = []
  page.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`))
  page.on('pageerror', (err) => problems.push(`exception: ${err.message}`))
  page.on('requestfailed', (req) =>
    problems.push(`failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`),
  )
  page.on(
    'response',
    (res) =>
      res.status() >= 400 &&
      problems.push(`${res.status()}: ${res.request().method()} ${res.url()}`),
  )
  return { page, problems }
}

async function screenshot(page, name) {
  if (!SCREENSHOT_DIR) return
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png` })
}

/** "Log in" on / goes to the server's login page (code flow + PKCE); alice signs in there. */
async function logIn(page, { beforeSubmit } = {}) {
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(/\/auth\/authorize\?/)
  await page.getByLabel('Username').fill(ALICE.username)
  await page.getByLabel('Password').fill(ALICE.password)
  await beforeSubmit?.()
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Your lists' }).waitFor()
  await page.getByRole('heading', { level: 2, name: 'Todos' }).waitFor()
  assert.equal(new URL(page.url()).search, '', 'the code is gone from the address bar')
  // The username beside the display name, so a lookalike display name cannot pass for alice.
  assert.equal(await page.locator('#account-name').textContent(), 'Alice Sharpe (alice)')
}

test('alice logs in through the login page, adds and completes a todo, reloads, is let back in, logs out', async () => {
  const { page, problems } = await openPage()
  await page.goto(`${BASE}/`)
  assert.equal(await page.getByLabel('Password').count(), 0, 'no password field on /')
  await logIn(page, { beforeSubmit: () => screenshot(page, 'login') })

  const title = `Water the plants · ${Date.now().toString(36).slice(-4)}`
  await page.getByLabel('New todo').fill(title)
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  const box = page.getByRole('checkbox', { name: title })
  await box.check()
  await page.locator('li.done', { hasText: title }).waitFor()

  // Tokens live in memory only: a reload forgets them, and nothing was stored anywhere.
  await page.reload()
  await page.getByRole('heading', { name: 'Log in' }).waitFor()
  assert.equal(await page.getByRole('heading', { name: 'Your lists' }).count(), 0)
  assert.deepEqual(
    await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]),
    [0, 0, ''],
  )
  // The server's sign-in cookie (HttpOnly) lets "Log in" through without the password.
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Your lists' }).waitFor()
  assert.equal(await box.isChecked(), true)

  await page.getByRole('button', { name: `Delete “${title}”` }).click()
  await box.waitFor({ state: 'detached' })
  const logout = page.waitForResponse((res) => res.url() === `${BASE}/auth/logout`)
  await page.getByRole('button', { name: 'Log out' }).click()
  assert.equal((await logout).status(), 204)
  await page.getByRole('heading', { name: 'Log in' }).waitFor()
  // Logging out ended the sign-in too: the password is asked again.
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByLabel('Password').waitFor()
  assert.deepEqual(problems, [])
  await page.context().close()
})

test('the client refreshes its access token before it expires, and after a 401', async () => {
  const { page } = await openPage()
  await page.clock.install()
  await page.goto(`${BASE}/`)
  await logIn(page)
  const refreshed = () =>
    page.waitForResponse(
      (res) =>
        res.url() === `${BASE}/auth/token` &&
        res.request().postData()?.includes('grant_type=refresh_token'),
    )

  // The access token lives 900 s; the client renews it a minute early.
  const early = refreshed()
  await page.clock.runFor(841_000)
  assert.equal((await early).status(), 200)

  // A 401 (here: the next todo added, answered as if the token had expired) refreshes and retries.
  let answered = false
  await page.route(`${BASE}/api/lists/*/todos`, (route) => {
    if (answered || route.request().method() !== 'POST') return route.continue()
    answered = true
    return route.fulfill({
      status: 401,
      contentType: 'application/json',
      body: '{"error":"invalid_token","error_description":"expired"}',
    })
  })
  const afterUnauthorized = refreshed()
  const title = `After a 401 ${Date.now()}`
  await page.getByLabel('New todo').fill(title)
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  assert.equal((await afterUnauthorized).status(), 200)
  await page.getByRole('checkbox', { name: title }).waitFor()
  await page.getByRole('button', { name: `Delete “${title}”` }).click()
  await page.getByRole('checkbox', { name: title }).waitFor({ state: 'detached' })
  await page.context().close()
})

test('/docs loads from this origin alone, and Authorize logs in for "Try it out"', async () => {
  const { page, problems } = await openPage()
  await page.goto(`${BASE}/docs`)
  await page.locator('.opblock-tag-section').first().waitFor()
  await page.getByRole('button', { name: 'Authorize' }).first().waitFor()
  await screenshot(page, 'docs')

  await page.getByRole('button', { name: 'Authorize' }).first().click()
  const modal = page.locator('.modal-ux')
  await modal.locator('#oauth_username').fill(ALICE.username)
  await modal.locator('#oauth_password').fill(ALICE.password)
  const token = page.waitForResponse(`${BASE}/auth/token`)
  await modal.getByRole('button', { name: 'Apply given OAuth2 credentials' }).click()
  assert.equal((await token).status(), 200)
  await modal.getByRole('button', { name: 'Close' }).first().click()

  const list = page.locator('#operations-todos-listTodos')
  await list.locator('.opblock-summary').click()
  const todos = page.waitForResponse(
    (res) => res.url().startsWith(`${BASE}/api/todos`) && res.request().method() === 'GET',
  )
  await list.getByRole('button', { name: 'Execute' }).click()
  const res = await todos
  assert.equal(res.status(), 200)
  assert.match((await res.request().allHeaders()).authorization ?? '', /^Bearer ey/)
  assert.deepEqual(problems, [])
  await page.context().close()
})
