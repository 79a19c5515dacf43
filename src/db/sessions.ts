import { addressPrefix, type Requester } from '../domain/requester'
import { parseScopes, SCOPES, type Scope } from '../domain/scopes'
import type { Standing } from '../domain/standing'
import type { User } from '../domain/user'
import { stillVerified, type UserRow, userColumns, toUser } from './users'
import { abortUnless } from './query'

/**
 * Sessions and refresh tokens. A session is one login; its refresh tokens form a chain in which
 * only the newest is unused. Everything that must not race is one statement or one batch
 * (D1 runs a batch as a single transaction).
 */

/** SQL for "session s is live and its user u enabled" at the time bound to parameter `now`. */
const liveSession = (now: string) =>
  `s.revoked_at IS NULL AND s.expires_at > ${now} AND u.disabled = 0`

export type LiveSession = { sessionId: string; scope: string; user: User }

/** A live session as the Bearer check reads it: also whether a third-party app holds it. */
export type BearerSession = LiveSession & { thirdPartyApp: boolean }

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
           address_prefix, user_agent)
         SELECT ?1, id, ?3, ?4, ?5, ?6, ${providerOf(s)}, ?8, ?9
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

/**
 * Trades a refresh token for its successor. The claim is one conditional UPDATE (used_at IS NULL),
 * so of two concurrent requests with the same token exactly one wins; the successor is inserted in
 * the same transaction only when this request's claim took. Presenting a token that was already
 * used is reuse (RFC 9700 §4.14): the whole session is revoked. A token works only for the
 * client its session was issued to (`clientId`, null for none), while that client is enabled.
 */
export async function rotateRefreshToken(
  db: D1Database,
  oldHash: string,
  newHash: string,
  now: number,
  narrowTo?: string,
  clientId: string | null = null,
): Promise<Rotation> {
  const claimed = (
    await db.batch<{ session_id: string; scope: string } & UserRow>([
      db
        .prepare(
          `UPDATE refresh_tokens SET used_at = ?2, replaced_by = ?3
         WHERE token_hash = ?1 AND used_at IS NULL AND EXISTS (
           SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = refresh_tokens.session_id AND ${liveSession('?2')} AND s.client_id IS ?4
             AND (?4 IS NULL OR EXISTS (
               SELECT 1 FROM clients k WHERE k.client_id = ?4 AND k.disabled = 0)))`,
        )
        .bind(oldHash, now, newHash, clientId),
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
          `SELECT s.id AS session_id, s.scope, ${userColumns('u')}
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
      session: { sessionId: row.session_id, scope: row.scope, user: toUser(row) },
    }

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
      `SELECT s.id, s.scope, s.client_id FROM refresh_tokens r
       JOIN sessions s ON s.id = r.session_id
       WHERE r.token_hash = ?1`,
    )
    .bind(tokenHash)
    .first<{ id: string; scope: string; client_id: string | null }>()

/**
 * A refresh token that would work now (unused, its session live, its user enabled), for
 * introspection (RFC 7662): when it was issued, its session and its user as stored now.
 */
export async function findLiveRefreshToken(db: D1Database, tokenHash: string, now: number) {
  const row = await db
    .prepare(
      `SELECT r.created_at AS issued_at, s.id AS session_id, s.scope AS session_scope,
         s.client_id AS session_client, s.expires_at AS session_expires, ${userColumns('u')}
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
      }
    >()
  return (
    row && {
      issuedAt: row.issued_at,
      expiresAt: row.session_expires,
      sessionId: row.session_id,
      scope: row.session_scope,
      clientId: row.session_client,
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
