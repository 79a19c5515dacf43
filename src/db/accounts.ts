import type { User } from '../domain/user'
import { isoTime, nowSeconds } from '../lib/time'
import { type Attribution, auditUserEvent } from './audit'
import { type Query, run } from './query'
import { revokeUserSessions } from './sessions'
import {
  deleteUser,
  insertUser,
  leavesAnEnabledAdmin,
  type NewUser,
  toUser,
  type UserChange,
  type UserRow,
  updateUser,
} from './users'

/**
 * Account changes with everything they entail — ending sessions, the audit event — as one D1
 * transaction, so none of it happens without the rest. Shared by the admin API and the operator
 * CLI (scripts/user.mjs, in Node on a getPlatformProxy binding), so nothing here may need the
 * Workers runtime.
 */

export type AccountOutcome =
  | { ok: true; user: User }
  | { ok: false; reason: 'taken' | 'not_found' | 'last_admin' }

type PublicRow = Omit<UserRow, 'password_hash'>

/** Appended to each batch: whether the user exists tells a refused write from a missing user. */
const exists = (db: D1Database, id: string) =>
  db.prepare('SELECT 1 AS found FROM users WHERE id = ?1').bind(id)

export async function createUser(
  db: D1Database,
  u: NewUser,
  by: Attribution,
): Promise<AccountOutcome> {
  const id = crypto.randomUUID()
  // The event's row exists only if the insert took; a taken username leaves neither.
  const [inserted] = await db.batch<PublicRow>([
    insertUser(db, id, u),
    auditUserEvent(db, 'user_created', id, by, '1'),
  ])
  const row = inserted?.results[0]
  return row ? { ok: true, user: toUser(row) } : { ok: false, reason: 'taken' }
}

/**
 * A new password or disabling ends every session; a new role or scopes counts at the next request
 * anyway.
 */
const endsSessions = (change: UserChange): boolean =>
  change.passwordHash !== undefined || change.disabled === true

/**
 * Applies `change` unless it would leave no enabled admin. `updatedAt` stamps the row, so the
 * statements after the guarded update can tell whether it took effect. (Only another change to the
 * same user in the same millisecond could carry the same stamp; the cost would be a spurious event
 * or sessions ended once too often, never a change let through.)
 */
export const changeUser = (
  db: D1Database,
  id: string,
  change: UserChange,
  by: Attribution,
  event: 'user_updated' | 'password_change' = 'user_updated',
): Promise<AccountOutcome> => run(db, userChange(db, id, change, by, event))

/** The same as a query to batch (with the Bearer check). */
export function userChange(
  db: D1Database,
  id: string,
  change: UserChange,
  by: Attribution,
  event: 'user_updated' | 'password_change' = 'user_updated',
): Query<AccountOutcome> {
  const updatedAt = isoTime()
  const statements = [
    updateUser(db, id, change, updatedAt),
    ...(endsSessions(change) ? [revokeUserSessions(db, id, nowSeconds(), updatedAt)] : []),
    auditUserEvent(db, event, id, by, 'updated_at = ?7', updatedAt),
    exists(db, id),
  ]
  const read = (results: D1Result[]) =>
    outcome(results[0]?.results[0] as PublicRow | undefined, results.at(-1)?.results.length)
  return { statements, read }
}

/**
 * Deletes the user unless they are the last enabled admin; todos, sessions and refresh tokens go by
 * ON DELETE CASCADE.
 */
export const removeUser = (db: D1Database, id: string, by: Attribution) =>
  run(db, userRemoval(db, id, by))

/** The same as a query to batch (with the Bearer check). */
export function userRemoval(db: D1Database, id: string, by: Attribution): Query<AccountOutcome> {
  const statements = [
    // Written just before the delete, under the delete's own guard, so it records exactly a delete
    // that happens.
    auditUserEvent(db, 'user_deleted', id, by, leavesAnEnabledAdmin()),
    deleteUser(db, id),
    exists(db, id),
  ]
  const read = ([, deleted, after]: D1Result[]) =>
    outcome(deleted?.results[0] as PublicRow | undefined, after?.results.length)
  return { statements, read }
}

const outcome = (row: PublicRow | undefined, stillThere: number | undefined): AccountOutcome =>
  row
    ? { ok: true, user: toUser(row) }
    : { ok: false, reason: stillThere ? 'last_admin' : 'not_found' }
