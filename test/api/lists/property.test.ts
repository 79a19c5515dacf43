import { env } from 'cloudflare:test'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultList, type Member, member, seed, send } from './helpers'

// Over random teams, memberships and shares, every list endpoint answers exactly what the
// policy allows: the oracle below computes each user's relation to each list from the raw
// sharings, independently of the SQL, and every user's view through the API must match it.

const USERS = 4
type Share = { list: number; to: { user: number } | { team: number }; role: 'viewer' | 'editor' }
type World = {
  lists: { owner: number; archived: boolean }[]
  teams: { members: number[] }[]
  shares: Share[]
}

const world: fc.Arbitrary<World> = fc
  .record({
    lists: fc.array(fc.record({ owner: fc.nat(USERS - 1), archived: fc.boolean() }), {
      minLength: 1,
      maxLength: 5,
    }),
    teams: fc.array(
      fc.record({ members: fc.uniqueArray(fc.nat(USERS - 1), { maxLength: USERS }) }),
      { maxLength: 3 },
    ),
  })
  .chain(({ lists, teams }) =>
    fc
      .uniqueArray(
        fc.record({
          list: fc.nat(lists.length - 1),
          to:
            teams.length > 0
              ? fc.oneof(
                  fc.record({ user: fc.nat(USERS - 1) }),
                  fc.record({ team: fc.nat(teams.length - 1) }),
                )
              : fc.record({ user: fc.nat(USERS - 1) }),
          role: fc.constantFrom('viewer' as const, 'editor' as const),
        }),
        { maxLength: 10, selector: (s) => `${s.list}:${JSON.stringify(s.to)}` },
      )
      // The owner is never a member of their own list.
      .map((shares) =>
        shares.filter((s) => !('user' in s.to) || s.to.user !== lists[s.list]!.owner),
      )
      .map((shares) => ({ lists, teams, shares })),
  )

/** The relation of user `u` to list `l`: owner, else the strongest share with them or a team of theirs. */
function relation(w: World, u: number, l: number): 'owner' | 'editor' | 'viewer' | null {
  if (w.lists[l]!.owner === u) return 'owner'
  const roles = w.shares
    .filter(
      (s) =>
        s.list === l &&
        ('user' in s.to ? s.to.user === u : w.teams[s.to.team]!.members.includes(u)),
    )
    .map((s) => s.role)
  return roles.includes('editor') ? 'editor' : roles.includes('viewer') ? 'viewer' : null
}

let users: Member[]
let defaults: string[]

beforeAll(async () => {
  users = await Promise.all(Array.from({ length: USERS }, () => member()))
  defaults = await Promise.all(users.map((u) => defaultList(u.id)))
})

/** Writes the world to D1; returns its ids and a cleanup that removes it again. */
async function build(w: World) {
  const lists = w.lists.map((l) => seed.list(users[l.owner]!.id, { archived: l.archived }))
  const todos = lists.map((l, i) => seed.todo(l.id, users[w.lists[i]!.owner]!.id))
  const teams = w.teams.map(() => seed.team())
  await env.DB.batch([
    ...lists.map((l) => l.stmt),
    ...todos.map((t) => t.stmt),
    ...teams.map((t) => t.stmt),
    ...w.teams.flatMap((t, i) => t.members.map((m) => seed.teamMember(teams[i]!.id, users[m]!.id))),
    ...w.shares.map((s) =>
      seed.share(
        lists[s.list]!.id,
        'user' in s.to ? { user: users[s.to.user]!.id } : { team: teams[s.to.team]!.id },
        s.role,
      ),
    ),
  ])
  const cleanup = () =>
    env.DB.batch([
      ...lists.map((l) => env.DB.prepare('DELETE FROM lists WHERE id = ?1').bind(l.id)),
      ...teams.map((t) => env.DB.prepare('DELETE FROM teams WHERE id = ?1').bind(t.id)),
    ])
  return { lists: lists.map((l) => l.id), todos: todos.map((t) => t.id), cleanup }
}

describe('every list endpoint, over random sharings', () => {
  it('returns exactly the lists, todos and members the policy allows each user', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const ids = await build(w)
        try {
          for (const [u, user] of users.entries()) {
            const expected = w.lists.flatMap((_, l) => {
              const role = relation(w, u, l)
              return role ? [[ids.lists[l], role]] : []
            })
            const seen = await send<{ id: string; role: string }[]>(user.token, 'GET', '/api/lists')
            expect(seen.status).toBe(200)
            expect(new Set(seen.body.map((l) => JSON.stringify([l.id, l.role])))).toEqual(
              new Set([[defaults[u], 'owner'], ...expected].map((e) => JSON.stringify(e))),
            )

            for (const [l, listId] of ids.lists.entries()) {
              const role = relation(w, u, l)
              const todos = await send<{ id: string }[]>(
                user.token,
                'GET',
                `/api/lists/${listId}/todos`,
              )
              const todo = await send(user.token, 'GET', `/api/todos/${ids.todos[l]}`)
              const members = await send<{ id: string }[]>(
                user.token,
                'GET',
                `/api/lists/${listId}/members`,
              )
              if (role) {
                expect(todos.body.map((t) => t.id)).toEqual([ids.todos[l]])
                expect(todo.status).toBe(200)
                const shares = w.shares.filter((s) => s.list === l).length
                expect(members.body).toHaveLength(1 + shares)
              } else {
                expect([todos.status, todo.status, members.status]).toEqual([404, 404, 404])
              }
              // Editing follows the relation and the state, as the table test checks cell by cell.
              const edit = await send(user.token, 'PATCH', `/api/todos/${ids.todos[l]}`, {
                description: 'touched',
              })
              const mayEdit = (role === 'owner' || role === 'editor') && !w.lists[l]!.archived
              expect(edit.status).toBe(mayEdit ? 200 : role ? 403 : 404)
            }
            // /api/todos stays the user's own: the todos of the lists they own.
            const own = await send<{ list_id: string }[]>(user.token, 'GET', '/api/todos')
            const owned = new Set(ids.lists.filter((_, l) => w.lists[l]!.owner === u))
            expect(own.body.every((t) => owned.has(t.list_id))).toBe(true)
            expect(own.body).toHaveLength(owned.size)
          }
        } finally {
          await ids.cleanup()
        }
      }),
      { numRuns: 12 },
    )
    // Twelve random worlds of a few hundred requests: 3 to 6 s on two shared cores, over
    // vitest's 5 s default. A limit, not a timing assertion: only a hang should fail here.
  }, 60_000)
})
