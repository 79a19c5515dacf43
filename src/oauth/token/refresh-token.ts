import type { Context } from 'hono'
import { config } from '../../config'
import { audit } from '../../db/audit'
import { findLiveRefreshToken, rotateRefreshToken, sessionOfRefreshToken } from '../../db/sessions'
import { ApiError, invalidRefreshToken } from '../../domain/errors'
import {
  grantScope,
  narrowScopes,
  parseScopeParam,
  parseScopes,
  type Scope,
} from '../../domain/scopes'
import type { AppEnv } from '../../http/context'
import { database } from '../../http/database'
import { randomToken, sha256Hex } from '../../lib/crypto'
import { nowSeconds } from '../../lib/time'
import { openWith, sealWith } from '../../lib/token-seal'
import { type Grant, tokenBody, tokenResponse } from './grant'
import { grantAudience } from './resource'

/** The HKDF purpose of the key a rotated token seals its response under (../lib/token-seal.ts). */
const RETRY_PURPOSE = 'todo-auth refresh retry v1'

type TokenBody = Awaited<ReturnType<typeof tokenBody>>

/**
 * REFRESH_RETRY_SECONDS: the response this rotation will give, made before it so that the
 * transaction that rotates also keeps it, sealed under the old token (../lib/token-seal.ts), on
 * the old token's row. From the session as it is now, for this client; null when the token would
 * not rotate anyway (used, unknown, dead, another client's), which the rotation then tells. Its
 * claims are those of this read rather than of the rotation's: the Bearer check holds every
 * token against the session and user as they are at each request anyway.
 */
async function prepareRetry(
  c: Context<AppEnv>,
  t: {
    old: string
    oldHash: string
    next: string
    asked?: Scope[]
    resource?: string | string[]
    clientId: string | null
  },
  now: number,
): Promise<{ body: TokenBody; sealed: string } | null> {
  const live = await findLiveRefreshToken(database(c), t.oldHash, now)
  if (!live || live.clientId !== t.clientId) return null
  const scope = narrowScopes(t.asked ?? parseScopes(live.scope), live.user.scopes).join(' ')
  const body = await tokenBody(c, {
    user: live.user,
    sessionId: live.sessionId,
    scope,
    refreshToken: t.next,
    clientId: t.clientId,
    audience: grantAudience(c, t.resource, live.resource),
  })
  return { body, sealed: await sealWith(t.old, RETRY_PURPOSE, JSON.stringify(body)) }
}

/**
 * The refresh token grant (RFC 6749 §6) with rotation: each token works once, and presenting a
 * used one ends its whole session (RFC 9700 §4.14). A token works only for the client its
 * session was issued to, or without a client for the legacy password grant's sessions.
 *
 * With REFRESH_RETRY_SECONDS (off by default), a client whose response was lost may retry with
 * the token it still holds: the same client presenting the token it just rotated, within the
 * window and while the successor is unused, gets the very same response again (the access token's
 * `expires_in` counted down), and nothing new is issued, so the chain never branches. Anything
 * else is reuse, as without the window (../db/sessions.ts retryOrRevoke).
 */
export const refreshTokenGrant: Grant<'refresh_token'> = {
  type: 'refresh_token',
  anonymous: true,
  async handle(c, form, client) {
    if (form.refresh_token === undefined)
      throw new ApiError(
        'invalid_request',
        'refresh_token is required for the refresh_token grant.',
      )
    const asked = parseScopeParam(form.scope)
    const oldHash = await sha256Hex(form.refresh_token)
    if (asked || form.resource !== undefined) {
      // Checked before rotating, so a refused narrowing does not cost the client its token.
      const session = await sessionOfRefreshToken(database(c), oldHash)
      if (session && asked) grantScope(asked, parseScopes(session.scope))
      if (session) grantAudience(c, form.resource, session.resource)
    }
    const refreshToken = randomToken()
    const clientId = client?.client_id ?? null
    const now = nowSeconds()
    const seconds = config(c.env).refreshRetrySeconds
    const prepared =
      seconds > 0
        ? await prepareRetry(
            c,
            {
              old: form.refresh_token,
              oldHash,
              next: refreshToken,
              asked,
              resource: form.resource,
              clientId,
            },
            now,
          )
        : null
    const result = await rotateRefreshToken(
      database(c),
      oldHash,
      await sha256Hex(refreshToken),
      now,
      asked?.join(' '),
      clientId,
      seconds > 0 ? { seconds, sealed: prepared?.sealed ?? null } : undefined,
    )
    if (result.kind === 'retried') {
      const kept = await openWith(form.refresh_token, RETRY_PURPOSE, result.sealed)
      // Sealed under this very token (its hash found the row): only a tampered row fails here.
      if (kept === null) throw invalidRefreshToken()
      const sent = JSON.parse(kept) as TokenBody
      await audit(
        database(c),
        c.get('requester'),
        'refresh',
        { username: result.username, userId: result.userId },
        'retried within REFRESH_RETRY_SECONDS: the same response again',
      )
      // The window is shorter than the access token's life (../env.ts), so this stays positive.
      const elapsed = Math.max(0, now - result.usedAt)
      return c.json({ ...sent, expires_in: sent.expires_in - elapsed })
    }
    if (result.kind === 'reused') {
      await audit(
        database(c),
        c.get('requester'),
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
    await audit(database(c), c.get('requester'), 'refresh', {
      username: user.username,
      userId: user.id,
    })
    // RFC 8707 §2.2: the session's resource, never another.
    const audience = grantAudience(c, form.resource, result.session.resource)
    if (prepared) return c.json(prepared.body)
    return tokenResponse(c, { user, sessionId, scope, refreshToken, clientId, audience })
  },
}
