import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { call, json, login, makeUser } from '../helpers'

/**
 * In a file of its own: the guard counts every admin in the database, and storage is isolated
 * per file, so here the only admins are the ones this test makes.
 */
describe('the last admin able to administer cannot step down', () => {
  it('counts only enabled admins holding the write scope', async () => {
    const able = await makeUser({ role: 'admin', scopes: 'read write' })
    const readOnly = await makeUser({ role: 'admin', scopes: 'read' })
    await makeUser({ role: 'admin', scopes: 'read write', disabled: true })
    const token = (await login(able)).access_token
    const change = (body: object) => call(`/users/${able.id}`, json('PATCH', body, token))
    for (const body of [{ scopes: ['read'] }, { role: 'user' }, { disabled: true }]) {
      const res = await change(body)
      expect(res.status).toBe(409)
      expect(((await res.json()) as { error: string }).error).toBe('conflict')
    }
    expect((await call(`/users/${able.id}`, json('DELETE', {}, token))).status).toBe(409)
    const row = await env.DB.prepare('SELECT role, scopes, disabled FROM users WHERE id = ?1')
      .bind(able.id)
      .first()
    expect(row).toEqual({ role: 'admin', scopes: 'read write', disabled: 0 })

    // Once the read-only admin may write again, the first may step down.
    const grant = await call(
      `/users/${readOnly.id}`,
      json('PATCH', { scopes: ['read', 'write'] }, token),
    )
    expect(grant.status).toBe(200)
    expect((await change({ scopes: ['read'] })).status).toBe(200)
  })
})
