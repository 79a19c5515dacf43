import * as z from 'zod'
import { SCOPES } from '../auth/scopes'
import { param } from './common'
import { documented } from './documented'
import { newPassword } from './users'

/** The grants POST /auth/token takes (RFC 6749 §4.3, §6). */
export const GRANT_TYPES = ['password', 'refresh_token'] as const

/**
 * POST /auth/token and /auth/revoke bodies. Unrecognised parameters are ignored (RFC 6749 §3.2),
 * empty ones count as omitted, duplicated ones are refused.
 */
const optional = () => z.preprocess((v) => (v === '' ? undefined : v), param().max(4096).optional())

const scopeToken = `(?:${SCOPES.join('|')})`

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
})

export const revokeRequest = z.object({
  token: param().min(1, 'Required.').max(4096),
  token_type_hint: optional(),
})

export const passwordChange = z.strictObject({
  current_password: z.string().min(1).max(1024),
  new_password: newPassword,
})
