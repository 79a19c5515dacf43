import { env } from 'cloudflare:test'
import bcrypt from 'bcryptjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp } from '../../src/app'
import { recordD1 } from '../d1-recorder'
import { bearer, form, json, makeUser, type TokenPair } from '../helpers'

// The cost of the check in front of every Bearer request, per docs/performance.md: at most two
// D1 round trips (the session/user check and the data), no bcrypt, no key import.

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

describe('an authenticated request', () => {
  const routes: [
    string,
    'user' | 'admin',
    (token: string) => Promise<[string, RequestInit, number]>,
  ][] = [
    ['lists todos', 'user', async (t) => ['/api/todos', bearer(t), 200]],
    ['creates a todo', 'user', async (t) => ['/api/todos', json('POST', { title: 'x' }, t), 201]],
    ['reads a todo', 'user', async (t) => [`/api/todos/${await newTodo(t)}`, bearer(t), 200]],
    [
      'updates a todo',
      'user',
      async (t) => [`/api/todos/${await newTodo(t)}`, json('PATCH', { completed: true }, t), 200],
    ],
    [
      'deletes a todo',
      'user',
      async (t) => [`/api/todos/${await newTodo(t)}`, bearer(t, { method: 'DELETE' }), 204],
    ],
    ['lists lists', 'user', async (t) => ['/api/lists', bearer(t), 200]],
    ['creates a list', 'user', async (t) => ['/api/lists', json('POST', { name: 'x' }, t), 201]],
    ['reads a list', 'user', async (t) => [`/api/lists/${await newList(t)}`, bearer(t), 200]],
    [
      'renames a list',
      'user',
      async (t) => [`/api/lists/${await newList(t)}`, json('PATCH', { name: 'y' }, t), 200],
    ],
    [
      'deletes a list',
      'user',
      async (t) => [`/api/lists/${await newList(t)}`, bearer(t, { method: 'DELETE' }), 204],
    ],
    [
      "lists a list's todos",
      'user',
      async (t) => [`/api/lists/${await newList(t)}/todos`, bearer(t), 200],
    ],
    [
      'adds a todo to a list',
      'user',
      async (t) => [`/api/lists/${await newList(t)}/todos`, json('POST', { title: 'x' }, t), 201],
    ],
    [
      "lists a list's members",
      'user',
      async (t) => [`/api/lists/${await newList(t)}/members`, bearer(t), 200],
    ],
    [
      'shares a list',
      'user',
      async (t) => [
        `/api/lists/${await newList(t)}/members/users/${(await makeUser()).id}`,
        json('PUT', { role: 'editor' }, t),
        200,
      ],
    ],
    [
      'ends a share',
      'user',
      async (t) => {
        const [list, user] = await sharedList(t)
        return [`/api/lists/${list}/members/users/${user}`, bearer(t, { method: 'DELETE' }), 204]
      },
    ],
    ['lists teams', 'user', async (t) => ['/api/teams', bearer(t), 200]],
    ['creates a team', 'user', async (t) => ['/api/teams', json('POST', { name: 'x' }, t), 201]],
    [
      'adds a team member',
      'user',
      async (t) => [
        `/api/teams/${await newTeam(t)}/members/${(await makeUser()).id}`,
        json('PUT', { role: 'member' }, t),
        200,
      ],
    ],
    [
      'removes a team member',
      'user',
      async (t) => {
        const team = await newTeam(t)
        const { id } = await makeUser()
        const path = `/api/teams/${team}/members/${id}`
        expect((await send(path, json('PUT', { role: 'member' }, t))).res.status).toBe(200)
        return [path, bearer(t, { method: 'DELETE' }), 204]
      },
    ],
    ['reads the current user', 'user', async (t) => ['/users/me', bearer(t), 200]],
    ['lists users', 'admin', async (t) => ['/users', bearer(t), 200]],
    ['reads a user', 'admin', async (t) => [`/users/${(await makeUser()).id}`, bearer(t), 200]],
    [
      'updates a user',
      'admin',
      async (t) => [`/users/${(await makeUser()).id}`, json('PATCH', { name: 'Renamed' }, t), 200],
    ],
    [
      'deletes a user',
      'admin',
      async (t) => [`/users/${(await makeUser()).id}`, bearer(t, { method: 'DELETE' }), 204],
    ],
    ['reads the audit trail', 'admin', async (t) => ['/admin/audit', bearer(t), 200]],
    [
      "reads a user's todos, audited",
      'admin',
      async (t) => [`/api/todos?user_id=${(await makeUser()).id}`, bearer(t), 200],
    ],
    [
      "reads a user's lists, audited",
      'admin',
      async (t) => [`/api/lists?user_id=${(await makeUser()).id}`, bearer(t), 200],
    ],
  ]

  it.each(routes)('%s in at most two D1 round trips', async (_name, role, request) => {
    const user = await makeUser({ role })
    const { access_token } = await loginThroughApp(user.username, user.password)
    const [path, init, status] = await request(access_token)

    const { res, trips } = await send(path, init)

    expect(res.status).toBe(status)
    expect(trips.length, `round trips: ${JSON.stringify(trips)}`).toBeGreaterThanOrEqual(1)
    expect(trips.length, `round trips: ${JSON.stringify(trips)}`).toBeLessThanOrEqual(2)
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
