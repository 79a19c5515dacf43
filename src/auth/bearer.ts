import type { Context, MiddlewareHandler } from 'hono'
import { verify } from 'hono/jwt'
import type { JWTPayload } from 'hono/utils/jwt/types'
import { config } from '../config'
import { liveClientScope } from '../db/client-tokens'
import { type BearerSession, findLiveSession } from '../db/sessions'
import {
  type AccessClaims,
  type ClientClaims,
  isClientToken,
  tokenUsername,
  type UserClaims,
} from '../domain/claims'
import { ApiError } from '../domain/errors'
import type { Actor } from '../domain/policy'
import { acceptedAudiences } from '../domain/resources'
import type { Presumed } from '../domain/standing'
import type { Role } from '../domain/user'
import type { AppEnv, BearerAuth } from '../http/context'
import { primaryDatabase } from '../http/database'
import { documentGuard } from '../http/openapi'
import { nowSeconds } from '../lib/time'
import { bearerChallenge, forbidden, invalidToken, resourceOf } from './challenges'
import { type Live, presumed, presumedOf, remember } from './standing'
import { ALG, checkClaims, issuerFor, keyFor, keyring, verification } from './tokens'

const BEARER_HEADER = /^Bearer +([^\s]+) *$/i

/**
 * The Bearer token's claims, or the contract's 401: hono's verify (HS256 only, typ, exp, iss,
 * aud, the signature) with the key chosen by `kid` (rotation), plus what it leaves out: the
 * canonical encoding, `exp`/`iat` required and `exp` at most ACCESS_TOKEN_TTL after `iat`.
 * hono's verify is called directly: its jwt() middleware would be built anew on every request
 * for the key the token names. Tokens are read from the Authorization header only, and must
 * name the request's resource (`c.var.resource`) in `aud`. No D1.
 */
export async function verifiedClaims(c: Context<AppEnv>): Promise<AccessClaims> {
  const header = c.req.header('Authorization')
  const match = header?.match(BEARER_HEADER)
  if (!match?.[1])
    throw new ApiError('unauthorized', 'A Bearer access token is required.', {
      headers: bearerChallenge(c),
    })
  const token = match[1]
  const cfg = config(c.env)
  const key = keyFor(await keyring(c.env), token)
  if (!key) throw invalidToken(c)
  // Only a token made for this resource (RFC 8707, RFC 9700 §2.3): an MCP token is refused here.
  const audiences = acceptedAudiences(issuerFor(cfg, c.req.url), cfg.audience, resourceOf(c))
  let payload: JWTPayload
  try {
    payload = await verify(token, key, { alg: ALG, ...verification(cfg, c.req.url, audiences) })
  } catch {
    throw invalidToken(c) // every refusal of hono's verify: a bad signature, expired, wrong iss…
  }
  const claims = checkClaims(payload, { maxLifetime: cfg.accessTokenTtl })
  if (!claims) throw invalidToken(c)
  return claims
}

/**
 * Sets what the routes read of a live token: for a session, the user as stored now, its scopes
 * and kind; for a client acting as itself, its client_id (`actingClient`) and machine scopes.
 */
export function settle(c: Context<AppEnv>, claims: AccessClaims, live: Live): Presumed {
  const standing = presumedOf(live, claims)
  if ('machineScopes' in standing) {
    c.set('actingClient', (claims as ClientClaims).client_id)
    c.set('scopes', standing.machineScopes)
  } else {
    c.set('user', (live as BearerSession).user)
    c.set('sessionId', (claims as UserClaims).sid)
    c.set('thirdPartyApp', standing.thirdPartyApp)
    c.set('scopes', standing.scopes)
  }
  remember(claims, standing)
  return standing
}

/**
 * The token read alone, as the batch's check reads it: a user's session (findLiveSession) or a
 * client's row (liveClientScope), chosen by the kind of token (`sub` prefix `client:`). Null
 * when the token is dead.
 */
export async function readLive(db: D1Database, claims: AccessClaims): Promise<Live | null> {
  if (isClientToken(claims)) {
    const registeredScope = await liveClientScope(db, claims.client_id, claims.jti, claims.iat)
    return registeredScope === null ? null : { registeredScope }
  }
  return findLiveSession(db, claims.sid, claims.sub, nowSeconds())
}

/** The token check alone, for the paths that need it before any batch: one round trip. */
export async function checkNow(c: Context<AppEnv>, claims: AccessClaims): Promise<Presumed> {
  const live = await readLive(primaryDatabase(c), claims)
  if (!live) throw invalidToken(c)
  return settle(c, claims, live)
}

/**
 * Bearer JWTs, checked against D1 before the route runs: the session is live and its user
 * enabled, so logout, revocation and disabling take effect on the very next request. The scopes
 * the request may use are the token's, bounded by the session's (narrowed by refreshes) and by
 * the user's today, so even a token signed with our key cannot reach beyond its session. For the
 * routes that act on the session itself (logout) or check a password; every route on the hot path
 * uses `requires`/`requiresScope`, whose check rides in the route's own batch (`checkedBatch`).
 */
export function bearer(): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    const claims = await verifiedClaims(c)
    await checkNow(c, claims)
    // These routes act on a user's own session or account: a client acting as itself has none.
    // Refused only once its token was checked live, so a dead one is still a 401.
    if (isClientToken(claims)) throw forbidden()
    await next()
  }
  return documentGuard(guard, { auth: 'bearer' })
}

/**
 * The Bearer token verified, its session not yet read: the route must go to D1 through
 * `checkedBatch`, which checks the session in the same batch. Until it has, database(c) throws,
 * so a route cannot read or write anything before its session is known to be live. For the
 * guards (src/auth/guards.ts), which take their up-front decision in the same middleware.
 */
export async function presumeBearer(c: Context<AppEnv>): Promise<BearerAuth> {
  const claims = await verifiedClaims(c)
  const auth: BearerAuth = { claims, standing: presumed(claims), settled: false, checks: [] }
  c.set('bearer', auth)
  // No database until the token is checked: the route reaches D1 through checkedBatch.
  c.set('db', undefined)
  return auth
}

/**
 * The username of a Bearer request, for audit records: the user row's once read, else the token's
 * (usernames never change, and the batch's guard proves the session is the token's).
 */
export const bearerUsername = (c: Context<AppEnv>): string =>
  c.var.user?.username ?? tokenUsername(c.var.bearer?.claims) ?? ''

/**
 * The authenticated request as the policy sees its actor, on the standing presumed or read. A
 * client credentials token is the client acting as itself. A token whose session was granted to
 * a third-party app acts as that app (`app`), not as the user; a first-party client's
 * (clients.first_party = 1, e.g. the web client todo-web), the password grant's without a client
 * and HTTP Basic act as the user. Read by the Bearer check together with the session
 * (findLiveSession), so it follows the client's registration today.
 */
export function actorOf(c: Context<AppEnv>): Actor {
  const auth = c.get('bearer')
  if (auth) {
    const { standing, claims } = auth
    if ('machineScopes' in standing)
      return {
        kind: 'client',
        id: (claims as ClientClaims).client_id,
        scopes: standing.machineScopes,
      }
    const kind = standing.thirdPartyApp ? 'app' : 'user'
    return { id: claims.sub, role: standing.role as Role, scopes: standing.scopes, kind }
  }
  const user = c.get('user')
  const kind = c.get('thirdPartyApp') ? 'app' : 'user'
  return { id: user.id, role: user.role, scopes: c.get('scopes'), kind }
}

/** Who makes a Bearer request, for an audit record: from where, and as which username. */
export const bearerAttribution = (c: Context<AppEnv>) => ({
  requester: c.var.requester,
  username: bearerUsername(c),
})
