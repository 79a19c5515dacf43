import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, call, login, makeUser } from '../../helpers'
import {
  authorizeUrl,
  Browser,
  exchange,
  getCode,
  makeClient,
  ORIGIN,
  REDIRECT,
  redirectParams,
  requestToken,
  tokens,
} from '../../oauth-client'

const loginForm = async (browser: Browser, clientId: string, params = {}) => {
  const res = await browser.get(await authorizeUrl(clientId, params))
  expect(res.status).toBe(200)
  const html = await res.text()
  expect(html).toContain('action="/auth/authorize/login"')
  return requestToken(html)
}

describe('GET /auth/authorize: requests that cannot go back to the app', () => {
  it('shows an error page, never a redirect, for an unknown or disabled client', async () => {
    const { client } = await makeClient()
    await env.DB.prepare('UPDATE clients SET disabled = 1 WHERE client_id = ?1')
      .bind(client.client_id)
      .run()
    for (const id of ['no-such-client', client.client_id]) {
      const res = await call(await authorizeUrl(id))
      expect(res.status, id).toBe(400)
      expect(res.headers.get('Location')).toBeNull()
      expect(res.headers.get('Content-Type')).toMatch(/^text\/html/)
      expect(await res.text()).toContain('not registered')
    }
    const res = await call('/auth/authorize?response_type=code')
    expect(res.status).toBe(400)
  })

  it('never redirects to a redirect URI the client did not register', async () => {
    const { client } = await makeClient({
      redirect_uris: [REDIRECT, 'http://127.0.0.1/callback'],
    })
    for (const uri of [
      'https://evil.example/cb',
      'https://app.example/cb/',
      'https://app.example/cb?x=1',
      'https://APP.example/cb',
      'HTTPS://app.example/cb',
      'JaVaScRiPt:alert(1)//https://app.example/cb',
      'https://app.example/cb#frag',
      'http://127.0.0.1/other',
      'http://127.0.0.2/callback',
      'http://localhost/callback',
      'https://127.0.0.1/callback',
      'http://user@127.0.0.1:4000/callback',
    ]) {
      const res = await call(await authorizeUrl(client.client_id, { redirect_uri: uri }))
      expect(res.status, uri).toBe(400)
      expect(res.headers.get('Location'), uri).toBeNull()
    }
  })

  it('refuses a repeated client_id or redirect_uri with the error page', async () => {
    const { client } = await makeClient()
    const url = `${await authorizeUrl(client.client_id)}&redirect_uri=${encodeURIComponent(REDIRECT)}`
    expect((await call(url)).status).toBe(400)
  })

  it('needs redirect_uri only when the client registered more than one', async () => {
    const one = await makeClient()
    const res = await call(await authorizeUrl(one.client.client_id, { redirect_uri: '' }))
    expect(res.status).toBe(200)
    const two = await makeClient({ redirect_uris: [REDIRECT, 'https://app.example/other'] })
    expect(
      (await call(await authorizeUrl(two.client.client_id, { redirect_uri: '' }))).status,
    ).toBe(400)
  })
})

describe('GET /auth/authorize: errors that go back to the app', () => {
  const expectError = async (params: Record<string, string>, error: string) => {
    const { client } = await makeClient()
    const res = await call(await authorizeUrl(client.client_id, params), { redirect: 'manual' })
    const back = redirectParams(res)
    expect(back.get('error')).toBe(error)
    expect(back.get('error_description')).toBeTruthy()
    expect(back.get('state')).toBe('st-123')
    expect(back.get('iss')).toBe(ORIGIN)
    expect(back.get('code')).toBeNull()
  }

  it('refuses a request without PKCE', () => expectError({ code_challenge: '' }, 'invalid_request'))
  it('refuses a missing challenge method, which RFC 7636 would read as plain', () =>
    expectError({ code_challenge_method: '' }, 'invalid_request'))
  it('refuses the plain challenge method', () =>
    expectError({ code_challenge_method: 'plain' }, 'invalid_request'))
  it('refuses a malformed challenge', () =>
    expectError({ code_challenge: 'short' }, 'invalid_request'))
  it('refuses response types other than code', () =>
    expectError({ response_type: 'token' }, 'unsupported_response_type'))
  it('refuses unknown scopes', () => expectError({ scope: 'read admin' }, 'invalid_scope'))

  it('refuses a client that may not use the code flow', async () => {
    const { client } = await makeClient({ grant_types: ['password'] })
    const res = await call(await authorizeUrl(client.client_id), { redirect: 'manual' })
    expect(redirectParams(res).get('error')).toBe('unauthorized_client')
  })

  it('keeps the redirect URI’s own query and answers with 303, never 307', async () => {
    const uri = 'https://app.example/cb?tenant=7'
    const { client } = await makeClient({ redirect_uris: [uri] })
    const res = await call(
      await authorizeUrl(client.client_id, { redirect_uri: uri, response_type: 'token' }),
      { redirect: 'manual' },
    )
    expect(res.status).toBe(303)
    const back = new URL(res.headers.get('Location')!)
    expect(back.searchParams.get('tenant')).toBe('7')
    expect(back.searchParams.get('error')).toBe('unsupported_response_type')
  })
})

describe('the login and consent pages', () => {
  it('run only our own passkey scripts, may not be framed, and are not cached', async () => {
    const { client } = await makeClient()
    const res = await call(await authorizeUrl(client.client_id))
    expect(res.status).toBe(200)
    const csp = res.headers.get('Content-Security-Policy')!
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("default-src 'none'")
    // The passkey form's scripts, from this origin only: nothing inline, no eval, no fetch.
    expect(csp).toContain("script-src 'self';")
    expect(csp).not.toMatch(/unsafe|connect-src/)
    expect(res.headers.get('X-Frame-Options')).toBe('DENY')
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    const html = await res.text()
    const scripts = [...html.matchAll(/<script[^>]*>/gi)].map(([tag]) => tag)
    expect(scripts).toEqual([
      '<script src="/vendor/simplewebauthn/index.umd.min.js" defer="">',
      '<script src="/passkey.js" defer="">',
    ])
    expect(html).not.toMatch(/<script[^>]*>[^<]|\son[a-z]+=/i)
    expect(html).toContain('name="username"')
    expect(html).toContain('name="password"')
    expect(html).toContain('<meta name="viewport"')
  })

  it('set an HttpOnly, SameSite=Lax, __Host- cookie on https', async () => {
    const { client } = await makeClient()
    const cookie = (await call(await authorizeUrl(client.client_id))).headers.get('Set-Cookie')!
    expect(cookie).toMatch(/^__Host-todo-auth=[\w-]{43};/)
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Lax/)
    expect(cookie).toMatch(/Secure/)
    expect(cookie).toMatch(/Path=\//)
  })

  it('sign alice in, ask her consent naming the app and scopes, and send a code with state and iss', async () => {
    const alice = await makeUser()
    const { client } = await makeClient({ client_name: 'Todo Planner' })
    const browser = new Browser()
    const request = await loginForm(browser, client.client_id, { scope: 'read' })
    const consent = await browser.post('/auth/authorize/login', {
      request,
      username: alice.username,
      password: alice.password,
    })
    expect(consent.status).toBe(200)
    const html = await consent.text()
    expect(html).toContain('Todo Planner')
    expect(html).toContain('See your todos')
    expect(html).not.toContain('Create, change')
    expect(html).toMatch(/name="decision" value="allow"/)
    expect(html).toMatch(/name="decision" value="deny"/)
    const back = redirectParams(
      await browser.post('/auth/authorize/consent', {
        request: requestToken(html),
        decision: 'allow',
      }),
    )
    expect(back.get('code')).toMatch(/^[\w-]{43}$/)
    expect(back.get('state')).toBe('st-123')
    expect(back.get('iss')).toBe(ORIGIN)
    const pair = await tokens(await exchange(back.get('code')!, { client_id: client.client_id }))
    expect(pair.scope).toBe('read')
  })

  it('shows the login page again, with a message, after a wrong password; failures are throttled', async () => {
    const alice = await makeUser()
    const { client } = await makeClient()
    const browser = new Browser()
    const request = await loginForm(browser, client.client_id)
    for (let i = 0; i < 5; i++) {
      const res = await browser.post('/auth/authorize/login', {
        request,
        username: alice.username,
        password: 'wrong password',
      })
      expect(res.status).toBe(400)
      const html = await res.text()
      expect(html).toContain('Incorrect username or password.')
      expect(html).toContain(`value="${alice.username}"`)
    }
    const locked = await browser.post('/auth/authorize/login', {
      request,
      username: alice.username,
      password: alice.password,
    })
    expect(locked.status).toBe(429)
    const events = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE username = ?1 AND event = 'login_failure'",
    )
      .bind(alice.username)
      .all()
    expect(events.results).toHaveLength(5)
    expect(events.results[0]).toEqual({ detail: '/auth/authorize/login' })
  })

  it('does not ask for the password again in the same browser, unless prompt=login', async () => {
    const alice = await makeUser()
    const first = await makeClient({ first_party: true })
    const second = await makeClient({ first_party: true })
    const browser = new Browser()
    await getCode(browser, first.client.client_id, alice)
    const again = await browser.get(await authorizeUrl(second.client.client_id))
    expect(redirectParams(again).get('code')).toBeTruthy()
    const forced = await browser.get(
      await authorizeUrl(second.client.client_id, { prompt: 'login' }),
    )
    expect(forced.status).toBe(200)
    expect(await forced.text()).toContain('action="/auth/authorize/login"')
    // Another browser has no sign-in.
    expect((await new Browser().get(await authorizeUrl(second.client.client_id))).status).toBe(200)
  })

  it('remembers consent for the scopes granted and asks again for more', async () => {
    const alice = await makeUser()
    const { client } = await makeClient()
    const browser = new Browser()
    await getCode(browser, client.client_id, alice, { scope: 'read' })
    const same = await browser.get(await authorizeUrl(client.client_id, { scope: 'read' }))
    expect(redirectParams(same).get('code')).toBeTruthy()
    const more = await browser.get(await authorizeUrl(client.client_id, { scope: 'read write' }))
    expect(more.status).toBe(200)
    expect(await more.text()).toContain('name="decision"')
  })

  it('skips consent for first-party clients', async () => {
    const alice = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const browser = new Browser()
    const request = await loginForm(browser, client.client_id)
    const res = await browser.post('/auth/authorize/login', {
      request,
      username: alice.username,
      password: alice.password,
    })
    expect(redirectParams(res).get('code')).toBeTruthy()
  })

  it('sends access_denied when the user denies', async () => {
    const alice = await makeUser()
    const { client } = await makeClient()
    const browser = new Browser()
    const consent = await browser.post('/auth/authorize/login', {
      request: await loginForm(browser, client.client_id),
      username: alice.username,
      password: alice.password,
    })
    const back = redirectParams(
      await browser.post('/auth/authorize/consent', {
        request: requestToken(await consent.text()),
        decision: 'deny',
      }),
    )
    expect(back.get('error')).toBe('access_denied')
    expect(back.get('state')).toBe('st-123')
    expect(back.get('iss')).toBe(ORIGIN)
  })

  it('grant only what was asked, what the client may have and what the user holds', async () => {
    const reader = await makeUser({ scopes: 'read' })
    const { client } = await makeClient({ scope: 'read write', first_party: true })
    const code = await getCode(new Browser(), client.client_id, reader, { scope: 'read write' })
    expect((await tokens(await exchange(code, { client_id: client.client_id }))).scope).toBe('read')
    const writeOnly = await makeClient({ scope: 'write', first_party: true })
    const browser = new Browser()
    const res = await browser.post('/auth/authorize/login', {
      request: await loginForm(browser, writeOnly.client.client_id),
      username: reader.username,
      password: reader.password,
    })
    expect(redirectParams(res).get('error')).toBe('invalid_scope')
  })
})

describe('CSRF protection of the forms', () => {
  it('refuses a form sent from another origin or with no origin at all', async () => {
    const alice = await makeUser()
    const { client } = await makeClient()
    const browser = new Browser()
    const request = await loginForm(browser, client.client_id)
    const fields = { request, username: alice.username, password: alice.password }
    for (const origin of ['https://evil.example', 'null']) {
      const res = await browser.post('/auth/authorize/login', fields, { Origin: origin })
      expect(res.status, origin).toBe(403)
    }
    const cross = await browser.post('/auth/authorize/login', fields, {
      Origin: 'null',
      'Sec-Fetch-Site': 'same-origin',
    })
    expect(cross.status).toBe(200)
    expect(await cross.text()).toContain('name="decision"')
  })

  it('refuses a form token from another browser, a forged one, or none', async () => {
    const alice = await makeUser()
    const { client } = await makeClient()
    const victim = new Browser()
    await loginForm(victim, client.client_id)
    const attacker = new Browser()
    const stolen = await loginForm(attacker, client.client_id)
    const fields = { username: alice.username, password: alice.password }
    const forged = `${stolen.split('.')[0]}x.${stolen.split('.')[1]}`
    for (const request of [stolen, forged, '']) {
      const res = await victim.post('/auth/authorize/login', { ...fields, request })
      expect(res.status).toBe(403)
      expect(await res.text()).toContain('expired or was not issued to this browser')
    }
  })

  it('refuses a consent decision without a valid token', async () => {
    const alice = await makeUser()
    const { client } = await makeClient()
    const browser = new Browser()
    await getCode(browser, client.client_id, alice, { scope: 'read' })
    const res = await browser.post('/auth/authorize/consent', { request: 'x.y', decision: 'allow' })
    expect(res.status).toBe(403)
  })
})

describe('sign-in and logout', () => {
  it('logging out of an app ends the browser sign-in too', async () => {
    const alice = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const browser = new Browser()
    const pair = await tokens(
      await exchange(await getCode(browser, client.client_id, alice), {
        client_id: client.client_id,
      }),
    )
    const res = await call('/auth/logout', {
      method: 'POST',
      headers: { Authorization: `Bearer ${pair.access_token}`, Cookie: browser.cookie },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('Set-Cookie')).toMatch(/Max-Age=0/)
    const again = await browser.get(await authorizeUrl(client.client_id))
    expect(again.status).toBe(200)
  })

  it('a password change or disabling ends the sign-in', async () => {
    const alice = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const browser = new Browser()
    await getCode(browser, client.client_id, alice)
    const { access_token } = await login(await makeUser({ role: 'admin' }))
    await call(`/users/${alice.id}`, {
      method: 'PATCH',
      ...bearer(access_token, { headers: { 'Content-Type': 'application/json' } }),
      body: JSON.stringify({ disabled: true }),
    })
    expect((await browser.get(await authorizeUrl(client.client_id))).status).toBe(200)
  })
})
