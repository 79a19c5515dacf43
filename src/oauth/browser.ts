import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { AppEnv } from '../env'
import { stillVerified, type User, type UserRow, toUser, userColumns } from '../db/users'
import { randomToken, sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'

/**
 * The browser's side of the authorization endpoint: one cookie, HttpOnly and SameSite=Lax, on
 * https also Secure with the `__Host-` prefix (so no subdomain can set or shadow it). Its value is
 * 256 random bits and does two jobs:
 *
 * - it binds every pending authorization request this browser is shown (./pending.ts), so a form
 *   token from another browser is refused (CSRF);
 * - after a successful login it names a sign-in, a D1 row (table signins, by SHA-256 only) that
 *   lets the next app skip the password until it expires, the user is disabled or changed
 *   (a new password, a new role), `prompt=login` is asked for, or the user logs out.
 *
 * A login always replaces the value (no session fixation).
 */
export const SIGNIN_TTL = 12 * 3600
const NAME = 'todo-auth'

const secure = (c: Context<AppEnv>) => new URL(c.req.url).protocol === 'https:'
const read = (c: Context<AppEnv>) =>
  (secure(c) ? getCookie(c, NAME, 'host') : getCookie(c, NAME)) ?? null

function write(c: Context<AppEnv>, value: string) {
  const options = { httpOnly: true, sameSite: 'Lax', path: '/', maxAge: SIGNIN_TTL } as const
  if (secure(c)) setCookie(c, NAME, value, { ...options, prefix: 'host' })
  else setCookie(c, NAME, value, options)
}

/** The value pending requests are bound to; a fresh cookie is set when the browser has none. */
export function browserBinding(c: Context<AppEnv>): string {
  const existing = read(c)
  if (existing && /^[\w-]{43}$/.test(existing)) return existing
  const value = randomToken()
  write(c, value)
  return value
}

/** The binding the browser sent with a form, or null. */
export const sentBinding = (c: Context<AppEnv>): string | null => read(c)

/** The user signed in in this browser, if the sign-in still holds. */
export const signedInUser = async (c: Context<AppEnv>): Promise<User | null> =>
  (await browserSignIn(c))?.user ?? null

/**
 * The same, with when the sign-in was made (unix seconds): OpenID Connect's `max_age` asks for
 * the password again when it is older (src/routes/authorize.tsx).
 */
export async function browserSignIn(
  c: Context<AppEnv>,
): Promise<{ user: User; since: number } | null> {
  const token = read(c)
  if (!token) return null
  const row = await c.env.DB.prepare(
    `SELECT ${userColumns('u')}, s.created_at AS signed_in_at
     FROM signins s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0
       AND u.updated_at = s.user_updated_at`,
  )
    .bind(await sha256Hex(token), nowSeconds())
    .first<UserRow & { signed_in_at: number }>()
  return row && { user: toUser(row), since: row.signed_in_at }
}

/**
 * Signs a user in after their password was verified: statements for checkPassword's success
 * batch (src/auth/login.ts, its `grant`), so the sign-in row is written only if, in that very
 * statement, the user is enabled and still holds the verified hash; it records the row's
 * updated_at from the same statement. The browser's earlier sign-in is replaced only when the
 * new one was written. `commit` sets the cookie: call it once the check succeeded.
 */
export async function signInStatements(c: Context<AppEnv>, db: D1Database) {
  const old = read(c)
  const token = randomToken()
  const tokenHash = await sha256Hex(token)
  const oldHash = old ? await sha256Hex(old) : null
  const now = nowSeconds()
  return {
    token,
    grant: (user: UserRow) => [
      db
        .prepare(
          `INSERT INTO signins (token_hash, user_id, user_updated_at, created_at, expires_at)
           SELECT ?1, id, updated_at, ?3, ?4 FROM users WHERE id = ?2 AND ${stillVerified('?5')}`,
        )
        .bind(tokenHash, user.id, now, now + SIGNIN_TTL, user.password_hash),
      db
        .prepare(
          `DELETE FROM signins WHERE token_hash = ?1
           AND EXISTS (SELECT 1 FROM signins WHERE token_hash = ?2)`,
        )
        .bind(oldHash, tokenHash),
    ],
    commit: () => write(c, token),
  }
}

/** Ends this browser's sign-in, if it is `userId`'s: logging out of an app logs out the browser. */
export async function signOut(c: Context<AppEnv>, userId: string): Promise<void> {
  const token = read(c)
  if (!token) return
  const ended = await c.env.DB.prepare(
    'DELETE FROM signins WHERE token_hash = ?1 AND user_id = ?2 RETURNING user_id',
  )
    .bind(await sha256Hex(token), userId)
    .first()
  if (ended)
    secure(c)
      ? deleteCookie(c, NAME, { path: '/', secure: true, prefix: 'host' })
      : deleteCookie(c, NAME, { path: '/' })
}

/** For the hourly purge. */
export const purgeSignins = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM signins WHERE expires_at <= ?1').bind(now)

/**
 * Signs a user in through an upstream identity provider (src/routes/federation.tsx): the sign-in
 * row is written only if, in that very statement, the identity (issuer, sub) is linked to an
 * enabled user and its provider is enabled and still at that issuer. The row names the provider,
 * so that disabling it ends the sign-in. Statements for the caller's batch; `written` reads the
 * batch's result for the first; `commit` sets the cookie.
 */
export async function federatedSignInStatements(
  c: Context<AppEnv>,
  db: D1Database,
  identity: { issuer: string; subject: string; providerId: string },
) {
  const old = read(c)
  const token = randomToken()
  const tokenHash = await sha256Hex(token)
  const now = nowSeconds()
  return {
    token,
    statements: [
      db
        .prepare(
          `INSERT INTO signins
             (token_hash, user_id, user_updated_at, created_at, expires_at, provider_id)
           SELECT ?1, u.id, u.updated_at, ?2, ?3, p.id
           FROM identities i JOIN users u ON u.id = i.user_id
             JOIN identity_providers p ON p.id = i.provider_id
           WHERE i.issuer = ?4 AND i.subject = ?5 AND i.provider_id = ?6
             AND p.enabled = 1 AND p.issuer = i.issuer AND u.disabled = 0
           RETURNING user_id`,
        )
        .bind(
          tokenHash,
          now,
          now + SIGNIN_TTL,
          identity.issuer,
          identity.subject,
          identity.providerId,
        ),
      db
        .prepare(
          `DELETE FROM signins WHERE token_hash = ?1
           AND EXISTS (SELECT 1 FROM signins WHERE token_hash = ?2)`,
        )
        .bind(old ? await sha256Hex(old) : null, tokenHash),
    ],
    written: (result: D1Result | undefined) =>
      (result?.results[0] as { user_id: string } | undefined)?.user_id ?? null,
    commit: () => write(c, token),
  }
}
