import { type Context, Hono } from 'hono'
import { checkedBatch } from '../auth/batch'
import { actorOf, bearerUsername } from '../auth/bearer'
import { checkUpFront, refusedOnTeam, requires, requiresScope } from '../auth/guards'
import {
  createTeam,
  listTeams,
  removeTeamMember,
  setTeamMember,
  type TeamOutcome,
} from '../db/teams'
import { ApiError, notFound } from '../domain/errors'
import { TEAM_RULES, teamRemoval } from '../domain/policy'
import type { AppEnv } from '../http/context'
import { doc } from '../http/openapi'
import {
  pageQuery,
  team,
  teamCreate,
  teamList,
  teamMember,
  teamMemberBody,
  teamMemberByUsernameBody,
} from '../http/schemas/lists'
import { validate } from '../http/validate'
import { BY_USERNAME, chargeUsername } from './by-username'

// A team the caller is not in and a missing one get the same answer.
const noSuchTeam = () => notFound('team')
const lastManager = () =>
  new ApiError('conflict', 'A team keeps at least one manager; make another member manager first.')

/** Answers a member change that SQL refused: the team's refusal first, then why. */
function refusedToManage(
  c: Context<AppEnv>,
  refused: Extract<TeamOutcome<unknown>, { done: null }>,
): never {
  refusedOnTeam(c, actorOf(c), 'team.manage', refused.team, noSuchTeam, () =>
    refused.target.exists ? lastManager() : notFound('user'),
  )
}

export const teamRoutes = new Hono<AppEnv>()
  .get(
    '/',
    doc({
      operationId: 'listTeams',
      tag: 'teams',
      summary: 'The teams you are in, oldest first',
      responses: { 200: { description: 'The teams, with their members.', schema: teamList } },
    }),
    requires('teams.read'),
    validate('query', pageQuery),
    async (c) => {
      const page = c.req.valid('query')
      return c.json(await checkedBatch(c, (db, actor) => listTeams(db, actor.id, page)))
    },
  )
  .post(
    '/',
    doc({
      operationId: 'createTeam',
      tag: 'teams',
      summary: 'Create a team; you are its manager',
      responses: { 201: { description: 'The new team.', schema: team } },
    }),
    requires('teams.create'),
    validate('json', teamCreate),
    async (c) => {
      const { name } = c.req.valid('json')
      const creator = { id: actorOf(c).id, username: bearerUsername(c) }
      return c.json(await checkedBatch(c, (db) => createTeam(db, creator, name)), 201)
    },
  )
  .put(
    '/:id/members/:user_id',
    doc({
      operationId: 'setTeamMember',
      tag: 'teams',
      summary: 'Add a member or change their role',
      description: 'Managers only. 409 when it would leave the team without a manager.',
      responses: { 200: { description: 'The member.', schema: teamMember } },
      errors: ['forbidden', 'conflict'],
    }),
    requiresScope(TEAM_RULES['team.manage']),
    validate('json', teamMemberBody),
    async (c) => {
      const { role } = c.req.valid('json')
      const user = { id: c.req.param('user_id') }
      const done = await checkedBatch(c, (db, actor) =>
        setTeamMember(db, actor.id, c.req.param('id'), user, role),
      )
      if (!done.done) refusedToManage(c, done)
      return c.json(done.done)
    },
  )
  .post(
    '/:id/members',
    doc({
      operationId: 'addTeamMemberByUsername',
      tag: 'teams',
      summary: 'Add a member named by username, or change their role',
      description: `As PUT …/members/{user_id}. ${BY_USERNAME}`,
      responses: { 200: { description: 'The member.', schema: teamMember } },
      errors: ['forbidden', 'conflict', 'too_many_attempts'],
    }),
    requiresScope(TEAM_RULES['team.manage']),
    validate('json', teamMemberByUsernameBody),
    async (c) => {
      const { username, role } = c.req.valid('json')
      await chargeUsername(c)
      const done = await checkedBatch(c, (db, actor) =>
        setTeamMember(db, actor.id, c.req.param('id'), { username }, role),
      )
      if (!done.done) refusedToManage(c, done)
      return c.json(done.done)
    },
  )
  .delete(
    '/:id/members/:user_id',
    doc({
      operationId: 'removeTeamMember',
      tag: 'teams',
      summary: 'Remove a member, or leave the team',
      description:
        'Managers remove anyone; a member may remove themselves. ' +
        "Access through the team's shares ends at the next request. 409 for the last manager.",
      responses: { 204: { description: 'Removed.' } },
      errors: ['forbidden', 'conflict'],
    }),
    requiresScope(TEAM_RULES['team.leave']),
    async (c) => {
      const userId = c.req.param('user_id')
      const action = teamRemoval(actorOf(c), userId)
      const done = await checkedBatch(c, (db, actor) => {
        checkUpFront(c, actor, TEAM_RULES[action])
        return removeTeamMember(db, actor.id, action, c.req.param('id'), userId)
      })
      const actor = actorOf(c)
      if (!done.done)
        refusedOnTeam(c, actor, action, done.team, noSuchTeam, () =>
          done.target.role ? lastManager() : notFound('member'),
        )
      return c.body(null, 204)
    },
  )
