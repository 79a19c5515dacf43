import type { Context } from 'hono'
import { config } from '../config'
import { ApiError } from '../domain/errors'
import { MCP_PATH, type ResourceName } from '../domain/resources'
import { CLIENT_SCOPES } from '../domain/scopes'
import type { AppEnv } from '../http/context'
import { issuerFor } from './tokens'

export const REALM = 'todo-auth'

export const BASIC_CHALLENGE = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }

/** The resource a request is for (src/domain/resources.ts); the REST API unless said. */
export const resourceOf = (c: Context<AppEnv>): ResourceName => c.var.resource ?? 'api'

/** RFC 9728 §3.1: the well-known path goes between the host and the resource's own path. */
export const resourceMetadataUrl = (issuer: string, resource: ResourceName) =>
  `${issuer}/.well-known/oauth-protected-resource${resource === 'mcp' ? MCP_PATH : ''}`

/**
 * The scope a 401 from the MCP server names (MCP 2025-11-25, "Scope Selection Strategy": a client
 * asks for what the challenge names): everything its tools may need. Not `read` alone, though
 * least privilege would say so: the MCP SDK registers its client (RFC 7591) with the challenge's
 * scope, and a client registered for `read` could never be granted `write` (its registration is
 * its ceiling), so stepping up would dead-end. A token that lacks a scope steps up on the call
 * that needs it (`insufficientScope`).
 */
const SIGN_IN_SCOPE: Record<ResourceName, string | undefined> = {
  api: undefined,
  mcp: 'read write',
}

/** RFC 6750 §3, with RFC 9728 §5.1 `resource_metadata` so a client can find the server. */
export const bearerChallenge = (
  c: Context<AppEnv>,
  error?: 'invalid_token' | 'insufficient_scope',
  scope?: string,
) => {
  const resource = resourceOf(c)
  const metadata = resourceMetadataUrl(issuerFor(config(c.env), c.req.url), resource)
  const named = scope ?? SIGN_IN_SCOPE[resource]
  const params = [
    `realm="${REALM}"`,
    error && `error="${error}"`,
    named && `scope="${named}"`,
    `resource_metadata="${metadata}"`,
  ]
  return { 'WWW-Authenticate': `Bearer ${params.filter(Boolean).join(', ')}` } as const
}

export const invalidToken = (c: Context<AppEnv>) =>
  new ApiError('invalid_token', 'The access token is invalid, expired or revoked.', {
    headers: bearerChallenge(c, 'invalid_token'),
  })

export const forbidden = () => new ApiError('forbidden', 'You are not allowed to do this.')

/**
 * 403 `insufficient_scope` naming `scope`. At the MCP server the challenge names what the request
 * needs together with what the token holds (MCP 2025-11-25, "Scope Challenge Handling"), since
 * the client asks for exactly that when it steps up, and must not lose what it had; the REST API
 * names the scope needed (RFC 6750 §3), as it always has.
 */
export const insufficientScope = (c: Context<AppEnv>, scope: string) => {
  const standing = c.var.bearer?.standing
  const held: readonly string[] =
    standing && 'scopes' in standing ? standing.scopes : (standing?.machineScopes ?? [])
  const named =
    resourceOf(c) === 'mcp'
      ? CLIENT_SCOPES.filter((s) => s === scope || held.includes(s)).join(' ')
      : scope
  return new ApiError('insufficient_scope', `This request needs the "${scope}" scope.`, {
    headers: bearerChallenge(c, 'insufficient_scope', named),
  })
}
