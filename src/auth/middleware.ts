import type { Context, MiddlewareHandler } from 'hono'
import { basicAuth } from 'hono/basic-auth'
import { every } from 'hono/combine'
import { HTTPException } from 'hono/http-exception'
import { verify } from 'hono/jwt'
import type { JWTPayload } from 'hono/utils/jwt/types'
import { config, withDatabase, type AppEnv } from '../env'
import { ApiError, incorrectCredentials, notFound as notFoundError } from '../errors'
import { authDatabase } from '../db/replication'
import { documentGuard } from '../openapi'
import { clientTokenCheck, liveClientScope } from '../db/client-tokens'
import { bearerCheck, findLiveSession, type BearerSession, type Standing } from '../db/sessions'
import type { Query } from '../db/query'
import { toUser } from '../db/users'
import { nowSeconds } from '../lib/time'
import { checkRemembered } from './login'
import {
  decide,
  decideOnList,
  decideOnTeam,
  decideUpFront,
  LIST_RULES,
  RULES,
  TEAM_RULES,
  type Action,
  type Actor,
  type ListAction,
  type ListResource,
  type ResourceDecision,
  type Role,
  type TeamAction,
  type TeamResource,
} from './policy'
import {
  MACHINE_SCOPES,
  type MachineScope,
  narrowMachineScopes,
  narrowScopes,
  parseScopes,
  type Scope,
} from './scopes'
import {
  ALG,
  type AccessClaims,
  type ClientClaims,
  type UserClaims,
  checkClaims,
  isClientToken,
  tokenUsername,
  issuerFor,
  keyFor,
  keyring,
  verification,
} from './tokens'

export const REALM = 'todo-auth'

const BASIC_CHALLENGE = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }

/**
 * HTTP Basic against the users table, through hono's basicAuth. Hono parses the header and calls
 * verifyUser; its 401 is replaced by ours: `unauthorized` when no usable credentials came,
 * `invalid_credentials` when they were checked and refused, both with the contract's challenge.
 * A lockout's 429 passes through without a challenge: retrying with other credentials cannot help.
 * Verified credentials are remembered for up to a minute (see checkRemembered).
 *
 * hono decodes the credentials lossily (an invalid UTF-8 byte becomes U+FFFD, so a password
 * holding U+FFFD would match many byte strings): credentials that are not valid UTF-8 are refused
 * here first, as `invalid_credentials`, and never compared.
 */
export function basic(): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    let checked = false
    if (!basicCredentialsAreUtf8(c.req.header('Authorization'))) {
      throw incorrectCredentials('invalid_credentials', BASIC_CHALLENGE)
    }
    const check = basicAuth({
      realm: REALM,
      verifyUser: async (username, password, ctx) => {
        checked = true
        const db = authDatabase(ctx)
        const credentials = { username, password }
        const row = await checkRemembered(db, config(ctx.env), ctx.get('client'), credentials)
        if (!row) return false
        const user = toUser(row)
        ctx.set('user', user)
        ctx.set('scopes', user.scopes)
        return true
      },
    })
    try {
      await check(c, async () => {})
    } catch (err) {
      if (!(err instanceof HTTPException) || err.status !== 401) throw err
      throw checked
        ? incorrectCredentials('invalid_credentials', BASIC_CHALLENGE)
        : new ApiError('unauthorized', 'HTTP Basic credentials are required.', {
            headers: BASIC_CHALLENGE,
          })
    }
    await next()
  }
  return documentGuard(guard, { auth: 'basic' })
}

// The pattern hono's Basic parser matches; anything else it refuses as "no credentials" itself.
const BASIC_CREDENTIALS = /^ *(?:[Bb][Aa][Ss][Ii][Cc]) +([A-Za-z0-9._~+/-]+=*) *$/
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** False for Basic credentials whose base64 decodes to bytes that are not UTF-8. */
function basicCredentialsAreUtf8(header: string | undefined): boolean {
  const encoded = BASIC_CREDENTIALS.exec(header ?? '')?.[1]
  if (encoded === undefined) return true
  let bytes: Uint8Array
  try {
    bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0))
  } catch {
    return true // not base64: hono answers `unauthorized`
  }
  try {
    strictUtf8.decode(bytes)
    return true
  } catch {
    return false
  }
}

/** RFC 6750 §3, with RFC 9728 §5.1 `resource_metadata` so a client can find the server. */
const bearerChallenge = (
  c: Context<AppEnv>,
  error?: 'invalid_token' | 'insufficient_scope',
  scope?: string,
) => {
  const metadata = `${issuerFor(config(c.env), c.req.url)}/.well-known/oauth-protected-resource`
  const params = [
    `realm="${REALM}"`,
    error && `error="${error}"`,
    scope && `scope="${scope}"`,
    `resource_metadata="${metadata}"`,
  ]
  return { 'WWW-Authenticate': `Bearer ${params.filter(Boolean).join(', ')}` } as const
}

const invalidToken = (c: Context<AppEnv>) =>
  new ApiError('invalid_token', 'The access token is invalid, expired or revoked.', {
    headers: bearerChallenge(c, 'invalid_token'),
  })

/**
 * The Bearer token's claims, or the contract's 401: hono's verify (HS256 only, typ, exp, iss,
 * aud, the signature) with the key chosen by `kid` (rotation), plus what it leaves out: the
 * canonical encoding, `exp`/`iat` required and `exp` at most ACCESS_TOKEN_TTL after `iat`.
 * hono's verify is called directly: its jwt() middleware would be built anew on every request
 * for the key the token names. Tokens are read from the Authorization header only. No D1.
 */
async function verifiedClaims(c: Context<AppEnv>): Promise<AccessClaims> {
  const header = c.req.header('Authorization')
  const match = header?.match(/^Bearer +([^\s]+) *$/i)
  if (!match?.[1])
    throw new ApiError('unauthorized', 'A Bearer access token is required.', {
      headers: bearerChallenge(c),
    })
  const token = match[1]
  const cfg = config(c.env)
  const key = keyFor(await keyring(c.env), token)
  if (!key) throw invalidToken(c)
  let payload: JWTPayload
  try {
    payload = await verify(token, key, { alg: ALG, ...verification(cfg, c.req.url) })
  } catch {
    throw invalidToken(c) // every refusal of hono's verify: a bad signature, expired, wrong iss…
  }
  const claims = checkClaims(payload, { maxLifetime: cfg.accessTokenTtl })
  if (!claims) throw invalidToken(c)
  return claims
}

/**
 * What the Bearer batch presumes of a token and its check proves: a user's token, the Standing
 * of its session (src/db/sessions.ts); a client's own token (client credentials), the machine
 * scopes it may use, the token's that the client is still registered for (src/db/client-tokens.ts).
 */
type ClientStanding = { machineScopes: readonly MachineScope[] }
type Presumed = Standing | ClientStanding

/** What the check read of a live token: its session, or its client's registered scope. */
type Live = BearerSession | { registeredScope: string }

/** The standing a live session gives its token: see Standing (src/db/sessions.ts). */
const standingOf = (session: BearerSession, claims: AccessClaims): Standing => ({
  role: session.user.role,
  // Bounded by the session's scope as well as the user's: a token never outgrows its grant.
  scopes: narrowScopes(
    narrowScopes(parseScopes(claims.scope), parseScopes(session.scope)),
    session.user.scopes,
  ),
  thirdPartyApp: session.thirdPartyApp,
})

/** The machine scopes a client's token may use: the token's, bounded by the client's today. */
const clientStandingOf = (registeredScope: string, claims: ClientClaims): ClientStanding => ({
  machineScopes: narrowMachineScopes(claims.scope.split(' '), registeredScope.split(' ')),
})

const presumedOf = (live: Live, claims: AccessClaims): Presumed =>
  'registeredScope' in live
    ? clientStandingOf(live.registeredScope, claims as ClientClaims)
    : standingOf(live, claims)

const sameStanding = (a: Presumed, b: Presumed) =>
  'machineScopes' in a || 'machineScopes' in b
    ? 'machineScopes' in a &&
      'machineScopes' in b &&
      a.machineScopes.join(' ') === b.machineScopes.join(' ')
    : a.role === b.role &&
      a.thirdPartyApp === b.thirdPartyApp &&
      a.scopes.join(' ') === b.scopes.join(' ')

/**
 * The standing each session (or client token) was last seen with, per isolate, so its next
 * request presumes it (a token whose claims are out of date, e.g. after a demotion, still makes
 * one round trip). Bounded; a token not in it is presumed from its claims. Only a presumption:
 * the check proves it in SQL, so a stale entry costs a round trip, never a wrong answer.
 */
const standings = new Map<string, Presumed>()
const STANDINGS_MAX = 1024

/** A client token has no session: its entry is keyed by its jti, marked so as not to clash. */
const standingKey = (claims: AccessClaims) =>
  isClientToken(claims) ? `client:${claims.jti}` : claims.sid

function remember(claims: AccessClaims, standing: Presumed) {
  const key = standingKey(claims)
  standings.delete(key)
  standings.set(key, standing)
  if (standings.size > STANDINGS_MAX) standings.delete(standings.keys().next().value as string)
}

const presumed = (claims: AccessClaims): Presumed =>
  standings.get(standingKey(claims)) ??
  (isClientToken(claims)
    ? { machineScopes: narrowMachineScopes(claims.scope.split(' '), MACHINE_SCOPES) }
    : { role: claims.role, scopes: parseScopes(claims.scope), thirdPartyApp: false })

/** A Bearer request whose token is checked in the batch of its route (see `authorized`). */
export type BearerAuth = {
  claims: AccessClaims
  standing: Presumed
  /** Set once the token was read live in a batch: c.var.user and the rest are then set. */
  settled: boolean
  /** The up-front decisions made on `standing`, made again if the batch finds another one. */
  checks: ((actor: Actor) => void)[]
}

/**
 * Sets what the routes read of a live token: for a session, the user as stored now, its scopes
 * and kind; for a client acting as itself, its client_id (`actingClient`) and machine scopes.
 */
function settle(c: Context<AppEnv>, claims: AccessClaims, live: Live): Presumed {
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
async function readLive(db: D1Database, claims: AccessClaims): Promise<Live | null> {
  if (isClientToken(claims)) {
    const registeredScope = await liveClientScope(db, claims.client_id, claims.jti, claims.iat)
    return registeredScope === null ? null : { registeredScope }
  }
  return findLiveSession(db, claims.sid, claims.sub, nowSeconds())
}

/** The check that opens the batch, for the token's kind: bearerCheck or clientTokenCheck. */
function liveCheck(db: D1Database, claims: AccessClaims, standing: Presumed): Query<Live | null> {
  if (isClientToken(claims)) {
    const check = clientTokenCheck(db, claims, (standing as ClientStanding).machineScopes)
    return {
      statements: check.statements,
      read: (results) => {
        const registeredScope = check.read(results)
        return registeredScope === null ? null : { registeredScope }
      },
    }
  }
  const check = bearerCheck(db, claims, standing as Standing, nowSeconds())
  return { statements: check.statements, read: (results) => check.read(results[0]) }
}

/** The token check alone, for the paths that need it before any batch: one round trip. */
async function checkNow(c: Context<AppEnv>, claims: AccessClaims): Promise<Presumed> {
  const live = await readLive(authDatabase(c), claims)
  if (!live) throw invalidToken(c)
  return settle(c, claims, live)
}

/**
 * Bearer JWTs, checked against D1 before the route runs: the session is live and its user
 * enabled, so logout, revocation and disabling take effect on the very next request. The scopes
 * the request may use are the token's, bounded by the session's (narrowed by refreshes) and by
 * the user's today, so even a token signed with our key cannot reach beyond its session. For the
 * routes that act on the session itself (logout) or check a password; every route on the hot path
 * uses `allow`/`allowOn`, whose check rides in the route's own batch (`authorized`).
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
 * `authorized`, which checks the session in the same batch. Until it has, c.env.DB throws, so a
 * route cannot read or write anything before its session is known to be live.
 */
const bearerToken = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const claims = await verifiedClaims(c)
  const auth: BearerAuth = { claims, standing: presumed(claims), settled: false, checks: [] }
  c.set('bearer', auth)
  const env = c.env
  c.env = withDatabase(env, () => {
    if (!auth.settled) throw new Error('a Bearer route used D1 before authorized()')
    return env.DB
  })
  await next()
}

/**
 * A decision to take before the route runs, on the presumed standing. A refusal is never taken
 * on a presumption: the session is read first (one round trip, on this error path only), and the
 * decision made again on what it holds. Kept, so `authorized` can make it again if its batch
 * finds the standing changed.
 */
const upFront =
  (check: (c: Context<AppEnv>, actor: Actor) => void): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const auth = c.get('bearer')!
    try {
      check(c, actorOf(c))
    } catch (err) {
      if (!(err instanceof ApiError) || auth.settled) throw err
      auth.standing = await checkNow(c, auth.claims)
      auth.settled = true
      check(c, actorOf(c))
    }
    auth.checks.push((actor) => check(c, actor))
    await next()
  }

const ATTEMPTS = 3

/**
 * One D1 round trip for a Bearer request: the session check (bearerCheck, src/db/sessions.ts)
 * and the route's statements in one batch, one transaction, on the primary. The batch opens with
 * a guard that aborts it unless the session is live and the standing the one presumed (the
 * token's claims, or what this isolate last saw of the session), so a revoked token, a disabled
 * user, a demotion or a narrowed scope writes nothing. When the guard aborts, the session is read
 * alone: dead, 401 `invalid_token`; live with another standing, the up-front decisions are made
 * again on it and the batch retried (`build` is called again with the actor as it now is).
 *
 * No D1 session (Sessions API) here: a Bearer check must read the primary, and the route's data
 * rides along in the same batch, which a replica could not serve anyway.
 */
export async function authorized<T>(
  c: Context<AppEnv>,
  build: (db: D1Database, actor: Actor) => Query<T> | Promise<Query<T>>,
): Promise<T> {
  const auth = c.get('bearer')
  if (!auth) throw new Error('authorized() needs allow() or allowOn() in front of the route')
  const db = authDatabase(c)
  for (let attempt = 1; ; attempt++) {
    let query: Query<T>
    try {
      query = await build(db, actorOf(c))
    } catch (err) {
      // A refusal is never taken on a presumption: read the session, then decide on what it holds.
      if (!(err instanceof ApiError) || auth.settled) throw err
      auth.standing = await checkNow(c, auth.claims)
      auth.settled = true
      query = await build(db, actorOf(c))
    }
    const check = liveCheck(db, auth.claims, auth.standing)
    let results: D1Result[]
    try {
      results = await db.batch([...check.statements, ...query.statements])
    } catch (err) {
      const live = await readLive(db, auth.claims)
      if (!live) throw invalidToken(c)
      const standing = presumedOf(live, auth.claims)
      if (sameStanding(standing, auth.standing) || attempt === ATTEMPTS) throw err
      auth.standing = settle(c, auth.claims, live)
      for (const decide of auth.checks) decide(actorOf(c))
      continue
    }
    const live = check.read(results.slice(0, check.statements.length))
    if (!live) throw invalidToken(c)
    auth.standing = settle(c, auth.claims, live)
    auth.settled = true
    return query.read(results.slice(check.statements.length))
  }
}

/**
 * The username of a Bearer request, for audit records: the user row's once read, else the token's
 * (usernames never change, and the batch's guard proves the session is the token's).
 */
export const bearerUsername = (c: Context<AppEnv>): string =>
  c.var.user?.username ?? tokenUsername(c.var.bearer?.claims) ?? ''

const NOTHING: Query<void> = { statements: [], read: () => undefined }

/** The session check alone, in one round trip, for a route that reads nothing else of D1. */
export const authenticated = (c: Context<AppEnv>): Promise<void> => authorized(c, () => NOTHING)

const forbidden = () => new ApiError('forbidden', 'You are not allowed to do this.')

const insufficientScope = (c: Context<AppEnv>, scope: string) =>
  new ApiError('insufficient_scope', `This request needs the "${scope}" scope.`, {
    headers: bearerChallenge(c, 'insufficient_scope', scope),
  })

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

/**
 * Turns a refusal of the policy into its answer: 403 `insufficient_scope` (naming `scope`) or
 * `forbidden`, or the 404 that `notFound` makes, the same as for a missing resource.
 */
export function enforce(
  c: Context<AppEnv>,
  decision: ResourceDecision,
  scope: string | null,
  notFound: () => ApiError = () => notFoundError(),
): void {
  if (decision === 'insufficient_scope') throw insufficientScope(c, scope!)
  if (decision === 'forbidden') throw forbidden()
  if (decision === 'not_found') throw notFound()
}

/**
 * Asks the policy whether the authenticated request may perform `action` on data owned by
 * `ownerId` (default: the user's own), and answers 403 `insufficient_scope` or `forbidden` if not.
 */
export const authorize = (c: Context<AppEnv>, action: Action, ownerId?: string): void =>
  authorizeActor(c, actorOf(c), action, ownerId)

/** The same for `actor`; a client's refusal for want of scope names the machine scope. */
function authorizeActor(c: Context<AppEnv>, actor: Actor, action: Action, ownerId?: string) {
  const rule = RULES[action]
  enforce(c, decide(actor, action, ownerId), actor.kind === 'client' ? rule.client : rule.scope)
}

/**
 * A valid Bearer token that holds what a list or team rule needs before any data is read (its
 * scope; the kind of actor). The rest of the rule is in the SQL of the route's statement. It
 * documents itself as `allow()` does: Bearer, the scope, and `forbidden`, always: a client
 * acting as itself gets it on every list and team route, and an app where it may not.
 */
export const allowOn = (rule: UpFrontRule): MiddlewareHandler<AppEnv> =>
  documentGuard(
    every(
      bearerToken(),
      upFront((c, actor) => requireUpFront(c, actor, rule)),
    ),
    { auth: 'bearer', scope: rule.scope, errors: ['forbidden'] },
  )

type UpFrontRule = { scope: Scope; apps: boolean }

/** The same, inside a handler whose action depends on the request (leaving vs. managing). */
export const requireUpFront = (c: Context<AppEnv>, actor: Actor, rule: UpFrontRule): void =>
  enforce(c, decideUpFront(actor, rule), rule.scope)

/**
 * A valid Bearer token whose request the policy allows `action` on its own user's data.
 * Attached per route rather than with `use`, so a wrong method is a 405 before it is a 401.
 * For actions on someone else's data, call `authorize` with the owner. It documents itself for
 * GET /openapi.json: Bearer, the action's scope, and `forbidden` when only admins may or a
 * third-party app may not.
 */
export const allow = (action: Action): MiddlewareHandler<AppEnv> =>
  documentGuard(
    every(
      bearerToken(),
      upFront((c, actor) => authorizeActor(c, actor, action)),
    ),
    {
      auth: 'bearer',
      scope: RULES[action].scope,
      // Admins only, an app may not, or no client acting as itself may: `forbidden`.
      errors:
        RULES[action].audience === 'admin' ||
        RULES[action].apps === false ||
        RULES[action].client === null
          ? ['forbidden']
          : [],
    },
  )

/**
 * Answers a write that SQL refused on a list: 404 (`notFound`) when the actor cannot see it, 403
 * when the policy refuses; when the policy allows, the refusal was something else the statement
 * checked, answered by `otherwise` (a default list that cannot be deleted, a missing share).
 */
export function refusedOnList(
  c: Context<AppEnv>,
  actor: Actor,
  action: ListAction,
  list: ListResource | null,
  notFound: () => ApiError,
  otherwise: () => ApiError = notFound,
): never {
  enforce(c, decideOnList(actor, action, list), LIST_RULES[action].scope, notFound)
  throw otherwise()
}

/** As refusedOnList, for a team. */
export function refusedOnTeam(
  c: Context<AppEnv>,
  actor: Actor,
  action: TeamAction,
  team: TeamResource | null,
  notFound: () => ApiError,
  otherwise: () => ApiError = notFound,
): never {
  enforce(c, decideOnTeam(actor, action, team), TEAM_RULES[action].scope, notFound)
  throw otherwise()
}
