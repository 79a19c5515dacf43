import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { bearer, call, login, makeUser, quietConsoleError } from '../helpers'

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
}

describe('common rules', () => {
  it.each([
    ['/healthz', 200],
    ['/nowhere', 404],
    ['/profile', 401],
    ['/api/todos', 401],
  ])('sends the security headers on %s (%i) and no X-Powered-By', async (path, status) => {
    const res = await call(path)
    expect(res.status).toBe(status)
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      expect(res.headers.get(name)).toBe(value)
    expect(res.headers.get('x-powered-by')).toBeNull()
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8')
  })

  it.each(['/auth/token', '/users/me', '/api/todos', '/profile'])(
    'marks %s as no-store',
    async (path) => {
      expect((await call(path)).headers.get('cache-control')).toBe('no-store')
    },
  )

  it('answers unknown routes with not_found', async () => {
    const res = await call('/api/nothing-here')
    expect(res.status).toBe(404)
    expect(await res.json()).toEqual({ error: 'not_found', error_description: expect.any(String) })
  })

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const res = await call('/auth/token', { method: 'GET' })
    expect(res.status).toBe(405)
    expect(res.headers.get('Allow')).toBe('POST')
    expect((await res.json<{ error: string }>()).error).toBe('method_not_allowed')
    const todo = await call('/api/todos/some-id', { method: 'PUT' })
    expect(todo.status).toBe(405)
    expect(todo.headers.get('Allow')?.split(', ').sort()).toEqual([
      'DELETE',
      'GET',
      'HEAD',
      'PATCH',
    ])
  })

  it('reports health when D1 answers', async () => {
    const res = await call('/healthz')
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('reports 503 when D1 does not answer', async () => {
    const broken = {
      prepare: () => ({ first: () => Promise.reject(new Error('D1 down')) }),
      withSession: () => broken,
      getBookmark: () => null,
    } as unknown as D1Database
    const logged = quietConsoleError()
    const res = await createApp().request('/healthz', {}, { ...env, DB: broken })
    expect(res.status).toBe(503)
    expect(logged).toHaveBeenCalledWith('temporarily_unavailable:', new Error('D1 down'))
    expect(await res.json()).toEqual({
      error: 'temporarily_unavailable',
      error_description: expect.any(String),
    })
  })

  it.each([
    ['missing', undefined],
    ['shorter than 32 bytes', 'too-short-secret'],
  ])('signs nothing and answers 500 when JWT_SECRET is %s', async (_name, secret) => {
    const user = await makeUser()
    const logged = quietConsoleError()
    const res = await createApp().request(
      '/auth/token',
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: user.username, password: user.password }),
      },
      { ...env, JWT_SECRET: secret },
    )
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({
      error: 'server_error',
      error_description: expect.any(String),
    })
    expect(text).not.toMatch(/JWT_SECRET|access_token/)
    // The operator learns why from the log.
    expect(logged).toHaveBeenCalledWith('server_error:', expect.stringMatching(/^JWT_SECRET /))
    // Nothing happened either: no session, no login recorded.
    const sessions = await env.DB.prepare('SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?1')
      .bind(user.id)
      .first<{ n: number }>()
    expect(sessions?.n).toBe(0)
    const logins = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM audit_events WHERE user_id = ?1 AND event = 'login_success'",
    )
      .bind(user.id)
      .first<{ n: number }>()
    expect(logins?.n).toBe(0)
  })

  it('does not spend a refresh token when JWT_SECRET is missing', async () => {
    const tokens = await login(await makeUser())
    const logged = quietConsoleError()
    const refreshing = {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
      }),
    }
    expect(
      (
        await createApp().request('https://todo.test/auth/token', refreshing, {
          ...env,
          JWT_SECRET: undefined,
        })
      ).status,
    ).toBe(500)
    expect(logged).toHaveBeenCalledOnce()
    expect(
      (
        await createApp().request(
          'https://todo.test/auth/token',
          {
            ...refreshing,
            body: new URLSearchParams({
              grant_type: 'refresh_token',
              refresh_token: tokens.refresh_token,
            }),
          },
          env,
        )
      ).status,
    ).toBe(200)
  })

  it('hides the cause of an unexpected failure', async () => {
    const user = await makeUser()
    const { access_token } = await login(user)
    // Requests use D1 through a session (src/http/database.ts): this fake is its own session.
    const failing: D1Database = new Proxy(env.DB, {
      get: (target, prop) => {
        if (prop === 'withSession') return () => failing
        if (prop === 'getBookmark') return () => null
        // The route's batch (the session check and the todos) fails; the check alone succeeds.
        if (prop === 'batch') {
          return (statements: D1PreparedStatement[]) =>
            statements.length > 1
              ? Promise.reject(new Error('SQLITE_INTERNAL: secret detail'))
              : target.batch(statements)
        }
        return Reflect.get(target, prop)
      },
    })
    const logged = quietConsoleError()
    const res = await createApp().request('https://todo.test/api/todos', bearer(access_token), {
      ...env,
      DB: failing,
    })
    expect(res.status).toBe(500)
    // The cause goes to the log only.
    expect(logged).toHaveBeenCalledWith(
      'unhandled error:',
      new Error('SQLITE_INTERNAL: secret detail'),
    )
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({
      error: 'server_error',
      error_description: 'The server could not complete the request.',
    })
    expect(text).not.toContain('SQLITE')
  })
})

describe('GET /.well-known/oauth-authorization-server', () => {
  it('describes the server per RFC 8414', async () => {
    const res = await call('/.well-known/oauth-authorization-server')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      issuer: 'https://todo.test',
      authorization_endpoint: 'https://todo.test/auth/authorize',
      token_endpoint: 'https://todo.test/auth/token',
      revocation_endpoint: 'https://todo.test/auth/revoke',
      introspection_endpoint: 'https://todo.test/auth/introspect',
      device_authorization_endpoint: 'https://todo.test/auth/device_authorization',
      grant_types_supported: [
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
        'password',
      ],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      code_challenge_methods_supported: ['S256'],
      prompt_values_supported: ['none', 'login', 'consent'],
      scopes_supported: ['read', 'write', 'users:read', 'audit:read', 'introspect'],
      token_endpoint_auth_methods_supported: [
        'none',
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ],
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256'],
      revocation_endpoint_auth_methods_supported: [
        'none',
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ],
      revocation_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      authorization_response_iss_parameter_supported: true,
      client_id_metadata_document_supported: true,
      service_documentation: 'https://todo.test/docs',
    })
  })
})
