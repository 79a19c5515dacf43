import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { bearer, call, json, uniqueName } from '../../helpers'
import { defaultList, type Member, member, send } from './helpers'

// Naming a user by username: POST /api/lists/{id}/members/users and POST /api/teams/{id}/members
// (docs/api.md §7, docs/security.md "Naming users by username"). Exact match only, throttled per
// account and per address, and nothing learned by anyone who could not share or manage anyway.

type List = { id: string; name: string; role: string; owner_username: string }
type Shared = { type: string; id: string; name: string; role: string }
type Team = { id: string; members: { id: string; username: string; role: string }[] }
type Failure = { error: string; error_description: string }

const newList = async (who: Member, name = 'Party') => {
  const res = await send<List>(who.token, 'POST', '/api/lists', { name })
  expect(res.status).toBe(201)
  return res.body
}
const newTeam = async (who: Member, name = 'Flatmates') => {
  const res = await send<Team>(who.token, 'POST', '/api/teams', { name })
  expect(res.status).toBe(201)
  return res.body
}
const shareByName = (who: Member, listId: string, username: string, role = 'viewer') =>
  send<Shared & Failure>(who.token, 'POST', `/api/lists/${listId}/members/users`, {
    username,
    role,
  })
const addByName = (who: Member, teamId: string, username: string, role = 'member') =>
  send<Team['members'][number] & Failure>(who.token, 'POST', `/api/teams/${teamId}/members`, {
    username,
    role,
  })

/** A request from a given client address (CF-Connecting-IP, as the edge sets it). */
async function from(address: string, who: Member, path: string, body: unknown) {
  const init = json('POST', body, who.token)
  const res = await call(path, {
    ...init,
    headers: { ...init.headers, 'CF-Connecting-IP': address },
  })
  return { status: res.status, retryAfter: res.headers.get('Retry-After') }
}

const counters = (key: string) =>
  env.DB.prepare('SELECT failures, locked_until FROM login_failures WHERE key = ?1')
    .bind(key)
    .first<{ failures: number; locked_until: number }>()

describe('sharing a list by username', () => {
  it('shares with the user of that exact username, who then sees the list with that role', async () => {
    const [alice, bob] = await Promise.all([member(), member()])
    const list = await newList(alice)
    const shared = await shareByName(alice, list.id, bob.username, 'editor')
    expect(shared).toEqual({
      status: 200,
      body: { type: 'user', id: bob.id, name: bob.username, role: 'editor' },
    })
    const seen = await send<List[]>(bob.token, 'GET', '/api/lists')
    expect(seen.body.find((l) => l.id === list.id)).toMatchObject({
      name: 'Party',
      role: 'editor',
      owner_username: alice.username,
    })
    // Naming them again changes the role, as the PUT by id does.
    expect((await shareByName(alice, list.id, bob.username, 'viewer')).body.role).toBe('viewer')
    const members = await send<Shared[]>(alice.token, 'GET', `/api/lists/${list.id}/members`)
    expect(members.body.map((m) => [m.name, m.role])).toEqual([
      [alice.username, 'owner'],
      [bob.username, 'viewer'],
    ])
  })

  it('matches the whole username, case aside, and never as a pattern or a prefix', async () => {
    const alice = await member()
    const bob = await member({ username: uniqueName('bob_') })
    const list = await newList(alice)
    // Usernames are unique whatever their case (the column is COLLATE NOCASE): still one user.
    expect((await shareByName(alice, list.id, bob.username.toUpperCase())).body.id).toBe(bob.id)
    for (const almost of [
      bob.username.slice(0, -1), // a prefix
      `${bob.username}x`, // longer
      bob.username.replace('_', '-'), // "_" is a character, not LIKE's wildcard
      bob.username.replace('bob_', 'bob.'),
    ]) {
      const res = await shareByName(alice, list.id, almost)
      expect(res, almost).toMatchObject({ status: 404, body: { error: 'not_found' } })
    }
    // Wildcards and spaces are not usernames: refused before anything is looked up or counted.
    for (const pattern of ['bob%', `${bob.username} `, '%', '*']) {
      const res = await shareByName(alice, list.id, pattern)
      expect(res.status, pattern).toBe(400)
    }
    const members = await send<Shared[]>(alice.token, 'GET', `/api/lists/${list.id}/members`)
    expect(members.body.map((m) => m.id)).toEqual([alice.id, bob.id])
  })

  it('answers an unknown username exactly as an unknown user id', async () => {
    const alice = await member()
    const list = await newList(alice)
    const byName = await shareByName(alice, list.id, uniqueName('ghost'))
    const byId = await send(alice.token, 'PUT', `/api/lists/${list.id}/members/users/nobody`, {
      role: 'viewer',
    })
    expect(byName).toEqual(byId)
    expect(byName).toMatchObject({ status: 404, body: { error: 'not_found' } })
  })

  it('refuses the owner’s own username as the PUT does', async () => {
    const alice = await member()
    const list = await newList(alice)
    const res = await shareByName(alice, list.id, alice.username)
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
  })

  it('tells a caller who may not share the list nothing about the username', async () => {
    const [alice, editor, stranger] = await Promise.all([member(), member(), member()])
    const bob = await member()
    const list = await newList(alice)
    expect((await shareByName(alice, list.id, editor.username, 'editor')).status).toBe(200)
    const ghost = uniqueName('ghost')
    for (const [who, status] of [
      [editor, 403],
      [stranger, 404],
    ] as const) {
      const real = await shareByName(who, list.id, bob.username)
      const missing = await shareByName(who, list.id, ghost)
      expect(real.status).toBe(status)
      expect(missing).toEqual(real)
    }
    // A third-party app may not share at all: refused before anything is looked up or counted.
    const app = await stranger.appToken()
    const res = await send(app, 'POST', `/api/lists/${list.id}/members/users`, {
      username: bob.username,
      role: 'viewer',
    })
    expect(res.status).toBe(403)
    expect(await counters(`by-username:${stranger.id}`)).toMatchObject({ failures: 2 })
  })

  it('charges nothing to a token whose session has ended', async () => {
    const [alice, bob] = await Promise.all([member(), member()])
    const list = await newList(alice)
    const logout = await call('/auth/logout', bearer(alice.token, { method: 'POST' }))
    expect(logout.status).toBe(204)
    expect((await shareByName(alice, list.id, bob.username)).status).toBe(401)
    expect(await counters(`by-username:${alice.id}`)).toBeNull()
  })

  it('keeps the owner’s other lists invisible to the user it shared one with', async () => {
    const [alice, bob] = await Promise.all([member(), member()])
    const shared = await newList(alice, 'Shared')
    const secret = await newList(alice, 'Secret')
    expect((await shareByName(alice, shared.id, bob.username)).status).toBe(200)
    const lists = await send<List[]>(bob.token, 'GET', '/api/lists')
    expect(lists.body.map((l) => l.name).sort()).toEqual(['Shared', 'Todos'])
    const aliceDefault = await defaultList(alice.id)
    for (const id of [secret.id, aliceDefault]) {
      expect((await send(bob.token, 'GET', `/api/lists/${id}`)).status).toBe(404)
      expect((await send(bob.token, 'GET', `/api/lists/${id}/todos`)).status).toBe(404)
      expect((await send(bob.token, 'GET', `/api/lists/${id}/members`)).status).toBe(404)
    }
    // Nor does knowing alice's username get bob anywhere: he can only share his own lists.
    const bobsDefault = await defaultList(bob.id)
    const back = await shareByName(bob, bobsDefault, alice.username)
    expect(back.body).toMatchObject({ id: alice.id, role: 'viewer' })
    expect((await send(bob.token, 'GET', `/api/lists/${secret.id}`)).status).toBe(404)
  })
})

describe('adding a team member by username', () => {
  it('adds the user of that exact username; a member who is not a manager learns nothing', async () => {
    const [manager, bob, carol] = await Promise.all([member(), member(), member()])
    const team = await newTeam(manager)
    const added = await addByName(manager, team.id, bob.username.toUpperCase())
    expect(added).toEqual({
      status: 200,
      body: { id: bob.id, username: bob.username, role: 'member' },
    })
    expect(await addByName(manager, team.id, bob.username.slice(0, -1))).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    })
    const real = await addByName(bob, team.id, carol.username)
    const missing = await addByName(bob, team.id, uniqueName('ghost'))
    expect(real.status).toBe(403)
    expect(missing).toEqual(real)
    const stranger = await addByName(carol, team.id, bob.username, 'manager')
    expect(stranger).toMatchObject({ status: 404, body: { error: 'not_found' } })
    const teams = await send<Team[]>(manager.token, 'GET', '/api/teams')
    expect(teams.body[0]!.members.map((m) => m.username).sort()).toEqual(
      [manager.username, bob.username].sort(),
    )
  })

  it('keeps a team its last manager, as the PUT does', async () => {
    const manager = await member()
    const team = await newTeam(manager)
    const res = await addByName(manager, team.id, manager.username, 'member')
    expect(res).toMatchObject({ status: 409, body: { error: 'conflict' } })
  })
})

describe('the throttle on naming users', () => {
  it('answers 30 names per account in 15 minutes, then 429 even for a real username', async () => {
    const [alice, bob] = await Promise.all([member(), member()])
    const list = await newList(alice)
    const team = await newTeam(alice)
    // Sharing and team changes draw on one allowance, hits and misses alike.
    for (let i = 0; i < 30; i++) {
      const res =
        i % 2 === 0
          ? await shareByName(alice, list.id, uniqueName('guess'))
          : await addByName(alice, team.id, uniqueName('guess'))
      expect(res.status, `call ${i + 1}`).toBe(404)
    }
    const refused = await shareByName(alice, list.id, bob.username)
    expect(refused).toMatchObject({ status: 429, body: { error: 'too_many_attempts' } })
    const refusedRes = await call(
      `/api/teams/${team.id}/members`,
      json('POST', { username: bob.username, role: 'member' }, alice.token),
    )
    expect(refusedRes.status).toBe(429)
    expect(Number(refusedRes.headers.get('Retry-After'))).toBeGreaterThan(800)
    // Nothing was done: bob is neither a member of the list nor of the team.
    const members = await send<Shared[]>(alice.token, 'GET', `/api/lists/${list.id}/members`)
    expect(members.body.map((m) => m.id)).toEqual([alice.id])
    // Ids still work: they come from lists and teams the caller already sees, and tell nothing.
    const byId = await send(alice.token, 'PUT', `/api/lists/${list.id}/members/users/${bob.id}`, {
      role: 'viewer',
    })
    expect(byId.status).toBe(200)
    // Another account is not held back by alice's lock.
    const carol = await member()
    expect((await shareByName(carol, await defaultList(carol.id), bob.username)).status).toBe(200)
  })

  it('answers 60 names per client address in 15 minutes, across accounts', async () => {
    const address = '203.0.113.61'
    const bob = await member()
    const accounts = await Promise.all([member(), member(), member()])
    const lists = await Promise.all(accounts.map((a) => defaultList(a.id)))
    for (let i = 0; i < 60; i++) {
      const k = i % 3
      const path = `/api/lists/${lists[k]}/members/users`
      const res = await from(address, accounts[k]!, path, { username: `guess${i}`, role: 'viewer' })
      expect(res.status, `call ${i + 1}`).toBe(404)
    }
    const fresh = await member()
    const path = `/api/lists/${await defaultList(fresh.id)}/members/users`
    const body = { username: bob.username, role: 'viewer' }
    const refused = await from(address, fresh, path, body)
    expect(refused.status).toBe(429)
    expect(Number(refused.retryAfter)).toBeGreaterThan(800)
    // Another address, and the same account, is answered.
    expect((await from('198.51.100.62', fresh, path, body)).status).toBe(200)
  })
})
