import { parseScopes, SCOPES, type Scope } from '../domain/scopes'
import type { Role, User } from '../domain/user'
import { isoTime } from '../lib/time'
import { allRows, firstRow, type Query, run } from './query'

export type UserRow = {
  id: string
  username: string
  password_hash: string
  name: string
  email: string
  role: Role
  scopes: string
  disabled: number
  created_at: string
  updated_at: string
}

const COLUMNS = [
  'id',
  'username',
  'name',
  'email',
  'role',
  'scopes',
  'disabled',
  'created_at',
  'updated_at',
]

/** The public columns of users, optionally qualified by a table alias for joins. */
export const userColumns = (alias?: string): string =>
  COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', ')
const USER_COLUMNS = userColumns()

export const toUser = (row: Omit<UserRow, 'password_hash'>): User => ({
  id: row.id,
  username: row.username,
  name: row.name,
  email: row.email,
  role: row.role,
  scopes: parseScopes(row.scopes),
  disabled: row.disabled === 1,
  created_at: row.created_at,
  updated_at: row.updated_at,
})

/** The full row (hash included) for a password check; a statement, so it can share a batch. */
export const userByUsername = (db: D1Database, username: string) =>
  db.prepare(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = ?1`).bind(username)

/**
 * SQL condition on `users`: the row is enabled and still holds `hash` (a bind such as '?7'), i.e.
 * exactly the credential state a password check verified. Every statement that acts on a
 * verified password (a new session, its audit event) carries it, so a password change, an admin
 * reset, a disable or a delete that lands between the compare and the write undoes the write.
 */
export const stillVerified = (hash: string) => `disabled = 0 AND password_hash = ${hash}`

/** Replaces a hash with one of another cost, unless the password changed meanwhile. */
export const rehashPassword = (db: D1Database, id: string, oldHash: string, newHash: string) =>
  db
    .prepare('UPDATE users SET password_hash = ?2 WHERE id = ?1 AND password_hash = ?3')
    .bind(id, newHash, oldHash)

/**
 * One stored password hash, chosen by `pivot` (hex digits): the first user whose id (a random
 * UUID) sorts at or after it, else the first. Unknown usernames are compared at that hash's cost
 * (src/auth/login.ts), so that their cost is drawn from the costs real users' hashes have.
 * Two primary-key lookups, whatever the table's size.
 */
export const sampleHash = (db: D1Database, pivot: string) =>
  db
    .prepare(
      `SELECT password_hash FROM (
         SELECT password_hash FROM users WHERE id >= ?1 ORDER BY id LIMIT 1)
       UNION ALL SELECT password_hash FROM (
         SELECT password_hash FROM users ORDER BY id LIMIT 1)`,
    )
    .bind(pivot)

/** The user by id, as a query to batch (with the Bearer check). */
export const userById = (db: D1Database, id: string): Query<User | null> =>
  firstRow(db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?1`).bind(id), toUser)

export const findUserById = (db: D1Database, id: string): Promise<User | null> =>
  run(db, userById(db, id))

export type NewUser = {
  username: string
  passwordHash: string
  name?: string
  email?: string
  role?: Role
  scopes?: readonly Scope[]
  /** The person set the email (self-registration): it never links a provider's sign-in. */
  emailSelfSet?: boolean
}

/** Inserts a user under `id`; RETURNING gives no row when the username (in any case) is taken. */
export const insertUser = (db: D1Database, id: string, u: NewUser) => {
  const now = isoTime()
  return db
    .prepare(
      `INSERT INTO users
         (id, username, password_hash, name, email, role, scopes, disabled, created_at, updated_at,
          email_self_set)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8, ?9)
       ON CONFLICT (username) DO NOTHING
       RETURNING ${USER_COLUMNS}`,
    )
    .bind(
      id,
      u.username,
      u.passwordHash,
      u.name ?? '',
      u.email ?? '',
      u.role ?? 'user',
      (u.scopes ?? SCOPES).join(' '),
      now,
      u.emailSelfSet && u.email ? 1 : 0,
    )
}

/** All users, oldest first, so that pages stay put while users are added. */
export const listUsers = (db: D1Database, page: { limit: number; offset: number }): Query<User[]> =>
  allRows(
    db
      .prepare(`SELECT ${USER_COLUMNS} FROM users ORDER BY created_at, rowid LIMIT ?1 OFFSET ?2`)
      .bind(page.limit, page.offset),
    toUser,
  )

/**
 * SQL: the row (its columns, or the expressions given) is an admin able to administer: enabled,
 * role admin, and holding the `write` scope that every administrative change needs
 * (src/domain/policy.ts). An admin without `write` cannot undo anything, so it does not count.
 */
const administers = (role: string, disabled: string, scopes: string) =>
  `(${role} = 'admin' AND ${disabled} = 0 AND ' ' || ${scopes} || ' ' LIKE '% write %')`

/**
 * SQL condition for an UPDATE or DELETE on `users`: after this write, an admin able to administer
 * remains. It holds when the row stays one (`after`), was not one, or another one exists.
 * Evaluated inside the writing statement, which SQLite runs alone, so two concurrent requests
 * cannot each remove "the other" last admin.
 */
export const leavesAnEnabledAdmin = (after?: { role: string; disabled: string; scopes: string }) =>
  `(${after ? `${administers(after.role, after.disabled, after.scopes)} OR ` : ''}
    NOT ${administers('role', 'disabled', 'scopes')}
    OR EXISTS (SELECT 1 FROM users AS other WHERE other.id <> users.id
      AND ${administers('other.role', 'other.disabled', 'other.scopes')}))`

/**
 * Any of a new user's fields but the username, which never changes, plus enabling/disabling. An
 * email given here is an administrator's (or the operator's), so it counts as no longer self-set.
 */
export type UserChange = Partial<Omit<NewUser, 'username' | 'emailSelfSet'>> & {
  disabled?: boolean
}

/**
 * Applies the fields given, unless that would leave no enabled admin. Returns the changed row,
 * or nothing when the user is missing or the change was refused. `updatedAt` stamps the row, so
 * a statement later in the same batch can tell whether this one took effect.
 */
export const updateUser = (db: D1Database, id: string, change: UserChange, updatedAt: string) =>
  db
    .prepare(
      `UPDATE users SET
         name = COALESCE(?2, name),
         email = COALESCE(?3, email),
         email_self_set = CASE WHEN ?3 IS NULL THEN email_self_set ELSE 0 END,
         role = COALESCE(?4, role),
         scopes = COALESCE(?5, scopes),
         disabled = COALESCE(?6, disabled),
         password_hash = COALESCE(?7, password_hash),
         updated_at = ?8
       WHERE id = ?1 AND ${leavesAnEnabledAdmin({
         role: 'COALESCE(?4, role)',
         disabled: 'COALESCE(?6, disabled)',
         scopes: 'COALESCE(?5, scopes)',
       })}
       RETURNING ${USER_COLUMNS}`,
    )
    .bind(
      id,
      change.name ?? null,
      change.email ?? null,
      change.role ?? null,
      change.scopes?.join(' ') ?? null,
      change.disabled === undefined ? null : change.disabled ? 1 : 0,
      change.passwordHash ?? null,
      updatedAt,
    )

/** Deletes a user unless they are the last admin able to administer; todos and sessions cascade. */
export const deleteUser = (db: D1Database, id: string) =>
  db
    .prepare(
      `DELETE FROM users WHERE id = ?1 AND ${leavesAnEnabledAdmin()} RETURNING ${USER_COLUMNS}`,
    )
    .bind(id)

/** Whether a user has this username (case-sensitively, as the column's UNIQUE is). */
export const usernameExists = async (db: D1Database, username: string) =>
  (await db.prepare('SELECT 1 FROM users WHERE username = ?1').bind(username).first()) !== null

/**
 * The ids of up to `limit` users with this email, letter case aside, that an administrator or a
 * provider set: an email users set themselves never links a provider's sign-in (docs/security.md).
 */
export const usersWithEmail = async (db: D1Database, email: string, limit: number) =>
  (
    await db
      .prepare(
        'SELECT id FROM users WHERE email = ?1 COLLATE NOCASE AND email_self_set = 0 LIMIT ?2',
      )
      .bind(email, limit)
      .all<{ id: string }>()
  ).results
