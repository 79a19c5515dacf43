import * as z from 'zod'
import { param } from './common'
import { newPassword } from './users'

/**
 * POST /auth/token and /auth/revoke bodies. Unrecognised parameters are ignored (RFC 6749 §3.2),
 * empty ones count as omitted, duplicated ones are refused.
 */
const optional = () => z.preprocess((v) => (v === '' ? undefined : v), param().max(4096).optional())

export const tokenRequest = z.object({
  grant_type: optional(),
  username: optional(),
  password: optional(),
  scope: optional(),
  refresh_token: optional(),
  code: optional(),
  redirect_uri: optional(),
  code_verifier: optional(),
  client_id: optional(),
  client_secret: optional(),
})

export const revokeRequest = z.object({
  token: param().min(1, 'Required.').max(4096),
  token_type_hint: optional(),
})

export const passwordChange = z.strictObject({
  current_password: z.string().min(1).max(1024),
  new_password: newPassword,
})
