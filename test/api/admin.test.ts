import { env } from 'cloudflare:test'
import { describe, expect } from 'vitest'
import {
  bearer,
  call,
  form,
  it,
  json,
  login,
  makeUser,
  type TestUser,
  uniqueName,
} from '../helpers'

const PASSWORD = 'a perfectly fine password'

/** A new admin, made the only enabled one whatever earlier tests in this file left behind. */
async function onlyEnabledAdmin(): Promise<{ admin: TestUser; token: string }> {
  const admin = await makeUser({ role: 'admin' })
  const token = (await login(admin)).access_token
  await env.DB.prepare("UPDATE users SET disabled = 1 WHERE role = 'admin' AND id <> ?1")
    .bind(admin.id)
    .run()
  return { admin, token }
}

const createUser = async (token: string, body: Record<string, unknown>) =>
  call('/users', json('POST', body, token))

describe('admin API access', () => {
  it('answers 403 forbidden to a non-admin on every admin route', async () => {
    const user = await makeUser()
    const other = await makeUser()
    const { access_token } = await login(user)
    const attempts: [string, RequestInit][] = [
      ['/users', json('POST', { username: uniqueName(), password: PASSWORD }, access_token)],
      ['/users', bearer(access_token)],
      [`/users/${other.id}`, bearer(access_token)],
      [`/users/${user.id}`, bearer(access_token)],
      [`/users/${user.id}`, json('PATCH', { role: 'admin' }, access_token)],
      [`/users/${other.id}`, bearer(access_token, { method: 'DELETE' })],
      ['/admin/audit', bearer(access_token)],
    ]
    for (const [path, init] of attempts) {
      const res = await call(path, init)
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBe(403)
      expect(await res.json()).toMatchObject({ error: 'forbidden' })
    }
    expect((await call(`/users/${user.id}`, bearer(access_token))).status).toBe(403)
    expect(
      await env.DB.prepare('SELECT role FROM users WHERE id = ?1').bind(user.id).first('role'),
    ).toBe('user')
  })

  it('needs a Bearer token, and the read scope to read and write to change', async () => {
    expect((await call('/users')).status).toBe(401)
    const admin = await makeUser({ role: 'admin' })
    const readOnly = (await login(admin, 'read')).access_token
    const writeOnly = (await login(admin, 'write')).access_token

    expect((await call('/users', bearer(readOnly))).status).toBe(200)
    const res = await createUser(readOnly, { username: uniqueName(), password: PASSWORD })
    expect(res.status).toBe(403)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      'Bearer realm="todo-auth", error="insufficient_scope", scope="write", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
    )

    expect((await call('/admin/audit', bearer(writeOnly))).status).toBe(403)
    expect(
      (await createUser(writeOnly, { username: uniqueName(), password: PASSWORD })).status,
    ).toBe(201)
  })
})

describe('POST /users', () => {
  it('creates a user with a Location, who can then log in', async ({ admin: { token } }) => {
    const username = uniqueName('New.')
    const res = await createUser(token, {
      username,
      password: PASSWORD,
      name: 'New Person',
      email: 'new@example.com',
      role: 'admin',
      scopes: ['write', 'read', 'write'],
    })
    expect(res.status).toBe(201)
    const created = await res.json<Record<string, unknown>>()
    expect(res.headers.get('Location')).toBe(`/users/${created.id}`)
    expect(created).toEqual({
      id: expect.any(String),
      username,
      name: 'New Person',
      email: 'new@example.com',
      role: 'admin',
      scopes: ['read', 'write'],
      disabled: false,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updated_at: expect.any(String),
    })
    expect(await login({ username, password: PASSWORD })).toMatchObject({ scope: 'read write' })
  })

  it('defaults to role user with scopes read and write', async ({ admin: { token } }) => {
    const res = await createUser(token, { username: uniqueName(), password: PASSWORD })
    expect(await res.json()).toMatchObject({
      role: 'user',
      scopes: ['read', 'write'],
      name: '',
      email: '',
    })
  })

  it('answers 409 conflict for a taken username, whatever its case', async ({
    admin: { token },
  }) => {
    const existing = await makeUser()
    const res = await createUser(token, {
      username: existing.username.toUpperCase(),
      password: PASSWORD,
    })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: 'conflict' })
  })

  it('refuses bad input with 400 and the field at fault', async ({ admin: { token } }) => {
    const cases: [Record<string, unknown>, string][] = [
      [{ username: 'ab', password: PASSWORD }, 'username'],
      [{ username: 'has space', password: PASSWORD }, 'username'],
      [{ username: uniqueName(), password: 'short' }, 'password'],
      [{ username: uniqueName(), password: 'password123' }, 'password'],
      [{ username: uniqueName(), password: 'é'.repeat(37) }, 'password'],
      [{ username: uniqueName(), password: PASSWORD, role: 'root' }, 'role'],
      [{ username: uniqueName(), password: PASSWORD, scopes: ['admin'] }, 'scopes.0'],
      [{ username: uniqueName(), password: PASSWORD, email: 'not-an-email' }, 'email'],
      [{ username: uniqueName(), password: PASSWORD, name: 'line\nbreak' }, 'name'],
      [{ username: uniqueName(), password: PASSWORD, disabled: true }, ''],
    ]
    for (const [body, path] of cases) {
      const res = await createUser(token, body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      const err = await res.json<{ error: string; issues: { path: string }[] }>()
      expect(err.error).toBe('invalid_request')
      expect(err.issues.map((i) => i.path)).toContain(path)
    }
  })
})

describe('GET /users', () => {
  it('pages through users with limit and offset, oldest first', async ({ admin: { token } }) => {
    const all = await (await call('/users?limit=500', bearer(token))).json<{ id: string }[]>()
    expect(all.length).toBeGreaterThanOrEqual(1)
    const page = await (await call('/users?limit=2&offset=1', bearer(token))).json<
      { id: string }[]
    >()
    expect(page.map((u) => u.id)).toEqual(all.slice(1, 3).map((u) => u.id))
    expect(JSON.stringify(all)).not.toContain('password')
    expect((await call('/users?limit=0', bearer(token))).status).toBe(400)
    expect((await call('/users?page=2', bearer(token))).status).toBe(400)
  })

  it('reads one user by id; an unknown id is 404', async ({ admin: { token } }) => {
    const user = await makeUser()
    expect(await (await call(`/users/${user.id}`, bearer(token))).json()).toMatchObject({
      id: user.id,
      username: user.username,
    })
    const missing = await call('/users/no-such-id', bearer(token))
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: 'not_found' })
  })
})

describe('PATCH /users/{id}', () => {
  it('changes only the fields given and refuses unknown or no fields', async ({
    admin: { token },
  }) => {
    const user = await makeUser()
    const res = await call(
      `/users/${user.id}`,
      json('PATCH', { name: 'Renamed', email: '' }, token),
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      username: user.username,
      name: 'Renamed',
      email: '',
      role: 'user',
      scopes: ['read', 'write'],
    })

    const unknown = await call(
      `/users/${user.id}`,
      json('PATCH', { name: 'x', password_hash: 'x' }, token),
    )
    expect(unknown.status).toBe(400)
    expect((await call(`/users/${user.id}`, json('PATCH', {}, token))).status).toBe(400)
    expect((await call('/users/no-such-id', json('PATCH', { name: 'x' }, token))).status).toBe(404)
  })

  it('takes a demotion into account at the very next request of a live token', async ({
    admin: { token },
  }) => {
    const other = await makeUser({ role: 'admin' })
    const otherToken = (await login(other)).access_token
    expect((await call('/users', bearer(otherToken))).status).toBe(200)

    expect((await call(`/users/${other.id}`, json('PATCH', { role: 'user' }, token))).status).toBe(
      200,
    )
    expect((await call('/users', bearer(otherToken))).status).toBe(403)
    expect(await (await call('/users/me', bearer(otherToken))).json()).toMatchObject({
      role: 'user',
    })
  })

  it('takes a removed scope into account at the very next request of a live token', async ({
    admin: { token },
  }) => {
    const user = await makeUser()
    const userToken = (await login(user)).access_token
    expect((await call('/api/todos', json('POST', { title: 'before' }, userToken))).status).toBe(
      201,
    )

    expect(
      (await call(`/users/${user.id}`, json('PATCH', { scopes: ['read'] }, token))).status,
    ).toBe(200)
    const res = await call('/api/todos', json('POST', { title: 'after' }, userToken))
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope' })
    expect((await call('/api/todos', bearer(userToken))).status).toBe(200)
  })

  it('never lets an admin raise their own scopes', async () => {
    const admin = await makeUser({ role: 'admin', scopes: 'write' })
    const token = (await login(admin)).access_token
    const res = await call(
      `/users/${admin.id}`,
      json('PATCH', { scopes: ['read', 'write'] }, token),
    )
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: 'forbidden' })
    expect(
      await env.DB.prepare('SELECT scopes FROM users WHERE id = ?1').bind(admin.id).first('scopes'),
    ).toBe('write')
  })

  it('ends every session when it disables a user; enabling does not bring them back', async ({
    admin: { token },
  }) => {
    const user = await makeUser()
    const pair = await login(user)

    const res = await call(`/users/${user.id}`, json('PATCH', { disabled: true }, token))
    expect(await res.json()).toMatchObject({ disabled: true })
    expect((await call('/users/me', bearer(pair.access_token))).status).toBe(401)
    expect(
      (
        await call(
          '/auth/token',
          form({ grant_type: 'password', username: user.username, password: user.password }),
        )
      ).status,
    ).toBe(400)

    await call(`/users/${user.id}`, json('PATCH', { disabled: false }, token))
    expect((await call('/users/me', bearer(pair.access_token))).status).toBe(401)
    expect(
      (
        await call(
          '/auth/token',
          form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
        )
      ).status,
    ).toBe(400)
    expect((await login(user)).access_token).toBeTruthy()
  })

  it('sets a new password and ends every session', async ({ admin: { token } }) => {
    const user = await makeUser()
    const pair = await login(user)

    expect(
      (await call(`/users/${user.id}`, json('PATCH', { password: 'a brand new secret' }, token)))
        .status,
    ).toBe(200)
    expect((await call('/users/me', bearer(pair.access_token))).status).toBe(401)
    expect(
      (
        await call(
          '/auth/token',
          form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
        )
      ).status,
    ).toBe(400)
    expect(
      (await call('/auth/token', form({ username: user.username, password: user.password })))
        .status,
    ).toBe(400)
    expect(await login({ username: user.username, password: 'a brand new secret' })).toHaveProperty(
      'access_token',
    )

    const weak = await call(`/users/${user.id}`, json('PATCH', { password: '12345678' }, token))
    expect(weak.status).toBe(400)
  })
})

describe('DELETE /users/{id}', () => {
  it('deletes the user with their todos and sessions', async ({ admin: { token } }) => {
    const user = await makeUser()
    const userToken = (await login(user)).access_token
    await call('/api/todos', json('POST', { title: 'one' }, userToken))
    await call('/api/todos', json('POST', { title: 'two' }, userToken))

    const res = await call(`/users/${user.id}`, bearer(token, { method: 'DELETE' }))
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    const count = (table: string, column: string) =>
      env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?1`)
        .bind(user.id)
        .first('n')
    expect(await count('todos', 'owner_id')).toBe(0)
    expect(await count('sessions', 'user_id')).toBe(0)
    expect((await call('/users/me', bearer(userToken))).status).toBe(401)
    expect((await call(`/users/${user.id}`, bearer(token))).status).toBe(404)
    expect((await call(`/users/${user.id}`, bearer(token, { method: 'DELETE' }))).status).toBe(404)
  })

  it('runs on a D1 that enforces foreign keys', async () => {
    const orphan = env.DB.prepare(
      "INSERT INTO todos (id, owner_id, list_id, title, created_at, updated_at) VALUES ('t', 'nobody', 'none', 'x', '', '')",
    )
    await expect(orphan.run()).rejects.toThrow(/FOREIGN KEY/)
  })
})

describe('the last enabled admin', () => {
  it('cannot be disabled, demoted or deleted (409), not even by themselves', async () => {
    const { admin, token } = await onlyEnabledAdmin()
    for (const init of [
      json('PATCH', { disabled: true }, token),
      json('PATCH', { role: 'user' }, token),
      bearer(token, { method: 'DELETE' }),
    ]) {
      const res = await call(`/users/${admin.id}`, init)
      expect(res.status).toBe(409)
      expect(await res.json()).toMatchObject({ error: 'conflict' })
    }
    // Nothing changed, the refused disable did not end the admin's own sessions, nothing was audited.
    expect(await (await call('/users/me', bearer(token))).json()).toMatchObject({
      role: 'admin',
      disabled: false,
    })
    const events = await env.DB.prepare(
      "SELECT event FROM audit_events WHERE user_id = ?1 AND event LIKE 'user_%'",
    )
      .bind(admin.id)
      .all()
    expect(events.results).toEqual([])
    // Changes that keep them an enabled admin are fine.
    expect(
      (
        await call(
          `/users/${admin.id}`,
          json('PATCH', { name: 'Still here', disabled: false }, token),
        )
      ).status,
    ).toBe(200)
  })

  it('can step down once another admin is enabled', async () => {
    const { admin, token } = await onlyEnabledAdmin()
    const second = await makeUser({ role: 'admin' })
    expect((await call(`/users/${admin.id}`, json('PATCH', { role: 'user' }, token))).status).toBe(
      200,
    )
    const secondToken = (await login(second)).access_token
    expect(
      (await call(`/users/${second.id}`, bearer(secondToken, { method: 'DELETE' }))).status,
    ).toBe(409)
  })

  it('survives two admins disabling each other at the same time: exactly one wins', async () => {
    const first = await onlyEnabledAdmin()
    const second = await makeUser({ role: 'admin' })
    const secondToken = (await login(second)).access_token
    const [a, b] = await Promise.all([
      call(`/users/${second.id}`, json('PATCH', { disabled: true }, first.token)),
      call(`/users/${first.admin.id}`, json('PATCH', { disabled: true }, secondToken)),
    ])
    // The loser is refused by the last-admin guard (409) or, when the winner's batch ended its
    // sessions first, by its own session check in the same transaction (401).
    const [won, lost] = [a.status, b.status].sort()
    expect(won).toBe(200)
    expect([401, 409]).toContain(lost)
    expect(
      await env.DB.prepare(
        "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0",
      ).first('n'),
    ).toBe(1)
  })
})
