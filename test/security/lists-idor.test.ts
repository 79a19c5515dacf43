import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { member, seed, send } from '../api/lists/helpers'
import { appRoutes } from '../helpers'

// IDOR: every route that takes an id, called by a stranger with the victim's real ids, answers
// 404 exactly as for a missing id, and changes nothing. The routes come from the app itself, so
// a new id-bearing route is covered (or fails here for want of a body) the day it is added.

type World = Awaited<ReturnType<typeof victimWorld>>

const BODIES: Record<string, unknown> = {
  'PATCH /api/todos/:id': { completed: true },
  'PATCH /api/lists/:id': { name: 'taken over' },
  'POST /api/lists/:id/todos': { title: 'planted' },
  'PUT /api/lists/:id/members/users/:user_id': { role: 'editor' },
  'PUT /api/lists/:id/members/teams/:team_id': { role: 'editor' },
  'PUT /api/teams/:id/members/:user_id': { role: 'manager' },
  // By username: the victim's friend, a real user the attacker may know the name of.
  'POST /api/lists/:id/members/users': (w: World) => ({
    username: w.friend.username,
    role: 'editor',
  }),
  'POST /api/teams/:id/members': (w: World) => ({ username: w.friend.username, role: 'manager' }),
}

const idRoutes = appRoutes()
  .map((key) => key.split(' ') as [string, string])
  .filter(([, path]) => /^\/api\/.*:/.test(path))
  .map(([method, path]) => ({ method, path }))

async function victimWorld() {
  const [victim, friend, attacker] = await Promise.all([member(), member(), member()])
  const list = seed.list(victim.id)
  const todo = seed.todo(list.id, victim.id, 'private')
  const team = seed.team('victims')
  await env.DB.batch([
    list.stmt,
    todo.stmt,
    team.stmt,
    seed.teamMember(team.id, victim.id, 'manager'),
    seed.teamMember(team.id, friend.id),
    seed.share(list.id, { user: friend.id }, 'viewer'),
    seed.share(list.id, { team: team.id }, 'viewer'),
  ])
  return { victim, friend, attacker, list: list.id, todo: todo.id, team: team.id }
}

const snapshot = async () =>
  JSON.stringify(
    await env.DB.batch([
      env.DB.prepare('SELECT * FROM lists ORDER BY id'),
      env.DB.prepare('SELECT * FROM todos ORDER BY id'),
      env.DB.prepare('SELECT * FROM list_members ORDER BY list_id, user_id, team_id'),
      env.DB.prepare('SELECT * FROM team_members ORDER BY team_id, user_id'),
    ]).then((all) => all.map((r) => r.results)),
  )

describe('another user’s ids', () => {
  it('covers every id-bearing route of the API', () => {
    expect(idRoutes.length).toBeGreaterThanOrEqual(15)
  })

  it.each(idRoutes)(
    '$method $path answers 404 to a stranger and changes nothing',
    async (route) => {
      const w = await victimWorld()
      const path = route.path
        .replace(/^\/api\/todos\/:id/, `/api/todos/${w.todo}`)
        .replace(/^\/api\/lists\/:id/, `/api/lists/${w.list}`)
        .replace(/^\/api\/teams\/:id/, `/api/teams/${w.team}`)
        .replace(':user_id', w.friend.id)
        .replace(':team_id', w.team)
      expect(path).not.toContain(':')
      const before = await snapshot()
      const body = BODIES[`${route.method} ${route.path}`]
      const res = await send<{ error: string }>(
        w.attacker.token,
        route.method,
        path,
        typeof body === 'function' ? body(w) : body,
      )
      expect(res).toMatchObject({ status: 404, body: { error: 'not_found' } })
      expect(await snapshot()).toBe(before)
    },
  )

  it('plants no todo through POST /api/todos and reads none through ?list_id=', async () => {
    const w = await victimWorld()
    const before = await snapshot()
    const planted = await send(w.attacker.token, 'POST', '/api/todos', {
      title: 'planted',
      list_id: w.list,
    })
    expect(planted.status).toBe(404)
    const read = await send(w.attacker.token, 'GET', `/api/todos?list_id=${w.list}`)
    expect(read).toEqual({ status: 200, body: [] })
    expect(await snapshot()).toBe(before)
  })
})
