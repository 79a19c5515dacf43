// End-to-end: lists and sharing in the web client, in Debian's headless Chromium against
// `npm run dev` (which migrates the local D1 and seeds alice/wonderland and admin/secret).
// Users log in the way the web client does: "Log in" on / goes to the server's login page
// (authorization code flow + PKCE, client todo-web), as in test/e2e/web.test.mjs.
//
//   node --test test/e2e/lists.test.mjs     (needs /usr/bin/chromium)
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { chromium } from 'playwright-core'
import { devServer } from './dev-server.mjs'

const PORT = 8795
const server = devServer(PORT)
const BASE = server.base
const ALICE = { username: 'alice', password: 'wonderland' }

let browser

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
})

after(async () => {
  await browser?.close()
  await server.stop()
})

/** A user made through the admin API, for alice to share with. */
async function newUser(username) {
  const token = await fetch(`${BASE}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'admin', password: 'secret' }),
  }).then((r) => r.json())
  const res = await fetch(`${BASE}/users`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token.access_token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: 'a long enough password' }),
  })
  assert.equal(res.status, 201)
  return { ...(await res.json()), password: 'a long enough password' }
}

async function openPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  const page = await context.newPage()
  const problems = []
  page.on('console', (msg) => msg.type() === 'error' && problems.push(`console: ${msg.text()}`))
  page.on('pageerror', (err) => problems.push(`exception: ${err.message}`))
  return { page, problems }
}

/** "Log in" on / goes to the server's login page; the user signs in there and is back on /. */
async function logIn(page, { username, password }) {
  await page.goto(`${BASE}/`)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL(/\/auth\/authorize\?/)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Lists' }).waitFor()
  assert.equal(new URL(page.url()).search, '', 'the code is gone from the address bar')
}

/** After a reload: the server's sign-in cookie lets "Log in" through without the password. */
async function logInAgain(page) {
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Lists' }).waitFor()
}

test('alice shares a list with bob as viewer: bob sees it, read-only', async () => {
  const tag = Date.now().toString(36).slice(-5)
  const bob = await newUser(`bob-${tag}`)
  const listName = `Party ${tag}`

  const alice = await openPage()
  await logIn(alice.page, ALICE)
  await alice.page.getByRole('textbox', { name: 'New list' }).fill(listName)
  await alice.page.getByRole('button', { name: 'Create list' }).click()
  await alice.page.getByRole('heading', { name: listName }).waitFor()
  await alice.page.getByLabel('Todo for this list').fill('cake')
  await alice.page.getByRole('button', { name: 'Put in list' }).click()
  await alice.page.getByRole('checkbox', { name: 'cake' }).last().waitFor()
  const share = alice.page.getByRole('form', { name: `Share ${listName} with a user` })
  await share.getByLabel('User id').fill(bob.id)
  await share.getByLabel('Role').selectOption('viewer')
  await share.getByRole('button', { name: 'Share' }).click()
  await alice.page.getByText(`${bob.username} (viewer)`).waitFor()
  assert.deepEqual(alice.problems, [])

  const seen = await openPage()
  await logIn(seen.page, { username: bob.username, password: bob.password })
  await seen.page.getByRole('button', { name: `Open list “${listName}”` }).click()
  await seen.page.getByRole('heading', { name: listName }).waitFor()
  await seen.page.getByText('You are viewer.').waitFor()
  assert.equal(await seen.page.getByRole('checkbox', { name: 'cake' }).isDisabled(), true)
  assert.equal(await seen.page.getByLabel('Todo for this list').count(), 0)
  assert.deepEqual(seen.problems, [])

  // Alice ends the share; bob's next look finds the list gone.
  await alice.page
    .getByRole('button', { name: `Stop sharing “${listName}” with ${bob.username}` })
    .click()
  await alice.page.getByText(`${bob.username} (viewer)`).waitFor({ state: 'detached' })
  await seen.page.reload()
  await logInAgain(seen.page)
  assert.equal(await seen.page.getByRole('button', { name: `Open list “${listName}”` }).count(), 0)
  await alice.page.context().close()
  await seen.page.context().close()
})
