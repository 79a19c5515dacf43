import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { call, json, login, makeUser, uniqueName } from '../helpers'

const PASSWORD = 'a perfectly fine password'

/** The same app with ALLOW_SIGNUP on, as `npm run dev` runs it; wrangler.toml keeps it off. */
const withSignup = (body: unknown) => createApp().request('/auth/register', json('POST', body), { ...env, ALLOW_SIGNUP: 'true' })

describe('POST /auth/register', () => {
  it('is 404, as if it did not exist, while ALLOW_SIGNUP is off (the default)', async () => {
    const res = await call('/auth/register', json('POST', { username: uniqueName(), password: PASSWORD }))
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: 'not_found', error_description: 'No such resource.' })
    // Neither an invalid body nor another method gives the route away.
    expect((await call('/auth/register', json('POST', {}))).status).toBe(404)
    expect((await call('/auth/register')).status).toBe(404)
  })

  it('creates a user with role user and scopes read write when ALLOW_SIGNUP is on', async () => {
    const username = uniqueName('Signup')
    const res = await withSignup({ username, password: PASSWORD, name: 'Sign Up', email: 'signup@example.com' })
    expect(res.status).toBe(201)
    const user = await res.json<{ id: string }>()
    expect(user).toMatchObject({ username, name: 'Sign Up', email: 'signup@example.com', role: 'user', scopes: ['read', 'write'], disabled: false })
    expect(res.headers.get('Location')).toBe(`/users/${user.id}`)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(await login({ username, password: PASSWORD })).toMatchObject({ scope: 'read write' })
    const event = await env.DB.prepare("SELECT detail FROM audit_events WHERE event = 'user_created' AND user_id = ?1").bind(user.id).first('detail')
    expect(event).toBe('self-registration')
  })

  it('answers other methods with 405 when it is on', async () => {
    const res = await createApp().request('/auth/register', {}, { ...env, ALLOW_SIGNUP: 'true' })
    expect(res.status).toBe(405)
    expect(res.headers.get('Allow')).toBe('POST')
  })

  it('does not let a registrant choose a role, scopes or anything else', async () => {
    for (const extra of [{ role: 'admin' }, { scopes: ['read', 'write'] }, { disabled: false }]) {
      const res = await withSignup({ username: uniqueName(), password: PASSWORD, ...extra })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: 'invalid_request' })
    }
  })

  it('answers 409 for a taken username in any case, and 400 for a weak password', async () => {
    const existing = await makeUser()
    const taken = await withSignup({ username: existing.username.toUpperCase(), password: PASSWORD })
    expect(taken.status).toBe(409)
    expect(await taken.json()).toMatchObject({ error: 'conflict' })

    const weak = await withSignup({ username: uniqueName(), password: 'qwertyuiop' })
    expect(weak.status).toBe(400)
    expect(await weak.json()).toMatchObject({ issues: [{ path: 'password', message: 'Password is too common.' }] })
  })
})
