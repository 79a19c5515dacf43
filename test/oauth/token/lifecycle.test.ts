import {
  createExecutionContext,
  createScheduledController,
  env,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { decode, sign } from 'hono/jwt'
import { afterEach, describe, expect, vi } from 'vitest'
import worker from '../../../src'
import { createApp } from '../../../src/app'
import {
  bearer,
  call,
  form,
  it,
  json,
  login,
  makeUser,
  quietConsoleError,
  type TokenPair,
} from '../../helpers'

const refresh = (refresh_token: string, scope?: string) =>
  call('/auth/token', form({ grant_type: 'refresh_token', refresh_token, ...(scope && { scope }) }))

const errorOf = async (res: Response) => (await res.json<{ error: string }>()).error

/** The session is dead: its access token is refused and its refresh token cannot be traded. */
async function expectSessionEnded(t: TokenPair) {
  const api = await call('/api/todos', bearer(t.access_token))
  expect(api.status).toBe(401)
  expect(await errorOf(api)).toBe('invalid_token')
  const again = await refresh(t.refresh_token)
  expect(again.status).toBe(400)
  expect(await errorOf(again)).toBe('invalid_grant')
}

async function expectSessionLive(t: TokenPair) {
  expect((await call('/api/todos', bearer(t.access_token))).status).toBe(200)
}

afterEach(() => {
  vi.useRealTimers()
})

describe('refresh tokens', () => {
  it('rotates: a refresh gives a new pair in the same session and the old refresh token stops working', async ({
    signedIn: { tokens: first },
  }) => {
    const res = await refresh(first.refresh_token)
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    const second = await res.json<TokenPair>()
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(second.scope).toBe('read write')
    expect(decode(second.access_token).payload.sid).toBe(decode(first.access_token).payload.sid)
    await expectSessionLive(second)
  })

  it('rejects a reused refresh token and ends the whole session', async ({
    signedIn: { tokens: first },
  }) => {
    const second = await (await refresh(first.refresh_token)).json<TokenPair>()
    const replay = await refresh(first.refresh_token)
    expect(replay.status).toBe(400)
    expect(await errorOf(replay)).toBe('invalid_grant')
    await expectSessionEnded(second)
    await expectSessionEnded(first)
  })

  it('gives exactly one new pair to two concurrent refreshes with the same token, then ends the session as reuse', async ({
    signedIn: { tokens },
  }) => {
    const results = await Promise.all([
      refresh(tokens.refresh_token),
      refresh(tokens.refresh_token),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([200, 400])
    // The loser presented a token that was already used: RFC 9700 reuse detection, so the
    // winner's pair dies too. A client must never send one refresh token twice.
    const winner = await results.find((r) => r.status === 200)!.json<TokenPair>()
    await expectSessionEnded(winner)
  })

  it('stores refresh tokens only as SHA-256 hashes', async ({ signedIn: { tokens } }) => {
    const raw = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?1',
    )
      .bind(tokens.refresh_token)
      .first<{ n: number }>()
    expect(raw?.n).toBe(0)
    const digest = new Uint8Array(
      await crypto.subtle.digest('SHA-256', new TextEncoder().encode(tokens.refresh_token)),
    )
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
    const hashed = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?1',
    )
      .bind(hex)
      .first<{ n: number }>()
    expect(hashed?.n).toBe(1)
  })

  it('narrows scope on request and refuses to widen it without spending the token', async () => {
    const tokens = await login(await makeUser(), 'read')
    const widened = await refresh(tokens.refresh_token, 'read write')
    expect(widened.status).toBe(400)
    expect(await errorOf(widened)).toBe('invalid_scope')
    const same = await refresh(tokens.refresh_token)
    expect(same.status).toBe(200)
    expect((await same.json<TokenPair>()).scope).toBe('read')

    const full = await login(await makeUser())
    const narrowed = await (await refresh(full.refresh_token, 'read')).json<TokenPair>()
    expect(narrowed.scope).toBe('read')
    expect(
      (await call('/api/todos', json('POST', { title: 'x' }, narrowed.access_token))).status,
    ).toBe(403)
  })

  it('keeps a narrowed scope: a later refresh without scope does not widen it back', async ({
    signedIn: { tokens: full },
  }) => {
    const narrowed = await (await refresh(full.refresh_token, 'read')).json<TokenPair>()
    const later = await refresh(narrowed.refresh_token)
    expect(later.status).toBe(200)
    expect((await later.json<TokenPair>()).scope).toBe('read')
  })

  it('refuses an unknown refresh token', async () => {
    const res = await refresh('A'.repeat(43))
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toBe('invalid_grant')
  })
})

describe('revocation and logout', () => {
  it('revokes the session of an access token', async ({ signedIn: { tokens } }) => {
    const res = await call('/auth/revoke', form({ token: tokens.access_token }))
    expect(res.status).toBe(200)
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    await expectSessionEnded(tokens)
  })

  it('revokes the session of an access token that has already expired', async ({
    signedIn: { tokens },
  }) => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 3_600_000)
    expect((await call('/auth/revoke', form({ token: tokens.access_token }))).status).toBe(200)
    const res = await refresh(tokens.refresh_token)
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toBe('invalid_grant')
  })

  it('revokes the session of a refresh token', async ({ signedIn: { tokens } }) => {
    expect(
      (
        await call(
          '/auth/revoke',
          form({ token: tokens.refresh_token, token_type_hint: 'refresh_token' }),
        )
      ).status,
    ).toBe(200)
    await expectSessionEnded(tokens)
  })

  it.each([['garbage'], ['a.b.c'], ['eyJhbGciOiJub25lIn0.e30.'], ['x'.repeat(4000)]])(
    'answers 200 to revoking %s',
    async (token) => {
      const res = await call('/auth/revoke', form({ token }))
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({})
    },
  )

  it('refuses a revocation request without a token', async () => {
    const res = await call('/auth/revoke', form({}))
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toBe('invalid_request')
  })

  it('logs out one session and leaves the user’s others alone', async () => {
    const user = await makeUser()
    const phone = await login(user)
    const laptop = await login(user)
    const res = await call('/auth/logout', bearer(phone.access_token, { method: 'POST' }))
    expect(res.status).toBe(204)
    await expectSessionEnded(phone)
    await expectSessionLive(laptop)
  })

  it('needs a token to log out', async () => {
    const res = await call('/auth/logout', { method: 'POST' })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      'Bearer realm="todo-auth", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
    )
  })
})

describe('changes to the user end their tokens on the next request', () => {
  it('ends every session on a password change, and the new password works', async () => {
    const user = await makeUser()
    const a = await login(user)
    const b = await login(user)
    const res = await call(
      '/users/me/password',
      json(
        'POST',
        { current_password: user.password, new_password: 'a brand new passphrase' },
        a.access_token,
      ),
    )
    expect(res.status).toBe(204)
    await expectSessionEnded(a)
    await expectSessionEnded(b)
    expect(
      (await call('/auth/token', form({ username: user.username, password: user.password })))
        .status,
    ).toBe(400)
    await expectSessionLive(
      await login({ username: user.username, password: 'a brand new passphrase' }),
    )
  })

  it('refuses a password change with a wrong current password or a weak new one', async () => {
    const user = await makeUser()
    const t = await login(user)
    const wrong = await call(
      '/users/me/password',
      json(
        'POST',
        { current_password: 'not it at all', new_password: 'a brand new passphrase' },
        t.access_token,
      ),
    )
    expect(wrong.status).toBe(400)
    expect(await wrong.json()).toMatchObject({
      error: 'invalid_request',
      issues: [{ path: 'current_password' }],
    })
    for (const weak of ['short', 'password123', 'x'.repeat(73)]) {
      const res = await call(
        '/users/me/password',
        json('POST', { current_password: user.password, new_password: weak }, t.access_token),
      )
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({
        error: 'invalid_request',
        issues: [{ path: 'new_password' }],
      })
    }
    await expectSessionLive(t)
  })

  it('refuses the tokens of a disabled user', async () => {
    const user = await makeUser()
    const t = await login(user)
    await env.DB.prepare('UPDATE users SET disabled = 1 WHERE id = ?1').bind(user.id).run()
    await expectSessionEnded(t)
  })

  it('refuses the tokens of a deleted user', async () => {
    const user = await makeUser()
    const t = await login(user)
    await env.DB.prepare('DELETE FROM users WHERE id = ?1').bind(user.id).run()
    await expectSessionEnded(t)
  })

  it('applies scopes taken away from the user to tokens already issued', async () => {
    const user = await makeUser()
    const t = await login(user)
    await env.DB.prepare("UPDATE users SET scopes = 'read' WHERE id = ?1").bind(user.id).run()
    expect((await call('/api/todos', json('POST', { title: 'x' }, t.access_token))).status).toBe(
      403,
    )
    expect((await call('/api/todos', bearer(t.access_token))).status).toBe(200)
    expect((await (await refresh(t.refresh_token)).json<TokenPair>()).scope).toBe('read')
  })
})

describe('expiry', () => {
  it('refuses an access token after expires_in, while its refresh token still works', async ({
    signedIn: { tokens: t },
  }) => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 899_000)
    await expectSessionLive(t)
    vi.setSystemTime(Date.now() + 2_000)
    const res = await call('/api/todos', bearer(t.access_token))
    expect(res.status).toBe(401)
    expect(await errorOf(res)).toBe('invalid_token')
    const next = await refresh(t.refresh_token)
    expect(next.status).toBe(200)
    await expectSessionLive(await next.json<TokenPair>())
  })

  it('ends the session at the refresh lifetime counted from the login, however often it was refreshed', async () => {
    let t = await login(await makeUser())
    vi.useFakeTimers({ toFake: ['Date'] })
    const start = Date.now()
    for (const day of [10, 20, 29]) {
      vi.setSystemTime(start + day * 86_400_000)
      t = await (await refresh(t.refresh_token)).json<TokenPair>()
    }
    vi.setSystemTime(start + 30 * 86_400_000 + 1_000)
    const res = await refresh(t.refresh_token)
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toBe('invalid_grant')
  })
})

const b64url = (s: string) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')

describe('key rotation', () => {
  const NEW_SECRET = 'rotated-secret-fedcba9876543210fedcba9876543210'
  const rotated = { ...env, JWT_SECRET: NEW_SECRET, JWT_SECRET_PREVIOUS: env.JWT_SECRET }
  const request = (path: string, init: RequestInit, bindings: object) =>
    createApp().request(`https://todo.test${path}`, init, bindings)

  it('keeps old tokens working under JWT_SECRET_PREVIOUS and signs new ones with the new key', async () => {
    const user = await makeUser()
    const old = await login(user)
    expect((await request('/api/todos', bearer(old.access_token), rotated)).status).toBe(200)

    const fresh = await (
      await request(
        '/auth/token',
        form({ username: user.username, password: user.password }),
        rotated,
      )
    ).json<TokenPair>()
    expect(decode(fresh.access_token).header.kid).not.toBe(decode(old.access_token).header.kid)
    expect((await request('/api/todos', bearer(fresh.access_token), rotated)).status).toBe(200)
    // The old deployment does not know the new key.
    expect((await call('/api/todos', bearer(fresh.access_token))).status).toBe(401)
  })

  it('ignores a JWT_SECRET_PREVIOUS shorter than 32 bytes, so a weak old key verifies nothing', async () => {
    const WEAK = 'short-old-key'
    // The kid the weak key would have, were it loaded (src/auth/tokens.ts derives kids this way).
    const weakKey = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(WEAK),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    const label = new Uint8Array(
      await crypto.subtle.sign('HMAC', weakKey, new TextEncoder().encode('todo-auth key id')),
    )
    const kid = btoa(String.fromCharCode(...label))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .slice(0, 16)
    const forged = await sign({ ...decode((await login(await makeUser())).access_token).payload }, {
      kty: 'oct',
      k: b64url(WEAK),
      alg: 'HS256',
      kid,
    } as JsonWebKey)
    const logged = quietConsoleError()
    const res = await request('/api/todos', bearer(forged), { ...env, JWT_SECRET_PREVIOUS: WEAK })
    expect(res.status).toBe(401)
    expect(logged).toHaveBeenCalledWith(
      'JWT_SECRET_PREVIOUS is shorter than 32 bytes and is ignored',
    )
    // And the service keeps working with its current key.
    const t = await login(await makeUser())
    expect(
      (await request('/api/todos', bearer(t.access_token), { ...env, JWT_SECRET_PREVIOUS: WEAK }))
        .status,
    ).toBe(200)
  })

  it('refuses old tokens once the previous key is dropped', async ({
    signedIn: { tokens: old },
  }) => {
    const res = await request('/api/todos', bearer(old.access_token), {
      ...env,
      JWT_SECRET: NEW_SECRET,
    })
    expect(res.status).toBe(401)
    expect(await errorOf(res)).toBe('invalid_token')
  })

  it('refuses a token whose kid names no configured key, even if its signature is valid for another', async ({
    signedIn: { tokens: old },
  }) => {
    const { payload } = decode(old.access_token)
    const forged = await sign(payload, {
      kty: 'oct',
      k: b64url(env.JWT_SECRET!),
      alg: 'HS256',
      kid: 'some-other-kid',
    } as JsonWebKey)
    expect((await call('/api/todos', bearer(forged))).status).toBe(401)
  })
})

describe('purging expired sessions (cron)', () => {
  it('deletes expired and revoked sessions with their refresh tokens, and keeps live ones', async () => {
    const user = await makeUser()
    const live = await login(user)
    const revoked = await login(user)
    await call('/auth/logout', bearer(revoked.access_token, { method: 'POST' }))
    const expired = await login(user)
    await env.DB.prepare('UPDATE sessions SET expires_at = 0 WHERE id = ?1')
      .bind(decode(expired.access_token).payload.sid)
      .run()

    const ctx = createExecutionContext()
    await worker.scheduled(createScheduledController({ cron: '17 * * * *' }), env, ctx)
    await waitOnExecutionContext(ctx)

    const { results } = await env.DB.prepare('SELECT id FROM sessions WHERE user_id = ?1')
      .bind(user.id)
      .all<{ id: string }>()
    expect(results.map((r) => r.id)).toEqual([decode(live.access_token).payload.sid])
    const orphans = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id NOT IN (SELECT id FROM sessions)',
    ).first<{ n: number }>()
    expect(orphans?.n).toBe(0)
    await expectSessionLive(live)
  })
})
