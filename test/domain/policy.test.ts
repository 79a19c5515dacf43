import { describe, expect, it } from 'vitest'
import {
  type Action,
  type Decision,
  decide,
  decideOnList,
  decideOnTeam,
  mayAssign,
} from '../../src/domain/policy'

const ME = 'me'
const OTHER = 'other'

// role × token scopes × whose data → decision. Every action appears with each role, with and
// without its scope, and on own and on others' data.
const TABLE: [Action, 'user' | 'admin', string, string, Decision][] = [
  ['todos.read', 'user', 'read', ME, 'allow'],
  ['todos.read', 'user', 'read', OTHER, 'forbidden'],
  ['todos.read', 'user', 'write', ME, 'insufficient_scope'],
  ['todos.read', 'admin', 'read', OTHER, 'forbidden'],
  ['todos.read', 'admin', 'write', OTHER, 'insufficient_scope'],
  ['todos.list_any', 'user', 'read', OTHER, 'forbidden'],
  ['todos.list_any', 'user', 'read', ME, 'forbidden'],
  ['todos.list_any', 'admin', 'read', OTHER, 'allow'],
  ['todos.list_any', 'admin', 'write', OTHER, 'insufficient_scope'],
  ['todos.write', 'user', 'write', ME, 'allow'],
  ['todos.write', 'user', 'read', ME, 'insufficient_scope'],
  ['todos.write', 'user', 'write', OTHER, 'forbidden'],
  ['todos.write', 'admin', 'read write', OTHER, 'forbidden'],
  ['self', 'user', '', ME, 'allow'],
  ['self', 'admin', '', OTHER, 'forbidden'],
  ['identities.change', 'user', '', ME, 'allow'],
  ['identities.change', 'admin', 'read write', OTHER, 'forbidden'],
  ['users.read', 'user', 'read write', OTHER, 'forbidden'],
  ['users.read', 'user', 'read write', ME, 'forbidden'],
  ['users.read', 'admin', 'read', OTHER, 'allow'],
  ['users.read', 'admin', 'write', OTHER, 'insufficient_scope'],
  ['users.write', 'user', 'read write', ME, 'forbidden'],
  ['users.write', 'admin', 'write', OTHER, 'allow'],
  ['users.write', 'admin', 'read', OTHER, 'insufficient_scope'],
  ['audit.read', 'user', 'read write', ME, 'forbidden'],
  ['audit.read', 'admin', 'read', ME, 'allow'],
  ['audit.read', 'admin', '', ME, 'insufficient_scope'],
  ['lists.create', 'user', 'write', ME, 'allow'],
  ['lists.create', 'user', 'read', ME, 'insufficient_scope'],
  ['lists.read_any', 'user', 'read', OTHER, 'forbidden'],
  ['lists.read_any', 'admin', 'read', OTHER, 'allow'],
  ['lists.read_any', 'admin', 'write', OTHER, 'insufficient_scope'],
  ['teams.read', 'user', 'read', ME, 'allow'],
  ['teams.read', 'user', 'write', ME, 'insufficient_scope'],
  ['teams.create', 'user', 'write', ME, 'allow'],
  ['teams.create', 'admin', 'read', ME, 'insufficient_scope'],
]

describe('policy.decide', () => {
  it.each(TABLE)(
    '%s by %s with scopes "%s" on data of %s → %s',
    (action, role, scopes, owner, expected) => {
      expect(
        decide({ id: ME, role, scopes: scopes.split(' ').filter(Boolean) }, action, owner),
      ).toBe(expected)
    },
  )

  it('refuses a third-party app what only the user does in person', () => {
    const app = {
      id: ME,
      role: 'admin' as const,
      scopes: ['read', 'write'],
      kind: 'app' as const,
    }
    expect(decide(app, 'lists.read_any', OTHER)).toBe('forbidden')
    expect(decide(app, 'todos.list_any', OTHER)).toBe('forbidden')
    expect(decide(app, 'identities.change')).toBe('forbidden')
    expect(decide(app, 'self')).toBe('allow')
    expect(decide(app, 'lists.create')).toBe('allow')
  })

  it('defaults to the actor’s own data', () => {
    expect(decide({ id: ME, role: 'user', scopes: ['write'] }, 'todos.write')).toBe('allow')
  })
})

describe('policy.decide for a client acting as itself', () => {
  const client = (scopes: string[]) => ({ kind: 'client' as const, id: 'svc', scopes })
  const all = ['read', 'write', 'users:read', 'audit:read']

  it('allows only the actions whose machine scope it holds', () => {
    expect(decide(client(['users:read']), 'users.read', OTHER)).toBe('allow')
    expect(decide(client(['audit:read']), 'audit.read')).toBe('allow')
    expect(decide(client(['audit:read']), 'users.read', OTHER)).toBe('insufficient_scope')
    // A user's scopes are no machine scopes: `read` does not read the audit trail.
    expect(decide(client(['read']), 'audit.read')).toBe('insufficient_scope')
  })

  it('forbids every other action whatever it holds: it owns no data and is nobody’s admin', () => {
    for (const action of [
      'todos.read',
      'todos.list_any',
      'todos.write',
      'self',
      'users.write',
      'clients.read',
      'clients.write',
    ] as const) {
      expect(decide(client(all), action), action).toBe('forbidden')
      // Even on "its own" data: a client's id is never a user's.
      expect(decide(client(all), action, 'svc'), action).toBe('forbidden')
    }
  })

  it('forbids it every list and team action: it owns no list and is in no team', () => {
    const owned = { relation: 'owner' as const, archived: false }
    for (const action of ['list.read', 'list.write_todos', 'list.change', 'list.share'] as const)
      expect(decideOnList(client(all), action, owned), action).toBe('forbidden')
    expect(decideOnTeam(client(all), 'team.manage', { relation: 'manager' })).toBe('forbidden')
    expect(decideOnTeam(client(all), 'team.leave', { relation: 'member' })).toBe('forbidden')
    for (const action of ['lists.create', 'lists.read_any', 'teams.read', 'teams.create'] as const)
      expect(decide(client(all), action), action).toBe('forbidden')
  })
})

describe('policy.mayAssign', () => {
  const admin = { id: ME, role: 'admin' as const, scopes: ['read', 'write'] }

  it('lets an admin set any role and scopes on someone else', () => {
    expect(
      mayAssign(
        admin,
        { id: OTHER, role: 'user', scopes: [] },
        { role: 'admin', scopes: ['read', 'write'] },
      ),
    ).toBe(true)
  })

  it('lets an admin drop their own role or scopes', () => {
    expect(
      mayAssign(
        admin,
        { id: ME, role: 'admin', scopes: ['read', 'write'] },
        { role: 'user', scopes: ['read'] },
      ),
    ).toBe(true)
  })

  it('refuses an admin adding a scope to themselves', () => {
    expect(
      mayAssign(admin, { id: ME, role: 'admin', scopes: ['write'] }, { scopes: ['read', 'write'] }),
    ).toBe(false)
  })

  it('refuses a user raising their own role, and any user assigning anything', () => {
    const user = { id: ME, role: 'user' as const, scopes: ['read', 'write'] }
    expect(
      mayAssign(user, { id: ME, role: 'user', scopes: ['read', 'write'] }, { role: 'admin' }),
    ).toBe(false)
    expect(mayAssign(user, { id: OTHER, role: 'user', scopes: [] }, { scopes: ['read'] })).toBe(
      false,
    )
  })
})

describe('policy on lists and teams (in memory; the routes test the SQL)', () => {
  const user = { id: ME, role: 'user' as const, scopes: ['read', 'write'] }

  it('hides a list without a relation, before anything else but the scope', () => {
    expect(decideOnList(user, 'list.change', { relation: null, archived: false })).toBe('not_found')
    expect(decideOnList(user, 'list.read', null)).toBe('not_found')
    expect(decideOnList({ ...user, scopes: ['read'] }, 'list.change', null)).toBe(
      'insufficient_scope',
    )
  })

  it('makes an archived list read-only for its owner too, except unarchiving', () => {
    const archived = { relation: 'owner' as const, archived: true }
    expect(decideOnList(user, 'list.read', archived)).toBe('allow')
    expect(decideOnList(user, 'list.write_todos', archived)).toBe('forbidden')
    expect(decideOnList(user, 'list.change', archived)).toBe('forbidden')
    expect(decideOnList(user, 'list.unarchive', archived)).toBe('allow')
  })

  it('lets members leave a team and only managers manage it', () => {
    expect(decideOnTeam(user, 'team.leave', { relation: 'member' })).toBe('allow')
    expect(decideOnTeam(user, 'team.manage', { relation: 'member' })).toBe('forbidden')
    expect(decideOnTeam(user, 'team.manage', { relation: 'manager' })).toBe('allow')
    expect(decideOnTeam(user, 'team.manage', { relation: null })).toBe('not_found')
  })
})
