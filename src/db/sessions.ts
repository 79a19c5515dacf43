import { addressPrefix, type Requester } from '../domain/requester'
import { parseScopes, SCOPES, type Scope } from '../domain/scopes'
import type { Standing } from '../domain/standing'
import type { User } from '../domain/user'
import { abortUnless } from './query'
import { stillVerified, toUser, type UserRow, userColumns } from './users'

/**
 * Sessions and refresh tokens. A session is one login; its refresh tokens form a chain in which
 * only the newest is unused. Everything that must not race is one statement or one batch
 * (D1 runs a batch as a single transaction).
 */

/** SQL for "session s is live and its user u enabled" at the time bound to parameter `now`. */
const liveSession = (now: string) =>
  `s.revoked_at IS NULL AND s.expires_at > ${now} AND u.disabled = 0`

export type LiveSession = {
  sessionId: string
  scope: string
  user: User
  /** RFC 8707: the resource the session was granted for, null for none. */
  resource: string | null
}

/** A live session as the Bearer check reads it: also whether a third-party app holds it. */
export type BearerSession = Omit<LiveSession, 'resource'> & { thirdPartyApp: boolean }

/** What a new session records, and the credential state it may only be created under. */
export type NewSession = {
  userId: string
  scope: string
  /** SHA-256 of the first refresh token. */
  refreshHash: string
  now: number
  /** The session's absolute lifetime in seconds (REFRESH_TOKEN_TTL). */
  ttl: number
  /** The client it is issued to, which must be enabled; null or absent for none. */
  clientId?: string | null
  /** RFC 8707: the resource it is granted for (migrations/0008_resources.sql); none if absent. */
  resource?: string | null
  /** Who asked for it, for the account page: its network and user agent (never the address). */
  from?: Requester
} & (
  | {
      /** The password hash this request verified: no session unless the user still holds it. */
      verifiedHash: string
      codeHash?: never
      deviceCodeHash?: never
    }
  | {
      /**
       * The device code this batch redeems for it (./device-codes.ts): claimed for this very
       * session, by this client, for this user and scope, and the user row unchanged since the
       * user approved it.
       */
      deviceCodeHash: string
      verifiedHash?: never
      codeHash?: never
    }
  | {
      /**
       * The authorization code this batch spends for it (./codes.ts), when no password was
       * checked in this request: the code must be claimed for this very session, by this
       * client, for this user and scope, and the user row unchanged since the sign-in the code
       * was issued under.
       */
      codeHash: string
      verifiedHash?: never
      deviceCodeHash?: never
    }
)

/**
 * SQL conditions on `users` (with ?1 the session id, ?3 its scope, ?6 its client) for the
 * credential state bound to ?7 that a grant relies on, per the NewSession's kind.
 */
const stillHolds = (s: NewSession) => {
  if (s.codeHash !== undefined)
    return `disabled = 0 AND EXISTS (SELECT 1 FROM authorization_codes a
         WHERE a.code_hash = ?7 AND a.session_id = ?1 AND a.user_id = users.id
           AND a.client_id = ?6 AND a.scope = ?3 AND a.user_updated_at = users.updated_at)`
  if (s.deviceCodeHash !== undefined)
    return `disabled = 0 AND EXISTS (SELECT 1 FROM device_codes d
         WHERE d.device_code_hash = ?7 AND d.session_id = ?1 AND d.user_id = users.id
           AND d.client_id = ?6 AND d.granted_scope = ?3 AND d.user_updated_at = users.updated_at)`
  return stillVerified('?7')
}

/**
 * The upstream identity provider behind the sign-in a code was issued under (docs/federation.md),
 * so that
 * disabling the provider ends the session; NULL for a password.
 */
const providerOf = (s: NewSession) =>
  s.codeHash === undefined
    ? 'NULL'
    : '(SELECT a.provider_id FROM authorization_codes a WHERE a.code_hash = ?7)'

/**
 * The statements that create a session and its first refresh token, to run in one batch (with
 * checkPassword's success writes, src/auth/login.ts, or with a code's claim, ./codes.ts). The
 * session row is inserted only if, in that very statement, the user exists, is enabled and still
 * holds the state the grant verified (`verifiedHash`, or the sign-in behind `codeHash`, or the
 * approval behind `deviceCodeHash`), and its
 * client, if any, is enabled; the refresh token only if the session row was. So a grant that
 * raced a password change, an admin reset, a disable, a delete or a client's disabling creates
 * nothing. `created` tells, from the batch's results (counted from the session's statement).
 */
export function sessionStatements(db: D1Database, s: NewSession) {
  const id = crypto.randomUUID()
  const clientId = s.clientId ?? null
  const statements = [
    db
      .prepare(
        `INSERT INTO sessions (id, user_id, scope, created_at, expires_at, client_id, provider_id,
           resource, address_prefix, user_agent)
         SELECT ?1, id, ?3, ?4, ?5, ?6, ${providerOf(s)}, ?8, ?9, ?10
         FROM users WHERE id = ?2 AND ${stillHolds(s)}
           AND (?6 IS NULL OR EXISTS (
             SELECT 1 FROM clients k WHERE k.client_id = ?6 AND k.disabled = 0))`,
      )
      .bind(
        id,
        s.userId,
        s.scope,
        s.now,
        s.now + s.ttl,
        clientId,
        s.verifiedHash ?? s.codeHash ?? s.deviceCodeHash,
        s.resource ?? null,
        addressPrefix(s.from?.address ?? null),
        s.from?.userAgent ?? null,
      ),
    db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, session_id, created_at)
         SELECT ?1, id, ?3 FROM sessions WHERE id = ?2`,
      )
      .bind(s.refreshHash, id, s.now),
  ]
  return {
    id,
    statements,
    created: (results: D1Result[]) => (results[0]?.meta.changes ?? 0) === 1,
  }
}

/** A session a one-time grant was spent into: its user and scope as the batch read them. */
export type RedeemedSession = { user: User; sessionId: string; scope: string }

/**
 * Spends a one-time grant (an authorization code, an approved device code) into a new session,
 * in one transaction: `claim(sessionId)` is the grant's conditional UPDATE (unused, unexpired,
 * this client), which records the session's id; the session is inserted only if, in that batch,
 * the claim took and what the grant verified still holds (sessionStatements); the session's
 * scope and user are read back in the same batch. Of any number of concurrent redemptions
 * exactly one gets the session. `claimed` tells whether this claim took, for telling a grant
 * spent by someone else from one whose user or client changed.
 */
export async function redeemIntoSession(
  db: D1Database,
  claim: (sessionId: string) => D1PreparedStatement,
  s: NewSession,
): Promise<{ redeemed: RedeemedSession | null; claimed: boolean }> {
  const session = sessionStatements(db, s)
  const results = await db.batch<UserRow & { scope: string }>([
    claim(session.id),
    ...session.statements,
    db
      .prepare(
        `SELECT s.scope, ${userColumns('u')} FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ?1`,
      )
      .bind(session.id),
  ])
  const row = results.at(-1)?.results[0]
  const redeemed =
    session.created(results.slice(1)) && row
      ? { user: toUser(row), sessionId: session.id, scope: row.scope }
      : null
  return { redeemed, claimed: (results[0]?.meta.changes ?? 0) > 0 }
}

/** Creates a session in one transaction; its id, or null when the verified state is gone. */
export async function createSession(db: D1Database, s: NewSession): Promise<string | null> {
  const { id, statements, created } = sessionStatements(db, s)
  return created(await db.batch(statements)) ? id : null
}

/**
 * The check behind every Bearer request: the session is live and its user exists and is enabled.
 * One read; returns the user as stored now, since role and scopes may have changed, and the
 * session's scope, which bounds the token's.
 */
export async function findLiveSession(
  db: D1Database,
  sessionId: string,
  userId: string,
  now: number,
): Promise<BearerSession | null> {
  // The client comes in the same read (a primary-key lookup), so telling a third-party app from
  // the user costs no extra round trip, and demoting a client takes effect on its next request.
  const row = await db.prepare(BEARER_ROW).bind(sessionId, userId, now).first<BearerRow>()
  return toBearerSession(sessionId, row ?? undefined)
}

const BEARER_ROW = `SELECT s.scope AS session_scope,
     s.client_id IS NOT NULL AND COALESCE(c.first_party, 0) = 0 AS third_party, ${userColumns('u')}
   FROM sessions s JOIN users u ON u.id = s.user_id
     LEFT JOIN clients c ON c.client_id = s.client_id
   WHERE s.id = ?1 AND s.user_id = ?2 AND ${liveSession('?3')}`

/** SQL: the scope `scope` is one of the token's (bound as ?n), its session's and its user's. */
const holds = (scope: Scope, tokenHas: number) =>
  `(?${tokenHas} = 1 AND instr(' ' || s.scope || ' ', ' ${scope} ') > 0
    AND instr(' ' || u.scopes || ' ', ' ${scope} ') > 0)`

/**
 * The check that opens every Bearer batch: the session's row, as BEARER_ROW, in a statement that
 * aborts the batch (abortUnless, ./query.ts) unless, as it
 * runs, the session is live, its user enabled and the request's standing the presumed one. D1
 * runs a batch as one transaction and an error rolls it back, so no statement after it writes
 * anything for a dead session or for a standing that changed since it was presumed: every write
 * of every route is covered without its SQL repeating the check. An aggregate without GROUP BY
 * gives its one row even when nothing matches (COUNT(*) = 0, the other columns NULL), which is
 * what lets the same statement raise for a missing session; at most one row matches (s.id is the
 * key). The argument of json() depends on the row, so SQLite cannot evaluate it up front.
 */
const BEARER_CHECK = `SELECT ${abortUnless(
  `COUNT(*) = 1 AND u.role = ?4
       AND (s.client_id IS NOT NULL AND COALESCE(c.first_party, 0) = 0) = ?5
       AND ${SCOPES.map((scope, i) => `${holds(scope, 6 + 2 * i)} = ?${7 + 2 * i}`).join(' AND ')}`,
  'bearer session check failed',
)} AS guard,
     s.scope AS session_scope,
     s.client_id IS NOT NULL AND COALESCE(c.first_party, 0) = 0 AS third_party, ${userColumns('u')}
   FROM sessions s JOIN users u ON u.id = s.user_id
     LEFT JOIN clients c ON c.client_id = s.client_id
   WHERE s.id = ?1 AND s.user_id = ?2 AND ${liveSession('?3')}`

type BearerRow = UserRow & { session_scope: string; third_party: number }

/** The token's claims the Bearer check binds. */
export type BearerClaims = { sid: string; sub: string; scope: string }

/**
 * The statement that opens every Bearer batch (BEARER_CHECK) for `presumed`; `read` turns its
 * result into the session.
 */
export function bearerCheck(db: D1Database, claims: BearerClaims, presumed: Standing, now: number) {
  const token = parseScopes(claims.scope)
  const scopeBinds = SCOPES.flatMap((s) => [
    token.includes(s) ? 1 : 0,
    presumed.scopes.includes(s) ? 1 : 0,
  ])
  const thirdParty = presumed.thirdPartyApp ? 1 : 0
  return {
    statements: [
      db
        .prepare(BEARER_CHECK)
        .bind(claims.sid, claims.sub, now, presumed.role, thirdParty, ...scopeBinds),
    ],
    read: (result: D1Result | undefined) =>
      toBearerSession(claims.sid, result?.results[0] as BearerRow | undefined),
  }
}

const toBearerSession = (sessionId: string, row: BearerRow | undefined): BearerSession | null =>
  row
    ? {
        sessionId,
        scope: row.session_scope,
        user: toUser(row),
        thirdPartyApp: row.third_party === 1,
      }
    : null

export type Rotation =
  | { kind: 'rotated'; session: LiveSession }
  | { kind: 'reused'; sessionId: string; userId: string; username: string }
  | { kind: 'invalid' }
  /** A retry within the window (RetryWindow): the response stored when it was rotated. */
  | { kind: 'retried'; sealed: string; usedAt: number; userId: string; username: string }

/**
 * REFRESH_RETRY_SECONDS (src/grants/refresh-token.ts): for how long a rotated token's response is
 * given again, and this rotation's response, sealed under the old token (null: none to keep).
 */
export type RetryWindow = { seconds: number; sealed: string | null }

/**
 * Trades a refresh token for its successor. The claim is one conditional UPDATE (used_at IS NULL),
 * so of two concurrent requests with the same token exactly one wins; the successor is inserted in
 * the same transaction only when this request's claim took. Presenting a token that was already
 * used is reuse (RFC 9700 §4.14): the whole session is revoked. A token works only for the
 * client its session was issued to (`clientId`, null for none), while that client is enabled.
 *
 * With a `retry` window, the claim also stores the sealed response on the old token's row, and a
 * token presented again within the window is answered with it instead (retryOrRevoke).
 */
export async function rotateRefreshToken(
  db: D1Database,
  oldHash: string,
  newHash: string,
  now: number,
  narrowTo?: string,
  clientId: string | null = null,
  retry?: RetryWindow,
): Promise<Rotation> {
  const claimed = (
    await db.batch<{ session_id: string; scope: string; resource: string | null } & UserRow>([
      db
        .prepare(
          `UPDATE refresh_tokens SET used_at = ?2, replaced_by = ?3, retry_response = ?5
         WHERE token_hash = ?1 AND used_at IS NULL AND EXISTS (
           SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = refresh_tokens.session_id AND ${liveSession('?2')} AND s.client_id IS ?4
             AND (?4 IS NULL OR EXISTS (
               SELECT 1 FROM clients k WHERE k.client_id = ?4 AND k.disabled = 0)))`,
        )
        .bind(oldHash, now, newHash, clientId, retry?.sealed ?? null),
      db
        .prepare(
          `INSERT INTO refresh_tokens (token_hash, session_id, created_at)
         SELECT ?3, session_id, ?2 FROM refresh_tokens WHERE token_hash = ?1 AND replaced_by = ?3`,
        )
        .bind(oldHash, now, newHash),
      // A narrower scope is the session's from now on: a later refresh cannot widen it back.
      ...(narrowTo === undefined
        ? []
        : [
            db
              .prepare(
                `UPDATE sessions SET scope = ?2
                 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = ?1)`,
              )
              .bind(newHash, narrowTo),
          ]),
      db
        .prepare(
          `SELECT s.id AS session_id, s.scope, s.resource, ${userColumns('u')}
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
         JOIN users u ON u.id = s.user_id
         WHERE r.token_hash = ?1`,
        )
        .bind(newHash),
    ])
  ).at(-1)
  const row = claimed?.results[0]
  if (row)
    return {
      kind: 'rotated',
      session: {
        sessionId: row.session_id,
        scope: row.scope,
        user: toUser(row),
        resource: row.resource,
      },
    }
  if (retry && retry.seconds > 0) return retryOrRevoke(db, oldHash, now, clientId, retry.seconds)

  const reused = await db
    .prepare(
      `UPDATE sessions SET revoked_at = ?2
       WHERE id = (
           SELECT session_id FROM refresh_tokens WHERE token_hash = ?1 AND used_at IS NOT NULL)
         AND revoked_at IS NULL
       RETURNING id, user_id,
         (SELECT username FROM users WHERE users.id = sessions.user_id) AS username`,
    )
    .bind(oldHash, now)
    .first<{ id: string; user_id: string; username: string }>()
  return reused
    ? { kind: 'reused', sessionId: reused.id, userId: reused.user_id, username: reused.username }
    : { kind: 'invalid' }
}

/**
 * SQL: refresh token `r` (its hash bound as ?1) may be answered again at ?2 (now): it was rotated
 * less than ?3 seconds ago with a response kept, its successor is still unused, its session is
 * live and its user enabled, and it is presented by the client the session was issued to (?4,
 * NULL for none), still enabled. All of it as the statement runs.
 */
const RETRYABLE = `r.token_hash = ?1 AND r.retry_response IS NOT NULL AND r.used_at + ?3 > ?2
  AND EXISTS (SELECT 1 FROM refresh_tokens n WHERE n.token_hash = r.replaced_by
              AND n.used_at IS NULL)
  AND EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = r.session_id AND ${liveSession('?2')} AND s.client_id IS ?4)
  AND (?4 IS NULL OR EXISTS (SELECT 1 FROM clients k WHERE k.client_id = ?4 AND k.disabled = 0))`

/**
 * A used refresh token presented again while REFRESH_RETRY_SECONDS is on, in one transaction:
 * within the window, by the same client, before its successor was used, it is a retry and gets
 * the response kept on its row (nothing is written: no second successor, so the chain never
 * branches); otherwise it is reuse as without the window, and the session ends (RFC 9700 §4.14).
 * The read and the revocation carry the same condition, so exactly one of them happens.
 */
async function retryOrRevoke(
  db: D1Database,
  oldHash: string,
  now: number,
  clientId: string | null,
  seconds: number,
): Promise<Rotation> {
  const [kept, revoked] = await db.batch([
    db
      .prepare(
        `SELECT r.retry_response AS sealed, r.used_at, u.id AS user_id, u.username
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
         JOIN users u ON u.id = s.user_id WHERE ${RETRYABLE}`,
      )
      .bind(oldHash, now, seconds, clientId),
    db
      .prepare(
        `UPDATE sessions SET revoked_at = ?2
         WHERE id = (
             SELECT session_id FROM refresh_tokens WHERE token_hash = ?1 AND used_at IS NOT NULL)
           AND revoked_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE ${RETRYABLE})
         RETURNING id, user_id,
           (SELECT username FROM users WHERE users.id = sessions.user_id) AS username`,
      )
      .bind(oldHash, now, seconds, clientId),
  ])
  const retry = kept?.results[0] as
    | { sealed: string; used_at: number; user_id: string; username: string }
    | undefined
  if (retry)
    return {
      kind: 'retried',
      sealed: retry.sealed,
      usedAt: retry.used_at,
      userId: retry.user_id,
      username: retry.username,
    }
  const ended = revoked?.results[0] as { id: string; user_id: string; username: string } | undefined
  return ended
    ? { kind: 'reused', sessionId: ended.id, userId: ended.user_id, username: ended.username }
    : { kind: 'invalid' }
}

/**
 * For the hourly purge: the responses kept for retries once their window is over, so that a
 * rotated token found later (in a log, a backup) together with a copy of the database opens
 * nothing. Served by a partial index of the rows that have one.
 */
export const purgeRetryResponses = (db: D1Database, now: number, seconds: number) =>
  db
    .prepare(
      `UPDATE refresh_tokens SET retry_response = NULL
       WHERE retry_response IS NOT NULL AND used_at <= ?1`,
    )
    .bind(now - seconds)

/** Revokes one session; returns its user, or null when there was no live session by that id. */
export const revokeSession = (db: D1Database, sessionId: string, now: number) =>
  db
    .prepare(
      `UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL
       RETURNING user_id,
         (SELECT username FROM users WHERE users.id = sessions.user_id) AS username`,
    )
    .bind(sessionId, now)
    .first<{ user_id: string; username: string }>()

/** The session a refresh token (used or not) belongs to, with the scope it grants. */
export const sessionOfRefreshToken = (db: D1Database, tokenHash: string) =>
  db
    .prepare(
      `SELECT s.id, s.scope, s.client_id, s.resource FROM refresh_tokens r
       JOIN sessions s ON s.id = r.session_id
       WHERE r.token_hash = ?1`,
    )
    .bind(tokenHash)
    .first<{ id: string; scope: string; client_id: string | null; resource: string | null }>()

/**
 * A refresh token that would work now (unused, its session live, its user enabled), for
 * introspection (RFC 7662): when it was issued, its session and its user as stored now.
 */
export async function findLiveRefreshToken(db: D1Database, tokenHash: string, now: number) {
  const row = await db
    .prepare(
      `SELECT r.created_at AS issued_at, s.id AS session_id, s.scope AS session_scope,
         s.client_id AS session_client, s.expires_at AS session_expires,
         s.resource AS session_resource, ${userColumns('u')}
       FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
       JOIN users u ON u.id = s.user_id
       WHERE r.token_hash = ?1 AND r.used_at IS NULL AND ${liveSession('?2')}`,
    )
    .bind(tokenHash, now)
    .first<
      UserRow & {
        issued_at: number
        session_id: string
        session_scope: string
        session_client: string | null
        session_expires: number
        session_resource: string | null
      }
    >()
  return (
    row && {
      issuedAt: row.issued_at,
      expiresAt: row.session_expires,
      sessionId: row.session_id,
      scope: row.session_scope,
      clientId: row.session_client,
      resource: row.session_resource,
      user: toUser(row),
    }
  )
}

/**
 * Ends every session of a user: a statement to batch with the change that requires it. With
 * `ifUpdatedAt`, only when the user row carries that stamp, i.e. when a conditional update earlier
 * in the same batch took effect.
 */
export const revokeUserSessions = (
  db: D1Database,
  userId: string,
  now: number,
  ifUpdatedAt?: string,
) =>
  db
    .prepare(
      `UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL
       AND (?3 IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = ?1 AND updated_at = ?3))`,
    )
    .bind(userId, now, ifUpdatedAt ?? null)

/**
 * Deletes what can no longer matter: sessions past their absolute lifetime or revoked (their
 * refresh tokens go with them by cascade; a revoked session refuses its tokens either way).
 * Two statements, each served by its index; SQLite would answer their OR with a full scan.
 */
export const purgeSessions = (db: D1Database, now: number) => [
  db.prepare('DELETE FROM sessions WHERE expires_at <= ?1').bind(now),
  db.prepare('DELETE FROM sessions WHERE revoked_at IS NOT NULL'),
]
