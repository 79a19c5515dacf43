import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/app'
import { bearer, call, json, login, makeUser } from '../../helpers'

const admin = async () => (await login(await makeUser({ role: 'admin' }))).access_token

const APP = {
  client_name: 'Example App',
  redirect_uris: ['https://app.example/cb'],
}
/** A registration: not the name of an administrator's client (`APP`), which it may not take. */
const MINE = { ...APP, client_name: 'My App' }

/** POST /auth/clients with ALLOW_CLIENT_REGISTRATION on, as `npm run dev` runs it. */
const register = (body: unknown, headers: Record<string, string> = {}) => {
  const init = json('POST', body)
  return createApp().request(
    '/auth/clients',
    { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } },
    { ...env, ALLOW_CLIENT_REGISTRATION: 'true' },
  )
}

describe('/admin/clients', () => {
  it('registers a confidential client and shows its secret once, stored only as a hash', async () => {
    const token = await admin()
    const res = await call('/admin/clients', json('POST', APP, token))
    expect(res.status).toBe(201)
    const created = await res.json<Record<string, unknown>>()
    expect(created).toMatchObject({
      client_name: 'Example App',
      client_type: 'confidential',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'read write',
      first_party: false,
      disabled: false,
      client_secret_expires_at: 0,
    })
    expect(created.client_secret).toMatch(/^[\w-]{43}$/)
    expect(res.headers.get('Location')).toBe(`/admin/clients/${created.client_id}`)
    const row = await env.DB.prepare('SELECT client_secret_hash FROM clients WHERE client_id = ?1')
      .bind(created.client_id)
      .first<{ client_secret_hash: string }>()
    expect(row!.client_secret_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(row!.client_secret_hash).not.toContain(created.client_secret as string)

    const shown = await (await call(`/admin/clients/${created.client_id}`, bearer(token))).json()
    expect(shown).not.toHaveProperty('client_secret')
    const list = await (await call('/admin/clients', bearer(token))).json<{ client_id: string }[]>()
    expect(list.map((c) => c.client_id)).toContain(created.client_id)
  })

  it('registers a public client with no secret', async () => {
    const res = await call(
      '/admin/clients',
      json('POST', { ...APP, token_endpoint_auth_method: 'none' }, await admin()),
    )
    expect(res.status).toBe(201)
    const created = await res.json<Record<string, unknown>>()
    expect(created).toMatchObject({ client_type: 'public', token_endpoint_auth_method: 'none' })
    expect(created).not.toHaveProperty('client_secret')
  })

  it('refuses dangerous or malformed redirect URIs', async () => {
    const token = await admin()
    for (const uri of [
      'JaVaScRiPt:alert(1)',
      'javascript://example.com/%0aalert(1)',
      'data:text/html,hi',
      'file:///etc/passwd',
      'vbscript:msgbox',
      'blob:https://app.example/x',
      'http://app.example/cb',
      'https://app.example/cb#frag',
      'https://user:pw@app.example/cb',
      '/relative',
      'https://app.example/c b',
    ]) {
      const res = await call(
        '/admin/clients',
        json('POST', { ...APP, redirect_uris: [uri] }, token),
      )
      expect(res.status, uri).toBe(400)
    }
    for (const uri of [
      'http://127.0.0.1/cb',
      'http://[::1]:8080/cb',
      'http://localhost/cb',
      'com.example.app:/oauth',
    ]) {
      const res = await call(
        '/admin/clients',
        json('POST', { ...APP, redirect_uris: [uri] }, token),
      )
      expect(res.status, uri).toBe(201)
    }
  })

  it('is for admins only', async () => {
    const { access_token } = await login(await makeUser())
    expect((await call('/admin/clients', bearer(access_token))).status).toBe(403)
    expect((await call('/admin/clients', json('POST', APP, access_token))).status).toBe(403)
  })

  it('changes a client, rotates a secret, and answers 404 for unknown ones', async () => {
    const token = await admin()
    const created = await (await call('/admin/clients', json('POST', APP, token))).json<{
      client_id: string
      client_secret: string
    }>()
    const path = `/admin/clients/${created.client_id}`
    const patched = await call(
      path,
      json('PATCH', { client_name: 'Renamed', scope: 'read' }, token),
    )
    expect(await patched.json()).toMatchObject({ client_name: 'Renamed', scope: 'read' })
    const rotated = await call(`${path}/secret`, { method: 'POST', ...bearer(token) })
    expect(rotated.status).toBe(200)
    const { client_secret } = await rotated.json<{ client_secret: string }>()
    expect(client_secret).not.toBe(created.client_secret)
    expect((await call('/admin/clients/nope', bearer(token))).status).toBe(404)
    expect(
      (await call('/admin/clients/nope', json('PATCH', { scope: 'read' }, token))).status,
    ).toBe(404)
    expect((await call('/admin/clients/nope', { method: 'DELETE', ...bearer(token) })).status).toBe(
      404,
    )
    const web = await call('/admin/clients/todo-web/secret', { method: 'POST', ...bearer(token) })
    expect(web.status).toBe(409)
    expect((await call(path, { method: 'DELETE', ...bearer(token) })).status).toBe(204)
    expect((await call(path, bearer(token))).status).toBe(404)
  })

  it('seeds the first-party web client', async () => {
    const res = await call('/admin/clients/todo-web', bearer(await admin()))
    expect(await res.json()).toMatchObject({
      client_type: 'public',
      first_party: true,
      redirect_uris: ['/'],
    })
  })
})

describe('POST /auth/clients (RFC 7591)', () => {
  it('is 404 while ALLOW_CLIENT_REGISTRATION is off (the default)', async () => {
    expect((await call('/auth/clients', json('POST', APP))).status).toBe(404)
    expect((await call('/auth/clients')).status).toBe(404)
  })

  it('registers a public code-flow client when on', async () => {
    const res = await register({ ...MINE, unknown_field: 'ignored' })
    expect(res.status).toBe(201)
    const body = await res.json<Record<string, unknown>>()
    expect(body).toMatchObject({
      client_name: 'My App',
      redirect_uris: ['https://app.example/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'read write',
    })
    expect(body).not.toHaveProperty('client_secret')
    expect(body.client_id_issued_at).toEqual(expect.any(Number))
    const row = await env.DB.prepare(
      'SELECT client_type, first_party FROM clients WHERE client_id = ?1',
    )
      .bind(body.client_id)
      .first()
    expect(row).toEqual({ client_type: 'public', first_party: 0 })
  })

  it('never gives a registered client a secret, another grant, first-party status or more scope', async () => {
    for (const extra of [
      { token_endpoint_auth_method: 'client_secret_basic' },
      { grant_types: ['client_credentials'] },
      { grant_types: ['password'] },
      { grant_types: ['refresh_token'] },
      { scope: 'read write admin' },
      { response_types: ['token'] },
    ]) {
      const res = await register({ ...MINE, ...extra })
      expect(res.status, JSON.stringify(extra)).toBe(400)
      expect((await res.json<{ error: string }>()).error).toBe('invalid_client_metadata')
    }
    const res = await register({ ...MINE, first_party: true })
    expect(res.status).toBe(201)
    const { client_id } = await res.json<{ client_id: string }>()
    const row = await env.DB.prepare('SELECT first_party FROM clients WHERE client_id = ?1')
      .bind(client_id)
      .first()
    expect(row).toEqual({ first_party: 0 })
  })

  it('answers invalid_redirect_uri for a bad redirect URI', async () => {
    for (const uri of ['JaVaScRiPt:alert(1)', 'http://evil.example/cb', 'https://a.example/#x']) {
      const res = await register({ redirect_uris: [uri] })
      expect(res.status, uri).toBe(400)
      expect((await res.json<{ error: string }>()).error).toBe('invalid_redirect_uri')
    }
  })

  it('throttles registrations per client address', async () => {
    const ip = { 'CF-Connecting-IP': '203.0.113.77' }
    for (let i = 0; i < 10; i++) expect((await register(MINE, ip)).status).toBe(201)
    const res = await register(MINE, ip)
    expect(res.status).toBe(429)
    expect(res.headers.get('Retry-After')).toMatch(/^\d+$/)
    expect((await register(MINE, { 'CF-Connecting-IP': '203.0.113.78' })).status).toBe(201)
  })

  it('counts an IPv6 client by its /64, whatever address in it it uses', async () => {
    for (let i = 0; i < 10; i++) {
      const ip = { 'CF-Connecting-IP': `2001:db8:77:1::${(i + 1).toString(16)}` }
      expect((await register(MINE, ip)).status).toBe(201)
    }
    const sameHost = await register(MINE, { 'CF-Connecting-IP': '2001:DB8:77:1:ffff::9' })
    expect(sameHost.status).toBe(429)
    expect((await register(MINE, { 'CF-Connecting-IP': '2001:db8:77:2::1' })).status).toBe(201)
  })

  it('is in /openapi.json only while registration is on', async () => {
    const paths = async (on: string) => {
      const res = await createApp().request(
        '/openapi.json',
        {},
        { ...env, ALLOW_CLIENT_REGISTRATION: on },
      )
      return Object.keys((await res.json<{ paths: Record<string, unknown> }>()).paths)
    }
    expect(await paths('false')).not.toContain('/auth/clients')
    expect(await paths('true')).toContain('/auth/clients')
  })
})
