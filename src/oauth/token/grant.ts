import type { Context } from 'hono'
import type * as z from 'zod'
import { signAccessToken } from '../../auth/tokens'
import { type Config, config } from '../../config'
import { audit } from '../../db/audit'
import type { ClientRow } from '../../db/clients'
import type { RedeemedSession } from '../../db/sessions'
import type { GrantType } from '../../domain/clients'
import type { User } from '../../domain/user'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import type { tokenRequest } from '../../http/schemas/auth'

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

type Issue = {
  user: User
  sessionId: string
  scope: string
  refreshToken: string
  clientId: string | null
  /** The access token's `aud` (./resource.ts); JWT_AUDIENCE when absent. */
  audience?: string
}

/** The token response (RFC 6749 §5.1) for a fresh or rotated session; no-store via src/app.ts. */
export async function tokenResponse(c: Context<AppEnv>, t: Issue) {
  return c.json(await tokenBody(c, t))
}

/** The body of tokenResponse: the access token signed now, and the rest. */
export async function tokenBody(c: Context<AppEnv>, t: Issue) {
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
    { audience: t.audience },
  )
  return {
    access_token: accessToken,
    token_type: 'bearer' as const,
    expires_in: cfg.accessTokenTtl,
    refresh_token: t.refreshToken,
    scope: t.scope,
  }
}

/**
 * The answer to a grant that spent a one-time grant into a session (a code, a device code,
 * redeemIntoSession in src/db/sessions.ts): its audit event, then the token response.
 */
export async function redeemedResponse(
  c: Context<AppEnv>,
  event: 'code_exchange' | 'device_code_exchange',
  session: RedeemedSession,
  t: { refreshToken: string; clientId: string; audience?: string },
) {
  const { user } = session
  await audit(database(c), c.var.requester, event, { username: user.username, userId: user.id })
  return tokenResponse(c, { ...session, ...t })
}
