import { exports } from 'cloudflare:workers'
import { hc } from 'hono/client'
import { expect, expectTypeOf, it } from 'vitest'
import type { AppType } from '../../src'
import { call, makeUser } from '../helpers'

// The example of docs/web.md, run against the real Worker: outside tests, hc needs only the URL.
const options = {
  fetch: (input: RequestInfo | URL, init?: RequestInit) =>
    exports.default.fetch(new Request(input, init)),
}

it('gives TypeScript callers typed requests and responses through hono/client', async () => {
  const { username, password } = await makeUser()

  // hc sends `form` as multipart/form-data; the token endpoint takes only urlencoded (RFC 6749).
  const { access_token } = await (
    await call('/auth/token', { method: 'POST', body: new URLSearchParams({ username, password }) })
  ).json<{ access_token: string }>()

  const client = hc<AppType>('https://todo.test', {
    ...options,
    headers: { Authorization: `Bearer ${access_token}` },
  })
  const created = await client.api.todos.$post({ json: { title: 'Typed all the way' } })
  expect(created.status).toBe(201)
  const todo = await created.json()
  expectTypeOf(todo).toEqualTypeOf<{
    id: string
    list_id: string
    title: string
    description: string
    completed: boolean
    created_at: string
    updated_at: string
  }>()

  const done = await (
    await client.api.todos[':id'].$patch({ param: { id: todo.id }, json: { completed: true } })
  ).json()
  expect(done.completed).toBe(true)

  const open = await (await client.api.todos.$get({ query: { completed: 'false' } })).json()
  expectTypeOf(open).items.toHaveProperty('title').toEqualTypeOf<string>()
  expect(open.map((t) => t.id)).not.toContain(todo.id)

  // Never run: the compiler alone must refuse these.
  const _refused = () => {
    // @ts-expect-error title must be a string
    void client.api.todos.$post({ json: { title: 1 } })
    // @ts-expect-error a todo id is required
    void client.api.todos[':id'].$get({ param: {} })
  }
})
