import { MACHINE_SCOPES, type MachineScope, narrowMachineScopes } from '../domain/scopes'
import { type Query, rows } from './query'

/**
 * A client's own access tokens (client credentials): no session row stands behind them, so the
 * client's row does. A token is live while its client exists, is enabled, is confidential, is
 * still registered for client_credentials, has not revoked that token (by jti), and has not been
 * disabled, had its secret rotated or lost the grant since the token was issued: its `iat` is at
 * least the client's `tokens_valid_after` (./clients.ts), so re-enabling the client or giving
 * the grant back brings none of its old tokens back.
 */

/**
 * SQL conditions on client `k` (bound as ?1) under which its token (jti bound as ?2, iat as ?3)
 * is live.
 */
const LIVE_CLIENT = `k.client_id = ?1 AND k.disabled = 0 AND k.client_type = 'confidential'
     AND EXISTS (SELECT 1 FROM json_each(k.grant_types) WHERE value = 'client_credentials')
     AND NOT EXISTS (SELECT 1 FROM revoked_client_tokens r WHERE r.jti = ?2)
     AND k.tokens_valid_after <= ?3`

/**
 * A client's token read alone: the client's registered scope today, or null when the token is
 * dead. The fallback of the Bearer batch (src/auth/middleware.ts), as findLiveSession is a user's.
 */
export const liveClientScope = (db: D1Database, clientId: string, jti: string, iat: number) =>
  db
    .prepare(`SELECT k.scope FROM clients k WHERE ${LIVE_CLIENT}`)
    .bind(clientId, jti, iat)
    .first<{ scope: string }>()
    .then((row) => row?.scope ?? null)

/** SQL: machine scope `scope` is the token's (bound as ?n) and still registered to the client. */
const covers = (scope: MachineScope, tokenHas: number) =>
  `(?${tokenHas} = 1 AND instr(' ' || k.scope || ' ', ' ${scope} ') > 0)`

/**
 * The check that opens the Bearer batch of a client's own token, the twin of BEARER_CHECK
 * (./sessions.ts): an aggregate that raises an SQL error (json() of a string that is not JSON)
 * unless, as it runs, the token is live (LIVE_CLIENT) and the machine scopes it may use (the
 * token's that the client is still registered for) are the presumed ones. D1 rolls the whole
 * batch back on the error, so nothing after it writes or reads for a disabled, deleted or
 * re-registered client or a revoked token. COUNT(*) gives the one row even when nothing matches.
 */
const CLIENT_TOKEN_CHECK = `SELECT json(CASE WHEN COUNT(*) = 1
       AND ${MACHINE_SCOPES.map((s, i) => `${covers(s, 4 + 2 * i)} = ?${5 + 2 * i}`).join(' AND ')}
     THEN 'true' ELSE 'client token check failed' END) AS guard, k.scope
   FROM clients k WHERE ${LIVE_CLIENT}`

/** The token's claims the client check binds. */
export type ClientTokenClaims = { client_id: string; jti: string; scope: string; iat: number }

/**
 * The statement that opens the Bearer batch of a client's token (CLIENT_TOKEN_CHECK) for the
 * `presumed` machine scopes; `read` gives the client's registered scope, or null when dead.
 */
export function clientTokenCheck(
  db: D1Database,
  claims: ClientTokenClaims,
  presumed: readonly string[],
): Query<string | null> {
  const token = narrowMachineScopes(claims.scope.split(' '), MACHINE_SCOPES)
  const scopeBinds = MACHINE_SCOPES.flatMap((s) => [
    token.includes(s) ? 1 : 0,
    presumed.includes(s) ? 1 : 0,
  ])
  return {
    statements: [
      db.prepare(CLIENT_TOKEN_CHECK).bind(claims.client_id, claims.jti, claims.iat, ...scopeBinds),
    ],
    read: (results) => rows<{ scope: string | null }>(results, 0)[0]?.scope ?? null,
  }
}

/**
 * Whether a token the client credentials grant signed with `iat` may be handed out: the client is
 * as live as LIVE_CLIENT requires and still has the `tokens_valid_after` it had when it was
 * authenticated (`validAfter`). Every disable, secret rotation and loss of the grant moves that
 * stamp forward, so a change that came after the authentication refuses the token here, and one
 * that comes after this read is later than `iat` (src/db/clients.ts) and ends it at its first use.
 */
export const stillIssuing = async (
  db: D1Database,
  c: { clientId: string; iat: number; validAfter: number },
) =>
  (await db
    .prepare(`SELECT 1 FROM clients k WHERE ${LIVE_CLIENT} AND k.tokens_valid_after = ?4`)
    .bind(c.clientId, '', c.iat, c.validAfter)
    .first()) !== null

/** Revokes one client token (RFC 7009); remembered until it would have expired. */
export const revokeClientToken = (
  db: D1Database,
  t: { jti: string; client_id: string; exp: number },
) =>
  db
    .prepare(
      `INSERT INTO revoked_client_tokens (jti, client_id, expires_at)
       SELECT ?1, client_id, ?3 FROM clients WHERE client_id = ?2
       ON CONFLICT (jti) DO NOTHING`,
    )
    .bind(t.jti, t.client_id, t.exp)
    .run()

/** For the hourly purge: revocations of tokens that have expired anyway. */
export const purgeRevokedClientTokens = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM revoked_client_tokens WHERE expires_at <= ?1').bind(now)
