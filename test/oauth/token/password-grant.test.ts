import { decode } from 'hono/jwt'
import { describe, expect, it } from 'vitest'
import { bearer, call, form, login, makeUser } from '../../helpers'

describe('POST /auth/token, password grant', () => {
  it('issues an access and a refresh token with the contract’s fields and headers', async () => {
    const user = await makeUser()
    const res = await call(
      '/auth/token',
      form({ grant_type: 'password', username: user.username, password: user.password }),
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(res.headers.get('Pragma')).toBe('no-cache')
    expect(res.headers.get('Content-Type')).toBe('application/json; charset=UTF-8')
    const body = await res.json<Record<string, unknown>>()
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 900,
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      scope: 'read write',
    })

    const { header, payload } = decode(body.access_token as string)
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: expect.any(String) })
    expect(payload).toEqual({
      iss: 'https://todo.test',
      aud: 'todo-api',
      sub: user.id,
      username: user.username,
      sid: expect.any(String),
      scope: 'read write',
      role: 'user',
      iat: expect.any(Number),
      exp: (payload.iat as number) + 900,
      jti: expect.any(String),
    })
  })

  it('accepts the chapter’s curl without grant_type', async () => {
    const user = await makeUser()
    const res = await call(
      '/auth/token',
      form({ username: user.username, password: user.password }),
    )
    expect(res.status).toBe(200)
    expect((await res.json<{ token_type: string }>()).token_type).toBe('bearer')
  })

  it('matches usernames case-insensitively', async () => {
    const user = await makeUser()
    const res = await call(
      '/auth/token',
      form({ username: user.username.toUpperCase(), password: user.password }),
    )
    expect(res.status).toBe(200)
  })

  it('grants only the requested scope', async () => {
    const user = await makeUser()
    const tokens = await login(user, 'read')
    expect(tokens.scope).toBe('read')
    expect(decode(tokens.access_token).payload.scope).toBe('read')
  })

  it('refuses a scope the user does not hold with invalid_scope', async () => {
    const user = await makeUser({ scopes: 'read' })
    const res = await call(
      '/auth/token',
      form({ username: user.username, password: user.password, scope: 'read write' }),
    )
    expect(res.status).toBe(400)
    expect((await res.json<{ error: string }>()).error).toBe('invalid_scope')
  })

  it('refuses an unknown scope with invalid_scope', async () => {
    const user = await makeUser()
    const res = await call(
      '/auth/token',
      form({ username: user.username, password: user.password, scope: 'read admin' }),
    )
    expect(res.status).toBe(400)
    expect((await res.json<{ error: string }>()).error).toBe('invalid_scope')
  })

  it('gives all held scopes when none are asked', async () => {
    const user = await makeUser({ scopes: 'read' })
    expect((await login(user)).scope).toBe('read')
  })

  it.each([
    [
      'a wrong password',
      (u: { username: string }) => ({ username: u.username, password: 'not the password' }),
    ],
    ['an unknown user', () => ({ username: 'no-such-user', password: 'whatever123' })],
  ])('answers %s with invalid_grant', async (_name, fields) => {
    const user = await makeUser()
    const res = await call('/auth/token', form({ grant_type: 'password', ...fields(user) }))
    expect(res.status).toBe(400)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(await res.json()).toEqual({
      error: 'invalid_grant',
      error_description: 'Incorrect username or password.',
    })
  })

  it('refuses a parameter sent twice with invalid_request', async () => {
    const user = await makeUser()
    const res = await call(
      '/auth/token',
      form([
        ['username', user.username],
        ['password', user.password],
        ['password', user.password],
      ]),
    )
    expect(res.status).toBe(400)
    const body = await res.json<{ error: string; issues: { path: string }[] }>()
    expect(body.error).toBe('invalid_request')
    expect(body.issues).toEqual([{ path: 'password', message: 'Sent more than once.' }])
  })

  it.each([
    ['no parameters at all', {}],
    ['a password grant without a password', { grant_type: 'password', username: 'alice' }],
    ['a refresh grant without a refresh token', { grant_type: 'refresh_token' }],
  ])('refuses %s with invalid_request', async (_name, fields) => {
    const res = await call('/auth/token', form(fields))
    expect(res.status).toBe(400)
    expect((await res.json<{ error: string }>()).error).toBe('invalid_request')
  })

  it('refuses other grant types with unsupported_grant_type', async () => {
    const res = await call(
      '/auth/token',
      form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }),
    )
    expect(res.status).toBe(400)
    expect((await res.json<{ error: string }>()).error).toBe('unsupported_grant_type')
  })

  it('refuses a JSON body with 415', async () => {
    const res = await call('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"username":"a","password":"b"}',
    })
    expect(res.status).toBe(415)
    expect((await res.json<{ error: string }>()).error).toBe('unsupported_media_type')
  })

  it('issues tokens that the todo API accepts', async () => {
    const user = await makeUser()
    const { access_token } = await login(user)
    const res = await call('/users/me', bearer(access_token))
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      id: user.id,
      username: user.username,
      role: 'user',
      scopes: ['read', 'write'],
      disabled: false,
    })
  })
})
