import { randomToken, sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { type User, type UserRow, toUser, userColumns } from './users'

/**
 * Authorization codes (RFC 6749 §4.1.2): 256 random bits, stored only as SHA-256, valid for
 * CODE_TTL seconds, bound to the client, redirect URI, PKCE challenge, scope and user.
 */
export const CODE_TTL = 60

export type CodeRow = {
  code_hash: string
  client_id: string
  user_id: string
  redirect_uri: string
  code_challenge: string
  scope: string
  expires_at: number
  used_at: number | null
  session_id: string | null
}

/**
 * Issues a code, only while the user and the client are both enabled (checked in the INSERT).
 * Null when either is not.
 */
export async function issueCode(
  db: D1Database,
  c: { clientId: string; userId: string; redirectUri: string; challenge: string; scope: string },
): Promise<string | null> {
  const code = randomToken()
  const now = nowSeconds()
  const inserted = await db
    .prepare(
      `INSERT INTO authorization_codes
         (code_hash, client_id, user_id, redirect_uri, code_challenge, scope,
          created_at, expires_at)
       SELECT ?1, k.client_id, u.id, ?4, ?5, ?6, ?7, ?8 FROM users u, clients k
       WHERE u.id = ?3 AND u.disabled = 0 AND k.client_id = ?2 AND k.disabled = 0
       RETURNING code_hash`,
    )
    .bind(
      await sha256Hex(code),
      c.clientId,
      c.userId,
      c.redirectUri,
      c.challenge,
      c.scope,
      now,
      now + CODE_TTL,
    )
    .first()
  return inserted ? code : null
}

export const findCode = (db: D1Database, codeHash: string) =>
  db
    .prepare('SELECT * FROM authorization_codes WHERE code_hash = ?1')
    .bind(codeHash)
    .first<CodeRow>()

export type Redemption =
  | { kind: 'redeemed'; user: User; sessionId: string; scope: string }
  /** Someone spent it first: the session it was exchanged for has been ended. */
  | { kind: 'reused'; userId: string; username: string | null }
  /** Expired, or the user or client was disabled meanwhile. */
  | { kind: 'invalid' }

/**
 * Spends a code and creates its session in one transaction. The claim is one conditional UPDATE
 * (used_at IS NULL, not expired, this client), which records the new session's id; the session
 * is inserted only if this request's claim took and the user and client are still enabled. A code
 * that was already spent is a replay (RFC 6749 §10.5): the session it gave is ended.
 */
export async function redeemCode(
  db: D1Database,
  r: { codeHash: string; clientId: string; refreshHash: string; ttl: number },
): Promise<Redemption> {
  const now = nowSeconds()
  const sessionId = crypto.randomUUID()
  const results = await db.batch<UserRow & { scope: string }>([
    db
      .prepare(
        `UPDATE authorization_codes SET used_at = ?3, session_id = ?4
         WHERE code_hash = ?1 AND client_id = ?2 AND used_at IS NULL AND expires_at > ?3`,
      )
      .bind(r.codeHash, r.clientId, now, sessionId),
    db
      .prepare(
        `INSERT INTO sessions (id, user_id, scope, created_at, expires_at, client_id)
         SELECT ?2, a.user_id, a.scope, ?3, ?3 + ?4, a.client_id
         FROM authorization_codes a
         JOIN users u ON u.id = a.user_id JOIN clients k ON k.client_id = a.client_id
         WHERE a.code_hash = ?1 AND a.session_id = ?2 AND u.disabled = 0 AND k.disabled = 0`,
      )
      .bind(r.codeHash, sessionId, now, r.ttl),
    db
      .prepare(
        `INSERT INTO refresh_tokens (token_hash, session_id, created_at)
         SELECT ?1, id, ?3 FROM sessions WHERE id = ?2`,
      )
      .bind(r.refreshHash, sessionId, now),
    db
      .prepare(
        `SELECT s.scope, ${userColumns('u')} FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = ?1`,
      )
      .bind(sessionId),
  ])
  const row = results[3]?.results[0]
  if (row) return { kind: 'redeemed', user: toUser(row), sessionId, scope: row.scope }
  if ((results[0]?.meta.changes ?? 0) > 0) return { kind: 'invalid' }
  const spent = await findCode(db, r.codeHash)
  if (spent?.used_at == null) return { kind: 'invalid' }
  const ended = await revokeCodeSession(db, r.codeHash)
  return { kind: 'reused', userId: spent.user_id, username: ended?.username ?? null }
}

/** Ends the session a spent code was exchanged for (RFC 6749 §10.5); its user, if one ended. */
export const revokeCodeSession = (db: D1Database, codeHash: string) =>
  db
    .prepare(
      `UPDATE sessions SET revoked_at = ?2
       WHERE id = (SELECT session_id FROM authorization_codes WHERE code_hash = ?1
                   AND used_at IS NOT NULL)
         AND revoked_at IS NULL
       RETURNING user_id,
         (SELECT username FROM users WHERE users.id = sessions.user_id) AS username`,
    )
    .bind(codeHash, nowSeconds())
    .first<{ user_id: string; username: string }>()

/** For the hourly purge: codes a day past their lifetime. Kept that long to recognise replays. */
export const purgeCodes = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM authorization_codes WHERE expires_at <= ?1').bind(now - 86_400)
