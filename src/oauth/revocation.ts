import { Hono } from 'hono'
import { bearer } from '../auth/bearer'
import { verifyToken } from '../auth/tokens'
import { config } from '../config'
import { audit } from '../db/audit'
import { revokeClientToken } from '../db/client-tokens'
import { revokeSession, sessionOfRefreshToken } from '../db/sessions'
import { isClientToken } from '../domain/claims'
import { ApiError } from '../domain/errors'
import type { AppEnv } from '../http/context'
import { database } from '../http/database'
import { doc } from '../http/openapi'
import { revokeRequest } from '../http/schemas/auth'
import { emptyObject } from '../http/schemas/responses'
import { validate } from '../http/validate'
import { sha256Hex } from '../lib/crypto'
import { nowSeconds } from '../lib/time'
import { signOut } from './browser/signin'
import { authenticateClient } from './clients/authenticate'

/**
 * Ending tokens: RFC 7009 revocation for clients, and logout for the session a Bearer token
 * belongs to (with this browser's sign-in).
 */
export const revocationRoutes = new Hono<AppEnv>()
  /**
   * RFC 7009: ends the session the token belongs to (or, for a client's own token, that token);
   * 200 whatever the token, so nothing is learned. A client that names itself may revoke only
   * the tokens issued to it (§2.1); without one, holding the token is enough.
   */
  .post(
    '/revoke',
    doc({
      operationId: 'revokeToken',
      tag: 'auth',
      summary: 'Revoke a token and its session (RFC 7009)',
      responses: { 200: { description: 'Always, whatever the token.', schema: emptyObject } },
      errors: ['invalid_client', 'unauthorized_client'],
    }),
    validate('form', revokeRequest),
    async (c) => {
      const form = c.req.valid('form')
      const { token } = form
      const client = await authenticateClient(c, form)
      const cfg = config(c.env)
      const claims =
        token.split('.').length === 3
          ? await verifyToken(c.env, cfg, c.req.url, token, { allowExpired: true })
          : null
      const issuedTo = (owner: string | null | undefined) => {
        if (client && owner !== client.client_id)
          throw new ApiError('unauthorized_client', 'This token was not issued to this client.')
      }
      if (claims && isClientToken(claims)) {
        issuedTo(claims.client_id)
        await revokeClientToken(database(c), claims)
        return c.json({})
      }
      const session = claims
        ? { id: claims.sid, client_id: claims.client_id }
        : await sessionOfRefreshToken(database(c), await sha256Hex(token))
      if (session) issuedTo(session.client_id)
      const revoked = session ? await revokeSession(database(c), session.id, nowSeconds()) : null
      if (revoked)
        await audit(database(c), c.get('requester'), 'revoke', {
          username: revoked.username,
          userId: revoked.user_id,
        })
      return c.json({})
    },
  )

  .post(
    '/logout',
    doc({
      operationId: 'logout',
      tag: 'auth',
      summary: 'End this session (and this browser’s sign-in)',
      responses: { 204: { description: 'Every token of this session stops working.' } },
    }),
    bearer(),
    async (c) => {
      const user = c.get('user')
      await revokeSession(database(c), c.get('sessionId')!, nowSeconds())
      // The browser's sign-in too (the login page's cookie), when it is this user's.
      await signOut(c, user.id)
      await audit(database(c), c.get('requester'), 'logout', {
        username: user.username,
        userId: user.id,
      })
      return c.body(null, 204)
    },
  )
