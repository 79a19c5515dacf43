import type { Context, MiddlewareHandler } from 'hono'
import { basicAuth } from 'hono/basic-auth'
import { every } from 'hono/combine'
import { HTTPException } from 'hono/http-exception'
import { jwt } from 'hono/jwt'
import { config, type AppEnv } from '../env'
import { ApiError, incorrectCredentials, notFound as notFoundError } from '../errors'
import { authDatabase } from '../db/replication'
import { documentGuard } from '../openapi'
import { liveClientScope } from '../db/client-tokens'
import { findLiveSession } from '../db/sessions'
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
  type TeamAction,
  type TeamResource,
} from './policy'
import { narrowMachineScopes, narrowScopes, parseScopes, type Scope } from './scopes'
import { ALG, checkClaims, isClientToken, issuerFor, keyFor, keyring, verification } from './tokens'

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
 * Bearer JWTs through hono's jwt middleware, plus what it leaves out: the canonical encoding and
 * the key chosen by `kid` (rotation), `exp`/`iat` required and `exp` at most ACCESS_TOKEN_TTL
 * after `iat`, and one D1 read proving the session is live and the user enabled, so logout,
 * revocation and disabling take effect on the very next request. The scopes the request may use
 * are the token's, bounded by the session's (narrowed by refreshes) and by the user's today, so
 * even a token signed with our key cannot reach beyond its session.
 * Tokens are read from the Authorization header only.
 *
 * A client's own token (client credentials) is held against the client's row instead, in one
 * read as well (../db/client-tokens.ts), so disabling or deleting the client, or revoking the
 * token, ends it at the next request; its scopes are bounded by the client's registered ones
 * today. Only `allow` and `allowOn` (with `clients: true`) let one through, to the policy;
 * elsewhere it is 403 `forbidden`, since those routes act on a user's own account.
 */
export function bearer({ clients = false } = {}): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
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
    const verify = jwt({
      secret: key,
      alg: ALG,
      realm: REALM,
      verification: verification(cfg, c.req.url),
    })
    try {
      await verify(c, async () => {})
    } catch (err) {
      if (err instanceof HTTPException && err.status === 401) throw invalidToken(c)
      throw err
    }
    const claims = checkClaims(c.get('jwtPayload'), { maxLifetime: cfg.accessTokenTtl })
    if (!claims) throw invalidToken(c)

    if (isClientToken(claims)) {
      const registered = await liveClientScope(authDatabase(c), claims.client_id, claims.jti)
      if (registered === null) throw invalidToken(c)
      if (!clients) throw forbidden()
      c.set('actingClient', claims.client_id)
      c.set('scopes', narrowMachineScopes(claims.scope.split(' '), registered.split(' ')))
      return next()
    }
    const session = await findLiveSession(authDatabase(c), claims.sid, claims.sub, nowSeconds())
    if (!session) throw invalidToken(c)
    const { user } = session
    const granted = parseScopes(session.scope)
    c.set('user', user)
    c.set('sessionId', claims.sid)
    c.set('thirdPartyApp', session.thirdPartyApp)
    // Bounded by the session's scope as well as the user's: a token never outgrows its grant.
    c.set('scopes', narrowScopes(narrowScopes(parseScopes(claims.scope), granted), user.scopes))
    await next()
  }
  return documentGuard(guard, { auth: 'bearer' })
}

const forbidden = () => new ApiError('forbidden', 'You are not allowed to do this.')

const insufficientScope = (c: Context<AppEnv>, scope: string) =>
  new ApiError('insufficient_scope', `This request needs the "${scope}" scope.`, {
    headers: bearerChallenge(c, 'insufficient_scope', scope),
  })

/**
 * The authenticated request as the policy sees its actor. A client credentials token is the
 * client acting as itself (bearer() set `actingClient`). A token whose session was granted to a
 * third-party app acts as that app (`app`), not as the user; a first-party client's
 * (clients.first_party = 1, e.g. the web client todo-web), the password grant's without a client
 * and HTTP Basic act as the user. Read by the Bearer check together with the session
 * (findLiveSession), so it follows the client's registration today.
 */
export function actorOf(c: Context<AppEnv>): Actor {
  const scopes = c.get('scopes')
  const clientId = c.get('actingClient')
  if (clientId !== undefined) return { kind: 'client', id: clientId, scopes }
  const user = c.get('user')
  return { id: user.id, role: user.role, scopes, kind: c.get('thirdPartyApp') ? 'app' : 'user' }
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
export function authorize(c: Context<AppEnv>, action: Action, ownerId?: string): void {
  const actor = actorOf(c)
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
    every(bearer({ clients: true }), async (c, next) => {
      requireUpFront(c, actorOf(c), rule)
      await next()
    }),
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
    every(bearer({ clients: true }), async (c, next) => {
      authorize(c, action)
      await next()
    }),
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
