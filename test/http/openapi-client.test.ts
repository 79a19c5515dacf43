import { exports } from 'cloudflare:workers'
import createClient from 'openapi-fetch'
import { expect, expectTypeOf, it } from 'vitest'
import type { paths } from '../generated/openapi'
import { login, makeUser } from '../helpers'

// A client generated from GET /openapi.json alone (openapi-typescript + openapi-fetch, as
// docs/web.md shows), against the real Worker. test/node/openapi.test.ts keeps the types in
// test/generated/ in step with the document; tsc checks the @ts-expect-error lines below.

const clientFor = (token: string) =>
  createClient<paths>({
    baseUrl: 'https://todo.test',
    headers: { Authorization: `Bearer ${token}` },
    fetch: (request) => exports.default.fetch(request),
  })

it('gives a client generated from the document typed todo calls that work', async () => {
  const { access_token } = await login(await makeUser())
  const client = clientFor(access_token)

  const created = await client.POST('/api/todos', { body: { title: 'From the document' } })
  expect(created.response.status).toBe(201)
  expectTypeOf(created.data!.completed).toEqualTypeOf<boolean>()
  const id = created.data!.id

  const changed = await client.PATCH('/api/todos/{id}', {
    params: { path: { id } },
    body: { completed: true },
  })
  expect(changed.data?.completed).toBe(true)

  const done = await client.GET('/api/todos', {
    params: { query: { completed: true, limit: 500, offset: 0 } },
  })
  expect(done.data?.map((t) => t.id)).toEqual([id])
  const open = await client.GET('/api/todos', { params: { query: { completed: false } } })
  expect(open.data).toEqual([])
})

it('makes the generated client refuse, at compile time, values the server refuses', async () => {
  // An admin, so that POST /users gets as far as its validator.
  const { access_token } = await login(await makeUser({ role: 'admin' }))
  const client = clientFor(access_token)
  const refusedAtRunTime = [
    // @ts-expect-error completed is a boolean, not any string
    await client.GET('/api/todos', { params: { query: { completed: 'yes' } } }),
    // @ts-expect-error limit is an integer, not a string of digits or anything else
    await client.GET('/api/todos', { params: { query: { limit: 'ten' } } }),
    // @ts-expect-error title is required when creating a todo
    await client.POST('/api/todos', { body: { description: 'no title' } }),
    // @ts-expect-error role is one of the documented roles
    await client.POST('/users', { body: { username: 'abc', password: 'long enough', role: 'x' } }),
  ]
  // Forced past the compiler, each is what the server refuses too.
  expect(refusedAtRunTime.map((r) => r.response.status)).toEqual([400, 400, 400, 400])
  expect(refusedAtRunTime.map((r) => r.error?.error)).toEqual([
    'invalid_request',
    'invalid_request',
    'invalid_request',
    'invalid_request',
  ])
})
