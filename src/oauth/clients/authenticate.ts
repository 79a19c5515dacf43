import type { Context } from 'hono'
import { REALM } from '../../auth/challenges'
import { type ClientRow, findClientRow } from '../../db/clients'
import { ApiError } from '../../domain/errors'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import { sha256Hex } from '../../lib/crypto'
import { type AssertionForm, metadataClientAuthentication } from './metadata-auth'

/**
 * Client authentication at the token endpoint (RFC 6749 §2.3), the one place it happens:
 *
 * - `client_secret_basic`: HTTP Basic whose id and secret are each form-urlencoded before being
 *   joined (RFC 6749 §2.3.1), so a secret may hold `:` or any UTF-8;
 * - `client_secret_post`: `client_id` and `client_secret` in the body;
 * - `none`: a public client names itself with `client_id` and proves nothing (PKCE does that).
 *
 * A client must use the method it registered; using two at once is refused (§2.3). Any failure is
 * 401 `invalid_client`, with a Basic challenge when Basic was tried (§5.2). Secrets are compared
 * as SHA-256 digests in constant time, and an unknown client costs the same digest and compare.
 * No client at all is null: the legacy password and refresh grants allow that.
 *
 * Client ID Metadata Document clients (a client_id that is an https URL) and `private_key_jwt`
 * (RFC 7523 §2.2) are ./metadata-auth.ts's, asked first.
 */

type Presented = {
  method: 'client_secret_basic' | 'client_secret_post' | 'none'
  id: string
  secret?: string
}

const BASIC_CHALLENGE = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }
const encoder = new TextEncoder()
// Compared against when there is no stored hash, so that every failure costs the same.
const DUMMY_HASH = '0'.repeat(64)

export const invalidClient = (basic: boolean) =>
  new ApiError('invalid_client', 'Client authentication failed.', {
    ...(basic && { headers: BASIC_CHALLENGE }),
  })

const formDecode = (s: string) => decodeURIComponent(s.replaceAll('+', ' '))

function presented(
  header: string | undefined,
  form: { client_id?: string; client_secret?: string },
): Presented | null {
  const basic = header?.match(/^Basic +([A-Za-z0-9+/]+=*) *$/i)
  if (header !== undefined && /^Basic\b/i.test(header)) {
    if (form.client_secret !== undefined)
      throw new ApiError('invalid_request', 'Use one client authentication method, not two.')
    let id: string
    let secret: string
    try {
      const decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(atob(basic?.[1] ?? '!'), (ch) => ch.charCodeAt(0)),
      )
      const colon = decoded.indexOf(':')
      if (colon < 0) throw new Error('no colon')
      id = formDecode(decoded.slice(0, colon))
      secret = formDecode(decoded.slice(colon + 1))
    } catch {
      throw invalidClient(true)
    }
    // Swagger UI's password flow sends empty Basic credentials when no client is configured: that
    // names no client (and must not draw a Basic challenge, which a browser would prompt for).
    if (id === '' && secret === '') return presented(undefined, form)
    if (form.client_id !== undefined && form.client_id !== id) throw invalidClient(true)
    return { method: 'client_secret_basic', id, secret }
  }
  if (form.client_id === undefined) {
    if (form.client_secret !== undefined) throw invalidClient(false)
    return null
  }
  return form.client_secret === undefined
    ? { method: 'none', id: form.client_id }
    : { method: 'client_secret_post', id: form.client_id, secret: form.client_secret }
}

async function sameDigest(secret: string, storedHash: string): Promise<boolean> {
  const digest = await sha256Hex(secret)
  return crypto.subtle.timingSafeEqual(encoder.encode(digest), encoder.encode(storedHash))
}

/** The authenticated, enabled client of a token request, or null when none was named. */
export async function authenticateClient(
  c: Context<AppEnv>,
  form: AssertionForm,
): Promise<ClientRow | null> {
  const metadataClient = await metadataClientAuthentication(c, form)
  if (metadataClient) return metadataClient
  const claim = presented(c.req.header('Authorization'), form)
  if (!claim) return null
  const basic = claim.method === 'client_secret_basic'
  const row = claim.id.length <= 200 ? await findClientRow(database(c), claim.id) : null
  const usable =
    row !== null && row.disabled === 0 && row.token_endpoint_auth_method === claim.method
  if (claim.secret !== undefined) {
    const ok = await sameDigest(claim.secret, (usable && row.client_secret_hash) || DUMMY_HASH)
    if (!ok || !usable) throw invalidClient(basic)
  } else if (!usable) throw invalidClient(basic)
  return row
}
