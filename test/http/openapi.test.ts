import { env } from 'cloudflare:test'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { z } from 'zod'
import { createApp } from '../../src/app'
import type { AuditEntry } from '../../src/db/audit'
import type { Todo } from '../../src/db/todos'
import type { apiError, auditList, greeting, tokenPair } from '../../src/http/schemas/responses'
import type { todo } from '../../src/http/schemas/todos'
import { tourTheAccountPage } from '../account-pages'
import { basicHeader, bearer, call, form, json, login, makeUser, type TokenPair } from '../helpers'
import { authorizeUrl, makeClient, ORIGIN, REDIRECT, requestToken, VERIFIER } from '../oauth-client'
import {
  type Document,
  type Input,
  operations,
  requestProblems,
  responseProblems,
} from '../openapi-document'

async function fetchDocument(): Promise<Document> {
  const res = await call('/openapi.json')
  expect(res.status).toBe(200)
  return res.json()
}

/**
 * The document with self-registration and client registration on, which lists every operation:
 * the one served here (both off) leaves out /auth/register and /auth/clients, 404s then.
 */
async function fullDocument(): Promise<Document> {
  const res = await createApp().request(
    'https://todo.test/openapi.json',
    {},
    { ...env, ALLOW_SIGNUP: 'true', ALLOW_CLIENT_REGISTRATION: 'true' },
  )
  expect(res.status).toBe(200)
  return res.json()
}

/** A request for an operation with its path parameters filled in; the id matches nothing. */
const requestFor = (path: string, method: string, headers: Record<string, string> = {}) =>
  call(path.replace(/\{\w+\}/g, 'no-such-id'), { method: method.toUpperCase(), headers })

describe('GET /openapi.json', () => {
  it('describes every route the app has (with self-registration on)', async () => {
    const doc = await fullDocument()
    const described = new Set(
      operations(doc).map(({ path, method }) => `${method.toUpperCase()} ${path}`),
    )
    const routes = createApp()
      .routes.filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`)
    expect(routes.length).toBeGreaterThan(10)
    // Add a doc({...}) line to the route when this fails (see src/http/openapi.ts).
    expect([...new Set(routes)].filter((r) => !described.has(r))).toEqual([])
  })

  it('declares the OAuth2 password flow and HTTP Basic', async () => {
    const { securitySchemes } = (await fetchDocument()).components
    expect(securitySchemes.oauth2).toMatchObject({
      type: 'oauth2',
      flows: {
        password: {
          tokenUrl: 'https://todo.test/auth/token',
          refreshUrl: 'https://todo.test/auth/token',
          scopes: { read: expect.any(String), write: expect.any(String) },
        },
      },
    })
    expect(securitySchemes.basicAuth).toMatchObject({ type: 'http', scheme: 'basic' })
    expect(securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    })
  })

  it('gives every operation its error responses in the one error shape', async () => {
    const doc = await fetchDocument()
    expect(doc.components.schemas.Error).toMatchObject({ required: ['error', 'error_description'] })
    const errorRef = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } }
    for (const { path, method, op } of operations(doc)) {
      expect(op.responses.default, `${method} ${path}`).toBeDefined()
      const errors = Object.entries(op.responses).filter(
        ([status]) => status === 'default' || Number(status) >= 400,
      )
      for (const [status, response] of errors) {
        // The authorization and account pages answer a browser in HTML, errors included
        // (src/oauth/browser/, authorize/, device/, src/account/).
        const page =
          path.startsWith('/auth/authorize') ||
          path.startsWith('/auth/federate') ||
          path.startsWith('/device') ||
          path.startsWith('/account')
        if (page && response.content?.['text/html']) continue
        expect(response.content, `${method} ${path} ${status}`).toEqual(errorRef)
      }
      if (op.security.length > 0)
        expect(op.responses['401']?.headers, `${method} ${path}`).toHaveProperty('WWW-Authenticate')
      if (op.requestBody)
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['400', '413', '415']),
        )
    }
  })

  it('documents requests with the schemas that validate them', async () => {
    const doc = await fetchDocument()
    const create = doc.paths['/api/todos']!.post!.requestBody!.content['application/json']!.schema
    expect(create).toMatchObject({
      required: ['title'],
      additionalProperties: false,
      properties: { title: { maxLength: 200 } },
    })
    const token =
      doc.paths['/auth/token']!.post!.requestBody!.content['application/x-www-form-urlencoded']!
        .schema
    expect(Object.keys(token.properties as object)).toEqual([
      'grant_type',
      'username',
      'password',
      'scope',
      'refresh_token',
      'code',
      'redirect_uri',
      'code_verifier',
      'device_code',
      'client_id',
      'client_secret',
      'resource',
      'client_assertion_type',
      'client_assertion',
    ])
    const query = doc.paths['/api/todos']!.get!.parameters!.map(
      (p) => `${p.in}:${p.name}:${p.required}`,
    )
    expect(query).toEqual([
      'query:completed:false',
      'query:list_id:false',
      'query:limit:false',
      'query:offset:false',
      'query:user_id:false',
    ])
    expect(doc.paths['/api/todos/{id}']!.patch!.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
    ])
  })

  it('documents what transforms, refinements and trims check, not just the raw string', async () => {
    const doc = await fetchDocument()
    const query = Object.fromEntries(
      doc.paths['/api/todos']!.get!.parameters!.map((p) => [p.name, p.schema]),
    )
    expect(query.completed).toEqual({ type: 'boolean' })
    expect(query.limit).toEqual({ type: 'integer', minimum: 1, maximum: 500, default: 100 })
    expect(query.offset).toEqual({ type: 'integer', minimum: 0, maximum: 999_999_999, default: 0 })
    const body = (path: string, method: string, type = 'application/json') =>
      doc.paths[path]![method]!.requestBody!.content[type]!.schema
    expect(body('/api/todos', 'post').properties).toMatchObject({ title: { pattern: '\\S' } })
    expect(body('/api/todos/{id}', 'patch')).toMatchObject({ minProperties: 1 })
    expect(body('/users/{id}', 'patch')).toMatchObject({ minProperties: 1 })
    const token = body('/auth/token', 'post', 'application/x-www-form-urlencoded')
    expect(token.properties).toMatchObject({
      grant_type: {
        type: 'string',
        enum: [
          'authorization_code',
          'refresh_token',
          'client_credentials',
          'urn:ietf:params:oauth:grant-type:device_code',
          'password',
        ],
      },
    })
    const pair =
      doc.paths['/auth/token']!.post!.responses['200']!.content!['application/json']!.schema
    expect(pair.properties).toMatchObject({ expires_in: { type: 'integer', minimum: 1 } })
  })

  it('matches the app: secured operations refuse a request without credentials, public ones do not', async () => {
    const doc = await fetchDocument()
    // Public operations say so outright (`security: []`), as linters and generated clients expect.
    expect(operations(doc).every(({ op }) => Array.isArray(op.security))).toBe(true)
    for (const { path, method, op } of operations(doc)) {
      const res = await requestFor(path, method)
      if (op.security.length > 0) {
        expect(res.status, `${method} ${path}`).toBe(401)
        expect(res.headers.get('WWW-Authenticate'), `${method} ${path}`).toMatch(
          op.security[0]!.basicAuth ? /^Basic / : /^Bearer /,
        )
      } else {
        expect(res.status, `${method} ${path}`).not.toBe(401)
      }
    }
  })

  it('matches the app: operations that need "write" refuse a read-only token', async () => {
    // An admin's token, so that on the admin routes too only the scope can refuse.
    const { access_token }: TokenPair = await login(await makeUser({ role: 'admin' }), 'read')
    // Only operations that name a scope: the others include POST /auth/logout, which would end the session.
    const scoped = operations(await fetchDocument()).flatMap(({ path, method, op }) => {
      const scope = op.security?.[0]?.oauth2?.[0]
      return scope ? [{ path, method, scope }] : []
    })
    expect(new Set(scoped.map((s) => s.scope))).toEqual(new Set(['read', 'write']))
    for (const { path, method, scope } of scoped) {
      const res = await requestFor(path, method, { Authorization: `Bearer ${access_token}` })
      if (scope === 'write') expect(res.status, `${method} ${path}`).toBe(403)
      else expect(res.status, `${method} ${path}`).not.toBe(403)
    }
  })
})

describe('the document says what the server does', () => {
  it('names every operation once, for generated clients', async () => {
    const ids = operations(await fetchDocument()).map(({ op }) => op.operationId)
    expect(ids.every((id) => /^[a-z][A-Za-z]+$/.test(id))).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('describes every real response of every operation', async () => {
    // Every operation, /auth/register too: its 404 while sign-up is off is documented as well.
    const doc = await fullDocument()
    const seen = new Set<string>()
    const check = async (method: string, path: string, init: RequestInit = {}) => {
      const res = await call(path, { ...init, method })
      seen.add(`${method} ${path.replace(/\?.*/, '')}`)
      expect(await responseProblems(doc, method, path, res), `${method} ${path}`).toEqual([])
      return res
    }
    const user = await makeUser()
    const admin = await makeUser({ role: 'admin' })
    const pair: TokenPair = await (
      await check('POST', '/auth/token', form({ username: user.username, password: user.password }))
    ).json()
    const { access_token: token } = pair
    const { access_token: adminToken } = await login(admin)

    await check('GET', '/healthz')
    await check('GET', '/.well-known/oauth-authorization-server')
    await check('GET', '/openapi.json')
    await check('POST', '/auth/register', json('POST', { username: 'nobody', password: 'x' }))
    await check('GET', '/profile', {
      headers: { Authorization: basicHeader(user.username, user.password) },
    })
    const todo: { id: string } = await (
      await check('POST', '/api/todos', json('POST', { title: 'Checked', completed: false }, token))
    ).json()
    await check('GET', '/api/todos?completed=false&limit=5', bearer(token))
    await check('GET', `/api/todos/${todo.id}`, bearer(token))
    await check('PATCH', `/api/todos/${todo.id}`, json('PATCH', { completed: true }, token))
    await check('DELETE', `/api/todos/${todo.id}`, bearer(token))
    await check('GET', `/api/todos/${todo.id}`, bearer(token)) // 404
    await check('GET', '/users/me', bearer(token))

    // Lists and teams: the user shares a list with a second user and with a team they are in.
    const other = await makeUser()
    const { access_token: otherToken } = await login(other)
    const list: { id: string } = await (
      await check('POST', '/api/lists', json('POST', { name: 'Checked' }, token))
    ).json()
    const lists: { id: string; default: boolean }[] = await (
      await check('GET', '/api/lists?limit=5', bearer(token))
    ).json()
    const defaultList = lists.find((l) => l.default)!
    await check('GET', `/api/lists/${list.id}`, bearer(token))
    await check('PATCH', `/api/lists/${list.id}`, json('PATCH', { name: 'Renamed' }, token))
    await check('PATCH', `/api/lists/${defaultList.id}`, json('PATCH', { archived: true }, token)) // 409
    await check('POST', `/api/lists/${list.id}/todos`, json('POST', { title: 'In a list' }, token))
    await check('GET', `/api/lists/${list.id}/todos?completed=false`, bearer(token))
    const team: { id: string } = await (
      await check('POST', '/api/teams', json('POST', { name: 'Checked' }, token))
    ).json()
    await check('GET', '/api/teams', bearer(token))
    const teamMember = `/api/teams/${team.id}/members/${other.id}`
    await check('PUT', teamMember, json('PUT', { role: 'member' }, token))
    const userShare = `/api/lists/${list.id}/members/users/${other.id}`
    const teamShare = `/api/lists/${list.id}/members/teams/${team.id}`
    await check('PUT', userShare, json('PUT', { role: 'viewer' }, token))
    await check('PUT', teamShare, json('PUT', { role: 'viewer' }, token))
    const byName = (username: string, role: string) => json('POST', { username, role }, token)
    await check('POST', `/api/teams/${team.id}/members`, byName(other.username, 'member'))
    await check('POST', `/api/lists/${list.id}/members/users`, byName(other.username, 'viewer'))
    await check('POST', `/api/lists/${list.id}/members/users`, byName('nobody-here', 'viewer')) // 404
    await check('GET', `/api/lists/${list.id}/members`, bearer(token))
    await check('POST', `/api/lists/${list.id}/todos`, json('POST', { title: 'x' }, otherToken)) // 403
    await check('GET', `/api/lists?user_id=${other.id}`, bearer(adminToken))
    await check('DELETE', userShare, bearer(token))
    await check('DELETE', teamShare, bearer(token))
    await check('DELETE', teamMember, bearer(otherToken))
    await check('DELETE', `/api/lists/${list.id}`, bearer(token))
    await check('GET', `/api/lists/${list.id}`, bearer(token)) // 404
    const created: { id: string } = await (
      await check(
        'POST',
        '/users',
        json(
          'POST',
          { username: `made${user.username}`, password: 'a long passphrase' },
          adminToken,
        ),
      )
    ).json()
    await check('GET', '/users?limit=2', bearer(adminToken))
    await check('GET', `/users/${created.id}`, bearer(adminToken))
    await check('PATCH', `/users/${created.id}`, json('PATCH', { name: 'Made' }, adminToken))
    await check('DELETE', `/users/${created.id}`, bearer(adminToken))
    await check('GET', `/admin/audit?username=${user.username}`, bearer(adminToken))
    await check('GET', '/admin/audit', bearer(token)) // 403 forbidden
    await check('GET', '/api/todos') // 401
    await check('POST', '/auth/revoke', form({ token: 'not a token' }))
    await check(
      'POST',
      '/auth/token',
      form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
    )

    // The code flow, as a browser and an app go through it (test/oauth-client.ts).
    await check('GET', '/.well-known/oauth-protected-resource')
    await check('GET', '/.well-known/oauth-protected-resource/mcp')
    const { client: app } = await makeClient()
    await check('GET', '/auth/authorize') // 400 page: no app named
    const page = (fields: Record<string, string>, cookie: string): RequestInit => {
      const init = form(fields)
      return {
        ...init,
        redirect: 'manual',
        headers: { ...init.headers, Origin: ORIGIN, Cookie: cookie },
      }
    }
    const cookieOf = (res: Response) => res.headers.get('Set-Cookie')!.split(';')[0]!
    const loginPage = await check('GET', await authorizeUrl(app.client_id), { redirect: 'manual' })
    await check('POST', '/auth/authorize/login', page({ request: 'forged' }, cookieOf(loginPage)))
    const consentPage = await check(
      'POST',
      '/auth/authorize/login',
      page(
        {
          request: requestToken(await loginPage.text()),
          username: user.username,
          password: user.password,
        },
        cookieOf(loginPage),
      ),
    )
    const back = await check(
      'POST',
      '/auth/authorize/consent',
      page(
        { request: requestToken(await consentPage.text()), decision: 'allow' },
        cookieOf(consentPage),
      ),
    )
    const code = new URL(back.headers.get('Location')!).searchParams.get('code')!
    await check(
      'POST',
      '/auth/token',
      form({
        grant_type: 'authorization_code',
        code,
        client_id: app.client_id,
        code_verifier: VERIFIER,
      }),
    )
    await check('POST', '/auth/clients', json('POST', { redirect_uris: [REDIRECT] })) // 404: off
    await check('GET', '/users/me/clients', bearer(token))
    await check('DELETE', `/users/me/clients/${app.client_id}`, bearer(token))
    const made: { client_id: string } = await (
      await check(
        'POST',
        '/admin/clients',
        json('POST', { client_name: 'Toured', redirect_uris: [REDIRECT] }, adminToken),
      )
    ).json()
    const clientPath = `/admin/clients/${made.client_id}`
    await check('GET', '/admin/clients?limit=2', bearer(adminToken))
    await check('GET', clientPath, bearer(adminToken))
    await check('PATCH', clientPath, json('PATCH', { client_name: 'Renamed' }, adminToken))
    await check('POST', `${clientPath}/secret`, bearer(adminToken, { method: 'POST' }))
    await check('DELETE', clientPath, bearer(adminToken, { method: 'DELETE' }))
    await check('GET', clientPath, bearer(adminToken)) // 404

    // Upstream identity providers (the fake one of vitest.config.ts).
    const idp = {
      id: `toured-${crypto.randomUUID().slice(0, 8)}`,
      name: 'Toured SSO',
      issuer: 'https://idp.test/toured',
      client_id: 'todo-auth',
      client_secret: 'fake-idp-secret',
      allow_signup: true,
    }
    const idpPath = `/admin/identity-providers/${idp.id}`
    await check('POST', '/admin/identity-providers', json('POST', idp, adminToken))
    await check('GET', '/admin/identity-providers?limit=2', bearer(adminToken))
    await check('GET', idpPath, bearer(adminToken))
    await check('PATCH', idpPath, json('PATCH', { name: 'Renamed SSO' }, adminToken))
    const federated = await check('GET', await authorizeUrl(app.client_id), { redirect: 'manual' })
    const request = encodeURIComponent(requestToken(await federated.text()))
    const federating = await check('GET', `/auth/federate/${idp.id}?request=${request}`, {
      redirect: 'manual',
      headers: { Cookie: cookieOf(federated) },
    })
    const atIdp = new URL(federating.headers.get('Location')!)
    atIdp.searchParams.set('fake', btoa(JSON.stringify({ sub: 'toured' })).replace(/=+$/, ''))
    const callback = new URL((await fetch(atIdp, { redirect: 'manual' })).headers.get('Location')!)
    await check('GET', callback.pathname + callback.search, {
      redirect: 'manual',
      headers: { Cookie: cookieOf(federated) },
    })
    await check('GET', `/auth/federate/${idp.id}/callback?state=forged`, { redirect: 'manual' })
    await check('POST', `/users/me/identities/${idp.id}`, bearer(token, { method: 'POST' }))
    await check('GET', '/users/me/identities', bearer(token))
    await check('DELETE', `/users/me/identities/${idp.id}`, bearer(token)) // 404: none linked
    await check('DELETE', idpPath, bearer(adminToken))

    // A service: client credentials, then introspection and an admin read with a machine scope.
    const { client: service, client_secret: secret } = await makeClient({
      grant_types: ['client_credentials'],
      scope: 'audit:read introspect',
      token_endpoint_auth_method: 'client_secret_post',
    })
    const credentials = { client_id: service.client_id, client_secret: secret! }
    const machine: { access_token: string } = await (
      await check('POST', '/auth/token', form({ grant_type: 'client_credentials', ...credentials }))
    ).json()
    await check('POST', '/auth/introspect', form({ token: machine.access_token, ...credentials }))
    await check('POST', '/auth/introspect', form({ token: token })) // 401
    await check('GET', '/admin/audit?limit=1', bearer(machine.access_token))
    await check('GET', '/api/todos', bearer(machine.access_token)) // 403 forbidden
    await check('GET', `/api/lists/${defaultList.id}`, bearer(machine.access_token)) // 403

    // The MCP server: no token, a REST token (401 both), a read-only token for it stepping up.
    const rpc = (token: string, method: string, params: object) => ({
      ...json('POST', { jsonrpc: '2.0', id: 1, method, params }, token),
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2025-11-25',
        ...(token && { Authorization: `Bearer ${token}` }),
      },
    })
    const forMcp: { access_token: string } = await (
      await call(
        '/auth/token',
        form({
          grant_type: 'password',
          username: user.username,
          password: user.password,
          scope: 'read',
          resource: 'https://todo.test/mcp',
        }),
      )
    ).json()
    await check('POST', '/mcp', rpc('', 'tools/list', {})) // 401
    await check('POST', '/mcp', rpc(token, 'tools/list', {})) // 401: not this resource's
    await check('POST', '/mcp', rpc(forMcp.access_token, 'tools/list', {}))
    await check('POST', '/mcp', rpc(forMcp.access_token, 'tools/call', { name: 'list_lists' }))
    const write = { name: 'add_todo', arguments: { title: 'x' } }
    await check('POST', '/mcp', rpc(forMcp.access_token, 'tools/call', write)) // 403

    // The device flow: start, poll (pending), the verification page's steps, poll (tokens).
    const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
    const { client: tv } = await makeClient({ grant_types: [DEVICE, 'refresh_token'] })
    const started: { device_code: string; user_code: string } = await (
      await check('POST', '/auth/device_authorization', form({ client_id: tv.client_id }))
    ).json()
    const devicePoll = form({
      grant_type: DEVICE,
      device_code: started.device_code,
      client_id: tv.client_id,
    })
    await check('POST', '/auth/token', devicePoll) // 400 authorization_pending
    const devicePage = await check('GET', `/device?user_code=${started.user_code}`)
    const deviceCookie = cookieOf(devicePage)
    const codeStep = await check(
      'POST',
      '/device/code',
      page(
        { request: requestToken(await devicePage.text()), user_code: started.user_code },
        deviceCookie,
      ),
    )
    const loginStep = await check(
      'POST',
      '/device/login',
      page(
        {
          request: requestToken(await codeStep.text()),
          username: user.username,
          password: user.password,
        },
        deviceCookie,
      ),
    )
    await check(
      'POST',
      '/device/decision',
      page(
        { request: requestToken(await loginStep.text()), decision: 'allow' },
        cookieOf(loginStep),
      ),
    )
    await check('POST', '/auth/token', devicePoll)

    await check(
      'POST',
      '/users/me/password',
      json('POST', { current_password: user.password, new_password: 'another passphrase' }, token),
    )
    await check('POST', '/auth/logout', bearer(adminToken))

    // The account page, every form of it (test/account-pages.ts).
    await tourTheAccountPage(check, await makeUser(), idp.id)

    const every = operations(doc).map(
      ({ path, method }) => `${method.toUpperCase()} ${path.replace(/\{\w+\}/g, '*')}`,
    )
    const tried = new Set(
      [...seen].map((s) =>
        s
          .replace(/\/[0-9a-f-]{36}(?=\/|$)/g, '/*')
          .replace(`/${made.client_id}`, '/*')
          .replace(`/${app.client_id}`, '/*')
          .replaceAll(`/${idp.id}`, '/*'),
      ),
    )
    // Add a call for a new operation above when this fails.
    expect(every.filter((op) => !tried.has(op))).toEqual([])
  })

  // Each input the server refuses (400), which the document must call invalid as well, so that a
  // client checking its requests against the document never sends it.
  const refused: [method: string, path: string, input: Input][] = [
    ['GET', '/api/todos', { query: 'limit=0' }],
    ['GET', '/api/todos', { query: 'limit=501' }],
    ['GET', '/api/todos', { query: 'limit=ten' }],
    ['GET', '/api/todos', { query: 'limit=1e2' }],
    ['GET', '/api/todos', { query: 'limit=-1' }],
    ['GET', '/api/todos', { query: 'offset=1000000000' }],
    ['GET', '/api/todos', { query: 'completed=yes' }],
    ['GET', '/api/todos', { query: 'completed=TRUE' }],
    ['GET', '/api/todos', { query: 'user_id=' }],
    ['POST', '/api/todos', { json: { title: '   ' } }],
    ['POST', '/api/todos', { json: { title: '' } }],
    ['POST', '/api/todos', { json: { title: 'x'.repeat(201) } }],
    ['POST', '/api/todos', { json: { title: 7 } }],
    ['POST', '/api/todos', { json: {} }],
    ['POST', '/api/todos', { json: { title: 'a', completed: 'yes' } }],
    ['POST', '/api/todos', { json: { title: 'a', owner: 'me' } }],
    ['PATCH', '/api/todos/{id}', { json: {} }],
    ['PATCH', '/api/todos/{id}', { json: { title: ' \t ' } }],
    [
      'POST',
      '/auth/token',
      { form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' } },
    ],
    ['POST', '/auth/token', { form: { username: 'u', password: 'p', scope: 'admin' } }],
    ['POST', '/auth/token', { form: { username: 'u', password: 'p', scope: 'read root' } }],
    ['POST', '/auth/revoke', { form: {} }],
    ['POST', '/auth/introspect', { form: {} }],
    ['POST', '/users', { json: { username: 'ab', password: 'a long passphrase' } }],
    ['POST', '/users', { json: { username: 'abc', password: 'short' } }],
    ['POST', '/users', { json: { username: 'abc', password: 'a long passphrase', role: 'root' } }],
    ['POST', '/users', { json: { username: 'abc', password: 'a long passphrase', scopes: ['x'] } }],
    ['POST', '/users', { json: { username: 'abc', password: 'a long passphrase', email: 'no' } }],
    ['PATCH', '/users/{id}', { json: {} }],
    ['PATCH', '/users/{id}', { json: { disabled: 'yes' } }],
    ['GET', '/users', { query: 'limit=0' }],
    ['GET', '/admin/audit', { query: 'offset=abc' }],
    ['POST', '/users/me/password', { json: { current_password: '', new_password: 'x' } }],
    ['GET', '/api/lists', { query: 'limit=0' }],
    ['POST', '/api/lists', { json: { name: '   ' } }],
    ['POST', '/api/lists', { json: { name: 'x'.repeat(101) } }],
    ['PATCH', '/api/lists/{id}', { json: {} }],
    ['PATCH', '/api/lists/{id}', { json: { archived: 'yes' } }],
    ['POST', '/api/teams', { json: { name: '' } }],
    ['POST', '/admin/clients', { json: { client_name: 'x', redirect_uris: ['javascript:x'] } }],
    ['POST', '/admin/clients', { json: { client_name: 'x', redirect_uris: ['http://a.test/'] } }],
    ['POST', '/admin/clients', { json: { client_name: ' ', redirect_uris: [REDIRECT] } }],
    ['POST', '/admin/clients', { json: { client_name: 'x', redirect_uris: [], scope: 'root' } }],
    ['PATCH', '/admin/clients/{id}', { json: {} }],
  ]

  it('calls invalid every input the server refuses', async () => {
    const doc = await fetchDocument()
    const admin = await makeUser({ role: 'admin' })
    const { access_token } = await login(admin)
    const { id: todoId } = await (
      await call('/api/todos', json('POST', { title: 'Target' }, access_token))
    ).json<{ id: string }>()
    for (const [method, template, input] of refused) {
      const path = template.replace('{id}', template.startsWith('/users') ? admin.id : todoId)
      const init: RequestInit =
        input.form !== undefined
          ? form(input.form)
          : input.json !== undefined
            ? json(method, input.json, access_token)
            : bearer(access_token, { method })
      const res = await call(`${path}${input.query ? `?${input.query}` : ''}`, init)
      const what = `${method} ${path} ${JSON.stringify(input)}`
      expect(res.status, what).toBe(400)
      expect(await responseProblems(doc, method, path, res), what).toEqual([])
      expect(requestProblems(doc, method, path, input), what).not.toEqual([])
    }
  })
})

// The documented response schemas are only for the document; the compiler keeps them honest.
it('documents responses with the types the routes return', () => {
  // Todo is an intersection, which toEqualTypeOf tells apart from the same flat object.
  expectTypeOf<z.infer<typeof todo>>().toExtend<Todo>()
  expectTypeOf<Todo>().toExtend<z.infer<typeof todo>>()
  expectTypeOf<z.infer<typeof auditList>>().toEqualTypeOf<AuditEntry[]>()
  // refresh_token is optional: client credentials give none (RFC 6749 §4.4.3).
  expectTypeOf<Required<z.infer<typeof tokenPair>>>().toExtend<TokenPair>()
  expectTypeOf<z.infer<typeof greeting>>().toEqualTypeOf<{ message: string; username: string }>()
  expectTypeOf<z.infer<typeof apiError>['error']>().toEqualTypeOf<
    import('../../src/domain/errors').ErrorCode
  >()
})
