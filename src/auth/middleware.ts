import type { Context, MiddlewareHandler } from 'hono'
import { basicAuth } from 'hono/basic-auth'
import { every } from 'hono/combine'
import { HTTPException } from 'hono/http-exception'
import { jwt } from 'hono/jwt'
import { config, issuerFor, type AppEnv } from '../env'
import { ApiError, incorrectCredentials } from '../errors'
import { authDatabase } from '../db/replication'
import { documentGuard } from '../openapi'
import { findLiveSessionUser } from '../db/sessions'
import { toUser } from '../db/users'
import { nowSeconds } from '../lib/time'
import { checkPassword } from './login'
import { decide, RULES, type Action } from './policy'
import { narrowScopes, parseScopes } from './scopes'
import { ALG, checkClaims, keyFor, keyring, verification } from './tokens'

export const REALM = 'todo-auth'

const BASIC_CHALLENGE = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }

/**
 * HTTP Basic against the users table, through hono's basicAuth. Hono parses the header and calls
 * verifyUser; its 401 is replaced by ours: `unauthorized` when no usable credentials came,
 * `invalid_credentials` when they were checked and refused, both with the contract's challenge.
 * A lockout's 429 passes through without a challenge: retrying with other credentials cannot help.
 * Verified credentials are remembered for up to a minute (see checkPassword).
 */
export function basic(): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    let checked = false
    const check = basicAuth({
      realm: REALM,
      verifyUser: async (username, password, ctx) => {
        checked = true
        const row = await checkPassword(ctx, username, password, { remember: true })
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
 * Bearer JWTs through hono's jwt middleware, plus what it leaves out: the key chosen by `kid`
 * (rotation), `exp`/`iat` required, and one D1 read proving the session is live and the user
 * enabled, so logout, revocation and disabling take effect on the very next request.
 * Tokens are read from the Authorization header only.
 */
export function bearer(): MiddlewareHandler<AppEnv> {
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
    const claims = checkClaims(c.get('jwtPayload'))
    if (!claims) throw invalidToken(c)

    const user = await findLiveSessionUser(authDatabase(c), claims.sid, claims.sub, nowSeconds())
    if (!user) throw invalidToken(c)
    c.set('user', user)
    c.set('sessionId', claims.sid)
    c.set('scopes', narrowScopes(parseScopes(claims.scope), user.scopes))
    await next()
  }
  return documentGuard(guard, { auth: 'bearer' })
}

const insufficientScope = (c: Context<AppEnv>, scope: string) =>
  new ApiError('insufficient_scope', `This request needs the "${scope}" scope.`, {
    headers: bearerChallenge(c, 'insufficient_scope', scope),
  })

/**
 * Asks the policy whether the authenticated request may perform `action` on data owned by
 * `ownerId` (default: the user's own), and answers 403 `insufficient_scope` or `forbidden` if not.
 */
export function authorize(c: Context<AppEnv>, action: Action, ownerId?: string): void {
  const user = c.get('user')
  const decision = decide(
    { id: user.id, role: user.role, scopes: c.get('scopes') },
    action,
    ownerId,
  )
  if (decision === 'insufficient_scope') throw insufficientScope(c, RULES[action].scope!)
  if (decision === 'forbidden') throw new ApiError('forbidden', 'You are not allowed to do this.')
}

/**
 * A valid Bearer token whose request the policy allows `action` on its own user's data.
 * Attached per route rather than with `use`, so a wrong method is a 405 before it is a 401.
 * For actions on someone else's data, call `authorize` with the owner. It documents itself for
 * GET /openapi.json: Bearer, the action's scope, and `forbidden` when only admins may.
 */
export const allow = (action: Action): MiddlewareHandler<AppEnv> =>
  documentGuard(
    every(bearer(), async (c, next) => {
      authorize(c, action)
      await next()
    }),
    {
      auth: 'bearer',
      scope: RULES[action].scope,
      errors: RULES[action].audience === 'admin' ? ['forbidden'] : [],
    },
  )
