import { ApiError } from './errors'

/**
 * The protected resources this deployment serves, and which access tokens each accepts
 * (RFC 8707 resource indicators, RFC 9068 §3 `aud`, RFC 9700 §2.3 audience restriction).
 *
 * - `api`: the todo REST API (and every other Bearer route). Its identifier is the issuer, the
 *   `resource` of the root RFC 9728 document. It accepts tokens whose `aud` is that URI, or
 *   JWT_AUDIENCE (`todo-api`): the audience of every token issued without `resource`, so clients
 *   that never heard of resource indicators keep working.
 * - `mcp`: the MCP server, `<issuer>/mcp`, with its own path-aware RFC 9728 document. It accepts
 *   only tokens issued for it.
 */
export type ResourceName = 'api' | 'mcp'

export const MCP_PATH = '/mcp'

/** The identifier (an absolute URI) of each resource, for this issuer. */
export const resourceUri = (issuer: string, name: ResourceName): string =>
  canonicalResource(name === 'mcp' ? `${issuer}${MCP_PATH}` : issuer) as string

/** The `aud` values a resource accepts: its URI, and for the API the default audience too. */
export const acceptedAudiences = (issuer: string, defaultAudience: string, name: ResourceName) =>
  name === 'api' ? [resourceUri(issuer, 'api'), defaultAudience] : [resourceUri(issuer, 'mcp')]

/** Every audience a token of ours may carry: for introspection and revocation. */
export const allAudiences = (issuer: string, defaultAudience: string) => [
  ...acceptedAudiences(issuer, defaultAudience, 'api'),
  ...acceptedAudiences(issuer, defaultAudience, 'mcp'),
]

/**
 * The one spelling of a resource URI that is compared: what the MCP authorization spec
 * (2025-11-25, "Canonical Server URI") says clients may send differently is made alike — the
 * scheme and host in lower case (the URL parser does it), a default port dropped, a trailing
 * slash dropped. Null for what is no absolute http(s) URI, or has a fragment, which RFC 8707 §2
 * forbids.
 */
export function canonicalResource(raw: string): string | null {
  if (raw.includes('#')) return null
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null
  if (url.username || url.password) return null
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.protocol}//${url.host}${path}${url.search}`
}

const invalidTarget = (description: string) => new ApiError('invalid_target', description)

/**
 * The `resource` parameter as sent (absent, once, or repeated) as one of ours, canonical; or
 * `invalid_target` (RFC 8707 §2): malformed, unknown, or more than one. A token is for one
 * resource here (RFC 9700 §2.3: as narrow an audience as can be), so a client that wants both
 * asks twice (a refresh token may be used for that, see `audienceFor`).
 */
export function requestedResource(
  issuer: string,
  raw: string | string[] | undefined,
): string | undefined {
  // An empty parameter counts as omitted, as every other parameter here.
  const sent = (Array.isArray(raw) ? raw : [raw ?? '']).filter((v) => v !== '')
  if (sent.length === 0) return undefined
  if (sent.length > 1)
    throw invalidTarget('Name one resource per request: a token is issued for one resource.')
  const uri = canonicalResource(sent[0] as string)
  if (uri === null)
    throw invalidTarget('resource must be an absolute http(s) URI without a fragment.')
  const known = [resourceUri(issuer, 'api'), resourceUri(issuer, 'mcp')]
  if (!known.includes(uri))
    throw invalidTarget(`Unknown resource; this server protects ${known.join(' and ')}.`)
  return uri
}

/**
 * The `aud` of an access token issued under a grant (a code, a device code, a session's refresh
 * token) that was made for `granted` (null: none was named, so the API's default audience), when
 * the token request names `asked`. The token request may repeat the grant's resource but never
 * reach another one (RFC 8707 §2.2: the grant is the ceiling); a grant without a resource is
 * a grant for the API, so naming the API's URI is no widening.
 */
export function audienceFor(
  issuer: string,
  defaultAudience: string,
  granted: string | null,
  asked: string | undefined,
): string {
  if (asked === undefined) return granted ?? defaultAudience
  if (asked !== (granted ?? resourceUri(issuer, 'api')))
    throw invalidTarget('This grant was not made for that resource.')
  return asked
}
