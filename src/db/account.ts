import { hasNoPasswordSql } from '../domain/passwords'
import type { User } from '../domain/user'
import { abortUnless, allRows, type Query, rows } from './query'
import { toUser, type UserRow, userColumns } from './users'

/**
 * The account page's statements (src/account/): the browser sign-in it acts under, the sign-ins
 * and sessions it lists and ends, and the profile. Every batch of the page opens with
 * `signinGuard`, which aborts it unless, as it runs, this browser's sign-in is live for the user
 * the page was shown to (and fresh, for the actions that need it): the page's equivalent of the
 * Bearer check at the head of an API batch (docs/architecture.md, "The batch and its guard").
 */

/**
 * How recent a sign-in must be for the actions that add or remove a way in (a passkey, a linked
 * identity): five minutes, made with the password or a passkey. Older, the page asks for one of
 * them again first (as OpenID Connect's max_age would).
 */
export const FRESH_SECONDS = 300

/** How this browser signed in: `provider` is an upstream identity provider. */
export type SigninMethod = 'password' | 'passkey' | 'provider'

export type AccountSignin = {
  user: User
  /** When the sign-in was made, unix seconds. */
  since: number
  method: SigninMethod
  /** The account has a password of its own (not the dummy of a provider-made account). */
  hasPassword: boolean
  /** The passkey the sign-in was made with, if it was. */
  passkeyId: string | null
}

type SigninRow = UserRow & {
  signed_in_at: number
  provider_id: string | null
  passkey_id: string | null
  no_password: number
}

/** SQL on signins `s` and users `u`: the sign-in is live, its user enabled and unchanged since. */
const LIVE = `s.expires_at > ?2 AND u.disabled = 0 AND u.updated_at = s.user_updated_at`

/** The sign-in behind this browser's cookie (by its SHA-256), if it holds. */
export async function accountSigninOf(
  db: D1Database,
  tokenHash: string,
  now: number,
): Promise<AccountSignin | null> {
  const row = await db
    .prepare(
      `SELECT ${userColumns('u')}, s.created_at AS signed_in_at, s.provider_id, s.passkey_id,
         ${hasNoPasswordSql.replace('password_hash', 'u.password_hash')} AS no_password
       FROM signins s JOIN users u ON u.id = s.user_id
       WHERE s.token_hash = ?1 AND ${LIVE}`,
    )
    .bind(tokenHash, now)
    .first<SigninRow>()
  if (!row) return null
  const method = row.provider_id ? 'provider' : row.passkey_id ? 'passkey' : 'password'
  return {
    user: toUser(row),
    since: row.signed_in_at,
    method,
    hasPassword: row.no_password === 0,
    passkeyId: row.passkey_id,
  }
}

/** The sign-in a form of the page acts under. */
export type Under = {
  /** SHA-256 of this browser's cookie. */
  tokenHash: string
  /** The user the page was shown to. */
  userId: string
  now: number
  /** Also require the sign-in fresh: made by password or passkey at or after this time. */
  freshSince?: number
}

/**
 * The statement heading every batch of the account page: it aborts the batch (abortUnless,
 * ./query.ts) unless, as it runs, the browser's sign-in is live for this user — and, with
 * `freshSince`, was made with a password or a passkey since then. An aggregate, so that a
 * missing sign-in aborts too.
 */
export const signinGuard = (db: D1Database, u: Under) =>
  db
    .prepare(
      `SELECT ${abortUnless(
        `COUNT(*) = 1 AND (?4 IS NULL OR (s.created_at >= ?4 AND s.provider_id IS NULL))`,
        'account sign-in check failed',
      )} AS guard
       FROM signins s JOIN users u ON u.id = s.user_id
       WHERE s.token_hash = ?1 AND ${LIVE} AND s.user_id = ?3`,
    )
    .bind(u.tokenHash, u.now, u.userId, u.freshSince ?? null)

/** A browser signed in as the user (table signins). */
export type BrowserSignin = {
  /** The first 16 hex digits of the cookie's SHA-256: what the page's "Sign out" names. */
  id: string
  current: number
  created_at: number
  expires_at: number
  provider_name: string | null
  passkey_name: string | null
  address_prefix: string | null
  user_agent: string | null
}

/** An app's login (table sessions): tokens that work until it ends. */
export type AppSession = {
  id: string
  client_id: string | null
  client_name: string | null
  first_party: number | null
  scope: string
  created_at: number
  /** The newest refresh token's issue: the login or the app's last refresh. */
  last_used_at: number | null
  address_prefix: string | null
  user_agent: string | null
}

/**
 * The user's live browser sign-ins (this browser's marked `current`) and live sessions, newest
 * first. A session's last use is when its newest refresh token was issued: an app refreshes
 * every ACCESS_TOKEN_TTL while it is used, so that is within that much of its last request,
 * without a write on every Bearer request.
 */
export function devicesOf(
  db: D1Database,
  userId: string,
  tokenHash: string,
  now: number,
): Query<{ signins: BrowserSignin[]; sessions: AppSession[] }> {
  return {
    statements: [
      db
        .prepare(
          `SELECT substr(s.token_hash, 1, 16) AS id, s.token_hash = ?3 AS current, s.created_at,
             s.expires_at, p.name AS provider_name, k.name AS passkey_name, s.address_prefix,
             s.user_agent
           FROM signins s JOIN users u ON u.id = s.user_id
             LEFT JOIN identity_providers p ON p.id = s.provider_id
             LEFT JOIN passkeys k ON k.id = s.passkey_id
           WHERE s.user_id = ?1 AND ${LIVE}
           ORDER BY s.created_at DESC LIMIT 50`,
        )
        .bind(userId, now, tokenHash),
      db
        .prepare(
          `SELECT s.id, s.client_id, c.client_name, c.first_party, s.scope, s.created_at,
             (SELECT MAX(r.created_at) FROM refresh_tokens r WHERE r.session_id = s.id)
               AS last_used_at,
             s.address_prefix, s.user_agent
           FROM sessions s LEFT JOIN clients c ON c.client_id = s.client_id
           WHERE s.user_id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2
           ORDER BY s.created_at DESC LIMIT 100`,
        )
        .bind(userId, now),
    ],
    read: (results) => ({
      signins: rows<BrowserSignin>(results, 0),
      sessions: rows<AppSession>(results, 1),
    }),
  }
}

/** Ends one of the user's sessions at once: its tokens stop at their next request. */
export const sessionEnding = (db: D1Database, userId: string, sessionId: string, now: number) =>
  db
    .prepare(
      `UPDATE sessions SET revoked_at = ?3
       WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL RETURNING id`,
    )
    .bind(userId, sessionId, now)

/** Ends another browser's sign-in (`id` as BrowserSignin's); never this browser's own. */
export const signinEnding = (db: D1Database, userId: string, id: string, currentHash: string) =>
  db
    .prepare(
      `DELETE FROM signins WHERE user_id = ?1 AND substr(token_hash, 1, 16) = ?2
         AND token_hash <> ?3 RETURNING user_id`,
    )
    .bind(userId, id, currentHash)

/** Ends every session and every other browser's sign-in of the user; this browser stays. */
export const othersEnding = (db: D1Database, userId: string, currentHash: string, now: number) => [
  db
    .prepare(
      'UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id',
    )
    .bind(userId, now),
  db
    .prepare('DELETE FROM signins WHERE user_id = ?1 AND token_hash <> ?2 RETURNING user_id')
    .bind(userId, currentHash),
]

/**
 * A new name and email, set by the user (the account page). It stamps `updated_at`, as every
 * account change does, and carries the user's live sign-ins over to the new stamp first: a name
 * is no credential, so it ends no sign-in (a password, a role or a disable does). An email the
 * user typed is marked self-set, so that it never links a provider's sign-in to the account
 * (docs/federation.md); an unchanged one keeps its mark. The last statement returns the user.
 */
export function profileChange(
  db: D1Database,
  userId: string,
  fields: { name: string; email: string },
  updatedAt: string,
): Query<User | null> {
  return {
    statements: [
      db
        .prepare(
          `UPDATE signins SET user_updated_at = ?2 WHERE user_id = ?1
             AND user_updated_at = (SELECT updated_at FROM users WHERE id = ?1)`,
        )
        .bind(userId, updatedAt),
      db
        .prepare(
          `UPDATE users SET name = ?2, email = ?3, updated_at = ?4,
             email_self_set = CASE WHEN email = ?3 THEN email_self_set ELSE ?3 <> '' END
           WHERE id = ?1 RETURNING ${userColumns()}`,
        )
        .bind(userId, fields.name, fields.email, updatedAt),
    ],
    read: (results) => {
      const row = rows<UserRow>(results, 1)[0]
      return row ? toUser(row) : null
    },
  }
}

/** The user's live sessions per client, for the page's "Connected apps". */
export const appsOf = (db: D1Database, userId: string, now: number) =>
  allRows(
    db
      .prepare(
        `SELECT s.client_id, c.client_name, c.first_party, group_concat(s.scope, ' ') AS scopes,
           MIN(s.created_at) AS since
         FROM sessions s JOIN clients c ON c.client_id = s.client_id
         WHERE s.user_id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2
         GROUP BY s.client_id`,
      )
      .bind(userId, now),
    (row: {
      client_id: string
      client_name: string
      first_party: number
      scopes: string
      since: number
    }) => row,
  )
