import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { bearer, call, form, json, login, makeUser, type TestUser } from '../helpers'

let owner: TestUser
let token: string

beforeAll(async () => {
  owner = await makeUser()
  token = (await login(owner)).access_token
})

const errorOf = async (res: Response) => ({
  status: res.status,
  error: ((await res.json()) as { error: string }).error,
})

const postTodo = (body: BodyInit, contentType = 'application/json') =>
  call('/api/todos', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
    body,
  })

const bigBody = `{"title":"${'a'.repeat(17 * 1024)}"}`
const chunked = (text: string) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      const bytes = new TextEncoder().encode(text)
      for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.slice(i, i + 4096))
      controller.close()
    },
  })

describe('token endpoint abuse', () => {
  const formBody = (body: string, contentType = 'application/x-www-form-urlencoded') =>
    call('/auth/token', { method: 'POST', headers: { 'Content-Type': contentType }, body })

  it.each([
    [
      'grant_type sent twice',
      'grant_type=password&grant_type=refresh_token&username=a&password=b',
      400,
      'invalid_request',
    ],
    [
      'username sent twice',
      'grant_type=password&username=a&username=b&password=c',
      400,
      'invalid_request',
    ],
    [
      'password sent twice',
      'grant_type=password&username=a&password=b&password=c',
      400,
      'invalid_request',
    ],
    [
      'scope sent twice',
      'grant_type=password&username=a&password=b&scope=read&scope=write',
      400,
      'invalid_request',
    ],
    ['an unknown grant', 'grant_type=implicit', 400, 'unsupported_grant_type'],
    [
      'a code exchange that names no client',
      'grant_type=authorization_code&code=x',
      401,
      'invalid_client',
    ],
    [
      'a JWT-bearer grant',
      'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c',
      400,
      'unsupported_grant_type',
    ],
    ['no grant and no credentials', 'scope=read', 400, 'invalid_request'],
    [
      'the password grant without a password',
      'grant_type=password&username=a',
      400,
      'invalid_request',
    ],
    [
      'a huge unknown scope',
      `grant_type=password&username=a&password=b&scope=${'admin%20'.repeat(500)}`,
      400,
      'invalid_scope',
    ],
    [
      'a scope over 4096 characters',
      `grant_type=password&username=a&password=b&scope=${'read+'.repeat(1000)}`,
      400,
      'invalid_request',
    ],
    [
      'a username that is SQL',
      `grant_type=password&username=${encodeURIComponent("admin' OR '1'='1' --")}&password=x`,
      400,
      'invalid_grant',
    ],
    [
      'invalid UTF-8 in a percent-escape',
      'grant_type=password&username=%C3%28&password=x',
      400,
      'invalid_request',
    ],
    [
      'a malformed percent-escape',
      'grant_type=password&username=%zz&password=x',
      400,
      'invalid_request',
    ],
    [
      '__proto__ and constructor parameters (ignored like any unknown one)',
      'grant_type=password&__proto__=x&constructor=y&username=a&password=b',
      400,
      'invalid_grant',
    ],
  ])('%s → %i %s', async (_, body, status, error) => {
    expect(await errorOf(await formBody(body))).toEqual({ status, error })
  })

  it.each([
    ['a JSON body', 'application/json', '{"grant_type":"password","username":"a","password":"b"}'],
    [
      'multipart form data',
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\npassword\r\n--x--\r\n',
    ],
    ['text/plain', 'text/plain', 'grant_type=password&username=a&password=b'],
  ])('refuses %s with 415', async (_, contentType, body) => {
    expect(await errorOf(await formBody(body, contentType))).toEqual({
      status: 415,
      error: 'unsupported_media_type',
    })
  })

  it('refuses a body over 16 KiB with 413, with or without Content-Length', async () => {
    const body = `grant_type=password&username=a&password=${'p'.repeat(17 * 1024)}`
    expect(await errorOf(await formBody(body))).toEqual({ status: 413, error: 'payload_too_large' })
    const streamed = await call('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: chunked(body),
      duplex: 'half',
    } as RequestInit)
    expect(await errorOf(streamed)).toEqual({ status: 413, error: 'payload_too_large' })
  })
})

describe('JSON bodies', () => {
  it.each([
    ['invalid JSON', '{"title":', 'application/json', 400, 'invalid_request'],
    ['an array', '[{"title":"x"}]', 'application/json', 400, 'invalid_request'],
    ['null', 'null', 'application/json', 400, 'invalid_request'],
    [
      'a __proto__ key',
      '{"title":"x","__proto__":{"owner_id":"someone"}}',
      'application/json',
      400,
      'invalid_request',
    ],
    [
      'a constructor key',
      '{"title":"x","constructor":{"prototype":{"admin":true}}}',
      'application/json',
      400,
      'invalid_request',
    ],
    [
      'deep nesting',
      `{"title":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      'application/json',
      400,
      'invalid_request',
    ],
    [
      'a title of the wrong type',
      '{"title":{"$gt":""}}',
      'application/json',
      400,
      'invalid_request',
    ],
    ['a form body', 'title=x', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
    ['no content type', '{"title":"x"}', '', 415, 'unsupported_media_type'],
    ['a body over 16 KiB', bigBody, 'application/json', 413, 'payload_too_large'],
  ])('refuses %s → %i %s', async (_, body, contentType, status, error) => {
    expect(await errorOf(await postTodo(body, contentType))).toEqual({ status, error })
  })

  it('refuses invalid UTF-8 with 400 rather than storing replacement characters', async () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode('{"title":"'),
      0xc3,
      0x28,
      ...new TextEncoder().encode('"}'),
    ])
    expect(await errorOf(await postTodo(bytes))).toEqual({ status: 400, error: 'invalid_request' })
  })
})

describe('todos: IDOR and mass assignment', () => {
  it('refuses __proto__ in a query string', async () => {
    expect(await errorOf(await call('/api/todos?__proto__=x&limit=1', bearer(token)))).toEqual({
      status: 400,
      error: 'invalid_request',
    })
  })

  it.each([
    ['owner_id', { title: 't', owner_id: 'someone-else' }],
    ['id', { title: 't', id: 'chosen-id' }],
    ['created_at', { title: 't', created_at: '2000-01-01T00:00:00Z' }],
    ['updated_at', { title: 't', updated_at: '2000-01-01T00:00:00Z' }],
    ['user_id', { title: 't', user_id: 'someone-else' }],
  ])('refuses %s in a created or patched todo', async (_, body) => {
    expect(await errorOf(await call('/api/todos', json('POST', body, token)))).toEqual({
      status: 400,
      error: 'invalid_request',
    })
    const { id } = (await (
      await call('/api/todos', json('POST', { title: 'own' }, token))
    ).json()) as { id: string }
    expect(await errorOf(await call(`/api/todos/${id}`, json('PATCH', body, token)))).toEqual({
      status: 400,
      error: 'invalid_request',
    })
  })

  it.each([
    ['SQL quote', "'; DROP TABLE todos; --"],
    ['SQL comment and OR', '" OR 1=1 /*'],
    ['LIKE wildcards', "%' OR '1'='1"],
    ['a NUL byte', 'before\u0000after'],
    ['a UNION', "x' UNION SELECT password_hash FROM users --"],
    ['a bind-parameter lookalike', '?1 ?2 :name @x $y'],
  ])('stores %s literally', async (_, title) => {
    const created = await call('/api/todos', json('POST', { title, description: title }, token))
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    expect(await (await call(`/api/todos/${id}`, bearer(token))).json()).toMatchObject({
      title,
      description: title,
    })
    const patched = await call(`/api/todos/${id}`, json('PATCH', { title: `${title}!` }, token))
    expect(await patched.json()).toMatchObject({ title: `${title}!` })
  })

  it.each([
    "' OR '1'='1",
    '1 OR 1=1',
    '..%2F..%2Fusers',
    '%00',
    '%E2%80%AE',
    '-1',
    '0',
    'null',
    '%5Bobject%20Object%5D',
    'x'.repeat(8000),
    '%F0%9F%94%91',
    '%C3%28',
  ])('answers todo id %s with 404', async (id) => {
    for (const init of [
      bearer(token),
      json('PATCH', { title: 'x' }, token),
      bearer(token, { method: 'DELETE' }),
    ]) {
      expect(await errorOf(await call(`/api/todos/${id}`, init))).toEqual({
        status: 404,
        error: 'not_found',
      })
    }
  })
})

describe('oversized headers', () => {
  it('refuses a 64 KB bearer token with 401', async () => {
    expect(
      await errorOf(
        await call('/api/todos', { headers: { Authorization: `Bearer ${'a'.repeat(64 * 1024)}` } }),
      ),
    ).toEqual({ status: 401, error: 'invalid_token' })
  })
  it('refuses 64 KB Basic credentials with 401', async () => {
    const res = await call('/profile', {
      headers: {
        Authorization: `Basic ${btoa(`${'u'.repeat(32 * 1024)}:${'p'.repeat(16 * 1024)}`)}`,
      },
    })
    expect(await errorOf(res)).toEqual({ status: 401, error: 'invalid_credentials' })
  })
  it('logs in with a 32 KB User-Agent and a hostile CF-Connecting-IP', async () => {
    const init = form({
      grant_type: 'password',
      username: owner.username,
      password: owner.password,
    })
    const res = await call('/auth/token', {
      ...init,
      headers: {
        ...init.headers,
        'User-Agent': 'ua'.repeat(16 * 1024),
        'CF-Connecting-IP': `'; DROP TABLE login_failures; --${'9'.repeat(4000)}`,
      },
    })
    expect(res.status).toBe(200)
  })
})

describe('CORS', () => {
  const app = createApp()
  const preflight = (origin: string) => ({
    method: 'OPTIONS',
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type',
    },
  })
  const corsHeaders = (res: Response) =>
    [...res.headers.keys()].filter((h) => h.startsWith('access-control-'))

  it.each([
    ['no origin is listed', ''],
    ['the origin is not listed', 'https://app.example'],
  ])('sends no CORS header at all when %s', async (_, list) => {
    const vars = { ...env, CORS_ORIGINS: list }
    for (const res of [
      await app.request('/healthz', { headers: { Origin: 'https://evil.example' } }, vars),
      await app.request('/auth/token', preflight('https://evil.example'), vars),
      await app.request('/api/todos', { headers: { Origin: 'https://evil.example' } }, vars),
    ]) {
      expect(corsHeaders(res)).toEqual([])
      expect(res.status).toBeLessThan(500)
    }
  })

  it('answers a preflight and requests from a listed origin', async () => {
    const vars = { ...env, CORS_ORIGINS: 'https://other.example, https://app.example' }
    const pre = await app.request('/auth/token', preflight('https://app.example'), vars)
    expect(pre.status).toBe(204)
    expect(pre.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example')
    expect(pre.headers.get('Access-Control-Allow-Methods')).toBe('GET,POST,PUT,PATCH,DELETE')
    expect(pre.headers.get('Access-Control-Allow-Headers')).toBe(
      'Authorization,Content-Type,x-d1-bookmark,MCP-Protocol-Version',
    )
    expect(pre.headers.get('Access-Control-Allow-Credentials')).toBeNull()
    const res = await app.request(
      '/api/todos',
      { headers: { Origin: 'https://app.example' } },
      vars,
    )
    expect(res.status).toBe(401)
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example')
    expect(res.headers.get('Access-Control-Expose-Headers')).toBe(
      'Location,Retry-After,WWW-Authenticate,x-d1-bookmark',
    )
    expect(res.headers.get('Vary')).toContain('Origin')
  })

  it('varies on Origin for an unlisted origin when a list is configured', async () => {
    const res = await app.request(
      '/healthz',
      { headers: { Origin: 'https://evil.example' } },
      { ...env, CORS_ORIGINS: 'https://app.example' },
    )
    expect(res.headers.get('Vary')).toBe('Origin')
  })
})

describe('security headers', () => {
  it.each([
    ['a success', '/healthz', {}],
    ['a 404', '/nope', {}],
    ['a 401', '/api/todos', {}],
    [
      'a 413',
      '/auth/token',
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'x'.repeat(17 * 1024),
      },
    ],
  ] as const)('are on %s', async (_, path, init) => {
    const res = await call(path, init as RequestInit)
    expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff')
    expect(res.headers.get('Strict-Transport-Security')).toBe('max-age=31536000; includeSubDomains')
    expect(res.headers.get('X-Frame-Options')).toBe('DENY')
    expect(res.headers.get('Referrer-Policy')).toBe('no-referrer')
    expect(res.headers.get('X-Powered-By')).toBeNull()
  })
})
