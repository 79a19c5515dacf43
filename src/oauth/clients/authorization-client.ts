import type { Context } from 'hono'
import { type Client, toClient } from '../../db/clients'
import { isMetadataClientId } from '../../domain/client-metadata'
import type { AppEnv } from '../../http/context'
import { metadataClient } from './metadata-client'

/**
 * The client of an authorization request whose client_id is a Client ID Metadata Document URL:
 * from its cached row, or its document fetched now (./metadata-client.ts). A string when it
 * cannot be used, for the 400 HTML page (never a redirect: nothing about its redirect URIs can be
 * trusted, the draft's "Metadata Discovery Errors"); undefined for any other client_id.
 */
export async function authorizationClient(
  c: Context<AppEnv>,
  clientId: string,
): Promise<Client | string | undefined> {
  if (!isMetadataClientId(clientId)) return undefined
  const found = await metadataClient(c, clientId, { fetchUnknown: true })
  if ('problem' in found) return `This app (client_id ${clientId}) cannot be used: ${found.problem}`
  if (found.client.disabled) return 'This app is disabled on this server.'
  return toClient(found.client)
}
