import type { Context } from 'hono'
import { config } from '../config'
import { ApiError } from '../domain/errors'
import { issuerFor } from './tokens'
import type { AppEnv } from '../http/context'

export const REALM = 'todo-auth'

export const BASIC_CHALLENGE = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }

/** RFC 6750 §3, with RFC 9728 §5.1 `resource_metadata` so a client can find the server. */
export const bearerChallenge = (
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

export const invalidToken = (c: Context<AppEnv>) =>
  new ApiError('invalid_token', 'The access token is invalid, expired or revoked.', {
    headers: bearerChallenge(c, 'invalid_token'),
  })

export const forbidden = () => new ApiError('forbidden', 'You are not allowed to do this.')

export const insufficientScope = (c: Context<AppEnv>, scope: string) =>
  new ApiError('insufficient_scope', `This request needs the "${scope}" scope.`, {
    headers: bearerChallenge(c, 'insufficient_scope', scope),
  })
