import { env } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { seal } from '../../src/oauth/browser/pending'
import { accountHtml, accountSignIn, addPasskey, loginPage, withPasskey } from '../account-pages'
import { makeUser, type TestUser } from '../helpers'
import { authorizeUrl, Browser, makeClient, requestToken } from '../oauth-client'
import { BE, BS, b64url, passkeyOptions, SoftAuthenticator, type Tamper, UP, UV } from '../webauthn'

/**
 * Passkeys (docs/security.md, "Passkeys"): every refusal of WebAuthn Level 3 §7.1 and §7.2 the
 * server makes, each breaking exactly one thing of an otherwise good ceremony made with WebCrypto
 * (test/webauthn.ts), against the real Worker and D1. The control of each group succeeds.
 */

afterEach(() => {
  vi.useRealTimers()
})

const signinsWith = async (passkeyId: string) =>
  (await env.DB.prepare('SELECT user_id FROM signins WHERE passkey_id = ?1').bind(passkeyId).all())
    .results.length

const passkeysOf = async (userId: string) =>
  (
    await env.DB.prepare('SELECT id, counter, backed_up FROM passkeys WHERE user_id = ?1')
      .bind(userId)
      .all<{ id: string; counter: number; backed_up: number }>()
  ).results

/** Answers a fresh browser's /account login page with `auth` (tampered with `t`). */
async function passkeyLogin(
  auth: SoftAuthenticator,
  t: Tamper = {},
  flags?: number,
  page?: { browser: Browser; html: string },
) {
  const { browser, html } = page ?? (await loginPage())
  const assertion = await auth.assert(passkeyOptions(html, 'get'), t, flags)
  const res = await browser.post('/account/login', {
    request: requestToken(html),
    passkey: JSON.stringify(assertion),
  })
  return { browser, res, assertion, html }
}

const refusedSignIn = async (res: Response) => {
  expect(res.status).toBe(400)
  expect(await res.text()).toContain('That passkey did not sign you in')
  expect(res.headers.get('Set-Cookie') ?? '').not.toMatch(/todo-auth=[\w-]{43}/)
}

describe('registering a passkey (WebAuthn §7.1)', () => {
  /** A signed-in account page and an authenticator; the attestation tampered with `t`. */
  async function register(t: Tamper = {}, flags?: number) {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const auth = await SoftAuthenticator.create()
    const credential = await auth.register(passkeyOptions(html, 'create'), t, flags)
    const res = await browser.post('/account/passkeys', {
      request: requestToken(html),
      name: 'Phone',
      passkey: JSON.stringify(credential),
    })
    return { user, res, browser, html, credential }
  }

  it('adds a discoverable passkey made with user verification (control)', async () => {
    const { user, res, browser } = await register({}, UP | UV | BE | BS)
    expect(res.status).toBe(303)
    const [stored] = await passkeysOf(user.id)
    expect(stored).toMatchObject({ counter: 0, backed_up: 1 })
    expect(await accountHtml(browser)).toContain('Phone')
    const audit = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE user_id = ?1 AND event = 'passkey_added'",
    )
      .bind(user.id)
      .first<{ detail: string }>()
    expect(audit?.detail).toBe('account page: Phone')
  })

  it('asks for user verification, a resident key and no attestation', async () => {
    const user = await makeUser()
    const options = passkeyOptions(await accountSignIn(new Browser(), user), 'create')
    expect(options).toMatchObject({
      rp: { id: 'todo.test', name: 'todo-auth' },
      user: { name: user.username, id: b64url(new TextEncoder().encode(user.id)) },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    })
  })

  const refused = async (outcome: Awaited<ReturnType<typeof register>>) => {
    expect(outcome.res.status).toBe(400)
    expect(await outcome.res.text()).toContain('That passkey could not be added')
    expect(await passkeysOf(outcome.user.id)).toEqual([])
  }

  it('refuses another origin', async () => refused(await register({ origin: 'https://evil.test' })))
  it('refuses another RP ID', async () => refused(await register({ rpId: 'evil.test' })))
  it('refuses a ceremony of another type', async () =>
    refused(await register({ type: 'webauthn.get' })))
  it('refuses a credential made without user verification', async () =>
    refused(await register({}, UP)))
  it('refuses a challenge the page did not make', async () =>
    refused(await register({ challenge: b64url(crypto.getRandomValues(new Uint8Array(32))) })))

  it('answers a challenge once: the same attestation again adds nothing', async () => {
    const first = await register()
    expect(first.res.status).toBe(303)
    await env.DB.prepare('DELETE FROM passkeys WHERE user_id = ?1').bind(first.user.id).run()
    const again = await first.browser.post('/account/passkeys', {
      request: requestToken(first.html),
      name: 'Phone',
      passkey: JSON.stringify(first.credential),
    })
    expect(again.status).toBe(400)
    expect(await passkeysOf(first.user.id)).toEqual([])
  })

  it('refuses a challenge shown to another browser', async () => {
    const user = await makeUser()
    const shownTo = await accountSignIn(new Browser(), user)
    const other = new Browser()
    const otherPage = await accountSignIn(other, user)
    const auth = await SoftAuthenticator.create()
    const credential = await auth.register(passkeyOptions(shownTo, 'create'))
    const res = await other.post('/account/passkeys', {
      request: requestToken(otherPage),
      name: 'Phone',
      passkey: JSON.stringify(credential),
    })
    expect(res.status).toBe(400)
    expect(await passkeysOf(user.id)).toEqual([])
  })

  it('refuses an expired challenge', async () => {
    // A page's challenge outlives the fresh sign-in it needs (10 minutes against 5), so it is
    // sealed here as the page would have sealed it, that long ago, for this browser and user.
    const attempt = async (age: number) => {
      const user = await makeUser()
      const browser = new Browser()
      const html = await accountSignIn(browser, user)
      const binding = browser.cookie.split('=')[1]!
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() - age * 1000)
      const sealed = await seal(
        env,
        { n: 'x'.repeat(22), k: 'register', u: user.id },
        binding,
        'passkey',
      )
      vi.useRealTimers()
      const auth = await SoftAuthenticator.create()
      const options = passkeyOptions(html, 'create')
      const credential = await auth.register(options, {
        challenge: b64url(new TextEncoder().encode(sealed)),
      })
      const res = await browser.post('/account/passkeys', {
        request: requestToken(html),
        name: 'Phone',
        passkey: JSON.stringify(credential),
      })
      return { res, stored: await passkeysOf(user.id) }
    }
    const young = await attempt(590)
    expect(young.res.status).toBe(303)
    const old = await attempt(601)
    expect(old.res.status).toBe(400)
    expect(old.stored).toEqual([])
  })

  it('needs a sign-in from the last five minutes', async () => {
    const user = await makeUser()
    const browser = new Browser()
    const html = await accountSignIn(browser, user)
    const auth = await SoftAuthenticator.create()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 301_000)
    const res = await addPasskey(browser, html, auth)
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('Confirm it is you first')
    expect(await passkeysOf(user.id)).toEqual([])
  })

  it('refuses a credential id registered already, to this account or another', async () => {
    const { browser, auth } = await withPasskey(await makeUser())
    const again = await addPasskey(browser, await accountHtml(browser), auth)
    expect(again.status).toBe(400)
    const other = new Browser()
    const stolen = await addPasskey(other, await accountSignIn(other, await makeUser()), auth)
    expect(stolen.status).toBe(400)
    expect(await stolen.text()).toContain('registered already')
  })
})

describe('signing in with a passkey (WebAuthn §7.2)', () => {
  let user: TestUser
  let auth: SoftAuthenticator

  async function fresh() {
    user = await makeUser()
    ;({ auth } = await withPasskey(user))
  }

  it('signs the browser in, moves the counter and audits it (control)', async () => {
    await fresh()
    const { res, browser } = await passkeyLogin(auth)
    expect(res.status).toBe(303)
    expect(res.headers.get('Location')).toBe('/account')
    expect(await accountHtml(browser)).toContain('with the passkey “Laptop”')
    expect(await signinsWith(auth.id)).toBe(1)
    expect((await passkeysOf(user.id))[0]?.counter).toBe(1)
    const event = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE user_id = ?1 AND event = 'login_success'",
    )
      .bind(user.id)
      .all<{ detail: string }>()
    expect(event.results.map((e) => e.detail)).toContain('/account/login passkey')
  })

  it('asks for user verification and offers the discoverable credentials', async () => {
    const { html } = await loginPage()
    expect(passkeyOptions(html, 'get')).toMatchObject({
      rpId: 'todo.test',
      userVerification: 'required',
      allowCredentials: [],
    })
    expect(html).toContain('autocomplete="username webauthn"')
  })

  it('refuses another origin', async () => {
    await fresh()
    await refusedSignIn((await passkeyLogin(auth, { origin: 'https://todo.test.evil.test' })).res)
    expect(await signinsWith(auth.id)).toBe(0)
  })

  it('refuses another RP ID', async () => {
    await fresh()
    await refusedSignIn((await passkeyLogin(auth, { rpId: 'evil.test' })).res)
  })

  it('refuses an assertion without user verification, and audits why', async () => {
    await fresh()
    await refusedSignIn((await passkeyLogin(auth, {}, UP)).res)
    const failure = await env.DB.prepare(
      "SELECT username, detail FROM audit_events WHERE user_id = ?1 AND event = 'login_failure'",
    )
      .bind(user.id)
      .first<{ username: string; detail: string }>()
    expect(failure?.username).toBe(user.username)
    expect(failure?.detail).toMatch(/^\/account\/login passkey: .*user.*verif/i)
  })

  it('refuses an assertion without user presence', async () => {
    await fresh()
    await refusedSignIn((await passkeyLogin(auth, {}, UV)).res)
  })

  it('answers a challenge once: a replayed assertion signs no one in', async () => {
    await fresh()
    const page = await loginPage()
    // The browser as it was when the page was shown: a sign-in replaces its cookie.
    const before = new Browser()
    before.cookie = page.browser.cookie
    const first = await passkeyLogin(auth, {}, undefined, page)
    expect(first.res.status).toBe(303)
    const replay = await before.post('/account/login', {
      request: requestToken(first.html),
      passkey: JSON.stringify(first.assertion),
    })
    await refusedSignIn(replay)
    // The same challenge signed anew, with a higher counter: still answered once.
    const again = await auth.assert(passkeyOptions(first.html, 'get'))
    const resigned = await before.post('/account/login', {
      request: requestToken(first.html),
      passkey: JSON.stringify(again),
    })
    await refusedSignIn(resigned)
    expect(await signinsWith(auth.id)).toBe(1)
  })

  it('refuses an expired challenge', async () => {
    await fresh()
    const stale = await loginPage()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 601_000)
    const { html } = await loginPage(stale.browser)
    const assertion = await auth.assert(passkeyOptions(stale.html, 'get'))
    const res = await stale.browser.post('/account/login', {
      request: requestToken(html),
      passkey: JSON.stringify(assertion),
    })
    await refusedSignIn(res)
  })

  it('refuses a challenge shown to another browser', async () => {
    await fresh()
    const shownTo = await loginPage()
    const other = await loginPage()
    const assertion = await auth.assert(passkeyOptions(shownTo.html, 'get'))
    const res = await other.browser.post('/account/login', {
      request: requestToken(other.html),
      passkey: JSON.stringify(assertion),
    })
    await refusedSignIn(res)
  })

  it('refuses a signature counter that goes backwards or stays put', async () => {
    await fresh()
    expect((await passkeyLogin(auth, { counter: 5 })).res.status).toBe(303)
    await refusedSignIn((await passkeyLogin(auth, { counter: 3 })).res)
    await refusedSignIn((await passkeyLogin(auth, { counter: 5 })).res)
    expect((await passkeysOf(user.id))[0]?.counter).toBe(5)
    expect((await passkeyLogin(auth, { counter: 6 })).res.status).toBe(303)
  })

  it('accepts an authenticator without a counter (always 0), as §6.1.1 allows', async () => {
    await fresh()
    expect((await passkeyLogin(auth, { counter: 0 })).res.status).toBe(303)
    expect((await passkeyLogin(auth, { counter: 0 })).res.status).toBe(303)
  })

  it('refuses a backup eligibility other than the one registered', async () => {
    await fresh()
    await refusedSignIn((await passkeyLogin(auth, {}, UP | UV | BE)).res)
  })

  it('refuses a user handle of another account', async () => {
    await fresh()
    const other = b64url(new TextEncoder().encode((await makeUser()).id))
    await refusedSignIn((await passkeyLogin(auth, { userHandle: other })).res)
  })

  it('refuses the passkey of a disabled account', async () => {
    await fresh()
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    await refusedSignIn((await passkeyLogin(auth)).res)
    expect(await signinsWith(auth.id)).toBe(0)
  })

  it('refuses a removed passkey, and removing one ends the sign-ins it made', async () => {
    await fresh()
    const { browser } = await passkeyLogin(auth)
    expect(await signinsWith(auth.id)).toBe(1)
    // From the account page, signed in with it (fresh): removed, and this browser signed out.
    const html = await accountHtml(browser)
    expect(html).toContain('This browser signed in with it: removing it signs this browser out.')
    const removed = await browser.post('/account/passkeys/remove', {
      request: requestToken(html),
      id: auth.id,
    })
    expect(removed.status).toBe(303)
    expect(await signinsWith(auth.id)).toBe(0)
    expect(await (await browser.get('/account')).text()).toContain('Log in')
    await refusedSignIn((await passkeyLogin(auth)).res)
  })

  it('ends with a password change, as every sign-in does', async () => {
    await fresh()
    const { browser } = await passkeyLogin(auth)
    await env.DB.prepare(
      "UPDATE users SET password_hash = 'changed', updated_at = '2099-01-01T00:00:00.000Z' " +
        'WHERE id = ?1',
    )
      .bind(user.id)
      .run()
    expect(await (await browser.get('/account')).text()).toContain('Log in')
  })

  it('is charged to the client address, and a locked address refuses it', async () => {
    await fresh()
    const address = '198.51.100.41'
    const { browser, html } = await loginPage()
    const bad = await auth.assert(passkeyOptions(html, 'get'), {}, UP)
    const res = await browser.post(
      '/account/login',
      { request: requestToken(html), passkey: JSON.stringify(bad) },
      { 'CF-Connecting-IP': address },
    )
    expect(res.status).toBe(400)
    const counter = await env.DB.prepare('SELECT failures FROM login_failures WHERE key = ?1')
      .bind(`ip:${address}`)
      .first<number>('failures')
    expect(counter).toBe(1)
    await env.DB.prepare('UPDATE login_failures SET locked_until = ?2 WHERE key = ?1')
      .bind(`ip:${address}`, Math.floor(Date.now() / 1000) + 600)
      .run()
    const page = await loginPage()
    const good = await auth.assert(passkeyOptions(page.html, 'get'))
    const locked = await page.browser.post(
      '/account/login',
      { request: requestToken(page.html), passkey: JSON.stringify(good) },
      { 'CF-Connecting-IP': address },
    )
    expect(locked.status).toBe(429)
    expect(await signinsWith(auth.id)).toBe(0)
  })

  it('signs in on the authorization endpoint’s login page, and the code follows', async () => {
    await fresh()
    const { client } = await makeClient({ first_party: true })
    const browser = new Browser()
    const page = await browser.get(await authorizeUrl(client.client_id))
    const html = await page.text()
    const assertion = await auth.assert(passkeyOptions(html, 'get'))
    const res = await browser.post('/auth/authorize/login', {
      request: requestToken(html),
      passkey: JSON.stringify(assertion),
    })
    expect(res.status).toBe(303)
    expect(new URL(res.headers.get('Location')!).searchParams.get('code')).toBeTruthy()
  })

  it('signs in on the device page and shows the approval', async () => {
    await fresh()
    const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
    const { client } = await makeClient({ grant_types: [DEVICE] })
    const started = (await (
      await exportsFetch('/auth/device_authorization', { client_id: client.client_id })
    ).json()) as { user_code: string }
    const browser = new Browser()
    const codePage = await (await browser.get('/device')).text()
    const login = await (
      await browser.post('/device/code', {
        request: requestToken(codePage),
        user_code: started.user_code,
      })
    ).text()
    const assertion = await auth.assert(passkeyOptions(login, 'get'))
    const res = await browser.post('/device/login', {
      request: requestToken(login),
      passkey: JSON.stringify(assertion),
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('asks to use your account')
  })
})

/** A form POST straight to the Worker, outside any browser. */
const exportsFetch = (path: string, fields: Record<string, string>) =>
  new Browser().post(path, fields)
