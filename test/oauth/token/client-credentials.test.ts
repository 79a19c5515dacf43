import { env } from 'cloudflare:test'
import { decode } from 'hono/jwt'
import { describe, expect } from 'vitest'
import { createApp } from '../../../src/app'
import { updateClient } from '../../../src/db/clients'
import { basicHeader, bearer, call, form, it, json, makeUser } from '../../helpers'
import { makeClient } from '../../oauth-client'

/** A confidential service registered for client credentials with these machine scopes. */
async function service(scope = 'users:read audit:read', method = 'client_secret_basic') {
  const { client, client_secret } = await makeClient({
    grant_types: ['client_credentials'],
    scope,
    token_endpoint_auth_method: method as 'client_secret_basic',
  })
  return { id: client.client_id, secret: client_secret! }
}

const basic = (s: { id: string; secret: string }) => basicHeader(s.id, s.secret)

async function machineToken(s: { id: string; secret: string }, fields = {}) {
  const init = form({ grant_type: 'client_credentials', ...fields })
  const res = await call('/auth/token', {
    ...init,
    headers: { ...init.headers, Authorization: basic(s) },
  })
  return { res, body: (await res.json()) as Record<string, unknown> }
}

const tokenOf = async (s: { id: string; secret: string }, fields = {}) =>
  (await machineToken(s, fields)).body.access_token as string

describe('client credentials (RFC 6749 §4.4)', () => {
  it('gives a confidential client a token for itself with client_secret_basic, and no refresh token', async () => {
    const s = await service()
    const { res, body } = await machineToken(s)
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(body).toMatchObject({ token_type: 'bearer', scope: 'users:read audit:read' })
    expect(body).not.toHaveProperty('refresh_token')
    const { payload } = decode(body.access_token as string)
    expect(payload.sub).toBe(`client:${s.id}`)
    expect(payload.client_id).toBe(s.id)
    expect(payload).not.toHaveProperty('sid')
    expect(payload).not.toHaveProperty('username')
  })

  it('gives one with client_secret_post too', async () => {
    const s = await service('audit:read', 'client_secret_post')
    const res = await call(
      '/auth/token',
      form({ grant_type: 'client_credentials', client_id: s.id, client_secret: s.secret }),
    )
    expect(res.status).toBe(200)
    expect(((await res.json()) as { scope: string }).scope).toBe('audit:read')
  })

  it('names the client with a subject no user id can equal', async ({ admin }) => {
    const s = await service()
    const { payload } = decode(await tokenOf(s))
    const user = await makeUser()
    expect(payload.sub).not.toBe(user.id)
    expect(String(payload.sub)).toMatch(/^client:/)
    // Users' ids are UUIDs: no colon, so no user can ever be `client:…`.
    expect(user.id).not.toContain(':')
    const lookup = await call(
      `/users/${encodeURIComponent(String(payload.sub))}`,
      bearer(admin.token),
    )
    expect(lookup.status).toBe(404)
  })

  it('grants what was asked within the registered machine scopes', async () => {
    const s = await service()
    expect((await machineToken(s, { scope: 'audit:read' })).body.scope).toBe('audit:read')
  })

  it('refuses a scope the client was not registered for, and fails closed with none', async () => {
    const narrow = await service('audit:read')
    const asked = await machineToken(narrow, { scope: 'users:read' })
    expect(asked.res.status).toBe(400)
    expect(asked.body.error).toBe('invalid_scope')
    // A client registered for user scopes only holds no machine scope: nothing to grant.
    const none = await service('read write')
    const refused = await machineToken(none)
    expect(refused.res.status).toBe(400)
    expect(refused.body.error).toBe('invalid_scope')
    expect((await machineToken(narrow, { scope: 'admin' })).body.error).toBe('invalid_scope')
  })

  it('refuses a public client with unauthorized_client', async () => {
    const { client } = await makeClient({ grant_types: ['authorization_code'] })
    // Registered as public, then given the grant straight in D1: the grant itself refuses it.
    await updateClient(env.DB, client.client_id, { grant_types: ['client_credentials'] })
    const res = await call(
      '/auth/token',
      form({ grant_type: 'client_credentials', client_id: client.client_id }),
    )
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client')
  })

  it('refuses a client not registered for the grant, a wrong secret and no client at all', async () => {
    const { client, client_secret } = await makeClient({
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'audit:read',
    })
    const notRegistered = await machineToken({ id: client.client_id, secret: client_secret! })
    expect(notRegistered.res.status).toBe(400)
    expect(notRegistered.body.error).toBe('unauthorized_client')
    const s = await service()
    const wrong = await machineToken({ id: s.id, secret: 'not the secret' })
    expect(wrong.res.status).toBe(401)
    expect(wrong.body.error).toBe('invalid_client')
    expect(wrong.res.headers.get('WWW-Authenticate')).toMatch(/^Basic /)
    const anonymous = await call('/auth/token', form({ grant_type: 'client_credentials' }))
    expect(anonymous.status).toBe(401)
  })

  it('refuses a disabled client', async () => {
    const s = await service()
    await updateClient(env.DB, s.id, { disabled: true })
    expect((await machineToken(s)).res.status).toBe(401)
  })
})

describe('machine scopes on the admin routes', () => {
  it('reads the audit trail with audit:read', async () => {
    const s = await service('audit:read')
    const res = await call('/admin/audit?limit=5', bearer(await tokenOf(s)))
    expect(res.status).toBe(200)
    expect(Array.isArray(await res.json())).toBe(true)
  })

  it('reads users with users:read, and not the audit trail without audit:read', async () => {
    const user = await makeUser()
    const token = await tokenOf(await service('users:read'))
    expect((await call('/users?limit=5', bearer(token))).status).toBe(200)
    const one = await call(`/users/${user.id}`, bearer(token))
    expect(one.status).toBe(200)
    expect(((await one.json()) as { username: string }).username).toBe(user.username)
    const audit = await call('/admin/audit', bearer(token))
    expect(audit.status).toBe(403)
    expect(((await audit.json()) as { error: string }).error).toBe('insufficient_scope')
    expect(audit.headers.get('WWW-Authenticate')).toContain('scope="audit:read"')
  })

  it('answers a client token 403 forbidden on todos, accounts and everything it may not do', async () => {
    const token = await tokenOf(await service())
    const refused: [string, RequestInit][] = [
      ['/api/todos', bearer(token)],
      ['/api/todos', json('POST', { title: 'from a service' }, token)],
      ['/users/me', bearer(token)],
      ['/users', json('POST', { username: 'madebyservice', password: 'a long passphrase' }, token)],
      ['/admin/clients', bearer(token)],
      ['/users/me/clients', bearer(token)],
      ['/auth/logout', bearer(token, { method: 'POST' })],
    ]
    for (const [path, init] of refused) {
      const res = await call(path, init)
      expect(res.status, path).toBe(403)
      expect(((await res.json()) as { error: string }).error, path).toBe('forbidden')
    }
  })

  it('answers a client token 403 forbidden on lists and teams, even real ones', async ({
    signedIn,
  }) => {
    const token = await tokenOf(await service())
    const mine = signedIn.token
    const [list] = (await (await call('/api/lists', bearer(mine))).json()) as { id: string }[]
    const team = (await (await call('/api/teams', json('POST', { name: 'Ops' }, mine))).json()) as {
      id: string
    }
    const member = `/api/teams/${team.id}/members/${signedIn.user.id}`
    const refused: [string, RequestInit][] = [
      ['/api/lists', bearer(token)],
      ['/api/lists', json('POST', { name: 'from a service' }, token)],
      [`/api/lists/${list!.id}`, bearer(token)],
      [`/api/lists/${list!.id}/todos`, bearer(token)],
      [`/api/lists/${list!.id}/members`, bearer(token)],
      [`/api/lists/${list!.id}`, json('PATCH', { name: 'taken' }, token)],
      [
        `/api/lists/${list!.id}/members/users/${signedIn.user.id}`,
        bearer(token, { method: 'DELETE' }),
      ],
      ['/api/teams', bearer(token)],
      ['/api/teams', json('POST', { name: 'from a service' }, token)],
      [member, json('PUT', { role: 'member' }, token)],
      [member, bearer(token, { method: 'DELETE' })],
    ]
    for (const [path, init] of refused) {
      const res = await call(path, init)
      expect(res.status, path).toBe(403)
      expect(((await res.json()) as { error: string }).error, path).toBe('forbidden')
    }
  })

  it('ends a client token at the next request once the client is disabled or deleted', async ({
    admin,
  }) => {
    const s = await service()
    const token = await tokenOf(s)
    expect((await call('/admin/audit', bearer(token))).status).toBe(200)
    await call(`/admin/clients/${s.id}`, json('PATCH', { disabled: true }, admin.token))
    expect((await call('/admin/audit', bearer(token))).status).toBe(401)

    const other = await service()
    const second = await tokenOf(other)
    await call(`/admin/clients/${other.id}`, bearer(admin.token, { method: 'DELETE' }))
    const res = await call('/admin/audit', bearer(second))
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token')
  })

  it('bounds a client token by the scopes its client holds today', async ({ admin }) => {
    const s = await service()
    const token = await tokenOf(s)
    await call(`/admin/clients/${s.id}`, json('PATCH', { scope: 'users:read' }, admin.token))
    expect((await call('/admin/audit', bearer(token))).status).toBe(403)
    expect((await call('/users', bearer(token))).status).toBe(200)
  })

  it('lets only an admin grant machine scopes: never to a user, never by self-registration', async ({
    admin,
  }) => {
    const made = await call(
      '/admin/clients',
      json(
        'POST',
        {
          client_name: 'Reporting',
          redirect_uris: ['https://app.example/cb'],
          grant_types: ['client_credentials'],
          scope: 'audit:read',
        },
        admin.token,
      ),
    )
    expect(made.status).toBe(201)
    expect(((await made.json()) as { scope: string }).scope).toBe('audit:read')
    const user = await call(
      '/users',
      json(
        'POST',
        { username: 'machinescoped', password: 'a long passphrase', scopes: ['audit:read'] },
        admin.token,
      ),
    )
    expect(user.status).toBe(400)
    const registered = await createApp().request(
      '/auth/clients',
      json('POST', { redirect_uris: ['https://app.example/cb'], scope: 'audit:read' }),
      { ...env, ALLOW_CLIENT_REGISTRATION: 'true' },
    )
    expect(registered.status).toBe(400)
  })

  it('refuses to register a public client for client credentials', async ({ admin }) => {
    const res = await call(
      '/admin/clients',
      json(
        'POST',
        {
          client_name: 'Public service',
          redirect_uris: ['https://app.example/cb'],
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'none',
          scope: 'audit:read',
        },
        admin.token,
      ),
    )
    expect(res.status).toBe(400)
  })
})
