import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { call, json, login, makeUser, uniqueName } from '../helpers'

const PASSWORD = 'a perfectly fine password'

/** The same app with ALLOW_SIGNUP on, as `npm run dev` runs it; wrangler.toml keeps it off. */
const withSignup = (body: unknown, headers: Record<string, string> = {}) => {
  const init = json('POST', body)
  return createApp().request(
    '/auth/register',
    { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } },
    { ...env, ALLOW_SIGNUP: 'true' },
  )
}

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('POST /auth/register', () => {
  it('is 404, as if it did not exist, while ALLOW_SIGNUP is off (the default)', async () => {
    const res = await call(
      '/auth/register',
      json('POST', { username: uniqueName(), password: PASSWORD }),
    )
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: 'not_found', error_description: 'No such resource.' })
    // Neither an invalid body nor another method gives the route away.
    expect((await call('/auth/register', json('POST', {}))).status).toBe(404)
    expect((await call('/auth/register')).status).toBe(404)
  })

  it('creates a user with role user and scopes read write when ALLOW_SIGNUP is on', async () => {
    const username = uniqueName('Signup')
    const res = await withSignup({
      username,
      password: PASSWORD,
      name: 'Sign Up',
      email: 'signup@example.com',
    })
    expect(res.status).toBe(201)
    const user = await res.json<{ id: string }>()
    expect(user).toMatchObject({
      username,
      name: 'Sign Up',
      email: 'signup@example.com',
      role: 'user',
      scopes: ['read', 'write'],
      disabled: false,
    })
    expect(res.headers.get('Location')).toBe(`/users/${user.id}`)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(await login({ username, password: PASSWORD })).toMatchObject({ scope: 'read write' })
    const event = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE event = 'user_created' AND user_id = ?1",
    )
      .bind(user.id)
      .first('detail')
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
    const taken = await withSignup({
      username: existing.username.toUpperCase(),
      password: PASSWORD,
    })
    expect(taken.status).toBe(409)
    expect(await taken.json()).toMatchObject({ error: 'conflict' })

    const weak = await withSignup({ username: uniqueName(), password: 'qwertyuiop' })
    expect(weak.status).toBe(400)
    expect(await weak.json()).toMatchObject({
      issues: [{ path: 'password', message: 'Password is too common.' }],
    })
  })
})

describe('POST /auth/register is throttled per client address', () => {
  it('allows 10 registrations an hour from one address, then 429 before any bcrypt hash', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const from = { 'CF-Connecting-IP': '198.51.100.23' }
    const hash = vi.spyOn(bcrypt, 'hash')
    const existing = await makeUser()
    // A taken username is refused before hashing, and still counts.
    expect(
      (await withSignup({ username: existing.username, password: PASSWORD }, from)).status,
    ).toBe(409)
    expect(hash).not.toHaveBeenCalled()
    for (let i = 0; i < 9; i++)
      expect(
        (await withSignup({ username: uniqueName('burst'), password: PASSWORD }, from)).status,
      ).toBe(201)
    expect(hash).toHaveBeenCalledTimes(9)

    const refused = await withSignup({ username: uniqueName('burst'), password: PASSWORD }, from)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('Retry-After')).toBe('3600')
    expect(await refused.json()).toEqual({
      error: 'too_many_attempts',
      error_description: 'Too many registrations from this address; try again later.',
    })
    expect(hash).toHaveBeenCalledTimes(9)
    const audited = await env.DB.prepare(
      "SELECT detail FROM audit_events WHERE event = 'lockout' AND ip = ?1",
    )
      .bind(from['CF-Connecting-IP'])
      .all()
    expect(audited.results).toEqual([
      { detail: 'sign-ups from the client address locked for 3600 s' },
    ])

    // Another address is not affected; this one may register again after the hour.
    expect(
      (
        await withSignup(
          { username: uniqueName('other'), password: PASSWORD },
          { 'CF-Connecting-IP': '198.51.100.24' },
        )
      ).status,
    ).toBe(201)
    vi.setSystemTime(Date.now() + 3_600_000)
    expect(
      (await withSignup({ username: uniqueName('later'), password: PASSWORD }, from)).status,
    ).toBe(201)
  })
})
