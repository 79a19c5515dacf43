import {
  type TeamAction,
  type TeamRelation,
  type TeamResource,
  teamCondition,
  teamRelationSql,
} from '../domain/policy'
import { isoTime } from '../lib/time'
import type { Page } from './lists'
import { type Query, rows } from './query'

/**
 * Teams and their members. As for lists, every statement takes the actor's id as ?1 and carries
 * the policy's condition; a write is batched after a read of the team as the policy sees it.
 */

export type TeamMember = { id: string; username: string; role: TeamRelation }

export type Team = {
  id: string
  name: string
  /** The caller's role in the team. */
  role: TeamRelation
  members: TeamMember[]
  created_at: string
  updated_at: string
}

type TeamRow = Omit<Team, 'members'> & { members: string }

/** Managers first, then by username, so that the order does not depend on the database's. */
const byRole = (a: TeamMember, b: TeamMember) =>
  (a.role === b.role ? 0 : a.role === 'manager' ? -1 : 1) || a.username.localeCompare(b.username)

const toTeam = (row: TeamRow): Team => ({
  id: row.id,
  name: row.name,
  role: row.role,
  members: (JSON.parse(row.members) as TeamMember[]).sort(byRole),
  created_at: row.created_at,
  updated_at: row.updated_at,
})

/** The teams the actor is in, oldest first, each with its members. */
export const listTeams = (db: D1Database, actorId: string, page: Page): Query<Team[]> => ({
  statements: [
    db
      .prepare(
        `SELECT t.id, t.name, mine.role, t.created_at, t.updated_at,
         (SELECT json_group_array(json_object('id', u.id, 'username', u.username, 'role', m.role))
          FROM team_members AS m JOIN users AS u ON u.id = m.user_id
          WHERE m.team_id = t.id) AS members
       FROM team_members AS mine JOIN teams AS t ON t.id = mine.team_id
       WHERE mine.user_id = ?1 ORDER BY t.created_at, t.rowid LIMIT ?2 OFFSET ?3`,
      )
      .bind(actorId, page.limit, page.offset),
  ],
  read: (results) => rows<TeamRow>(results, 0).map(toTeam),
})

/** A new team with its creator as its manager, in one transaction. */
export function createTeam(
  db: D1Database,
  creator: { id: string; username: string },
  name: string,
): Query<Team> {
  const id = crypto.randomUUID()
  const now = isoTime()
  const statements = [
    db
      .prepare(
        `INSERT INTO teams (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         RETURNING id, name, created_at, updated_at`,
      )
      .bind(id, name, now),
    db
      .prepare(
        `INSERT INTO team_members (team_id, user_id, role, created_at)
         VALUES (?1, ?2, 'manager', ?3)`,
      )
      .bind(id, creator.id, now),
  ]
  const read = (results: D1Result[]): Team => {
    const row = rows<Omit<TeamRow, 'role' | 'members'>>(results, 0)[0]
    if (!row) throw new Error('INSERT ... RETURNING gave no row')
    const manager: TeamMember = { id: creator.id, username: creator.username, role: 'manager' }
    return { ...row, role: 'manager', members: [manager] }
  }
  return { statements, read }
}

type TeamResourceRow = {
  relation: TeamRelation | null
  target_role: TeamRelation | null
  target_exists: number
}

/**
 * The user a team write is about: by id, or by exact username (compared as the column is,
 * without regard to case; never a pattern), resolved inside the statements.
 */
export type UserRef = { id: string } | { username: string }

/** SQL for the user's id, `bind` bound to `ref`'s value. */
const userIdSql = (ref: UserRef, bind: string) =>
  'username' in ref ? `(SELECT id FROM users WHERE username = ${bind})` : bind
const refValue = (ref: UserRef) => ('username' in ref ? ref.username : ref.id)

/** The team as the policy sees it for actor ?1, and what the member (`who`, of ?3) is in it. */
function teamResource(db: D1Database, actorId: string, teamId: string, user: UserRef) {
  const who = userIdSql(user, '?3')
  return db
    .prepare(
      `SELECT ${teamRelationSql('t.id', '?1')} AS relation,
         ${teamRelationSql('t.id', who)} AS target_role,
         EXISTS (SELECT 1 FROM users WHERE id = ${who}) AS target_exists
       FROM teams AS t WHERE t.id = ?2`,
    )
    .bind(actorId, teamId, refValue(user))
}

/** SQL: after this write, team ?2 still has a manager other than user `who` — or they stay one. */
const keepsAManager = (who = '?3') => `EXISTS (SELECT 1 FROM team_members AS o
  WHERE o.team_id = ?2 AND o.role = 'manager' AND o.user_id <> ${who})`

/**
 * Done, or refused on this team: `team` null when the actor cannot see it; `target` says what
 * the member acted on is (their role, whether the user exists) to explain any other refusal.
 */
export type TeamOutcome<T> =
  | { done: T }
  | {
      done: null
      team: TeamResource | null
      target: { exists: boolean; role: TeamRelation | null }
    }

function outcome<T>(done: T | undefined, row: TeamResourceRow | undefined): TeamOutcome<T> {
  if (done !== undefined) return { done }
  return {
    done: null,
    team: row ? { relation: row.relation } : null,
    target: { exists: row?.target_exists === 1, role: row?.target_role ?? null },
  }
}

/**
 * Adds the user to the team as `role` or changes their role, keeping the team a manager. A
 * username that names nobody reads as a missing user, exactly as an unknown id does.
 */
export function setTeamMember(
  db: D1Database,
  actorId: string,
  teamId: string,
  user: UserRef,
  role: TeamRelation,
): Query<TeamOutcome<TeamMember>> {
  const who = userIdSql(user, '?3')
  const value = refValue(user)
  const statements = [
    teamResource(db, actorId, teamId, user),
    db
      .prepare(
        `INSERT INTO team_members (team_id, user_id, role, created_at)
         SELECT t.id, u.id, ?4, ?5 FROM teams AS t JOIN users AS u ON u.id = ${who}
         WHERE t.id = ?2 AND ${teamCondition('team.manage', 't.id', '?1')}
           AND (?4 = 'manager' OR ${keepsAManager(who)})
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role
         RETURNING role`,
      )
      .bind(actorId, teamId, value, role, isoTime()),
    db
      .prepare(
        `SELECT u.id, u.username, m.role FROM team_members AS m JOIN users AS u ON u.id = m.user_id
         WHERE m.team_id = ?1 AND m.user_id = ${userIdSql(user, '?2')}`,
      )
      .bind(teamId, value),
  ]
  const read = ([resource, upserted, after]: D1Result[]) => {
    const member = upserted?.results[0] ? (after?.results[0] as TeamMember) : undefined
    return outcome(member, resource?.results[0] as TeamResourceRow | undefined)
  }
  return { statements, read }
}

/** Removes user ?3 from the team (`team.leave` for oneself), unless they are its last manager. */
export function removeTeamMember(
  db: D1Database,
  actorId: string,
  action: TeamAction,
  teamId: string,
  userId: string,
): Query<TeamOutcome<true>> {
  const statements = [
    teamResource(db, actorId, teamId, { id: userId }),
    db
      .prepare(
        `DELETE FROM team_members WHERE team_id = ?2 AND user_id = ?3
           AND ${teamCondition(action, '?2', '?1')}
           ${action === 'team.leave' ? 'AND user_id = ?1' : ''}
           AND (role <> 'manager' OR ${keepsAManager()})
         RETURNING role`,
      )
      .bind(actorId, teamId, userId),
  ]
  const read = ([resource, deleted]: D1Result[]) =>
    outcome<true>(
      deleted?.results[0] ? true : undefined,
      resource?.results[0] as TeamResourceRow | undefined,
    )
  return { statements, read }
}
