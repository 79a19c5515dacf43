import type { Context } from 'hono'
import { decodeBase64Url } from 'hono/utils/encode'
import { issuerFor } from '../../auth/tokens'
import { config } from '../../config'
import type { ClientRow } from '../../db/clients'
import { isMetadataClientId } from '../../domain/client-metadata'
import { ApiError } from '../../domain/errors'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import { metadataClient } from './metadata-client'
import { assertionProblem, JWT_BEARER } from './private-key-jwt'

export type AssertionForm = {
  client_id?: string
  client_secret?: string
  client_assertion_type?: string
  client_assertion?: string
}

const refused = (reason: string) =>
  new ApiError('invalid_client', `Client authentication failed: ${reason}.`)

/** The payload's `sub`, unverified: only which client to check the assertion against. */
function subject(assertion: string): string | null {
  try {
    const payload = decodeBase64Url(assertion.split('.')[1] ?? '')
    const sub = JSON.parse(
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(payload),
    )?.sub
    return typeof sub === 'string' ? sub : null
  } catch {
    return null
  }
}

/** The stored, enabled metadata-document client, fetched again when its cache has expired. */
async function storedClient(c: Context<AppEnv>, clientId: string) {
  // Never fetched for a client the authorization endpoint never stored: no code or token can
  // be its, and this endpoint must not fetch URLs of anyone's choosing.
  const found = await metadataClient(c, clientId, { fetchUnknown: false })
  if ('problem' in found) throw refused(`the client's metadata document: ${found.problem}`)
  if (found.client.disabled) throw refused('the client is disabled')
  return found.client
}

/**
 * Client authentication (src/oauth/clients/authenticate.ts) for what only Client ID Metadata
 * Document clients use: a client_id that is their URL, or a JWT client assertion. Undefined when
 * the request is neither, for the registry's methods to judge.
 *
 * - `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` with
 *   `client_assertion` (RFC 7521 §4.2, RFC 7523 §2.2): the client the assertion's `sub` names
 *   (a `client_id` sent beside it must be the same), whose document says `private_key_jwt`; the
 *   assertion checked by ./private-key-jwt.ts. Never together with another method.
 * - A metadata-document `client_id` alone: only when its document says `none`. Its document
 *   allows no secret, so a secret sent with it fails.
 *
 * Every failure is 401 `invalid_client` saying why (the document's problem, or the assertion's):
 * what the client sent or published, nothing of ours.
 */
export async function metadataClientAuthentication(
  c: Context<AppEnv>,
  form: AssertionForm,
): Promise<ClientRow | undefined> {
  const type = form.client_assertion_type
  const assertion = form.client_assertion
  const basic = /^Basic\b/i.test(c.req.header('Authorization') ?? '')
  if (type === undefined && assertion === undefined) {
    if (form.client_id === undefined || !isMetadataClientId(form.client_id)) return undefined
    if (form.client_secret !== undefined || basic)
      throw refused('a Client ID Metadata Document client has no secret')
    const client = await storedClient(c, form.client_id)
    if (client.metadata_method !== 'none')
      throw refused('this client must authenticate with private_key_jwt')
    return client
  }
  if (type === undefined || assertion === undefined)
    throw new ApiError(
      'invalid_request',
      'client_assertion_type and client_assertion are sent together (RFC 7521 §4.2).',
    )
  if (form.client_secret !== undefined || basic)
    throw new ApiError('invalid_request', 'Use one client authentication method, not two.')
  if (type !== JWT_BEARER) throw refused(`client_assertion_type must be ${JWT_BEARER}`)
  const clientId = subject(assertion)
  if (clientId === null) throw refused('the client assertion names no client (sub)')
  if (form.client_id !== undefined && form.client_id !== clientId)
    throw refused('client_id is not the client assertion’s sub')
  if (!isMetadataClientId(clientId))
    throw refused('only Client ID Metadata Document clients use private_key_jwt here')
  const client = await storedClient(c, clientId)
  if (client.metadata_method !== 'private_key_jwt')
    throw refused('this client’s document does not say private_key_jwt')
  const issuer = issuerFor(config(c.env), c.req.url)
  const problem = await assertionProblem(database(c), assertion, client, issuer)
  if (problem) throw refused(`the client assertion: ${problem}`)
  return client
}
