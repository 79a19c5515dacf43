import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app'
import { purgeExpired } from '../../src/db/purge'
import { s256 } from '../../src/oauth/authorize/pkce'
import { tourTheAccountPage } from '../account-pages'
import { assertion, assertionFields, keyPair, publishedClient } from '../client-metadata'
import { recordD1 } from '../d1-recorder'
import {
  basicHeader,
  bearer,
  form,
  json,
  makeUser,
  routeOf,
  routesMissingFrom,
  type TokenPair,
  uniqueName,
} from '../helpers'
import { makeClient, requestToken, VERIFIER } from '../oauth-client'

// Every statement the Worker sends to D1 while serving a tour of the API is explained with
// EXPLAIN QUERY PLAN; none may read a whole table (a failure prints the plans that do). The plans
// are written to docs/generated/query-plans.txt, which docs/query-plans.md explains: this test
// fails when that file is stale, and `npm run generate` rewrites it.

const ORIGIN = 'https://todo.test'

/**
 * Reads a whole table: a bare SCAN, or a walk of a whole index that no LIMIT stops (with a LIMIT,
 * a walk in the index's order reads only the page asked for). SCAN CONSTANT ROW is a SELECT 1.
 */
const readsEverything = (sql: string, line: string) =>
  /^\s*SCAN \w+$/.test(line) ||
  (/^\s*SCAN \w+ USING (COVERING )?INDEX \w+$/.test(line) && !/\bLIMIT\b/.test(sql))

/** The routes the tour does not call, and why; every other route of the app must be in it. */
const NOT_TOURED: Record<string, string> = {
  'GET /.well-known/oauth-authorization-server': 'sends no statement',
  'GET /.well-known/oauth-protected-resource': 'sends no statement',
  'GET /.well-known/oauth-protected-resource/mcp': 'sends no statement',
  'GET /openapi.json': 'sends no statement',
}

/** Calls every route of the app; returns the statements sent to D1 and the routes called. */
async function tourOfTheApi(): Promise<{ statements: Set<string>; routes: Set<string> }> {
  const recorder = recordD1(env.DB)
  const app = createApp()
  const bindings = {
    ...env,
    DB: recorder.db,
    ALLOW_SIGNUP: 'true',
    ALLOW_CLIENT_REGISTRATION: 'true',
  }
  const routes = new Set<string>()
  const send = async (path: string, init: RequestInit = {}) => {
    const route = routeOf(init.method ?? 'GET', path)
    if (route) routes.add(route)
    return app.request(`${ORIGIN}${path}`, init, bindings)
  }
  const token = async (fields: Record<string, string>) =>
    (await (await send('/auth/token', form(fields))).json()) as TokenPair

  const user = await makeUser()
  const admin = await makeUser({ role: 'admin' })
  await send(
    '/auth/token',
    form({ grant_type: 'password', username: user.username, password: 'wrong password' }),
  )
  // With a client address, so that its counter's statements (the charge, a success's refund) are explained too.
  await send('/profile', {
    headers: {
      Authorization: basicHeader(user.username, user.password),
      'CF-Connecting-IP': '192.0.2.1',
    },
  })
  const first = await token({
    grant_type: 'password',
    username: user.username,
    password: user.password,
  })
  const tokens = await token({
    grant_type: 'refresh_token',
    refresh_token: first.refresh_token,
    scope: 'read',
  })
  await send(
    '/auth/token',
    form({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
  ) // reuse
  // With REFRESH_RETRY_SECONDS on: a refresh that keeps its response, a retry, then reuse.
  const retrying = { ...bindings, REFRESH_RETRY_SECONDS: '30' }
  const refreshIn = async (refresh_token: string) =>
    (await (
      await app.request(
        `${ORIGIN}/auth/token`,
        form({ grant_type: 'refresh_token', refresh_token }),
        retrying,
      )
    ).json()) as TokenPair
  const second = await token({
    grant_type: 'password',
    username: user.username,
    password: user.password,
  })
  const kept = await refreshIn(second.refresh_token)
  await refreshIn(second.refresh_token) // the retry
  await refreshIn(kept.refresh_token)
  await refreshIn(second.refresh_token) // now reuse
  const live = await token({
    grant_type: 'password',
    username: user.username,
    password: user.password,
  })
  const created = (await (
    await send('/api/todos', json('POST', { title: 'plan' }, live.access_token))
  ).json()) as { id: string }
  await send('/api/todos', bearer(live.access_token))
  await send('/api/todos?completed=true', bearer(live.access_token))
  await send(`/api/todos/${created.id}`, bearer(live.access_token))
  await send(`/api/todos/${created.id}`, json('PATCH', { completed: true }, live.access_token))
  await send(`/api/todos/${created.id}`, bearer(live.access_token, { method: 'DELETE' }))
  await send('/users/me', bearer(live.access_token))
  await tourOfLists(
    send,
    live.access_token,
    await token({
      grant_type: 'password',
      username: (await makeUser({ username: uniqueName('bob') })).username,
      password: 'correct horse battery',
    }),
  )
  const adminTokens = await token({
    grant_type: 'password',
    username: admin.username,
    password: admin.password,
  })
  await send(`/api/todos?user_id=${user.id}`, bearer(adminTokens.access_token))
  await send(`/api/lists?user_id=${user.id}`, bearer(adminTokens.access_token))
  const staff = (await (
    await send(
      '/users',
      json(
        'POST',
        { username: uniqueName('staff'), password: 'a long enough password' },
        adminTokens.access_token,
      ),
    )
  ).json()) as { id: string }
  await send('/users?limit=10', bearer(adminTokens.access_token))
  await send(`/users/${staff.id}`, bearer(adminTokens.access_token))
  await send(
    `/users/${staff.id}`,
    json('PATCH', { disabled: true, password: 'another long password' }, adminTokens.access_token),
  )
  await send(`/users/${staff.id}`, bearer(adminTokens.access_token, { method: 'DELETE' }))
  await send('/admin/audit', bearer(adminTokens.access_token))
  await send(`/admin/audit?username=${user.username}`, bearer(adminTokens.access_token))

  // The code flow: a client, the login and consent pages, the exchange, a refresh, a replay,
  // consents, and the end of the client.
  const cb = 'https://app.example/cb'
  await send('/auth/clients', json('POST', { redirect_uris: [cb] }))
  const app3 = (await (
    await send(
      '/admin/clients',
      json(
        'POST',
        { client_name: 'plan', redirect_uris: [cb], token_endpoint_auth_method: 'none' },
        adminTokens.access_token,
      ),
    )
  ).json()) as { client_id: string }
  await send('/admin/clients?limit=10', bearer(adminTokens.access_token))
  await send(`/admin/clients/${app3.client_id}`, bearer(adminTokens.access_token))
  const authorizeUrl = `/auth/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: app3.client_id,
    redirect_uri: cb,
    code_challenge: await s256(VERIFIER),
    code_challenge_method: 'S256',
    scope: 'read',
  })}`
  const post = (path: string, fields: Record<string, string>, cookie: string) => {
    const init = form(fields)
    return send(path, { ...init, headers: { ...init.headers, Origin: ORIGIN, Cookie: cookie } })
  }
  const loginPage = await send(authorizeUrl)
  const browser = loginPage.headers.get('Set-Cookie')!.split(';')[0]!
  const consentPage = await post(
    '/auth/authorize/login',
    {
      request: requestToken(await loginPage.text()),
      username: user.username,
      password: user.password,
    },
    browser,
  )
  const signedIn = consentPage.headers.get('Set-Cookie')!.split(';')[0]!
  const allowed = await post(
    '/auth/authorize/consent',
    { request: requestToken(await consentPage.text()), decision: 'allow' },
    signedIn,
  )
  const codeOf = (res: Response) => new URL(res.headers.get('Location')!).searchParams.get('code')!
  const exchange = {
    grant_type: 'authorization_code',
    client_id: app3.client_id,
    code_verifier: VERIFIER,
  }
  const code = codeOf(allowed)
  const viaCode = await token({ ...exchange, code, redirect_uri: cb })
  await token({
    grant_type: 'refresh_token',
    refresh_token: viaCode.refresh_token,
    client_id: app3.client_id,
  })
  await send('/users/me/clients', bearer(live.access_token))
  await send('/auth/token', form({ ...exchange, code })) // replay
  // Signed in and consented: straight back with a code.
  const again2 = await send(authorizeUrl, { headers: { Cookie: signedIn } })
  await token({ ...exchange, code: codeOf(again2) })
  // A Client ID Metadata Document client: its document fetched and stored, consent per redirect
  // host, a private_key_jwt assertion spent (test/oauth/clients/, test/security/).
  const { privateKey, publicJwk } = await keyPair()
  const cimd = await publishedClient({
    redirect_uris: [cb],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
  })
  const cimdPage = await send(
    authorizeUrl.replace(`client_id=${app3.client_id}`, `client_id=${encodeURIComponent(cimd)}`),
    { headers: { Cookie: signedIn } },
  )
  const cimdAllowed = await post(
    '/auth/authorize/consent',
    { request: requestToken(await cimdPage.text()), decision: 'allow' },
    signedIn,
  )
  await token({
    grant_type: 'authorization_code',
    code: codeOf(cimdAllowed),
    code_verifier: VERIFIER,
    ...assertionFields(await assertion(privateKey, cimd)),
  })
  await send(`/users/me/clients/${app3.client_id}`, bearer(live.access_token, { method: 'DELETE' }))
  await send(
    '/auth/logout',
    bearer(viaCode.access_token, { method: 'POST', headers: { Cookie: signedIn } }),
  )
  // A change of redirect URIs, checked against the stored grants in the UPDATE.
  await send(
    `/admin/clients/${app3.client_id}`,
    json('PATCH', { redirect_uris: [cb] }, adminTokens.access_token),
  )
  await send(
    `/admin/clients/${app3.client_id}`,
    json('PATCH', { disabled: true }, adminTokens.access_token),
  )
  await send(
    `/admin/clients/${app3.client_id}/secret`,
    bearer(adminTokens.access_token, { method: 'POST' }),
  )
  await send(
    `/admin/clients/${app3.client_id}`,
    bearer(adminTokens.access_token, { method: 'DELETE' }),
  )
  const signup = json('POST', { username: uniqueName('self'), password: 'a long enough password' })
  await send('/auth/register', {
    ...signup,
    headers: { ...(signup.headers as Record<string, string>), 'CF-Connecting-IP': '192.0.2.1' },
  })
  // The device flow: start, poll, the page's steps (a wrong code, the code, login, allow), poll.
  const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
  const { client: tv } = await makeClient({ grant_types: [DEVICE, 'refresh_token'] })
  const started = (await (
    await send('/auth/device_authorization', form({ client_id: tv.client_id }))
  ).json()) as { device_code: string; user_code: string }
  const devicePoll = {
    grant_type: DEVICE,
    device_code: started.device_code,
    client_id: tv.client_id,
  }
  await send('/auth/token', form(devicePoll))
  await send('/auth/token', form(devicePoll)) // slow_down
  const devicePage = await send('/device')
  const deviceBrowser = devicePage.headers.get('Set-Cookie')!.split(';')[0]!
  const deviceForm = requestToken(await devicePage.text())
  await post('/device/code', { request: deviceForm, user_code: 'BBBB-BBBB' }, deviceBrowser)
  const codeStep = await post(
    '/device/code',
    { request: deviceForm, user_code: started.user_code },
    deviceBrowser,
  )
  const loginStep = await post(
    '/device/login',
    {
      request: requestToken(await codeStep.text()),
      username: user.username,
      password: user.password,
    },
    deviceBrowser,
  )
  await post(
    '/device/decision',
    { request: requestToken(await loginStep.text()), decision: 'allow' },
    loginStep.headers.get('Set-Cookie')!.split(';')[0]!,
  )
  await send('/auth/token', form(devicePoll))

  // A service: client credentials, a machine-scoped read, introspection, its own revocation.
  const { client: service, client_secret: secret } = await makeClient({
    grant_types: ['client_credentials'],
    scope: 'users:read audit:read introspect',
    token_endpoint_auth_method: 'client_secret_post',
  })
  const credentials = { client_id: service.client_id, client_secret: secret! }
  const machine = await token({ grant_type: 'client_credentials', ...credentials })
  await send('/admin/audit', bearer(machine.access_token))
  for (const t of [machine.access_token, tokens.access_token, live.refresh_token])
    await send('/auth/introspect', form({ token: t, ...credentials }))
  await send('/auth/revoke', form({ token: machine.access_token, ...credentials }))
  await send('/auth/revoke', form({ token: tokens.access_token }))
  await send('/auth/revoke', form({ token: live.refresh_token }))
  await send('/auth/logout', bearer(adminTokens.access_token, { method: 'POST' }))
  const again = await token({
    grant_type: 'password',
    username: user.username,
    password: user.password,
  })
  await send(
    '/users/me/password',
    json(
      'POST',
      { current_password: user.password, new_password: 'another long password' },
      again.access_token,
    ),
  )

  // Upstream identity providers (the fake one of vitest.config.ts): the admin API, a sign-in
  // that creates an account, linking from an account and unlinking.
  const admins = (
    await token({ grant_type: 'password', username: admin.username, password: admin.password })
  ).access_token
  const mine = (
    await token({
      grant_type: 'password',
      username: user.username,
      password: 'another long password',
    })
  ).access_token
  const idp = (id: string) => ({
    id,
    name: `Plan ${id}`,
    issuer: `https://idp.test/${id}`,
    client_id: 'todo-auth',
    client_secret: 'fake-idp-secret',
    allow_signup: true,
    trusted_email: true,
  })
  await send('/admin/identity-providers', json('POST', idp('plan-a'), admins))
  await send('/admin/identity-providers', json('POST', idp('plan-b'), admins))
  await send('/admin/identity-providers?limit=10', bearer(admins))
  await send('/admin/identity-providers/plan-a', bearer(admins))
  const viaProvider = async (start: string, cookie: string, sub: string) => {
    const to = new URL(start)
    const fake = { sub, email: `${sub}@corp.example`, email_verified: true }
    to.searchParams.set('fake', btoa(JSON.stringify(fake)).replace(/=+$/, ''))
    const back = new URL((await fetch(to, { redirect: 'manual' })).headers.get('Location')!)
    const done = await send(back.pathname + back.search, { headers: { Cookie: cookie } })
    expect([200, 303], 'signed in: the consent page, or linked').toContain(done.status)
  }
  const app4 = (await (
    await send(
      '/admin/clients',
      json(
        'POST',
        { client_name: 'plan 4', redirect_uris: [cb], token_endpoint_auth_method: 'none' },
        admins,
      ),
    )
  ).json()) as { client_id: string }
  const page = await send(authorizeUrl.replace(app3.client_id, app4.client_id))
  const pageCookie = page.headers.get('Set-Cookie')!.split(';')[0]!
  const federating = await send(
    `/auth/federate/plan-a?request=${encodeURIComponent(requestToken(await page.text()))}`,
    { headers: { Cookie: pageCookie } },
  )
  await viaProvider(federating.headers.get('Location')!, pageCookie, uniqueName('plan'))
  const linking = await send('/users/me/identities/plan-b', bearer(mine, { method: 'POST' }))
  const linkCookie = linking.headers.get('Set-Cookie')!.split(';')[0]!
  const { authorization_url } = (await linking.json()) as { authorization_url: string }
  await viaProvider(authorization_url, linkCookie, uniqueName('plan'))
  await send('/users/me/identities', bearer(mine))
  await send('/users/me/identities/plan-b', bearer(mine, { method: 'DELETE' }))
  await send('/admin/identity-providers/plan-a', json('PATCH', { enabled: false }, admins))
  await send('/admin/identity-providers/plan-a', bearer(admins, { method: 'DELETE' }))

  // The MCP server: its tools send the REST routes' statements behind the same check; a call
  // that runs no tool, the check alone.
  const assistant = await makeUser()
  const forMcp = await token({
    grant_type: 'password',
    username: assistant.username,
    password: assistant.password,
    resource: `${ORIGIN}/mcp`,
  })
  const mcp = (method: string, params: object) => ({
    method: 'POST',
    headers: {
      Authorization: `Bearer ${forMcp.access_token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const tool = (name: string, args: object) => mcp('tools/call', { name, arguments: args })
  await send('/mcp', mcp('tools/list', {}))
  const added = (await (await send('/mcp', tool('add_todo', { title: 'mcp' }))).json()) as {
    result: { structuredContent: { id: string; list_id: string } }
  }
  const { id: mcpTodo, list_id: mcpList } = added.result.structuredContent
  await send('/mcp', tool('list_lists', {}))
  await send('/mcp', tool('list_todos', { completed: false }))
  await send('/mcp', tool('list_todos', { list_id: mcpList }))
  await send('/mcp', tool('update_todo', { id: mcpTodo, completed: true }))
  await send('/mcp', tool('delete_todo', { id: mcpTodo }))

  await send('/healthz')
  // The account page, every form of it (test/account-pages.ts).
  await tourTheAccountPage(
    (method, path, init) => send(path, { ...init, method }),
    await makeUser(),
    'nowhere',
  )
  await purgeExpired(bindings)
  return { statements: new Set(recorder.trips.flat()), routes }
}

type Send = (path: string, init?: RequestInit) => Promise<Response>

/** Every list and team route, as the owner and as a member of a team the list is shared with. */
async function tourOfLists(send: Send, owner: string, other: TokenPair) {
  const bob = other.access_token
  const me = async (t: string) =>
    (await (await send('/users/me', bearer(t))).json()) as { id: string; username: string }
  const { id: bobId, username: bobName } = await me(bob)
  const list = (await (await send('/api/lists', json('POST', { name: 'plan' }, owner))).json()) as {
    id: string
  }
  const team = (await (await send('/api/teams', json('POST', { name: 'plan' }, owner))).json()) as {
    id: string
  }
  await send(`/api/teams/${team.id}/members/${bobId}`, json('PUT', { role: 'member' }, owner))
  await send(
    `/api/lists/${list.id}/members/teams/${team.id}`,
    json('PUT', { role: 'editor' }, owner),
  )
  await send(`/api/lists/${list.id}/members/users/${bobId}`, json('PUT', { role: 'viewer' }, owner))
  // By username: the same statements, the id read from the username index.
  const byName = (role: string) => json('POST', { username: bobName.toUpperCase(), role }, owner)
  await send(`/api/teams/${team.id}/members`, byName('member'))
  await send(`/api/lists/${list.id}/members/users`, byName('viewer'))
  const todo = (await (
    await send(`/api/lists/${list.id}/todos`, json('POST', { title: 'plan' }, bob))
  ).json()) as { id: string }
  await send('/api/todos', json('POST', { title: 'plan', list_id: list.id }, bob))
  await send(`/api/todos?list_id=${list.id}`, bearer(owner))
  await send(`/api/todos?list_id=${list.id}&completed=false`, bearer(owner))
  await send('/api/lists', bearer(bob))
  await send('/api/teams', bearer(bob))
  await send(`/api/lists/${list.id}`, bearer(bob))
  await send(`/api/lists/${list.id}/todos`, bearer(bob))
  await send(`/api/lists/${list.id}/todos?completed=true`, bearer(bob))
  await send(`/api/lists/${list.id}/members`, bearer(bob))
  await send(`/api/todos/${todo.id}`, bearer(bob))
  await send(`/api/todos/${todo.id}`, json('PATCH', { completed: true }, bob))
  await send(`/api/todos/${todo.id}`, bearer(bob, { method: 'DELETE' }))
  await send(`/api/lists/${list.id}`, json('PATCH', { name: 'renamed' }, owner))
  await send(`/api/lists/${list.id}/members/users/${bobId}`, bearer(owner, { method: 'DELETE' }))
  await send(`/api/lists/${list.id}/members/teams/${team.id}`, bearer(owner, { method: 'DELETE' }))
  await send(`/api/teams/${team.id}/members/${bobId}`, bearer(bob, { method: 'DELETE' }))
  await send(`/api/lists/${list.id}`, json('PATCH', { archived: true }, owner))
  await send(`/api/lists/${list.id}`, json('PATCH', { archived: false }, owner))
  await send(`/api/lists/${list.id}`, bearer(owner, { method: 'DELETE' }))
}

/** The plan's lines, indented by depth as the sqlite3 shell prints them. */
async function explain(sql: string): Promise<string[]> {
  const params = Math.max(0, ...[...sql.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])))
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...Array(params).fill(null))
    .all<{ id: number; parent: number; detail: string }>()
  const depth = new Map<number, number>([[0, -1]])
  return results.map((row) => {
    const d = (depth.get(row.parent) ?? -1) + 1
    depth.set(row.id, d)
    return `${'  '.repeat(d)}${row.detail}`
  })
}

const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim()

/** The first lines of docs/generated/query-plans.txt. */
const PLANS_HEADER = [
  'Generated by test/db/query-plans.test.ts: do not edit; `npm run generate` rewrites it.',
  'EXPLAIN QUERY PLAN of each statement the API sends to D1; docs/query-plans.md explains them.',
].join('\n')

describe('query plans', () => {
  it('use an index for every statement, as docs/generated/query-plans.txt shows', async () => {
    const tour = await tourOfTheApi()
    const toured = Object.fromEntries([...tour.routes].map((r) => [r, 'toured']))
    expect(
      routesMissingFrom(
        { ...toured, ...NOT_TOURED },
        'the tour of test/db/query-plans.test.ts',
        'call it in tourOfTheApi, or say in NOT_TOURED why not',
      ),
    ).toBe('')
    const statements = [...tour.statements].sort()
    const report: string[] = []
    const scans: string[] = []
    for (const sql of statements) {
      const plan = await explain(sql)
      const explained = `${oneLine(sql)}\n${plan.map((l) => `  ${l}`).join('\n')}`
      report.push(explained)
      if (plan.some((line) => readsEverything(sql, line))) scans.push(explained)
    }
    expect(statements.length).toBeGreaterThan(10)
    expect(scans, `statements that read a whole table:\n\n${scans.join('\n\n')}`).toEqual([])
    // Deterministic: statements are sorted and hold no values (only ?N binds), plans hold no ids.
    await expect(
      `${PLANS_HEADER}\n\n${report.join('\n\n')}\n`,
      'docs/generated/query-plans.txt is stale: run `npm run generate`',
    ).toMatchFileSnapshot('../../docs/generated/query-plans.txt')
  })
})
