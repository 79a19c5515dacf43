import { describe, expect, it } from 'vitest'
import { basicHeader, call, login, makeUser } from '../helpers'

const CHALLENGE = 'Basic realm="todo-auth", charset="UTF-8"'

describe('GET /profile (HTTP Basic, the chapter’s demo)', () => {
  it('asks for credentials when none are sent', async () => {
    const res = await call('/profile')
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(CHALLENGE)
    expect(await res.json()).toEqual({
      error: 'unauthorized',
      error_description: expect.any(String),
    })
  })

  it.each([
    ['a non-Basic scheme', 'Bearer abc'],
    ['Basic without a colon', `Basic ${btoa('nocolon')}`],
    ['Basic with broken base64', 'Basic %%%'],
    ['Basic with characters outside base64', 'Basic !!!not-base64!!!'],
    ['an empty Basic value', 'Basic '],
    ['the scheme alone', 'Basic'],
    ['an empty header', ''],
    ['two credentials', `Basic ${btoa('a:b')} ${btoa('c:d')}`],
  ])('treats %s as no credentials', async (_name, header) => {
    const res = await call('/profile', { headers: { Authorization: header } })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(CHALLENGE)
    expect((await res.json<{ error: string }>()).error).toBe('unauthorized')
  })

  it('refuses a wrong password with invalid_credentials', async () => {
    const user = await makeUser()
    const res = await call('/profile', {
      headers: { Authorization: basicHeader(user.username, 'wrong password!') },
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(CHALLENGE)
    expect((await res.json<{ error: string }>()).error).toBe('invalid_credentials')
  })

  it('greets a valid login by name', async () => {
    const user = await makeUser()
    const res = await call('/profile', {
      headers: { Authorization: basicHeader(user.username, user.password) },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    expect(await res.json()).toEqual({
      message: `Hello, ${user.username}!`,
      username: user.username,
    })
  })

  it('accepts passwords with colons and any UTF-8, here and at the token endpoint', async () => {
    const user = await makeUser({ password: 'pä:ss:wörd 🔑 — ключ' })
    const res = await call('/profile', {
      headers: { Authorization: basicHeader(user.username, user.password) },
    })
    expect(res.status).toBe(200)
    await login(user)
  })
})
