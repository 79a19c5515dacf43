import type { Context } from 'hono'
import { config } from '../config'
import { liveClientScope } from '../db/client-tokens'
import { findLiveRefreshToken, findLiveSession } from '../db/sessions'
import { sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { narrowMachineScopes, narrowScopes, parseScopes } from '../domain/scopes'
import { issuerFor, verifyToken } from '../auth/tokens'
import { isClientToken } from '../domain/claims'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'

/** RFC 7662 §2.2 for a token that is not (or no longer) good: nothing else is said. */
const INACTIVE = { active: false } as const

/**
 * What RFC 7662 §2.2 says about `token`: `{active: false}` for anything unknown, malformed,
 * expired, revoked, or of a disabled or deleted user or client; otherwise its claims, with the
 * scope it could use right now: exactly the checks of the Bearer middleware for an access token
 * (src/auth/middleware.ts), and of the refresh grant for a refresh token. `token_type_hint` is a
 * hint only (§2.1): the shape tells a JWT from a refresh token.
 */
export async function introspect(c: Context<AppEnv>, token: string) {
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
      token_type: 'access_token',
      exp: claims.exp,
      iat: claims.iat,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      jti: claims.jti,
    } as const
    if (isClientToken(claims)) {
      const registered = await liveClientScope(db, claims.client_id, claims.jti)
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
  if (!refresh) return INACTIVE
  return {
    active: true,
    token_type: 'refresh_token',
    scope: narrowScopes(parseScopes(refresh.scope), refresh.user.scopes).join(' '),
    ...(refresh.clientId !== null && { client_id: refresh.clientId }),
    username: refresh.user.username,
    exp: refresh.expiresAt,
    iat: refresh.issuedAt,
    sub: refresh.user.id,
    // RFC 8707: the resource its session was granted for, whose tokens it gets.
    aud: refresh.resource ?? cfg.audience,
    iss,
  } as const
}
