import type { Context } from 'hono'
import type * as z from 'zod'
import { type Config, config } from '../../config'
import type { ClientRow } from '../../db/clients'
import { signAccessToken } from '../../auth/tokens'
import type { GrantType } from '../../domain/clients'
import type { tokenRequest } from '../../http/schemas/auth'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'

export type TokenForm = z.infer<typeof tokenRequest>

/**
 * One grant type of the token endpoint (RFC 6749 §4, §6). Each lives in its own module and is
 * listed once in ./grants.ts, from which the dispatch, `grant_types_supported` and the
 * unsupported_grant_type error are derived.
 */
export type Grant<T extends GrantType = GrantType> = {
  type: T
  /** Whether this deployment offers it; always when absent. */
  enabled?: (cfg: Config) => boolean
  /** Whether a request naming no client may use it (the legacy password and refresh grants). */
  anonymous: boolean
  /** Answers the token request. `client` is authenticated, enabled and registered for the grant. */
  handle: (c: Context<AppEnv>, form: TokenForm, client: ClientRow | null) => Promise<Response>
}

/** The token response (RFC 6749 §5.1) for a fresh or rotated session; no-store via src/app.ts. */
export async function tokenResponse(
  c: Context<AppEnv>,
  t: {
    user: User
    sessionId: string
    scope: string
    refreshToken: string
    clientId: string | null
    /** The access token's `aud` (./resource.ts); JWT_AUDIENCE when absent. */
    audience?: string
  },
) {
  const cfg = config(c.env)
  const accessToken = await signAccessToken(
    c.env,
    cfg,
    c.req.url,
    {
      sub: t.user.id,
      username: t.user.username,
      sid: t.sessionId,
      scope: t.scope,
      role: t.user.role,
      ...(t.clientId !== null && { client_id: t.clientId }),
    },
    t.audience,
  )
  return c.json({
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: cfg.accessTokenTtl,
    refresh_token: t.refreshToken,
    scope: t.scope,
  })
}
