import type { User } from '../domain/user'
import { stillVerified, toUser, type UserRow, userColumns } from './users'

/**
 * Browser sign-ins (table signins, docs/data.md): what lets a browser skip the password at the
 * authorization endpoint until the sign-in expires, its user is disabled or changed, or it is
 * ended. Kept by the SHA-256 of the cookie's value only (src/oauth/browser/signin.ts).
 */

/**
 * The user of a live sign-in, if its user is enabled and unchanged since it was made, and when it
 * was made (unix seconds).
 */
export async function signinOf(
  db: D1Database,
  tokenHash: string,
  now: number,
): Promise<{ user: User; since: number } | null> {
  const row = await db
    .prepare(
      `SELECT ${userColumns('u')}, s.created_at AS signed_in_at
       FROM signins s JOIN users u ON u.id = s.user_id
       WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0
         AND u.updated_at = s.user_updated_at`,
    )
    .bind(tokenHash, now)
    .first<UserRow & { signed_in_at: number }>()
  return row && { user: toUser(row), since: row.signed_in_at }
}

/** The binds of where a sign-in came from. */
export const where = (s: NewSignin) => [s.addressPrefix, s.userAgent] as const

/** Replaces the browser's earlier sign-in (`oldHash`) once the new one (`newHash`) was written. */
export const replaceEarlier = (db: D1Database, oldHash: string | null, newHash: string) =>
  db
    .prepare(
      `DELETE FROM signins WHERE token_hash = ?1
       AND EXISTS (SELECT 1 FROM signins WHERE token_hash = ?2)`,
    )
    .bind(oldHash, newHash)

/** A new sign-in's row: its cookie's hash, the one it replaces, its times, where it came from. */
export type NewSignin = {
  tokenHash: string
  oldHash: string | null
  now: number
  expiresAt: number
  /** For the account page: the client's network (`addressPrefix`) and user agent. */
  addressPrefix: string | null
  userAgent: string | null
}

/**
 * A sign-in after a password check, written only if, in that very statement, the user is enabled
 * and still holds the verified hash; it records the row's updated_at from the same statement.
 */
export const passwordSigninStatements = (db: D1Database, s: NewSignin, user: UserRow) => [
  db
    .prepare(
      `INSERT INTO signins (token_hash, user_id, user_updated_at, created_at, expires_at,
         address_prefix, user_agent)
       SELECT ?1, id, updated_at, ?3, ?4, ?6, ?7
       FROM users WHERE id = ?2 AND ${stillVerified('?5')}`,
    )
    .bind(s.tokenHash, user.id, s.now, s.expiresAt, user.password_hash, ...where(s)),
  replaceEarlier(db, s.oldHash, s.tokenHash),
]

/**
 * A sign-in through an upstream identity provider, written only if, in that very statement, the
 * identity (issuer, sub) is linked to an enabled user and its provider is enabled and still at
 * that issuer. The row names the provider, so that disabling it ends the sign-in. The first
 * statement returns the user_id it signed in.
 */
export const federatedSigninStatements = (
  db: D1Database,
  s: NewSignin,
  identity: { issuer: string; subject: string; providerId: string },
) => [
  db
    .prepare(
      `INSERT INTO signins (token_hash, user_id, user_updated_at, created_at, expires_at,
         provider_id, address_prefix, user_agent)
       SELECT ?1, u.id, u.updated_at, ?2, ?3, p.id, ?7, ?8
       FROM identities i JOIN users u ON u.id = i.user_id
         JOIN identity_providers p ON p.id = i.provider_id
       WHERE i.issuer = ?4 AND i.subject = ?5 AND i.provider_id = ?6
         AND p.enabled = 1 AND p.issuer = i.issuer AND u.disabled = 0
       RETURNING user_id`,
    )
    .bind(
      s.tokenHash,
      s.now,
      s.expiresAt,
      identity.issuer,
      identity.subject,
      identity.providerId,
      ...where(s),
    ),
  replaceEarlier(db, s.oldHash, s.tokenHash),
]

/** Ends the sign-in `tokenHash` if it is `userId`'s; true when there was one. */
export const endSignin = async (db: D1Database, tokenHash: string, userId: string) =>
  (await db
    .prepare('DELETE FROM signins WHERE token_hash = ?1 AND user_id = ?2 RETURNING user_id')
    .bind(tokenHash, userId)
    .first()) !== null

/** For the hourly purge. */
export const purgeSignins = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM signins WHERE expires_at <= ?1').bind(now)
