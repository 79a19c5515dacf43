import { env } from 'cloudflare:test'
import { describe, expect } from 'vitest'
import { createApp } from '../../src/app'
import { recordD1 } from '../d1-recorder'
import { bearer, form, it, json, login, makeUser, type SignedIn } from '../helpers'
import { makeClient, REDIRECT } from '../oauth-client'

// A Bearer request's session check rides in the same D1 batch as its writes (one round trip,
// docs/performance.md). These hold that batch to what the check before it used to guarantee: a
// revoked session, a disabled user or a standing that changed since the token was issued writes
// nothing, even though the write went to D1 in the same transaction as the check.

const app = createApp()

/** Everything a Bearer write can change, as it stands now. */
async function snapshot(): Promise<string> {
  const tables = [
    'todos',
    'lists',
    'list_members',
    'teams',
    'team_members',
    'users',
    'clients',
    'consents',
    'audit_events',
  ]
  const dumps = await env.DB.batch(tables.map((t) => env.DB.prepare(`SELECT * FROM ${t}`)))
  return JSON.stringify(dumps.map((d) => d.results.map((row) => JSON.stringify(row)).sort()))
}

/** One request through the app with a D1 that records its round trips. */
async function send(path: string, init: RequestInit) {
  const recorder = recordD1(env.DB)
  const res = await app.request(`https://todo.test${path}`, init, { ...env, DB: recorder.db })
  return { res, trips: recorder.trips }
}

const created = async (path: string, body: unknown, token: string): Promise<string> => {
  const { res } = await send(path, json('POST', body, token))
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

type Write = (me: SignedIn) => Promise<[string, RequestInit]>

/** One write of each kind the Bearer routes make, ready to send with the user's token. */
const WRITES: [string, 'user' | 'admin', Write][] = [
  [
    'POST /api/todos (an insert)',
    'user',
    async (me) => ['/api/todos', json('POST', { title: 'x' }, me.token)],
  ],
  [
    'PATCH /api/todos/:id (an update)',
    'user',
    async (me) => {
      const id = await created('/api/todos', { title: 'x' }, me.token)
      return [`/api/todos/${id}`, json('PATCH', { completed: true }, me.token)]
    },
  ],
  [
    'DELETE /api/todos/:id (a delete)',
    'user',
    async (me) => {
      const id = await created('/api/todos', { title: 'x' }, me.token)
      return [`/api/todos/${id}`, bearer(me.token, { method: 'DELETE' })]
    },
  ],
  [
    'PUT /api/lists/:id/members/users/:user_id (an upsert)',
    'user',
    async (me) => {
      const list = await created('/api/lists', { name: 'x' }, me.token)
      const { id } = await makeUser()
      return [`/api/lists/${list}/members/users/${id}`, json('PUT', { role: 'editor' }, me.token)]
    },
  ],
  [
    'POST /api/teams (two inserts)',
    'user',
    async (me) => ['/api/teams', json('POST', { name: 'x' }, me.token)],
  ],
  [
    'PATCH /users/:id (an admin change and its audit record)',
    'admin',
    async (me) => {
      const { id } = await makeUser()
      return [`/users/${id}`, json('PATCH', { name: 'Renamed' }, me.token)]
    },
  ],
  [
    'DELETE /admin/clients/:client_id (an admin delete)',
    'admin',
    async (me) => {
      const { client } = await makeClient()
      return [`/admin/clients/${client.client_id}`, bearer(me.token, { method: 'DELETE' })]
    },
  ],
  [
    'POST /admin/clients (an admin insert)',
    'admin',
    async (me) => [
      '/admin/clients',
      json('POST', { client_name: 'x', redirect_uris: [REDIRECT] }, me.token),
    ],
  ],
]

const signIn = async (role: 'user' | 'admin'): Promise<SignedIn> => {
  const user = await makeUser({ role })
  const tokens = await login(user)
  return { user, token: tokens.access_token, tokens }
}

describe('a write with a token whose session just ended', () => {
  it.each(WRITES)('%s answers 401 and writes nothing', async (_kind, role, write) => {
    const me = await signIn(role)
    const [path, init] = await write(me)
    await env.DB.prepare('UPDATE sessions SET revoked_at = 1 WHERE user_id = ?1')
      .bind(me.user.id)
      .run()
    const before = await snapshot()

    const { res, trips } = await send(path, init)

    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token')
    expect(await snapshot()).toBe(before)
    // The write went to D1 in the very batch that checked the session, and was rolled back.
    expect(trips[0]?.length, JSON.stringify(trips)).toBeGreaterThan(1)
  })

  it.each(WRITES)('%s by a user disabled since writes nothing', async (_kind, role, write) => {
    const me = await signIn(role)
    const [path, init] = await write(me)
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(me.user.id).run()
    const before = await snapshot()

    const { res } = await send(path, init)

    expect(res.status).toBe(401)
    expect(await snapshot()).toBe(before)
  })
})

describe('a token issued before its user changed', () => {
  it('cannot write once the user lost the write scope, and nothing is written', async ({
    signedIn,
  }) => {
    await env.DB.prepare("UPDATE users SET scopes = 'read' WHERE id = ?1")
      .bind(signedIn.user.id)
      .run()
    const before = await snapshot()

    const { res } = await send('/api/todos', json('POST', { title: 'x' }, signedIn.token))

    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope')
    expect(await snapshot()).toBe(before)
  })

  it('cannot act as an admin once demoted, and nothing is written', async ({ admin }) => {
    const { id } = await makeUser()
    await env.DB.prepare("UPDATE users SET role = 'user' WHERE id = ?1").bind(admin.user.id).run()
    const before = await snapshot()

    const { res } = await send(`/users/${id}`, json('PATCH', { name: 'Renamed' }, admin.token))

    expect(res.status).toBe(403)
    expect(await snapshot()).toBe(before)
  })

  it('acts as an admin once promoted, though its token says otherwise', async ({ signedIn }) => {
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?1")
      .bind(signedIn.user.id)
      .run()

    const { res } = await send('/users', bearer(signedIn.token))

    expect(res.status).toBe(200)
  })

  it('writes once promoted, in the retried batch', async ({ signedIn }) => {
    const { id } = await makeUser()
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?1")
      .bind(signedIn.user.id)
      .run()

    const { res } = await send(`/users/${id}`, json('PATCH', { name: 'Renamed' }, signedIn.token))

    expect(res.status).toBe(200)
    expect(((await res.json()) as { name: string }).name).toBe('Renamed')
  })
})

type ClientToken = { clientId: string; secret: string; token: string }

/** A client acting as itself (client credentials) with the admin reads' machine scopes. */
async function clientWithToken(): Promise<ClientToken> {
  const { client, client_secret } = await makeClient({
    grant_types: ['client_credentials'],
    scope: 'audit:read users:read',
    token_endpoint_auth_method: 'client_secret_post',
  })
  const secret = client_secret!
  const { res } = await send(
    '/auth/token',
    form({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: secret }),
  )
  expect(res.status).toBe(200)
  const { access_token } = (await res.json()) as { access_token: string }
  return { clientId: client.client_id, secret, token: access_token }
}

const inD1 =
  (sql: string) =>
  async ({ clientId }: ClientToken) => {
    await env.DB.prepare(sql).bind(clientId).run()
  }

/** What ends a client's own token at its next request. */
const CLIENT_ENDINGS: [string, (c: ClientToken) => Promise<void>][] = [
  ['disabled', inD1('UPDATE clients SET disabled = 1 WHERE client_id = ?1')],
  ['deleted', inD1('DELETE FROM clients WHERE client_id = ?1')],
  [
    'no longer registered for client credentials',
    inD1(`UPDATE clients SET grant_types = '["authorization_code"]' WHERE client_id = ?1`),
  ],
  [
    'that revoked its token (RFC 7009)',
    async ({ clientId, secret, token }) => {
      const body = { token, client_id: clientId, client_secret: secret }
      expect((await send('/auth/revoke', form(body))).res.status).toBe(200)
    },
  ],
]

describe('a client’s own token', () => {
  it.each(CLIENT_ENDINGS)('of a client %s reads and writes nothing: 401', async (_, ending) => {
    const client = await clientWithToken()
    const { token } = client
    expect((await send('/users', bearer(token))).res.status).toBe(200)
    await ending(client)
    const before = await snapshot()

    const { res, trips } = await send('/users', bearer(token))

    expect(res.status).toBe(401)
    const body = (await res.json()) as { error: string }
    expect(body.error).toBe('invalid_token')
    expect(JSON.stringify(body)).not.toContain('username')
    expect(await snapshot()).toBe(before)
    // The read went to D1 in the very batch that checked the client, and was rolled back.
    expect(trips[0]?.length, JSON.stringify(trips)).toBeGreaterThan(1)
  })

  it('of a disabled client is a 401 on a route no client may use, not a 403', async () => {
    const { clientId, token } = await clientWithToken()
    expect((await send('/api/todos', bearer(token))).res.status).toBe(403)
    await env.DB.prepare('UPDATE clients SET disabled = 1 WHERE client_id = ?1')
      .bind(clientId)
      .run()
    const before = await snapshot()

    const { res } = await send('/api/todos', json('POST', { title: 'x' }, token))

    expect(res.status).toBe(401)
    expect(await snapshot()).toBe(before)
  })

  it('cannot read users once its client lost users:read, though its token holds it', async () => {
    const { clientId, token } = await clientWithToken()
    expect((await send('/users', bearer(token))).res.status).toBe(200)
    await env.DB.prepare("UPDATE clients SET scope = 'audit:read' WHERE client_id = ?1")
      .bind(clientId)
      .run()

    const { res } = await send('/users', bearer(token))

    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope')
    expect((await send('/admin/audit', bearer(token))).res.status).toBe(200)
  })
})
