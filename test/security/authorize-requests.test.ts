import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { type call, json, makeUser, type TestUser } from '../helpers'
import {
  authorizeUrl,
  Browser,
  makeClient,
  ORIGIN,
  REDIRECT,
  redirectParams,
  requestToken,
} from '../oauth-client'

// The second outside penetration test (docs/security.md): the authorization endpoint's requests. Each test fails
// on the code before its fix.

const app = createApp()
/** The Worker with RFC 7591 registration on, as `npm run dev` runs it. */
const send: typeof call = async (path, init) =>
  app.request(`${ORIGIN}${path}`, init, { ...env, ALLOW_CLIENT_REGISTRATION: 'true' })

const EVIL = 'https://evil.example/phish'

/** A client registered by anyone, through POST /auth/clients (RFC 7591). */
async function registered(body: Record<string, unknown> = {}): Promise<string> {
  const res = await send(
    '/auth/clients',
    json('POST', { client_name: 'Phish', redirect_uris: [EVIL], ...body }),
  )
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json<{ client_id: string }>()).client_id
}

/** The HTML error page: a 400, no Location, the message on it. */
async function expectPage(res: Response, text: string | RegExp) {
  expect(res.status).toBe(400)
  expect(res.headers.get('Location')).toBeNull()
  expect(res.headers.get('Content-Type')).toMatch(/^text\/html/)
  const html = await res.text()
  if (typeof text === 'string') expect(html).toContain(text)
  else expect(html).toMatch(text)
}

const isLoginPage = async (res: Response) => {
  expect(res.status).toBe(200)
  return (await res.clone().text()).includes('action="/auth/authorize/login"')
}

/** Signs `browser` in as `user` through a first-party app's login page. */
async function signIn(browser: Browser, user: TestUser) {
  const { client } = await makeClient({ first_party: true })
  const page = await browser.get(await authorizeUrl(client.client_id))
  expect(await isLoginPage(page)).toBe(true)
  const res = await browser.post('/auth/authorize/login', {
    request: requestToken(await page.text()),
    username: user.username,
    password: user.password,
  })
  expect(redirectParams(res).get('code')).toBeTruthy()
}

/** Consents, in `browser`, to `clientId` asking for `scope`. */
async function consent(browser: Browser, clientId: string, redirectUri: string, scope = 'read') {
  const page = await browser.get(await authorizeUrl(clientId, { redirect_uri: redirectUri, scope }))
  expect(page.status).toBe(200)
  const html = await page.text()
  expect(html).toContain('action="/auth/authorize/consent"')
  const res = await browser.post('/auth/authorize/consent', {
    request: requestToken(html),
    decision: 'allow',
  })
  expect(redirectParams(res, redirectUri).get('code')).toBeTruthy()
}

/** Requests that fail before anyone signs in, each with the error it gets. */
const EARLY: [params: Record<string, string>, error: string][] = [
  [{ response_type: 'token' }, 'unsupported_response_type'],
  [{ response_type: '' }, 'invalid_request'],
  [{ code_challenge: '' }, 'invalid_request'],
  [{ code_challenge_method: 'plain' }, 'invalid_request'],
  [{ code_challenge: 'short' }, 'invalid_request'],
  [{ scope: 'read admin' }, 'invalid_scope'],
]

describe('RFC 9700 §4.11.2: an app anyone registered is no open redirector', () => {
  it('answers its early errors with the HTML page, where a vetted app’s go back to the app', async () => {
    const phish = await registered()
    const { client: vetted } = await makeClient()
    for (const [params, error] of EARLY) {
      const what = JSON.stringify(params)
      const res = await send(await authorizeUrl(phish, { redirect_uri: EVIL, ...params }))
      expect(res.headers.get('Location'), what).toBeNull()
      await expectPage(res, error)
      const back = await send(await authorizeUrl(vetted.client_id, params))
      expect(redirectParams(back).get('error'), what).toBe(error)
    }
    // A parameter given twice, too.
    const twice = `${await authorizeUrl(phish, { redirect_uri: EVIL })}&state=again`
    await expectPage(await send(twice), 'invalid_request')
  })

  it('answers with the page when nothing can be granted after sign-in, before any consent', async () => {
    const phish = await registered({ scope: 'read' })
    const browser = new Browser(send)
    await signIn(browser, await makeUser())
    const res = await browser.get(await authorizeUrl(phish, { redirect_uri: EVIL, scope: 'write' }))
    await expectPage(res, 'invalid_scope')
  })

  it('redirects errors once the signed-in user approved the app, and a denial always', async () => {
    const phish = await registered()
    const user = await makeUser()
    const browser = new Browser(send)
    // Before sign-in, and signed in but before consent: the page.
    await expectPage(
      await browser.get(await authorizeUrl(phish, { redirect_uri: EVIL, response_type: 'token' })),
      'unsupported_response_type',
    )
    await signIn(browser, user)
    const early = await authorizeUrl(phish, { redirect_uri: EVIL, code_challenge: '' })
    await expectPage(await browser.get(early), 'invalid_request')
    // Denying at the consent page goes back to the app: the person saw where it goes.
    const page = await browser.get(await authorizeUrl(phish, { redirect_uri: EVIL }))
    const denied = await browser.post('/auth/authorize/consent', {
      request: requestToken(await page.text()),
      decision: 'deny',
    })
    expect(redirectParams(denied, EVIL).get('error')).toBe('access_denied')
    // Once this user allowed the app, its redirect URI is one they approved.
    await consent(browser, phish, EVIL)
    expect(redirectParams(await browser.get(early), EVIL).get('error')).toBe('invalid_request')
    // Not for another browser, signed out.
    await expectPage(await new Browser(send).get(early), 'invalid_request')
  })
})

describe('response_mode (OAuth 2.0 Multiple Response Type Encoding Practices)', () => {
  it('refuses any mode but query with the HTML page, for every app', async () => {
    const { client } = await makeClient()
    for (const mode of ['fragment', 'form_post', 'query.jwt', 'QUERY']) {
      const res = await send(await authorizeUrl(client.client_id, { response_mode: mode }))
      await expectPage(res, 'response_mode')
    }
    const twice = `${await authorizeUrl(client.client_id, { response_mode: 'query' })}&response_mode=query`
    await expectPage(await send(twice), 'response_mode')
    // query, the one mode, is served.
    const query = await send(await authorizeUrl(client.client_id, { response_mode: 'query' }))
    expect(await isLoginPage(query)).toBe(true)
  })
})

describe('prompt and max_age (OpenID Connect Core §3.1.2.1)', () => {
  it('advertises the prompt values it supports', async () => {
    const res = await send('/.well-known/oauth-authorization-server')
    const metadata = await res.json<Record<string, unknown>>()
    expect(metadata.prompt_values_supported).toEqual(['none', 'login', 'consent'])
  })

  it('prompt=consent shows the consent page even when consent is remembered', async () => {
    const { client } = await makeClient()
    const browser = new Browser(send)
    await signIn(browser, await makeUser())
    await consent(browser, client.client_id, REDIRECT)
    // Remembered: straight back with a code.
    const again = await browser.get(await authorizeUrl(client.client_id, { scope: 'read' }))
    expect(redirectParams(again).get('code')).toBeTruthy()
    const asked = await browser.get(
      await authorizeUrl(client.client_id, { scope: 'read', prompt: 'consent' }),
    )
    expect(asked.status).toBe(200)
    expect(await asked.text()).toContain('action="/auth/authorize/consent"')
    // A first-party app too, when it asks.
    const { client: own } = await makeClient({ first_party: true })
    const ownAsked = await browser.get(await authorizeUrl(own.client_id, { prompt: 'consent' }))
    expect(await ownAsked.text()).toContain('action="/auth/authorize/consent"')
  })

  it('prompt=consent survives the login page', async () => {
    const { client } = await makeClient({ first_party: true })
    const user = await makeUser()
    const browser = new Browser(send)
    const page = await browser.get(await authorizeUrl(client.client_id, { prompt: 'consent' }))
    expect(await isLoginPage(page)).toBe(true)
    const res = await browser.post('/auth/authorize/login', {
      request: requestToken(await page.text()),
      username: user.username,
      password: user.password,
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('action="/auth/authorize/consent"')
  })

  it('prompt=none never shows a page: login_required, consent_required, or the code', async () => {
    const { client } = await makeClient()
    const browser = new Browser(send)
    const none = (params: Record<string, string> = {}) =>
      authorizeUrl(client.client_id, { scope: 'read', prompt: 'none', ...params })
    const signedOut = redirectParams(await browser.get(await none()))
    expect(signedOut.get('error')).toBe('login_required')
    expect(signedOut.get('state')).toBe('st-123')
    await signIn(browser, await makeUser())
    expect(redirectParams(await browser.get(await none())).get('error')).toBe('consent_required')
    await consent(browser, client.client_id, REDIRECT)
    expect(redirectParams(await browser.get(await none())).get('code')).toBeTruthy()
    // More than was consented to needs the page again.
    const more = redirectParams(await browser.get(await none({ scope: 'read write' })))
    expect(more.get('error')).toBe('consent_required')
  })

  it('refuses prompt=none with another value, and values it does not know', async () => {
    const { client } = await makeClient()
    for (const prompt of ['none login', 'consent none', 'select_account', 'bogus', 'login  x']) {
      const res = await send(await authorizeUrl(client.client_id, { prompt }))
      expect(redirectParams(res).get('error'), prompt).toBe('invalid_request')
    }
    // Known values in any order, with a space between.
    const both = await send(await authorizeUrl(client.client_id, { prompt: 'consent login' }))
    expect(await isLoginPage(both)).toBe(true)
  })

  it('max_age asks for the password again when the sign-in is older; max_age=0 always', async () => {
    const { client } = await makeClient({ first_party: true })
    const user = await makeUser()
    const browser = new Browser(send)
    await signIn(browser, user)
    const url = (params: Record<string, string>) => authorizeUrl(client.client_id, params)
    expect(
      redirectParams(await browser.get(await url({ max_age: '3600' }))).get('code'),
    ).toBeTruthy()
    expect(await isLoginPage(await browser.get(await url({ max_age: '0' })))).toBe(true)
    // The sign-in is two minutes old.
    await env.DB.prepare('UPDATE signins SET created_at = created_at - 120 WHERE user_id = ?1')
      .bind(user.id)
      .run()
    expect(await isLoginPage(await browser.get(await url({ max_age: '60' })))).toBe(true)
    const none = redirectParams(await browser.get(await url({ max_age: '60', prompt: 'none' })))
    expect(none.get('error')).toBe('login_required')
    expect(
      redirectParams(await browser.get(await url({ max_age: '600' }))).get('code'),
    ).toBeTruthy()
    for (const max of ['-1', '1.5', 'abc', '1e3', '99999999999']) {
      const res = await browser.get(await url({ max_age: max }))
      expect(redirectParams(res).get('error'), max).toBe('invalid_request')
    }
  })
})

describe('prompt=none for an app anyone registered', () => {
  it('redirects only for a signed-in user who approved the app; else the HTML page', async () => {
    const phish = await registered()
    const browser = new Browser(send)
    const none = (params: Record<string, string> = {}) =>
      authorizeUrl(phish, { redirect_uri: EVIL, scope: 'read', prompt: 'none', ...params })
    await expectPage(await browser.get(await none()), 'login_required')
    const user = await makeUser()
    await signIn(browser, user)
    await expectPage(await browser.get(await none()), 'consent_required')
    await consent(browser, phish, EVIL)
    expect(redirectParams(await browser.get(await none()), EVIL).get('code')).toBeTruthy()
    const more = redirectParams(await browser.get(await none({ scope: 'read write' })), EVIL)
    expect(more.get('error')).toBe('consent_required')
    await env.DB.prepare('UPDATE signins SET created_at = created_at - 120 WHERE user_id = ?1')
      .bind(user.id)
      .run()
    const old = redirectParams(await browser.get(await none({ max_age: '60' })), EVIL)
    expect(old.get('error')).toBe('login_required')
  })
})

describe('RFC 7591 §5: the pages say where an app sends you, and whether anyone vetted it', () => {
  const pages = async (clientId: string, redirectUri: string) => {
    const browser = new Browser(send)
    const login = await browser.get(await authorizeUrl(clientId, { redirect_uri: redirectUri }))
    const loginHtml = await login.text()
    const user = await makeUser()
    const consentPage = await browser.post('/auth/authorize/login', {
      request: requestToken(loginHtml),
      username: user.username,
      password: user.password,
    })
    return [loginHtml, await consentPage.text()]
  }

  it('names the host of a web app, unverified when anyone could have registered it', async () => {
    for (const html of await pages(await registered({ client_name: 'Planner' }), EVIL)) {
      expect(html).toContain('evil.example')
      expect(html).toMatch(/unverified/i)
    }
    const { client } = await makeClient({ client_name: 'Vetted Planner' })
    for (const html of await pages(client.client_id, REDIRECT)) {
      expect(html).toContain('app.example')
      expect(html).not.toMatch(/unverified/i)
    }
    // A first-party app is shown by its name alone.
    const { client: own } = await makeClient({ first_party: true, client_name: 'Our Own' })
    const [login] = await pages(own.client_id, REDIRECT)
    expect(login).toContain('Our Own')
    expect(login).not.toContain('app.example')
    expect(login).not.toMatch(/unverified/i)
  })

  it('names a native app’s scheme, and says a loopback app runs on this device', async () => {
    const native = 'com.example.planner:/cb'
    for (const html of await pages(await registered({ redirect_uris: [native] }), native))
      expect(html).toContain('com.example.planner')
    const loopback = 'http://127.0.0.1/callback'
    for (const html of await pages(await registered({ redirect_uris: [loopback] }), loopback))
      expect(html).toContain('on this device')
  })
})
