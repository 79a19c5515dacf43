import { Hono, type Context } from 'hono'
import { config, type AppEnv } from '../env'
import { ApiError, incorrectCredentials, invalidRefreshToken } from '../errors'
import { audit } from '../db/audit'
import {
  createSession,
  revokeSession,
  rotateRefreshToken,
  sessionOfRefreshToken,
} from '../db/sessions'
import { toUser, type User } from '../db/users'
import { randomToken, sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { checkPassword } from '../auth/login'
import { bearer } from '../auth/middleware'
import { doc } from '../openapi'
import { grantScope, narrowScopes, parseScopeParam, parseScopes } from '../auth/scopes'
import { keyring, signAccessToken, verifyForRevocation } from '../auth/tokens'
import { revokeRequest, tokenRequest } from '../schemas/auth'
import { emptyObject, tokenPair } from '../schemas/responses'
import { validate } from '../schemas/validate'

/** The token response (RFC 6749 §5.1) for a fresh or rotated session. */
async function tokenResponse(
  c: Context<AppEnv>,
  user: User,
  sessionId: string,
  scope: string,
  refreshToken: string,
) {
  const cfg = config(c.env)
  const accessToken = await signAccessToken(c.env, cfg, c.req.url, {
    sub: user.id,
    username: user.username,
    sid: sessionId,
    scope,
    role: user.role,
  })
  return c.json({
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: cfg.accessTokenTtl,
    refresh_token: refreshToken,
    scope,
  })
}

const TOKEN_DESCRIPTION =
  '`grant_type` may be omitted when `username` and `password` are sent. ' +
  'A refresh token works once: presenting it again ends its whole session.'

export const authRoutes = new Hono<AppEnv>()
  .post(
    '/token',
    doc({
      operationId: 'requestToken',
      tag: 'auth',
      summary: 'Log in (password grant) or refresh (refresh_token grant)',
      description: TOKEN_DESCRIPTION,
      responses: { 200: { description: 'A new token pair.', schema: tokenPair } },
      errors: ['invalid_grant', 'unsupported_grant_type', 'invalid_scope', 'too_many_attempts'],
    }),
    validate('form', tokenRequest),
    async (c) => {
      // A server that cannot sign must not change anything either: no session, no rotation.
      await keyring(c.env)
      const form = c.req.valid('form')
      const grantType =
        form.grant_type ??
        (form.username !== undefined && form.password !== undefined ? 'password' : undefined)
      const asked = parseScopeParam(form.scope)
      const cfg = config(c.env)

      if (grantType === 'password') {
        if (form.username === undefined || form.password === undefined) {
          throw new ApiError(
            'invalid_request',
            'username and password are required for the password grant.',
          )
        }
        const row = await checkPassword(c, form.username, form.password)
        if (!row) throw incorrectCredentials('invalid_grant')
        const user = toUser(row)
        const scope = grantScope(asked, user.scopes)
        const refreshToken = randomToken()
        const now = nowSeconds()
        const sessionId = await createSession(
          c.env.DB,
          user.id,
          scope,
          await sha256Hex(refreshToken),
          now,
          cfg.refreshTokenTtl,
        )
        return tokenResponse(c, user, sessionId, scope, refreshToken)
      }

      if (grantType === 'refresh_token') {
        if (form.refresh_token === undefined)
          throw new ApiError(
            'invalid_request',
            'refresh_token is required for the refresh_token grant.',
          )
        const oldHash = await sha256Hex(form.refresh_token)
        if (asked) {
          // Checked before rotating, so a refused narrowing does not cost the client its token.
          const session = await sessionOfRefreshToken(c.env.DB, oldHash)
          if (session) grantScope(asked, parseScopes(session.scope))
        }
        const refreshToken = randomToken()
        const narrowTo = asked?.join(' ')
        const result = await rotateRefreshToken(
          c.env.DB,
          oldHash,
          await sha256Hex(refreshToken),
          nowSeconds(),
          narrowTo,
        )
        if (result.kind === 'reused') {
          await audit(
            c,
            'refresh_reuse_detected',
            { username: result.username, userId: result.userId },
            `session ${result.sessionId} revoked`,
          )
          throw invalidRefreshToken()
        }
        if (result.kind === 'invalid') throw invalidRefreshToken()
        const { user, sessionId } = result.session
        // The session's grant (narrowed for good if asked), and only what the user still holds
        // today.
        const scope = narrowScopes(parseScopes(result.session.scope), user.scopes).join(' ')
        await audit(c, 'refresh', { username: user.username, userId: user.id })
        return tokenResponse(c, user, sessionId, scope, refreshToken)
      }

      if (grantType === undefined) throw new ApiError('invalid_request', 'grant_type is required.')
      throw new ApiError(
        'unsupported_grant_type',
        'Supported grant types are "password" and "refresh_token".',
      )
    },
  )

  /**
   * RFC 7009: ends the session the token belongs to; 200 whatever the token, so nothing is
   * learned.
   */
  .post(
    '/revoke',
    doc({
      operationId: 'revokeToken',
      tag: 'auth',
      summary: 'Revoke a token and its session (RFC 7009)',
      responses: { 200: { description: 'Always, whatever the token.', schema: emptyObject } },
    }),
    validate('form', revokeRequest),
    async (c) => {
      const { token } = c.req.valid('form')
      const cfg = config(c.env)
      const claims =
        token.split('.').length === 3
          ? await verifyForRevocation(c.env, cfg, c.req.url, token)
          : null
      const sessionId = claims
        ? claims.sid
        : (await sessionOfRefreshToken(c.env.DB, await sha256Hex(token)))?.id
      const revoked = sessionId ? await revokeSession(c.env.DB, sessionId, nowSeconds()) : null
      if (revoked) await audit(c, 'revoke', { username: revoked.username, userId: revoked.user_id })
      return c.json({})
    },
  )

  .post(
    '/logout',
    doc({
      operationId: 'logout',
      tag: 'auth',
      summary: 'End this session',
      responses: { 204: { description: 'Every token of this session stops working.' } },
    }),
    bearer(),
    async (c) => {
      const user = c.get('user')
      await revokeSession(c.env.DB, c.get('sessionId')!, nowSeconds())
      await audit(c, 'logout', { username: user.username, userId: user.id })
      return c.body(null, 204)
    },
  )
