import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { call, json, login, makeUser } from '../../helpers'
import { claims, REDIRECT } from '../../oauth-client'
import { codeFlowToken, defaultList, type Member, member, send, WEB_CLIENT } from './helpers'

type List = { id: string; name: string; role: string; archived: boolean; default: boolean }
type Todo = { id: string; list_id: string; title: string; completed: boolean }
type Team = { id: string; role: string; members: { id: string; username: string; role: string }[] }
type Shared = { type: string; id: string; name: string; role: string }

const newList = async (who: Member, name = 'Groceries') => {
  const res = await send<List>(who.token, 'POST', '/api/lists', { name })
  expect(res.status).toBe(201)
  return res.body
}
const newTeam = async (who: Member, name = 'Flatmates') => {
  const res = await send<Team>(who.token, 'POST', '/api/teams', { name })
  expect(res.status).toBe(201)
  return res.body
}
const addTodo = async (who: Member, listId: string, title = 'milk') => {
  const res = await send<Todo>(who.token, 'POST', `/api/lists/${listId}/todos`, { title })
  expect(res.status).toBe(201)
  return res.body
}
const rolesOf = async (who: Member) =>
  Object.fromEntries(
    (await send<List[]>(who.token, 'GET', '/api/lists')).body.map((l) => [l.name, l.role]),
  )

describe('lists', () => {
  it('gives every user a default list that /api/todos writes to and reads from', async () => {
    const alice = await member()
    const lists = await send<List[]>(alice.token, 'GET', '/api/lists')
    expect(lists.status).toBe(200)
    expect(lists.body).toEqual([
      expect.objectContaining({ name: 'Todos', role: 'owner', default: true, archived: false }),
    ])
    const todo = await send<Todo>(alice.token, 'POST', '/api/todos', { title: 'x' })
    expect(todo.body.list_id).toBe(lists.body[0]!.id)
    const inList = await send<Todo[]>(alice.token, 'GET', `/api/lists/${todo.body.list_id}/todos`)
    expect(inList.body.map((t) => t.id)).toEqual([todo.body.id])
  })

  it('creates, renames, archives, unarchives and deletes a list with its todos', async () => {
    const alice = await member()
    const list = await newList(alice)
    expect(list).toMatchObject({ name: 'Groceries', role: 'owner', default: false })
    const todo = await addTodo(alice, list.id)

    const renamed = await send<List>(alice.token, 'PATCH', `/api/lists/${list.id}`, {
      name: 'Food',
    })
    expect(renamed).toMatchObject({ status: 200, body: { name: 'Food' } })
    expect(
      (await send<List>(alice.token, 'PATCH', `/api/lists/${list.id}`, { archived: true })).body
        .archived,
    ).toBe(true)
    // Read-only for the owner too, until unarchived.
    expect(
      (await send(alice.token, 'POST', `/api/lists/${list.id}/todos`, { title: 'y' })).status,
    ).toBe(403)
    expect(
      (await send(alice.token, 'PATCH', `/api/todos/${todo.id}`, { completed: true })).status,
    ).toBe(403)
    expect((await send(alice.token, 'PATCH', `/api/lists/${list.id}`, { name: 'x' })).status).toBe(
      403,
    )
    expect((await send(alice.token, 'DELETE', `/api/lists/${list.id}`)).status).toBe(403)
    expect((await send(alice.token, 'GET', `/api/todos/${todo.id}`)).status).toBe(200)
    expect(
      (await send<List>(alice.token, 'PATCH', `/api/lists/${list.id}`, { archived: false })).body
        .archived,
    ).toBe(false)

    expect((await send(alice.token, 'DELETE', `/api/lists/${list.id}`)).status).toBe(204)
    expect((await send(alice.token, 'GET', `/api/lists/${list.id}`)).status).toBe(404)
    expect((await send(alice.token, 'GET', `/api/todos/${todo.id}`)).status).toBe(404)
  })

  it('renames the default list but never archives or deletes it (409), so /api/todos always has a home', async () => {
    const alice = await member()
    const id = await defaultList(alice.id)
    const renamed = await send<List>(alice.token, 'PATCH', `/api/lists/${id}`, { name: 'Inbox' })
    expect(renamed).toMatchObject({ status: 200, body: { name: 'Inbox', default: true } })
    for (const [method, body] of [
      ['PATCH', { archived: true }],
      ['DELETE', undefined],
    ] as const) {
      const res = await send<{ error: string }>(alice.token, method, `/api/lists/${id}`, body)
      expect(res).toMatchObject({ status: 409, body: { error: 'conflict' } })
    }
  })

  it('refuses bad input with 400 and the field at fault', async () => {
    const alice = await member()
    const list = await newList(alice)
    for (const [method, path, body] of [
      ['POST', '/api/lists', { name: '' }],
      ['POST', '/api/lists', { name: 'x', owner_id: 'y' }],
      ['PATCH', `/api/lists/${list.id}`, {}],
      ['PATCH', `/api/lists/${list.id}`, { archived: 'yes' }],
      ['PUT', `/api/lists/${list.id}/members/users/${alice.id}`, { role: 'owner' }],
      ['POST', '/api/teams', { name: 'x'.repeat(101) }],
    ] as const) {
      const res = await send<{ error: string }>(alice.token, method, path, body)
      expect(res.status, `${method} ${path}`).toBe(400)
      expect(res.body.error).toBe('invalid_request')
    }
    const self = await send(alice.token, 'PUT', `/api/lists/${list.id}/members/users/${alice.id}`, {
      role: 'viewer',
    })
    expect(self.status).toBe(400)
  })
})

describe('sharing: alice shares a list with bob as viewer and with a team as editor', () => {
  async function scene() {
    const [alice, bob, carol, dave] = await Promise.all([member(), member(), member(), member()])
    const list = await newList(alice, 'Party')
    const todo = await addTodo(alice, list.id, 'cake')
    const team = await newTeam(alice)
    expect(
      (
        await send(alice.token, 'PUT', `/api/teams/${team.id}/members/${carol.id}`, {
          role: 'member',
        })
      ).status,
    ).toBe(200)
    const asViewer = await send<Shared>(
      alice.token,
      'PUT',
      `/api/lists/${list.id}/members/users/${bob.id}`,
      { role: 'viewer' },
    )
    expect(asViewer).toEqual({
      status: 200,
      body: { type: 'user', id: bob.id, name: bob.username, role: 'viewer' },
    })
    const asEditor = await send<Shared>(
      alice.token,
      'PUT',
      `/api/lists/${list.id}/members/teams/${team.id}`,
      { role: 'editor' },
    )
    expect(asEditor.body).toMatchObject({ type: 'team', id: team.id, role: 'editor' })
    return { alice, bob, carol, dave, list, todo, team }
  }

  it('shows the list to each with their role, and lists its members', async () => {
    const { alice, bob, carol, dave, list, team } = await scene()
    expect(await rolesOf(bob)).toEqual({ Todos: 'owner', Party: 'viewer' })
    expect(await rolesOf(carol)).toEqual({ Todos: 'owner', Party: 'editor' })
    expect(await rolesOf(dave)).toEqual({ Todos: 'owner' })
    const members = await send<Shared[]>(bob.token, 'GET', `/api/lists/${list.id}/members`)
    expect(members.body).toEqual([
      { type: 'user', id: alice.id, name: alice.username, role: 'owner' },
      { type: 'user', id: bob.id, name: bob.username, role: 'viewer' },
      { type: 'team', id: team.id, name: 'Flatmates', role: 'editor' },
    ])
  })

  it('lets the viewer read and the team edit, and nobody but alice share or rename', async () => {
    const { alice, bob, carol, list, todo } = await scene()
    expect((await send(bob.token, 'GET', `/api/todos/${todo.id}`)).status).toBe(200)
    expect(
      (await send(bob.token, 'PATCH', `/api/todos/${todo.id}`, { completed: true })).status,
    ).toBe(403)
    expect(
      (await send(bob.token, 'POST', `/api/lists/${list.id}/todos`, { title: 'x' })).status,
    ).toBe(403)

    const done = await send<Todo>(carol.token, 'PATCH', `/api/todos/${todo.id}`, {
      completed: true,
    })
    expect(done.body.completed).toBe(true)
    const added = await send<Todo>(carol.token, 'POST', '/api/todos', {
      title: 'balloons',
      list_id: list.id,
    })
    expect(added.status).toBe(201)
    // Carol's todo in alice's list is alice's: it counts among alice's own todos.
    const alices = await send<Todo[]>(alice.token, 'GET', `/api/todos?list_id=${list.id}`)
    expect(alices.body.map((t) => t.title)).toEqual(['balloons', 'cake'])
    expect((await send<Todo[]>(carol.token, 'GET', '/api/todos')).body).toEqual([])
    expect((await send(carol.token, 'DELETE', `/api/todos/${added.body.id}`)).status).toBe(204)

    for (const who of [bob, carol]) {
      for (const [method, path, body] of [
        ['PATCH', `/api/lists/${list.id}`, { name: 'mine now' }],
        ['DELETE', `/api/lists/${list.id}`, undefined],
        ['PUT', `/api/lists/${list.id}/members/users/${who.id}`, { role: 'editor' }],
        ['DELETE', `/api/lists/${list.id}/members/users/${bob.id}`, undefined],
      ] as const) {
        const res = await send<{ error: string }>(who.token, method, path, body)
        expect(res, `${method} ${path}`).toMatchObject({
          status: 403,
          body: { error: 'forbidden' },
        })
      }
    }
  })

  it('ends access at the next request when alice unshares or carol leaves the team', async () => {
    const { alice, bob, carol, list, todo, team } = await scene()
    expect(
      (await send(alice.token, 'DELETE', `/api/lists/${list.id}/members/users/${bob.id}`)).status,
    ).toBe(204)
    expect((await send(bob.token, 'GET', `/api/lists/${list.id}`)).status).toBe(404)
    expect((await send(bob.token, 'GET', `/api/todos/${todo.id}`)).status).toBe(404)
    expect(await rolesOf(bob)).toEqual({ Todos: 'owner' })

    expect(
      (await send(carol.token, 'DELETE', `/api/teams/${team.id}/members/${carol.id}`)).status,
    ).toBe(204)
    expect((await send(carol.token, 'PATCH', `/api/todos/${todo.id}`, { title: 'x' })).status).toBe(
      404,
    )
    expect((await send(carol.token, 'GET', `/api/lists/${list.id}/todos`)).status).toBe(404)
    expect(await rolesOf(carol)).toEqual({ Todos: 'owner' })
  })

  it('changes a share’s role in place, and refuses shares with unknown users or foreign teams', async () => {
    const { alice, bob, dave, list } = await scene()
    await send(alice.token, 'PUT', `/api/lists/${list.id}/members/users/${bob.id}`, {
      role: 'editor',
    })
    expect(await rolesOf(bob)).toEqual({ Todos: 'owner', Party: 'editor' })
    const unknown = await send<{ error: string }>(
      alice.token,
      'PUT',
      `/api/lists/${list.id}/members/users/no-such-user`,
      { role: 'viewer' },
    )
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not_found' } })
    const davesTeam = await newTeam(dave, 'Not alice’s')
    const foreign = await send(
      alice.token,
      'PUT',
      `/api/lists/${list.id}/members/teams/${davesTeam.id}`,
      { role: 'viewer' },
    )
    expect(foreign.status).toBe(404)
    const notShared = await send(
      alice.token,
      'DELETE',
      `/api/lists/${list.id}/members/users/${dave.id}`,
    )
    expect(notShared.status).toBe(404)
  })
})

describe('teams', () => {
  it('lists the teams one is in, with members; managers manage, members may only leave', async () => {
    const [ann, ben, cat] = await Promise.all([member(), member(), member()])
    const team = await newTeam(ann, 'Climbers')
    expect(team).toMatchObject({
      name: 'Climbers',
      role: 'manager',
      members: [{ id: ann.id, username: ann.username, role: 'manager' }],
    })
    const added = await send(ann.token, 'PUT', `/api/teams/${team.id}/members/${ben.id}`, {
      role: 'member',
    })
    expect(added).toEqual({
      status: 200,
      body: { id: ben.id, username: ben.username, role: 'member' },
    })
    const bens = await send<Team[]>(ben.token, 'GET', '/api/teams')
    expect(bens.body.map((t) => [t.id, t.role, t.members.length])).toEqual([[team.id, 'member', 2]])
    expect((await send<Team[]>(cat.token, 'GET', '/api/teams')).body).toEqual([])

    const byMember = await send(ben.token, 'PUT', `/api/teams/${team.id}/members/${cat.id}`, {
      role: 'member',
    })
    expect(byMember.status).toBe(403)
    expect(
      (await send(ben.token, 'DELETE', `/api/teams/${team.id}/members/${ann.id}`)).status,
    ).toBe(403)
    // A stranger learns nothing about the team.
    expect(
      (await send(cat.token, 'PUT', `/api/teams/${team.id}/members/${cat.id}`, { role: 'manager' }))
        .status,
    ).toBe(404)
    expect(
      (await send(cat.token, 'DELETE', `/api/teams/${team.id}/members/${ann.id}`)).status,
    ).toBe(404)
    expect(
      (await send(ann.token, 'PUT', `/api/teams/${team.id}/members/nobody`, { role: 'member' }))
        .status,
    ).toBe(404)
    expect(
      (await send(ann.token, 'DELETE', `/api/teams/${team.id}/members/${cat.id}`)).status,
    ).toBe(404)
  })

  it('keeps at least one manager (409), and lets one step down once another is named', async () => {
    const [ann, ben] = await Promise.all([member(), member()])
    const team = await newTeam(ann)
    const path = (who: { id: string }) => `/api/teams/${team.id}/members/${who.id}`
    expect((await send(ann.token, 'DELETE', path(ann))).status).toBe(409)
    expect((await send(ann.token, 'PUT', path(ann), { role: 'member' })).status).toBe(409)
    await send(ann.token, 'PUT', path(ben), { role: 'manager' })
    expect((await send(ann.token, 'PUT', path(ann), { role: 'member' })).status).toBe(200)
    expect((await send(ann.token, 'DELETE', path(ann))).status).toBe(204)
    expect((await send(ben.token, 'DELETE', path(ben))).status).toBe(409)
  })
})

describe('admins', () => {
  it('read another user’s lists only through ?user_id=, and every such read is audited', async () => {
    const alice = await member()
    const list = await newList(alice, 'Diary')
    const admin = await member({ role: 'admin' })
    expect((await send(admin.token, 'GET', `/api/lists/${list.id}`)).status).toBe(404)
    expect((await send(admin.token, 'GET', `/api/lists/${list.id}/todos`)).status).toBe(404)

    const seen = await send<List[]>(admin.token, 'GET', `/api/lists?user_id=${alice.id}`)
    expect(seen.status).toBe(200)
    expect(seen.body.map((l) => [l.name, l.role])).toEqual([
      ['Todos', 'owner'],
      ['Diary', 'owner'],
    ])
    await send(admin.token, 'GET', `/api/todos?user_id=${alice.id}`)
    const { results } = await env.DB.prepare(
      "SELECT username, user_id, detail FROM audit_events WHERE event = 'admin_read' AND user_id = ?1 ORDER BY id",
    )
      .bind(alice.id)
      .all()
    expect(results).toEqual([
      {
        username: alice.username,
        user_id: alice.id,
        detail: `by ${admin.username}: GET /api/lists`,
      },
      {
        username: alice.username,
        user_id: alice.id,
        detail: `by ${admin.username}: GET /api/todos`,
      },
    ])

    const bob = await member()
    const refused = await send<{ error: string }>(
      bob.token,
      'GET',
      `/api/lists?user_id=${alice.id}`,
    )
    expect(refused).toMatchObject({ status: 403, body: { error: 'forbidden' } })
    const viaApp = await send(await admin.appToken(), 'GET', `/api/lists?user_id=${alice.id}`)
    expect(viaApp.status).toBe(403)
  })
})

describe('tokens', () => {
  it('still bound everything by scope: a read-only token reads shared lists and changes nothing', async () => {
    const alice = await member()
    const list = await newList(alice)
    const todo = await addTodo(alice, list.id)
    const readOnly = await member({}, 'read')
    await send(alice.token, 'PUT', `/api/lists/${list.id}/members/users/${readOnly.id}`, {
      role: 'editor',
    })
    expect((await send(readOnly.token, 'GET', `/api/lists/${list.id}/todos`)).status).toBe(200)
    const refused = await send<{ error: string }>(
      readOnly.token,
      'PATCH',
      `/api/todos/${todo.id}`,
      {
        completed: true,
      },
    )
    expect(refused).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } })
    const writeOnly = await member({}, 'write')
    const noRead = await send<{ error: string }>(writeOnly.token, 'GET', '/api/lists')
    expect(noRead.body.error).toBe('insufficient_scope')
  })

  it('let a third-party app work in lists but never share them or manage teams', async () => {
    const alice = await member()
    const bob = await makeUser()
    const app = await alice.appToken()
    const list = await send<List>(app, 'POST', '/api/lists', { name: 'via app' })
    expect(list.status).toBe(201)
    expect(
      (await send(app, 'POST', `/api/lists/${list.body.id}/todos`, { title: 't' })).status,
    ).toBe(201)
    const shared = await send(app, 'PUT', `/api/lists/${list.body.id}/members/users/${bob.id}`, {
      role: 'editor',
    })
    expect(shared.status).toBe(403)
    const team = await newTeam(alice)
    const managed = await send(app, 'PUT', `/api/teams/${team.id}/members/${bob.id}`, {
      role: 'member',
    })
    expect(managed.status).toBe(403)
  })

  it('let the web client, a first-party client, share and manage teams as its user', async () => {
    const alice = await member()
    const bob = await makeUser()
    const web = await codeFlowToken(alice, WEB_CLIENT.id, undefined, WEB_CLIENT.redirect)
    expect(claims(web).client_id).toBe(WEB_CLIENT.id)
    const list = await send<List>(web, 'POST', '/api/lists', { name: 'via web' })
    expect(list.status).toBe(201)
    const shared = await send(web, 'PUT', `/api/lists/${list.body.id}/members/users/${bob.id}`, {
      role: 'editor',
    })
    expect(shared.status).toBe(200)
    const members = await send<Shared[]>(alice.token, 'GET', `/api/lists/${list.body.id}/members`)
    expect(members.body).toContainEqual(expect.objectContaining({ id: bob.id, role: 'editor' }))
    const team = await send<Team>(web, 'POST', '/api/teams', { name: 'via web' })
    expect(team.status).toBe(201)
    const added = await send(web, 'PUT', `/api/teams/${team.body.id}/members/${bob.id}`, {
      role: 'member',
    })
    expect(added.status).toBe(200)
  })

  it('keep an app an admin registered from sharing, even with its user’s consent', async () => {
    const admin = (await login(await makeUser({ role: 'admin' }))).access_token
    const registered = await call(
      '/admin/clients',
      json(
        'POST',
        { client_name: 'Some app', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' },
        admin,
      ),
    )
    expect(registered.status).toBe(201)
    const { client_id } = await registered.json<{ client_id: string }>()
    const alice = await member()
    const bob = await makeUser()
    const list = await newList(alice)
    const app = await codeFlowToken(alice, client_id)
    expect(claims(app).client_id).toBe(client_id)
    expect((await send(app, 'GET', `/api/lists/${list.id}/todos`)).status).toBe(200)
    const shared = await send<{ error: string }>(
      app,
      'PUT',
      `/api/lists/${list.id}/members/users/${bob.id}`,
      { role: 'viewer' },
    )
    expect(shared).toMatchObject({ status: 403, body: { error: 'forbidden' } })
    const members = await send<Shared[]>(alice.token, 'GET', `/api/lists/${list.id}/members`)
    expect(members.body.map((m) => m.id)).not.toContain(bob.id)
  })

  it('treat an app as first-party only while it is registered so', async () => {
    const admin = (await login(await makeUser({ role: 'admin' }))).access_token
    const created = await call(
      '/admin/clients',
      json(
        'POST',
        {
          client_name: 'Our other app',
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: 'none',
          first_party: true,
        },
        admin,
      ),
    )
    expect(created.status).toBe(201)
    const { client_id } = await created.json<{ client_id: string }>()
    const alice = await member()
    const bob = await makeUser()
    const list = await newList(alice)
    const token = await codeFlowToken(alice, client_id)
    const share = () =>
      send(token, 'PUT', `/api/lists/${list.id}/members/users/${bob.id}`, { role: 'viewer' })
    expect((await share()).status).toBe(200)
    const demoted = await call(
      `/admin/clients/${client_id}`,
      json('PATCH', { first_party: false }, admin),
    )
    expect(demoted.status).toBe(200)
    // The same token, on its very next request, acts as a third-party app.
    expect((await share()).status).toBe(403)
  })
})
