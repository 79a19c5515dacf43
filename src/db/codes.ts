import type { Requester } from '../domain/requester'
import { randomToken, sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { type RedeemedSession, redeemIntoSession } from './sessions'

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
  user_updated_at: string
  /** RFC 8707: the resource the code was issued for (migrations/0008_resources.sql). */
  resource: string | null
}

/**
 * Issues a code for the user signed in in this browser, only while, in the INSERT itself, that
 * sign-in (`signin`, the cookie's value, src/oauth/browser/signin.ts) is live, its user enabled and
 * unchanged since the sign-in, and the client enabled. The code records the user row's stamp, so
 * its exchange holds only while the user is still unchanged (../db/sessions.ts). Null when any
 * of that no longer holds.
 */
export async function issueCode(
  db: D1Database,
  c: {
    clientId: string
    userId: string
    signin: string
    redirectUri: string
    challenge: string
    scope: string
    resource?: string | null
  },
): Promise<string | null> {
  const code = randomToken()
  const now = nowSeconds()
  const inserted = await db
    .prepare(
      `INSERT INTO authorization_codes
         (code_hash, client_id, user_id, redirect_uri, code_challenge, scope, user_updated_at,
          created_at, expires_at, provider_id, resource)
       SELECT ?1, k.client_id, u.id, ?4, ?5, ?6, u.updated_at, ?7, ?8, s.provider_id, ?10
       FROM signins s JOIN users u ON u.id = s.user_id, clients k
       WHERE s.token_hash = ?9 AND s.user_id = ?3 AND s.expires_at > ?7
         AND u.disabled = 0 AND u.updated_at = s.user_updated_at
         AND k.client_id = ?2 AND k.disabled = 0
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
      await sha256Hex(c.signin),
      c.resource ?? null,
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
  | ({ kind: 'redeemed' } & RedeemedSession)
  /** Someone spent it first: the session it was exchanged for has been ended. */
  | { kind: 'reused'; userId: string; username: string | null }
  /** Expired, or the user was disabled or changed, or the client disabled, meanwhile. */
  | { kind: 'invalid' }

/**
 * Spends a code (as read by findCode; `clientId` is the authenticated client) into its session
 * (redeemIntoSession, ./sessions.ts): the claim is one conditional UPDATE (used_at IS NULL, not
 * expired, this client); the session is inserted only if the user is still enabled and unchanged
 * since the sign-in the code was issued under (`codeHash`). A code that was already spent is a
 * replay (RFC 6749 §10.5): the session it gave is ended.
 */
export async function redeemCode(
  db: D1Database,
  r: { code: CodeRow; clientId: string; refreshHash: string; ttl: number; from?: Requester },
): Promise<Redemption> {
  const now = nowSeconds()
  const { code_hash: codeHash } = r.code
  const { clientId } = r
  const { redeemed, claimed } = await redeemIntoSession(
    db,
    (sessionId) =>
      db
        .prepare(
          `UPDATE authorization_codes SET used_at = ?3, session_id = ?4
           WHERE code_hash = ?1 AND client_id = ?2 AND used_at IS NULL AND expires_at > ?3`,
        )
        .bind(codeHash, clientId, now, sessionId),
    {
      userId: r.code.user_id,
      codeHash,
      clientId,
      scope: r.code.scope,
      resource: r.code.resource,
      refreshHash: r.refreshHash,
      now,
      ttl: r.ttl,
      from: r.from,
    },
  )
  if (redeemed) return { kind: 'redeemed', ...redeemed }
  if (claimed) return { kind: 'invalid' }
  const spent = await findCode(db, codeHash)
  if (spent?.used_at == null) return { kind: 'invalid' }
  const ended = await revokeCodeSession(db, codeHash)
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
