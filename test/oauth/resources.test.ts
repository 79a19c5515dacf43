import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../src/lib/crypto'
import { bearer, call, form, login, makeUser, type TestUser, type TokenPair } from '../helpers'
import {
  authorizeUrl,
  Browser,
  claims,
  exchange,
  getCode,
  makeClient,
  redirectParams,
  requestToken,
  tokens,
} from '../oauth-client'

// RFC 8707 resource indicators: `resource` picks the token's `aud` (RFC 9068 §3), the grant
// keeps it, and each resource takes only its own tokens (RFC 9700 §2.3).

const API = 'https://todo.test'
const MCP = 'https://todo.test/mcp'
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'

const error = async (res: Response) => (await res.json<{ error: string }>()).error

/** Tokens for a fresh user through a first-party client, `resource` on the authorization request. */
async function codeTokens(authorize: Record<string, string>, token: Record<string, string> = {}) {
  const user = await makeUser()
  const { client } = await makeClient({ first_party: true })
  const code = await getCode(new Browser(), client.client_id, user, authorize)
  const res = await exchange(code, { client_id: client.client_id, ...token })
  return { res, client, user }
}

const refresh = (clientId: string, refreshToken: string, fields: Record<string, string> = {}) =>
  call(
    '/auth/token',
    form({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
      ...fields,
    }),
  )

describe('resource on the authorization code flow', () => {
  it('puts the MCP server into aud, and the REST API refuses that token', async () => {
    const { res } = await codeTokens({ resource: MCP })
    const pair = await tokens(res)
    expect(claims(pair.access_token).aud).toBe(MCP)
    const refused = await call('/api/todos', bearer(pair.access_token))
    expect(refused.status).toBe(401)
    expect(await error(refused)).toBe('invalid_token')
    expect((await call('/users/me', bearer(pair.access_token))).status).toBe(401)
  })

  it('puts the REST API into aud when asked, and the REST API takes it', async () => {
    const pair = await tokens((await codeTokens({ resource: API })).res)
    expect(claims(pair.access_token).aud).toBe(API)
    expect((await call('/api/todos', bearer(pair.access_token))).status).toBe(200)
  })

  it('keeps JWT_AUDIENCE without resource, so existing clients keep working', async () => {
    const pair = await tokens((await codeTokens({})).res)
    expect(claims(pair.access_token).aud).toBe('todo-api')
    expect((await call('/api/todos', bearer(pair.access_token))).status).toBe(200)
  })

  it('compares the canonical URI: upper-case scheme and host, a trailing slash', async () => {
    const pair = await tokens((await codeTokens({ resource: 'HTTPS://TODO.TEST/mcp/' })).res)
    expect(claims(pair.access_token).aud).toBe(MCP)
    const api = await tokens((await codeTokens({ resource: 'https://Todo.Test:443/' })).res)
    expect(claims(api.access_token).aud).toBe(API)
  })

  it('redirects invalid_target for an unknown, a malformed or a repeated resource', async () => {
    const { client } = await makeClient({ first_party: true })
    const cases: [string, string][] = [
      ['resource=https://evil.example/mcp', 'Unknown resource'],
      ['resource=https://todo.test/mcp%23frag', 'fragment'],
      ['resource=/mcp', 'absolute'],
      ['resource=https://todo.test/mcp/other', 'Unknown resource'],
      [`resource=${encodeURIComponent(MCP)}&resource=${encodeURIComponent(API)}`, 'one resource'],
    ]
    for (const [query, says] of cases) {
      const browser = new Browser()
      const url = `${await authorizeUrl(client.client_id)}&${query}`
      const back = redirectParams(await browser.get(url))
      expect(back.get('error'), query).toBe('invalid_target')
      expect(back.get('error_description'), query).toContain(says)
      expect(back.get('state')).toBe('st-123')
      expect(back.get('iss')).toBe(API)
    }
  })

  it('lets the token request repeat the code’s resource, and refuses another before spending the code', async () => {
    const user = await makeUser()
    const { client } = await makeClient({ first_party: true })
    const code = await getCode(new Browser(), client.client_id, user, { resource: MCP })
    const other = await exchange(code, { client_id: client.client_id, resource: API })
    expect(other.status).toBe(400)
    expect(await error(other)).toBe('invalid_target')
    const unknown = await exchange(code, { client_id: client.client_id, resource: 'urn:x' })
    expect(await error(unknown)).toBe('invalid_target')
    const pair = await tokens(await exchange(code, { client_id: client.client_id, resource: MCP }))
    expect(claims(pair.access_token).aud).toBe(MCP)
  })

  it('refuses the MCP server at the token endpoint for a code issued without resource', async () => {
    const { res } = await codeTokens({}, { resource: MCP })
    expect(res.status).toBe(400)
    expect(await error(res)).toBe('invalid_target')
  })
})

describe('resource on refresh (RFC 8707 §2.2)', () => {
  it('keeps the grant’s resource, and refuses to widen to another without costing the token', async () => {
    const { res, client } = await codeTokens({ resource: MCP })
    const first = await tokens(res)
    const widened = await refresh(client.client_id, first.refresh_token, { resource: API })
    expect(widened.status).toBe(400)
    expect(await error(widened)).toBe('invalid_target')
    // The refused request spent nothing: the same refresh token still works.
    const next = await tokens(await refresh(client.client_id, first.refresh_token))
    expect(claims(next.access_token).aud).toBe(MCP)
    const named = await tokens(
      await refresh(client.client_id, next.refresh_token, { resource: MCP }),
    )
    expect(claims(named.access_token).aud).toBe(MCP)
  })

  it('gives a grant without resource the REST API’s URI when asked, and never the MCP server', async () => {
    const { res, client } = await codeTokens({})
    const first = await tokens(res)
    const mcp = await refresh(client.client_id, first.refresh_token, { resource: MCP })
    expect(await error(mcp)).toBe('invalid_target')
    const api = await tokens(
      await refresh(client.client_id, first.refresh_token, { resource: API }),
    )
    expect(claims(api.access_token).aud).toBe(API)
    const plain = await tokens(await refresh(client.client_id, api.refresh_token))
    expect(claims(plain.access_token).aud).toBe('todo-api')
  })
})

describe('resource on the other grants', () => {
  it('gives the password grant a token for the resource asked, and keeps it on refresh', async () => {
    const user = await makeUser()
    const res = await call(
      '/auth/token',
      form({
        grant_type: 'password',
        username: user.username,
        password: user.password,
        resource: MCP,
      }),
    )
    const pair = await tokens(res)
    expect(claims(pair.access_token).aud).toBe(MCP)
    const next = await tokens(
      await call(
        '/auth/token',
        form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
      ),
    )
    expect(claims(next.access_token).aud).toBe(MCP)
  })

  it('gives client credentials the resource asked, and refuses an unknown one', async () => {
    const { client, client_secret } = await makeClient({
      grant_types: ['client_credentials'],
      scope: 'audit:read',
      token_endpoint_auth_method: 'client_secret_post',
    })
    const ask = (resource: string) =>
      call(
        '/auth/token',
        form({
          grant_type: 'client_credentials',
          client_id: client.client_id,
          client_secret: client_secret!,
          resource,
        }),
      )
    const mcp = await tokens(await ask(MCP))
    expect(claims(mcp.access_token).aud).toBe(MCP)
    // A client's MCP token is no token for the REST API's admin routes.
    expect((await call('/admin/audit', bearer(mcp.access_token))).status).toBe(401)
    const api = await tokens(await ask(API))
    expect((await call('/admin/audit', bearer(api.access_token))).status).toBe(200)
    const unknown = await ask('https://todo.test/admin')
    expect(unknown.status).toBe(400)
    expect(await error(unknown)).toBe('invalid_target')
  })

  it('keeps the device authorization’s resource for the device code’s tokens', async () => {
    const user = await makeUser()
    const { client } = await makeClient({ grant_types: [DEVICE, 'refresh_token'] as never })
    const bad = await call(
      '/auth/device_authorization',
      form({ client_id: client.client_id, resource: 'https://evil.example' }),
    )
    expect(bad.status).toBe(400)
    expect(await error(bad)).toBe('invalid_target')
    const started = (await (
      await call('/auth/device_authorization', form({ client_id: client.client_id, resource: MCP }))
    ).json()) as { device_code: string; user_code: string }
    await approveDevice(started.user_code, user)
    const pollWith = async (fields: Record<string, string>) => {
      await env.DB.prepare('UPDATE device_codes SET last_polled_at = 0 WHERE device_code_hash = ?1')
        .bind(await sha256Hex(started.device_code))
        .run()
      return call(
        '/auth/token',
        form({
          grant_type: DEVICE,
          device_code: started.device_code,
          client_id: client.client_id,
          ...fields,
        }),
      )
    }
    const widened = await pollWith({ resource: API })
    expect(await error(widened)).toBe('invalid_target')
    const pair: TokenPair = await tokens(await pollWith({}))
    expect(claims(pair.access_token).aud).toBe(MCP)
  })
})

describe('introspection and revocation of a token for the MCP server', () => {
  it('reports its aud to a resource server, and revokes its session', async () => {
    const { res, client } = await codeTokens({ resource: MCP })
    const pair = await tokens(res)
    const { client: rs, client_secret } = await makeClient({
      grant_types: ['client_credentials'],
      scope: 'introspect',
      token_endpoint_auth_method: 'client_secret_post',
    })
    const introspect = async (token: string) =>
      (await call(
        '/auth/introspect',
        form({ token, client_id: rs.client_id, client_secret: client_secret! }),
      ).then((r) => r.json())) as { active: boolean; aud?: string }
    expect(await introspect(pair.access_token)).toMatchObject({ active: true, aud: MCP })
    // A refresh token is described only to the client it was issued to (RFC 7662 §4).
    expect(await introspect(pair.refresh_token)).toEqual({ active: false })
    const revoked = await call(
      '/auth/revoke',
      form({ token: pair.access_token, client_id: client.client_id }),
    )
    expect(revoked.status).toBe(200)
    expect(await introspect(pair.access_token)).toEqual({ active: false })
    expect(await introspect(pair.refresh_token)).toEqual({ active: false })
  })

  it('still reports the default audience for a token issued without resource', async () => {
    const user = await makeUser()
    const pair = await login(user)
    const { client, client_secret } = await makeClient({
      grant_types: ['client_credentials'],
      scope: 'introspect',
      token_endpoint_auth_method: 'client_secret_post',
    })
    const res = await call(
      '/auth/introspect',
      form({
        token: pair.access_token,
        client_id: client.client_id,
        client_secret: client_secret!,
      }),
    )
    expect(await res.json()).toMatchObject({ active: true, aud: 'todo-api' })
  })
})

/** The person's side of the device flow: the code, the sign-in, Allow. */
async function approveDevice(userCode: string, user: Pick<TestUser, 'username' | 'password'>) {
  const browser = new Browser()
  const page = await browser.get(`/device?user_code=${encodeURIComponent(userCode)}`)
  let res = await browser.post('/device/code', {
    request: requestToken(await page.text()),
    user_code: userCode,
  })
  res = await browser.post('/device/login', {
    request: requestToken(await res.text()),
    username: user.username,
    password: user.password,
  })
  res = await browser.post('/device/decision', {
    request: requestToken(await res.text()),
    decision: 'allow',
  })
  expect(res.status).toBe(200)
}
