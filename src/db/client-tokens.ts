/**
 * A client's own access tokens (client credentials): no session row stands behind them, so the
 * client's row does. A token is live while its client exists, is enabled, is confidential, is
 * still registered for client_credentials and has not revoked that token (by jti).
 */

/**
 * The check behind every Bearer request with a client's token: one read. The client's
 * registered scope today, or null when the token is dead.
 */
export const liveClientScope = (db: D1Database, clientId: string, jti: string) =>
  db
    .prepare(
      `SELECT k.scope FROM clients k
       WHERE k.client_id = ?1 AND k.disabled = 0 AND k.client_type = 'confidential'
         AND EXISTS (SELECT 1 FROM json_each(k.grant_types) WHERE value = 'client_credentials')
         AND NOT EXISTS (SELECT 1 FROM revoked_client_tokens r WHERE r.jti = ?2)`,
    )
    .bind(clientId, jti)
    .first<{ scope: string }>()
    .then((row) => row?.scope ?? null)

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
