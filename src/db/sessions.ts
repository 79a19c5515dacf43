import { type UserRow, userColumns, toUser, type User } from './users'

/**
 * Sessions and refresh tokens. A session is one login; its refresh tokens form a chain in which
 * only the newest is unused. Everything that must not race is one statement or one batch
 * (D1 runs a batch as a single transaction).
 */

/** SQL for "session s is live and its user u enabled" at the time bound to parameter `now`. */
const liveSession = (now: string) =>
  `s.revoked_at IS NULL AND s.expires_at > ${now} AND u.disabled = 0`

export type LiveSession = { sessionId: string; scope: string; user: User }

/** Creates a session and its first refresh token in one transaction. */
export async function createSession(
  db: D1Database,
  userId: string,
  scope: string,
  refreshHash: string,
  now: number,
  ttl: number,
): Promise<string> {
  const id = crypto.randomUUID()
  await db.batch([
    db
      .prepare(
        `INSERT INTO sessions (id, user_id, scope, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)`,
      )
      .bind(id, userId, scope, now, now + ttl),
    db
      .prepare(
        'INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)',
      )
      .bind(refreshHash, id, now),
  ])
  return id
}

/**
 * The check behind every Bearer request: the session is live and its user exists and is enabled.
 * One read; returns the user as stored now, since role and scopes may have changed.
 */
export async function findLiveSessionUser(
  db: D1Database,
  sessionId: string,
  userId: string,
  now: number,
): Promise<User | null> {
  const row = await db
    .prepare(
      `SELECT ${userColumns('u')} FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id = ?1 AND s.user_id = ?2 AND ${liveSession('?3')}`,
    )
    .bind(sessionId, userId, now)
    .first<UserRow>()
  return row && toUser(row)
}

export type Rotation =
  | { kind: 'rotated'; session: LiveSession }
  | { kind: 'reused'; sessionId: string; userId: string; username: string }
  | { kind: 'invalid' }

/**
 * Trades a refresh token for its successor. The claim is one conditional UPDATE (used_at IS NULL),
 * so of two concurrent requests with the same token exactly one wins; the successor is inserted in
 * the same transaction only when this request's claim took. Presenting a token that was already
 * used is reuse (RFC 9700 §4.14): the whole session is revoked.
 */
export async function rotateRefreshToken(
  db: D1Database,
  oldHash: string,
  newHash: string,
  now: number,
  narrowTo?: string,
): Promise<Rotation> {
  const claimed = (
    await db.batch<{ session_id: string; scope: string } & UserRow>([
      db
        .prepare(
          `UPDATE refresh_tokens SET used_at = ?2, replaced_by = ?3
         WHERE token_hash = ?1 AND used_at IS NULL AND EXISTS (
           SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.id = refresh_tokens.session_id AND ${liveSession('?2')})`,
        )
        .bind(oldHash, now, newHash),
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
       WHERE id = (SELECT session_id FROM refresh_tokens
                   WHERE token_hash = ?1 AND used_at IS NOT NULL)
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
      `SELECT s.id, s.scope FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
       WHERE r.token_hash = ?1`,
    )
    .bind(tokenHash)
    .first<{ id: string; scope: string }>()

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
