import { env } from 'cloudflare:test'
import { beforeAll, describe, expect, it } from 'vitest'
import { call, form } from '../../helpers'
import { makeClient } from '../../oauth-client'
import { type Member, member, seed, send } from './helpers'

// The policy as a table, run against the real routes and D1: every actor kind × account role ×
// relation to the list × list state × action, each cell on a fresh list, so that no cell is
// missing and none depends on another. The table below is the contract of docs/api.md (Lists),
// written out independently of src/domain/policy.ts: a change there that breaks it fails here.

/**
 * The user in person; a third-party app holding the user's token; a client acting as itself (a
 * client credentials token, no user: role and relation do not apply to it, and it is refused
 * everything on lists, whatever machine scopes it holds).
 */
type Kind = 'user' | 'app' | 'client'
type Role = 'user' | 'admin'
type Relation = 'owner' | 'editor' | 'viewer' | 'team member' | 'stranger'
type State = 'normal' | 'archived'
type Expected = 'allow' | 404 | 403

/** Who each relation is for the rules: a team member gets the team's share (editor, here). */
const LEVEL: Record<Relation, 'owner' | 'editor' | 'viewer' | null> = {
  owner: 'owner',
  editor: 'editor',
  viewer: 'viewer',
  'team member': 'editor',
  stranger: null,
}

type Cell = { list: string; todo: string; shared: string; outsider: string; owner: string }

/** What each action needs: who, whether an archived list allows it, whether an app may do it. */
const ACTIONS: {
  name: string
  who: 'readers' | 'editors' | 'owner' | 'admins'
  archived: boolean
  apps: boolean
  status: number
  request: (c: Cell, state: State) => [string, string, unknown?]
}[] = [
  {
    name: 'read the list',
    who: 'readers',
    archived: true,
    apps: true,
    status: 200,
    request: (c) => ['GET', `/api/lists/${c.list}`],
  },
  {
    name: 'list its todos',
    who: 'readers',
    archived: true,
    apps: true,
    status: 200,
    request: (c) => ['GET', `/api/lists/${c.list}/todos`],
  },
  {
    name: 'read a todo',
    who: 'readers',
    archived: true,
    apps: true,
    status: 200,
    request: (c) => ['GET', `/api/todos/${c.todo}`],
  },
  {
    name: 'list its members',
    who: 'readers',
    archived: true,
    apps: true,
    status: 200,
    request: (c) => ['GET', `/api/lists/${c.list}/members`],
  },
  {
    name: 'add a todo',
    who: 'editors',
    archived: false,
    apps: true,
    status: 201,
    request: (c) => ['POST', `/api/lists/${c.list}/todos`, { title: 'new' }],
  },
  {
    name: 'add a todo through /api/todos',
    who: 'editors',
    archived: false,
    apps: true,
    status: 201,
    request: (c) => ['POST', '/api/todos', { title: 'new', list_id: c.list }],
  },
  {
    name: 'complete a todo',
    who: 'editors',
    archived: false,
    apps: true,
    status: 200,
    request: (c) => ['PATCH', `/api/todos/${c.todo}`, { completed: true }],
  },
  {
    name: 'delete a todo',
    who: 'editors',
    archived: false,
    apps: true,
    status: 204,
    request: (c) => ['DELETE', `/api/todos/${c.todo}`],
  },
  {
    name: 'rename the list',
    who: 'owner',
    archived: false,
    apps: true,
    status: 200,
    request: (c) => ['PATCH', `/api/lists/${c.list}`, { name: 'renamed' }],
  },
  {
    name: 'archive or unarchive it',
    who: 'owner',
    archived: true,
    apps: true,
    status: 200,
    request: (c, state) => ['PATCH', `/api/lists/${c.list}`, { archived: state === 'normal' }],
  },
  {
    name: 'delete the list',
    who: 'owner',
    archived: false,
    apps: true,
    status: 204,
    request: (c) => ['DELETE', `/api/lists/${c.list}`],
  },
  {
    name: 'share it',
    who: 'owner',
    archived: false,
    apps: false,
    status: 200,
    request: (c) => ['PUT', `/api/lists/${c.list}/members/users/${c.outsider}`, { role: 'viewer' }],
  },
  {
    name: 'end a share',
    who: 'owner',
    archived: false,
    apps: false,
    status: 204,
    request: (c) => ['DELETE', `/api/lists/${c.list}/members/users/${c.shared}`],
  },
  {
    name: "read the owner's lists as an admin",
    who: 'admins',
    archived: true,
    apps: false,
    status: 200,
    request: (c) => ['GET', `/api/lists?user_id=${c.owner}`],
  },
]

function expected(
  a: (typeof ACTIONS)[number],
  kind: Kind,
  role: Role,
  relation: Relation,
  state: State,
): Expected {
  if (kind === 'client') return 403
  if (kind === 'app' && !a.apps) return 403
  if (a.who === 'admins') return role === 'admin' ? 'allow' : 403
  const level = LEVEL[relation]
  if (!level) return 404 // admins included: their role gives them no relation to a list
  const allowed =
    a.who === 'readers' || level === 'owner' || (a.who === 'editors' && level === 'editor')
  if (!allowed) return 403
  if (state === 'archived' && !a.archived) return 403
  return 'allow'
}

const KINDS: Kind[] = ['user', 'app', 'client']
const ROLES: Role[] = ['user', 'admin']
const RELATIONS: Relation[] = ['owner', 'editor', 'viewer', 'team member', 'stranger']
const STATES: State[] = ['normal', 'archived']

const TABLE = KINDS.flatMap((kind) =>
  ROLES.flatMap((role) =>
    RELATIONS.flatMap((relation) =>
      STATES.flatMap((state) =>
        ACTIONS.map((action) => ({
          kind,
          role,
          relation,
          state,
          action,
          expect: expected(action, kind, role, relation, state),
        })),
      ),
    ),
  ),
)

/** Per account role: one user per relation, a team (owner manages, the team member is in it). */
let people: Record<Role, Record<Relation, Member> & { outsider: Member; team: string }>
/** A client credentials token of a service holding every machine scope. */
let machineToken: string

beforeAll(async () => {
  const { client, client_secret } = await makeClient({
    grant_types: ['client_credentials'],
    scope: 'users:read audit:read',
    token_endpoint_auth_method: 'client_secret_post',
  })
  const issued = await call(
    '/auth/token',
    form({
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client_secret!,
    }),
  )
  machineToken = ((await issued.json()) as { access_token: string }).access_token
  const cast = async (role: Role) => {
    const [owner, editor, viewer, teamMember, stranger, outsider] = await Promise.all(
      Array.from({ length: 6 }, () => member({ role })),
    )
    const team = seed.team()
    await env.DB.batch([
      team.stmt,
      seed.teamMember(team.id, owner!.id, 'manager'),
      seed.teamMember(team.id, teamMember!.id),
    ])
    return {
      owner: owner!,
      editor: editor!,
      viewer: viewer!,
      'team member': teamMember!,
      stranger: stranger!,
      outsider: outsider!,
      team: team.id,
    }
  }
  people = { user: await cast('user'), admin: await cast('admin') }
})

/** A fresh list of `role`'s owner, shared as the relations say, with one todo, in `state`. */
async function freshCell(role: Role, state: State): Promise<Cell> {
  const p = people[role]
  const list = seed.list(p.owner.id, { archived: state === 'archived' })
  const todo = seed.todo(list.id, p.owner.id)
  await env.DB.batch([
    list.stmt,
    todo.stmt,
    seed.share(list.id, { user: p.editor.id }, 'editor'),
    seed.share(list.id, { user: p.viewer.id }, 'viewer'),
    seed.share(list.id, { team: p.team }, 'editor'),
  ])
  return {
    list: list.id,
    todo: todo.id,
    shared: p.viewer.id,
    outsider: p.outsider.id,
    owner: p.owner.id,
  }
}

describe('the list policy, cell by cell', () => {
  it('has every cell', () => {
    expect(TABLE).toHaveLength(
      KINDS.length * ROLES.length * RELATIONS.length * STATES.length * ACTIONS.length,
    )
    expect(new Set(TABLE.map((t) => t.expect))).toEqual(new Set(['allow', 403, 404]))
  })

  it.each(
    TABLE.map((t) => [t.kind, t.role, t.relation, t.state, t.action.name, t.expect, t] as const),
  )(
    '%s (%s) as %s of a %s list: %s → %s',
    async (kind, role, relation, state, _name, want, { action }) => {
      const cell = await freshCell(role, state)
      const who = people[role][relation]
      const token =
        kind === 'client' ? machineToken : kind === 'app' ? await who.appToken() : who.token
      const [method, path, body] = action.request(cell, state)
      const res = await send<{ error?: string }>(token, method, path, body)
      if (want === 'allow') {
        expect(res.status).toBe(action.status)
      } else {
        expect(res.status).toBe(want)
        expect(res.body.error).toBe(want === 404 ? 'not_found' : 'forbidden')
      }
    },
  )
})
