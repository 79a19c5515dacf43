export type Role = 'user' | 'admin'

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

/** A user as the API shows it: never the hash. */
export type User = {
  id: string
  username: string
  name: string
  email: string
  role: Role
  scopes: string[]
  disabled: boolean
  created_at: string
  updated_at: string
}

/** The authenticated user the middlewares hand to routes. */
export type SessionUser = User

const COLUMNS = ['id', 'username', 'name', 'email', 'role', 'scopes', 'disabled', 'created_at', 'updated_at']

/** The public columns of users, optionally qualified by a table alias for joins. */
export const userColumns = (alias?: string): string => COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', ')
const USER_COLUMNS = userColumns()

export const parseScopes = (scopes: string): string[] => scopes.split(' ').filter(Boolean)

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

export const findUserById = async (db: D1Database, id: string): Promise<User | null> => {
  const row = await db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?1`).bind(id).first<UserRow>()
  return row && toUser(row)
}

export type NewUser = {
  username: string
  passwordHash: string
  name?: string
  email?: string
  role?: Role
  scopes?: readonly string[]
}

/** Inserts a user; returns null when the username (case-insensitively) is taken. */
export async function insertUser(db: D1Database, u: NewUser): Promise<User | null> {
  const now = new Date().toISOString()
  const row = await db
    .prepare(
      `INSERT INTO users (id, username, password_hash, name, email, role, scopes, disabled, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)
       ON CONFLICT (username) DO NOTHING
       RETURNING ${USER_COLUMNS}`,
    )
    .bind(crypto.randomUUID(), u.username, u.passwordHash, u.name ?? '', u.email ?? '', u.role ?? 'user', (u.scopes ?? ['read', 'write']).join(' '), now)
    .first<UserRow>()
  return row && toUser(row)
}

/** Replaces a password hash without touching updated_at semantics of the profile. */
export const setPasswordHash = (db: D1Database, userId: string, hash: string) =>
  db.prepare('UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1').bind(userId, hash, new Date().toISOString())
