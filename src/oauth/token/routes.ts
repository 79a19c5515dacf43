import { Hono } from 'hono'
import { config } from '../../config'
import { ApiError } from '../../domain/errors'
import { audit } from '../../db/audit'
import { revokeSession, sessionOfRefreshToken } from '../../db/sessions'
import { sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { bearer } from '../../auth/bearer'
import { doc } from '../../http/openapi'
import { issuerFor, keyring, verifyToken } from '../../auth/tokens'
import { revokeClientToken } from '../../db/client-tokens'
import { grantFor } from './grants'
import { signOut } from '../browser/signin'
import { authenticateClient, invalidClient } from '../clients/authenticate'
import { introspect } from '../introspection'
import { introspectRequest, revokeRequest, tokenRequest } from '../../http/schemas/auth'
import { emptyObject, introspection, tokenPair } from '../../http/schemas/responses'
import { validate } from '../../http/validate'
import { isClientToken } from '../../domain/claims'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'

const TOKEN_DESCRIPTION =
  'Grants: `authorization_code` (with PKCE `code_verifier`), `refresh_token`, ' +
  '`client_credentials` (confidential clients; machine scopes; no refresh token), and the legacy ' +
  '`password` (off when ALLOW_PASSWORD_GRANT is "false"). Clients authenticate as registered: ' +
  '`client_secret_basic`, `client_secret_post`, or `client_id` alone for public clients. ' +
  '`grant_type` may be omitted when `username` and `password` are sent. A refresh token works ' +
  'once: presenting it again ends its whole session; so does presenting a used code.'

export const authRoutes = new Hono<AppEnv>()
  .post(
    '/token',
    doc({
      operationId: 'requestToken',
      tag: 'auth',
      summary: 'Exchange a code, refresh, or log in with a password (legacy)',
      description: TOKEN_DESCRIPTION,
      responses: { 200: { description: 'A new token pair.', schema: tokenPair } },
      errors: [
        'invalid_grant',
        'invalid_client',
        'unauthorized_client',
        'unsupported_grant_type',
        'invalid_scope',
        'invalid_target',
        'too_many_attempts',
      ],
    }),
    validate('form', tokenRequest),
    async (c) => {
      const cfg = config(c.env)
      // A server that cannot sign must not change anything either: no session, no rotation.
      await keyring(c.env)
      issuerFor(cfg, c.req.url)
      const form = c.req.valid('form')
      const grantType =
        form.grant_type ??
        (form.username !== undefined && form.password !== undefined ? 'password' : undefined)
      if (grantType === undefined) throw new ApiError('invalid_request', 'grant_type is required.')
      const grant = grantFor(cfg, grantType)
      const client = await authenticateClient(c, form)
      if (!client && !grant.anonymous)
        throw new ApiError('invalid_client', 'This grant needs client authentication or client_id.')
      if (client && !JSON.parse(client.grant_types).includes(grant.type))
        throw new ApiError('unauthorized_client', 'This client may not use this grant type.')
      return grant.handle(c, form, client)
    },
  )

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

  /** RFC 7662: for resource servers, which authenticate as confidential clients. */
  .post(
    '/introspect',
    doc({
      operationId: 'introspectToken',
      tag: 'auth',
      summary: 'Tell a live token from a dead one (RFC 7662)',
      description:
        'Confidential clients only, authenticated as at the token endpoint. `{"active": false}` ' +
        'for anything unknown, expired, revoked, malformed, or of a disabled user or client.',
      responses: { 200: { description: 'What is known of the token.', schema: introspection } },
      errors: ['invalid_client'],
    }),
    validate('form', introspectRequest),
    async (c) => {
      const form = c.req.valid('form')
      const client = await authenticateClient(c, form)
      if (client?.client_type !== 'confidential')
        throw invalidClient(c.req.header('Authorization') !== undefined)
      return c.json(await introspect(c, form.token))
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
