import { nowSeconds } from '../auth/crypto'
import { revokeUserSessions } from './sessions'
import { deleteUser, findUserById, toUser, updateUser, type User, type UserChange, type UserRow } from './users'

/**
 * Changes to an account together with what they entail, each one D1 transaction. Shared by the
 * admin API and the operator CLI (scripts/user.mjs), so nothing here may need the Workers runtime.
 */

export type AccountOutcome = { ok: true; user: User } | { ok: false; reason: 'not_found' | 'last_admin' }

/** A new password or disabling ends every session of the user; a new role or scopes counts at the next request anyway. */
const endsSessions = (change: UserChange): boolean => change.passwordHash !== undefined || change.disabled === true

/** Why a guarded write touched no row: the user is gone, or it would have removed the last enabled admin. */
const refused = async (db: D1Database, id: string): Promise<AccountOutcome> => ({
  ok: false,
  reason: (await findUserById(db, id)) ? 'last_admin' : 'not_found',
})

export async function changeUser(db: D1Database, id: string, change: UserChange): Promise<AccountOutcome> {
  const updatedAt = new Date().toISOString()
  const statements = [updateUser(db, id, change, updatedAt)]
  if (endsSessions(change)) statements.push(revokeUserSessions(db, id, nowSeconds(), updatedAt))
  const [updated] = await db.batch<Omit<UserRow, 'password_hash'>>(statements)
  const row = updated?.results[0]
  return row ? { ok: true, user: toUser(row) } : refused(db, id)
}

/** Deletes the user; their todos, sessions and refresh tokens go by ON DELETE CASCADE. */
export async function removeUser(db: D1Database, id: string): Promise<AccountOutcome> {
  const row = await deleteUser(db, id).first<Omit<UserRow, 'password_hash'>>()
  return row ? { ok: true, user: toUser(row) } : refused(db, id)
}
