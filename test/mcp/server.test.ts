import { describe, expect, it } from 'vitest'
import { bearer, call, form, json, login, makeUser, type TestUser } from '../helpers'
import { callTool, MCP, passwordToken, rpc, type ToolResult } from './mcp-client'

// The MCP server at /mcp as the wire shows it: its RFC 9728 document, its challenges, protocol
// version negotiation, and the tools' answers under the API's policy.

const METADATA = 'https://todo.test/.well-known/oauth-protected-resource/mcp'
const forMcp = (user: TestUser, scope = 'read write') =>
  passwordToken(user, { resource: MCP, scope })

const initialize = (version: string) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 't', version: '1' } },
})

const text = (result: ToolResult) => result.content.map((c) => c.text).join('\n')

describe('discovery and challenges', () => {
  it('serves a path-aware RFC 9728 document for the MCP server beside the REST API’s', async () => {
    const res = await call('/.well-known/oauth-protected-resource/mcp')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      resource: MCP,
      authorization_servers: ['https://todo.test'],
      scopes_supported: ['read', 'write'],
      bearer_methods_supported: ['header'],
      resource_name: 'todo-auth MCP server',
      resource_documentation: 'https://todo.test/docs',
    })
    const root = (await (await call('/.well-known/oauth-protected-resource')).json()) as {
      resource: string
    }
    expect(root.resource).toBe('https://todo.test')
  })

  it('answers no token with a 401 naming its document and the scope to ask for', async () => {
    const res = await rpc(null, initialize('2025-11-25'))
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      `Bearer realm="todo-auth", scope="read write", resource_metadata="${METADATA}"`,
    )
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized')
  })

  it('refuses a token of the REST API with 401 invalid_token', async () => {
    const { access_token } = await login(await makeUser())
    const res = await rpc(access_token, initialize('2025-11-25'))
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      `Bearer realm="todo-auth", error="invalid_token", scope="read write", resource_metadata="${METADATA}"`,
    )
  })

  it('refuses the token of an ended session, even where no tool runs', async () => {
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
    const pair = (await res.json()) as { access_token: string; refresh_token: string }
    expect((await rpc(pair.access_token, initialize('2025-11-25'))).status).toBe(200)
    await call('/auth/revoke', form({ token: pair.refresh_token }))
    const after = await rpc(pair.access_token, initialize('2025-11-25'))
    expect(after.status).toBe(401)
    expect(after.headers.get('WWW-Authenticate')).toContain('error="invalid_token"')
  })

  it('answers a write with a read-only token 403, naming what it needs with what it has', async () => {
    const token = await forMcp(await makeUser(), 'read')
    const res = await rpc(token, {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'add_todo', arguments: { title: 'nope' } },
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      `Bearer realm="todo-auth", error="insufficient_scope", scope="read write", resource_metadata="${METADATA}"`,
    )
    expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope')
  })

  it('answers a read with a write-only token 403 the same way', async () => {
    const res = await rpc(await forMcp(await makeUser(), 'write'), {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'list_lists', arguments: {} },
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('WWW-Authenticate')).toContain('scope="read write"')
  })
})

describe('the protocol', () => {
  it.each(['2025-06-18', '2025-11-25'])('negotiates %s when the client asks for it', async (v) => {
    const res = await rpc(await forMcp(await makeUser()), initialize(v), v)
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toMatch(/^application\/json/)
    expect(res.headers.get('Mcp-Session-Id')).toBeNull()
    expect(res.headers.get('Cache-Control')).toBe('no-store')
    const { result } = (await res.json()) as {
      result: { protocolVersion: string; capabilities: object; serverInfo: { name: string } }
    }
    expect(result.protocolVersion).toBe(v)
    expect(result.capabilities).toHaveProperty('tools')
    expect(result.serverInfo.name).toBe('todo-auth')
  })

  it('answers a version it does not know with its latest (the client may then leave)', async () => {
    const res = await rpc(await forMcp(await makeUser()), initialize('2099-01-01'))
    const { result } = (await res.json()) as { result: { protocolVersion: string } }
    expect(result.protocolVersion).toBe('2025-11-25')
  })

  it('refuses a request under a protocol version header it does not know', async () => {
    const token = await forMcp(await makeUser())
    const res = await rpc(token, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, '1999-01-01')
    expect(res.status).toBe(400)
  })

  it('accepts a notification with 202 and no body', async () => {
    const token = await forMcp(await makeUser())
    const res = await rpc(token, { jsonrpc: '2.0', method: 'notifications/initialized' })
    expect(res.status).toBe(202)
    expect(await res.text()).toBe('')
  })

  it('has no stream to open or session to end: GET and DELETE are 405', async () => {
    const token = await forMcp(await makeUser())
    for (const method of ['GET', 'DELETE']) {
      const res = await call('/mcp', bearer(token, { method }))
      expect(res.status, method).toBe(405)
      expect(res.headers.get('Allow')).toBe('POST')
    }
  })
})

describe('the tools under the API’s policy', () => {
  it('answers another user’s todo as missing, and shows none of it', async () => {
    const owner = await makeUser()
    const { access_token: ownerRest } = await login(owner)
    const secret = (await (
      await call('/api/todos', json('POST', { title: 'secret plans' }, ownerRest))
    ).json()) as { id: string }
    const stranger = await forMcp(await makeUser())
    for (const tool of ['update_todo', 'delete_todo'] as const) {
      const args = tool === 'update_todo' ? { id: secret.id, completed: true } : { id: secret.id }
      const result = await callTool(stranger, tool, args)
      expect(result.isError, tool).toBe(true)
      expect(text(result)).toBe('not_found: No such todo.')
      expect(result.structuredContent).toBeUndefined()
    }
    const missing = await callTool(stranger, 'delete_todo', { id: crypto.randomUUID() })
    expect(text(missing)).toBe('not_found: No such todo.')
    const list = await callTool(stranger, 'list_todos', { list_id: crypto.randomUUID() })
    expect(text(list)).toBe('not_found: No such list.')
    // Untouched.
    const still = (await (await call(`/api/todos/${secret.id}`, bearer(ownerRest))).json()) as {
      completed: boolean
    }
    expect(still.completed).toBe(false)
  })

  it('lets a viewer of a shared list read it but not add to it; an editor may', async () => {
    const owner = await makeUser()
    const { access_token: ownerRest } = await login(owner)
    const list = (await (
      await call('/api/lists', json('POST', { name: 'Groceries' }, ownerRest))
    ).json()) as { id: string }
    await call(`/api/lists/${list.id}/todos`, json('POST', { title: 'eggs' }, ownerRest))
    const viewer = await makeUser()
    const share = (who: TestUser, role: string) =>
      call(`/api/lists/${list.id}/members/users/${who.id}`, json('PUT', { role }, ownerRest))
    expect((await share(viewer, 'viewer')).status).toBe(200)
    const token = await forMcp(viewer)

    const lists = await callTool(token, 'list_lists')
    expect(lists.structuredContent?.lists).toContainEqual(
      expect.objectContaining({ id: list.id, role: 'viewer' }),
    )
    const todos = await callTool(token, 'list_todos', { list_id: list.id })
    expect(todos.structuredContent?.todos).toEqual([expect.objectContaining({ title: 'eggs' })])
    const refused = await callTool(token, 'add_todo', { title: 'cake', list_id: list.id })
    expect(refused.isError).toBe(true)
    expect(text(refused)).toBe('forbidden: You are not allowed to do this.')

    expect((await share(viewer, 'editor')).status).toBe(200)
    const added = await callTool(token, 'add_todo', { title: 'cake', list_id: list.id })
    expect(added.isError).toBeFalsy()
    expect(added.structuredContent).toMatchObject({ title: 'cake', list_id: list.id })
  })

  it('answers bad arguments with a tool error naming the field', async () => {
    const token = await forMcp(await makeUser())
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['add_todo', {}, /title/],
      ['add_todo', { title: '   ' }, /title/],
      ['add_todo', { title: 'x'.repeat(201) }, /title/],
      ['add_todo', { title: 'ok', colour: 'red' }, /colour/],
      ['list_todos', { completed: 'yes' }, /completed/],
      ['update_todo', { completed: true }, /id/],
      ['update_todo', { id: 'some-id' }, /at least one of title, description, completed/],
    ]
    for (const [tool, args, names] of cases) {
      const result = await callTool(token, tool, args)
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true)
      expect(text(result), `${tool} ${JSON.stringify(args)}`).toMatch(names)
    }
  })

  it('trims a title as the API does', async () => {
    const result = await callTool(await forMcp(await makeUser()), 'add_todo', { title: '  tea  ' })
    expect(result.structuredContent).toMatchObject({ title: 'tea', description: '' })
    expect(text(result)).toContain('"tea"')
  })
})
