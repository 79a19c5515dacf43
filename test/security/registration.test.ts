import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { bearer, call, json, login, makeUser } from '../helpers'
import { makeClient, ORIGIN } from '../oauth-client'

// The second outside penetration test (docs/security.md): what the client registry accepts, through RFC 7591
// registration and the admin API alike. Each test fails on the code before its fix.

const app = createApp()

/** POST /auth/clients with ALLOW_CLIENT_REGISTRATION on, as `npm run dev` runs it. */
const register = (body: unknown, headers: Record<string, string> = {}) => {
  const init = json('POST', body)
  return app.request(
    `${ORIGIN}/auth/clients`,
    { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } },
    { ...env, ALLOW_CLIENT_REGISTRATION: 'true' },
  )
}

const APP = { client_name: 'Example App', redirect_uris: ['https://app.example/cb'] }
/** What registrations send: not the name of the administrator's `APP`, which they may not take. */
const MINE = { ...APP, client_name: 'My App' }
const adminToken = async () => (await login(await makeUser({ role: 'admin' }))).access_token

type Refusal = { error: string; issues?: { path: string; message: string }[] }

async function expectRefused(res: Response, error: string, path: string, message?: string) {
  expect(res.status).toBe(400)
  const body = await res.json<Refusal>()
  expect(body.error).toBe(error)
  const issue = body.issues?.find((i) => i.path.startsWith(path))
  expect(issue, JSON.stringify(body)).toBeDefined()
  if (message) expect(issue!.message).toContain(message)
}

describe('RFC 7591 §5: a registered app cannot pose as one the administrator registered', () => {
  it('refuses the name of an admin-registered app, after NFKC and case folding', async () => {
    await makeClient({ client_name: 'todo CLI' })
    await makeClient({ client_name: 'Straße Planner' })
    for (const name of [
      'todo-auth web app', // the seeded first-party web client
      'TODO-AUTH WEB APP',
      'todo cli',
      'ｔｏｄｏ ＣＬＩ', // full width: NFKC makes it "todo CLI"
      ' todo  CLI ',
      'STRASSE PLANNER', // ß case-folds to ss
    ]) {
      const res = await register({ ...MINE, client_name: name })
      await expectRefused(res, 'invalid_client_metadata', 'client_name')
    }
    // A name another registrant chose is not protected: only the administrator's are.
    expect((await register({ ...MINE, client_name: 'Shared Name' })).status).toBe(201)
    expect((await register({ ...MINE, client_name: 'shared name' })).status).toBe(201)
  })

  it('refuses bidirectional controls and other format characters in any client name', async () => {
    const token = await adminToken()
    for (const name of [
      'Invoice \u202Efdp.exe', // right-to-left override
      'todo\u200BCLI', // zero-width space
      'a\u2066b\u2069', // isolates
      '\uFEFFApp', // byte order mark
      'soft\u00ADhyphen',
      'bell\u0007',
    ]) {
      await expectRefused(
        await register({ ...MINE, client_name: name }),
        'invalid_client_metadata',
        'client_name',
      )
      const admin = await call('/admin/clients', json('POST', { ...APP, client_name: name }, token))
      await expectRefused(admin, 'invalid_request', 'client_name')
    }
  })
})

describe('redirect URIs are stored only in their canonical form', () => {
  const MALFORMED: [uri: string, says: string][] = [
    ['https:evil.example', 'https://'],
    ['https:///cb', 'https://cb/'],
    ['https://evil.example\\@app.example/cb', 'backslash'],
    ['https:\\\\evil.example/cb', 'backslash'],
    ['https://app.example', 'https://app.example/'],
    ['HTTPS://app.example/cb', 'https://app.example/cb'],
    ['https://APP.example/cb', 'https://app.example/cb'],
    ['https://app.example:443/cb', 'https://app.example/cb'],
    ['https://app.example/a/../cb', 'https://app.example/cb'],
    ['http://127.0.0.1:8000', 'http://127.0.0.1:8000/'],
    ['Com.Example.App:/cb', 'com.example.app:/cb'],
  ]

  it('refuses anything else in registration, saying the canonical form', async () => {
    for (const [uri, says] of MALFORMED)
      await expectRefused(
        await register({ ...MINE, redirect_uris: [uri] }),
        'invalid_redirect_uri',
        'redirect_uris',
        says,
      )
  })

  it('refuses the same in the admin API, creating and changing a client', async () => {
    const token = await adminToken()
    const { client } = await makeClient()
    for (const [uri, says] of MALFORMED) {
      const created = await call(
        '/admin/clients',
        json('POST', { ...APP, redirect_uris: [uri] }, token),
      )
      await expectRefused(created, 'invalid_request', 'redirect_uris', says)
      const changed = await call(
        `/admin/clients/${client.client_id}`,
        json('PATCH', { redirect_uris: [uri] }, token),
      )
      await expectRefused(changed, 'invalid_request', 'redirect_uris', says)
    }
    const stored = await call(`/admin/clients/${client.client_id}`, bearer(token))
    expect((await stored.json<{ redirect_uris: string[] }>()).redirect_uris).toEqual(
      APP.redirect_uris,
    )
    // The canonical spellings are accepted.
    for (const uri of ['https://app.example/', 'http://127.0.0.1:8000/', 'com.example.app:/cb']) {
      const ok = await call('/admin/clients', json('POST', { ...APP, redirect_uris: [uri] }, token))
      expect(ok.status, uri).toBe(201)
    }
  })
})

describe('RFC 7591 §2: only redirect-based clients need a redirect URI', () => {
  const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'

  it('registers device and service clients without one, and code-flow clients only with one', async () => {
    const token = await adminToken()
    const device = await call(
      '/admin/clients',
      json(
        'POST',
        {
          client_name: 'Kiosk',
          grant_types: [DEVICE, 'refresh_token'],
          token_endpoint_auth_method: 'none',
        },
        token,
      ),
    )
    expect(device.status, await device.clone().text()).toBe(201)
    const kiosk = await device.json<{ client_id: string; redirect_uris: string[] }>()
    expect(kiosk.redirect_uris).toEqual([])
    const service = await call(
      '/admin/clients',
      json(
        'POST',
        { client_name: 'Reports', grant_types: ['client_credentials'], scope: 'users:read' },
        token,
      ),
    )
    expect(service.status, await service.clone().text()).toBe(201)

    const code = await call('/admin/clients', json('POST', { client_name: 'Web' }, token))
    await expectRefused(code, 'invalid_request', 'redirect_uris', 'authorization_code')
    const empty = await call(
      '/admin/clients',
      json('POST', { client_name: 'Web', redirect_uris: [] }, token),
    )
    await expectRefused(empty, 'invalid_request', 'redirect_uris', 'authorization_code')

    // Changing a client keeps the rule, against what is stored.
    const path = `/admin/clients/${kiosk.client_id}`
    const withCode = await call(
      path,
      json('PATCH', { grant_types: ['authorization_code', DEVICE] }, token),
    )
    await expectRefused(withCode, 'invalid_request', 'redirect_uris', 'authorization_code')
    const { client: web } = await makeClient()
    const emptied = await call(
      `/admin/clients/${web.client_id}`,
      json('PATCH', { redirect_uris: [] }, token),
    )
    await expectRefused(emptied, 'invalid_request', 'redirect_uris', 'authorization_code')
    // A device client may drop the redirect URIs it had, and both may change at once.
    const { client: tv } = await makeClient({ grant_types: [DEVICE] })
    const dropped = await call(
      `/admin/clients/${tv.client_id}`,
      json('PATCH', { redirect_uris: [] }, token),
    )
    expect(dropped.status).toBe(200)
    const both = await call(
      path,
      json(
        'PATCH',
        { grant_types: ['authorization_code'], redirect_uris: ['https://kiosk.example/cb'] },
        token,
      ),
    )
    expect(both.status).toBe(200)
  })
})

describe('the registration throttle', () => {
  it('does not count local development: wrangler dev sends a loopback CF-Connecting-IP', async () => {
    for (const address of ['127.0.0.1', '::1'])
      for (let i = 0; i < 11; i++) {
        const res = await register(MINE, { 'CF-Connecting-IP': address })
        expect(res.status, `${address} #${i + 1}`).toBe(201)
      }
    const counters = await env.DB.prepare(
      "SELECT key FROM login_failures WHERE key LIKE 'client-signup:%'",
    ).all()
    expect(counters.results).toEqual([])
    // Any other address is counted: the 11th in an hour is refused.
    const ip = { 'CF-Connecting-IP': '198.51.100.9' }
    for (let i = 0; i < 10; i++) expect((await register(MINE, ip)).status).toBe(201)
    expect((await register(MINE, ip)).status).toBe(429)
  })
})
