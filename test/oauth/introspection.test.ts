import { env } from 'cloudflare:test'
import { afterEach, describe, expect, vi } from 'vitest'
import { updateClient } from '../../src/db/clients'
import { bearer, call, form, it, json, login, makeUser, type TokenPair } from '../helpers'
import { makeClient } from '../oauth-client'

type Credentials = { client_id: string; client_secret: string }

/**
 * A confidential client holding `introspect`; by default a resource server registered for client
 * credentials.
 */
async function confidential(
  grants: ('client_credentials' | 'password' | 'refresh_token')[] = ['client_credentials'],
): Promise<Credentials> {
  const { client, client_secret } = await makeClient({
    grant_types: grants,
    scope: 'read write audit:read introspect',
    token_endpoint_auth_method: 'client_secret_post',
  })
  return { client_id: client.client_id, client_secret: client_secret! }
}

const introspect = async (token: string, by: Credentials | Record<string, string>) => {
  const res = await call('/auth/introspect', form({ token, ...by }))
  return { res, body: (await res.json()) as Record<string, unknown> }
}

/** A user's tokens issued to `client` by the password grant. */
async function userTokens(client: Credentials, username: string, password: string) {
  const res = await call(
    '/auth/token',
    form({ grant_type: 'password', username, password, ...client }),
  )
  expect(res.status).toBe(200)
  return (await res.json()) as TokenPair
}

describe('POST /auth/introspect (RFC 7662)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('says inactive for an expired access token, a user’s or a client’s, and a revoked one', async () => {
    const rs = await confidential()
    const user = await makeUser()
    const tokens = await login(user)
    const app = await confidential(['password', 'refresh_token'])
    const appTokens = await userTokens(app, user.username, user.password)
    const svc = await confidential()
    const issued = await call('/auth/token', form({ grant_type: 'client_credentials', ...svc }))
    const { access_token: machine } = (await issued.json()) as { access_token: string }
    const revoked = (await (
      await call('/auth/token', form({ grant_type: 'client_credentials', ...svc }))
    ).json()) as { access_token: string }
    await call('/auth/revoke', form({ token: revoked.access_token, ...svc }))
    expect((await introspect(revoked.access_token, rs)).body).toEqual({ active: false })
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 3_600_000)
    expect((await introspect(tokens.access_token, rs)).body).toEqual({ active: false })
    expect((await introspect(machine, rs)).body).toEqual({ active: false })
    // The refresh token outlives the access token; only its client may introspect it.
    expect((await introspect(appTokens.refresh_token, app)).body.active).toBe(true)
  })

  it('refuses callers that are not authenticated confidential clients', async ({ signedIn }) => {
    const { client: pub } = await makeClient()
    const rs = await confidential()
    for (const by of [
      {} as Record<string, string>,
      { client_id: pub.client_id },
      { client_id: rs.client_id, client_secret: 'wrong' },
    ]) {
      const { res, body } = await introspect(signedIn.token, by)
      expect(res.status).toBe(401)
      expect(body.error).toBe('invalid_client')
    }
    const bearerOnly = await call(
      '/auth/introspect',
      bearer(signedIn.token, form({ token: signedIn.token })),
    )
    expect(bearerOnly.status).toBe(401)
  })

  it('describes a live access token, uncached', async () => {
    const rs = await confidential()
    const user = await makeUser({ scopes: 'read write' })
    const tokens = await login(user, 'read')
    const { res, body } = await introspect(tokens.access_token, rs)
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(body).toMatchObject({
      active: true,
      token_type: 'bearer',
      scope: 'read',
      username: user.username,
      sub: user.id,
      iss: 'https://todo.test',
      aud: 'todo-api',
    })
    expect(typeof body.exp).toBe('number')
    expect(typeof body.iat).toBe('number')
    expect(typeof body.jti).toBe('string')
  })

  it('describes a live refresh token to its client, and says inactive once it is used', async () => {
    const app = await confidential(['password', 'refresh_token'])
    const user = await makeUser()
    const tokens = await userTokens(app, user.username, user.password)
    const { body } = await introspect(tokens.refresh_token, {
      ...app,
      token_type_hint: 'access_token',
    })
    expect(body).toMatchObject({
      active: true,
      client_id: app.client_id,
      username: user.username,
      sub: user.id,
    })
    const rotated = await call(
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, ...app }),
    )
    expect(rotated.status).toBe(200)
    expect((await introspect(tokens.refresh_token, app)).body).toEqual({ active: false })
  })

  it('says only inactive for unknown, malformed, revoked and disabled users’ tokens', async ({
    admin,
  }) => {
    const rs = await confidential()
    const user = await makeUser()
    const tokens = await login(user)
    const forged = `${tokens.access_token.slice(0, -4)}AAAA`
    for (const t of ['x', 'a.b.c', forged, 'not-a-refresh-token']) {
      expect((await introspect(t, rs)).body, t).toEqual({ active: false })
    }
    // Logged out: the session has ended.
    await call('/auth/logout', bearer(tokens.access_token, { method: 'POST' }))
    expect((await introspect(tokens.access_token, rs)).body).toEqual({ active: false })
    expect((await introspect(tokens.refresh_token, rs)).body).toEqual({ active: false })
    // Disabled user.
    const other = await makeUser()
    const live = await login(other)
    expect((await introspect(live.access_token, rs)).body.active).toBe(true)
    await call(`/users/${other.id}`, json('PATCH', { disabled: true }, admin.token))
    expect((await introspect(live.access_token, rs)).body).toEqual({ active: false })
  })

  it('describes a client’s own token, and says inactive once its client is disabled', async () => {
    const rs = await confidential()
    const svc = await confidential()
    const issued = await call('/auth/token', form({ grant_type: 'client_credentials', ...svc }))
    const { access_token } = (await issued.json()) as { access_token: string }
    expect((await introspect(access_token, rs)).body).toMatchObject({
      active: true,
      client_id: svc.client_id,
      sub: `client:${svc.client_id}`,
      scope: 'audit:read',
    })
    await updateClient(env.DB, svc.client_id, { disabled: true })
    expect((await introspect(access_token, rs)).body).toEqual({ active: false })
  })
})

describe('POST /auth/revoke with client authentication (RFC 7009 §2.1)', () => {
  it('lets a confidential client revoke its own tokens', async () => {
    const app = await confidential(['password', 'refresh_token'])
    const user = await makeUser()
    const tokens = await userTokens(app, user.username, user.password)
    const res = await call('/auth/revoke', form({ token: tokens.refresh_token, ...app }))
    expect(res.status).toBe(200)
    expect((await call('/api/todos', bearer(tokens.access_token))).status).toBe(401)
  })

  it('refuses a confidential client revoking another client’s token, which keeps working', async () => {
    const app = await confidential(['password', 'refresh_token'])
    const intruder = await confidential(['password', 'refresh_token'])
    const user = await makeUser()
    const tokens = await userTokens(app, user.username, user.password)
    for (const token of [tokens.access_token, tokens.refresh_token]) {
      const res = await call('/auth/revoke', form({ token, ...intruder }))
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client')
    }
    // Nor a legacy session with no client at all.
    const legacy = await login(user)
    const res = await call('/auth/revoke', form({ token: legacy.access_token, ...intruder }))
    expect(res.status).toBe(400)
    expect((await call('/api/todos', bearer(tokens.access_token))).status).toBe(200)
    expect((await call('/api/todos', bearer(legacy.access_token))).status).toBe(200)
  })

  it('refuses a wrong client secret at the revocation endpoint', async ({ signedIn }) => {
    const app = await confidential()
    const res = await call(
      '/auth/revoke',
      form({ token: signedIn.token, client_id: app.client_id, client_secret: 'wrong' }),
    )
    expect(res.status).toBe(401)
    expect((await call('/api/todos', bearer(signedIn.token))).status).toBe(200)
  })

  it('ends a client’s own token when it revokes it, and only that token', async () => {
    const svc = await confidential()
    const issue = async () =>
      (
        (await (
          await call('/auth/token', form({ grant_type: 'client_credentials', ...svc }))
        ).json()) as { access_token: string }
      ).access_token
    const first = await issue()
    const second = await issue()
    const other = await confidential()
    const refused = await call('/auth/revoke', form({ token: first, ...other }))
    expect(refused.status).toBe(400)
    expect((await call('/admin/audit', bearer(first))).status).toBe(200)
    expect((await call('/auth/revoke', form({ token: first, ...svc }))).status).toBe(200)
    expect((await call('/admin/audit', bearer(first))).status).toBe(401)
    expect((await call('/admin/audit', bearer(second))).status).toBe(200)
  })
})
