import { describe, expect } from 'vitest'
import { bearer, call, it, json, login, makeUser } from '../helpers'

type Todo = {
  id: string
  title: string
  description: string
  completed: boolean
  created_at: string
  updated_at: string
}

async function loggedIn(opts: Parameters<typeof makeUser>[0] = {}, scope?: string) {
  const user = await makeUser(opts)
  const { access_token: token } = await login(user, scope)
  return { user, token }
}

async function addTodo(token: string, body: Record<string, unknown>): Promise<Todo> {
  const res = await call('/api/todos', json('POST', body, token))
  expect(res.status).toBe(201)
  return res.json()
}

describe('/api/todos', () => {
  it('asks for a token when none is sent, with the bare Bearer challenge', async () => {
    const res = await call('/api/todos')
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      'Bearer realm="todo-auth", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
    )
    expect((await res.json<{ error: string }>()).error).toBe('unauthorized')
  })

  it('refuses a bad token with invalid_token', async () => {
    const res = await call('/api/todos', bearer('not.a.token'))
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe(
      'Bearer realm="todo-auth", error="invalid_token", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
    )
    expect((await res.json<{ error: string }>()).error).toBe('invalid_token')
  })

  it('creates a todo with defaults and a Location header', async ({ signedIn: { token } }) => {
    const res = await call('/api/todos', json('POST', { title: 'Buy milk' }, token))
    expect(res.status).toBe(201)
    const todo = await res.json<Todo>()
    expect(todo).toEqual({
      id: expect.any(String),
      list_id: expect.any(String),
      title: 'Buy milk',
      description: '',
      completed: false,
      created_at: expect.any(String),
      updated_at: todo.created_at,
    })
    expect(res.headers.get('Location')).toBe(`/api/todos/${todo.id}`)
    expect(new Date(todo.created_at).toISOString()).toBe(todo.created_at)
  })

  it('lists only the caller’s todos, newest first', async ({ signedIn: { token } }) => {
    const other = await loggedIn()
    await addTodo(other.token, { title: 'not yours' })
    const titles = ['first', 'second', 'third']
    for (const title of titles) await addTodo(token, { title })
    const res = await call('/api/todos', bearer(token))
    expect(res.status).toBe(200)
    expect((await res.json<Todo[]>()).map((t) => t.title)).toEqual([...titles].reverse())
  })

  it('filters by completion and pages with limit and offset', async ({ signedIn: { token } }) => {
    for (const [i, completed] of [false, true, false, true, true].entries())
      await addTodo(token, { title: `t${i}`, completed })
    const done = await (await call('/api/todos?completed=true', bearer(token))).json<Todo[]>()
    expect(done.map((t) => t.title)).toEqual(['t4', 't3', 't1'])
    const open = await (await call('/api/todos?completed=false', bearer(token))).json<Todo[]>()
    expect(open.map((t) => t.title)).toEqual(['t2', 't0'])
    const page = await (await call('/api/todos?limit=2&offset=1', bearer(token))).json<Todo[]>()
    expect(page.map((t) => t.title)).toEqual(['t3', 't2'])
  })

  it.each([
    ['limit=0'],
    ['limit=501'],
    ['limit=abc'],
    ['limit=1e2'],
    ['offset=-1'],
    ['completed=yes'],
    ['completed=true&completed=false'],
    ['unknown=1'],
  ])('refuses the query %s with invalid_request and issues', async (query) => {
    const { token } = await loggedIn()
    const res = await call(`/api/todos?${query}`, bearer(token))
    expect(res.status).toBe(400)
    const body = await res.json<{ error: string; issues: unknown[] }>()
    expect(body.error).toBe('invalid_request')
    expect(body.issues.length).toBeGreaterThan(0)
  })

  it('gets, patches and deletes a todo', async ({ signedIn: { token } }) => {
    const todo = await addTodo(token, { title: 'Write tests', description: 'all of them' })

    const got = await call(`/api/todos/${todo.id}`, bearer(token))
    expect(await got.json()).toEqual(todo)

    const patched = await call(`/api/todos/${todo.id}`, json('PATCH', { completed: true }, token))
    expect(patched.status).toBe(200)
    const after = await patched.json<Todo>()
    expect(after).toMatchObject({
      title: 'Write tests',
      description: 'all of them',
      completed: true,
    })
    expect(after.updated_at >= todo.updated_at).toBe(true)

    const deleted = await call(`/api/todos/${todo.id}`, bearer(token, { method: 'DELETE' }))
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe('')
    expect((await call(`/api/todos/${todo.id}`, bearer(token))).status).toBe(404)
  })

  it('answers another user’s todo exactly like a missing one', async ({ signedIn: owner }) => {
    const intruder = await loggedIn()
    const todo = await addTodo(owner.token, { title: 'private' })
    for (const [method, body] of [['GET'], ['PATCH', { title: 'mine now' }], ['DELETE']] as const) {
      const init = body ? json(method, body, intruder.token) : bearer(intruder.token, { method })
      const theirs = await call(`/api/todos/${todo.id}`, init)
      const missing = await call(
        `/api/todos/${crypto.randomUUID()}`,
        body ? json(method, body, intruder.token) : bearer(intruder.token, { method }),
      )
      expect(theirs.status).toBe(404)
      expect(await theirs.text()).toBe(await missing.text())
    }
    expect(await (await call(`/api/todos/${todo.id}`, bearer(owner.token))).json()).toMatchObject({
      title: 'private',
    })
  })

  it.each([
    ['an unknown field', { title: 'x', owner_id: 'someone' }],
    ['an empty title', { title: '   ' }],
    ['a title over 200 characters', { title: 'x'.repeat(201) }],
    ['a description over 2000 characters', { title: 'x', description: 'y'.repeat(2001) }],
    ['a non-boolean completed', { title: 'x', completed: 'yes' }],
    ['a missing title', { description: 'no title' }],
  ])('refuses a body with %s', async (_name, body) => {
    const { token } = await loggedIn()
    const res = await call('/api/todos', json('POST', body, token))
    expect(res.status).toBe(400)
    const err = await res.json<{ error: string; issues: { path: string; message: string }[] }>()
    expect(err.error).toBe('invalid_request')
    expect(err.issues[0]).toEqual({ path: expect.any(String), message: expect.any(String) })
  })

  it('refuses an empty patch and unknown patch fields', async ({ signedIn: { token } }) => {
    const todo = await addTodo(token, { title: 'x' })
    expect((await call(`/api/todos/${todo.id}`, json('PATCH', {}, token))).status).toBe(400)
    expect(
      (await call(`/api/todos/${todo.id}`, json('PATCH', { id: 'new-id' }, token))).status,
    ).toBe(400)
  })

  it('refuses a body that is not JSON', async ({ signedIn: { token } }) => {
    const wrongType = await call(
      '/api/todos',
      bearer(token, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: '{"title":"x"}',
      }),
    )
    expect(wrongType.status).toBe(415)
    const malformed = await call(
      '/api/todos',
      bearer(token, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"title":',
      }),
    )
    expect(malformed.status).toBe(400)
    expect((await malformed.json<{ error: string }>()).error).toBe('invalid_request')
  })

  it('needs the read scope to read and the write scope to write', async () => {
    const reader = await loggedIn({}, 'read')
    const denied = await call('/api/todos', json('POST', { title: 'x' }, reader.token))
    expect(denied.status).toBe(403)
    expect(denied.headers.get('WWW-Authenticate')).toBe(
      'Bearer realm="todo-auth", error="insufficient_scope", scope="write", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
    )
    expect((await denied.json<{ error: string }>()).error).toBe('insufficient_scope')
    expect((await call('/api/todos', bearer(reader.token))).status).toBe(200)

    const writer = await loggedIn({}, 'write')
    const noRead = await call('/api/todos', bearer(writer.token))
    expect(noRead.status).toBe(403)
    expect(noRead.headers.get('WWW-Authenticate')).toBe(
      'Bearer realm="todo-auth", error="insufficient_scope", scope="read", resource_metadata="https://todo.test/.well-known/oauth-protected-resource"',
    )
  })

  it('lets an admin list another user’s todos, and nobody else', async ({
    signedIn: owner,
    admin,
  }) => {
    await addTodo(owner.token, { title: 'owned' })
    const seen = await call(`/api/todos?user_id=${owner.user.id}`, bearer(admin.token))
    expect(seen.status).toBe(200)
    expect((await seen.json<Todo[]>()).map((t) => t.title)).toEqual(['owned'])

    const peer = await loggedIn()
    const refused = await call(`/api/todos?user_id=${owner.user.id}`, bearer(peer.token))
    expect(refused.status).toBe(403)
    expect((await refused.json<{ error: string }>()).error).toBe('forbidden')
    // Naming even oneself is the admin's privilege.
    const own = await call(`/api/todos?user_id=${owner.user.id}`, bearer(owner.token))
    expect(own.status).toBe(403)
  })

  it('stores SQL metacharacters literally', async ({ signedIn: { token } }) => {
    const title = `'); DROP TABLE todos; -- "%_\\`
    const todo = await addTodo(token, { title })
    expect(todo.title).toBe(title)
    expect(
      (await call(`/api/todos/${encodeURIComponent("' OR '1'='1")}`, bearer(token))).status,
    ).toBe(404)
  })
})
