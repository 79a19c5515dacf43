import * as z from 'zod'
import { GRANT_TYPES } from '../../domain/clients'
import { CLIENT_SCOPES } from '../../domain/scopes'
import { param } from './common'
import { documented } from './documented'
import { newPassword } from './users'

/**
 * POST /auth/token and /auth/revoke bodies. Unrecognised parameters are ignored (RFC 6749 §3.2),
 * empty ones count as omitted, duplicated ones are refused.
 */
const optional = () => z.preprocess((v) => (v === '' ? undefined : v), param().max(4096).optional())

/** RFC 7521 §4.2: a client assertion (private_key_jwt, RFC 7523 §2.2) instead of a secret. */
const clientAssertion = {
  client_assertion_type: optional(),
  client_assertion: optional(),
}

const scopeToken = `(?:${CLIENT_SCOPES.join('|')})`

/**
 * RFC 8707 `resource`: may be sent more than once (§2), so an array is let through here and the
 * grant answers `invalid_target` for more than one (src/domain/resources.ts `requestedResource`).
 */
const resource = () =>
  documented(z.union([optional(), z.array(param().max(4096)).max(8)]), {
    replace: {
      type: 'string',
      format: 'uri',
      description: 'RFC 8707: the resource the token is for (its `aud`); one per request.',
    },
  })

export const tokenRequest = z.object({
  // Any other value is refused by the route (unsupported_grant_type), not by this schema: the
  // document lists the ones that work.
  grant_type: documented(optional(), { replace: { type: 'string', enum: [...GRANT_TYPES] } }),
  username: optional(),
  password: optional(),
  // RFC 6749 §3.3: space-separated scope tokens; an unknown one is refused (invalid_scope).
  scope: documented(optional(), {
    replace: { type: 'string', pattern: `^${scopeToken}(?: ${scopeToken})*$` },
  }),
  refresh_token: optional(),
  code: optional(),
  redirect_uri: optional(),
  code_verifier: optional(),
  device_code: optional(),
  client_id: optional(),
  client_secret: optional(),
  resource: resource(),
  ...clientAssertion,
})

/** RFC 7009 §2.1 and RFC 7662 §2.1: the token, a hint, and optionally client credentials. */
export const revokeRequest = z.object({
  token: param().min(1, 'Required.').max(4096),
  token_type_hint: optional(),
  client_id: optional(),
  client_secret: optional(),
  ...clientAssertion,
})
export const introspectRequest = revokeRequest

/** RFC 8628 §3.1: the client (authenticated as at the token endpoint) and the scope asked. */
export const deviceAuthorizationRequest = z.object({
  client_id: optional(),
  client_secret: optional(),
  scope: documented(optional(), {
    replace: { type: 'string', pattern: `^${scopeToken}(?: ${scopeToken})*$` },
  }),
  resource: resource(),
})

export const passwordChange = z.strictObject({
  current_password: z.string().min(1).max(1024),
  new_password: newPassword,
})
