import { describe, expect, it } from 'vitest'
import { call, form, makeUser, type TestUser } from '../helpers'
import { Browser, getCode, makeClient, requestToken } from '../oauth-client'

// The second outside penetration test (docs/security.md): the device page locked a client address for 15 minutes
// after 20 wrong user codes, and then refused even the right code: anyone behind the same NAT
// (an office, a campus, a carrier) could keep everyone else from connecting a device. The lock is
// there against guessing codes (RFC 8628 §5.1), which it must keep bounding; so while an address
// is locked, a person signed in here may still enter codes, counted by their browser and their
// account, which no one else can lock and no one can mint freely.

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
const WRONG = 'BBBB-BBBB'

/** A pending device request; its user code. */
async function deviceCode(): Promise<string> {
  const { client } = await makeClient({ grant_types: [DEVICE] as never, scope: 'read' })
  const res = await call('/auth/device_authorization', form({ client_id: client.client_id }))
  expect(res.status).toBe(200)
  return ((await res.json()) as { user_code: string }).user_code
}

/** Types `userCode` on the device page of `browser`, from `address`. */
async function enter(browser: Browser, userCode: string, address: string) {
  const ip = { 'CF-Connecting-IP': address }
  const page = await browser.get('/device')
  const res = await browser.post(
    '/device/code',
    { request: requestToken(await page.text()), user_code: userCode },
    ip,
  )
  return { status: res.status, html: await res.text() }
}

/** Locks `address` with 20 wrong codes from 20 browsers, as a guesser rotating cookies would. */
async function lock(address: string) {
  for (let i = 0; i < 20; i++) expect((await enter(new Browser(), WRONG, address)).status).toBe(400)
  expect((await enter(new Browser(), WRONG, address)).status).toBe(429)
}

/** A browser in which `user` is signed in (the login page of the authorization endpoint). */
async function signedIn(user: TestUser): Promise<Browser> {
  const browser = new Browser()
  const { client } = await makeClient({ first_party: true })
  await getCode(browser, client.client_id, user)
  return browser
}

describe('the device page while an address is locked', () => {
  it('takes the right code from a person signed in here, not from anyone else', async () => {
    const address = '203.0.113.20'
    await lock(address)
    const userCode = await deviceCode()

    // Not signed in: the lock holds for every code, so guessing stays bounded by the address.
    const stranger = await enter(new Browser(), userCode, address)
    expect(stranger.status).toBe(429)
    expect(stranger.html).toContain('sign in')

    const person = await signedIn(await makeUser())
    const entered = await enter(person, userCode, address)
    expect(entered.status, entered.html).toBe(200)
    expect(entered.html).toContain('action="/device/decision"')
  })

  it('counts a signed-in person’s wrong codes by account, across browsers', async () => {
    const address = '203.0.113.21'
    await lock(address)
    const guesser = await makeUser()
    for (let i = 0; i < 5; i++) {
      // A fresh browser each time: the account, not the cookie, is what runs out.
      const res = await enter(await signedIn(guesser), WRONG, address)
      expect(res.status).toBe(400)
      expect(res.html).toContain('That code is not valid')
    }
    const userCode = await deviceCode()
    expect((await enter(await signedIn(guesser), userCode, address)).status).toBe(429)
    // Another account at the same address is not affected.
    expect((await enter(await signedIn(await makeUser()), userCode, address)).status).toBe(200)
  })
})
