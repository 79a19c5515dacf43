import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/app'
import { basicHeader, bearer, call, form, json, login, makeUser } from '../../helpers'
import {
  Browser,
  claims,
  exchange,
  getCode,
  makeClient,
  REDIRECT,
  tokens,
} from '../../oauth-client'

/** A code for a fresh user through a first-party client (no consent page). */
async function codeFor(opts: Parameters<typeof makeClient>[0] = {}) {
  const user = await makeUser()
  const made = await makeClient({ first_party: true, ...opts })
  const code = await getCode(new Browser(), made.client.client_id, user)
  return { user, ...made, code }
}

const refresh = (refreshToken: string, fields: Record<string, string> = {}, headers = {}) => {
  const init = form({ grant_type: 'refresh_token', refresh_token: refreshToken, ...fields })
  return call('/auth/token', { ...init, headers: { ...init.headers, ...headers } })
}

const error = async (res: Response) => (await res.json<{ error: string }>()).error

describe('POST /auth/token: grant_type=authorization_code', () => {
  it('gives a public client tokens for its code, not cached, with client_id in the access token', async () => {
    const { code, client, user } = await codeFor()
    const res = await exchange(code, { client_id: client.client_id })
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(res.headers.get('Pragma')).toBe('no-cache')
    const pair = await tokens(res)
    expect(pair).toMatchObject({ token_type: 'bearer', scope: 'read write' })
    expect(claims(pair.access_token)).toMatchObject({ client_id: client.client_id, sub: user.id })
    const me = await call('/users/me', bearer(pair.access_token))
    expect(me.status).toBe(200)
    const row = await env.DB.prepare('SELECT code_hash FROM authorization_codes').all()
    expect(JSON.stringify(row.results)).not.toContain(code)
  })

  it('works without redirect_uri, but refuses another one than the code was issued for', async () => {
    const { code, client } = await codeFor({
      redirect_uris: [REDIRECT, 'https://app.example/other'],
    })
    const other = await exchange(code, {
      client_id: client.client_id,
      redirect_uri: 'https://app.example/other',
    })
    expect(other.status).toBe(400)
    expect(await error(other)).toBe('invalid_grant')
    await tokens(
      await call(
        '/auth/token',
        form({
          grant_type: 'authorization_code',
          code,
          client_id: client.client_id,
          code_verifier: 'verifier-0123456789-abcdefghijklmnopqrstuvwxyz',
        }),
      ),
    )
  })

  it('refuses a wrong or missing verifier without spending the code (PKCE)', async () => {
    const { code, client } = await codeFor()
    for (const code_verifier of ['x'.repeat(43), '', 'short']) {
      const res = await exchange(code, { client_id: client.client_id, code_verifier })
      expect(res.status).toBe(400)
      expect(await error(res)).toBe('invalid_grant')
    }
    await tokens(await exchange(code, { client_id: client.client_id }))
  })

  it('binds the code to its client: another client cannot use it, and does not spend it', async () => {
    const { code, client } = await codeFor()
    const other = await makeClient()
    const res = await exchange(code, { client_id: other.client.client_id })
    expect(await error(res)).toBe('invalid_grant')
    await tokens(await exchange(code, { client_id: client.client_id }))
  })

  it('refuses a code without client_id as invalid_client', async () => {
    const { code } = await codeFor()
    const res = await exchange(code, {})
    expect(res.status).toBe(401)
    expect(await error(res)).toBe('invalid_client')
  })

  it('refuses a used code and ends the session it gave (RFC 6749 §10.5)', async () => {
    const { code, client } = await codeFor()
    const pair = await tokens(await exchange(code, { client_id: client.client_id }))
    const replay = await exchange(code, { client_id: client.client_id })
    expect(replay.status).toBe(400)
    expect(await error(replay)).toBe('invalid_grant')
    expect((await call('/users/me', bearer(pair.access_token))).status).toBe(401)
    expect((await refresh(pair.refresh_token, { client_id: client.client_id })).status).toBe(400)
    const events = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM audit_events WHERE event = 'code_reuse_detected'",
    ).first<{ n: number }>()
    expect(events!.n).toBeGreaterThan(0)
  })

  it('gives one token set when the same code is redeemed twice at once', async () => {
    const { code, client } = await codeFor()
    const results = await Promise.all(
      Array.from({ length: 4 }, () => exchange(code, { client_id: client.client_id })),
    )
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400])
    const sessions = await env.DB.prepare('SELECT COUNT(*) AS n FROM sessions WHERE client_id = ?1')
      .bind(client.client_id)
      .first<{ n: number }>()
    expect(sessions!.n).toBe(1)
  })

  it('refuses an expired code', async () => {
    const { code, client } = await codeFor()
    await env.DB.prepare('UPDATE authorization_codes SET expires_at = 0').run()
    expect(await error(await exchange(code, { client_id: client.client_id }))).toBe('invalid_grant')
  })

  it('issues codes that live at most 60 seconds', async () => {
    await codeFor()
    const row = await env.DB.prepare(
      'SELECT MAX(expires_at - created_at) AS ttl FROM authorization_codes',
    ).first<{ ttl: number }>()
    expect(row!.ttl).toBeLessThanOrEqual(60)
  })

  it('refuses the code once its user or client is disabled', async () => {
    const a = await codeFor()
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(a.user.id).run()
    expect(await error(await exchange(a.code, { client_id: a.client.client_id }))).toBe(
      'invalid_grant',
    )
    const b = await codeFor()
    await env.DB.prepare('UPDATE clients SET disabled = 1 WHERE client_id = ?1')
      .bind(b.client.client_id)
      .run()
    expect((await exchange(b.code, { client_id: b.client.client_id })).status).toBe(401)
  })
})

describe('confidential clients', () => {
  const confidential = (method: 'client_secret_basic' | 'client_secret_post') =>
    codeFor({ token_endpoint_auth_method: method })

  it('authenticate with client_secret_basic, the id and secret form-urlencoded (RFC 6749 §2.3.1)', async () => {
    const { code, client, client_secret } = await confidential('client_secret_basic')
    const res = await exchange(
      code,
      {},
      {
        Authorization: basicHeader(
          encodeURIComponent(client.client_id),
          encodeURIComponent(client_secret!),
        ),
      },
    )
    await tokens(res)
  })

  it('refuse a wrong secret with 401 invalid_client and a Basic challenge, without spending the code', async () => {
    const { code, client, client_secret } = await confidential('client_secret_basic')
    const res = await exchange(code, {}, { Authorization: basicHeader(client.client_id, 'wrong') })
    expect(res.status).toBe(401)
    expect(await error(res)).toBe('invalid_client')
    expect(res.headers.get('WWW-Authenticate')).toBe('Basic realm="todo-auth", charset="UTF-8"')
    const noSecret = await exchange(code, { client_id: client.client_id })
    expect(noSecret.status).toBe(401)
    expect(noSecret.headers.get('WWW-Authenticate')).toBeNull()
    const post = await exchange(code, {
      client_id: client.client_id,
      client_secret: client_secret!,
    })
    expect(post.status).toBe(401) // registered for Basic, so the body method is refused
    await tokens(
      await exchange(code, {}, { Authorization: basicHeader(client.client_id, client_secret!) }),
    )
  })

  it('authenticate with client_secret_post', async () => {
    const { code, client, client_secret } = await confidential('client_secret_post')
    await tokens(
      await exchange(code, { client_id: client.client_id, client_secret: client_secret! }),
    )
  })

  it('refuse two authentication methods at once', async () => {
    const { code, client, client_secret } = await confidential('client_secret_basic')
    const res = await exchange(
      code,
      { client_secret: client_secret! },
      { Authorization: basicHeader(client.client_id, client_secret!) },
    )
    expect(res.status).toBe(400)
  })

  it('stop working with the old secret once it is rotated', async () => {
    const { code, client, client_secret } = await confidential('client_secret_basic')
    const { access_token } = await login(await makeUser({ role: 'admin' }))
    const rotated = await call(`/admin/clients/${client.client_id}/secret`, {
      method: 'POST',
      ...bearer(access_token),
    })
    const { client_secret: fresh } = await rotated.json<{ client_secret: string }>()
    const old = await exchange(
      code,
      {},
      { Authorization: basicHeader(client.client_id, client_secret!) },
    )
    expect(old.status).toBe(401)
    await tokens(await exchange(code, {}, { Authorization: basicHeader(client.client_id, fresh) }))
  })
})

describe('grants and clients', () => {
  it('answers unauthorized_client for a grant the client is not registered for', async () => {
    const user = await makeUser()
    const { client } = await makeClient()
    const res = await call(
      '/auth/token',
      form({
        grant_type: 'password',
        username: user.username,
        password: user.password,
        client_id: client.client_id,
      }),
    )
    expect(res.status).toBe(400)
    expect(await error(res)).toBe('unauthorized_client')
  })

  it('lets a refresh token work only for the client it was issued to', async () => {
    const { code, client } = await codeFor()
    const pair = await tokens(await exchange(code, { client_id: client.client_id }))
    const other = await makeClient()
    expect(
      await error(await refresh(pair.refresh_token, { client_id: other.client.client_id })),
    ).toBe('invalid_grant')
    expect(await error(await refresh(pair.refresh_token))).toBe('invalid_grant')
    const next = await tokens(await refresh(pair.refresh_token, { client_id: client.client_id }))
    expect(claims(next.access_token).client_id).toBe(client.client_id)
    // Rotation and reuse detection as before.
    expect(await error(await refresh(pair.refresh_token, { client_id: client.client_id }))).toBe(
      'invalid_grant',
    )
    expect((await call('/users/me', bearer(next.access_token))).status).toBe(401)
  })

  it('keeps the legacy password grant without a client, and ALLOW_PASSWORD_GRANT=false turns it off', async () => {
    const user = await makeUser()
    const pair = await login(user)
    expect(claims(pair.access_token)).not.toHaveProperty('client_id')
    // Swagger UI's Authorize sends empty Basic credentials: no client, and no Basic challenge.
    const init = form({ grant_type: 'password', username: user.username, password: user.password })
    const swagger = await call('/auth/token', {
      ...init,
      headers: { ...init.headers, Authorization: basicHeader('', '') },
    })
    expect(swagger.status).toBe(200)
    const off = await createApp().request(
      '/auth/token',
      form({ grant_type: 'password', username: user.username, password: user.password }),
      { ...env, ALLOW_PASSWORD_GRANT: 'false' },
    )
    expect(off.status).toBe(400)
    expect(await off.json()).toEqual({
      error: 'unsupported_grant_type',
      error_description:
        'Supported grant types are "authorization_code", "refresh_token", "client_credentials", ' +
        '"urn:ietf:params:oauth:grant-type:device_code".',
    })
  })

  it('ends every session of a client at once when it is disabled or deleted', async () => {
    const { access_token: admin } = await login(await makeUser({ role: 'admin' }))
    for (const change of ['disable', 'delete']) {
      const { code, client } = await codeFor()
      const pair = await tokens(await exchange(code, { client_id: client.client_id }))
      const path = `/admin/clients/${client.client_id}`
      const res =
        change === 'disable'
          ? await call(path, json('PATCH', { disabled: true }, admin))
          : await call(path, { method: 'DELETE', ...bearer(admin) })
      expect(res.status, change).toBeLessThan(300)
      expect((await call('/users/me', bearer(pair.access_token))).status, change).toBe(401)
      expect((await refresh(pair.refresh_token, { client_id: client.client_id })).status).not.toBe(
        200,
      )
    }
  })

  it('lists the apps a user authorized, and withdrawing one ends its sessions', async () => {
    const user = await makeUser()
    const { client } = await makeClient({ client_name: 'Third Party' })
    const browser = new Browser()
    const pair = await tokens(
      await exchange(await getCode(browser, client.client_id, user, { scope: 'read' }), {
        client_id: client.client_id,
      }),
    )
    const listed = await call('/users/me/clients', bearer(pair.access_token))
    expect(await listed.json()).toEqual([
      expect.objectContaining({
        client_id: client.client_id,
        client_name: 'Third Party',
        scope: 'read',
      }),
    ])
    const other = await login(user)
    const del = await call(`/users/me/clients/${client.client_id}`, {
      method: 'DELETE',
      ...bearer(other.access_token),
    })
    expect(del.status).toBe(204)
    expect((await call('/users/me', bearer(pair.access_token))).status).toBe(401)
    expect((await call('/users/me', bearer(other.access_token))).status).toBe(200)
    expect(await (await call('/users/me/clients', bearer(other.access_token))).json()).toEqual([])
    const again = await call(`/users/me/clients/${client.client_id}`, {
      method: 'DELETE',
      ...bearer(other.access_token),
    })
    expect(again.status).toBe(404)
    // Consent is asked again.
    const res = await browser.get(
      `/auth/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', scope: 'read' })}`,
    )
    expect(await res.text()).toContain('name="decision"')
  })
})
