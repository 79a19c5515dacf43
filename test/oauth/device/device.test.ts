import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { updateClient } from '../../../src/db/clients'
import { sha256Hex } from '../../../src/lib/crypto'
import {
  bearer,
  call,
  form,
  json,
  login,
  makeUser,
  type TestUser,
  type TokenPair,
} from '../../helpers'
import { authorizeUrl, Browser, makeClient, requestToken } from '../../oauth-client'

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'

type Authorization = {
  device_code: string
  user_code: string
  verification_uri: string
  verification_uri_complete: string
  expires_in: number
  interval: number
}

async function deviceClient(grants: string[] = [DEVICE, 'refresh_token']) {
  const { client } = await makeClient({ grant_types: grants as never, scope: 'read write' })
  return client.client_id
}

async function start(clientId: string, fields: Record<string, string> = {}, headers = {}) {
  const init = form({ client_id: clientId, ...fields })
  const res = await call('/auth/device_authorization', {
    ...init,
    headers: { ...init.headers, ...headers },
  })
  return { res, body: (await res.json()) as Authorization & { error?: string } }
}

/**
 * A poll at the token endpoint. The previous poll's time is first set well in the past (or, with
 * `tooSoon`, in the future), so whether this one is too fast never depends on the clock.
 */
async function poll(clientId: string, deviceCode: string, { tooSoon = false } = {}) {
  await env.DB.prepare('UPDATE device_codes SET last_polled_at = ?2 WHERE device_code_hash = ?1')
    .bind(await sha256Hex(deviceCode), tooSoon ? 4_000_000_000 : 0)
    .run()
  const res = await call(
    '/auth/token',
    form({ grant_type: DEVICE, device_code: deviceCode, client_id: clientId }),
  )
  return { res, body: (await res.json()) as TokenPair & { error?: string } }
}

/** The person's side: open the link, enter the code, sign in if asked, decide. */
async function approve(
  browser: Browser,
  userCode: string,
  user: Pick<TestUser, 'username' | 'password'>,
  decision: 'allow' | 'deny' = 'allow',
) {
  const page = await browser.get(`/device?user_code=${encodeURIComponent(userCode)}`)
  expect(page.status).toBe(200)
  let res = await browser.post('/device/code', {
    request: requestToken(await page.text()),
    user_code: userCode,
  })
  let html = await res.text()
  expect(res.status, html).toBe(200)
  if (html.includes('action="/device/login"')) {
    res = await browser.post('/device/login', {
      request: requestToken(html),
      username: user.username,
      password: user.password,
    })
    html = await res.text()
    expect(res.status, html).toBe(200)
  }
  expect(html).toContain('action="/device/decision"')
  res = await browser.post('/device/decision', { request: requestToken(html), decision })
  return { res, html: await res.text(), consent: html }
}

describe('POST /auth/device_authorization (RFC 8628 §3.1)', () => {
  it('gives a device code, a readable user code and where to enter it', async () => {
    const { res, body } = await start(await deviceClient())
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(body.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/)
    expect(body.device_code.length).toBeGreaterThanOrEqual(43)
    expect(body.verification_uri).toBe('https://todo.test/device')
    expect(body.verification_uri_complete).toBe(
      `https://todo.test/device?user_code=${body.user_code}`,
    )
    expect(body.expires_in).toBe(600)
    expect(body.interval).toBe(5)
    // Only the digest of the device code is stored.
    const stored = await env.DB.prepare(
      'SELECT device_code_hash FROM device_codes WHERE user_code = ?1',
    )
      .bind(body.user_code.replace('-', ''))
      .first<{ device_code_hash: string }>()
    expect(stored?.device_code_hash).toBe(await sha256Hex(body.device_code))
  })

  it('refuses a client not registered for the device grant, an unknown one and no client', async () => {
    const codeOnly = await deviceClient(['authorization_code'])
    expect((await start(codeOnly)).body.error).toBe('unauthorized_client')
    const unknown = await start('no-such-client')
    expect(unknown.res.status).toBe(401)
    expect(unknown.body.error).toBe('invalid_client')
    const none = await call('/auth/device_authorization', form({}))
    expect(none.status).toBe(401)
  })

  it('refuses a scope beyond the client’s, and a disabled client', async () => {
    const { client } = await makeClient({ grant_types: [DEVICE] as never, scope: 'read' })
    expect((await start(client.client_id, { scope: 'write' })).body.error).toBe('invalid_scope')
    expect((await start(client.client_id, { scope: 'root' })).body.error).toBe('invalid_scope')
    await updateClient(env.DB, client.client_id, { disabled: true })
    expect((await start(client.client_id)).res.status).toBe(401)
  })
})

describe('the device flow, end to end through the verification page', () => {
  it('signs the device in once the person allows it, with the scope they hold', async () => {
    const clientId = await deviceClient()
    const user = await makeUser({ scopes: 'read' })
    const { body: auth } = await start(clientId, {}, { 'User-Agent': 'todo-cli/1.0' })
    expect((await poll(clientId, auth.device_code)).body.error).toBe('authorization_pending')

    const browser = new Browser()
    const { res, html, consent } = await approve(browser, auth.user_code, user)
    expect(res.status).toBe(200)
    expect(html).toContain('Device connected')
    // RFC 8628 §5.4: the approval page says who asks, for what, and where from.
    expect(consent).toContain(auth.user_code)
    expect(consent).toContain('todo-cli/1.0')
    expect(consent).toContain('Example App')
    expect(consent).toContain('Only allow this if you started it yourself')

    const { res: done, body } = await poll(clientId, auth.device_code)
    expect(done.status).toBe(200)
    expect(body.scope).toBe('read')
    expect(body.refresh_token).toBeTruthy()
    expect((await call('/api/todos', bearer(body.access_token))).status).toBe(200)
    // The device refreshes as the client it is.
    const refreshed = await call(
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: clientId }),
    )
    expect(refreshed.status).toBe(200)
    // Redeemed once: the next poll is refused.
    expect((await poll(clientId, auth.device_code)).body.error).toBe('invalid_grant')
  })

  it('accepts the code in any case and without its dash, and skips the login when signed in', async () => {
    const clientId = await deviceClient()
    const user = await makeUser()
    const browser = new Browser()
    const first = await start(clientId)
    await approve(browser, first.body.user_code, user)
    const second = await start(clientId)
    const page = await browser.get('/device')
    const res = await browser.post('/device/code', {
      request: requestToken(await page.text()),
      user_code: second.body.user_code.replace('-', '').toLowerCase(),
    })
    const html = await res.text()
    expect(res.status).toBe(200)
    expect(html).toContain('action="/device/decision"')
    expect(html).not.toContain('action="/device/login"')
  })

  it('answers access_denied when the person denies', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    const { html } = await approve(new Browser(), auth.user_code, await makeUser(), 'deny')
    expect(html).toContain('Request denied')
    const { res, body } = await poll(clientId, auth.device_code)
    expect(res.status).toBe(400)
    expect(body.error).toBe('access_denied')
  })

  it('answers slow_down to a poll that comes too soon, and adds 5 seconds to the interval', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    const { res, body } = await poll(clientId, auth.device_code, { tooSoon: true })
    expect(res.status).toBe(400)
    expect(body.error).toBe('slow_down')
    const row = await env.DB.prepare(
      'SELECT poll_interval FROM device_codes WHERE device_code_hash = ?1',
    )
      .bind(await sha256Hex(auth.device_code))
      .first<{ poll_interval: number }>()
    expect(row?.poll_interval).toBe(10)
    expect((await poll(clientId, auth.device_code)).body.error).toBe('authorization_pending')
  })

  it('answers expired_token once the code has expired, even if it was approved', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    await approve(new Browser(), auth.user_code, await makeUser())
    await env.DB.prepare('UPDATE device_codes SET expires_at = 1 WHERE device_code_hash = ?1')
      .bind(await sha256Hex(auth.device_code))
      .run()
    const { res, body } = await poll(clientId, auth.device_code)
    expect(res.status).toBe(400)
    expect(body.error).toBe('expired_token')
  })

  it('refuses an unknown device code, another client’s, and a poll without one', async () => {
    const clientId = await deviceClient()
    const other = await deviceClient()
    const { body: auth } = await start(clientId)
    expect((await poll(other, auth.device_code)).body.error).toBe('invalid_grant')
    expect((await poll(clientId, 'not-a-device-code')).body.error).toBe('invalid_grant')
    const res = await call('/auth/token', form({ grant_type: DEVICE, client_id: clientId }))
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request')
  })

  it('redeems an approved code exactly once under concurrent polling', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    await approve(new Browser(), auth.user_code, await makeUser())
    const polls = await Promise.all(
      Array.from({ length: 6 }, () =>
        call(
          '/auth/token',
          form({ grant_type: DEVICE, device_code: auth.device_code, client_id: clientId }),
        ),
      ),
    )
    const statuses = polls.map((r) => r.status).sort()
    expect(statuses).toEqual([200, 400, 400, 400, 400, 400])
    const sessions = await env.DB.prepare(`SELECT count(*) AS n FROM sessions WHERE client_id = ?1`)
      .bind(clientId)
      .first<{ n: number }>()
    expect(sessions?.n).toBe(1)
  })

  it('gives no tokens when the user was disabled after approving', async () => {
    const clientId = await deviceClient()
    const user = await makeUser()
    const { body: auth } = await start(clientId)
    await approve(new Browser(), auth.user_code, user)
    const admin = await makeUser({ role: 'admin' })
    const adminToken = (await login(admin)).access_token
    await call(`/users/${user.id}`, json('PATCH', { disabled: true }, adminToken))
    const { res, body } = await poll(clientId, auth.device_code)
    expect(res.status).toBe(400)
    expect(body.error).toBe('invalid_grant')
  })

  it('gives no tokens when the client was disabled after the person approved', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    await approve(new Browser(), auth.user_code, await makeUser())
    await updateClient(env.DB, clientId, { disabled: true })
    const { res } = await poll(clientId, auth.device_code)
    expect(res.status).toBe(401)
  })
})

describe('the verification page', () => {
  it('refuses a form from another site, from another browser, or sealed for the code flow', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    const browser = new Browser()
    const token = requestToken(await (await browser.get('/device')).text())
    const crossSite = await browser.post(
      '/device/code',
      { request: token, user_code: auth.user_code },
      { Origin: 'https://evil.example' },
    )
    expect(crossSite.status).toBe(403)
    const other = new Browser()
    await other.get('/device')
    const stolen = await other.post('/device/code', { request: token, user_code: auth.user_code })
    expect(stolen.status).toBe(403)
    // A login page's token of the authorization endpoint is no device form's token.
    const { client } = await makeClient()
    const authorizeToken = requestToken(
      await (await browser.get(await authorizeUrl(client.client_id))).text(),
    )
    const mixed = await browser.post('/device/code', {
      request: authorizeToken,
      user_code: auth.user_code,
    })
    expect(mixed.status).toBe(403)
  })

  it('limits wrong codes per browser, then answers 429', async () => {
    const browser = new Browser()
    const token = requestToken(await (await browser.get('/device')).text())
    for (let i = 0; i < 5; i++) {
      const res = await browser.post('/device/code', { request: token, user_code: 'BBBB-BBBB' })
      expect(res.status).toBe(400)
      expect(await res.text()).toContain('That code is not valid or has expired')
    }
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId)
    // Locked: even the right code is not looked at.
    const locked = await browser.post('/device/code', { request: token, user_code: auth.user_code })
    expect(locked.status).toBe(429)
  })

  it('limits wrong codes per address across browsers', async () => {
    const address = { 'CF-Connecting-IP': '198.51.100.77' }
    let last = 0
    for (let i = 0; i < 21; i++) {
      const browser = new Browser()
      const token = requestToken(await (await browser.get('/device')).text())
      const res = await browser.post('/device/code', { request: token, user_code: 'x' }, address)
      last = res.status
      if (i < 20) expect(res.status).toBe(400)
    }
    expect(last).toBe(429)
  })

  it('escapes what the device and the person typed', async () => {
    const clientId = await deviceClient()
    const { body: auth } = await start(clientId, {}, { 'User-Agent': '<script>alert(1)</script>' })
    const browser = new Browser()
    const page = await browser.get('/device?user_code=%22%3E%3Cb%3Ex')
    const pageHtml = await page.text()
    expect(pageHtml).not.toContain('"><b>x')
    expect(pageHtml).toContain('&quot;&gt;&lt;b&gt;x')
    expect(page.headers.get('Content-Security-Policy')).toContain("default-src 'none'")
    expect(page.headers.get('Cache-Control')).toBe('no-store')
    const { consent } = await approve(browser, auth.user_code, await makeUser())
    expect(consent).not.toContain('<script>alert(1)</script>')
    expect(consent).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
  })

  it('asks the person to sign in again with a wrong password, and never approves without Allow', async () => {
    const clientId = await deviceClient()
    const user = await makeUser()
    const { body: auth } = await start(clientId)
    const browser = new Browser()
    const page = await browser.get('/device')
    const res = await browser.post('/device/code', {
      request: requestToken(await page.text()),
      user_code: auth.user_code,
    })
    const wrong = await browser.post('/device/login', {
      request: requestToken(await res.text()),
      username: user.username,
      password: 'not the password',
    })
    expect(wrong.status).toBe(400)
    expect(await wrong.text()).toContain('Incorrect username or password.')
    expect((await poll(clientId, auth.device_code)).body.error).toBe('authorization_pending')
  })
})
