import { Hono } from 'hono'
import { issuerFor, keyring } from '../../auth/tokens'
import { config } from '../../config'
import { ApiError } from '../../domain/errors'
import type { AppEnv } from '../../http/context'
import { doc } from '../../http/openapi'
import { tokenRequest } from '../../http/schemas/auth'
import { tokenPair } from '../../http/schemas/responses'
import { validate } from '../../http/validate'
import { authenticateClient } from '../clients/authenticate'
import { grantFor } from './grants'

const TOKEN_DESCRIPTION =
  'Grants: `authorization_code` (with PKCE `code_verifier`), `refresh_token`, ' +
  '`client_credentials` (confidential clients; machine scopes; no refresh token), and the legacy ' +
  '`password` (off when ALLOW_PASSWORD_GRANT is "false"). Clients authenticate as registered: ' +
  '`client_secret_basic`, `client_secret_post`, or `client_id` alone for public clients. ' +
  '`grant_type` may be omitted when `username` and `password` are sent. A refresh token works ' +
  'once: presenting it again ends its whole session (with REFRESH_RETRY_SECONDS on, the same ' +
  'client retrying within that window gets the same response again); so does presenting a used ' +
  'code with its PKCE verifier, or as its confidential client.'

/** POST /auth/token (RFC 6749 §3.2): every grant of ./grants.ts. */
export const tokenRoutes = new Hono<AppEnv>().post(
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
