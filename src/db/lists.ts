import {
  type ListAction,
  type ListRelation,
  type ListResource,
  listCondition,
  listRelationSql,
  visibleListSql,
} from '../domain/policy'
import { isoTime } from '../lib/time'
import { type Query, rows } from './query'

/**
 * Lists and their shares. Every statement takes the actor's id as ?1 and carries the policy's
 * condition (src/domain/policy.ts) in its WHERE clause, so a list the actor may not see is never
 * read and one they may not change is never written. A write is batched after a read of the
 * list as the policy sees it, which the route needs only to tell a 404 from a 403.
 */

export type List = {
  id: string
  name: string
  owner_id: string
  owner_username: string
  /** The list a todo goes to when none is named; it cannot be archived or deleted. */
  default: boolean
  archived: boolean
  /** The caller's relation to the list. */
  role: ListRelation
  created_at: string
  updated_at: string
}

type ListRow = Omit<List, 'default' | 'archived'> & { is_default: number; archived: number }

const toList = (row: ListRow): List => ({
  id: row.id,
  name: row.name,
  owner_id: row.owner_id,
  owner_username: row.owner_username,
  default: row.is_default === 1,
  archived: row.archived === 1,
  role: row.role,
  created_at: row.created_at,
  updated_at: row.updated_at,
})

const SELECT_LIST = `SELECT l.id, l.name, l.owner_id, u.username AS owner_username, l.is_default,
  l.archived, l.created_at, l.updated_at, ${listRelationSql('l', '?1')} AS role
  FROM lists AS l JOIN users AS u ON u.id = l.owner_id`

/** A list as the policy sees it for the actor; `relation` NULL when they cannot see it. */
export type ListResourceRow = {
  relation: ListRelation | null
  archived: number
  is_default: number
  target?: string | null
}

/**
 * The list `listId` as the policy sees it for actor ?1; no row when it does not exist. `target`
 * adds a column about the id bound to ?3 (the user or team a share is with).
 */
export const listResource = (
  db: D1Database,
  actorId: string,
  listId: string,
  target?: { sql: string; id: string },
) => {
  const stmt = db.prepare(
    `SELECT ${listRelationSql('l', '?1')} AS relation, l.archived, l.is_default${target?.sql ?? ''}
     FROM lists AS l WHERE l.id = ?2`,
  )
  return target ? stmt.bind(actorId, listId, target.id) : stmt.bind(actorId, listId)
}

export const toResource = (row: ListResourceRow | undefined): ListResource | null =>
  row ? { relation: row.relation, archived: row.archived === 1 } : null

export type Page = { limit: number; offset: number }

/** Every list the actor has a relation to (own and shared), oldest first. */
export const listListsStatement = (db: D1Database, actorId: string, page: Page) =>
  db
    .prepare(
      `${SELECT_LIST} WHERE ${visibleListSql('l', '?1')}
       ORDER BY l.created_at, l.rowid LIMIT ?2 OFFSET ?3`,
    )
    .bind(actorId, page.limit, page.offset)

export const toLists = (rows: ListRow[]) => rows.map(toList)

export const listLists = (db: D1Database, actorId: string, page: Page): Query<List[]> => ({
  statements: [listListsStatement(db, actorId, page)],
  read: (results) => toLists(rows(results, 0)),
})

/** Another user's lists as they see them, read in one transaction with the `audit` statement. */
export const listListsAudited = (
  db: D1Database,
  userId: string,
  page: Page,
  audit: D1PreparedStatement,
): Query<List[]> => ({
  statements: [audit, listListsStatement(db, userId, page)],
  read: (results) => toLists(rows(results, 1)),
})

export const getList = (db: D1Database, actorId: string, id: string): Query<List | null> => ({
  statements: [
    db
      .prepare(`${SELECT_LIST} WHERE l.id = ?2 AND ${listCondition('list.read', 'l', '?1')}`)
      .bind(actorId, id),
  ],
  read: (results) => {
    const row = rows<ListRow>(results, 0)[0]
    return row ? toList(row) : null
  },
})

export function createList(
  db: D1Database,
  owner: { id: string; username: string },
  name: string,
): Query<List> {
  const now = isoTime()
  const insert = db
    .prepare(
      `INSERT INTO lists (id, owner_id, name, is_default, archived, created_at, updated_at)
       VALUES (?1, ?2, ?3, 0, 0, ?4, ?4)
       RETURNING id, name, owner_id, is_default, archived, created_at, updated_at`,
    )
    .bind(crypto.randomUUID(), owner.id, name, now)
  return {
    statements: [insert],
    read: (results) => {
      const row = rows<Omit<ListRow, 'owner_username' | 'role'>>(results, 0)[0]
      if (!row) throw new Error('INSERT ... RETURNING gave no row')
      return toList({ ...row, owner_username: owner.username, role: 'owner' })
    },
  }
}

/**
 * The outcome of a guarded write: done, or refused on this resource (null: the actor cannot see
 * it or it does not exist). `default` says the list refused because it is the default list.
 */
export type Outcome<T> =
  | { done: T }
  | { done: null; resource: ListResource | null; isDefault: boolean; target?: string | null }

function outcome<T>(done: T | undefined, resourceRow: unknown): Outcome<T> {
  if (done !== undefined) return { done }
  const row = resourceRow as ListResourceRow | undefined
  return {
    done: null,
    resource: toResource(row),
    isDefault: row?.is_default === 1,
    target: row?.target,
  }
}

export function updateList(
  db: D1Database,
  actorId: string,
  id: string,
  action: ListAction,
  patch: { name?: string; archived?: boolean },
): Query<Outcome<List>> {
  const statements = [
    listResource(db, actorId, id),
    db
      .prepare(
        `UPDATE lists SET name = COALESCE(?3, name), archived = COALESCE(?4, archived),
           updated_at = ?5
         WHERE id = ?2 AND ${listCondition(action, 'lists', '?1')}
           AND NOT (is_default = 1 AND COALESCE(?4, 0) = 1)
         RETURNING id`,
      )
      .bind(
        actorId,
        id,
        patch.name ?? null,
        patch.archived === undefined ? null : patch.archived ? 1 : 0,
        isoTime(),
      ),
    db.prepare(`${SELECT_LIST} WHERE l.id = ?2`).bind(actorId, id),
  ]
  const read = ([resource, updated, after]: D1Result[]) => {
    const row = updated?.results[0] ? (after?.results[0] as ListRow) : undefined
    return outcome(row && toList(row), resource?.results[0])
  }
  return { statements, read }
}

/** Deletes the list and its todos, unless it is the actor's default list. */
export function deleteList(db: D1Database, actorId: string, id: string): Query<Outcome<true>> {
  const statements = [
    listResource(db, actorId, id),
    db
      .prepare(
        `DELETE FROM lists WHERE id = ?2 AND is_default = 0
           AND ${listCondition('list.change', 'lists', '?1')} RETURNING id`,
      )
      .bind(actorId, id),
  ]
  const read = ([resource, deleted]: D1Result[]) =>
    outcome<true>(deleted?.results[0] ? true : undefined, resource?.results[0])
  return { statements, read }
}

// Shares ---------------------------------------------------------------------------------------

export type MemberType = 'user' | 'team'

/** Who a list is shared with: its owner first, then users (by username) and teams (by name). */
export type ListMember = { type: MemberType; id: string; name: string; role: ListRelation }

/** SQL: actor ?1 may read list ?2. */
const readable = `EXISTS (SELECT 1 FROM lists AS l
  WHERE l.id = ?2 AND ${listCondition('list.read', 'l', '?1')})`

const MEMBERS = `
  SELECT 'user' AS type, u.id, u.username AS name, 'owner' AS role, 0 AS rank, l.created_at AS at
    FROM lists AS l JOIN users AS u ON u.id = l.owner_id
    WHERE l.id = ?2 AND ${listCondition('list.read', 'l', '?1')}
  UNION ALL
  SELECT 'user', u.id, u.username, s.role, 1, s.created_at
    FROM list_members AS s JOIN users AS u ON u.id = s.user_id
    WHERE s.list_id = ?2 AND ${readable}
  UNION ALL
  SELECT 'team', t.id, t.name, s.role, 2, s.created_at
    FROM list_members AS s JOIN teams AS t ON t.id = s.team_id
    WHERE s.list_id = ?2 AND ${readable}
  ORDER BY rank, at`

type MemberRow = ListMember & { rank: number; at: string }
const toMember = ({ type, id, name, role }: MemberRow): ListMember => ({ type, id, name, role })

export function listMembers(
  db: D1Database,
  actorId: string,
  listId: string,
): Query<Outcome<ListMember[]>> {
  const statements = [listResource(db, actorId, listId), db.prepare(MEMBERS).bind(actorId, listId)]
  const read = ([resource, members]: D1Result[]) => {
    const row = resource?.results[0] as ListResourceRow | undefined
    return row?.relation
      ? { done: ((members?.results ?? []) as MemberRow[]).map(toMember) }
      : outcome<ListMember[]>(undefined, row)
  }
  return { statements, read }
}

/**
 * Who a share is with, as the route named them: by id, or a user by exact username (compared as
 * the column is, without regard to case; never a pattern).
 */
export type MemberRef = { id: string } | { username: string }

/** SQL for the member's id, ?3 bound to `ref`'s value: the id itself, or the user's by username. */
const memberIdSql = (ref: MemberRef, bind = '?3') =>
  'username' in ref ? `(SELECT id FROM users WHERE username = ${bind})` : bind

const refValue = (ref: MemberRef) => ('username' in ref ? ref.username : ref.id)

/**
 * Per kind of member: the column of list_members, what the share is with, and `target`, the SQL
 * that tells the route why a share was refused ('owner' for the list's own owner, NULL for a
 * user that does not exist or a team the actor is not in — the same as a missing team). `who`
 * is the SQL of the member's id.
 */
const KINDS = {
  user: {
    column: 'user_id',
    join: (who: string) => `JOIN users AS m ON m.id = ${who}`,
    guard: 'AND m.id <> l.owner_id',
    name: 'm.username',
    table: 'users',
    target: (who: string) => `, CASE WHEN ${who} = l.owner_id THEN 'owner'
                 WHEN EXISTS (SELECT 1 FROM users WHERE id = ${who}) THEN 'ok' END AS target`,
  },
  team: {
    column: 'team_id',
    // Only a team the owner is in: team ids are not probed through sharing.
    join: (who: string) => `JOIN teams AS m ON m.id = ${who}
           JOIN team_members AS mine ON mine.team_id = m.id AND mine.user_id = ?1`,
    guard: '',
    name: 'm.name',
    table: 'teams',
    target: (who: string) => `, CASE WHEN EXISTS (SELECT 1 FROM team_members
                 WHERE team_id = ${who} AND user_id = ?1) THEN 'ok' END AS target`,
  },
} as const

/**
 * Shares the list with a user or a team as `role`, or changes the role of an existing share. A
 * user may be named by username (`{ username }`): the statements resolve it themselves, so a
 * username that names nobody reads as a missing user, exactly as an unknown id does.
 */
export function share(
  db: D1Database,
  actorId: string,
  listId: string,
  type: MemberType,
  member: MemberRef,
  role: 'viewer' | 'editor',
): Query<Outcome<ListMember>> {
  if (type === 'team' && 'username' in member) throw new Error('a team has no username')
  const k = KINDS[type]
  const who = memberIdSql(member)
  const value = refValue(member)
  const statements = [
    listResource(db, actorId, listId, { sql: k.target(who), id: value }),
    db
      .prepare(
        `INSERT INTO list_members (list_id, ${k.column}, role, created_at)
           SELECT l.id, m.id, ?4, ?5 FROM lists AS l ${k.join(who)}
           WHERE l.id = ?2 ${k.guard} AND ${listCondition('list.share', 'l', '?1')}
           ON CONFLICT (list_id, ${k.column}) DO UPDATE SET role = excluded.role
           RETURNING role`,
      )
      .bind(actorId, listId, value, role, isoTime()),
    db
      .prepare(
        `SELECT '${type}' AS type, m.id, ${k.name} AS name, s.role
           FROM list_members AS s JOIN ${k.table} AS m ON m.id = s.${k.column}
           WHERE s.list_id = ?1 AND s.${k.column} = ${memberIdSql(member, '?2')}`,
      )
      .bind(listId, value),
  ]
  const read = ([resource, upserted, after]: D1Result[]) => {
    const found = upserted?.results[0] ? (after?.results[0] as MemberRow) : undefined
    return outcome(found && toMember(found), resource?.results[0])
  }
  return { statements, read }
}

/** Ends a share. Refused with target NULL when there was no such share. */
export function unshare(
  db: D1Database,
  actorId: string,
  listId: string,
  type: MemberType,
  memberId: string,
): Query<Outcome<true>> {
  const column = KINDS[type].column
  const statements = [
    listResource(db, actorId, listId),
    db
      .prepare(
        `DELETE FROM list_members WHERE list_id = ?2 AND ${column} = ?3
           AND EXISTS (SELECT 1 FROM lists AS l
             WHERE l.id = ?2 AND ${listCondition('list.share', 'l', '?1')})
         RETURNING role`,
      )
      .bind(actorId, listId, memberId),
  ]
  const read = ([resource, deleted]: D1Result[]) =>
    outcome<true>(deleted?.results[0] ? true : undefined, resource?.results[0])
  return { statements, read }
}
