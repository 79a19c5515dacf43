import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { rememberConsent } from '../../src/db/clients'
import { insertProvider, linkIdentity } from '../../src/db/identity-providers'
import { recordD1 } from '../d1-recorder'
import { bearer, form, json, makeUser, routesMissingFrom, type TokenPair } from '../helpers'
import { makeClient, REDIRECT } from '../oauth-client'

// The cost of the check in front of every Bearer request, per docs/performance.md: one D1 round
// trip (the session check and the route's statements in one batch), no bcrypt, no key import.

const ORIGIN = 'https://todo.test'
const app = createApp()

/** One request through the app with a D1 that records its round trips. */
async function send(path: string, init: RequestInit = {}) {
  const recorder = recordD1(env.DB)
  const res = await app.request(`${ORIGIN}${path}`, init, { ...env, DB: recorder.db })
  return { res, trips: recorder.trips }
}

/** Logs in through this file's app, whose modules (key cache, bcrypt) are the ones the spies watch. */
async function loginThroughApp(username: string, password: string): Promise<TokenPair> {
  const { res } = await send('/auth/token', form({ grant_type: 'password', username, password }))
  expect(res.status).toBe(200)
  return res.json()
}

/** A client made straight in D1 (not through the recorded app), confidential if asked. */
async function newClient(confidential = false): Promise<string> {
  const { client } = await makeClient(
    confidential ? { token_endpoint_auth_method: 'client_secret_basic' } : {},
  )
  return client.client_id
}

/** An upstream identity provider made straight in D1 (its secret needs no decrypting here). */
async function newProvider(): Promise<string> {
  const id = `trips-${crypto.randomUUID().slice(0, 8)}`
  const provider = await insertProvider(env.DB, {
    id,
    name: 'Trips',
    issuer: `https://idp.test/${id}`,
    client_id: 'todo-auth',
    client_secret: 'not-decrypted-here',
    scopes: 'openid',
    allow_signup: false,
    allowed_domains: [],
    trusted_email: false,
    enabled: true,
  })
  return provider!.id
}

async function newTodo(token: string): Promise<string> {
  const { res } = await send('/api/todos', json('POST', { title: 'round trips' }, token))
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

async function created(token: string, path: string, body: unknown): Promise<string> {
  const { res } = await send(path, json('POST', body, token))
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}
const newList = (token: string) => created(token, '/api/lists', { name: 'round trips' })
const newTeam = (token: string) => created(token, '/api/teams', { name: 'round trips' })

/** A list of the token's user, shared with a new user; the list's and the user's ids. */
async function sharedList(token: string): Promise<[string, string]> {
  const list = await newList(token)
  const { id } = await makeUser()
  const path = `/api/lists/${list}/members/users/${id}`
  expect((await send(path, json('PUT', { role: 'viewer' }, token))).res.status).toBe(200)
  return [list, id]
}

afterEach(() => vi.restoreAllMocks())

type Check = {
  role: 'user' | 'admin'
  /** The request to time, made with the user's access token: [path, init, expected status]. */
  request: (token: string) => Promise<[string, RequestInit, number]>
}

/**
 * Every route of the app: how to call it with a Bearer token, or why the Bearer hot path does
 * not apply to it. A route added to the app without an entry here fails the first test below.
 */
const HOT_PATH: Record<string, Check | string> = {
  'GET /healthz': 'no credentials',
  'GET /.well-known/oauth-authorization-server': 'no credentials and no D1',
  'GET /openapi.json': 'no credentials and no D1',
  'GET /.well-known/oauth-protected-resource': 'no credentials and no D1',
  'GET /.well-known/oauth-protected-resource/mcp': 'no credentials and no D1',
  'GET /auth/authorize': 'a browser page: the sign-in cookie, not a Bearer token',
  'POST /auth/authorize/login': 'a browser form that checks a password',
  'POST /auth/authorize/consent': 'a browser form: the sign-in cookie, not a Bearer token',
  'GET /auth/federate/:id': 'a browser link: the sign-in cookie, then the upstream provider',
  'GET /auth/federate/:id/callback': 'a browser redirect from an upstream provider',
  'POST /auth/clients': 'no credentials (RFC 7591 registration, charged per client address)',
  'POST /auth/token': 'issues tokens from a password or a refresh token (see "issuing tokens")',
  'POST /auth/revoke': 'takes the token in the body, not as a Bearer credential',
  'POST /auth/introspect': 'takes the token in the body and authenticates a client instead',
  'POST /auth/device_authorization': 'a client starts the device flow: no Bearer token',
  'GET /device': 'a browser page: the sign-in cookie, not a Bearer token',
  'POST /device/code': 'a browser form, throttled: the sign-in cookie, not a Bearer token',
  'POST /device/login': 'a browser form that checks a password',
  'POST /device/decision': 'a browser form: the sign-in cookie, not a Bearer token',
  'GET /account': 'a browser page: the sign-in cookie, not a Bearer token',
  'POST /account/login': 'a browser form that checks a password or a passkey',
  'POST /account/confirm': 'a browser form that checks a password or a passkey',
  'POST /account/password': 'a browser form that checks a password and hashes the new one',
  'POST /account/passkeys': 'a browser form that checks a passkey’s attestation',
  ...Object.fromEntries(
    [
      'POST /account/logout',
      'POST /account/profile',
      'POST /account/passkeys/rename',
      'POST /account/passkeys/remove',
      'POST /account/sessions/end',
      'POST /account/sessions/end-others',
      'POST /account/apps/withdraw',
      'GET /account/link/:provider',
      'POST /account/identities/unlink',
    ].map((route) => [route, 'a browser form of the account page: the sign-in cookie']),
  ),
  'POST /auth/register': 'no credentials; hashes a password',
  'GET /profile': 'HTTP Basic: checks a password',
  'POST /users/me/password': 'checks the current password and hashes the new one',
  'POST /users': 'hashes the new user’s password',
  // Three trips today: the session check, the revocation, then the audit event on its own.
  'POST /auth/logout': 'ends the session rather than reading data',
  'GET /api/todos': { role: 'user', request: async (t) => ['/api/todos', bearer(t), 200] },
  'POST /api/todos': {
    role: 'user',
    request: async (t) => ['/api/todos', json('POST', { title: 'x' }, t), 201],
  },
  'GET /api/todos/:id': {
    role: 'user',
    request: async (t) => [`/api/todos/${await newTodo(t)}`, bearer(t), 200],
  },
  'PATCH /api/todos/:id': {
    role: 'user',
    request: async (t) => [
      `/api/todos/${await newTodo(t)}`,
      json('PATCH', { completed: true }, t),
      200,
    ],
  },
  'DELETE /api/todos/:id': {
    role: 'user',
    request: async (t) => [`/api/todos/${await newTodo(t)}`, bearer(t, { method: 'DELETE' }), 204],
  },
  'GET /api/lists': { role: 'user', request: async (t) => ['/api/lists', bearer(t), 200] },
  'POST /api/lists': {
    role: 'user',
    request: async (t) => ['/api/lists', json('POST', { name: 'x' }, t), 201],
  },
  'GET /api/lists/:id': {
    role: 'user',
    request: async (t) => [`/api/lists/${await newList(t)}`, bearer(t), 200],
  },
  'PATCH /api/lists/:id': {
    role: 'user',
    request: async (t) => [`/api/lists/${await newList(t)}`, json('PATCH', { name: 'y' }, t), 200],
  },
  'DELETE /api/lists/:id': {
    role: 'user',
    request: async (t) => [`/api/lists/${await newList(t)}`, bearer(t, { method: 'DELETE' }), 204],
  },
  'GET /api/lists/:id/todos': {
    role: 'user',
    request: async (t) => [`/api/lists/${await newList(t)}/todos`, bearer(t), 200],
  },
  'POST /api/lists/:id/todos': {
    role: 'user',
    request: async (t) => [
      `/api/lists/${await newList(t)}/todos`,
      json('POST', { title: 'x' }, t),
      201,
    ],
  },
  'GET /api/lists/:id/members': {
    role: 'user',
    request: async (t) => [`/api/lists/${await newList(t)}/members`, bearer(t), 200],
  },
  'PUT /api/lists/:id/members/users/:user_id': {
    role: 'user',
    request: async (t) => [
      `/api/lists/${await newList(t)}/members/users/${(await makeUser()).id}`,
      json('PUT', { role: 'editor' }, t),
      200,
    ],
  },
  // Naming a user by username is throttled (src/api/by-username.ts): the charge, then the batch.
  'POST /api/lists/:id/members/users': 'throttled: the session check, the charge, then the batch',
  'POST /api/teams/:id/members': 'throttled: the session check, the charge, then the batch',
  'DELETE /api/lists/:id/members/users/:user_id': {
    role: 'user',
    request: async (t) => {
      const [list, user] = await sharedList(t)
      return [`/api/lists/${list}/members/users/${user}`, bearer(t, { method: 'DELETE' }), 204]
    },
  },
  'PUT /api/lists/:id/members/teams/:team_id': {
    role: 'user',
    request: async (t) => [
      `/api/lists/${await newList(t)}/members/teams/${await newTeam(t)}`,
      json('PUT', { role: 'viewer' }, t),
      200,
    ],
  },
  'DELETE /api/lists/:id/members/teams/:team_id': {
    role: 'user',
    request: async (t) => {
      const [list, team] = [await newList(t), await newTeam(t)]
      const path = `/api/lists/${list}/members/teams/${team}`
      expect((await send(path, json('PUT', { role: 'viewer' }, t))).res.status).toBe(200)
      return [path, bearer(t, { method: 'DELETE' }), 204]
    },
  },
  'GET /api/teams': { role: 'user', request: async (t) => ['/api/teams', bearer(t), 200] },
  'POST /api/teams': {
    role: 'user',
    request: async (t) => ['/api/teams', json('POST', { name: 'x' }, t), 201],
  },
  'PUT /api/teams/:id/members/:user_id': {
    role: 'user',
    request: async (t) => [
      `/api/teams/${await newTeam(t)}/members/${(await makeUser()).id}`,
      json('PUT', { role: 'member' }, t),
      200,
    ],
  },
  'DELETE /api/teams/:id/members/:user_id': {
    role: 'user',
    request: async (t) => {
      const team = await newTeam(t)
      const { id } = await makeUser()
      const path = `/api/teams/${team}/members/${id}`
      expect((await send(path, json('PUT', { role: 'member' }, t))).res.status).toBe(200)
      return [path, bearer(t, { method: 'DELETE' }), 204]
    },
  },
  'GET /users/me': { role: 'user', request: async (t) => ['/users/me', bearer(t), 200] },
  'GET /users': { role: 'admin', request: async (t) => ['/users', bearer(t), 200] },
  'GET /users/:id': {
    role: 'admin',
    request: async (t) => [`/users/${(await makeUser()).id}`, bearer(t), 200],
  },
  'PATCH /users/:id': {
    role: 'admin',
    request: async (t) => [
      `/users/${(await makeUser()).id}`,
      json('PATCH', { name: 'Renamed' }, t),
      200,
    ],
  },
  'DELETE /users/:id': {
    role: 'admin',
    request: async (t) => [`/users/${(await makeUser()).id}`, bearer(t, { method: 'DELETE' }), 204],
  },
  'GET /admin/audit': { role: 'admin', request: async (t) => ['/admin/audit', bearer(t), 200] },
  'POST /admin/clients': {
    role: 'admin',
    request: async (t) => [
      '/admin/clients',
      json('POST', { client_name: 'Trips', redirect_uris: [REDIRECT] }, t),
      201,
    ],
  },
  'GET /admin/clients': { role: 'admin', request: async (t) => ['/admin/clients', bearer(t), 200] },
  'GET /admin/clients/:client_id': {
    role: 'admin',
    request: async (t) => [`/admin/clients/${await newClient()}`, bearer(t), 200],
  },
  'PATCH /admin/clients/:client_id': {
    role: 'admin',
    request: async (t) => [
      `/admin/clients/${await newClient()}`,
      json('PATCH', { disabled: true }, t),
      200,
    ],
  },
  'DELETE /admin/clients/:client_id': {
    role: 'admin',
    request: async (t) => [
      `/admin/clients/${await newClient()}`,
      bearer(t, { method: 'DELETE' }),
      204,
    ],
  },
  'POST /admin/clients/:client_id/secret': {
    role: 'admin',
    request: async (t) => [
      `/admin/clients/${await newClient(true)}/secret`,
      bearer(t, { method: 'POST' }),
      200,
    ],
  },
  // The provider's discovery (a fetch, cached) comes after the batch that wrote the request row.
  'POST /users/me/identities/:provider': {
    role: 'user',
    request: async (t) => [
      `/users/me/identities/${await newProvider()}`,
      bearer(t, { method: 'POST' }),
      200,
    ],
  },
  'DELETE /users/me/identities/:provider': {
    role: 'user',
    request: async (t) => {
      const provider = await newProvider()
      const me = (await (await send('/users/me', bearer(t))).res.json()) as { id: string }
      const identity = {
        issuer: `https://idp.test/${provider}`,
        subject: 'trips',
        providerId: provider,
      }
      await linkIdentity(env.DB, { ...identity, userId: me.id, email: '' }).run()
      return [`/users/me/identities/${provider}`, bearer(t, { method: 'DELETE' }), 204]
    },
  },
  'GET /users/me/identities': {
    role: 'user',
    request: async (t) => ['/users/me/identities', bearer(t), 200],
  },
  'POST /admin/identity-providers': {
    role: 'admin',
    request: async (t) => [
      '/admin/identity-providers',
      json(
        'POST',
        {
          id: `trips-${crypto.randomUUID().slice(0, 8)}`,
          name: 'Trips',
          issuer: 'https://idp.test/trips',
          client_id: 'todo-auth',
          client_secret: 'secret',
        },
        t,
      ),
      201,
    ],
  },
  'GET /admin/identity-providers': {
    role: 'admin',
    request: async (t) => ['/admin/identity-providers', bearer(t), 200],
  },
  'GET /admin/identity-providers/:id': {
    role: 'admin',
    request: async (t) => [`/admin/identity-providers/${await newProvider()}`, bearer(t), 200],
  },
  'PATCH /admin/identity-providers/:id': {
    role: 'admin',
    request: async (t) => [
      `/admin/identity-providers/${await newProvider()}`,
      json('PATCH', { enabled: false }, t),
      200,
    ],
  },
  'DELETE /admin/identity-providers/:id': {
    role: 'admin',
    request: async (t) => [
      `/admin/identity-providers/${await newProvider()}`,
      bearer(t, { method: 'DELETE' }),
      204,
    ],
  },
  'GET /users/me/clients': {
    role: 'user',
    request: async (t) => ['/users/me/clients', bearer(t), 200],
  },
  'DELETE /users/me/clients/:client_id': {
    role: 'user',
    request: async (t) => {
      const clientId = await newClient()
      const me = (await (await send('/users/me', bearer(t))).res.json()) as { id: string }
      await rememberConsent(env.DB, me.id, clientId, ['read'])
      return [`/users/me/clients/${clientId}`, bearer(t, { method: 'DELETE' }), 204]
    },
  },
  // A tool call of the MCP server (src/mcp/) with a token for it: one batch, as the REST route.
  'POST /mcp': {
    role: 'user',
    request: async () => ['/mcp', mcp(await mcpToken(), 'add_todo', { title: 'x' }), 200],
  },
}

const MCP = 'https://todo.test/mcp'

/** A new user's token for the MCP server (RFC 8707 `resource`), got outside the recording. */
async function mcpToken(): Promise<string> {
  const { username, password } = await makeUser()
  const fields = { grant_type: 'password', username, password, resource: MCP }
  const { res } = await send('/auth/token', form(fields))
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

/** A JSON-RPC message to /mcp: a tools/call of `tool`, or `method` itself. */
const mcp = (token: string, tool: string, args: object = {}, method = 'tools/call') => {
  const params = method === 'tools/call' ? { name: tool, arguments: args } : args
  const init = json('POST', { jsonrpc: '2.0', id: 1, method, params }, token)
  const headers = {
    ...(init.headers as Record<string, string>),
    Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': '2025-11-25',
  }
  return { ...init, headers }
}

/** A tool's call with a todo (made through the REST API) of the MCP token's user. */
async function mcpTodoCall(
  tool: string,
  args: object = {},
): Promise<[string, RequestInit, number]> {
  const token = await mcpToken()
  const made = (await (
    await send('/mcp', mcp(token, 'add_todo', { title: 'round trips' }))
  ).res.json()) as { result: { structuredContent: { id: string; list_id: string } } }
  const { id, list_id } = made.result.structuredContent
  return ['/mcp', mcp(token, tool, { id, list_id, ...args }), 200]
}

/** Routes that take a second path through their handler worth holding to the same budget. */
const ALSO: [string, Check][] = [
  [
    'POST /mcp initialize (no tool: the token check alone)',
    {
      role: 'user',
      request: async () => ['/mcp', mcp(await mcpToken(), '', INITIALIZE, 'initialize'), 200],
    },
  ],
  [
    'POST /mcp list_lists',
    { role: 'user', request: async () => ['/mcp', mcp(await mcpToken(), 'list_lists'), 200] },
  ],
  [
    'POST /mcp list_todos',
    { role: 'user', request: async () => ['/mcp', mcp(await mcpToken(), 'list_todos'), 200] },
  ],
  [
    'POST /mcp list_todos of a list',
    { role: 'user', request: () => mcpTodoCall('list_todos', { id: undefined }) },
  ],
  [
    'POST /mcp update_todo',
    {
      role: 'user',
      request: () => mcpTodoCall('update_todo', { list_id: undefined, completed: true }),
    },
  ],
  [
    'POST /mcp delete_todo',
    { role: 'user', request: () => mcpTodoCall('delete_todo', { list_id: undefined }) },
  ],
  [
    "GET /api/todos?user_id= (an admin's audited read)",
    {
      role: 'admin',
      request: async (t) => [`/api/todos?user_id=${(await makeUser()).id}`, bearer(t), 200],
    },
  ],
  [
    "GET /api/lists?user_id= (an admin's audited read)",
    {
      role: 'admin',
      request: async (t) => [`/api/lists?user_id=${(await makeUser()).id}`, bearer(t), 200],
    },
  ],
]

/**
 * What a client acting as itself (client credentials, machine scopes users:read and audit:read)
 * may call with its own token; every other Bearer route answers it 403 `forbidden`, once its
 * token was checked live.
 */
const CLIENT_MAY: Record<string, () => Promise<string>> = {
  'GET /users': async () => '/users',
  'GET /users/:id': async () => `/users/${(await makeUser()).id}`,
  'GET /admin/audit': async () => '/admin/audit',
}

const INITIALIZE = {
  protocolVersion: '2025-11-25',
  capabilities: {},
  clientInfo: { name: 'hot path', version: '1' },
}

/** Bearer routes that HOT_PATH leaves out for a user's token, which a client's is refused on. */
const BEARER_ELSEWHERE = ['POST /users/me/password', 'POST /users', 'POST /auth/logout']

/** Every Bearer route, as a client's token calls it: [route, how, the status it gets]. */
const CLIENT_CHECKS: [string, () => Promise<[string, RequestInit]>, number][] = [
  ...Object.entries(HOT_PATH).flatMap(([route, check]) =>
    typeof check === 'string' ? [] : [route],
  ),
  ...BEARER_ELSEWHERE,
]
  // A token of the REST API is no token for the MCP server (401 before any D1): a client's own
  // MCP token is held to one round trip below.
  .filter((route) => route !== 'POST /mcp')
  .map((route) => {
    const [method, pattern] = route.split(' ') as [string, string]
    const may = CLIENT_MAY[route]
    if (may) return [route, async () => [await may(), { method }], 200]
    // Refused before anything is read, so any id will do and the body is never looked at.
    const path = pattern.replace(/:\w+/g, () => crypto.randomUUID())
    const body = method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }
    const headers = body.body ? { 'Content-Type': 'application/json' } : {}
    return [route, async () => [path, { method, ...body, headers }], 403]
  })

async function clientToken(resource?: string): Promise<string> {
  const { client, client_secret } = await makeClient({
    grant_types: ['client_credentials'],
    scope: 'audit:read users:read',
    token_endpoint_auth_method: 'client_secret_post',
  })
  const { res } = await send(
    '/auth/token',
    form({
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client_secret!,
      ...(resource && { resource }),
    }),
  )
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

describe('an authenticated request', () => {
  it('has an entry here for every route of the app', () => {
    expect(routesMissingFrom(HOT_PATH, 'HOT_PATH of test/auth/hot-path.test.ts')).toBe('')
  })

  const checks = [
    ...Object.entries(HOT_PATH).flatMap(([route, check]) =>
      typeof check === 'string' ? [] : [[route, check] as const],
    ),
    ...ALSO,
  ]
  it.each(checks)('to %s makes one D1 round trip', async (_route, { role, request }) => {
    const user = await makeUser({ role })
    const { access_token } = await loginThroughApp(user.username, user.password)
    const [path, init, status] = await request(access_token)

    const { res, trips } = await send(path, init)

    expect(res.status).toBe(status)
    expect(trips, `round trips: ${JSON.stringify(trips)}`).toHaveLength(1)
    // A tool's refusal is a 200 too: the call must have done what it was asked.
    if (path === '/mcp') {
      const body = (await res.json()) as { result?: { isError?: boolean } }
      expect(body.result, JSON.stringify(body)).toBeDefined()
      expect(body.result?.isError, JSON.stringify(body)).toBeFalsy()
    }
  })

  it.each(CLIENT_CHECKS)(
    'to %s with a client’s own token makes one D1 round trip',
    async (route, request, status) => {
      const token = await clientToken()
      const [path, init] = await request()
      const headers = {
        ...(init.headers as Record<string, string>),
        Authorization: `Bearer ${token}`,
      }

      const { res, trips } = await send(path, { ...init, headers })

      expect(res.status).toBe(status)
      if (status === 403) expect(((await res.json()) as { error: string }).error).toBe('forbidden')
      expect(trips, `round trips: ${JSON.stringify(trips)}`).toHaveLength(1)
      // The client's row checked live, alone for a refusal, else opening the route's batch.
      expect(trips[0]?.[0]).toContain('revoked_client_tokens')
      if (status === 403) expect(trips[0], route).toHaveLength(1)
      else expect(trips[0]?.[0]).toContain('client token check failed')
    },
  )

  it('to POST /mcp with a client’s own MCP token is a tool error in one D1 round trip', async () => {
    const token = await clientToken(MCP)
    const { res, trips } = await send('/mcp', mcp(token, 'list_lists'))
    expect(res.status).toBe(200)
    const { result } = (await res.json()) as { result: { isError: boolean; content: object[] } }
    expect(result).toMatchObject({
      isError: true,
      content: [{ text: expect.stringMatching(/^forbidden/) }],
    })
    expect(trips, `round trips: ${JSON.stringify(trips)}`).toHaveLength(1)
    expect(trips[0]?.[0]).toContain('revoked_client_tokens')
  })

  it('checks no password and imports no key', async () => {
    const user = await makeUser()
    const tokens = await loginThroughApp(user.username, user.password)
    const importKey = vi.spyOn(crypto.subtle, 'importKey')
    const compare = vi.spyOn(bcrypt, 'compare')
    const hash = vi.spyOn(bcrypt, 'hash')

    const id = await newTodo(tokens.access_token)
    expect((await send(`/api/todos/${id}`, bearer(tokens.access_token))).res.status).toBe(200)
    expect((await send('/users/me', bearer(tokens.access_token))).res.status).toBe(200)

    expect(importKey).not.toHaveBeenCalled()
    expect(compare).not.toHaveBeenCalled()
    expect(hash).not.toHaveBeenCalled()
  })
})

describe('issuing tokens', () => {
  it('grants a password in two round trips: the charged read, then the success with the session', async () => {
    const user = await makeUser()
    const { res, trips } = await send(
      '/auth/token',
      form({ grant_type: 'password', username: user.username, password: user.password }),
    )
    expect(res.status).toBe(200)
    expect(trips, JSON.stringify(trips)).toHaveLength(2)
  })

  it('signs with the key imported once per isolate', async () => {
    const user = await makeUser()
    const first = await loginThroughApp(user.username, user.password)
    const importKey = vi.spyOn(crypto.subtle, 'importKey')

    const { res } = await send(
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
    )
    expect(res.status).toBe(200)
    expect(
      (await send('/users/me', bearer(((await res.json()) as TokenPair).access_token))).res.status,
    ).toBe(200)

    expect(importKey).not.toHaveBeenCalled()
  })
})
