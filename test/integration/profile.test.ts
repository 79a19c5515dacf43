import { describe, expect, it } from 'vitest'
import { basicHeader, call, makeUser } from '../helpers'

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
    ['an empty Basic value', 'Basic '],
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

  it('accepts passwords with colons and any UTF-8', async () => {
    const user = await makeUser({ password: 'ü:ber:pässwörd:🔑' })
    const res = await call('/profile', {
      headers: { Authorization: basicHeader(user.username, user.password) },
    })
    expect(res.status).toBe(200)
  })

  it('answers an unknown user, a wrong password and a disabled account identically', async () => {
    const user = await makeUser()
    const disabled = await makeUser({ disabled: true })
    const answers = await Promise.all(
      [
        basicHeader('nobody-here', 'whatever123'),
        basicHeader(user.username, 'wrong password'),
        basicHeader(disabled.username, disabled.password),
      ].map(async (Authorization) => {
        const res = await call('/profile', { headers: { Authorization } })
        return { status: res.status, body: await res.text(), headers: [...res.headers].sort() }
      }),
    )
    expect(answers[0]!.status).toBe(401)
    expect(answers[1]).toEqual(answers[0])
    expect(answers[2]).toEqual(answers[0])
  })
})
