import type { Context } from 'hono'
import { config } from '../../config'
import {
  findMetadataClient,
  type MetadataClientRow,
  storeMetadataClient,
} from '../../db/client-metadata'
import { vettedClientNames } from '../../db/clients'
import {
  clientIdUrlProblem,
  documentMetadata,
  MAX_DOCUMENT_BYTES,
  MAX_JWKS_BYTES,
  type PublicJwk,
  usableKeys,
} from '../../domain/client-metadata'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import { nowSeconds } from '../../lib/time'
import { fetchJson } from './metadata-fetch'
import { nameKey } from './routes'

export type Resolved = { client: MetadataClientRow } | { problem: string }

/**
 * The client a Client ID Metadata Document URL names (draft-ietf-oauth-client-id-metadata-
 * document; MCP 2025-11-25, "Client ID Metadata Documents"): its cached row while fresh, so a hot
 * client costs no fetch; else the document fetched again (and its `jwks_uri`), checked and
 * stored. A failure is never cached and never served from a stale row ("Metadata Discovery
 * Errors": the request is aborted). The problem is in words for the page or the error body.
 *
 * `fetchUnknown`: whether a client never seen before may be fetched. The authorization endpoint
 * does; the token, revocation and introspection endpoints do not, as no code or token can have
 * been issued to a client the authorization endpoint never stored, so they do not let anyone
 * make this server fetch a URL of their choosing.
 */
export async function metadataClient(
  c: Context<AppEnv>,
  clientId: string,
  { fetchUnknown }: { fetchUnknown: boolean },
): Promise<Resolved> {
  const cfg = config(c.env)
  const urlProblem = clientIdUrlProblem(clientId, cfg.allowInsecureClientMetadata)
  if (urlProblem) return { problem: `Its client_id is not a usable URL. ${urlProblem}` }
  const db = database(c)
  const cached = await findMetadataClient(db, clientId)
  const now = nowSeconds()
  if (cached && cached.expires_at > now) return { client: cached }
  if (!cached && !fetchUnknown) return { problem: 'This app is not known here.' }

  const fetched = await fetchJson(clientId, MAX_DOCUMENT_BYTES)
  if ('problem' in fetched) return { problem: `Its metadata document: ${fetched.problem}` }
  const metadata = documentMetadata(fetched.json, clientId, cfg.allowInsecureClientMetadata)
  if (typeof metadata === 'string') return { problem: `Its metadata document: ${metadata}` }
  // RFC 7591 §5, as for registration: not the name of an app an administrator vetted.
  const { results } = await vettedClientNames(db).all<{ client_name: string }>()
  const name = nameKey(metadata.client_name)
  if (results.some((r) => nameKey(r.client_name) === name))
    return { problem: 'Its metadata document takes the name of an app of this service.' }

  let keys: PublicJwk[] | null = metadata.jwks ?? null
  let maxAge = fetched.maxAge
  if (metadata.jwks_uri) {
    const jwks = await fetchJson(metadata.jwks_uri, MAX_JWKS_BYTES)
    if ('problem' in jwks) return { problem: `Its jwks_uri: ${jwks.problem}` }
    const usable = usableKeys(jwks.json)
    if (typeof usable === 'string') return { problem: `Its jwks_uri: ${usable}` }
    keys = usable
    maxAge = Math.min(maxAge, jwks.maxAge)
  }
  const client = await storeMetadataClient(db, clientId, metadata, keys, now, now + maxAge)
  return { client }
}
