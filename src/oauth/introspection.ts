import type { Context } from 'hono'
import { Hono } from 'hono'
import { issuerFor, verifyToken } from '../auth/tokens'
import { config } from '../config'
import { liveClientScope } from '../db/client-tokens'
import { findLiveRefreshToken, findLiveSession } from '../db/sessions'
import { isClientToken } from '../domain/claims'
import { ApiError } from '../domain/errors'
import { narrowMachineScopes, narrowScopes, parseScopes } from '../domain/scopes'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'
import { doc } from '../http/openapi'
import { introspectRequest } from '../http/schemas/auth'
import { introspection } from '../http/schemas/responses'
import { validate } from '../http/validate'
import { sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { authenticateClient, invalidClient } from './clients/authenticate'

/** RFC 7662 §2.2 for a token that is not (or no longer) good: nothing else is said. */
const INACTIVE = { active: false } as const

/**
 * What RFC 7662 §2.2 says about `token` to the resource server `caller` (a client_id): `{active:
 * false}` for anything unknown, malformed, expired, revoked, or of a disabled or deleted user or
 * client; otherwise its claims, with the scope it could use right now: exactly the checks of the
 * Bearer middleware for an access token (src/auth/middleware.ts), and of the refresh grant for a
 * refresh token. `token_type_hint` is a hint only (§2.1): the shape tells a JWT from a refresh
 * token. `token_type` is the RFC 6749 §5.1 type (§2.2): `bearer` for an access token; a refresh
 * token has none.
 *
 * A refresh token is described only to the client it was issued to (RFC 7662 §4 lets the server
 * answer each caller differently): no resource server is ever sent one, and to anyone else the
 * answer would be a validity oracle that never trips reuse detection.
 */
export async function introspect(c: Context<AppEnv>, token: string, caller: string) {
  const cfg = config(c.env)
  const db = database(c)
  const now = nowSeconds()
  const iss = issuerFor(cfg, c.req.url)
  if (token.split('.').length === 3) {
    const claims = await verifyToken(c.env, cfg, c.req.url, token, {
      maxLifetime: cfg.accessTokenTtl,
    })
    if (!claims) return INACTIVE
    const common = {
      active: true,
      token_type: 'bearer',
      exp: claims.exp,
      iat: claims.iat,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      jti: claims.jti,
    } as const
    if (isClientToken(claims)) {
      const registered = await liveClientScope(db, claims.client_id, claims.jti, claims.iat)
      if (registered === null) return INACTIVE
      const scope = narrowMachineScopes(claims.scope.split(' '), registered.split(' '))
      return { ...common, scope: scope.join(' '), client_id: claims.client_id }
    }
    const session = await findLiveSession(db, claims.sid, claims.sub, now)
    if (!session) return INACTIVE
    const granted = narrowScopes(parseScopes(claims.scope), parseScopes(session.scope))
    return {
      ...common,
      scope: narrowScopes(granted, session.user.scopes).join(' '),
      ...(claims.client_id !== undefined && { client_id: claims.client_id }),
      username: session.user.username,
    }
  }
  const refresh = await findLiveRefreshToken(db, await sha256Hex(token), now)
  if (!refresh || refresh.clientId !== caller) return INACTIVE
  return {
    active: true,
    scope: narrowScopes(parseScopes(refresh.scope), refresh.user.scopes).join(' '),
    client_id: refresh.clientId,
    username: refresh.user.username,
    exp: refresh.expiresAt,
    iat: refresh.issuedAt,
    sub: refresh.user.id,
    // RFC 8707: the resource its session was granted for, whose tokens it gets.
    aud: refresh.resource ?? cfg.audience,
    iss,
  } as const
}

export const introspectionRoutes = new Hono<AppEnv>()
  /**
   * RFC 7662: for resource servers, which authenticate as confidential clients (§2.1) and hold
   * the machine scope `introspect`, which only an admin grants (§4: the server decides who may).
   */
  .post(
    '/introspect',
    doc({
      operationId: 'introspectToken',
      tag: 'auth',
      summary: 'Tell a live token from a dead one (RFC 7662)',
      description:
        'Confidential clients holding the machine scope `introspect` only, authenticated as at ' +
        'the token endpoint; another authenticated client: 403 `insufficient_scope`. ' +
        '`{"active": false}` for anything unknown, expired, revoked, malformed, or of a disabled ' +
        'user or client, and for a refresh token issued to another client.',
      responses: { 200: { description: 'What is known of the token.', schema: introspection } },
      errors: ['invalid_client', 'insufficient_scope'],
    }),
    validate('form', introspectRequest),
    async (c) => {
      const form = c.req.valid('form')
      const client = await authenticateClient(c, form)
      if (client?.client_type !== 'confidential')
        throw invalidClient(c.req.header('Authorization') !== undefined)
      // Authenticated, but not a resource server. RFC 7662 §2.3 keeps 401 for failed client
      // authentication; a caller without the privilege is answered as RFC 6750 §3.1 answers a
      // token without it: 403 insufficient_scope, before the token is read, so it says nothing
      // about the token and tells a misconfigured resource server what is missing.
      if (!client.scope.split(' ').includes('introspect'))
        throw new ApiError('insufficient_scope', 'This client may not introspect tokens.')
      return c.json(await introspect(c, form.token, client.client_id))
    },
  )
