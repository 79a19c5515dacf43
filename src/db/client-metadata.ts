import type { ClientMetadata, MetadataAuthMethod, PublicJwk } from '../domain/client-metadata'
import { isoTime } from '../lib/time'
import type { ClientRow } from './clients'
import { rows } from './query'

/**
 * Client ID Metadata Document clients (migration 0009): the `clients` row that caches the
 * document, and beside it how the client authenticates and until when the row may be used.
 */
export type MetadataClientRow = ClientRow & {
  metadata_method: MetadataAuthMethod
  /** JSON array of PublicJwk; null for 'none'. */
  jwks: string | null
  jwks_uri: string | null
  expires_at: number
}

const SELECT = `SELECT c.*, m.token_endpoint_auth_method AS metadata_method, m.jwks, m.jwks_uri,
    m.expires_at
  FROM clients c JOIN client_metadata m ON m.client_id = c.client_id
  WHERE c.client_id = ?1`

/** The cached client, fresh or not, disabled or not; null when never fetched. */
export const findMetadataClient = (db: D1Database, clientId: string) =>
  db.prepare(SELECT).bind(clientId).first<MetadataClientRow>()

/**
 * Stores what a valid document says, in one transaction: the client's row (inserted public,
 * unvetted and not first-party; migration 0009's triggers hold it so), and its authentication
 * and freshness. An administrator's `disabled` is kept: a document cannot re-enable its client.
 * Returns the stored row.
 */
export async function storeMetadataClient(
  db: D1Database,
  clientId: string,
  m: ClientMetadata,
  keys: PublicJwk[] | null,
  now: number,
  expiresAt: number,
): Promise<MetadataClientRow> {
  const stamp = isoTime()
  const results = await db.batch([
    db
      .prepare(
        `INSERT INTO clients (client_id, client_name, client_type, redirect_uris, grant_types,
           scope, token_endpoint_auth_method, first_party, vetted, created_at, updated_at)
         VALUES (?1, ?2, 'public', ?3, ?4, ?5, 'none', 0, 0, ?6, ?6)
         ON CONFLICT (client_id) DO UPDATE SET client_name = ?2, redirect_uris = ?3,
           grant_types = ?4, scope = ?5, updated_at = ?6`,
      )
      .bind(
        clientId,
        m.client_name,
        JSON.stringify(m.redirect_uris),
        JSON.stringify(m.grant_types),
        m.scope,
        stamp,
      ),
    db
      .prepare(
        `INSERT INTO client_metadata (client_id, token_endpoint_auth_method, jwks, jwks_uri,
           fetched_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (client_id) DO UPDATE SET token_endpoint_auth_method = ?2, jwks = ?3,
           jwks_uri = ?4, fetched_at = ?5, expires_at = ?6`,
      )
      .bind(clientId, m.method, keys && JSON.stringify(keys), m.jwks_uri ?? null, now, expiresAt),
    db.prepare(SELECT).bind(clientId),
  ])
  const row = rows<MetadataClientRow>(results, 2)[0]
  if (!row) throw new Error('the stored metadata client was not read back')
  return row
}

/**
 * Accepts a client assertion's `jti` once (RFC 7523 §3 item 7, RFC 7521 §5.2): the INSERT that
 * records it is the check, so two requests racing with one assertion get one acceptance. Kept
 * until `expiresAt`, past which the assertion is refused as expired anyway. False for a replay.
 */
export async function spendAssertion(
  db: D1Database,
  clientId: string,
  jti: string,
  expiresAt: number,
): Promise<boolean> {
  const row = await db
    .prepare(
      `INSERT INTO client_assertions (client_id, jti, expires_at) VALUES (?1, ?2, ?3)
       ON CONFLICT (client_id, jti) DO NOTHING RETURNING jti`,
    )
    .bind(clientId, jti, expiresAt)
    .first()
  return row !== null
}

/** For the hourly purge: assertions past their `exp` cannot be replayed anyway. */
export const purgeClientAssertions = (db: D1Database, now: number) =>
  db.prepare('DELETE FROM client_assertions WHERE expires_at <= ?1').bind(now)
