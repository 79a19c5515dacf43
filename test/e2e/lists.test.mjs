// End-to-end: the web client's lists, sharing and teams, in Debian's headless Chromium against
// `npm run dev` on a D1 of its own (--persist-to a fresh directory, so the names below are free
// and the screenshots show nothing else). Users log in the way the web client does: "Log in" on /
// goes to the server's login page (authorization code flow + PKCE, client todo-web).
//
//   node --test test/e2e/lists.test.mjs     (needs /usr/bin/chromium)
//   SCREENSHOT_DIR=docs/img …               also saves the pictures of docs/web.md
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { chromium } from 'playwright-core'
import { devServer } from './dev-server.mjs'

const PORT = 8795
const state = mkdtempSync(join(tmpdir(), 'todo-auth-lists-'))
const server = devServer(PORT, ['--persist-to', state])
const BASE = server.base
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
const PASSWORD = 'a long enough password'
const ALICE = { username: 'alice', password: 'wonderland' }
const DESKTOP = { width: 1100, height: 800 }
const PHONE = { width: 390, height: 844 }

let browser
let adminToken

before(async () => {
  const busy = await fetch(BASE).then(
    () => true,
    () => false,
  )
  if (busy) throw new Error(`something already answers on ${BASE}; stop it first`)
  server.start()
  await server.waitForHealth()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  })
  adminToken = (await token({ username: 'admin', password: 'secret' })).access_token
})

after(async () => {
  await browser?.close()
  await server.stop()
  rmSync(state, { recursive: true, force: true })
})

/** A password-grant token, for setting things up through the API rather than the page. */
async function token({ username, password }) {
  const res = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({ username, password }),
  })
  assert.equal(res.status, 200)
  return res.json()
}

async function call(bearer, method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  })
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`)
  return res.status === 204 ? null : res.json()
}

/** A user made through the admin API. */
async function newUser(username, name) {
  const user = await call(adminToken, 'POST', '/users', { username, name, password: PASSWORD })
  return { ...user, password: PASSWORD }
}

/**
 * A fresh browser context and page that records console errors, uncaught exceptions and 4xx/5xx
 * answers; `expected` (a RegExp of URLs) excuses answers a test provokes on purpose.
 */
async function openPage({ viewport = DESKTOP, expected, bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport, bypassCSP })
  const page = await context.newPage()
  const problems = []
  page.on('console', (msg) => {
    // Chromium reports every 4xx of fetch() on the console too; those are judged below.
    if (msg.type() === 'error' && !/status of \d{3}/.test(msg.text()))
      problems.push(`console: ${msg.text()}`)
  })
  page.on('pageerror', (err) => problems.push(`exception: ${err.message}`))
  page.on('response', (res) => {
    if (res.status() >= 400 && !expected?.test(res.url()))
      problems.push(`${res.status()}: ${res.request().method()} ${res.url()}`)
  })
  return { page, problems }
}

async function screenshot(page, name, options = {}) {
  if (!SCREENSHOT_DIR) return
  mkdirSync(SCREENSHOT_DIR, { recursive: true })
  await page.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png`, ...options })
}

/** "Log in" on / goes to the server's login page; the user signs in there and is back on /. */
async function logIn(page, { username, password }) {
  await page.goto(`${BASE}/`)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(/\/auth\/authorize\?/)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Your lists' }).waitFor()
  await page.locator('#view-heading').waitFor()
  assert.equal(new URL(page.url()).search, '', 'the code is gone from the address bar')
}

const navLink = (page, name) =>
  page.getByRole('navigation', { name: 'Lists and teams' }).getByRole('link', { name, exact: true })

async function openList(page, name) {
  await navLink(page, name).click()
  await page.getByRole('heading', { level: 2, name, exact: true }).waitFor()
}

/** The list's todo titles as shown, in order. */
const titles = (page) => page.locator('.todos label').allTextContents()

test('alice shares a list by username; bob and carol see it with her name and their role', async () => {
  const bob = await newUser('bob', 'Bob Stone')
  const carol = await newUser('carol', 'Carol Diaz')

  const alice = await openPage({ expected: /\/members\/users$/ })
  const a = alice.page
  await logIn(a, ALICE)
  await a.getByRole('textbox', { name: 'New list' }).fill('Groceries')
  await a.getByRole('button', { name: 'Create', exact: true }).click()
  await a.getByRole('heading', { level: 2, name: 'Groceries' }).waitFor()
  await a.getByText('Created the list “Groceries”.').waitFor()
  for (const title of ['Oat milk', 'Bread', 'Apples']) {
    await a.getByRole('textbox', { name: 'New todo' }).fill(title)
    await a.getByRole('button', { name: 'Add', exact: true }).click()
    await a.getByRole('checkbox', { name: title }).waitFor()
  }
  await a.getByRole('checkbox', { name: 'Bread' }).check()
  await a.locator('li.done', { hasText: 'Bread' }).waitFor()

  // Sharing names people by username; nobody's id appears anywhere on the page.
  const share = a.getByRole('form', { name: 'Share Groceries with a person' })
  await share.getByRole('textbox', { name: 'Username' }).fill('bob')
  await share.getByRole('combobox', { name: 'Role' }).selectOption('editor')
  await share.getByRole('button', { name: 'Share' }).click()
  await a.getByRole('status').getByText('Shared “Groceries” with bob as editor.').waitFor()

  // An unknown username: the form says so, in its own alert, and nothing says "done".
  await share.getByRole('textbox', { name: 'Username' }).fill('bbo')
  await share.getByRole('button', { name: 'Share' }).click()
  await share.getByRole('alert').getByText('No such user.').waitFor()
  assert.equal(await a.locator('#status').textContent(), '')
  assert.equal(await share.getByRole('textbox', { name: 'Username' }).inputValue(), 'bbo')
  assert.equal(
    await share.getByRole('textbox', { name: 'Username' }).getAttribute('aria-invalid'),
    'true',
  )

  await share.getByRole('textbox', { name: 'Username' }).fill('Carol')
  await share.getByRole('combobox', { name: 'Role' }).selectOption('viewer')
  await share.getByRole('button', { name: 'Share' }).click()
  await a.getByRole('status').getByText('Shared “Groceries” with carol as viewer.').waitFor()
  const sharing = a.getByRole('region', { name: 'Sharing' })
  assert.deepEqual(await sharing.locator('.members li .who').allTextContents(), ['bob', 'carol'])
  assert.deepEqual(await sharing.locator('.members li .role').allTextContents(), [
    'editor',
    'viewer',
  ])
  const text = await a.locator('body').textContent()
  assert.doesNotMatch(text, /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no UUID in the text of the page')
  await screenshot(a, 'todos')
  assert.deepEqual(alice.problems, [])

  // Bob: under "Shared with you", with alice's name and his role; he may add and complete.
  const seenByBob = await openPage()
  const b = seenByBob.page
  await logIn(b, bob)
  const link = navLink(b, 'Groceries')
  assert.equal(
    await b.locator(`#${await link.getAttribute('aria-describedby')}`).textContent(),
    'alice · editor',
  )
  await openList(b, 'Groceries')
  await b.getByText('Shared with you by alice; you are an editor.').waitFor()
  await b.getByRole('textbox', { name: 'New todo' }).fill('Coffee')
  await b.getByRole('button', { name: 'Add', exact: true }).click()
  await b.getByRole('checkbox', { name: 'Coffee' }).waitFor()
  await b.getByRole('checkbox', { name: 'Apples' }).check()
  await b.locator('li.done', { hasText: 'Apples' }).waitFor()
  assert.equal(await b.getByRole('form', { name: 'Share Groceries with a person' }).count(), 0)
  await screenshot(b, 'shared')
  assert.deepEqual(seenByBob.problems, [])

  // Carol, a viewer: sees the todos (bob's too), changes nothing.
  const seenByCarol = await openPage()
  const c = seenByCarol.page
  await logIn(c, carol)
  await openList(c, 'Groceries')
  await c.getByText('Shared with you by alice; you are a viewer.').waitFor()
  // Open ones first, then done ones; newest first in each.
  assert.deepEqual(await titles(c), ['Coffee', 'Oat milk', 'Apples', 'Bread'])
  assert.equal(await c.getByRole('checkbox', { name: 'Oat milk' }).isDisabled(), true)
  assert.equal(await c.getByRole('textbox', { name: 'New todo' }).count(), 0)
  assert.equal(await c.getByRole('button', { name: /^Edit|^Delete/ }).count(), 0)

  // Alice ends carol's share; carol's next look finds the list gone.
  await a.getByRole('button', { name: 'Stop sharing “Groceries” with carol' }).click()
  await a.getByRole('status').getByText('“Groceries” is no longer shared with carol.').waitFor()
  assert.deepEqual(await sharing.locator('.members li .who').allTextContents(), ['bob'])
  await c.reload()
  await c.getByRole('button', { name: 'Log in' }).click()
  await c.getByRole('heading', { name: 'Your lists' }).waitFor()
  assert.equal(await navLink(c, 'Groceries').count(), 0)
  assert.deepEqual(seenByCarol.problems, [])
  for (const p of [a, b, c]) await p.context().close()
})

test('a team gets a list: its manager adds a member by username, who then sees the list', async () => {
  const dave = await newUser('dave', 'Dave Ito')
  const erin = await newUser('erin', 'Erin Moss')

  const { page, problems } = await openPage()
  await logIn(page, dave)
  await page.getByRole('link', { name: 'Your teams' }).click()
  await page.locator('#view-heading', { hasText: 'Teams' }).waitFor()
  await page.getByRole('textbox', { name: 'New team' }).fill('Flatmates')
  await page.getByRole('button', { name: 'Create team' }).click()
  await page
    .getByRole('status')
    .getByText('Created the team “Flatmates”; you are its manager.')
    .waitFor()
  const add = page.getByRole('form', { name: 'Add a member to Flatmates' })
  await add.getByRole('textbox', { name: 'Username' }).fill('erin')
  await add.getByRole('button', { name: 'Add member' }).click()
  await page.getByRole('status').getByText('erin is now a member of “Flatmates”.').waitFor()
  const team = page.getByRole('region', { name: 'Flatmates' })
  assert.deepEqual(await team.locator('.members .who').allTextContents(), ['dave (you)', 'erin'])
  await screenshot(page, 'teams')

  await page.getByRole('textbox', { name: 'New list' }).fill('Chores')
  await page.getByRole('button', { name: 'Create', exact: true }).click()
  await page.getByRole('heading', { level: 2, name: 'Chores' }).waitFor()
  const share = page.getByRole('form', { name: 'Share Chores with a team' })
  await share.getByRole('combobox', { name: 'Team' }).selectOption({ label: 'Flatmates' })
  await share.getByRole('button', { name: 'Share with team' }).click()
  await page
    .getByRole('status')
    .getByText('Shared “Chores” with the team Flatmates as viewer.')
    .waitFor()
  assert.deepEqual(problems, [])

  const seen = await openPage()
  await logIn(seen.page, erin)
  await openList(seen.page, 'Chores')
  await seen.page.getByText('Shared with you by dave; you are a viewer.').waitFor()
  assert.deepEqual(seen.problems, [])
  await page.context().close()
  await seen.page.context().close()
})

test('the list works from the keyboard alone: add, complete, edit, cancel, delete', async () => {
  const frank = await newUser('frank', 'Frank Ode')
  const { page, problems } = await openPage()
  await logIn(page, frank)
  const focused = () =>
    page.evaluate(() => {
      const e = document.activeElement
      return `${e.tagName.toLowerCase()} ${e.getAttribute('aria-label') ?? e.labels?.[0]?.textContent ?? e.textContent}`
    })
  // Signed in, the keyboard is in the new-todo field of the default list.
  assert.equal(await focused(), 'input New todo')
  await page.keyboard.type('Call the plumber')
  await page.keyboard.press('Enter')
  await page.getByRole('checkbox', { name: 'Call the plumber' }).waitFor()
  assert.equal(await focused(), 'input New todo', 'ready for the next one')
  await page.keyboard.type('Pay rent')
  await page.keyboard.press('Enter')
  await page.getByRole('checkbox', { name: 'Pay rent' }).waitFor()

  await page.keyboard.press('Tab') // Add
  await page.keyboard.press('Tab') // the newest todo's checkbox
  assert.equal(await focused(), 'input Pay rent')
  await page.keyboard.press('Space')
  await page.locator('li.done', { hasText: 'Pay rent' }).waitFor()
  await page.keyboard.press('Tab')
  assert.equal(await focused(), 'button Edit “Pay rent”')
  await page.keyboard.press('Enter')
  assert.equal(await focused(), 'input Title')
  await page.keyboard.type('Pay the rent')
  await page.keyboard.press('Enter')
  await page.getByRole('checkbox', { name: 'Pay the rent' }).waitFor()
  assert.equal(await focused(), 'button Edit “Pay the rent”')
  await page.keyboard.press('Enter')
  await page.keyboard.type('never saved')
  await page.keyboard.press('Escape')
  assert.equal(await focused(), 'button Edit “Pay the rent”')
  await page.keyboard.press('Tab')
  assert.equal(await focused(), 'button Delete “Pay the rent”')
  await page.keyboard.press('Enter')
  await page.getByRole('checkbox', { name: 'Pay the rent' }).waitFor({ state: 'detached' })
  assert.equal(await focused(), 'input Call the plumber', 'on to the next todo')
  assert.deepEqual(await titles(page), ['Call the plumber'])
  assert.deepEqual(problems, [])
  await page.context().close()
})

test('every screen passes axe (no serious or critical violation) and fits 390 px', async () => {
  const grace = await newUser('grace', 'Grace Hill')
  const heidi = await newUser('heidi', 'Heidi Park')
  // Set up through the API: the screens are what is checked here.
  const g = (await token(grace)).access_token
  const list = await call(g, 'POST', '/api/lists', { name: 'Trip to Lisbon' })
  for (const title of ['Book flights', 'Pack the charger', 'Find a hotel'])
    await call(g, 'POST', `/api/lists/${list.id}/todos`, { title })
  const team = await call(g, 'POST', '/api/teams', { name: 'Travellers' })
  await call(g, 'POST', `/api/teams/${team.id}/members`, { username: 'heidi', role: 'member' })
  await call(g, 'POST', `/api/lists/${list.id}/members/users`, {
    username: 'heidi',
    role: 'viewer',
  })
  await call(g, 'PUT', `/api/lists/${list.id}/members/teams/${team.id}`, { role: 'editor' })
  const old = await call(g, 'POST', '/api/lists', { name: 'Last year' })
  await call(g, 'PATCH', `/api/lists/${old.id}`, { archived: true })

  /** axe-core in the page (the context bypasses the CSP, which forbids the inline script). */
  async function audit(page, screen) {
    await page.addScriptTag({ path: AXE })
    const { violations } = await page.evaluate(() => window.axe.run())
    const bad = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${screen}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(', ')}`)
    assert.deepEqual(bad, [])
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(
      width <= page.viewportSize().width,
      `${screen}: ${width} px wide, wider than the screen`,
    )
  }

  for (const viewport of [DESKTOP, PHONE]) {
    const at = `${viewport.width} px`
    const { page, problems } = await openPage({ viewport, bypassCSP: true })
    await page.goto(`${BASE}/`)
    await audit(page, `logged out, ${at}`)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.waitForURL(/\/auth\/authorize\?/)
    await audit(page, `the login page, ${at}`)
    await page.getByLabel('Username').fill(grace.username)
    await page.getByLabel('Password').fill(grace.password)
    await page.getByRole('button', { name: 'Log in' }).click()
    await page.locator('#view-heading').waitFor()
    await audit(page, `the default list, ${at}`)
    await openList(page, 'Trip to Lisbon')
    await page.getByRole('region', { name: 'Sharing' }).getByText('Travellers (team)').waitFor()
    await audit(page, `an owned, shared list, ${at}`)
    if (viewport === PHONE) await screenshot(page, 'phone', { fullPage: true })
    await page.getByText('Archived (1)').click()
    await openList(page, 'Last year')
    await audit(page, `an archived list, ${at}`)
    await page.getByRole('link', { name: 'Your teams' }).click()
    await page.locator('#view-heading', { hasText: 'Teams' }).waitFor()
    await audit(page, `teams, ${at}`)
    assert.deepEqual(problems, [])
    await page.context().close()

    const viewer = await openPage({ viewport, bypassCSP: true })
    await logIn(viewer.page, heidi)
    await openList(viewer.page, 'Trip to Lisbon')
    // Shared with heidi and with her team: the strongest share counts.
    await viewer.page.getByText('Shared with you by grace; you are an editor.').waitFor()
    await audit(viewer.page, `a shared list, ${at}`)
    assert.deepEqual(viewer.problems, [])
    await viewer.page.context().close()
  }
})
